"""What a campaign earned: conversions in the attribution window, compared with the holdout.

A recipient converts when they place a paid order within `attribution_days` after their
message was sent; a holdout member when they place one within `attribution_days` after the
campaign started (when their message would have gone). The uplift is the difference of
the two conversion rates with a 95% confidence interval (Newcombe's hybrid score interval,
statsmodels' confint_proportions_2indep), and the difference in revenue per customer with a
normal-approximation (Welch) interval.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DecimalField, F, Max, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from statsmodels.stats.proportion import confint_proportions_2indep

from campaigns.models import DEFERRAL_WINDOW, Campaign, CampaignStatus, Recipient, RecipientStatus
from customers.models import Order, OrderStatus
from shops.models import Shop
from shops.scope import shop_scope

Z95 = 1.959963984540054
CI_METHOD = "newcomb"
ZERO = Decimal("0")


# --------------------------------------------------------------------------- statistics (pure)


@dataclass(frozen=True)
class Uplift:
    treated_n: int
    treated_conversions: int
    holdout_n: int
    holdout_conversions: int
    treated_rate: float
    holdout_rate: float
    difference: float
    ci_low: float
    ci_high: float
    method: str = CI_METHOD

    @property
    def significant(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0


def conversion_uplift(
    *, treated_n: int, treated_conversions: int, holdout_n: int, holdout_conversions: int, alpha: float = 0.05
) -> Uplift | None:
    """Difference of conversion rates (treated minus holdout) with its confidence interval; None without data."""
    if treated_n <= 0 or holdout_n <= 0:
        return None
    low, high = confint_proportions_2indep(
        treated_conversions, treated_n, holdout_conversions, holdout_n, method=CI_METHOD, compare="diff", alpha=alpha
    )
    p1, p2 = treated_conversions / treated_n, holdout_conversions / holdout_n
    return Uplift(
        treated_n=treated_n,
        treated_conversions=treated_conversions,
        holdout_n=holdout_n,
        holdout_conversions=holdout_conversions,
        treated_rate=p1,
        holdout_rate=p2,
        difference=p1 - p2,
        ci_low=float(low),
        ci_high=float(high),
    )


@dataclass(frozen=True)
class MeanDifference:
    treated_mean: Decimal
    holdout_mean: Decimal
    difference: Decimal
    ci_low: float | None
    ci_high: float | None


def _mean_and_variance(n: int, total: Decimal, squares: Decimal) -> tuple[float, float]:
    mean = float(total) / n
    variance = (float(squares) - n * mean * mean) / (n - 1) if n > 1 else 0.0
    return mean, max(variance, 0.0)


def revenue_difference(
    *,
    treated_n: int,
    treated_total: Decimal,
    treated_squares: Decimal,
    holdout_n: int,
    holdout_total: Decimal,
    holdout_squares: Decimal,
) -> MeanDifference | None:
    """Revenue per customer, treated minus holdout, with a 95% Welch (normal) interval."""
    if treated_n <= 0 or holdout_n <= 0:
        return None
    cent = Decimal("0.01")
    t_mean = (treated_total / treated_n).quantize(cent)
    h_mean = (holdout_total / holdout_n).quantize(cent)
    m1, v1 = _mean_and_variance(treated_n, treated_total, treated_squares)
    m2, v2 = _mean_and_variance(holdout_n, holdout_total, holdout_squares)
    low = high = None
    if treated_n > 1 and holdout_n > 1:
        se = math.sqrt(v1 / treated_n + v2 / holdout_n)
        low, high = (m1 - m2) - Z95 * se, (m1 - m2) + Z95 * se
    return MeanDifference(
        t_mean, h_mean, (treated_total / treated_n - holdout_total / holdout_n).quantize(cent), low, high
    )


# --------------------------------------------------------------------------- attribution (writes)


def campaign_attribution_refresh(*, shop: Shop, campaign: Campaign, now: dt.datetime | None = None) -> int:
    """Set converted_order (the first order in the window) and revenue (all of them) on the campaign's
    sent and holdout recipients; returns how many rows changed."""
    now = now or timezone.now()
    if campaign.started_at is None:
        return 0
    days = dt.timedelta(days=campaign.attribution_days)
    rows = list(
        Recipient.objects.for_shop(shop)
        .filter(campaign=campaign, status__in=[RecipientStatus.SENT, RecipientStatus.HOLDOUT])
        .only("pk", "customer_id", "status", "sent_at", "converted_order_id", "revenue")
    )
    if not rows:
        return 0
    last_sent = max((r.sent_at for r in rows if r.sent_at), default=campaign.started_at)
    orders = (
        Order.objects.for_shop(shop)
        .filter(
            customer_id__in=Recipient.objects.for_shop(shop).filter(campaign=campaign).values("customer_id"),
            status=OrderStatus.PAID,
            placed_at__gt=campaign.started_at,
            placed_at__lte=max(last_sent, campaign.started_at) + days,
        )
        .order_by("placed_at", "pk")
        .values_list("pk", "customer_id", "placed_at", "total")
    )
    by_customer: dict[int, list] = defaultdict(list)
    for order in orders:
        by_customer[order[1]].append(order)
    changed = []
    for row in rows:
        start = row.sent_at if row.status == RecipientStatus.SENT else campaign.started_at
        if start is None:
            continue
        hits = [o for o in by_customer.get(row.customer_id, ()) if start < o[2] <= start + days]
        converted = hits[0][0] if hits else None
        revenue = sum((o[3] for o in hits), ZERO)
        if converted != row.converted_order_id or revenue != row.revenue:
            row.converted_order_id, row.revenue = converted, revenue
            changed.append(row)
    Recipient.unscoped.bulk_update(changed, ["converted_order", "revenue"], batch_size=1000)
    Campaign.unscoped.filter(pk=campaign.pk).update(attributed_at=now)
    return len(changed)


def campaigns_attribution_refresh_open(*, now: dt.datetime | None = None) -> int:
    """Refresh every campaign whose attribution window may still take orders (beat); returns how many."""
    now = now or timezone.now()
    refreshed = 0
    candidates = Campaign.unscoped.filter(status__in=[CampaignStatus.SENDING, CampaignStatus.SENT]).select_related(
        "shop"
    )
    for campaign in candidates:
        # Orders are imported late sometimes; keep refreshing for a week after the window closes.
        closes = (campaign.started_at or now) + DEFERRAL_WINDOW + dt.timedelta(days=campaign.attribution_days + 7)
        if now > closes and campaign.attributed_at is not None and campaign.attributed_at > closes:
            continue
        with shop_scope(campaign.shop):
            campaign_attribution_refresh(shop=campaign.shop, campaign=campaign, now=now)
        refreshed += 1
    return refreshed


# --------------------------------------------------------------------------- results (reads)


@dataclass(frozen=True)
class Results:
    sent: int
    bounced: int
    delivered: int
    opened: int
    clicked: int
    converted: int
    revenue: Decimal
    failed: int
    unknown: int
    holdout: int
    holdout_converted: int
    holdout_revenue: Decimal
    uplift: Uplift | None
    revenue_per_customer: MeanDifference | None
    attributed_at: dt.datetime | None
    window_ends_at: dt.datetime | None

    @property
    def open_rate(self) -> float | None:
        return self.opened / self.delivered if self.delivered else None

    @property
    def click_rate(self) -> float | None:
        return self.clicked / self.delivered if self.delivered else None

    @property
    def conversion_rate(self) -> float | None:
        return self.converted / self.sent if self.sent else None

    @property
    def holdout_conversion_rate(self) -> float | None:
        return self.holdout_converted / self.holdout if self.holdout else None


def campaign_results(*, shop: Shop, campaign: Campaign) -> Results:
    money = DecimalField(max_digits=18, decimal_places=2)
    square = DecimalField(max_digits=30, decimal_places=4)
    zero = Value(ZERO, output_field=money)

    def block(status: str) -> dict:
        q = Q(status=status)
        return {
            f"{status}_n": Count("id", filter=q),
            f"{status}_converted": Count("id", filter=q & Q(converted_order__isnull=False)),
            f"{status}_revenue": Coalesce(Sum("revenue", filter=q), zero, output_field=money),
            f"{status}_squares": Coalesce(
                Sum(F("revenue") * F("revenue"), filter=q, output_field=square),
                Value(ZERO, output_field=square),
                output_field=square,
            ),
        }

    sent_q = Q(status=RecipientStatus.SENT)
    agg = (
        Recipient.objects.for_shop(shop)
        .filter(campaign=campaign)
        .aggregate(
            **block(RecipientStatus.SENT),
            **block(RecipientStatus.HOLDOUT),
            bounced=Count("id", filter=sent_q & Q(bounced_at__isnull=False)),
            opened=Count("id", filter=sent_q & Q(opened_at__isnull=False)),
            clicked=Count("id", filter=sent_q & Q(clicked_at__isnull=False)),
            failed=Count("id", filter=Q(status=RecipientStatus.FAILED)),
            unknown=Count("id", filter=Q(status=RecipientStatus.UNKNOWN)),
            last_sent=Max("sent_at"),
        )
    )
    sent, holdout = agg["sent_n"], agg["holdout_n"]
    window_ends = None
    if campaign.started_at is not None:
        window_ends = max(agg["last_sent"] or campaign.started_at, campaign.started_at) + dt.timedelta(
            days=campaign.attribution_days
        )
    return Results(
        sent=sent,
        bounced=agg["bounced"],
        delivered=sent - agg["bounced"],
        opened=agg["opened"],
        clicked=agg["clicked"],
        converted=agg["sent_converted"],
        revenue=Decimal(agg["sent_revenue"]),
        failed=agg["failed"],
        unknown=agg["unknown"],
        holdout=holdout,
        holdout_converted=agg["holdout_converted"],
        holdout_revenue=Decimal(agg["holdout_revenue"]),
        uplift=conversion_uplift(
            treated_n=sent,
            treated_conversions=agg["sent_converted"],
            holdout_n=holdout,
            holdout_conversions=agg["holdout_converted"],
        ),
        revenue_per_customer=revenue_difference(
            treated_n=sent,
            treated_total=Decimal(agg["sent_revenue"]),
            treated_squares=Decimal(agg["sent_squares"]),
            holdout_n=holdout,
            holdout_total=Decimal(agg["holdout_revenue"]),
            holdout_squares=Decimal(agg["holdout_squares"]),
        ),
        attributed_at=campaign.attributed_at,
        window_ends_at=window_ends,
    )
