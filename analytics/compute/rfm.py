"""RFM scoring: recency, frequency and monetary quintile scores and named segments.

Scores are rank based: a customer's score is ``1 + floor(5 * b / n)`` (capped at
5), where ``b`` is the number of customers strictly worse on that measure and
``n`` the number of customers. Equal values always get equal scores, so ties
(most customers of a small shop buy once) never break the binning the way
``pd.qcut`` does, and one-time buyers get F = 1.

Segments use the R x FM score grid, FM = (F + M) / 2 rounded half up. The grid
is the widely used 10-segment R/F map (Champions, Loyal, Potential loyalist,
New, Promising, Need attention, About to sleep, At risk, Cannot lose them,
Hibernating) with its bottom-left block split into Hibernating (R = 2) and Lost
(R = 1), which gives the 11 segments of the common R/FM table::

    R \\ FM  1               2                   3                   4                 5
    5       New             Potential loyalist  Potential loyalist  Champions         Champions
    4       Promising       Potential loyalist  Potential loyalist  Loyal             Loyal
    3       About to sleep  About to sleep      Need attention      Loyal             Loyal
    2       Hibernating     Hibernating         At risk             At risk           Cannot lose them
    1       Lost            Lost                At risk             At risk           Cannot lose them
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._util import require_columns, timestamp_utc_naive, to_utc_naive
from .money import COUNTED_STATUSES, order_amounts

SEGMENTS: tuple[str, ...] = (
    "Champions",
    "Loyal",
    "Potential loyalist",
    "New",
    "Promising",
    "Need attention",
    "About to sleep",
    "At risk",
    "Cannot lose them",
    "Hibernating",
    "Lost",
)

# GRID[r - 1][fm - 1]
_GRID: tuple[tuple[str, ...], ...] = (
    ("Lost", "Lost", "At risk", "At risk", "Cannot lose them"),
    ("Hibernating", "Hibernating", "At risk", "At risk", "Cannot lose them"),
    ("About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"),
    ("Promising", "Potential loyalist", "Potential loyalist", "Loyal", "Loyal"),
    ("New", "Potential loyalist", "Potential loyalist", "Champions", "Champions"),
)


def segment_for(r: int, f: int, m: int) -> str:
    """Segment name for one customer's R, F and M scores (each 1..5)."""
    for name, value in (("r", r), ("f", f), ("m", m)):
        if not 1 <= int(value) <= 5:
            raise ValueError(f"{name} score must be in 1..5, got {value}")
    fm = int(np.floor((int(f) + int(m)) / 2 + 0.5))
    return _GRID[int(r) - 1][fm - 1]


def quintile_score(values: pd.Series, higher_is_better: bool = True) -> pd.Series:
    """Rank-based 1..5 score: ``1 + floor(5 * (customers strictly worse) / n)``.

    NaN values are scored as the worst value.
    """
    v = values.astype(float)
    if not higher_is_better:
        v = -v
    v = v.fillna(-np.inf)
    n = len(v)
    if n == 0:
        return pd.Series(dtype=int, index=values.index)
    below = v.rank(method="min").to_numpy() - 1.0  # customers strictly worse
    score = 1 + np.floor(5.0 * below / n).astype(int)
    return pd.Series(np.clip(score, 1, 5), index=values.index, dtype=int)


def _from_transactions(tx: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    require_columns(tx, ("customer_id", "placed_at", "total"), "transactions")
    t = pd.DataFrame(
        {
            "customer_id": tx["customer_id"],
            "placed_at": to_utc_naive(tx["placed_at"], "transactions.placed_at"),
            "total": pd.to_numeric(tx["total"], errors="coerce").astype(float),
        }
    )
    if "status" in tx.columns:
        # ADR 0007: net money per order, and only real purchases make recency and frequency
        amounts = order_amounts(tx.assign(order_id=np.arange(len(tx))).reset_index(drop=True))
        t["value"] = amounts["net"].to_numpy()
        t["buy"] = amounts["purchase"].to_numpy()
        t = t[tx["status"].astype("string").str.lower().isin(COUNTED_STATUSES).fillna(False).to_numpy(dtype=bool)]
    else:
        t["value"] = t["total"]
        t["buy"] = t["total"].to_numpy() > 0
    t = t[t["customer_id"].notna() & (t["placed_at"] <= as_of)]
    if t.empty:
        raise ValueError("transactions has no rows for known customers on or before as_of")
    buys = t[t["buy"]]
    g = t.groupby("customer_id")
    out = pd.DataFrame(index=pd.Index(g.size().index, name="customer_id"))
    last = buys.groupby("customer_id")["placed_at"].max()
    out["recency_days"] = (as_of - last).dt.total_seconds() / 86400.0
    out["frequency"] = (
        buys.assign(day=buys["placed_at"].dt.normalize())
        .groupby("customer_id")["day"]
        .nunique()
        .reindex(out.index)
        .fillna(0)
        .astype(int)
    )
    out["monetary"] = g["value"].sum()
    return out


def rfm_scores(features_or_transactions: pd.DataFrame, as_of: Any = None) -> pd.DataFrame:
    """Score every customer on recency, frequency and money, and name a segment.

    Parameters
    ----------
    features_or_transactions
        Either a feature table indexed by customer id with ``recency_days``,
        ``frequency`` and ``monetary`` (as from
        :func:`analytics.compute.features.customer_features`), or a transactions
        frame with ``customer_id``, ``placed_at``, ``total`` and optional
        ``status`` (the standard orders frame works; only paid and returned
        orders count, returned ones with value 0).
    as_of
        Required for transactions; ignored for a feature table.

    Returns
    -------
    DataFrame indexed by customer id: ``recency_days``, ``frequency``,
    ``monetary``, ``r``, ``f``, ``m`` (ints 1..5, 5 best), ``fm`` (1..5),
    ``rfm`` (e.g. ``"545"``) and ``segment`` (one of :data:`SEGMENTS`).
    Customers who never bought (frequency 0) are left out.

    Raises
    ------
    ValueError
        On missing columns, no customers, or transactions without ``as_of``.
    """
    data = features_or_transactions
    if not isinstance(data, pd.DataFrame):
        raise ValueError("features_or_transactions must be a pandas DataFrame")
    if {"recency_days", "frequency", "monetary"} <= set(data.columns):
        base = data[["recency_days", "frequency", "monetary"]].astype(float)
    else:
        if "placed_at" not in data.columns:
            require_columns(data, ("recency_days", "frequency", "monetary"), "features")
        if as_of is None:
            raise ValueError("as_of is required when scoring transactions")
        base = _from_transactions(data, timestamp_utc_naive(as_of, "as_of"))
    base = base[base["frequency"] > 0].copy()
    if base.empty:
        raise ValueError("no customer has a purchase to score")
    base["r"] = quintile_score(base["recency_days"], higher_is_better=False)
    base["f"] = quintile_score(base["frequency"])
    base["m"] = quintile_score(base["monetary"])
    base["fm"] = np.floor((base["f"] + base["m"]) / 2 + 0.5).astype(int)
    base["rfm"] = base["r"].astype(str) + base["f"].astype(str) + base["m"].astype(str)
    grid = np.array(_GRID, dtype=object)
    base["segment"] = grid[base["r"].to_numpy() - 1, base["fm"].to_numpy() - 1]
    return base


def rfm_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Size and value of each segment.

    Takes the output of :func:`rfm_scores` (needs ``segment`` and ``monetary``)
    and returns one row per segment in :data:`SEGMENTS` order (empty segments
    included): ``segment``, ``size``, ``share_of_customers``, ``revenue``,
    ``share_of_revenue``. Revenue shares are NaN when total revenue is not
    positive.
    """
    require_columns(scores, ("segment", "monetary"), "scores")
    unknown = set(scores["segment"].unique()) - set(SEGMENTS)
    if unknown:
        raise ValueError(f"scores.segment has unknown value(s): {', '.join(map(str, sorted(unknown)))}")
    g = scores.groupby("segment")
    out = pd.DataFrame(index=pd.Index(SEGMENTS, name="segment"))
    out["size"] = g.size().reindex(out.index).fillna(0).astype(int)
    n = int(out["size"].sum())
    out["share_of_customers"] = out["size"] / n if n else np.nan
    out["revenue"] = g["monetary"].sum().reindex(out.index).fillna(0.0).astype(float)
    total = out["revenue"].sum()
    out["share_of_revenue"] = out["revenue"] / total if total > 0 else np.nan
    return out.reset_index()
