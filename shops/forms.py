from __future__ import annotations

import zoneinfo

import phonenumbers
from django import forms
from django.contrib.auth import password_validation
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from shops.models import CURRENCY_VALIDATOR, SLUG_VALIDATOR, Role, Shop

TIMEZONE_CHOICES = [(tz, tz) for tz in sorted(zoneinfo.available_timezones()) if "/" in tz or tz == "UTC"]


def _currency(value: str) -> str:
    value = value.strip().upper()
    CURRENCY_VALIDATOR(value)
    return value


class ShopFieldsForm(forms.Form):
    shop_name = forms.CharField(label=_("Shop name"), max_length=200)
    slug = forms.CharField(
        label=_("Shop address"),
        max_length=50,
        required=False,
        validators=[SLUG_VALIDATOR],
        help_text=_("Lowercase letters, digits and hyphens; used in webhook addresses. Leave empty to derive it."),
    )
    timezone = forms.ChoiceField(label=_("Time zone"), choices=TIMEZONE_CHOICES, initial="Europe/London")
    currency = forms.CharField(label=_("Currency"), max_length=3, initial="EUR")

    def clean_currency(self) -> str:
        return _currency(self.cleaned_data["currency"])

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("slug") and cleaned.get("shop_name"):
            cleaned["slug"] = slugify(cleaned["shop_name"])[:50].strip("-") or "shop"
        slug = cleaned.get("slug")
        if slug and Shop.objects.filter(slug=slug).exists():
            self.add_error("slug", _("The address “%(slug)s” is already taken; choose another.") % {"slug": slug})
        return cleaned


class SignupForm(ShopFieldsForm):
    email = forms.EmailField(label=_("Email"))
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)
    field_order = ["email", "password", "shop_name", "slug", "timezone", "currency"]

    def clean_email(self) -> str:
        from django.contrib.auth import get_user_model

        email = self.cleaned_data["email"].lower()
        if get_user_model().objects.filter(username=email).exists():
            raise forms.ValidationError(_("An account with this email already exists; log in instead."))
        return email

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password"):
            from django.contrib.auth.models import User

            try:
                password_validation.validate_password(
                    cleaned["password"], User(username=cleaned.get("email", ""), email=cleaned.get("email", ""))
                )
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class ShopSettingsForm(forms.ModelForm):
    timezone = forms.ChoiceField(label=_("Time zone"), choices=TIMEZONE_CHOICES)

    class Meta:
        model = Shop
        fields = ["name", "timezone", "currency", "postal_address", "match_by_phone", "phone_region"]
        labels = {
            "match_by_phone": _("Match customers by phone number"),
            "phone_region": _("Country of phone numbers"),
        }
        help_texts = {
            "match_by_phone": _(
                "Customers are always matched by their id in each source and by email address. Tick this to "
                "also treat two records with the same phone number as one customer (for example a CSV row and "
                "a Shopify customer). Leave it off if customers share phones, such as a family or an office."
            ),
            "phone_region": _(
                "The two-letter country code (ISO 3166, such as GB or CN) used to read phone numbers written "
                "without +country: with GB, “07700 900123” is the same number as “+44 7700 900123”. Leave it "
                "empty to match only numbers written with +country."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Upper-case before the model's ^[A-Z]{3}$ validator runs, so "gbp" is accepted.
        self.fields["currency"].validators = []

    def clean_currency(self) -> str:
        return _currency(self.cleaned_data["currency"])

    def clean_phone_region(self) -> str:
        """An ISO 3166 two-letter country code, upper-cased; one phone numbers can be read in."""
        value = (self.cleaned_data.get("phone_region") or "").strip().upper()
        if value and value not in phonenumbers.SUPPORTED_REGIONS:
            raise forms.ValidationError(
                _("“%(code)s” is not a two-letter country code, such as GB, US or CN.") % {"code": value}
            )
        return value


class MemberAddForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"),
        help_text=_("They get access the next time they log in, or when they sign up, with this address."),
    )
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.STAFF)


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("Where the key is used, e.g. “ERP sync”."))
