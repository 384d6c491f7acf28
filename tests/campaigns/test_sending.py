"""Sending through a real SMTP server: one message per eligible member, holdout and exclusions get nothing,
consent and suppression re-checked at send time, frequency cap, recovery after a dead worker."""

from __future__ import annotations

import datetime as dt
import smtplib
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns import sending, services, tracking
from campaigns.models import CampaignStatus, ExclusionReason, Recipient, RecipientStatus, Suppression
from campaigns.selectors import campaign_audience
from tests.campaigns.factories import CampaignFactory, consenting_customers, due_campaign, segment_with_members
from tests.factories import CustomerFactory


def _send_all(campaign) -> sending.ChunkReport:
    report, more = sending.campaign_send(campaign_id=campaign.pk, worker="test")
    assert not more
    return report


def _statuses(campaign) -> dict[str, int]:
    from collections import Counter

    return dict(Counter(Recipient.unscoped.filter(campaign=campaign).values_list("status", flat=True)))


@pytest.fixture
def audience(shop):
    """20 consenting members plus one of each exclusion reason."""
    people = consenting_customers(shop, 20)
    no_consent = CustomerFactory(shop=shop, email="nc@example.org", email_consent=False)
    no_email = CustomerFactory(shop=shop, email="", email_consent=True)
    erased = CustomerFactory(shop=shop, email="", email_consent=False, erased_at=timezone.now())
    unsubscribed = CustomerFactory(shop=shop, email="Unsub@Example.org", email_consent=True)
    bounced = CustomerFactory(shop=shop, email="bounce@example.org", email_consent=True)
    manual = CustomerFactory(shop=shop, email="manual@example.org", email_consent=True)
    Suppression.unscoped.create(shop=shop, email="unsub@example.org", reason="unsubscribed")
    Suppression.unscoped.create(shop=shop, email="bounce@example.org", reason="bounced")
    Suppression.unscoped.create(shop=shop, email="manual@example.org", reason="manual")
    members = [*people, no_consent, no_email, erased, unsubscribed, bounced, manual]
    return people, segment_with_members(shop, members)


def test_each_eligible_member_gets_exactly_one_message_and_holdout_and_excluded_get_none(shop, audience, smtp):
    people, segment = audience
    campaign = due_campaign(shop, segment, holdout_share=Decimal("0.10"))

    report = services.campaign_start(campaign_id=campaign.pk)
    _send_all(campaign)

    assert report.members == 26 and report.holdout == 2 and report.pending == 18
    assert report.excluded == {
        "no_email": 2,
        "no_consent": 1,
        "unsubscribed": 1,
        "bounced": 1,
        "suppressed": 1,
        "frequency_cap": 0,
    }
    holdout = set(Recipient.unscoped.filter(campaign=campaign, status="holdout").values_list("email", flat=True))
    counts = smtp.count_by_recipient()
    assert set(counts) == {p.email for p in people} - holdout
    assert set(counts.values()) == {1}
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT and campaign.finished_at is not None
    assert _statuses(campaign) == {"sent": 18, "holdout": 2, "excluded": 6}
    assert all(r.message_id and r.sent_at for r in Recipient.unscoped.filter(campaign=campaign, status="sent"))


def test_messages_carry_unsubscribe_headers_link_and_postal_address(shop, audience, smtp):
    _people, segment = audience
    campaign = due_campaign(shop, segment)
    services.campaign_start(campaign_id=campaign.pk)
    _send_all(campaign)

    received = smtp.messages()[0]
    message = received.message
    link, mailto = [part.strip().strip("<>") for part in message["List-Unsubscribe"].split(",")]
    assert link.startswith("https://insights.example/u/")
    assert mailto.startswith("mailto:unsubscribe+") and mailto.split("?")[0].endswith("@insights.example")
    assert len(mailto.split(":", 1)[1].split("@")[0]) <= 64  # an address's local part
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["From"] == "Alpha Coffee <mail@insights.example>"
    text, html = received.part("text/plain"), received.part("text/html")
    for body in (text, html):
        assert link in body
        assert "1 High Street, London" in body
    recipient = Recipient.unscoped.get(campaign=campaign, email=received.to)
    assert message["Message-ID"] == recipient.message_id
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert tracking.unsubscribe_token_read(token).customer_id == recipient.customer_id


def test_consent_and_suppression_are_checked_again_at_send_time(shop, smtp):
    people = consenting_customers(shop, 5)
    campaign = due_campaign(shop, segment_with_members(shop, people), holdout_share=Decimal("0"))
    services.campaign_start(campaign_id=campaign.pk)
    # Between the snapshot and the send: one unsubscribes, one withdraws consent, one is erased.
    tracking.suppression_add(shop_id=shop.pk, email=people[0].email.upper(), reason="unsubscribed")
    type(people[1]).unscoped.filter(pk=people[1].pk).update(email_consent=False)
    type(people[2]).unscoped.filter(pk=people[2].pk).update(email="", erased_at=timezone.now())

    _send_all(campaign)

    assert set(smtp.count_by_recipient()) == {people[3].email, people[4].email}
    reasons = dict(Recipient.unscoped.filter(campaign=campaign, status="excluded").values_list("customer_id", "reason"))
    assert reasons == {people[0].pk: "unsubscribed", people[1].pk: "no_consent", people[2].pk: "no_email"}


def test_audience_estimate_matches_the_snapshot(shop, audience):
    _people, segment = audience
    campaign = due_campaign(shop, segment, holdout_share=Decimal("0.10"))

    before = campaign_audience(shop=shop, campaign=campaign)
    services.campaign_start(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    after = campaign_audience(shop=shop, campaign=campaign)

    assert before.is_estimate and not after.is_estimate
    assert (before.members, before.excluded, before.holdout, before.to_send) == (
        after.members,
        after.excluded,
        after.holdout,
        after.to_send,
    )
    assert before.excluded[ExclusionReason.NO_CONSENT] == 1


def test_holdout_is_drawn_with_the_recorded_seed(shop):
    people = consenting_customers(shop, 50)
    campaign = due_campaign(shop, segment_with_members(shop, people), holdout_share=Decimal("0.2"))
    services.campaign_start(campaign_id=campaign.pk)
    campaign.refresh_from_db()

    drawn = set(Recipient.unscoped.filter(campaign=campaign, status="holdout").values_list("customer_id", flat=True))

    assert campaign.holdout_seed is not None and len(drawn) == 10
    assert services.holdout_draw([p.pk for p in people], share=Decimal("0.2"), seed=campaign.holdout_seed) == drawn


def test_start_happens_once_however_often_it_is_asked(shop, smtp):
    people = consenting_customers(shop, 10)
    campaign = due_campaign(shop, segment_with_members(shop, people), holdout_share=Decimal("0"))

    first = services.campaigns_due_scan()
    second = services.campaigns_due_scan()
    assert services.campaign_start(campaign_id=campaign.pk) is None
    _send_all(campaign)
    _send_all(campaign)

    assert first.started == [campaign.pk] and second.started == []
    assert Recipient.unscoped.filter(campaign=campaign).count() == 10
    assert set(smtp.count_by_recipient().values()) == {1} and len(smtp.messages()) == 10


def test_a_campaign_not_yet_due_is_not_started(shop):
    people = consenting_customers(shop, 3)
    campaign = due_campaign(
        shop, segment_with_members(shop, people), scheduled_at=timezone.now() + dt.timedelta(hours=1)
    )

    assert services.campaigns_due_scan().started == []
    assert services.campaigns_due_scan(now=timezone.now() + dt.timedelta(hours=1, seconds=1)).started == [campaign.pk]


def test_a_shop_without_postal_address_sends_nothing_and_is_told_why(shop, smtp):
    campaign = due_campaign(shop, segment_with_members(shop, consenting_customers(shop, 3)))
    type(shop).objects.filter(pk=shop.pk).update(postal_address="")

    assert services.campaign_start(campaign_id=campaign.pk) is None

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert "postal address" in campaign.last_error
    assert not Recipient.unscoped.filter(campaign=campaign).exists() and smtp.messages() == []
    shop.postal_address = ""
    with pytest.raises(services.CampaignError, match="postal address"):
        services.campaign_schedule(campaign=campaign, send_at=None)


def test_a_computed_segment_is_taken_from_the_run_current_at_send_time(shop, smtp):
    old_members = consenting_customers(shop, 3, prefix="old")
    old_segment = segment_with_members(shop, old_members, key="rfm:at_risk")
    campaign = due_campaign(shop, old_segment, holdout_share=Decimal("0"))
    # A new analysis run becomes current before the campaign starts, with other members.
    from analytics.models import AnalysisRun

    AnalysisRun.unscoped.filter(shop=shop).update(is_current=False)
    new_members = consenting_customers(shop, 2, prefix="new")
    segment_with_members(shop, new_members, key="rfm:at_risk")

    services.campaign_start(campaign_id=campaign.pk)
    _send_all(campaign)

    assert set(smtp.count_by_recipient()) == {c.email for c in new_members}


def test_frequency_cap_defers_then_sends_when_the_cap_allows(shop, smtp):
    people = consenting_customers(shop, 4)
    segment = segment_with_members(shop, people)
    now = timezone.now()
    # people[0] got two campaign emails 6 days ago: at the cap (2 per 7 days).
    for _ in range(2):
        earlier = CampaignFactory(shop=shop, segment=segment, status=CampaignStatus.SENT)
        Recipient.unscoped.create(
            shop=shop,
            campaign=earlier,
            customer=people[0],
            email=people[0].email,
            status="sent",
            handoff_at=now - dt.timedelta(days=6),
            sent_at=now - dt.timedelta(days=6),
        )
    campaign = due_campaign(shop, segment, holdout_share=Decimal("0"), scheduled_at=now)

    report = services.campaign_start(campaign_id=campaign.pk, now=now)
    _send_all(campaign)

    assert report.deferred == 1
    assert people[0].email not in smtp.count_by_recipient()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING  # not finished while someone waits
    assert campaign_audience(shop=shop, campaign=campaign).deferred == 1

    # Time passes: the earlier emails leave the 7-day window; the next due-scan releases and sends.
    Recipient.unscoped.exclude(campaign=campaign).update(handoff_at=now - dt.timedelta(days=8))
    scan = services.campaigns_due_scan()
    _send_all(campaign)

    assert scan.deferred_released == 1
    assert smtp.count_by_recipient()[people[0].email] == 1
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT


def test_deferred_recipients_are_excluded_when_the_window_ends(shop, smtp):
    people = consenting_customers(shop, 2)
    segment = segment_with_members(shop, people)
    now = timezone.now()
    earlier = CampaignFactory(shop=shop, segment=segment, status=CampaignStatus.SENT)
    Recipient.unscoped.create(
        shop=shop,
        campaign=earlier,
        customer=people[0],
        email=people[0].email,
        status="sent",
        handoff_at=now - dt.timedelta(hours=1),
        sent_at=now - dt.timedelta(hours=1),
    )
    campaign = due_campaign(shop, segment, holdout_share=Decimal("0"), frequency_cap=1, scheduled_at=now)
    services.campaign_start(campaign_id=campaign.pk, now=now)
    _send_all(campaign)

    services.campaigns_due_scan(now=now + dt.timedelta(days=3, minutes=1))

    row = Recipient.unscoped.get(campaign=campaign, customer=people[0])
    assert (row.status, row.reason) == ("excluded", "frequency_cap")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT


# --------------------------------------------------------------------------- at most once


def test_expired_claims_go_back_but_an_unconfirmed_hand_off_is_never_resent(shop, smtp):
    people = consenting_customers(shop, 4)
    campaign = due_campaign(shop, segment_with_members(shop, people), holdout_share=Decimal("0"))
    services.campaign_start(campaign_id=campaign.pk)
    long_ago = timezone.now() - dt.timedelta(hours=1)
    rows = list(Recipient.unscoped.filter(campaign=campaign).order_by("pk"))
    # A dead worker: it claimed two rows and had begun handing one of them off.
    Recipient.unscoped.filter(pk__in=[rows[0].pk, rows[1].pk]).update(
        status="claimed", claim_token="dead", claimed_at=long_ago, claimed_by="dead-worker"
    )
    Recipient.unscoped.filter(pk=rows[1].pk).update(status="handing_off", handoff_at=long_ago)

    scan = services.campaigns_due_scan()
    _send_all(campaign)

    assert (scan.released_claims, scan.unknown) == (1, 1)
    assert Recipient.unscoped.get(pk=rows[1].pk).status == RecipientStatus.UNKNOWN
    assert rows[1].email not in smtp.count_by_recipient()
    assert set(smtp.count_by_recipient()) == {rows[0].email, rows[2].email, rows[3].email}


def test_a_worker_whose_claim_was_taken_over_does_not_send(shop, smtp):
    people = consenting_customers(shop, 2)
    campaign = due_campaign(shop, segment_with_members(shop, people), holdout_share=Decimal("0"))
    services.campaign_start(campaign_id=campaign.pk)
    token = "slow-worker"
    rows = sending.recipients_claim(
        campaign_id=campaign.pk, limit=10, token=token, worker="slow", now=timezone.now() - dt.timedelta(hours=1)
    )
    services.campaigns_due_scan()  # the lease expired: the rows go back to pending
    _send_all(campaign)  # ...and another worker sends them

    report = sending.ChunkReport()
    sending._send_rows(shop=shop, campaign=campaign, rows=rows, token=token, report=report)  # the slow one wakes up

    assert report.lost == 2 and report.sent == 0
    assert set(smtp.count_by_recipient().values()) == {1}


def test_a_connection_lost_during_hand_off_marks_that_row_unknown_and_gives_back_the_rest(shop, smtp, monkeypatch):
    people = consenting_customers(shop, 5)
    campaign = due_campaign(shop, segment_with_members(shop, people), holdout_share=Decimal("0"))
    services.campaign_start(campaign_id=campaign.pk)
    from django.core.mail.backends.smtp import EmailBackend

    real_send = EmailBackend.send_messages
    calls = {"n": 0}

    def flaky(self, messages):
        calls["n"] += 1
        if calls["n"] == 3:
            raise smtplib.SMTPServerDisconnected("connection dropped")
        return real_send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", flaky)
    with pytest.raises(sending.MailServerUnavailable):
        sending.recipients_send_chunk(campaign_id=campaign.pk, worker="test")
    monkeypatch.setattr(EmailBackend, "send_messages", real_send)
    _send_all(campaign)

    statuses = _statuses(campaign)
    assert statuses == {"sent": 4, "unknown": 1}
    unknown = Recipient.unscoped.get(campaign=campaign, status="unknown")
    assert unknown.email not in smtp.count_by_recipient()
    assert set(smtp.count_by_recipient().values()) == {1}


def test_an_unreachable_mail_server_gives_the_claims_back(shop, settings):
    from tests.campaigns.smtp import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    campaign = due_campaign(shop, segment_with_members(shop, consenting_customers(shop, 3)), holdout_share=Decimal("0"))
    services.campaign_start(campaign_id=campaign.pk)

    with pytest.raises(sending.MailServerUnavailable):
        sending.recipients_send_chunk(campaign_id=campaign.pk)

    assert _statuses(campaign) == {"pending": 3}


def test_a_refused_address_fails_and_is_suppressed_as_bounced(shop, smtp):
    people = consenting_customers(shop, 3)
    campaign = due_campaign(shop, segment_with_members(shop, people), holdout_share=Decimal("0"))
    smtp.refuse.add(people[1].email)
    services.campaign_start(campaign_id=campaign.pk)

    _send_all(campaign)

    row = Recipient.unscoped.get(campaign=campaign, customer=people[1])
    assert row.status == "failed" and "550" in row.error
    assert Suppression.unscoped.get(shop=shop, email=people[1].email).reason == "bounced"
    assert set(smtp.count_by_recipient()) == {people[0].email, people[2].email}


def test_send_now_starts_and_sends_through_the_tasks(shop, smtp, django_capture_on_commit_callbacks):
    people = consenting_customers(shop, 6)
    campaign = CampaignFactory(shop=shop, segment=segment_with_members(shop, people), holdout_share=Decimal("0"))

    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_schedule(campaign=campaign, send_at=None)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert len(smtp.messages()) == 6


def test_test_send_goes_to_the_owner_and_records_nothing(shop, smtp):
    ada = CustomerFactory(shop=shop, first_name="Ada", email_consent=True)
    campaign = CampaignFactory(shop=shop, segment=segment_with_members(shop, [ada]))

    sending.campaign_test_send(shop=shop, campaign=campaign, customer=ada, to="owner@alpha.example")

    [received] = smtp.messages()
    assert received.to == "owner@alpha.example"
    assert received.message["Subject"] == "[Test] Ada, 15% off at Alpha Coffee"
    assert not Recipient.unscoped.exists()
    link = received.message["List-Unsubscribe"].split(",")[0].strip("<> ")
    assert tracking.unsubscribe_token_read(link.rstrip("/").rsplit("/", 1)[1]).is_test
