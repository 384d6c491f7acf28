"""Segment membership, for computed and custom segments alike.

A custom segment's ``definition`` is a condition tree evaluated against the current run's
customer scores (and the customer's own fields)::

    {"op": "and", "conditions": [
        {"field": "rfm_group", "cmp": "eq", "value": "At risk"},
        {"field": "top_category", "cmp": "eq", "value": "Coffee beans"},
        {"op": "or", "conditions": [
            {"field": "clv_12m", "cmp": "gt", "value": 200},
            {"field": "frequency", "cmp": "gte", "value": 5}]}]}

Everything that needs "who is in this segment" (pages, campaigns, API) calls
``segment_members`` so computed and custom segments behave the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from analytics.models import AnalysisRun, CustomerScore, Segment, SegmentKind, SegmentMembership
from customers.models import Customer
from shops.models import Shop


@dataclass(frozen=True)
class FieldSpec:
    lookup: str  # path from CustomerScore
    kind: str  # text | number | bool | choice
    label: Any


# The profile fields a custom segment can use.
FIELDS: dict[str, FieldSpec] = {
    "rfm_group": FieldSpec("rfm_group", "choice", _("RFM group")),
    "cluster": FieldSpec("cluster", "number", _("Cluster number")),
    "churn_risk": FieldSpec("churn_risk", "choice", _("Churn risk")),
    "top_category": FieldSpec("top_category", "text", _("Favourite category")),
    "clv_12m": FieldSpec("clv_12m", "number", _("Predicted CLV (12 months)")),
    "p_alive": FieldSpec("p_alive", "number", _("Probability still active")),
    "expected_90": FieldSpec("expected_90", "number", _("Expected orders in 90 days")),
    "frequency": FieldSpec("frequency", "number", _("Purchase days")),
    "monetary": FieldSpec("monetary", "number", _("Net spend")),
    "recency_days": FieldSpec("recency_days", "number", _("Days since last purchase")),
    "r_score": FieldSpec("r_score", "number", _("Recency score (1-5)")),
    "f_score": FieldSpec("f_score", "number", _("Frequency score (1-5)")),
    "m_score": FieldSpec("m_score", "number", _("Money score (1-5)")),
    "country": FieldSpec("customer__country", "text", _("Country")),
    "city": FieldSpec("customer__city", "text", _("City")),
    "gender": FieldSpec("customer__gender", "choice", _("Gender")),
    "occupation": FieldSpec("customer__occupation", "text", _("Occupation")),
    "age_range": FieldSpec("customer__age_range", "text", _("Age range")),
    "email_consent": FieldSpec("customer__email_consent", "bool", _("Email consent")),
}

COMPARISONS: dict[str, tuple[str, Any, set[str]]] = {
    # cmp -> (ORM lookup, label, kinds it applies to)
    "eq": ("exact", _("is"), {"text", "number", "bool", "choice"}),
    "ne": ("exact", _("is not"), {"text", "number", "bool", "choice"}),
    "gt": ("gt", _("greater than"), {"number"}),
    "gte": ("gte", _("at least"), {"number"}),
    "lt": ("lt", _("less than"), {"number"}),
    "lte": ("lte", _("at most"), {"number"}),
    "contains": ("icontains", _("contains"), {"text"}),
}
MAX_DEPTH = 4
MAX_CONDITIONS = 40


class DefinitionError(ValueError):
    """A custom segment definition that cannot be evaluated; the message says where and why."""


def definition_to_q(definition: dict, *, _path: str = "definition", _depth: int = 0, _count: list | None = None) -> Q:
    """Translate a condition tree into a Q over CustomerScore. Raises DefinitionError naming the bad node."""
    count = _count if _count is not None else [0]
    if not isinstance(definition, dict):
        raise DefinitionError(f"{_path}: expected an object")
    if "conditions" in definition:
        op = definition.get("op", "and")
        if op not in ("and", "or"):
            raise DefinitionError(f"{_path}.op: use 'and' or 'or', not {op!r}")
        if _depth >= MAX_DEPTH:
            raise DefinitionError(f"{_path}: groups nest at most {MAX_DEPTH} deep")
        children = definition["conditions"]
        if not isinstance(children, list) or not children:
            raise DefinitionError(f"{_path}.conditions: give at least one condition")
        q = Q()
        for i, child in enumerate(children):
            part = definition_to_q(child, _path=f"{_path}.conditions[{i}]", _depth=_depth + 1, _count=count)
            q = (q & part) if op == "and" else (q | part)
        return q
    count[0] += 1
    if count[0] > MAX_CONDITIONS:
        raise DefinitionError(f"a segment can have at most {MAX_CONDITIONS} conditions")
    field = definition.get("field")
    if field not in FIELDS:
        raise DefinitionError(f"{_path}.field: unknown field {field!r}")
    spec = FIELDS[field]
    cmp = definition.get("cmp", "eq")
    if cmp not in COMPARISONS or spec.kind not in COMPARISONS[cmp][2]:
        raise DefinitionError(f"{_path}.cmp: {cmp!r} does not apply to {field}")
    value = _coerce(spec, definition.get("value"), f"{_path}.value")
    lookup = COMPARISONS[cmp][0]
    if spec.kind == "text" and lookup == "exact":
        lookup = "iexact"
    q = Q(**{f"{spec.lookup}__{lookup}": value})
    return ~q if cmp == "ne" else q


def _coerce(spec: FieldSpec, value: Any, path: str) -> Any:
    if spec.kind == "number":
        try:
            return Decimal(str(value))
        except (InvalidOperation, ValueError):
            raise DefinitionError(f"{path}: {value!r} is not a number") from None
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
        if str(value).lower() in {"true", "1", "yes"}:
            return True
        if str(value).lower() in {"false", "0", "no"}:
            return False
        raise DefinitionError(f"{path}: use true or false")
    if value is None or str(value).strip() == "":
        raise DefinitionError(f"{path}: give a value")
    return str(value).strip()


def current_run(*, shop: Shop) -> AnalysisRun | None:
    return AnalysisRun.objects.for_shop(shop).filter(is_current=True).first()


def custom_segment_scores(*, shop: Shop, definition: dict, run: AnalysisRun | None = None) -> QuerySet[CustomerScore]:
    """Scores of the customers matching a definition in the given (default: current) run."""
    run = run or current_run(shop=shop)
    if run is None:
        return CustomerScore.objects.for_shop(shop).none()
    return CustomerScore.objects.for_shop(shop).filter(run=run).filter(definition_to_q(definition))


def segment_members(*, shop: Shop, segment: Segment) -> QuerySet[Customer]:
    """The customers in a segment: the run's memberships, or a custom definition evaluated live."""
    if segment.shop_id != shop.pk:
        return Customer.objects.for_shop(shop).none()
    if segment.kind == SegmentKind.CUSTOM:
        ids = custom_segment_scores(shop=shop, definition=segment.definition).values("customer_id")
    else:
        ids = SegmentMembership.objects.for_shop(shop).filter(segment=segment).values("customer_id")
    return Customer.objects.for_shop(shop).filter(pk__in=ids)


def segment_member_ids(*, shop: Shop, segment: Segment) -> list[int]:
    return list(segment_members(shop=shop, segment=segment).order_by("pk").values_list("pk", flat=True))


def segments_current(*, shop: Shop) -> QuerySet[Segment]:
    """The segments to show: the current run's computed segments and every custom segment."""
    run = current_run(shop=shop)
    q = Q(kind=SegmentKind.CUSTOM)
    if run is not None:
        q |= Q(run=run)
    return Segment.objects.for_shop(shop).filter(q)


def definition_fields(definition: dict) -> list[str]:
    """The profile fields a condition tree tests, in order, each once."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            return
        if "conditions" in node:
            for child in node.get("conditions") or []:
                walk(child)
        elif node.get("field") in FIELDS and node["field"] not in found:
            found.append(node["field"])

    walk(definition)
    return found


def _field_value(score: CustomerScore, field: str) -> Any:
    value: Any = score
    for part in FIELDS[field].lookup.split("__"):
        value = getattr(value, part, None)
    return value


def custom_segment_reason(score: CustomerScore, definition: dict) -> str:
    """Why a customer matches a custom segment: their values of the fields it tests.

    For example "RFM group: At risk; Predicted CLV (12 months): 250.00" (at most 300 characters).
    """
    parts = [f"{FIELDS[f].label}: {_field_value(score, f)}" for f in definition_fields(definition)]
    return "; ".join(parts)[:300]


def customer_segments(*, shop: Shop, customer_id: int, run: AnalysisRun) -> list[tuple[Segment, str]]:
    """The segments a customer is in as of a run, each with the reason: the run's computed
    segments (from the memberships) and the custom segments whose definition they match."""
    found = [
        (m.segment, m.reason)
        for m in SegmentMembership.objects.for_shop(shop)
        .filter(run=run, customer_id=customer_id)
        .select_related("segment")
        .order_by("segment__kind", "segment__key")
    ]
    score = (
        CustomerScore.objects.for_shop(shop).filter(run=run, customer_id=customer_id).select_related("customer").first()
    )
    if score is None:
        return found
    for segment in Segment.objects.for_shop(shop).filter(kind=SegmentKind.CUSTOM).order_by("name", "pk"):
        try:
            q = definition_to_q(segment.definition)
        except DefinitionError:
            continue
        if CustomerScore.objects.for_shop(shop).filter(pk=score.pk).filter(q).exists():
            found.append((segment, custom_segment_reason(score, segment.definition)))
    return found
