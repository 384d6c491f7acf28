"""Cluster names and descriptions in the active language.

The compute layer (``analytics/compute/cluster_names.py``) names each cluster with keys
("lapsed_one_time_buyers", qualifier "larger_baskets") and describes it with structured facts,
each with an English text. A run stores both on the cluster's Segment: ``name`` and
``description`` in English (for the API, exports and campaigns), and in ``facts`` the parts:
a ``{"kind": "name", "key", "qualifiers", "number"}`` entry and one entry per fact. The pages
rebuild the words here, so the same run reads in English and in Chinese. The English msgids
are the compute layer's texts, word for word (tests/analytics/compute/test_compute_clusters.py
checks it).
"""

from __future__ import annotations

from typing import Any

from django.utils.formats import number_format
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.compute import cluster_names
from analytics.explain import feature_label

CLUSTER_NAMES: dict[str, Promise] = {
    "recent_one_time_buyers": gettext_lazy("Recent one-time buyers"),
    "one_time_buyers": gettext_lazy("One-time buyers"),
    "lapsed_one_time_buyers": gettext_lazy("Lapsed one-time buyers"),
    "recent_big_spenders": gettext_lazy("Recent big spenders"),
    "big_spenders": gettext_lazy("Big spenders"),
    "lapsed_big_spenders": gettext_lazy("Lapsed big spenders"),
    "recent_regulars": gettext_lazy("Recent regulars"),
    "regulars": gettext_lazy("Regulars"),
    "lapsed_regulars": gettext_lazy("Lapsed regulars"),
    "recent_small_spenders": gettext_lazy("Recent small spenders"),
    "small_spenders": gettext_lazy("Small spenders"),
    "lapsed_small_spenders": gettext_lazy("Lapsed small spenders"),
    "recent_occasional_buyers": gettext_lazy("Recent occasional buyers"),
    "occasional_buyers": gettext_lazy("Occasional buyers"),
    "lapsed_occasional_buyers": gettext_lazy("Lapsed occasional buyers"),
    "recent_mid_range_customers": gettext_lazy("Recent mid-range customers"),
    "mid_range_customers": gettext_lazy("Mid-range customers"),
    "lapsed_mid_range_customers": gettext_lazy("Lapsed mid-range customers"),
}
QUALIFIERS: dict[str, Promise] = {
    "spend_more": gettext_lazy("spend more"),
    "spend_less": gettext_lazy("spend less"),
    "larger_baskets": gettext_lazy("larger baskets"),
    "smaller_baskets": gettext_lazy("smaller baskets"),
    "buy_more_often": gettext_lazy("buy more often"),
    "buy_less_often": gettext_lazy("buy less often"),
    "less_recent": gettext_lazy("less recent"),
    "more_recent": gettext_lazy("more recent"),
    "longer_standing": gettext_lazy("longer-standing"),
    "newer": gettext_lazy("newer"),
    "return_more": gettext_lazy("return more"),
    "return_less": gettext_lazy("return less"),
}
RATIO_SENTENCES: dict[str, Promise] = {
    "monetary": gettext_lazy("They spend %(v)s× as much as the average customer."),
    "frequency": gettext_lazy("They buy %(v)s× as often as the average customer."),
    "orders": gettext_lazy("They place %(v)s× as many orders as the average customer."),
    "avg_order_value": gettext_lazy("Their orders are %(v)s× the average size."),
    "tenure_days": gettext_lazy("They have been customers %(v)s× as long as the average."),
    "browsing_seconds": gettext_lazy("They browse %(v)s× as long as the average customer."),
    "searches": gettext_lazy("They search %(v)s× as often as the average customer."),
}
SENTENCES: dict[str, Promise] = {
    "ratio": gettext_lazy("%(feature)s: %(v)s× the average."),
    "mean_days_between_orders": gettext_lazy("Their repeat buyers order every %(v)s days."),
    "recency_days": gettext_lazy("They last bought %(v)s days ago."),
    "return_rate": gettext_lazy("They return %(v)s%% of what they buy."),
    "one_time_buyer": gettext_lazy("%(v)s%% of them have bought only once."),
    "one_time_none": gettext_lazy("All of them have bought more than once."),
    "one_time_all": gettext_lazy("All of them have bought only once."),
    "one_time_almost_none": gettext_lazy("Almost all of them have bought more than once."),
    "one_time_almost_all": gettext_lazy("Almost all of them have bought only once."),
    "review_positive": gettext_lazy("They review positively."),
    "review_negative": gettext_lazy("They review negatively."),
    "review_neutral": gettext_lazy("Their reviews are neutral."),
    "age": gettext_lazy("They are aged about %(v)s."),
    "share": gettext_lazy("%(feature)s: %(v)s%%."),
    "value": gettext_lazy("%(feature)s: %(v)s."),
    "category": gettext_lazy("They buy mostly %(category)s."),
    "average": gettext_lazy("They are close to the average customer."),
}
# Short words for a cluster's headline, by (feature, direction) of its strongest facts.
FACT_TAGS: dict[tuple[str, str], Promise] = {
    ("frequency", "high"): gettext_lazy("frequent buyers"),
    ("frequency", "low"): gettext_lazy("occasional buyers"),
    ("orders", "high"): gettext_lazy("many orders"),
    ("orders", "low"): gettext_lazy("few orders"),
    ("monetary", "high"): gettext_lazy("big spenders"),
    ("monetary", "low"): gettext_lazy("small spenders"),
    ("avg_order_value", "high"): gettext_lazy("large baskets"),
    ("avg_order_value", "low"): gettext_lazy("small baskets"),
    ("recency_days", "high"): gettext_lazy("not seen for a while"),
    ("recency_days", "low"): gettext_lazy("bought recently"),
    ("mean_days_between_orders", "high"): gettext_lazy("long gaps between orders"),
    ("mean_days_between_orders", "low"): gettext_lazy("short gaps between orders"),
    ("return_rate", "high"): gettext_lazy("return a lot"),
    ("tenure_days", "high"): gettext_lazy("long-standing"),
    ("tenure_days", "low"): gettext_lazy("newcomers"),
    ("browsing_seconds", "high"): gettext_lazy("keen browsers"),
    ("searches", "high"): gettext_lazy("searchers"),
    ("searches", "low"): gettext_lazy("rarely search"),
    ("review_sentiment", "high"): gettext_lazy("happy reviewers"),
    ("review_sentiment", "low"): gettext_lazy("unhappy reviewers"),
    ("one_time_buyer", "high"): gettext_lazy("mostly one-time buyers"),
    ("one_time_buyer", "low"): gettext_lazy("repeat buyers"),
}


def _category(fact: dict[str, Any]) -> str:
    value = fact.get("value")
    return "" if value is None else str(value).strip()


def _facts(facts: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The description facts (not the name entry; not an empty category, which older runs stored)."""
    return [
        f
        for f in facts or []
        if isinstance(f, dict) and f.get("kind") != "name" and not (f.get("kind") == "category" and not _category(f))
    ]


def name_entry(facts: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    return next((f for f in facts or [] if isinstance(f, dict) and f.get("kind") == "name"), None)


def cluster_name(entry: dict[str, Any]) -> str:
    """{"key", "qualifiers", "number"} -> "Lapsed one-time buyers (larger baskets)" in the active language."""
    key = str(entry.get("key", ""))
    name = str(CLUSTER_NAMES[key]) if key in CLUSTER_NAMES else key.replace("_", " ").capitalize()
    qualifiers = [str(QUALIFIERS.get(q, q)) for q in entry.get("qualifiers") or []]
    if qualifiers:
        name = _("%(name)s (%(qualifiers)s)") % {"name": name, "qualifiers": _(", ").join(qualifiers)}
    if entry.get("number") is not None:
        name = _("%(name)s %(number)s") % {"name": name, "number": entry["number"]}
    return name


def fact_text(fact: dict[str, Any]) -> str:
    """One stored cluster fact ({feature, kind, value, direction}) as a sentence in the active language."""
    feature, kind, value = fact.get("feature", ""), fact.get("kind", ""), fact.get("value")
    if kind == "category":
        value = _category(fact)
        if not value:
            return ""
    elif value is None:
        return str(fact.get("text", ""))
    return cluster_names.render_fact(
        *cluster_names.fact_parts(feature, kind, value),
        sentences=SENTENCES,
        ratio_sentences=RATIO_SENTENCES,
        number=lambda v, digits: number_format(round(v, digits), digits, force_grouping=True),
        label=feature_label,
    )


def fact_texts(facts: list[dict[str, Any]] | None) -> list[str]:
    return [t for t in (fact_text(f) for f in _facts(facts)) if t]


def cluster_headline(facts: list[dict[str, Any]] | None) -> str:
    """A few words about who is in a cluster ("frequent buyers, big spenders"), from its strongest facts."""
    tags: list[str] = []
    for fact in _facts(facts):
        if fact.get("kind") == "category":
            tags.append(_("mostly %(category)s") % {"category": _category(fact)})
        else:
            tag = FACT_TAGS.get((fact.get("feature", ""), fact.get("direction", "")))
            if tag is not None:
                tags.append(str(tag))
        if len(tags) == 2:
            break
    return _(", ").join(tags)


def cluster_segment_name(segment: Any) -> str:
    """A cluster segment's name in the active language; runs from before cluster names say "Cluster 2"."""
    entry = name_entry(segment.facts)
    if entry is not None:
        return cluster_name(entry)
    key = segment.key
    if key.startswith("cluster:") and key[8:].isdigit():
        return _("Cluster %(number)s") % {"number": int(key[8:]) + 1}
    return segment.name
