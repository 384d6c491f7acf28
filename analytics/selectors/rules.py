"""Reads for the rules page: the current run's association rules, filtered, and "bought together" per product."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from analytics.models import AnalysisRun, AssociationRule, RuleLevel
from shops.models import Shop

RULE_SORTS = {
    "-lift": ("-lift", "-confidence", "id"),
    "-confidence": ("-confidence", "-lift", "id"),
    "-support": ("-support", "-lift", "id"),
}


@dataclass(frozen=True)
class RuleFilters:
    search: str = ""
    level: str = RuleLevel.PRODUCT
    min_support: float | None = None
    min_confidence: float | None = None
    min_lift: float | None = None
    sort: str = "-lift"


def rule_table(*, shop: Shop, run: AnalysisRun | None, filters: RuleFilters) -> QuerySet[AssociationRule]:
    """The run's shop-wide rules (not per-segment ones) matching the filters."""
    if run is None:
        return AssociationRule.objects.for_shop(shop).none()
    rules = AssociationRule.objects.for_shop(shop).filter(run=run, segment__isnull=True)
    if filters.level:
        rules = rules.filter(level=filters.level)
    search = filters.search.strip()
    if search:
        rules = rules.filter(Q(antecedent_labels__icontains=search) | Q(consequent_label__icontains=search))
    if filters.min_support is not None:
        rules = rules.filter(support__gte=filters.min_support)
    if filters.min_confidence is not None:
        rules = rules.filter(confidence__gte=filters.min_confidence)
    if filters.min_lift is not None:
        rules = rules.filter(lift__gte=filters.min_lift)
    return rules.order_by(*RULE_SORTS.get(filters.sort, RULE_SORTS["-lift"]))


def products_with_rules(
    *, shop: Shop, run: AnalysisRun | None, level: str = RuleLevel.PRODUCT
) -> list[tuple[str, str]]:
    """(item key, label) of every item that starts a rule, for the "bought together" picker, by label."""
    if run is None:
        return []
    items: dict[str, str] = {}
    rows = AssociationRule.objects.for_shop(shop).filter(run=run, segment__isnull=True, level=level)
    for keys, labels in rows.values_list("antecedents", "antecedent_labels"):
        for key, label in zip(keys, labels, strict=False):
            items.setdefault(str(key), str(label))
    return sorted(items.items(), key=lambda kv: kv[1].lower())


def bought_together(
    *, shop: Shop, run: AnalysisRun | None, item: str, level: str = RuleLevel.PRODUCT, limit: int = 20
) -> list[AssociationRule]:
    """Rules whose left-hand side contains the item, most confident first."""
    if run is None or not item:
        return []
    # JSON text of the list contains the quoted key, on SQLite and PostgreSQL alike.
    needle = json.dumps(str(item))
    rules = AssociationRule.objects.for_shop(shop).filter(
        run=run, segment__isnull=True, level=level, antecedents__icontains=needle
    )
    return [r for r in rules.order_by("-confidence", "-lift")[: limit * 3] if str(item) in r.antecedents][:limit]
