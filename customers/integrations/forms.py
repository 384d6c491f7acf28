from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from customers.integrations.common import store_url_problem
from customers.models import Platform, PlatformConnection

_HELP = {
    Platform.SHOPIFY: {
        "store_url": _("Your store's address, e.g. https://your-store.myshopify.com"),
        "access_token": _(
            "Admin API access token of your custom app (starts with shpat_); needs read_orders and read_customers."
        ),  # noqa: E501
        "webhook_secret": _("The API secret key of the app that signs the webhooks."),
    },
    Platform.WOOCOMMERCE: {
        "store_url": _("Your store's address, e.g. https://shop.example.com"),
        "access_token": _("REST API consumer key and secret, written as ck_…:cs_… (read access is enough)."),
        "webhook_secret": _("The secret you entered for the webhooks in WooCommerce → Settings → Advanced → Webhooks."),
    },
}


def mask_secret(value: str) -> str:
    """What the page shows of a stored secret: never more than its last four characters."""
    if not value:
        return ""
    return "••••" + value[-4:] if len(value) >= 12 else "••••"


class ConnectionForm(forms.Form):
    """Store URL and credentials; a blank secret field keeps the stored secret (they are never shown)."""

    store_url = forms.URLField(label=_("Store address"), max_length=200, assume_scheme="https")
    access_token = forms.CharField(
        label=_("Access token"), required=False, max_length=300, widget=forms.PasswordInput(render_value=False)
    )
    webhook_secret = forms.CharField(
        label=_("Webhook secret"), required=False, max_length=300, widget=forms.PasswordInput(render_value=False)
    )
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)

    def __init__(self, *args, platform: str, connection: PlatformConnection | None = None, **kwargs):
        if connection is not None:
            kwargs.setdefault("initial", {"store_url": connection.store_url, "enabled": connection.enabled})
        super().__init__(*args, **kwargs)
        self.platform, self.connection = platform, connection
        for name, help_text in _HELP[platform].items():
            self.fields[name].help_text = help_text
        if connection is not None:
            for name in ("access_token", "webhook_secret"):
                stored = getattr(connection, name)
                if stored:
                    self.fields[name].widget.attrs["placeholder"] = _("%(masked)s — leave empty to keep") % {
                        "masked": mask_secret(stored)
                    }

    def clean_store_url(self) -> str:
        url = self.cleaned_data["store_url"].rstrip("/")
        problem = store_url_problem(url)
        if problem:
            raise forms.ValidationError(problem)
        return url

    def clean_access_token(self) -> str | None:
        token = self.cleaned_data["access_token"].strip()
        if not token:
            return None  # keep the stored one
        if self.platform == Platform.WOOCOMMERCE and ":" not in token:
            raise forms.ValidationError(_("Write the consumer key and secret as ck_…:cs_…"))
        return token

    def clean_webhook_secret(self) -> str | None:
        return self.cleaned_data["webhook_secret"].strip() or None
