"""Campaigns and erasure (ADR 0010): an erased customer's messages keep their outcome without
the address, and their suppressions keep only the address's digest, which still refuses it."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from campaigns import tracking
from campaigns.models import Recipient, Suppression, TrackingEvent, suppression_digest
from campaigns.selectors import audience_classify, suppression_reasons
from customers.services import customers_erase
from tests.campaigns.factories import CampaignFactory, segment_with_members
from tests.factories import CustomerFactory


def test_every_suppression_keeps_the_digest_of_its_address(shop, other_shop):
    tracking.suppression_add(shop_id=shop.pk, email=" Ada@Example.org ", reason="unsubscribed")
    suppression = Suppression.unscoped.get(shop=shop)
    assert suppression.email == "ada@example.org"
    assert suppression.email_hash == suppression_digest(shop_id=shop.pk, email="ADA@example.org")
    assert suppression.email_hash != suppression_digest(shop_id=other_shop.pk, email="ada@example.org")


def test_erasing_keeps_the_outcome_of_her_messages_without_her_address(shop):
    ada = CustomerFactory(shop=shop, email="ada@example.org", first_name="Ada", last_name="Byron")
    campaign = CampaignFactory(shop=shop)
    recipient = Recipient.unscoped.create(
        shop=shop, campaign=campaign, customer=ada, email=ada.email, status="sent", sent_at=timezone.now(),
        error="250 ok for ada@example.org", revenue=Decimal("12.50"),
    )  # fmt: skip
    click = TrackingEvent.unscoped.create(
        shop=shop, recipient=recipient, kind="click", at=timezone.now(), url="https://alpha.example/?who=Ada%20Byron"
    )
    plain = TrackingEvent.unscoped.create(
        shop=shop, recipient=recipient, kind="click", at=timezone.now(), url="https://alpha.example/sale"
    )
    customers_erase(shop=shop, customer_ids=[ada.pk])
    recipient.refresh_from_db()
    assert (recipient.email, recipient.error, recipient.status, recipient.revenue) == ("", "", "sent", Decimal("12.50"))
    click.refresh_from_db()
    plain.refresh_from_db()
    assert (click.url, plain.url) == ("", "https://alpha.example/sale")


def test_an_erased_persons_suppression_still_refuses_the_address_if_it_comes_back(shop):
    ada = CustomerFactory(shop=shop, email="ada@example.org", email_consent=True)
    grace = CustomerFactory(shop=shop, email="grace@example.org", email_consent=True)
    for email in (ada.email, grace.email):
        tracking.suppression_add(shop_id=shop.pk, email=email, reason="unsubscribed")
    customers_erase(shop=shop, customer_ids=[ada.pk, grace.pk])
    assert list(Suppression.unscoped.filter(shop=shop).values_list("email", flat=True)) == ["", ""]
    assert len(set(Suppression.unscoped.filter(shop=shop).values_list("email_hash", flat=True))) == 2

    # the address comes back on someone the shop adds by hand: still unsubscribed
    again = CustomerFactory(shop=shop, email="ADA@example.org", email_consent=True)
    fresh = CustomerFactory(shop=shop, email="new@example.org", email_consent=True)
    segment = segment_with_members(shop, [again, fresh])
    audience = audience_classify(shop=shop, campaign=CampaignFactory(shop=shop), segment=segment, now=timezone.now())
    assert audience.excluded == {again.pk: ("ADA@example.org", "unsubscribed")}
    assert list(audience.eligible) == [fresh.pk]
    assert suppression_reasons(shop=shop, emails=["ada@example.org"])  # at send time too
    # and a new unsubscribe of the address neither fails nor adds a second row
    assert tracking.suppression_add(shop_id=shop.pk, email="ada@example.org", reason="unsubscribed") is False
    assert Suppression.unscoped.filter(shop=shop).count() == 2
