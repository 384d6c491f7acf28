"""Reads for the customer list and the customer profile page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.db.models import Exists, F, FilteredRelation, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from analytics import explain
from analytics.models import AnalysisRun, CustomerScore, Segment, SegmentKind, SegmentMembership
from analytics.segments import custom_segment_scores
from customers.integrations import selectors as data_selectors
from customers.models import Customer, CustomerIdentity, Order, OrderLine, customer_search_q
from customers.money import purchase_q
from shops.models import Shop

# Score sorts: highest first; customers without a score in the run (new since it) last, by id.
SCORE_SORTS = {"-clv": "clv_12m", "-monetary": "monetary", "-frequency": "frequency"}
CUSTOMER_SORTS = {
    "name": ("last_name", "first_name", "id"),
    "-last_order": (F("last_order_at").desc(nulls_last=True), "id"),
    **{
        key: (F(f"score__{column}").desc(nulls_last=True), F("score__customer_id").asc(nulls_last=True), "id")
        for key, column in SCORE_SORTS.items()
    },
    "newest": ("-created_at", "-id"),
}
DEFAULT_CUSTOMER_SORT = "name"
LIST_CAP = 10_000  # the list counts this many customers at most ("of more than 10,000")
SEARCH_CAP = 1_000  # and a search this many matches: it is for finding someone (as GitHub's search)
NARROW = 500  # a search matching at most this many customers is paged by their keys
ORDERS_SHOWN = 20


@dataclass(frozen=True)
class CustomerFilters:
    search: str = ""
    segment: Segment | None = None
    rfm_group: str = ""
    churn_risk: str = ""
    last_order_after: dt.date | None = None
    last_order_before: dt.date | None = None
    sort: str = DEFAULT_CUSTOMER_SORT


def _day_start(shop: Shop, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=shop.tzinfo)


class CustomerRows(Sequence):
    """The customer list's rows for a paginator: counted up to a cap, read one page at a time.

    The matching customers' keys are read once, unordered, up to the cap + 1: LIST_CAP for the
    list, SEARCH_CAP for a search, which on a big shop stops early instead of evaluating the name
    and email conditions on every customer (with a filter on the score, it then looks up a
    thousand customers by key rather than hashing all of them). A search matching a few hundred
    customers is then paged by those keys, so its name and email conditions are not evaluated a
    second time (on a big shop they are the costly part). Sorted by a score, the customers with a
    score in the run come first, paged along the (shop, run, score, customer) index so that the
    database stops after the page instead of joining and sorting every match; then those without
    one, by id.
    """

    def __init__(self, *, everyone: QuerySet[Customer], matching: QuerySet[Customer], sort: str, searched: bool):
        self.everyone = everyone
        self.matching = matching
        self.sort = sort if sort in CUSTOMER_SORTS else DEFAULT_CUSTOMER_SORT
        self.order = CUSTOMER_SORTS[self.sort]
        self.searched = searched
        self.cap = SEARCH_CAP if searched else LIST_CAP

    @cached_property
    def keys(self) -> list[int]:
        return list(self.matching.order_by().values_list("pk", flat=True)[: self.cap + 1])

    @property
    def capped(self) -> bool:
        return len(self.keys) > self.cap

    def count(self) -> int:  # what Paginator asks first
        return min(len(self.keys), self.cap)

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        start, stop, _ = index.indices(len(self))
        if stop <= start:
            return []
        if self.searched and len(self.keys) <= NARROW:
            return list(self.everyone.filter(pk__in=self.keys).order_by(*self.order)[start:stop])
        if self.sort in SCORE_SORTS:
            return self._by_score(start, stop)
        return list(self.matching.order_by(*self.order)[start:stop])

    def _by_score(self, start: int, stop: int) -> list[Customer]:
        # Through the annotation: a filter on `score__…` would join the scores a second time.
        scored = self.matching.filter(score_customer__isnull=False).order_by(*self.order)
        rows = list(scored[start:stop])
        if len(rows) == stop - start:
            return rows
        # The scored customers end on this page (or before it); the unscored follow, by id.
        scored_count = start + len(rows) if rows or not start else scored.count()
        unscored = self.matching.filter(score_customer__isnull=True).order_by("id")
        return rows + list(unscored[max(0, start - scored_count) : stop - scored_count])


def customer_table(*, shop: Shop, filters: CustomerFilters, run: AnalysisRun | None) -> CustomerRows:
    """Customers with their current score joined (as `score__…`) and last order time, filtered and sorted.

    The last order is a correlated subquery, evaluated only for the rows of the page; the date
    filters are EXISTS on the (shop, customer, placed_at) index, so a search stays fast at 100,000
    customers. See CustomerRows for how the rows are counted and paged.
    """
    purchases = Order.objects.for_shop(shop).filter(purchase_q(), customer=OuterRef("pk"))
    everyone = Customer.objects.for_shop(shop).annotate(
        score=FilteredRelation("scores", condition=Q(scores__shop=shop, scores__run=run)),
        last_order_at=Subquery(purchases.order_by("-placed_at").values("placed_at")[:1]),
        score_rfm_group=F("score__rfm_group"),
        score_churn_risk=F("score__churn_risk"),
        score_clv=F("score__clv_12m"),
        score_monetary=F("score__monetary"),
        score_frequency=F("score__frequency"),
        score_customer=F("score__customer_id"),  # NULL: no score in the run
    )
    qs = everyone
    search = filters.search.strip()
    if search:
        q = customer_search_q(search)
        if search.isdigit():
            q |= Q(pk=int(search))
        # any source's id: the customer's identities, not only the one it was created with
        q |= Q(pk__in=CustomerIdentity.objects.for_shop(shop).filter(external_id=search).values("customer_id"))
        qs = qs.filter(q)
    if filters.segment is not None:
        if filters.segment.kind == SegmentKind.CUSTOM:
            ids = custom_segment_scores(shop=shop, definition=filters.segment.definition, run=run).values("customer_id")
        else:
            ids = SegmentMembership.objects.for_shop(shop).filter(segment=filters.segment).values("customer_id")
        qs = qs.filter(pk__in=ids)
    # Through the annotations, so the filters use the one joined score (not a second join).
    if filters.rfm_group:
        qs = qs.filter(score_rfm_group=filters.rfm_group)
    if filters.churn_risk:
        qs = qs.filter(score_churn_risk=filters.churn_risk)
    if filters.last_order_after:
        qs = qs.filter(Exists(purchases.filter(placed_at__gte=_day_start(shop, filters.last_order_after))))
    if filters.last_order_before:
        since = _day_start(shop, filters.last_order_before)
        qs = qs.filter(Exists(purchases)).exclude(Exists(purchases.filter(placed_at__gte=since)))
    return CustomerRows(everyone=everyone, matching=qs, sort=filters.sort, searched=bool(search))


def rfm_groups_in_run(*, shop: Shop, run: AnalysisRun | None) -> list[str]:
    if run is None:
        return []
    names = set(Segment.objects.for_shop(shop).filter(run=run, kind=SegmentKind.RFM).values_list("name", flat=True))
    return [g for g in explain.RFM_GROUPS if g in names]


def customer_get(*, shop: Shop, customer_id: int) -> Customer | None:
    return Customer.objects.for_shop(shop).filter(pk=customer_id).first()


def customer_score(*, shop: Shop, customer: Customer, run: AnalysisRun | None) -> CustomerScore | None:
    if run is None:
        return None
    return CustomerScore.objects.for_shop(shop).filter(run=run, customer=customer).first()


def customer_orders(*, shop: Shop, customer: Customer, limit: int = ORDERS_SHOWN) -> tuple[list[Order], int]:
    """The customer's most recent orders with their lines and products (two queries), and how many there are."""
    orders = Order.objects.for_shop(shop).filter(customer=customer)
    total = orders.count()
    lines = OrderLine.objects.for_shop(shop).select_related("product").order_by("id")
    page = list(orders.order_by("-placed_at", "-id").prefetch_related(Prefetch("lines", queryset=lines))[:limit])
    return page, total


def _feature_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name == "preferred_weekday":
        try:
            return explain.WEEKDAYS[int(value)]
        except (ValueError, IndexError, TypeError):
            return value
    if name == "preferred_hour":
        try:
            return f"{int(value):02d}:00"
        except (ValueError, TypeError):
            return value
    if name == "gender":
        return {"female": _("Female"), "male": _("Male"), "other": _("Other")}.get(str(value), value)
    return value


def feature_groups(score: CustomerScore | None) -> list[dict[str, Any]]:
    """The profile's personal, behaviour and preference features as labelled rows."""
    if score is None:
        return []
    features = score.features or {}
    groups = [
        ("personal", _("Personal"), explain.PERSONAL_FEATURES),
        ("behaviour", _("Behaviour"), explain.BEHAVIOUR_FEATURES),
        ("preferences", _("Preferences"), explain.PREFERENCE_FEATURES),
    ]
    out = []
    for key, title, names in groups:
        rows = [
            {
                "name": name,
                "label": explain.feature_label(name),
                "value": _feature_value(name, features.get(name)),
                "is_money": name in explain.MONEY_FEATURES,
                "is_share": name in explain.SHARE_FEATURES,
                "is_number": isinstance(features.get(name), (int, float))
                and name not in ("preferred_weekday", "preferred_hour"),
            }
            for name in names
            if features.get(name) not in (None, "")
        ]
        out.append({"key": key, "title": title, "rows": rows})
    return out


def clv_model_note(run: AnalysisRun | None) -> str:
    """Why the run's lifetime-value figures come from the simpler estimate, or "" when they do not."""
    clv = ((run.summary or {}) if run is not None else {}).get("clv") or {}
    text = explain.CLV_FALLBACK.get(clv.get("fallback") or "")
    return str(text) if text else ""


def prediction_explanations(
    score: CustomerScore | None, *, run: AnalysisRun | None, currency: str = ""
) -> dict[str, Any]:
    """The profile's predictions in words, each from the figures shown beside it.

    All of them come from one purchase model (analytics/compute/clv.py) and are stored rounded
    as shown, so each sentence's arithmetic equals the figure it explains: the value is
    ``expected purchases x expected spend per purchase`` (both as shown), the churn risk is
    ``100% - chance still active``, and a next order is given only when the customer is more
    likely than not to order again within the 12 months. ``help`` holds one-sentence
    definitions; ``model_note`` says when ``run`` (the score's, passed by the caller so that it
    is not read again per score) fell back to the simpler estimate.
    """
    if score is None:
        return {}
    f = score.features or {}
    days = int(round(f.get("tenure_days") or 0))
    times = int(score.frequency or 0)
    recency = f.get("recency_days")
    out: dict[str, Any] = {"help": {key: str(text) for key, text in explain.PREDICTION_HELP.items()}}
    out["model_note"] = clv_model_note(run)
    if score.p_alive is not None:
        percent = round(score.p_alive * 100)
        bought = ngettext(
            "Bought on %(n)d day in %(days)d days",
            "Bought on %(n)d different days in %(days)d days",
            times,
        ) % {"n": times, "days": days}
        last = _("last %(recency)d days ago") % {"recency": int(round(recency))} if recency is not None else ""
        out["p_alive"] = _(
            "%(bought)s, %(last)s: the model gives a %(p)d%% chance that they are still active, "
            "so a churn risk of %(churn)d%%."
        ) % {"bought": bought, "last": last, "p": percent, "churn": score.churn_percent}
    else:
        group = explain.rfm_text(score.rfm_group)
        out["p_alive"] = _(
            "The purchase model used for this shop cannot tell who has stopped buying; "
            "the churn risk is judged from the RFM group instead: %(group)s"
        ) % {"group": group.who if group else score.rfm_group or "—"}
    if score.clv_12m is not None and score.expected_365 is not None and score.expected_spend is not None:
        out["clv"] = _(
            "%(n)s expected purchases in the next 12 months × %(spend)s expected spend per purchase = %(value)s."
        ) % {
            "n": number_format(score.expected_365, 2),
            "spend": explain.format_money(score.expected_spend, currency),
            "value": explain.format_money(score.clv_12m, currency),
        }
    else:
        out["clv"] = _("The shop does not have enough repeat purchases yet for a reliable lifetime-value model.")
    if score.next_order_date is not None:
        out["next_order"] = _(
            "With a %(p)d%% chance that they are still active, they are more likely than not to have ordered "
            "again by this date."
        ) % {"p": round(score.p_alive * 100)}
    elif score.p_alive is None:
        if score.expected_365 is not None:  # predicted by the fallback, which has no dropout
            out["next_order"] = _("No date: the simpler estimate in use gives no order dates.")
    elif score.p_alive <= 0.5:
        out["next_order"] = _(
            "No date: with a %(p)d%% chance that they are still active, another order is less likely than not."
        ) % {"p": round(score.p_alive * 100)}
    else:
        out["next_order"] = _("No date: they are not likely to order again within the next 12 months.")
    return out


def segment_history_for(*, shop: Shop, customer: Customer, limit: int = 40) -> list[SegmentMembership]:
    """The customer's computed segments in past runs, newest run first (one query)."""
    return list(
        SegmentMembership.objects.for_shop(shop)
        .filter(customer=customer)
        .select_related("segment", "run")
        .order_by("-run__created_at", "segment__kind")[:limit]
    )


def custom_segments_for(*, shop: Shop, customer: Customer, run: AnalysisRun | None, limit: int = 20) -> list[Segment]:
    """The custom segments the customer matches now (one EXISTS per custom segment, at most `limit`)."""
    if run is None:
        return []
    found = []
    for segment in Segment.objects.for_shop(shop).filter(kind=SegmentKind.CUSTOM).order_by("name")[:limit]:
        try:
            if (
                custom_segment_scores(shop=shop, definition=segment.definition, run=run)
                .filter(customer=customer)
                .exists()
            ):
                found.append(segment)
        except ValueError:
            continue
    return found


def customer_data_export(*, shop: Shop, customer: Customer) -> dict[str, Any]:
    """Everything held about one customer: what the data-in side exports (profile, orders with lines,
    events, reviews, survey answers) plus the analysis results (scores, segments)."""
    export = data_selectors._customer_export(shop, customer)
    export["analysis"] = {
        "scores": list(
            CustomerScore.objects.for_shop(shop)
            .filter(customer=customer)
            .order_by("run__created_at")
            .values(
                "run_id",
                "features",
                "recency_days",
                "frequency",
                "monetary",
                "rfm_group",
                "cluster",
                "p_alive",
                "expected_30",
                "expected_90",
                "expected_365",
                "expected_spend",
                "clv_12m",
                "next_order_date",
                "churn_risk",
                "recommendations",
            )
        ),
        "segments": list(
            SegmentMembership.objects.for_shop(shop)
            .filter(customer=customer)
            .order_by("run__created_at")
            .values("run_id", "segment__key", "segment__name", "reason")
        ),
    }
    return export
