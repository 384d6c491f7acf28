"""The public preference survey: zero-party data a customer gives the shop about themselves.

Answers go to the shop's customers with that email (or a new customer with source
"survey"); they never touch another shop's rows, since every lookup is by shop and
email. Spam protection: a honeypot field (filled in: pretend success, write nothing)
and a per-IP, per-shop rate limit in Django's cache.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import Customer, Source, SurveyResponse
from shops.models import Shop

RATE_LIMIT = 5  # submissions ...
RATE_WINDOW_SECONDS = 10 * 60  # ... per IP and shop in this window

AGE_RANGES = [
    ("", _("Prefer not to say")),
    ("under-18", _("Under 18")),
    ("18-24", _("18–24")),
    ("25-34", _("25–34")),
    ("35-44", _("35–44")),
    ("45-54", _("45–54")),
    ("55-64", _("55–64")),
    ("65+", _("65 or older")),
]

INTERESTS = [
    ("fashion", _("Fashion and accessories")),
    ("beauty", _("Beauty and wellbeing")),
    ("home", _("Home and garden")),
    ("food", _("Food and drink")),
    ("sport", _("Sport and outdoors")),
    ("books", _("Books, music and film")),
    ("tech", _("Technology and gadgets")),
    ("kids", _("Kids and family")),
    ("crafts", _("Arts and crafts")),
    ("travel", _("Travel")),
    ("gifts", _("Gifts")),
    ("sustainability", _("Sustainable products")),
]


class SurveyForm(forms.Form):
    email = forms.EmailField(label=_("Your email"), max_length=254)
    age_range = forms.ChoiceField(label=_("Your age"), choices=AGE_RANGES, required=False)
    occupation = forms.CharField(label=_("Your occupation"), max_length=100, required=False)
    interests = forms.MultipleChoiceField(
        label=_("What interests you?"), choices=INTERESTS, required=False, widget=forms.CheckboxSelectMultiple
    )
    email_consent = forms.BooleanField(
        label=_("Yes, send me offers and news by email. I can unsubscribe at any time."), required=False
    )
    # Honeypot: hidden from people, filled in by bots.
    website = forms.CharField(label=_("Leave this field empty"), required=False)

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    @property
    def is_spam(self) -> bool:
        return bool(self.data.get("website"))


def survey_rate_limited(*, shop: Shop, client_ip: str) -> bool:
    """Count one submission for this IP and shop; True once it is over RATE_LIMIT in the window."""
    key = f"survey-rate:{shop.pk}:{client_ip}"
    cache.add(key, 0, timeout=RATE_WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=RATE_WINDOW_SECONDS)
        count = 1
    return count > RATE_LIMIT


def survey_submit(
    *,
    shop: Shop,
    email: str,
    age_range: str = "",
    occupation: str = "",
    interests: list[str] | None = None,
    email_consent: bool = False,
    now: dt.datetime | None = None,
) -> SurveyResponse:
    """Record the answers and update the shop's customers with this email (or create one).

    Consent given is recorded with its time; consent not given withdraws an earlier
    consent, since the survey is the customer's latest word on it.
    """
    now = now or timezone.now()
    email = email.strip().lower()
    interests = list(interests or [])
    answers = {
        "age_range": age_range,
        "occupation": occupation,
        "interests": interests,
        "email_consent": email_consent,
    }
    with transaction.atomic():
        customers = list(
            Customer.objects.for_shop(shop).select_for_update().filter(email__iexact=email, erased_at__isnull=True)
        )
        if not customers:
            customers = [Customer.unscoped.create(shop=shop, source=Source.SURVEY, email=email)]
        for customer in customers:
            if age_range:
                customer.age_range = age_range
            if occupation:
                customer.occupation = occupation
            customer.interests = interests
            if email_consent:
                customer.email_consent, customer.email_consent_at = True, now
            else:
                customer.email_consent, customer.email_consent_at = False, None
            customer.save(
                update_fields=[
                    "age_range",
                    "occupation",
                    "interests",
                    "email_consent",
                    "email_consent_at",
                    "updated_at",
                ]
            )
        return SurveyResponse.unscoped.create(shop=shop, customer=customers[0], email=email, answers=answers)
