"""Per-customer feature table built from the standard input frames.

See :mod:`analytics.compute` for the input frame columns.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from ._util import require_columns, timestamp_utc_naive, to_utc_naive, wall_clock
from .money import AMOUNT_COLUMNS, order_amounts

ORDER_COLUMNS = ("order_id", "customer_id", "placed_at", "total", "status")
LINE_COLUMNS = ("order_id", "customer_id", "product_id", "category", "brand", "quantity", "unit_price")
CUSTOMER_COLUMNS = (
    "customer_id",
    "birth_date",
    "gender",
    "occupation",
    "city",
    "country",
    "created_at",
)
EVENT_COLUMNS = ("customer_id", "kind", "at", "duration_seconds")
REVIEW_COLUMNS = ("customer_id", "rating", "text")

STATUSES = frozenset({"paid", "cancelled", "returned", "pending"})

FEATURE_COLUMNS = (
    "recency_days",
    "frequency",
    "orders",
    "monetary",
    "gross_sales",
    "returns_value",
    "avg_order_value",
    "mean_days_between_orders",
    "return_rate",
    "tenure_days",
    "browsing_seconds",
    "page_views",
    "searches",
    "add_to_carts",
    "top_category",
    "top_category_share",
    "top_brand",
    "top_brand_share",
    "preferred_weekday",
    "preferred_hour",
    "review_sentiment",
    "reviews",
    "age",
    "gender",
    "occupation",
    "city",
    "country",
)

# A deliberately tiny lexicon, only used for reviews that have text but no rating.
_POSITIVE = frozenset(
    [
        "good",
        "great",
        "excellent",
        "love",
        "loved",
        "lovely",
        "perfect",
        "amazing",
        "fantastic",
        "happy",
        "recommend",
        "nice",
        "best",
        "fast",
        "delicious",
        "beautiful",
        "awesome",
        "wonderful",
        "quality",
    ]
)
_NEGATIVE = frozenset(
    [
        "bad",
        "poor",
        "terrible",
        "awful",
        "hate",
        "hated",
        "broken",
        "disappointed",
        "disappointing",
        "slow",
        "worst",
        "refund",
        "damaged",
        "wrong",
        "late",
        "never",
        "cheap",
        "useless",
    ]
)
_WORD = re.compile(r"[a-z']+")


def lexicon_sentiment(text: Any) -> float:
    """Score ``text`` in -1..1 as (positive - negative) / (positive + negative) words.

    Returns NaN for missing text or text with no lexicon word. English only.
    """
    if not isinstance(text, str):
        return float("nan")
    words = _WORD.findall(text.lower())
    pos = sum(w in _POSITIVE for w in words)
    neg = sum(w in _NEGATIVE for w in words)
    if pos + neg == 0:
        return float("nan")
    return (pos - neg) / (pos + neg)


def _lines_until(lines: pd.DataFrame | None, as_of: pd.Timestamp) -> pd.DataFrame | None:
    """The lines that can refund part of an order by ``as_of`` (all lines when they carry no date)."""
    if lines is None or "placed_at" not in lines.columns:
        return lines
    return lines[~(to_utc_naive(lines["placed_at"], "lines.placed_at") > as_of)]


def _mode_per_customer(customer_id: pd.Series, values: pd.Series) -> pd.Series:
    """Most frequent value per customer; ties go to the smallest value."""
    counts = pd.DataFrame({"customer_id": customer_id.to_numpy(), "value": values.to_numpy()})
    counts = counts.groupby(["customer_id", "value"]).size().rename("n").reset_index()
    counts = counts.sort_values(["customer_id", "n", "value"], ascending=[True, False, True])
    return counts.drop_duplicates("customer_id").set_index("customer_id")["value"]


def _top_share(spend: pd.DataFrame, key: str) -> pd.DataFrame:
    """Per customer: the ``key`` value with most spend and its share of spend.

    A blank value (a product without a category) is no value: a shop without categories has
    no favourite category, not a favourite "" at 100%."""
    data = spend.dropna(subset=[key])
    values = data[key]
    if isinstance(values.dtype, pd.CategoricalDtype):  # test the few categories, not millions of rows
        blank_codes = np.flatnonzero(values.cat.categories.astype(str).str.strip() == "")
        blank = np.isin(values.cat.codes.to_numpy(), blank_codes)
    else:
        blank = (values.astype(str).str.strip() == "").to_numpy()
    data = data[(data["amount"] > 0).to_numpy() & ~blank]
    if data.empty:
        return pd.DataFrame(columns=[f"top_{key}", f"top_{key}_share"])
    by = data.groupby(["customer_id", key], observed=True)["amount"].sum().reset_index()
    total = by.groupby("customer_id")["amount"].transform("sum")
    by["share"] = by["amount"] / total
    # highest amount first; ties broken by the key's text so results are stable (sorting only
    # each customer's best rows, not all of them: a big shop has a million customer x key rows)
    by = by[by["amount"] == by.groupby("customer_id")["amount"].transform("max")]
    by = by.assign(_key=by[key].astype(str)).sort_values(["customer_id", "_key"])
    top = by.drop_duplicates("customer_id").set_index("customer_id")
    return pd.DataFrame({f"top_{key}": top[key], f"top_{key}_share": top["share"]})


def customer_features(
    orders: pd.DataFrame,
    lines: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    reviews: pd.DataFrame | None = None,
    as_of: Any = None,
) -> pd.DataFrame:
    """Build one row of features per customer, as of a point in time.

    Parameters
    ----------
    orders
        Standard orders frame (required). Guest orders (null ``customer_id``) are
        ignored. Rows placed after ``as_of`` are ignored.
    lines, customers, events, reviews
        Standard frames, each optional; features that need a missing frame are NaN.
    as_of
        The analysis date (datetime-like, tz-aware or naive UTC). Required.

    Returns
    -------
    DataFrame indexed by ``customer_id`` (every customer in ``customers`` created
    by ``as_of`` plus every customer with an order), columns ``FEATURE_COLUMNS``:

    Money and purchases follow ADR 0007, read by :func:`analytics.compute.money.order_amounts`:
    a purchase is a ``paid`` sale with ``total > 0`` not refunded in full; cancelled and
    pending orders never count.

    - ``recency_days``: days (float) from the last purchase to ``as_of``; NaN if none
    - ``frequency``: distinct calendar days (UTC) with a purchase
    - ``orders``: number of purchases
    - ``gross_sales``: what the customer paid (totals of ``paid`` and ``returned`` sales)
    - ``returns_value``: what the customer got back: fully returned sales, credit notes
      (negative totals), and negative lines of paid sales at ``-quantity * unit_price``
    - ``monetary``: net spend = ``gross_sales - returns_value``, to the cent
    - ``avg_order_value``: what the purchases were worth when placed / ``orders``
    - ``mean_days_between_orders``: (last - first purchase) / (frequency - 1), NaN
      below two purchase days
    - ``return_rate``: ``returns_value / gross_sales`` (NaN without sales)
    - ``tenure_days``: days from the earlier of ``created_at`` and first purchase
    - ``browsing_seconds``, ``page_views``, ``searches``, ``add_to_carts`` from events
    - ``top_category``/``top_brand`` with their share of the customer's spend on
      positive lines of paid orders (or of orders not in ``orders``)
    - ``preferred_weekday`` (0 = Monday) and ``preferred_hour`` (0..23): the most
      common among purchase orders, in the wall-clock time ``placed_at`` was
      stored in (ties go to the smaller value)
    - ``review_sentiment``: mean over reviews of ``(rating - 3) / 2`` (in -1..1);
      a review without rating uses :func:`lexicon_sentiment` on its text; NaN
      without reviews. ``reviews`` is the review count.
    - ``age`` in whole years at ``as_of``; ``gender``, ``occupation``, ``city``,
      ``country`` copied from ``customers``.

    Raises
    ------
    ValueError
        A frame misses a required column, ``as_of`` is missing, or a status is
        not one of ``paid``, ``cancelled``, ``returned``, ``pending``.
    """
    if as_of is None:
        raise ValueError("as_of is required")
    as_of_ts = timestamp_utc_naive(as_of, "as_of")
    require_columns(orders, ORDER_COLUMNS, "orders")
    if lines is not None:
        require_columns(lines, LINE_COLUMNS, "lines")
    if customers is not None:
        require_columns(customers, CUSTOMER_COLUMNS, "customers")
    if events is not None:
        require_columns(events, EVENT_COLUMNS, "events")
    if reviews is not None:
        require_columns(reviews, REVIEW_COLUMNS, "reviews")

    status = orders["status"].astype("string").str.lower()
    unknown = set(status.dropna().unique()) - STATUSES
    if unknown:
        raise ValueError(f"orders.status has unknown value(s): {', '.join(sorted(unknown))}")

    o = pd.DataFrame(
        {
            "order_id": orders["order_id"],
            "customer_id": orders["customer_id"],
            "placed_at": to_utc_naive(orders["placed_at"], "orders.placed_at"),
            "local": wall_clock(orders["placed_at"], "orders.placed_at"),
            "total": pd.to_numeric(orders["total"], errors="coerce").astype(float),
            "status": status,
        }
    )
    all_order_status = o.set_index("order_id")["status"]
    # What each order moved (ADR 0007): the one reading of returns and cancellations.
    # the pipeline reads every order once (money.order_amounts); nothing is cut when as_of is after all
    if set(AMOUNT_COLUMNS) <= set(orders.columns) and not (o["placed_at"] > as_of_ts).any():
        amounts = orders[list(AMOUNT_COLUMNS)]
    else:
        amounts = order_amounts(o, _lines_until(lines, as_of_ts))
    o = o.join(amounts)
    o = o[o["customer_id"].notna() & (o["placed_at"] <= as_of_ts)]
    purchase = o[o["purchase"]]

    ids = pd.Index(o["customer_id"].unique())
    if customers is not None:
        created = to_utc_naive(customers["created_at"], "customers.created_at")
        keep = customers["customer_id"].notna() & ~(created > as_of_ts)
        ids = ids.union(pd.Index(customers.loc[keep, "customer_id"].unique()))
    ids = ids.rename("customer_id")
    out = pd.DataFrame(index=ids)

    # --- purchases -------------------------------------------------------------
    g = purchase.groupby("customer_id")
    last = g["placed_at"].max()
    first = g["placed_at"].min()
    days = purchase.assign(day=purchase["placed_at"].dt.normalize()).groupby("customer_id")["day"]
    freq = days.nunique()
    out["recency_days"] = (as_of_ts - last).dt.total_seconds() / 86400.0
    out["frequency"] = freq.reindex(ids).fillna(0).astype(int)
    out["orders"] = g.size().reindex(ids).fillna(0).astype(int)
    by_customer = o.groupby("customer_id")
    gross = by_customer["gross"].sum().reindex(ids).fillna(0.0)
    returns = by_customer["refunded"].sum().reindex(ids).fillna(0.0)
    net = by_customer["net"].sum().reindex(ids).fillna(0.0)
    purchase_gross = g["gross"].sum().reindex(ids).fillna(0.0)

    spend = None
    if lines is not None:
        wanted = ["order_id", "customer_id", "category", "brand", "quantity", "unit_price"]
        wanted += ["placed_at"] if "placed_at" in lines.columns else []
        ln = lines.loc[lines["customer_id"].notna(), wanted]  # a copy, of the columns used only
        if "placed_at" in ln.columns:
            ln = ln[~(to_utc_naive(ln["placed_at"], "lines.placed_at") > as_of_ts)]
        ln["amount"] = pd.to_numeric(ln["quantity"], errors="coerce") * pd.to_numeric(ln["unit_price"], errors="coerce")
        line_status = ln["order_id"].map(all_order_status)
        # spend by category/brand: kept (not returned, not cancelled) lines
        valid = (ln["amount"] > 0) & ((line_status == "paid") | line_status.isna())
        spend = ln.loc[valid, ["customer_id", "category", "brand", "amount"]]

    out["monetary"] = net.round(2)
    out["gross_sales"] = gross.round(2)
    out["returns_value"] = returns.round(2)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["avg_order_value"] = np.where(out["orders"] > 0, purchase_gross / out["orders"].replace(0, 1), np.nan)
        span_days = (last - first).dt.total_seconds() / 86400.0
        out["mean_days_between_orders"] = (span_days / (freq - 1)).where(freq > 1).reindex(ids)
        out["return_rate"] = np.where(gross > 0, returns / gross.where(gross > 0, 1.0), np.nan)

    start = first.reindex(ids)
    if customers is not None:
        created_by_id = (
            pd.Series(created.to_numpy(), index=customers["customer_id"]).groupby(level=0).min().reindex(ids)
        )
        start = pd.concat([start, created_by_id], axis=1).min(axis=1)
    out["tenure_days"] = (as_of_ts - start).dt.total_seconds() / 86400.0

    # --- browsing ----------------------------------------------------------------
    if events is not None:
        ev = events[events["customer_id"].notna()].copy()
        ev = ev[~(to_utc_naive(ev["at"], "events.at") > as_of_ts)]
        ev["duration_seconds"] = pd.to_numeric(ev["duration_seconds"], errors="coerce")
        eg = ev.groupby("customer_id")
        out["browsing_seconds"] = eg["duration_seconds"].sum().reindex(ids).fillna(0.0)
        kinds = ev["kind"].astype("string").str.lower()
        for kind, col in (("page_view", "page_views"), ("search", "searches"), ("add_to_cart", "add_to_carts")):
            out[col] = ev[kinds == kind].groupby("customer_id").size().reindex(ids).fillna(0).astype(int)
    else:
        for col in ("browsing_seconds", "page_views", "searches", "add_to_carts"):
            out[col] = np.nan

    # --- category / brand ----------------------------------------------------------
    for key in ("category", "brand"):
        if spend is not None:
            top = _top_share(spend, key).reindex(ids)
            out[f"top_{key}"] = top[f"top_{key}"].astype(object)  # texts, also from categorical lines
            out[f"top_{key}_share"] = top[f"top_{key}_share"].astype(float)
        else:
            out[f"top_{key}"] = np.nan
            out[f"top_{key}_share"] = np.nan

    # --- timing habits -----------------------------------------------------------
    if purchase.empty:
        out["preferred_weekday"] = np.nan
        out["preferred_hour"] = np.nan
    else:
        local = purchase["local"]
        out["preferred_weekday"] = _mode_per_customer(purchase["customer_id"], local.dt.weekday)
        out["preferred_hour"] = _mode_per_customer(purchase["customer_id"], local.dt.hour)

    # --- reviews -------------------------------------------------------------------
    if reviews is not None:
        rv = reviews[reviews["customer_id"].notna()].copy()
        rating = pd.to_numeric(rv["rating"], errors="coerce")
        bad = rating.notna() & ~rating.between(1, 5)
        if bad.any():
            raise ValueError("reviews.rating must be between 1 and 5")
        score = (rating - 3.0) / 2.0
        score = score.where(rating.notna(), rv["text"].map(lexicon_sentiment))
        rv["score"] = score
        rg = rv.groupby("customer_id")
        out["review_sentiment"] = rg["score"].mean().reindex(ids)
        out["reviews"] = rg.size().reindex(ids).fillna(0).astype(int)
    else:
        out["review_sentiment"] = np.nan
        out["reviews"] = np.nan

    # --- demographics ----------------------------------------------------------------
    if customers is not None:
        cu = customers[customers["customer_id"].notna()].drop_duplicates("customer_id").set_index("customer_id")
        birth = pd.to_datetime(cu["birth_date"], errors="coerce")
        if isinstance(birth.dtype, pd.DatetimeTZDtype):
            birth = birth.dt.tz_localize(None)
        had_birthday = (birth.dt.month < as_of_ts.month) | (
            (birth.dt.month == as_of_ts.month) & (birth.dt.day <= as_of_ts.day)
        )
        age = as_of_ts.year - birth.dt.year - (~had_birthday).astype(int)
        out["age"] = age.where(birth.notna()).reindex(ids).astype(float)
        for col in ("gender", "occupation", "city", "country"):
            out[col] = cu[col].reindex(ids)
    else:
        for col in ("age", "gender", "occupation", "city", "country"):
            out[col] = np.nan

    out = out[list(FEATURE_COLUMNS)]
    try:
        out = out.sort_index()
    except TypeError:  # mixed id types: keep a stable, text-based order
        out = out.iloc[np.argsort(out.index.astype(str), kind="stable")]
    return out
