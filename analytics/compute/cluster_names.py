"""Names and descriptions of clusters a shop owner can read.

A cluster is named from where its customers sit in the whole shop (every customer in the
feature table, outliers included), not from its number:

- each dimension (recency, spend, frequency, ...) gets a *position*: the mean of the members'
  percentile ranks in the shop (0.5 = like the shop as a whole, ties share their mid-rank, so
  a cluster of one-time buyers in a shop where 35% bought once sits at 0.175 on frequency);
- ``one_time_share``: share of members with at most one purchase day;
- the name is a recency word (``recent`` at most :data:`LOW`, ``lapsed`` at least
  :data:`HIGH`, nothing between; a cluster of two thirds of the shop cannot pass 0.67, so
  the big half of a shop is not called "big spenders" for being a little above the rest)
  and a kind of buyer, the first that fits of: one-time buyers (at least half bought
  once), big spenders (high on spend, at least as much as on frequency, under half the shop),
  regulars (frequent), small spenders, occasional buyers, mid-range customers;
- two clusters of one run never share a name: clusters with the same name get a qualifier
  from the dimension on which they differ most ("spend more" / "spend less"), up to two, then
  a number.

The compute layer has no gettext: a name is a :class:`ClusterName` (a key, qualifier keys, a
number) with an English rendering, and each fact is a :class:`ClusterFact` (feature, kind,
value) with an English sentence. The web layer (``analytics/explain.py``) holds the same
English texts as msgids and translates them; a test keeps both in step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# positions (mean percentile rank in the shop) below LOW / above HIGH are "low" / "high"
LOW, HIGH = 0.35, 0.65
ONE_TIME_MAJORITY = 0.5

RECENCY_WORDS = ("recent", "lapsed")
BUYER_KINDS = (
    "one_time_buyers",
    "big_spenders",
    "regulars",
    "small_spenders",
    "occasional_buyers",
    "mid_range_customers",
)
# English names of every (recency word, kind of buyer); the web layer translates each as a whole
NAME_TEXTS: dict[str, str] = {
    "recent_one_time_buyers": "Recent one-time buyers",
    "one_time_buyers": "One-time buyers",
    "lapsed_one_time_buyers": "Lapsed one-time buyers",
    "recent_big_spenders": "Recent big spenders",
    "big_spenders": "Big spenders",
    "lapsed_big_spenders": "Lapsed big spenders",
    "recent_regulars": "Recent regulars",
    "regulars": "Regulars",
    "lapsed_regulars": "Lapsed regulars",
    "recent_small_spenders": "Recent small spenders",
    "small_spenders": "Small spenders",
    "lapsed_small_spenders": "Lapsed small spenders",
    "recent_occasional_buyers": "Recent occasional buyers",
    "occasional_buyers": "Occasional buyers",
    "lapsed_occasional_buyers": "Lapsed occasional buyers",
    "recent_mid_range_customers": "Recent mid-range customers",
    "mid_range_customers": "Mid-range customers",
    "lapsed_mid_range_customers": "Lapsed mid-range customers",
}
# dimensions that tell clusters with the same name apart: feature -> (word when higher, when lower)
QUALIFIER_DIMENSIONS: dict[str, tuple[str, str]] = {
    "monetary": ("spend_more", "spend_less"),
    "avg_order_value": ("larger_baskets", "smaller_baskets"),
    "frequency": ("buy_more_often", "buy_less_often"),
    "recency_days": ("less_recent", "more_recent"),
    "tenure_days": ("longer_standing", "newer"),
    "return_rate": ("return_more", "return_less"),
}
QUALIFIER_TEXTS: dict[str, str] = {
    "spend_more": "spend more",
    "spend_less": "spend less",
    "larger_baskets": "larger baskets",
    "smaller_baskets": "smaller baskets",
    "buy_more_often": "buy more often",
    "buy_less_often": "buy less often",
    "less_recent": "less recent",
    "more_recent": "more recent",
    "longer_standing": "longer-standing",
    "newer": "newer",
    "return_more": "return more",
    "return_less": "return less",
}
MAX_QUALIFIERS = 2

# Fact sentences (English); %(v)s is the number, %(feature)s / %(category)s the words.
RATIO_SENTENCES: dict[str, str] = {
    "monetary": "They spend %(v)s× as much as the average customer.",
    "frequency": "They buy %(v)s× as often as the average customer.",
    "orders": "They place %(v)s× as many orders as the average customer.",
    "avg_order_value": "Their orders are %(v)s× the average size.",
    "tenure_days": "They have been customers %(v)s× as long as the average.",
    "browsing_seconds": "They browse %(v)s× as long as the average customer.",
    "searches": "They search %(v)s× as often as the average customer.",
}
SENTENCES: dict[str, str] = {
    "ratio": "%(feature)s: %(v)s× the average.",
    "mean_days_between_orders": "Their repeat buyers order every %(v)s days.",
    "recency_days": "They last bought %(v)s days ago.",
    "return_rate": "They return %(v)s%% of what they buy.",
    "one_time_buyer": "%(v)s%% of them have bought only once.",
    "one_time_none": "All of them have bought more than once.",
    "one_time_all": "All of them have bought only once.",
    "one_time_almost_none": "Almost all of them have bought more than once.",
    "one_time_almost_all": "Almost all of them have bought only once.",
    "review_positive": "They review positively.",
    "review_negative": "They review negatively.",
    "review_neutral": "Their reviews are neutral.",
    "age": "They are aged about %(v)s.",
    "share": "%(feature)s: %(v)s%%.",
    "value": "%(feature)s: %(v)s.",
    "category": "They buy mostly %(category)s.",
    "average": "They are close to the average customer.",
}
# how each feature is put into words: "ratio" (x times the average) or "value" (the median)
FACT_KIND = {
    "recency_days": "value",
    "mean_days_between_orders": "value",
    "return_rate": "value",
    "review_sentiment": "value",
    "age": "value",
    "top_category_share": "value",
    "top_brand_share": "value",
}


@dataclass(frozen=True)
class ClusterFact:
    """One fact about a cluster, for the web layer to translate.

    ``kind`` is ``"ratio"`` (``value`` = cluster mean / overall mean), ``"value"``
    (``value`` = the cluster's median in the feature's own unit; for the gap between
    orders, over the members who bought more than once), ``"share"`` (``value`` = share
    of members, 0..1) or ``"category"`` (``value`` = the most common non-empty category).
    ``direction`` is ``"high"`` or ``"low"`` compared to the average customer.
    ``text`` is the English sentence.
    """

    feature: str
    kind: str
    value: float | str
    direction: str
    text: str


@dataclass(frozen=True)
class ClusterName:
    """A cluster's name: ``key`` (one of :data:`NAME_TEXTS`), ``qualifiers`` (keys of
    :data:`QUALIFIER_TEXTS`) and ``number`` (set only when qualifiers could not tell two
    clusters apart), with ``text`` its English rendering."""

    key: str
    qualifiers: tuple[str, ...] = ()
    number: int | None = None
    text: str = ""

    def as_dict(self) -> dict:
        return {"key": self.key, "qualifiers": list(self.qualifiers), "number": self.number}


def name_text(key: str, qualifiers: tuple[str, ...] | list[str] = (), number: int | None = None) -> str:
    text = NAME_TEXTS.get(key, key.replace("_", " ").capitalize())
    if qualifiers:
        text = f"{text} ({', '.join(QUALIFIER_TEXTS.get(q, q) for q in qualifiers)})"
    if number is not None:
        text = f"{text} {number}"
    return text


# English labels of the features a fact may name, word for word the web layer's msgids
# (analytics.explain.FEATURE_LABELS; a test keeps them in step).
FEATURE_TEXTS: dict[str, str] = {
    "recency_days": "Days since last purchase",
    "frequency": "Purchase days",
    "orders": "Purchase orders",
    "monetary": "Net spend",
    "gross_sales": "Gross sales",
    "returns_value": "Value returned",
    "avg_order_value": "Average order value",
    "mean_days_between_orders": "Days between orders",
    "return_rate": "Return rate",
    "tenure_days": "Days as a customer",
    "browsing_seconds": "Time browsing (seconds)",
    "page_views": "Page views",
    "searches": "Searches",
    "add_to_carts": "Added to cart",
    "top_category_share": "Share of spend in favourite category",
    "top_brand_share": "Share of spend on favourite brand",
    "preferred_weekday": "Preferred weekday",
    "preferred_hour": "Preferred hour",
    "review_sentiment": "Review sentiment",
    "reviews": "Reviews written",
    "age": "Age",
}


def _decimals(value: float) -> int:
    return 1 if abs(value) < 10 else 0


def fact_parts(feature: str, kind: str, value: float | str) -> tuple[str, dict[str, Any]]:
    """Which sentence tells a fact, and its parameters, for every language alike.

    The key is one of :data:`SENTENCES`, or ``"ratio:<feature>"`` for :data:`RATIO_SENTENCES`.
    Parameters: ``v`` is a number as ``(value, decimals)``, ``feature`` a feature key, and
    ``category`` a text. :func:`render_fact` turns them into words.
    """
    if kind == "category":
        return "category", {"category": str(value)}
    v = float(value)
    if kind == "ratio":
        if feature in RATIO_SENTENCES:
            return f"ratio:{feature}", {"v": (v, _decimals(v))}
        return "ratio", {"feature": feature, "v": (v, _decimals(v))}
    if feature == "one_time_buyer":
        if round(v * 100) in (0, 100):  # never "0% of them" or "100%" for a few customers
            key = {0.0: "one_time_none", 1.0: "one_time_all"}.get(
                v, "one_time_almost_none" if v < 0.5 else "one_time_almost_all"
            )
            return key, {}
        return "one_time_buyer", {"v": (v * 100, 0)}
    if feature in ("mean_days_between_orders", "recency_days"):
        return feature, {"v": (v, _decimals(v))}
    if feature == "return_rate":
        return "return_rate", {"v": (v * 100, 0)}
    if feature == "review_sentiment":
        return ("review_positive" if v > 0.2 else "review_negative" if v < -0.2 else "review_neutral"), {}
    if feature == "age":
        return "age", {"v": (v, 0)}
    if feature.endswith("_share"):
        return "share", {"feature": feature, "v": (v * 100, 0)}
    return "value", {"feature": feature, "v": (v, _decimals(v))}


def render_fact(
    key: str,
    params: dict[str, Any],
    *,
    sentences: Mapping[str, Any],
    ratio_sentences: Mapping[str, Any],
    number: Callable[[float, int], str],
    label: Callable[[str], str],
) -> str:
    """One fact in words, from :func:`fact_parts`, with the sentences, number format and feature
    labels of a language (the web layer passes translated ones)."""
    template = ratio_sentences[key[6:]] if key.startswith("ratio:") else sentences[key]
    words = {
        name: number(*value) if name == "v" else label(value) if name == "feature" else value
        for name, value in params.items()
    }
    return str(template) % words if words else str(template)


def _english_label(feature: str) -> str:
    return FEATURE_TEXTS.get(feature, feature.replace("_", " ").capitalize())


def fact_sentence(feature: str, kind: str, value: float | str) -> str:
    """The English sentence of one fact, stored with the run (for the API, exports and campaigns)."""
    return render_fact(
        *fact_parts(feature, kind, value),
        sentences=SENTENCES,
        ratio_sentences=RATIO_SENTENCES,
        number=lambda v, d: f"{v:,.{d}f}",
        label=_english_label,
    )


def description_text(facts: list[ClusterFact]) -> str:
    return " ".join(f.text for f in facts) or SENTENCES["average"]


def one_time_mask(features: pd.DataFrame) -> pd.Series | None:
    """True for customers with at most one purchase day (``frequency``), else from a missing gap."""
    if "frequency" in features.columns:
        freq = pd.to_numeric(features["frequency"], errors="coerce")
        return (freq <= 1).where(freq.notna(), False).astype(bool)
    if "mean_days_between_orders" in features.columns:
        return pd.to_numeric(features["mean_days_between_orders"], errors="coerce").isna()
    return None


def describe_cluster(
    features: pd.DataFrame,
    members: pd.Index,
    everyone: pd.Index,
    z_centre: pd.Series,
    top: int,
    one_time: pd.Series | None,
) -> list[ClusterFact]:
    """The cluster's strongest differences from the average clustered customer, as facts.

    Ranked by the distance of the cluster centre from the average in standard deviations
    (``z_centre``), at least 0.25, at most ``top``. The gap between orders is described over
    the members who bought again, and never for a cluster that is mostly one-time buyers;
    the favourite category only when it is a real (non-empty) category of at least 40%.
    """
    facts: list[ClusterFact] = []
    one_time_share = float(one_time.loc[members].mean()) if one_time is not None and len(members) else 0.0
    order = z_centre.abs().sort_values(ascending=False, kind="stable").index
    for feature in order:
        if len(facts) >= top or abs(z_centre[feature]) < 0.25:
            break
        direction = "high" if z_centre[feature] > 0 else "low"
        if feature == "one_time_buyer":
            facts.append(
                ClusterFact(
                    feature, "share", one_time_share, direction, fact_sentence(feature, "share", one_time_share)
                )
            )
            continue
        if feature == "mean_days_between_orders" and one_time_share >= ONE_TIME_MAJORITY:
            continue
        col = pd.to_numeric(features[feature], errors="coerce")
        kind = FACT_KIND.get(feature, "ratio")
        overall = col.loc[everyone].mean()
        if kind == "ratio" and not (np.isfinite(overall) and overall > 0):
            kind = "value"
        if kind == "ratio":
            value: float | str = float(col.loc[members].mean() / overall)
        else:
            value = float(col.loc[members].median())  # NaN (one-time buyers' gap) skipped
            if not np.isfinite(value):
                continue
        facts.append(ClusterFact(feature, kind, value, direction, fact_sentence(feature, kind, value)))
    if "top_category" in features.columns and len(members):
        cats = features.loc[members, "top_category"].dropna().astype(str).str.strip()
        # an empty category is no category: the Online Retail file has none, and "mostly " was the result
        cats = cats[cats != ""]
        if len(cats):
            counts = cats.value_counts()
            best = sorted(counts[counts == counts.max()].index)[0]
            if counts[best] / len(members) >= 0.4:
                facts.append(ClusterFact("top_category", "category", best, "high", fact_sentence("", "category", best)))
    return facts


def _positions(features: pd.DataFrame, column: str, labels: pd.Series, clusters: list[int]) -> dict[int, float]:
    """Per cluster: the mean percentile rank (mid-rank for ties) of its members in the whole shop."""
    if column not in features.columns:
        return {}
    values = pd.to_numeric(features[column], errors="coerce")
    if values.notna().sum() < 2 or values.nunique(dropna=True) < 2:
        return {}
    rank = values.rank(method="average", pct=True) - 0.5 / values.notna().sum()
    out = {}
    for c in clusters:
        r = rank[labels == c].dropna()
        if len(r):
            out[c] = float(r.mean())
    return out


def name_clusters(
    features: pd.DataFrame, labels: pd.Series, n_clusters: int, one_time: pd.Series | None = None
) -> dict[int, ClusterName]:
    """One distinct, deterministic :class:`ClusterName` per cluster ``0..n_clusters-1``.

    ``labels`` is indexed like ``features`` (-1 = in no cluster; those customers still
    count in the shop's percentiles). ``one_time`` is :func:`one_time_mask` when the caller
    has it already.
    """
    clusters = list(range(n_clusters))
    labels = labels.reindex(features.index)
    # the qualifier dimensions include recency, spend and frequency: ranked once for both uses
    qual_pos = {col: _positions(features, col, labels, clusters) for col in QUALIFIER_DIMENSIONS}
    one_time = one_time_mask(features) if one_time is None else one_time
    base: dict[int, str] = {}
    for c in clusters:
        members = labels == c
        share = float(one_time[members].mean()) if one_time is not None and members.any() else 0.0
        spend, freq, recency = (qual_pos[col].get(c, 0.5) for col in ("monetary", "frequency", "recency_days"))
        # "big spenders" is for a minority that stands out by spend at least as much as by how
        # often it buys: half a shop buying a little more often (and so spending more) are its regulars
        minority = float(members.mean()) < 0.5
        if share >= ONE_TIME_MAJORITY:
            kind = "one_time_buyers"
        elif spend >= HIGH and minority and (freq < HIGH or spend >= freq - 0.05):
            kind = "big_spenders"
        elif freq >= HIGH:
            kind = "regulars"
        elif spend <= LOW:
            kind = "small_spenders"
        elif freq <= LOW:
            kind = "occasional_buyers"
        else:
            kind = "mid_range_customers"
        word = "recent" if recency <= LOW else "lapsed" if recency >= HIGH else ""
        base[c] = f"{word}_{kind}" if word else kind

    qualifiers: dict[int, list[str]] = {c: [] for c in clusters}
    used: dict[int, set[str]] = {c: set() for c in clusters}
    for _ in range(MAX_QUALIFIERS):
        clashes = _clashes(base, qualifiers)
        if not clashes:
            break
        for group in clashes:
            best, spread = None, 0.02  # a difference below 2 percentile points is no difference
            for col, pos in qual_pos.items():
                if any(col in used[c] for c in group) or not all(c in pos for c in group):
                    continue
                values = [pos[c] for c in group]
                if max(values) - min(values) > spread:
                    best, spread = col, max(values) - min(values)
            if best is None:
                continue
            values = [qual_pos[best][c] for c in group]
            high, low = group[int(np.argmax(values))], group[int(np.argmin(values))]
            up, down = QUALIFIER_DIMENSIONS[best]
            qualifiers[high].append(up)
            qualifiers[low].append(down)
            for c in group:
                used[c].add(best)
    numbers: dict[int, int | None] = {c: None for c in clusters}
    for group in _clashes(base, qualifiers):
        for i, c in enumerate(sorted(group), start=1):
            numbers[c] = i
    return {
        c: ClusterName(base[c], tuple(qualifiers[c]), numbers[c], name_text(base[c], qualifiers[c], numbers[c]))
        for c in clusters
    }


def _clashes(base: dict[int, str], qualifiers: dict[int, list[str]]) -> list[list[int]]:
    groups: dict[tuple, list[int]] = {}
    for c in sorted(base):
        groups.setdefault((base[c], tuple(qualifiers[c])), []).append(c)
    return [g for g in groups.values() if len(g) > 1]
