"""Writes for campaigns: create, edit, schedule, cancel, start (the snapshot) and the due-scan.

Every change of a campaign's status is a conditional UPDATE (`... WHERE status IN (...)`),
so an edit racing the start, or two due-scans, cannot both win. Sending itself is in
campaigns.sending; the design is in docs/adr/0006-campaign-sending.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.models import Segment
from campaigns import selectors
from campaigns.models import (
    DEFERRAL_WINDOW,
    Campaign,
    CampaignStatus,
    ExclusionReason,
    Recipient,
    RecipientStatus,
    Suppression,
    TrackingEvent,
    suppression_digest,
)
from customers.redaction import PersonMarks, text_mentions
from shops.audit import audit_record
from shops.models import AuditAction, Shop
from shops.scope import shop_scope

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = (
    "name",
    "segment",
    "subject_template",
    "body_template",
    "offer_type",
    "offer_value",
    "code_mode",
    "discount_code",
    "holdout_share",
    "frequency_cap",
    "attribution_days",
)
EDITABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
# A "send now" or a time a little in the past (the form was open for a while) is accepted.
PAST_GRACE = dt.timedelta(minutes=5)


def chunk_size() -> int:
    return int(getattr(settings, "CAMPAIGNS_CHUNK_SIZE", 100))


def send_tasks() -> int:
    """How many send_chunk tasks a campaign gets at once; each drains chunks until none is left."""
    return int(getattr(settings, "CAMPAIGNS_SEND_TASKS", 8))


def claim_lease() -> dt.timedelta:
    return dt.timedelta(seconds=int(getattr(settings, "CAMPAIGNS_CLAIM_LEASE_SECONDS", 600)))


def stall_after() -> dt.timedelta:
    return dt.timedelta(seconds=int(getattr(settings, "CAMPAIGNS_STALL_SECONDS", 120)))


class CampaignError(Exception):
    """A request the campaign's state or the shop's set-up does not allow; the message says why."""


# --------------------------------------------------------------------------- create, edit


def _segment_fields(segment: Segment | None) -> dict[str, Any]:
    if segment is None:
        return {"segment": None, "segment_key": "", "segment_name": ""}
    return {"segment": segment, "segment_key": segment.key, "segment_name": segment.name}


def campaign_create(*, shop: Shop, user: AbstractBaseUser | None, data: dict[str, Any]) -> Campaign:
    """A draft campaign from validated field values; raises ValidationError naming the bad field."""
    values = {k: v for k, v in data.items() if k in EDITABLE_FIELDS}
    values.update(_segment_fields(values.pop("segment", None)))
    campaign = Campaign(shop=shop, created_by=user if user and user.pk else None, **values)
    campaign.full_clean(exclude=["shop", "created_by"])
    campaign.save()
    return campaign


def campaign_update(*, campaign: Campaign, data: dict[str, Any]) -> Campaign:
    """Change a draft or scheduled campaign. Refuses (CampaignError) once sending has started."""
    values = {k: v for k, v in data.items() if k in EDITABLE_FIELDS}
    if "segment" in values:
        values.update(_segment_fields(values.pop("segment")))
    for name, value in values.items():
        setattr(campaign, name, value)
    campaign.full_clean(exclude=["shop", "created_by"])
    values["updated_at"] = timezone.now()
    if not Campaign.unscoped.filter(pk=campaign.pk, status__in=EDITABLE).update(**values):
        raise CampaignError(_("This campaign has started or was cancelled; it can no longer be changed."))
    campaign.refresh_from_db()
    return campaign


def campaign_send_problem(*, shop: Shop, campaign: Campaign) -> str:
    """Why the campaign cannot be sent now ('' if it can): no postal address, no segment to send to."""
    if not shop.postal_address.strip():
        return _(
            "Add your shop's postal address in Settings first: every marketing email must show it, "
            "so nothing is sent without it."
        )
    if selectors.campaign_target_segment(shop=shop, campaign=campaign) is None:
        return _(
            "The segment “%(name)s” is not in the current analysis any more (or there is no analysis yet); "
            "choose another segment."
        ) % {"name": campaign.segment_name or "?"}
    return ""


def campaign_schedule(
    *,
    campaign: Campaign,
    send_at: dt.datetime | None,
    now: dt.datetime | None = None,
    actor: AbstractBaseUser | None = None,
) -> Campaign:
    """Schedule a draft or scheduled campaign for `send_at` (aware), or now when None.

    Refuses with CampaignError when the shop has no postal address, the segment is gone,
    the time is in the past, or the campaign has started. A time that has come is started
    at once by a task; later times are started by the due-scan.
    """
    now = now or timezone.now()
    if send_at is not None and timezone.is_naive(send_at):
        raise CampaignError(_("Give the time with its time zone."))
    if send_at is not None and send_at < now - PAST_GRACE:
        raise CampaignError(_("That time is in the past; choose a later one or send now."))
    problem = campaign_send_problem(shop=campaign.shop, campaign=campaign)
    if problem:
        raise CampaignError(problem)
    when = send_at if send_at is not None and send_at > now else now
    updated = Campaign.unscoped.filter(pk=campaign.pk, status__in=EDITABLE).update(
        status=CampaignStatus.SCHEDULED, scheduled_at=when, last_error="", updated_at=now
    )
    if not updated:
        raise CampaignError(_("This campaign has started or was cancelled; it can no longer be scheduled."))
    audit_record(
        shop=campaign.shop,
        action=AuditAction.CAMPAIGN_SCHEDULED,
        actor=actor,
        target=("campaign", campaign.pk),
        details={"send_now": when <= now},
    )
    if when <= now:
        from campaigns import tasks

        campaign_id = campaign.pk
        transaction.on_commit(lambda: tasks.start_campaign.delay(campaign_id))
    campaign.refresh_from_db()
    return campaign


def campaign_unschedule(*, campaign: Campaign) -> Campaign:
    """Back to draft (not sent, still editable)."""
    if not Campaign.unscoped.filter(pk=campaign.pk, status=CampaignStatus.SCHEDULED).update(
        status=CampaignStatus.DRAFT, scheduled_at=None, updated_at=timezone.now()
    ):
        raise CampaignError(_("Only a scheduled campaign that has not started can be put back to draft."))
    campaign.refresh_from_db()
    return campaign


def campaign_cancel(*, campaign: Campaign, actor: AbstractBaseUser | None = None) -> Campaign:
    if not Campaign.unscoped.filter(pk=campaign.pk, status__in=EDITABLE).update(
        status=CampaignStatus.CANCELLED, updated_at=timezone.now()
    ):
        raise CampaignError(_("This campaign has already started; it can no longer be cancelled."))
    audit_record(
        shop=campaign.shop, action=AuditAction.CAMPAIGN_CANCELLED, actor=actor, target=("campaign", campaign.pk)
    )
    campaign.refresh_from_db()
    return campaign


# --------------------------------------------------------------------------- start: the snapshot


def holdout_draw(eligible_ids: list[int], *, share, seed: int) -> set[int]:
    """The holdout: exactly round(n x share) of the eligible ids, drawn with the recorded seed.

    Deterministic for (sorted ids, share, seed), so the draw can be repeated to check it.
    """
    ids = sorted(eligible_ids)
    return set(random.Random(seed).sample(ids, selectors.holdout_size(len(ids), share)))


@dataclass
class SnapshotReport:
    members: int = 0
    pending: int = 0
    holdout: int = 0
    deferred: int = 0
    excluded: dict[str, int] = field(default_factory=dict)


def recipients_snapshot(*, shop: Shop, campaign: Campaign, segment: Segment, now: dt.datetime) -> SnapshotReport:
    """One Recipient row per member: excluded (with the reason), holdout, deferred (capped) or pending.

    Exclusions come first and the holdout is drawn among the eligible only, so holdout and
    treated customers are alike. Call inside the transaction that moved the campaign to sending.
    """
    found = selectors.audience_classify(shop=shop, campaign=campaign, segment=segment, now=now)
    holdout = holdout_draw(list(found.eligible), share=campaign.holdout_share, seed=campaign.holdout_seed)
    report = SnapshotReport(members=found.members, excluded=dict.fromkeys(ExclusionReason.values, 0))
    rows = []
    for customer_id, (email, reason) in found.excluded.items():
        report.excluded[reason] += 1
        rows.append(
            Recipient(
                shop=shop,
                campaign=campaign,
                customer_id=customer_id,
                email=email,
                reason=reason,
                status=RecipientStatus.EXCLUDED,
            )
        )
    for customer_id, email in found.eligible.items():
        if customer_id in holdout:
            status = RecipientStatus.HOLDOUT
            report.holdout += 1
        elif customer_id in found.capped:
            status = RecipientStatus.DEFERRED
            report.deferred += 1
        else:
            status = RecipientStatus.PENDING
            report.pending += 1
        rows.append(Recipient(shop=shop, campaign=campaign, customer_id=customer_id, email=email, status=status))
    Recipient.unscoped.bulk_create(rows, batch_size=2000)
    return report


def send_chunks_enqueue(*, campaign_id: int, pending: int) -> int:
    """Queue send_chunk tasks for `pending` rows, after the current transaction commits."""
    if pending <= 0:
        return 0
    from campaigns import tasks

    count = min(send_tasks(), math.ceil(pending / chunk_size()))
    transaction.on_commit(lambda: [tasks.send_chunk.delay(campaign_id) for _ in range(count)])
    return count


def campaign_start(*, campaign_id: int, now: dt.datetime | None = None) -> SnapshotReport | None:
    """Start a due scheduled campaign: scheduled -> sending, snapshot and queue, in one transaction.

    Returns None when the campaign was not due, not scheduled, or already started by someone
    else (the conditional UPDATE matched nothing); a campaign that cannot be sent (no postal
    address, segment gone) goes back to draft with the reason in last_error.
    """
    now = now or timezone.now()
    seed = secrets.randbits(62)
    with transaction.atomic():
        started = Campaign.unscoped.filter(
            pk=campaign_id, status=CampaignStatus.SCHEDULED, scheduled_at__lte=now
        ).update(
            status=CampaignStatus.SENDING,
            started_at=now,
            send_window_ends_at=now + DEFERRAL_WINDOW,
            holdout_seed=seed,
            last_error="",
            updated_at=now,
        )
        if not started:
            return None
        campaign = Campaign.unscoped.select_related("shop", "segment").get(pk=campaign_id)
        shop = campaign.shop
        with shop_scope(shop):
            problem = campaign_send_problem(shop=shop, campaign=campaign)
            if problem:
                Campaign.unscoped.filter(pk=campaign_id).update(
                    status=CampaignStatus.DRAFT, started_at=None, send_window_ends_at=None, last_error=problem
                )
                logger.warning("campaign %s not started: %s", campaign_id, problem)
                return None
            segment = selectors.campaign_target_segment(shop=shop, campaign=campaign)
            report = recipients_snapshot(shop=shop, campaign=campaign, segment=segment, now=now)
        audit_record(
            shop=shop,
            action=AuditAction.CAMPAIGN_STARTED,
            target=("campaign", campaign_id),
            details={"pending": report.pending, "deferred": report.deferred},
        )
        send_chunks_enqueue(campaign_id=campaign_id, pending=report.pending)
        if report.pending == 0 and report.deferred == 0:
            transaction.on_commit(lambda: campaign_finish_if_done(campaign_id=campaign_id))
    logger.info("campaign %s started: %s", campaign_id, asdict(report))
    return report


def campaign_finish_if_done(*, campaign_id: int, now: dt.datetime | None = None) -> bool:
    """sending -> sent once no recipient is pending, deferred, claimed or handing off."""
    from campaigns.models import OPEN_STATUSES

    open_rows = Recipient.unscoped.filter(campaign_id=campaign_id, status__in=OPEN_STATUSES)
    if open_rows.exists():
        return False
    finished = bool(
        Campaign.unscoped.filter(pk=campaign_id, status=CampaignStatus.SENDING)
        .exclude(Q(recipients__status__in=OPEN_STATUSES))
        .update(status=CampaignStatus.SENT, finished_at=now or timezone.now())
    )
    if finished:  # the conditional UPDATE made this call the one that finished it: recorded once
        campaign = Campaign.unscoped.select_related("shop").get(pk=campaign_id)
        counts = dict(
            Recipient.unscoped.filter(campaign_id=campaign_id)
            .values_list("status")
            .annotate(n=Count("pk"))
            .order_by()
            .values_list("status", "n")
        )
        audit_record(
            shop=campaign.shop,
            action=AuditAction.CAMPAIGN_SENT,
            target=("campaign", campaign_id),
            details={"recipients": counts},
        )
    return finished


# --------------------------------------------------------------------------- the due-scan


def stale_claims_recover(*, now: dt.datetime, lease: dt.timedelta) -> tuple[int, int]:
    """Claims older than the lease, of workers that died or hang.

    A row still `claimed` never reached the mail server (the hand-off is recorded first),
    so it goes back to pending. A row stuck in `handing_off` may or may not have been
    delivered: it becomes `unknown` and is never sent again. Returns (released, unknown).
    """
    released = Recipient.unscoped.filter(status=RecipientStatus.CLAIMED, claimed_at__lt=now - lease).update(
        status=RecipientStatus.PENDING, claim_token="", claimed_at=None, claimed_by=""
    )
    stuck = list(
        Recipient.unscoped.filter(status=RecipientStatus.HANDING_OFF, handoff_at__lt=now - lease).values_list(
            "pk", "campaign_id", "claimed_by"
        )
    )
    unknown = 0
    if stuck:
        unknown = Recipient.unscoped.filter(
            pk__in=[pk for pk, _c, _w in stuck], status=RecipientStatus.HANDING_OFF
        ).update(
            status=RecipientStatus.UNKNOWN,
            error="The worker stopped while handing this message to the mail server; it may or may not "
            "have been delivered, so it is not sent again.",
        )
        for pk, campaign_id, worker in stuck:
            logger.warning(
                "campaign %s recipient %s: hand-off by %s not confirmed, marked unknown", campaign_id, pk, worker or "?"
            )
    return released, unknown


def deferred_recipients_release(*, campaign: Campaign, now: dt.datetime) -> tuple[int, int]:
    """Frequency-capped recipients: pending again when the cap allows, excluded once the window ended.

    Returns (released, expired).
    """
    shop = campaign.shop
    deferred = list(
        Recipient.objects.for_shop(shop)
        .filter(campaign=campaign, status=RecipientStatus.DEFERRED)
        .values_list("pk", "customer_id")
    )
    if not deferred:
        return 0, 0
    if campaign.send_window_ends_at is None or now >= campaign.send_window_ends_at:
        expired = (
            Recipient.objects.for_shop(shop)
            .filter(pk__in=[pk for pk, _ in deferred], status=RecipientStatus.DEFERRED)
            .update(status=RecipientStatus.EXCLUDED, reason=ExclusionReason.FREQUENCY_CAP)
        )
        return 0, expired
    counts = selectors.recent_campaign_emails(
        shop=shop, now=now, customer_ids=[c for _, c in deferred], exclude_campaign_id=campaign.pk
    )
    allowed = [pk for pk, customer_id in deferred if counts.get(customer_id, 0) < campaign.frequency_cap]
    released = 0
    if allowed:
        released = (
            Recipient.objects.for_shop(shop)
            .filter(pk__in=allowed, status=RecipientStatus.DEFERRED)
            .update(status=RecipientStatus.PENDING)
        )
    return released, 0


@dataclass
class DueScanReport:
    started: list[int] = field(default_factory=list)
    released_claims: int = 0
    unknown: int = 0
    deferred_released: int = 0
    deferred_expired: int = 0
    resumed: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def campaigns_due_scan(
    *, now: dt.datetime | None = None, lease: dt.timedelta | None = None, stall: dt.timedelta | None = None
) -> DueScanReport:
    """The periodic scan (beat, every minute), for every shop.

    1. expired claims: back to pending, or unknown if the hand-off had begun;
    2. due scheduled campaigns: started (at most once each, however many scans run);
    3. sending campaigns: stalled ones (pending rows, no claim for `stall`) get tasks again,
       deferred recipients are released or expire, finished ones are marked sent.
    """
    now = now or timezone.now()
    report = DueScanReport()
    report.released_claims, report.unknown = stale_claims_recover(
        now=now, lease=lease if lease is not None else claim_lease()
    )
    due = Campaign.unscoped.filter(status=CampaignStatus.SCHEDULED, scheduled_at__lte=now).order_by("scheduled_at")
    for campaign_id in due.values_list("pk", flat=True):
        try:
            if campaign_start(campaign_id=campaign_id, now=now) is not None:
                report.started.append(campaign_id)
        except Exception as exc:  # one broken campaign must not hold up the others
            logger.exception("campaign %s could not be started", campaign_id)
            report.errors.append(f"{campaign_id}: {exc}")
    stall = stall if stall is not None else stall_after()
    sending = Campaign.unscoped.filter(status=CampaignStatus.SENDING).select_related("shop")
    for campaign in sending.exclude(pk__in=report.started):
        with shop_scope(campaign.shop), transaction.atomic():
            rows = Recipient.objects.for_shop(campaign.shop).filter(campaign=campaign)
            pending = rows.filter(status=RecipientStatus.PENDING).count()
            last_claim = rows.aggregate(last=Max("claimed_at"))["last"] or campaign.started_at
            if pending and (last_claim is None or last_claim <= now - stall):
                send_chunks_enqueue(campaign_id=campaign.pk, pending=pending)
                report.resumed.append(campaign.pk)
            released, expired = deferred_recipients_release(campaign=campaign, now=now)
            report.deferred_released += released
            report.deferred_expired += expired
            if released and campaign.pk not in report.resumed:
                send_chunks_enqueue(campaign_id=campaign.pk, pending=released)
        if campaign_finish_if_done(campaign_id=campaign.pk, now=now):
            report.finished.append(campaign.pk)
    return report


def campaign_validation_messages(exc: ValidationError) -> dict[str, list[str]]:
    return {k: [str(m) for m in v] for k, v in exc.message_dict.items()}


# --------------------------------------------------------------------------- erasure


def campaign_personal_data_erase(
    *, shop: Shop, customer_ids: list[int], emails: list[str], phones: list[str], names: list[str]
) -> dict[str, int]:
    """What campaigns hold about erased customers (customers.signals.customers_erased): their
    recipient rows keep the outcome (sent, opened, revenue) without the address or the mail
    server's answer; their suppressions keep only the address's digest, so the address stays
    refused if it ever comes back; click URLs that carry their details are blanked.
    Returns how many rows of each kind changed."""
    addresses = sorted({e.strip().lower() for e in emails if e and e.strip()})
    recipients = Recipient.objects.for_shop(shop).filter(Q(customer_id__in=customer_ids) | Q(email__in=addresses))
    recipient_ids = list(recipients.values_list("pk", flat=True))
    cleared = Recipient.objects.for_shop(shop).filter(pk__in=recipient_ids).update(email="", error="")
    hashed = 0
    for suppression in Suppression.objects.for_shop(shop).filter(email__in=addresses):
        digest = suppression_digest(shop_id=shop.pk, email=suppression.email)
        hashed += Suppression.objects.for_shop(shop).filter(pk=suppression.pk).update(email="", email_hash=digest)
    marks = PersonMarks.build(emails=addresses, phones=phones, names=names, region=shop.phone_region)
    clicks = TrackingEvent.objects.for_shop(shop).filter(recipient_id__in=recipient_ids).exclude(url="")
    mentioned = [pk for pk, url in clicks.values_list("pk", "url") if text_mentions(unquote_plus(url), marks)]
    urls = TrackingEvent.objects.for_shop(shop).filter(pk__in=mentioned).update(url="")
    return {"recipients": cleared, "suppressions": hashed, "tracking_urls": urls}
