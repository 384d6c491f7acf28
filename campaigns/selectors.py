"""Reads for campaigns: lists, the target segment, who would get the message and why not."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from analytics.models import CustomerScore, Segment, SegmentKind
from analytics.segments import current_run, segment_members, segments_current
from campaigns.models import (
    FREQUENCY_WINDOW,
    MAYBE_SENT_STATUSES,
    Campaign,
    ExclusionReason,
    Recipient,
    RecipientStatus,
    Suppression,
    SuppressionReason,
    suppression_digest,
)
from campaigns.rendering import Personalisation
from customers.models import Customer, OrderLine, OrderStatus
from shops.models import Shop

RECOMMENDED_PRODUCTS = 3
SUPPRESSION_EXCLUSION = {
    SuppressionReason.UNSUBSCRIBED: ExclusionReason.UNSUBSCRIBED,
    SuppressionReason.BOUNCED: ExclusionReason.BOUNCED,
    SuppressionReason.COMPLAINT: ExclusionReason.SUPPRESSED,
    SuppressionReason.MANUAL: ExclusionReason.SUPPRESSED,
}


def campaign_list(*, shop: Shop) -> QuerySet[Campaign]:
    return Campaign.objects.for_shop(shop).select_related("segment", "created_by")


def campaign_get(*, shop: Shop, campaign_id: int) -> Campaign | None:
    return campaign_list(shop=shop).filter(pk=campaign_id).first()


def campaign_target_segment(*, shop: Shop, campaign: Campaign) -> Segment | None:
    """The segment to send to now: a custom segment itself, a computed one by its key in the current run."""
    segment = campaign.segment
    if segment is not None and segment.kind == SegmentKind.CUSTOM:
        return segment
    key = campaign.segment_key or (segment.key if segment else "")
    if not key:
        return None
    return segments_current(shop=shop).exclude(kind=SegmentKind.CUSTOM).filter(key=key).first()


def campaign_members(*, shop: Shop, campaign: Campaign) -> QuerySet[Customer]:
    """Who the campaign targets: its recipients once started, else the target segment's members now."""
    if campaign.has_started:
        ids = Recipient.objects.for_shop(shop).filter(campaign=campaign).values("customer_id")
        return Customer.objects.for_shop(shop).filter(pk__in=ids)
    segment = campaign_target_segment(shop=shop, campaign=campaign)
    if segment is None:
        return Customer.objects.for_shop(shop).none()
    return segment_members(shop=shop, segment=segment)


def suppression_reasons(*, shop: Shop, emails: Iterable[str] | None = None) -> dict[str, str]:
    """Lower-case address, and address digest -> ExclusionReason for the shop's suppressions
    (all, or those of the addresses given). An erased person's suppression is kept as a digest
    only, so it is found by the digest (see exclusion_reason)."""
    qs = Suppression.objects.for_shop(shop)
    if emails is not None:
        addresses = {e.strip().lower() for e in emails if e and e.strip()}
        digests = {suppression_digest(shop_id=shop.pk, email=a) for a in addresses} - {""}
        qs = qs.filter(Q(email__in=addresses) | Q(email_hash__in=digests))
    reasons: dict[str, str] = {}
    for email, digest, reason in qs.values_list("email", "email_hash", "reason"):
        for key in (email, digest):
            if key:
                reasons[key] = SUPPRESSION_EXCLUSION[reason]
    return reasons


def exclusion_reason(
    *, shop_id: int, email: str, email_consent: bool, erased_at: dt.datetime | None, suppressed: dict[str, str]
) -> str | None:
    """Why a customer must not get a marketing email, or None. Checked at snapshot and again at send
    time. `suppressed` is suppression_reasons(); an address suppressed as a digest only (its person
    erased) is found by its digest in the shop `shop_id`."""
    if erased_at is not None or not email.strip():
        return ExclusionReason.NO_EMAIL
    if not email_consent:
        return ExclusionReason.NO_CONSENT
    address = email.strip().lower()
    found = suppressed.get(address)
    return found if found is not None else suppressed.get(suppression_digest(shop_id=shop_id, email=address))


def recent_campaign_emails(
    *, shop: Shop, now: dt.datetime, customer_ids: Iterable[int] | None = None, exclude_campaign_id: int | None = None
) -> Counter:
    """customer id -> campaign emails that may have reached them in the frequency window."""
    qs = Recipient.objects.for_shop(shop).filter(status__in=MAYBE_SENT_STATUSES, handoff_at__gte=now - FREQUENCY_WINDOW)
    if customer_ids is not None:
        qs = qs.filter(customer_id__in=list(customer_ids))
    if exclude_campaign_id is not None:
        qs = qs.exclude(campaign_id=exclude_campaign_id)
    return Counter(dict(qs.values_list("customer_id").annotate(n=Count("id")).values_list("customer_id", "n")))


@dataclass
class AudienceClassification:
    """Each member of the target segment and what happens to them (before the holdout draw)."""

    members: int = 0
    excluded: dict[int, tuple[str, str]] = field(default_factory=dict)  # customer id -> (email, reason)
    eligible: dict[int, str] = field(default_factory=dict)  # customer id -> email, in id order
    capped: set[int] = field(default_factory=set)  # eligible customers over the frequency cap now


def audience_classify(*, shop: Shop, campaign: Campaign, segment: Segment, now: dt.datetime) -> AudienceClassification:
    result = AudienceClassification()
    suppressed = suppression_reasons(shop=shop)
    rows = (
        segment_members(shop=shop, segment=segment)
        .order_by("pk")
        .values_list("pk", "email", "email_consent", "erased_at")
    )
    for customer_id, email, consent, erased_at in rows.iterator(chunk_size=5000):
        result.members += 1
        reason = exclusion_reason(
            email=email, email_consent=consent, erased_at=erased_at, suppressed=suppressed, shop_id=shop.pk
        )
        if reason:
            result.excluded[customer_id] = (email, reason)
        else:
            result.eligible[customer_id] = email
    counts = recent_campaign_emails(shop=shop, now=now, exclude_campaign_id=campaign.pk)
    result.capped = {c for c in result.eligible if counts.get(c, 0) >= campaign.frequency_cap}
    return result


def holdout_size(eligible: int, share: Decimal) -> int:
    return int((Decimal(eligible) * share).to_integral_value(rounding=ROUND_HALF_UP))


@dataclass
class Audience:
    """Who gets the campaign, by outcome. Before sending starts it is an estimate (is_estimate)."""

    is_estimate: bool
    members: int = 0
    excluded: dict[str, int] = field(default_factory=dict)  # reason -> count, every reason listed
    holdout: int = 0
    deferred: int = 0
    to_send: int = 0  # pending and being sent
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    problem: str = ""

    @property
    def excluded_total(self) -> int:
        return sum(self.excluded.values())

    @property
    def excluded_rows(self) -> list[tuple[str, str, int]]:
        return [(reason, ExclusionReason(reason).label, n) for reason, n in self.excluded.items()]


def campaign_audience(*, shop: Shop, campaign: Campaign, now: dt.datetime | None = None) -> Audience:
    now = now or timezone.now()
    excluded = dict.fromkeys(ExclusionReason.values, 0)
    if campaign.has_started or Recipient.objects.for_shop(shop).filter(campaign=campaign).exists():
        audience = Audience(is_estimate=False, excluded=excluded)
        for (status, reason), n in _status_counts(shop, campaign).items():
            audience.members += n
            if status == RecipientStatus.EXCLUDED:
                audience.excluded[reason or ExclusionReason.SUPPRESSED] += n
            elif status == RecipientStatus.HOLDOUT:
                audience.holdout += n
            elif status == RecipientStatus.DEFERRED:
                audience.deferred += n
            elif status in {RecipientStatus.PENDING, RecipientStatus.CLAIMED, RecipientStatus.HANDING_OFF}:
                audience.to_send += n
            elif status == RecipientStatus.SENT:
                audience.sent += n
            elif status == RecipientStatus.FAILED:
                audience.failed += n
            elif status == RecipientStatus.UNKNOWN:
                audience.unknown += n
        return audience
    audience = Audience(is_estimate=True, excluded=excluded)
    segment = campaign_target_segment(shop=shop, campaign=campaign)
    if segment is None:
        audience.problem = "segment"
        return audience
    found = audience_classify(shop=shop, campaign=campaign, segment=segment, now=now)
    audience.members = found.members
    for _email, reason in found.excluded.values():
        audience.excluded[reason] += 1
    audience.holdout = holdout_size(len(found.eligible), campaign.holdout_share)
    # The holdout is drawn from every eligible customer, capped or not; estimate the capped
    # ones among the rest in proportion.
    treated = len(found.eligible) - audience.holdout
    capped_treated = round(len(found.capped) * treated / len(found.eligible)) if found.eligible else 0
    audience.deferred = capped_treated
    audience.to_send = treated - capped_treated
    return audience


def _status_counts(shop: Shop, campaign: Campaign) -> dict[tuple[str, str], int]:
    rows = (
        Recipient.objects.for_shop(shop)
        .filter(campaign=campaign)
        .values_list("status", "reason")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {(status, reason): n for status, reason, n in rows}


# --------------------------------------------------------------------------- personalisation


class ProductPicks:
    """Best-selling product titles, overall and per category, read once per shop and reused."""

    def __init__(self, shop: Shop):
        self.shop = shop
        self._by_category: dict[str, list[str]] = {}
        self._overall: list[str] | None = None

    def _top(self, category: str | None) -> list[str]:
        qs = OrderLine.objects.for_shop(self.shop).filter(order__status=OrderStatus.PAID, product__isnull=False)
        if category is not None:
            qs = qs.filter(product__category__iexact=category)
        rows = qs.values("product__title").annotate(q=Sum("quantity")).order_by("-q", "product__title")
        return [r["product__title"] for r in rows[:RECOMMENDED_PRODUCTS]]

    def for_category(self, category: str) -> list[str]:
        if category not in self._by_category:
            self._by_category[category] = self._top(category)
        return self._by_category[category]

    def overall(self) -> list[str]:
        if self._overall is None:
            self._overall = self._top(None)
        return self._overall


def personalisations(
    *, shop: Shop, customers: Iterable[Customer], picks: ProductPicks | None = None
) -> dict[int, Personalisation]:
    """Customer id -> what their message says about them.

    Favourite category and recommendations come from the current analysis run (the
    association-rule offers); without recommendations, the best sellers of their favourite
    category, else of the shop.
    """
    customers = list(customers)
    picks = picks or ProductPicks(shop)
    run = current_run(shop=shop)
    scores: dict[int, tuple[str, list]] = {}
    if run is not None and customers:
        rows = (
            CustomerScore.objects.for_shop(shop)
            .filter(run=run, customer_id__in=[c.pk for c in customers])
            .values_list("customer_id", "top_category", "recommendations")
        )
        scores = {cid: (category or "", recs or []) for cid, category, recs in rows}
    out = {}
    for customer in customers:
        category, recs = scores.get(customer.pk, ("", []))
        titles = [r.get("title") or r.get("label") or "" for r in recs if isinstance(r, dict)]
        titles = [t for t in titles if t][:RECOMMENDED_PRODUCTS]
        if not titles:
            titles = picks.for_category(category) if category else picks.overall()
        out[customer.pk] = Personalisation(
            customer_id=customer.pk,
            email=customer.email,
            first_name=customer.first_name,
            last_name=customer.last_name,
            favourite_category=category,
            recommended_products=tuple(titles),
        )
    return out


def preview_members(*, shop: Shop, campaign: Campaign, limit: int = 100) -> list[Customer]:
    return list(campaign_members(shop=shop, campaign=campaign).order_by("pk")[:limit])


def preview_member(*, shop: Shop, campaign: Campaign, customer_id: int | None) -> Customer | None:
    """The member to preview: the one asked for if they are a member, else the first member."""
    members = campaign_members(shop=shop, campaign=campaign).order_by("pk")
    if customer_id is not None:
        return members.filter(pk=customer_id).first()
    return members.first()


def customer_campaign_export(*, shop: Shop, customer_ids: list[int]) -> dict:
    """The campaign messages these customers were owed and what became of them, and the
    suppressions of their addresses, as JSON-ready data (a privacy data request's export)."""
    recipients = (
        Recipient.objects.for_shop(shop)
        .filter(customer_id__in=customer_ids)
        .order_by("pk")
        .values(
            "customer_id", "campaign__name", "email", "status", "reason", "sent_at", "opened_at", "clicked_at",
            "bounced_at", "revenue",
        )
    )  # fmt: skip
    addresses = Customer.objects.for_shop(shop).filter(pk__in=customer_ids).exclude(email="")
    emails = {e.strip().lower() for e in addresses.values_list("email", flat=True)}
    digests = {suppression_digest(shop_id=shop.pk, email=e) for e in emails}
    suppressions = (
        Suppression.objects.for_shop(shop)
        .filter(Q(email__in=emails) | Q(email_hash__in=digests))
        .order_by("pk")
        .values("email", "reason", "created_at")
    )
    return {"campaign_messages": list(recipients), "suppressions": list(suppressions)}
