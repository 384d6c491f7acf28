"""Forms of the campaign pages. Every form gets the shop and narrows its choices to it."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from analytics.models import Segment
from analytics.segments import segments_current
from campaigns.models import Campaign
from campaigns.rendering import PLACEHOLDERS
from shops.models import Shop

LOCAL_INPUT_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")


def local_to_aware(naive: dt.datetime, tzinfo: zoneinfo.ZoneInfo) -> dt.datetime:
    """A wall-clock time in the shop's time zone as an aware datetime.

    Refuses (ValueError) a time that does not exist there (skipped by a clock change); a time
    that happens twice takes the first.
    """
    aware = naive.replace(tzinfo=tzinfo, fold=0)
    if aware.astimezone(dt.UTC).astimezone(tzinfo).replace(tzinfo=None) != naive:
        raise ValueError("non-existent local time")
    return aware


class ShopLocalDateTimeField(forms.Field):
    """A date and time typed in the shop's time zone (not the server's, not the browser's)."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def __init__(self, *, tzinfo: zoneinfo.ZoneInfo, **kwargs):
        self.tzinfo = tzinfo
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, dt.datetime) and timezone.is_aware(value):
            return value.astimezone(self.tzinfo).replace(tzinfo=None)
        return value

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, dt.datetime):
            return value if timezone.is_aware(value) else local_to_aware(value, self.tzinfo)
        text = str(value).strip()
        for fmt in LOCAL_INPUT_FORMATS:
            try:
                naive = dt.datetime.strptime(text, fmt)  # noqa: DTZ007 - made aware in the shop's zone below
            except ValueError:
                continue
            try:
                return local_to_aware(naive, self.tzinfo)
            except ValueError:
                raise forms.ValidationError(
                    _("%(time)s does not exist in %(zone)s (the clocks change then); choose another time."),
                    params={"time": text.replace("T", " "), "zone": str(self.tzinfo)},
                ) from None
        raise forms.ValidationError(_("Enter a date and time, e.g. 2026-12-01 09:30."))


def starter_subject() -> str:
    return gettext('{{ first_name|default:"Hello" }}, something picked for you at {{ shop_name }}')


def starter_body() -> str:
    """A first message to edit, using every kind of placeholder."""
    return gettext(
        'Hi {{ first_name|default:"there" }},\n\n'
        "We picked these for you{% if favourite_category %}, as you like {{ favourite_category|lower }}{% endif %}:\n"
        "{% for product in recommended_products %}- {{ product }}\n{% endfor %}\n"
        "{% if offer %}Enjoy {{ offer }}{% if discount_code %} with the code {{ discount_code }}{% endif %}."
        "{% endif %}\n\n"
        "See you soon,\n{{ shop_name }}"
    )


class SegmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Segment) -> str:
        return _("%(name)s (%(size)s customers)") % {"name": obj.name, "size": obj.size}


class CampaignForm(forms.ModelForm):
    # Declared, not a model field of the form: the default ModelChoiceField would query the
    # fail-closed manager at import time. Its queryset is the shop's, set in __init__.
    segment = SegmentChoiceField(queryset=Segment.unscoped.none(), label=_("Send to segment"), empty_label=None)
    holdout_percent = forms.IntegerField(
        label=_("Holdout (%)"),
        min_value=0,
        max_value=50,
        initial=10,
        help_text=_("This share of the eligible customers, drawn at random, gets nothing, to measure the effect."),
    )

    field_order = [
        "name",
        "segment",
        "subject_template",
        "body_template",
        "offer_type",
        "offer_value",
        "code_mode",
        "discount_code",
        "holdout_percent",
        "frequency_cap",
        "attribution_days",
    ]

    class Meta:
        model = Campaign
        fields = [
            "name",
            "subject_template",
            "body_template",
            "offer_type",
            "offer_value",
            "code_mode",
            "discount_code",
            "frequency_cap",
            "attribution_days",
        ]
        widgets = {"body_template": forms.Textarea(attrs={"rows": 12})}

    def __init__(self, *args, shop: Shop, **kwargs):
        super().__init__(*args, **kwargs)
        self.shop = shop
        allowed = Q(pk__in=segments_current(shop=shop).values("pk"))
        if self.instance.pk and self.instance.segment_id:
            allowed |= Q(pk=self.instance.segment_id)
        self.fields["segment"].queryset = Segment.objects.for_shop(shop).filter(allowed).order_by("kind", "-size")
        if not self.instance.pk:
            self.fields["subject_template"].initial = starter_subject()
            self.fields["body_template"].initial = starter_body()
        if self.instance.pk:
            self.fields["holdout_percent"].initial = int(self.instance.holdout_share * 100)
            self.fields["segment"].initial = self.instance.segment_id
        placeholders = ", ".join(f"{{{{ {name} }}}}" for name in PLACEHOLDERS)
        self.fields["body_template"].help_text = _("Placeholders: %(names)s. {%% if %%} and {%% for %%} work too.") % {
            "names": placeholders
        }

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("holdout_percent") is not None:
            self.instance.holdout_share = Decimal(cleaned["holdout_percent"]) / 100
            cleaned["holdout_share"] = self.instance.holdout_share
        return cleaned


class ScheduleForm(forms.Form):
    WHEN_CHOICES = [("draft", _("Keep as draft")), ("now", _("Send now")), ("later", _("Send at a date and time"))]

    when = forms.ChoiceField(label=_("When"), choices=WHEN_CHOICES, initial="draft", widget=forms.RadioSelect)

    def __init__(self, *args, shop: Shop, allow_draft: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.shop = shop
        if not allow_draft:
            self.fields["when"].choices = self.WHEN_CHOICES[1:]
            self.fields["when"].initial = "later"
        self.fields["send_at"] = ShopLocalDateTimeField(
            tzinfo=shop.tzinfo,
            required=False,
            label=_("Date and time (%(zone)s)") % {"zone": shop.timezone},
        )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("when") == "later" and not cleaned.get("send_at"):
            self.add_error("send_at", _("Give the date and time to send at."))
        return cleaned

    @property
    def send_at(self) -> dt.datetime | None:
        """None for "now"; the aware time for "later"."""
        return self.cleaned_data.get("send_at") if self.cleaned_data.get("when") == "later" else None


class PreviewForm(forms.Form):
    customer = forms.IntegerField(required=False, min_value=1)
