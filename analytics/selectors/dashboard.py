"""Reads for the dashboard: headline figures with their change, forecast chart, segment cards, what changed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.utils import timezone

from analytics import explain, explain_clusters
from analytics.models import AnalysisRun, Forecast, RunStatus, Segment, SegmentKind
from analytics.segments import current_run
from analytics.selectors.caching import page_cache_key, rendered_key
from customers.models import Customer, Order, OrderLine
from customers.money import COUNTED, net_of, paid_in, purchase_q, refunds_on_lines, refunds_on_orders
from shops.models import Shop

PERIOD_DAYS = 30
# The headline figures are kept this long, or until the shop's data changes (data_changed).
KPI_CACHE_SECONDS = 5 * 60
RENDERED_SECONDS = 60 * 60 * 24  # a run's rendered parts (the key names the run)
ACTIVE_DAYS = 90


@dataclass(frozen=True)
class Period:
    """[start, end) of the last 30 days and the 30 before, at midnights in the shop's time zone."""

    start: dt.datetime
    end: dt.datetime
    previous_start: dt.datetime

    @property
    def last_day(self) -> dt.date:
        return (self.end - dt.timedelta(days=1)).date()


@dataclass(frozen=True)
class Kpi:
    key: str
    value: Any
    previous: Any
    kind: str  # count | money | percent

    @property
    def change(self) -> float | None:
        """Relative change against the previous period; None when there is nothing to compare with."""
        if self.value is None or self.previous in (None, 0):
            return None
        if self.kind == "percent":
            return float(self.value) - float(self.previous)  # in percentage points
        return (float(self.value) - float(self.previous)) / float(self.previous)

    @property
    def direction(self) -> str:
        change = self.change
        if change is None or abs(change) < 0.005:
            return "flat"
        return "up" if change > 0 else "down"


def _midnight_after(day: dt.date, tz) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz)


def dashboard_period(*, shop: Shop, now: dt.datetime | None = None) -> Period:
    """The last 30 days ending today in the shop's time zone, or ending on the day of the last order
    when the shop's data stops earlier (an imported history should not show 30 empty days)."""
    tz = shop.tzinfo
    today = timezone.localtime(now or timezone.now(), tz).date()
    end = _midnight_after(today, tz)
    last = Order.objects.for_shop(shop).filter(status__in=COUNTED).aggregate(last=Max("placed_at"))["last"]
    if last is not None and last < end - dt.timedelta(days=PERIOD_DAYS):
        end = _midnight_after(timezone.localtime(last, tz).date(), tz)
    start = end - dt.timedelta(days=PERIOD_DAYS)
    return Period(start=start, end=end, previous_start=start - dt.timedelta(days=PERIOD_DAYS))


def dashboard_kpis(*, shop: Shop, period: Period) -> list[Kpi]:
    """Customers, active customers, revenue, repeat-purchase rate and average order value, each for the
    period and the one before. Five aggregate queries over the last 120 days of orders, whatever the shop size."""
    cur = Q(placed_at__gte=period.start, placed_at__lt=period.end)
    prev = Q(placed_at__gte=period.previous_start, placed_at__lt=period.start)
    paid = purchase_q()
    active_cur = Q(placed_at__gte=period.end - dt.timedelta(days=ACTIVE_DAYS))
    active_prev = Q(
        placed_at__gte=period.start - dt.timedelta(days=ACTIVE_DAYS),
        placed_at__lt=period.start,
    )
    orders = (
        Order.objects.for_shop(shop)
        .filter(status__in=COUNTED, placed_at__gte=period.start - dt.timedelta(days=ACTIVE_DAYS))
        .filter(placed_at__lt=period.end)
        .aggregate(
            paid=paid_in(cur),
            paid_prev=paid_in(prev),
            back=refunds_on_orders(cur),
            back_prev=refunds_on_orders(prev),
            orders=Count("id", filter=cur & paid),
            orders_prev=Count("id", filter=prev & paid),
            active=Count("customer", distinct=True, filter=active_cur & paid),
            active_prev=Count("customer", distinct=True, filter=active_prev & paid),
        )
    )
    # ADR 0007: revenue is what customers paid minus what went back, in the period it went back
    line_back = (
        OrderLine.objects.for_shop(shop)
        .filter(order__placed_at__gte=period.previous_start, order__placed_at__lt=period.end)
        .aggregate(
            back=refunds_on_lines(Q(order__placed_at__gte=period.start)),
            back_prev=refunds_on_lines(Q(order__placed_at__lt=period.start)),
        )
    )
    orders["revenue"] = net_of(orders, line_back)
    orders["revenue_prev"] = net_of(
        {"paid": orders["paid_prev"], "back": orders["back_prev"]}, {"back": line_back["back_prev"]}
    )
    customers = Customer.objects.for_shop(shop).aggregate(
        total=Count("id"), before=Count("id", filter=Q(created_at__lt=period.start))
    )

    def repeat_rate(start: dt.datetime, end: dt.datetime) -> float | None:
        earlier = Order.objects.for_shop(shop).filter(purchase_q(), customer=OuterRef("customer"), placed_at__lt=start)
        row = (
            Order.objects.for_shop(shop)
            .filter(purchase_q(), placed_at__gte=start, placed_at__lt=end, customer__isnull=False)
            .aggregate(
                buyers=Count("customer", distinct=True),
                returning=Count("customer", distinct=True, filter=Exists(earlier)),
            )
        )
        return row["returning"] / row["buyers"] if row["buyers"] else None

    def aov(revenue: Decimal, n: int) -> Decimal | None:
        return (revenue / n).quantize(Decimal("0.01")) if n else None

    return [
        Kpi("customers", customers["total"], customers["before"], "count"),
        Kpi("active", orders["active"], orders["active_prev"], "count"),
        Kpi("revenue", orders["revenue"], orders["revenue_prev"], "money"),
        Kpi(
            "repeat_rate",
            repeat_rate(period.start, period.end),
            repeat_rate(period.previous_start, period.start),
            "percent",
        ),
        Kpi(
            "aov", aov(orders["revenue"], orders["orders"]), aov(orders["revenue_prev"], orders["orders_prev"]), "money"
        ),
    ]


def _data_version_key(shop_id: int) -> str:
    return f"analytics:data-version:{shop_id}"


def data_version_bump(*, shop_id: int) -> None:
    """Called when the shop's orders or customers changed: cached headline figures are stale."""
    cache.set(_data_version_key(shop_id), timezone.now().isoformat(), None)


def dashboard_kpis_cached(*, shop: Shop, period: Period) -> list[Kpi]:
    """dashboard_kpis, kept for a few minutes per shop and period and dropped when the data changes
    (on 1,000,000 orders its aggregates take about 0.2 s, the rest of the dashboard 0.03 s)."""
    version = cache.get(_data_version_key(shop.pk), "")
    key = page_cache_key("kpis", shop.pk, period.start, version)
    kpis = cache.get(key)
    if kpis is None:
        kpis = dashboard_kpis(shop=shop, period=period)
        cache.set(key, kpis, KPI_CACHE_SECONDS)
    return kpis


def shop_has_data(*, shop: Shop) -> bool:
    return Order.objects.for_shop(shop).exists() or Customer.objects.for_shop(shop).exists()


def pending_run(*, shop: Shop) -> AnalysisRun | None:
    """The queued or running analysis, if any (at most one is requested at a time)."""
    return (
        AnalysisRun.objects.for_shop(shop)
        .filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING])
        .order_by("-created_at")
        .first()
    )


def last_failed_run(*, shop: Shop, after: AnalysisRun | None) -> AnalysisRun | None:
    """The newest run, if it failed after the current one was made (the owner should know why)."""
    latest = AnalysisRun.objects.for_shop(shop).exclude(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).first()
    if latest is None or latest.status != RunStatus.FAILED:
        return None
    if after is not None and latest.created_at < after.created_at:
        return None
    return latest


def previous_done_run(*, shop: Shop, run: AnalysisRun) -> AnalysisRun | None:
    return (
        AnalysisRun.objects.for_shop(shop)
        .filter(status=RunStatus.DONE, created_at__lt=run.created_at)
        .order_by("-created_at")
        .first()
    )


@dataclass(frozen=True)
class SegmentCard:
    segment: Segment
    previous_size: int | None

    @property
    def size_change(self) -> int | None:
        return None if self.previous_size is None else self.segment.size - self.previous_size

    @property
    def headline(self) -> str:
        from analytics.selectors.segments import segment_headline

        return segment_headline(self.segment)


def segment_cards(*, shop: Shop, run: AnalysisRun, previous: AnalysisRun | None) -> list[SegmentCard]:
    """The run's computed segments (clusters and outliers first, then RFM groups by size) with the
    size of the same segment (by key) in the previous done run. Two queries."""
    segments = list(Segment.objects.for_shop(shop).filter(run=run).order_by("kind", "key"))
    before: dict[str, int] = {}
    if previous is not None:
        before = dict(Segment.objects.for_shop(shop).filter(run=previous).values_list("key", "size"))
    order = {SegmentKind.CLUSTER: 0, SegmentKind.OUTLIERS: 1, SegmentKind.RFM: 2}
    segments.sort(key=lambda s: (order.get(s.kind, 3), -s.size if s.kind == SegmentKind.RFM else 0, s.key))
    return [SegmentCard(s, before.get(s.key)) for s in segments]


def run_changes(*, run: AnalysisRun, previous: AnalysisRun | None, cards: list[SegmentCard]) -> dict[str, Any]:
    """What changed since the previous analysis: segments that grew or shrank most, and rule counts."""
    if previous is None:
        return {"previous": None}
    moved = sorted((c for c in cards if c.size_change), key=lambda c: abs(c.size_change or 0), reverse=True)[:6]
    rule_count = sum((run.summary.get("rules", {}).get("count") or {}).values())
    previous_rule_count = sum((previous.summary.get("rules", {}).get("count") or {}).values())
    return {
        "previous": previous,
        "moved": moved,
        "new_segments": [c for c in cards if c.previous_size is None],
        "rules": rule_count,
        "rules_change": rule_count - previous_rule_count,
    }


def forecast_for(
    *, shop: Shop, run: AnalysisRun, segment: Segment | None = None, metric: str = "revenue"
) -> Forecast | None:
    """The run's forecast of a metric for the shop (or a segment), daily when there is one, else weekly."""
    forecasts = {f.freq: f for f in Forecast.objects.for_shop(shop).filter(run=run, segment=segment, metric=metric)}
    return forecasts.get("D") or forecasts.get("W")


def forecast_points(forecast: Forecast) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The stored points split into the period in progress (flagged ``partial``: the period the
    data ends inside of, with its actual ``so_far`` and the forecast of the whole period), if
    any, and the whole periods after it."""
    partial = next((p for p in forecast.points if p.get("partial")), None)
    return partial, [p for p in forecast.points if not p.get("partial")]


def forecast_totals(forecast: Forecast, points: list[dict[str, Any]]) -> tuple[float, float]:
    """Whole periods on both sides: the forecast over ``points`` (the whole periods after the one in
    progress, from :func:`forecast_points`) and the actual over as many last complete periods."""
    expected = sum(p.get("mean") or 0 for p in points)
    recent = sum(v or 0 for _d, v in forecast.history[-len(points) :]) if points else 0
    return expected, recent


def forecast_chart_data(forecast: Forecast, *, history_points: int = 56) -> dict[str, Any]:
    """Chart.js-ready series: recent history (complete periods), the period in progress (its actual
    so far), forecast mean, 80% and 95% bands, and totals over whole periods for the summary."""
    history = forecast.history[-history_points:]
    partial, points = forecast_points(forecast)
    drawn = ([partial] if partial else []) + points  # the forecast line runs through the period in progress
    mean_total, history_total = forecast_totals(forecast, points)
    return {
        "freq": forecast.freq,
        "history": [{"x": d, "y": v} for d, v in history],
        "partial": (
            {
                "x": partial["date"],
                "date": dt.date.fromisoformat(partial["date"]),
                "y": partial.get("so_far"),
                "expected": partial.get("mean"),
            }
            if partial
            else None
        ),
        "mean": [{"x": p["date"], "y": p.get("mean")} for p in drawn],
        "lo80": [{"x": p["date"], "y": p.get("lo80")} for p in drawn],
        "hi80": [{"x": p["date"], "y": p.get("hi80")} for p in drawn],
        "lo95": [{"x": p["date"], "y": p.get("lo95")} for p in drawn],
        "hi95": [{"x": p["date"], "y": p.get("hi95")} for p in drawn],
        "horizon": len(points),
        "mean_total": round(mean_total, 2),
        "history_total": round(history_total, 2),
        "first": dt.date.fromisoformat(points[0]["date"]) if points else None,
    }


def forecast_rows(forecast: Forecast) -> list[dict[str, Any]]:
    """The forecast as table rows (dates parsed) for the text alternative; the period in progress
    first, with ``partial`` and its actual ``so_far``."""
    return [
        {
            "date": dt.date.fromisoformat(p["date"]),
            "mean": p.get("mean"),
            "lo80": p.get("lo80"),
            "hi80": p.get("hi80"),
            "lo95": p.get("lo95"),
            "hi95": p.get("hi95"),
            "partial": bool(p.get("partial")),
            "so_far": p.get("so_far"),
        }
        for p in forecast.points
    ]


def dashboard_story(*, cards: list[SegmentCard]) -> dict[str, Any]:
    """The facts the dashboard headline is made of: the most valuable cluster and the customers slipping away."""
    clusters = [c.segment for c in cards if c.segment.kind == SegmentKind.CLUSTER]
    rfm = {c.segment.name: c.segment for c in cards if c.segment.kind == SegmentKind.RFM}
    best = max(clusters, key=lambda s: s.revenue_share, default=None)
    slipping = [rfm[name] for name in ("At risk", "Cannot lose them") if name in rfm]
    return {
        "clusters": len(clusters),
        "best": best,
        "best_headline": explain_clusters.cluster_headline(best.facts) if best is not None else "",
        "slipping_size": sum(s.size for s in slipping),
        "slipping_revenue": sum((s.revenue for s in slipping), Decimal(0)),
        "slipping_segment": max(slipping, key=lambda s: s.size, default=None),
        "champions": rfm.get("Champions"),
    }


def rfm_share_chart(cards: list[SegmentCard]) -> dict[str, Any]:
    """Share of customers and of revenue per RFM group, in the standard group order."""
    rfm = {c.segment.name: c.segment for c in cards if c.segment.kind == SegmentKind.RFM}
    names = [n for n in explain.RFM_GROUPS if n in rfm]
    total = sum(s.size for s in rfm.values()) or 1
    return {
        "labels": [explain.rfm_group_name(n) for n in names],
        "customers": [round(rfm[n].size / total, 4) for n in names],
        "revenue": [round(rfm[n].revenue_share, 4) for n in names],
    }


def dashboard_page(*, shop: Shop, demo_loading: bool = False) -> dict[str, Any]:
    """Everything the dashboard shows, by state: no data yet (what to do first), data but no finished
    analysis (run it), or the current run's story; plus a pending run's progress and a failure."""
    has_data = shop_has_data(shop=shop)
    run = current_run(shop=shop) if has_data else None
    context: dict[str, Any] = {
        "has_data": has_data,
        "demo_loading": demo_loading and not has_data,
        "run": run,
        "pending_run": pending_run(shop=shop) if has_data else None,
        "failed_run": last_failed_run(shop=shop, after=run) if has_data else None,
    }
    if not has_data:
        return context
    period = dashboard_period(shop=shop)
    context.update(period=period, kpis=dashboard_kpis_cached(shop=shop, period=period))
    if run is None:
        return context
    context["insights"] = RunInsights(shop=shop, run=run)
    context["insights_seconds"] = RENDERED_SECONDS
    return context


class RunInsights:
    """The dashboard's parts that change only with a new analysis run: the story, the forecast,
    what changed since the run before, the segment cards and the RFM groups.

    Each is computed on first use, and the dashboard caches their rendered HTML under `key`, so a
    later visit computes none of them (most of the dashboard's time). The headline figures (cached
    on their own, dropped when the data changes) and "finished … ago" are rendered every time.
    """

    def __init__(self, *, shop: Shop, run: AnalysisRun):
        self.shop = shop
        self.run = run

    @cached_property
    def key(self) -> str:
        return rendered_key(self.shop, "dashboard", self.run.pk)

    @cached_property
    def previous(self) -> AnalysisRun | None:
        return previous_done_run(shop=self.shop, run=self.run)

    @cached_property
    def cards(self) -> list[SegmentCard]:
        return segment_cards(shop=self.shop, run=self.run, previous=self.previous)

    @cached_property
    def clusters(self) -> list[SegmentCard]:
        return [c for c in self.cards if c.segment.kind in (SegmentKind.CLUSTER, SegmentKind.OUTLIERS)]

    @cached_property
    def rfm_cards(self) -> list[SegmentCard]:
        return [c for c in self.cards if c.segment.kind == SegmentKind.RFM]

    @cached_property
    def changes(self) -> dict[str, Any]:
        return run_changes(run=self.run, previous=self.previous, cards=self.cards)

    @cached_property
    def story(self) -> dict[str, Any]:
        return dashboard_story(cards=self.cards)

    @cached_property
    def rfm_share(self) -> dict[str, Any]:
        return rfm_share_chart(self.cards)

    @cached_property
    def forecast(self) -> Forecast | None:
        return forecast_for(shop=self.shop, run=self.run)

    @cached_property
    def forecast_chart(self) -> dict[str, Any] | None:
        return forecast_chart_data(self.forecast) if self.forecast else None

    @cached_property
    def forecast_rows(self) -> list[dict[str, Any]]:
        return forecast_rows(self.forecast) if self.forecast else []


def segment_forecasts(*, shop: Shop, run: AnalysisRun) -> list[dict[str, Any]]:
    """Each segment's revenue forecast in the run, with the expected total over its horizon (one query)."""
    rows = []
    forecasts = (
        Forecast.objects.for_shop(shop)
        .filter(run=run, segment__isnull=False, metric="revenue")
        .select_related("segment")
        .order_by("segment__key", "freq")
    )
    for f in forecasts:
        # whole periods on both sides: the next n after the one in progress against the last n complete
        partial, points = forecast_points(f)
        expected, recent = forecast_totals(f, points)
        rows.append(
            {
                "forecast": f,
                "segment": f.segment,
                "expected": expected,
                "recent": recent,
                "change": (expected - recent) / recent if recent > 0 else None,
                "horizon": len(points),
                "in_progress": dt.date.fromisoformat(partial["date"]) if partial else None,
            }
        )
    return rows
