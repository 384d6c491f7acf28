"""The public preference survey: zero-party data a customer gives the shop about themselves.

Answers go to the shop's customer with that email, found by the same rules as every other
way in (customers.identity: the email key, also a former email kept by a merge), or to a
new customer with source "survey"; they never touch another shop's rows, since every
lookup is by shop. An erased customer is never written again nor created anew. Spam
protection: a honeypot field (filled in: pretend success, write nothing) and a per-IP,
per-shop rate limit in Django's cache.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.identity import CustomerKey, customers_resolve
from customers.models import Customer, Source, SurveyResponse
from customers.services import ERASED, CustomerInput, customers_upsert
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
) -> SurveyResponse | None:
    """Record the answers and update the shop's customer with this email (or create one).

    The answers are the customer's word as of `now`, merged like any source's values
    (customers.identity.customer_fields_merge): an empty answer keeps what is stored.
    Consent given is a consent dated now; consent not given withdraws an earlier one, since
    the survey is the customer's latest word on it. For an erased customer nothing is
    stored and None is returned (the person is answered as if it had been accepted).
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
        (match,) = customers_resolve(shop=shop, keys=[CustomerKey(source=Source.SURVEY, email=email)])
        if match.erased:
            return None
        # A customer found by a former email keeps the email they have now: the survey names
        # the person, it does not move them back to an old address.
        stored_email = ""
        if match.existing_id is not None:
            stored_email = Customer.objects.for_shop(shop).values_list("email", flat=True).get(pk=match.existing_id)
        fields = {
            "email": stored_email or email,
            "age_range": age_range,
            "occupation": occupation,
            "interests": interests,
            "email_consent": email_consent,
        }
        if email_consent:
            fields["email_consent_at"] = now
        report = customers_upsert(
            shop=shop,
            items=[CustomerInput(external_id="", source=Source.SURVEY, updated_at=now, fields=fields)],
        )
        (item,) = report.items
        if item["result"] == ERASED:
            return None
        return SurveyResponse.unscoped.create(shop=shop, customer_id=item["id"], email=email, answers=answers)
