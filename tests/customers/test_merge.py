"""Merging two customers: every row moves, clashing rows are set aside, fields follow the house
rule, the next analysis counts one person, and undo gives everything back."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from analytics import services as analytics_services
from analytics.models import AnalysisRun, CustomerScore, Segment, SegmentMembership
from campaigns.models import Recipient, RecipientStatus, Suppression, SuppressionReason, TrackingEvent
from customers import merging
from customers.merging import MergeError, customer_merge, customer_merge_undo
from customers.models import (
    Customer,
    CustomerIdentity,
    CustomerMerge,
    Event,
    IdentityKind,
    Order,
    Review,
    SurveyResponse,
)
from customers.services import customer_erase, customers_erase
from shops.scope import shop_scope
from tests.campaigns.factories import CampaignFactory
from tests.factories import CustomerFactory, EventFactory, OrderFactory, OrderLineFactory, ReviewFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _iso(days: int) -> str:
    return (T0 + dt.timedelta(days=days)).isoformat()


def _run(shop, *, current: bool) -> AnalysisRun:
    return AnalysisRun.unscoped.create(shop=shop, status="done", is_current=current, trigger="test")


def _segment(shop, run, key: str) -> Segment:
    return Segment.unscoped.create(shop=shop, run=run, kind="rfm", key=key, name=key)


@pytest.fixture
def people(shop):
    """Ann (kept) and her second record Annie, each with orders, events, reviews, survey answers,
    scores and segment places in two runs, and campaign messages; some of them clash."""
    ann = CustomerFactory(shop=shop, email="ann@example.org", first_name="Ann", last_name="Smith")
    annie = CustomerFactory(
        shop=shop, email="annie.smith@example.net", first_name="Annie", last_name="Smith", phone="+447700900123"
    )
    rows = {"ann": ann, "annie": annie}
    for who, n in (("ann", 1), ("annie", 2)):
        for _ in range(n):
            order = OrderFactory(shop=shop, customer=rows[who])
            OrderLineFactory(order=order)
        EventFactory(shop=shop, customer=rows[who])
        ReviewFactory(shop=shop, customer=rows[who])
        SurveyResponse.unscoped.create(shop=shop, customer=rows[who], email=rows[who].email, answers={"q": who})
    old_run, run = _run(shop, current=False), _run(shop, current=True)
    CustomerScore.unscoped.create(shop=shop, run=old_run, customer=annie, frequency=2)  # moves
    CustomerScore.unscoped.create(shop=shop, run=run, customer=ann, frequency=1)
    CustomerScore.unscoped.create(shop=shop, run=run, customer=annie, frequency=2)  # clashes: same run
    both, only_annie = _segment(shop, run, "rfm:both"), _segment(shop, run, "rfm:annie")
    for segment, members in ((both, [ann, annie]), (only_annie, [annie])):
        for member in members:
            SegmentMembership.unscoped.create(shop=shop, run=run, segment=segment, customer=member)
    shared, own = CampaignFactory(shop=shop), CampaignFactory(shop=shop)
    Recipient.unscoped.create(shop=shop, campaign=shared, customer=ann, email=ann.email)
    clash = Recipient.unscoped.create(
        shop=shop, campaign=shared, customer=annie, email=annie.email, status=RecipientStatus.SENT
    )
    TrackingEvent.unscoped.create(shop=shop, recipient=clash, kind="open", at=T0)
    Recipient.unscoped.create(shop=shop, campaign=own, customer=annie, email=annie.email)
    return rows


def _pointing_at(customer_id: int) -> dict[str, set[int]]:
    """Every row of every app that points at the customer, by relation."""
    found = {}
    for model, field in merging._customer_relations():
        ids = set(model._base_manager.filter(**{field.attname: customer_id}).values_list("pk", flat=True))
        if ids:
            found[f"{model._meta.label}.{field.name}"] = ids
    return found


def _everything(shop) -> dict:
    """The whole stored state a merge touches, to compare before and after an undo."""
    models = [Customer, CustomerIdentity, Order, Event, Review, SurveyResponse, CustomerScore, SegmentMembership]
    models += [Recipient, TrackingEvent, Suppression]
    return {m._meta.label: sorted(m.unscoped.filter(shop=shop).values(), key=lambda r: r["id"]) for m in models}


# --- the merge moves everything ---------------------------------------------------------


def test_a_merge_moves_every_row_of_every_app_to_the_survivor(shop, people):
    ann, annie = people["ann"], people["annie"]
    annies = _pointing_at(annie.pk)
    anns = _pointing_at(ann.pk)

    merge = customer_merge(shop=shop, survivor=ann, other=annie)

    assert not Customer.unscoped.filter(pk=annie.pk).exists()
    assert _pointing_at(annie.pk) == {}
    now_anns = _pointing_at(ann.pk)
    for relation in ("customers.Order.customer", "customers.Event.customer", "customers.Review.customer",
                     "customers.SurveyResponse.customer", "customers.CustomerIdentity.customer"):  # fmt: skip
        assert annies[relation] <= now_anns[relation], relation
        assert set(merge.moved[relation]) == annies[relation], relation
    assert Order.unscoped.filter(customer=ann).count() == 3
    # the older run's score moved; the current run's clashed with Ann's own and was set aside
    scores = CustomerScore.unscoped.filter(customer=ann)
    assert sorted(scores.values_list("run__is_current", "frequency")) == [(False, 2), (True, 1)]
    memberships = SegmentMembership.unscoped.filter(customer=ann).values_list("segment__key", flat=True)
    assert sorted(memberships) == ["rfm:annie", "rfm:both"]
    recipients = Recipient.unscoped.filter(customer=ann)
    assert recipients.count() == 2 and not TrackingEvent.unscoped.filter(shop=shop).exists()
    aside = {group["relation"] for group in merge.set_aside}
    assert aside == {
        "analytics.CustomerScore.customer",
        "analytics.SegmentMembership.customer",
        "campaigns.Recipient.customer",
    }
    assert anns["customers.Order.customer"] <= now_anns["customers.Order.customer"]


def test_the_merged_customers_identities_and_former_email_and_phone_find_the_survivor(shop, people):
    ann, annie = people["ann"], people["annie"]

    customer_merge(shop=shop, survivor=ann, other=annie)

    identities = set(CustomerIdentity.unscoped.filter(customer=ann).values_list("source", "external_id"))
    assert {("api", annie.external_id), ("api", ann.external_id)} <= identities
    assert (IdentityKind.EMAIL, "annie.smith@example.net") in identities
    assert (IdentityKind.PHONE, "+447700900123") not in identities  # Ann had no phone: she takes Annie's
    ann.refresh_from_db()
    assert ann.phone == "+447700900123" and ann.phone_key == "+447700900123"
    assert merging.customer_find(shop=shop, query="Annie.Smith@example.net") == ann


def test_a_merge_keeps_a_record_with_the_removed_customer_and_who_did_it(shop, people, owner):
    ann, annie = people["ann"], people["annie"]

    merge = customer_merge(shop=shop, survivor=ann, other=annie, user=owner, reason="manual")

    merge.refresh_from_db()
    assert (merge.survivor_id, merge.merged_customer_id, merge.created_by, merge.reason) == (
        ann.pk,
        annie.pk,
        owner,
        "manual",
    )
    assert merge.snapshot["fields"]["email"] == "annie.smith@example.net"
    assert merging.merge_label(merge) == "Annie Smith · annie.smith@example.net"


def test_the_next_analysis_counts_the_merged_customer_once(shop):
    start = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)
    people = [CustomerFactory(shop=shop) for _ in range(12)]
    for i, person in enumerate(people):
        OrderFactory(shop=shop, customer=person, placed_at=start + dt.timedelta(days=5 * i))
    twin = CustomerFactory(shop=shop, email=people[0].email.upper())
    for k in range(2):
        OrderFactory(shop=shop, customer=twin, placed_at=start + dt.timedelta(days=40 + 20 * k), total=Decimal("5"))

    def analyse() -> AnalysisRun:
        with shop_scope(shop):
            run = analytics_services.analysis_run_create(shop=shop, params={"only": ["rfm"]}, trigger="test")
            return analytics_services.analysis_run_execute(run=analytics_services.analysis_run_claim(run_id=run.pk))

    before = analyse()
    assert before.status == "done" and before.summary["customers"] == 13
    customer_merge(shop=shop, survivor=people[0], other=twin)
    after = analyse()

    assert after.status == "done" and after.summary["customers"] == 12
    scores = CustomerScore.unscoped.filter(run=after)
    assert scores.count() == 12
    assert not scores.filter(customer_id=twin.pk).exists()
    merged = scores.get(customer=people[0])
    assert merged.frequency == 3 and merged.monetary == Decimal("19.80") + Decimal("10.00")


def test_a_merge_asks_for_a_new_analysis_once_committed(shop, people, django_capture_on_commit_callbacks):
    from customers.signals import data_changed

    heard = []

    def listener(sender, shop_id, reason, **kwargs):
        heard.append((shop_id, reason))

    data_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            customer_merge(shop=shop, survivor=people["ann"], other=people["annie"])
    finally:
        data_changed.disconnect(listener)

    assert heard == [(shop.pk, "merge")]


# --- fields -------------------------------------------------------------------------------


def test_each_field_keeps_the_newer_value_and_a_missing_stamp_loses(shop):
    survivor = CustomerFactory(
        shop=shop,
        first_name="Ann",
        city="Leeds",
        country="UK",
        occupation="",
        tags=["vip"],
        interests=["tea"],
        field_updated_at={"first_name": _iso(10), "city": _iso(1)},
    )
    other = CustomerFactory(
        shop=shop,
        first_name="Annie",
        city="York",
        country="France",
        occupation="Baker",
        tags=["vip", "wholesale"],
        interests=["coffee"],
        field_updated_at={"first_name": _iso(5), "city": _iso(2)},
    )

    customer_merge(shop=shop, survivor=survivor, other=other)

    survivor.refresh_from_db()
    assert survivor.first_name == "Ann"  # her own stamp is newer
    assert survivor.city == "York"  # theirs is newer
    assert survivor.country == "UK"  # neither has a stamp: the survivor keeps hers
    assert survivor.occupation == "Baker"  # hers was empty
    assert survivor.tags == ["vip", "wholesale"] and survivor.interests == ["tea", "coffee"]
    assert survivor.field_updated_at["city"] == _iso(2) and survivor.field_updated_at["first_name"] == _iso(10)


def test_a_withdrawal_beats_an_older_consent_of_the_other_record(shop):
    consented = CustomerFactory(shop=shop, email_consent=True, email_consent_at=T0)
    withdrew = CustomerFactory(shop=shop, email_consent=False, field_updated_at={"email_consent": _iso(3)})

    customer_merge(shop=shop, survivor=consented, other=withdrew)

    consented.refresh_from_db()
    assert consented.email_consent is False and consented.email_consent_at is None
    assert consented.field_updated_at["email_consent"] == _iso(3)


def test_a_consent_given_after_the_withdrawal_stays(shop):
    withdrew = CustomerFactory(shop=shop, email_consent=False, field_updated_at={"email_consent": _iso(3)})
    later = CustomerFactory(shop=shop, email_consent=True, email_consent_at=T0 + dt.timedelta(days=9))

    customer_merge(shop=shop, survivor=withdrew, other=later)

    withdrew.refresh_from_db()
    assert withdrew.email_consent is True and withdrew.email_consent_at == T0 + dt.timedelta(days=9)


def test_a_record_never_asked_for_consent_does_not_withdraw_it(shop):
    consented = CustomerFactory(shop=shop, email_consent=True, email_consent_at=T0)
    never_asked = CustomerFactory(shop=shop, email_consent=False)

    customer_merge(shop=shop, survivor=consented, other=never_asked)

    consented.refresh_from_db()
    assert consented.email_consent is True and consented.email_consent_at == T0


# --- suppressions -------------------------------------------------------------------------


def test_an_unsubscribe_at_the_former_address_suppresses_the_survivors_address(shop, people):
    ann, annie = people["ann"], people["annie"]
    Suppression.unscoped.create(shop=shop, email=annie.email, reason=SuppressionReason.UNSUBSCRIBED)

    merge = customer_merge(shop=shop, survivor=ann, other=annie)

    carried = Suppression.unscoped.get(shop=shop, email=ann.email)
    assert carried.reason == SuppressionReason.UNSUBSCRIBED
    assert merge.moved["campaigns.Suppression.created"] == [carried.pk]

    customer_merge_undo(shop=shop, merge=merge)

    assert not Suppression.unscoped.filter(shop=shop, email=ann.email).exists()
    assert Suppression.unscoped.filter(shop=shop, email=annie.email).exists()


def test_the_survivors_own_unsubscribe_holds_when_the_merge_changes_her_address(shop):
    old = CustomerFactory(shop=shop, email="old@example.org", field_updated_at={"email": _iso(1)})
    new = CustomerFactory(shop=shop, email="new@example.org", field_updated_at={"email": _iso(5)})
    Suppression.unscoped.create(shop=shop, email="old@example.org", reason=SuppressionReason.UNSUBSCRIBED)

    customer_merge(shop=shop, survivor=old, other=new)

    old.refresh_from_db()
    assert old.email == "new@example.org"
    assert Suppression.unscoped.filter(shop=shop, email="new@example.org").exists()
    assert CustomerIdentity.unscoped.filter(customer=old, source=IdentityKind.EMAIL, external_id="old@example.org")


def test_a_bounce_stays_with_its_address(shop, people):
    Suppression.unscoped.create(shop=shop, email=people["annie"].email, reason=SuppressionReason.BOUNCED)

    merge = customer_merge(shop=shop, survivor=people["ann"], other=people["annie"])

    assert not Suppression.unscoped.filter(shop=shop, email=people["ann"].email).exists()
    assert "campaigns.Suppression.created" not in merge.moved


# --- refusals -----------------------------------------------------------------------------


def test_a_merge_refuses_an_erased_customer_itself_and_another_shops(shop, other_shop, people):
    ann, annie = people["ann"], people["annie"]
    stranger = CustomerFactory(shop=other_shop)
    erased = customer_erase(shop=shop, customer=CustomerFactory(shop=shop))

    for survivor, other in ((ann, ann), (ann, erased), (erased, ann), (ann, stranger)):
        with pytest.raises(MergeError):
            customer_merge(shop=shop, survivor=survivor, other=other)

    assert not CustomerMerge.unscoped.exists()
    assert Customer.unscoped.filter(pk__in=[ann.pk, annie.pk, erased.pk, stranger.pk]).count() == 4


# --- undo ---------------------------------------------------------------------------------


def test_undo_gives_back_every_row_field_and_id(shop, people):
    ann, annie = people["ann"], people["annie"]
    Customer.unscoped.filter(pk=ann.pk).update(field_updated_at={"phone": _iso(0)})
    before = _everything(shop)

    merge = customer_merge(shop=shop, survivor=ann, other=annie)
    restored = customer_merge_undo(shop=shop, merge=merge)

    assert restored.pk == annie.pk
    after = _everything(shop)
    # Ann's row was saved twice (merge, undo): only its updated_at may differ
    for rows in (before["customers.Customer"], after["customers.Customer"]):
        for row in rows:
            if row["id"] == ann.pk:
                row.pop("updated_at")
    assert after == before
    merge.refresh_from_db()
    assert merge.undone_at is not None
    assert merge.snapshot == {} and merge.set_aside == [] and merge.survivor_before == {}


def test_undo_keeps_a_field_that_changed_again_since_the_merge(shop):
    ann = CustomerFactory(shop=shop, city="")
    annie = CustomerFactory(shop=shop, city="York", occupation="Baker")
    merge = customer_merge(shop=shop, survivor=ann, other=annie)
    Customer.unscoped.filter(pk=ann.pk).update(city="Leeds")

    customer_merge_undo(shop=shop, merge=merge)

    ann.refresh_from_db()
    assert ann.city == "Leeds" and ann.occupation == ""


def test_undo_leaves_rows_added_since_the_merge_with_the_survivor(shop, people):
    ann, annie = people["ann"], people["annie"]
    merge = customer_merge(shop=shop, survivor=ann, other=annie)
    later = OrderFactory(shop=shop, customer=ann)

    customer_merge_undo(shop=shop, merge=merge)

    later.refresh_from_db()
    assert later.customer_id == ann.pk


def test_undo_is_refused_after_30_days_and_the_expiry_clears_the_personal_data(shop, people):
    merge = customer_merge(shop=shop, survivor=people["ann"], other=people["annie"])
    CustomerMerge.unscoped.filter(pk=merge.pk).update(created_at=timezone.now() - dt.timedelta(days=31))
    merge.refresh_from_db()

    with pytest.raises(MergeError, match="30 days"):
        customer_merge_undo(shop=shop, merge=merge)
    assert merging.customer_merges_expire() == 1
    assert merging.customer_merges_expire() == 0

    merge.refresh_from_db()
    assert merge.snapshot == {} and merge.set_aside == [] and merge.survivor_before == {}
    assert merge.moved["customers.Order.customer"]  # the audit of what moved stays
    assert not Customer.unscoped.filter(pk=people["annie"].pk).exists()


def test_the_expiry_task_clears_old_merges_only(shop, people):
    from customers.tasks import expire_merge_records

    fresh = customer_merge(shop=shop, survivor=people["ann"], other=people["annie"])
    old = customer_merge(shop=shop, survivor=people["ann"], other=CustomerFactory(shop=shop))
    CustomerMerge.unscoped.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=30, minutes=1))

    assert expire_merge_records.delay().get() == 1

    fresh.refresh_from_db()
    assert fresh.snapshot


def test_undo_is_refused_twice(shop, people):
    merge = customer_merge(shop=shop, survivor=people["ann"], other=people["annie"])
    customer_merge_undo(shop=shop, merge=merge)

    with pytest.raises(MergeError, match="already undone"):
        customer_merge_undo(shop=shop, merge=merge)


def test_erasing_the_survivor_erases_the_merge_records_and_ends_the_undo(shop, people):
    ann, annie = people["ann"], people["annie"]
    merge = customer_merge(shop=shop, survivor=ann, other=annie)

    customers_erase(shop=shop, customer_ids=[ann.pk])
    merging.customer_merge_records_erase(shop=shop, customer_ids=[ann.pk])

    merge.refresh_from_db()
    assert merge.snapshot == {} and merge.set_aside == [] and merge.survivor_before == {}
    assert "annie" not in str(CustomerMerge.unscoped.filter(pk=merge.pk).values().get()).lower()
    with pytest.raises(MergeError):
        customer_merge_undo(shop=shop, merge=merge)
    # her former address, kept as an alias, is now only a digest: no source brings her back
    assert not CustomerIdentity.unscoped.filter(shop=shop, source=IdentityKind.EMAIL).exists()
    assert CustomerIdentity.unscoped.filter(customer=ann, source=IdentityKind.ERASED_EMAIL).count() == 2


def test_a_merge_into_a_customer_that_is_merged_again_can_still_be_undone(shop):
    a, b, c = (CustomerFactory(shop=shop) for _ in range(3))
    order_a = OrderFactory(shop=shop, customer=a)
    order_b = OrderFactory(shop=shop, customer=b)
    first = customer_merge(shop=shop, survivor=b, other=a)
    second = customer_merge(shop=shop, survivor=c, other=b)
    first.refresh_from_db()
    assert first.survivor_id == c.pk  # the record follows the person

    customer_merge_undo(shop=shop, merge=first)
    customer_merge_undo(shop=shop, merge=second)

    order_a.refresh_from_db()
    order_b.refresh_from_db()
    assert (order_a.customer_id, order_b.customer_id) == (a.pk, b.pk)
    assert Customer.unscoped.filter(pk__in=[a.pk, b.pk, c.pk]).count() == 3


def test_a_set_aside_row_whose_run_was_deleted_since_is_not_restored(shop, people):
    ann, annie = people["ann"], people["annie"]
    merge = customer_merge(shop=shop, survivor=ann, other=annie)
    AnalysisRun.unscoped.filter(shop=shop, is_current=True).delete()

    customer_merge_undo(shop=shop, merge=merge)

    assert CustomerScore.unscoped.filter(customer=annie).count() == 1  # the older run's, moved back
    assert Recipient.unscoped.filter(customer=annie).count() == 2
    assert TrackingEvent.unscoped.filter(recipient__customer=annie).count() == 1


# --- the customer's page ----------------------------------------------------------------------


def test_the_profile_merges_another_customer_found_by_email_and_offers_undo(owner_client, shop, people):
    ann, annie = people["ann"], people["annie"]

    confirm = owner_client.get(f"/customers/{ann.pk}/merge/", {"other": "ANNIE.SMITH@example.net"})
    assert confirm.status_code == 200
    body = confirm.content.decode()
    assert "Annie Smith" in body and f'value="{ann.pk}" checked' in body

    response = owner_client.post(f"/customers/{ann.pk}/merge/", {"other_id": annie.pk, "keep": ann.pk}, follow=True)

    assert response.redirect_chain == [(f"/customers/{ann.pk}/", 302)]
    page = response.content.decode()
    assert f"Customer #{annie.pk} was merged into #{ann.pk}." in page
    merge = CustomerMerge.unscoped.get()
    assert merge.reason == "manual"
    assert "Annie Smith · annie.smith@example.net" in page and f"/customers/merges/{merge.pk}/undo/" in page
    assert owner_client.get(f"/customers/{annie.pk}/").status_code == 404

    undone = owner_client.post(f"/customers/merges/{merge.pk}/undo/", follow=True)

    assert undone.redirect_chain == [(f"/customers/{ann.pk}/", 302)]
    assert f"customer #{annie.pk} is back" in undone.content.decode()
    assert owner_client.get(f"/customers/{annie.pk}/").status_code == 200


def test_the_merge_page_says_when_no_customer_matches(owner_client, people):
    response = owner_client.get(f"/customers/{people['ann'].pk}/merge/", {"other": "nobody@example.org"})

    assert response.status_code == 200
    assert "No other customer of this shop has this email or number." in response.content.decode()


def test_a_refused_merge_is_shown_on_the_confirm_page(owner_client, shop, people):
    erased = customer_erase(shop=shop, customer=CustomerFactory(shop=shop))

    response = owner_client.post(f"/customers/{people['ann'].pk}/merge/", {"other_id": erased.pk, "keep": erased.pk})

    assert response.status_code == 400
    assert "An erased customer cannot be merged." in response.content.decode()
    assert not CustomerMerge.unscoped.exists()


def test_a_viewer_sees_the_merge_history_but_cannot_merge_or_undo(viewer_client, shop, people):
    ann, annie = people["ann"], people["annie"]
    merge = customer_merge(shop=shop, survivor=ann, other=annie)

    page = viewer_client.get(f"/customers/{ann.pk}/").content.decode()

    assert "Annie Smith" in page and "can be undone until" in page
    assert f"/customers/merges/{merge.pk}/undo/" not in page and f"/customers/{ann.pk}/merge/" not in page
    assert viewer_client.get(f"/customers/{ann.pk}/merge/", {"other": annie.email}).status_code == 403
    assert viewer_client.post(f"/customers/merges/{merge.pk}/undo/").status_code == 403
    assert CustomerMerge.unscoped.get().undone_at is None


def test_a_stranger_cannot_merge_or_undo_the_shops_customers(stranger_client, shop, people):
    ann, annie = people["ann"], people["annie"]
    merge = customer_merge(shop=shop, survivor=ann, other=CustomerFactory(shop=shop))

    assert (
        stranger_client.post(f"/customers/{ann.pk}/merge/", {"other_id": annie.pk, "keep": ann.pk}).status_code == 404
    )
    assert stranger_client.post(f"/customers/merges/{merge.pk}/undo/").status_code == 404
    assert Customer.unscoped.filter(pk=annie.pk).exists() and CustomerMerge.unscoped.get().undone_at is None


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_profile_with_its_merge_history_renders_in_each_language(owner_client, shop, people, language):
    customer_merge(shop=shop, survivor=people["ann"], other=people["annie"])

    response = owner_client.get(f"/customers/{people['ann'].pk}/", HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 200
    body = response.content.decode()
    assert f'<html lang="{language}">' in body and 'id="merges"' in body
    with translation.override(language):
        assert translation.gettext("Merge another customer into this one") in body
