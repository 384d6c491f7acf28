"""Forms of the owner's pages: filters, the next run's parameters and the segment builder."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics import explain
from analytics.compute.pipeline import CLUSTER_METHODS
from analytics.compute.rules import RULE_ALGORITHMS
from analytics.models import RuleLevel, Segment
from analytics.segments import COMPARISONS, FIELDS, MAX_CONDITIONS, DefinitionError, definition_to_q
from analytics.selectors.customers import CUSTOMER_SORTS, DEFAULT_CUSTOMER_SORT, CustomerFilters
from analytics.selectors.rules import RULE_SORTS, RuleFilters
from analytics.selectors.segments import DEFAULT_MEMBER_SORT, MEMBER_SORTS
from customers.models import Gender

CLUSTER_METHOD_LABELS = {
    "kmeans": gettext_lazy("k-means (default)"),
    "agglomerative": gettext_lazy("Agglomerative (hierarchical)"),
    "hdbscan": gettext_lazy("HDBSCAN (density-based, finds k itself)"),
}
RULE_ALGORITHM_LABELS = {"fpgrowth": "FP-growth", "apriori": "Apriori"}  # the algorithms' names
CHURN_CHOICES = [("", gettext_lazy("Any churn risk"))] + [(k, v) for k, v in explain.CHURN_RISK.items() if k]


class AnalysisRunForm(forms.Form):
    """Parameters for the next run; `params()` gives what analytics.services.analysis_run_request takes."""

    cluster_method = forms.ChoiceField(
        label=gettext_lazy("Clustering method"),
        choices=[(m, CLUSTER_METHOD_LABELS.get(m, m)) for m in CLUSTER_METHODS],
        initial="kmeans",
    )
    k = forms.TypedChoiceField(
        label=gettext_lazy("Number of clusters"),
        choices=[("", gettext_lazy("Automatic (best silhouette, 2–10)"))] + [(str(i), str(i)) for i in range(2, 11)],
        coerce=int,
        empty_value=None,
        required=False,
        help_text=gettext_lazy("HDBSCAN ignores this and finds the number itself."),
    )
    min_support = forms.FloatField(
        label=gettext_lazy("Minimum support for rules"),
        min_value=0.0001,
        max_value=1,
        required=False,
        help_text=gettext_lazy(
            "Share of orders a combination must appear in. Empty: 0.01, and at least 10 orders, but never more "
            "than 0.05 (a shop with few orders still gets rules)."
        ),
        widget=forms.NumberInput(attrs={"step": "0.001", "placeholder": "0.01"}),
    )
    min_confidence = forms.FloatField(
        label=gettext_lazy("Minimum confidence for rules"),
        min_value=0,
        max_value=1,
        initial=0.2,
        required=False,
        widget=forms.NumberInput(attrs={"step": "0.05"}),
    )
    rule_max_len = forms.IntegerField(
        label=gettext_lazy("Most items in a rule"),
        min_value=2,
        required=False,
        help_text=gettext_lazy("Both sides of the rule together. Empty: no limit."),
    )
    rule_algorithm = forms.ChoiceField(
        label=gettext_lazy("Rule mining algorithm"),
        choices=[(a, RULE_ALGORITHM_LABELS.get(a, a)) for a in RULE_ALGORITHMS],
        initial="fpgrowth",
        help_text=gettext_lazy("Both find the same rules; FP-growth is much faster."),
    )

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        params: dict[str, Any] = {"cluster_method": data["cluster_method"], "rule_algorithm": data["rule_algorithm"]}
        if data.get("k"):
            params["k"] = data["k"]
        if data.get("min_support"):
            params["min_support"] = data["min_support"]
        if data.get("min_confidence") is not None:
            params["min_confidence"] = data["min_confidence"]
        if data.get("rule_max_len"):
            params["rule_max_len"] = data["rule_max_len"]
        return params


class MemberTableForm(forms.Form):
    q = forms.CharField(required=False, max_length=100)
    sort = forms.ChoiceField(required=False, choices=[(k, k) for k in MEMBER_SORTS])

    def search_text(self) -> str:
        return self.cleaned_data.get("q", "") if self.is_valid() else ""

    def sort_key(self) -> str:
        return (self.cleaned_data.get("sort") if self.is_valid() else "") or DEFAULT_MEMBER_SORT


class CustomerFilterForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=100)
    segment = forms.ModelChoiceField(
        label=gettext_lazy("Segment"),
        queryset=Segment.unscoped.none(),
        required=False,
        empty_label=gettext_lazy("Any segment"),
    )
    rfm_group = forms.ChoiceField(label=gettext_lazy("RFM group"), required=False)
    churn_risk = forms.ChoiceField(label=gettext_lazy("Churn risk"), required=False, choices=CHURN_CHOICES)
    last_order_after = forms.DateField(
        label=gettext_lazy("Last order on or after"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    last_order_before = forms.DateField(
        label=gettext_lazy("No order since"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    sort = forms.ChoiceField(
        label=gettext_lazy("Sort by"),
        required=False,
        choices=[
            ("name", gettext_lazy("Name")),
            ("-last_order", gettext_lazy("Last order")),
            ("-clv", gettext_lazy("Predicted CLV")),
            ("-monetary", gettext_lazy("Net spend")),
            ("-frequency", gettext_lazy("Purchase days")),
            ("newest", gettext_lazy("Newest customers")),
        ],
    )

    def __init__(self, *args, segments: QuerySet[Segment], rfm_groups: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].queryset = segments
        self.fields["segment"].label_from_instance = lambda s: f"{explain.segment_name(s)} ({s.get_kind_display()})"
        self.fields["rfm_group"].choices = [("", _("Any RFM group"))] + [
            (g, explain.rfm_group_name(g)) for g in rfm_groups
        ]

    def filters(self) -> CustomerFilters:
        if not self.is_valid():
            return CustomerFilters()
        data = self.cleaned_data
        sort = data.get("sort") or DEFAULT_CUSTOMER_SORT
        return CustomerFilters(
            search=data.get("q") or "",
            segment=data.get("segment"),
            rfm_group=data.get("rfm_group") or "",
            churn_risk=data.get("churn_risk") or "",
            last_order_after=data.get("last_order_after"),
            last_order_before=data.get("last_order_before"),
            sort=sort if sort in CUSTOMER_SORTS else DEFAULT_CUSTOMER_SORT,
        )


class RuleFilterForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Product or category"), required=False, max_length=100)
    level = forms.ChoiceField(label=gettext_lazy("Level"), choices=RuleLevel.choices, required=False)
    min_support = forms.FloatField(
        label=gettext_lazy("Min. support"),
        min_value=0,
        max_value=1,
        required=False,
        widget=forms.NumberInput(attrs={"step": "0.005", "placeholder": "0.01"}),
    )
    min_confidence = forms.FloatField(
        label=gettext_lazy("Min. confidence"),
        min_value=0,
        max_value=1,
        required=False,
        widget=forms.NumberInput(attrs={"step": "0.05", "placeholder": "0.3"}),
    )
    min_lift = forms.FloatField(
        label=gettext_lazy("Min. lift"),
        min_value=0,
        required=False,
        widget=forms.NumberInput(attrs={"step": "0.1", "placeholder": "1.5"}),
    )
    sort = forms.ChoiceField(
        label=gettext_lazy("Sort by"),
        required=False,
        choices=[
            ("-lift", gettext_lazy("Lift")),
            ("-confidence", gettext_lazy("Confidence")),
            ("-support", gettext_lazy("Support")),
        ],
    )

    def filters(self) -> RuleFilters:
        if not self.is_valid():
            return RuleFilters()
        data = self.cleaned_data
        return RuleFilters(
            search=data.get("q") or "",
            level=data.get("level") or RuleLevel.PRODUCT,
            min_support=data.get("min_support"),
            min_confidence=data.get("min_confidence"),
            min_lift=data.get("min_lift"),
            sort=data.get("sort") if data.get("sort") in RULE_SORTS else "-lift",
        )


# --------------------------------------------------------------------------- segment builder

CHOICE_VALUES: dict[str, list[tuple[str, Any]]] = {
    "rfm_group": list(explain.RFM_GROUP_NAMES.items()),
    "churn_risk": [(k, v) for k, v in explain.CHURN_RISK.items() if k],
    "gender": [(v, label) for v, label in Gender.choices if v],
    "email_consent": [("true", gettext_lazy("yes")), ("false", gettext_lazy("no"))],
}
MAX_GROUPS = 8


@dataclass
class Condition:
    field: str = ""
    cmp: str = "eq"
    value: str = ""
    error: str = ""

    @property
    def kind(self) -> str:
        spec = FIELDS.get(self.field)
        return spec.kind if spec else ""

    @property
    def comparisons(self) -> list[tuple[str, Any]]:
        kind = self.kind
        return [(k, c[1]) for k, c in COMPARISONS.items() if not kind or kind in c[2]]

    @property
    def value_choices(self) -> list[tuple[str, Any]] | None:
        return CHOICE_VALUES.get(self.field)

    @property
    def complete(self) -> bool:
        return bool(self.field) and str(self.value).strip() != ""

    def as_definition(self) -> dict[str, Any]:
        return {"field": self.field, "cmp": self.cmp, "value": self.value.strip()}


@dataclass
class Group:
    op: str = "and"
    conditions: list[Condition] = field(default_factory=list)


@dataclass
class SegmentBuilder:
    """The builder's state, read from and written to flat form fields (c-0-field, g-1-c-0-value, …).

    One level of nested groups in the page; the stored definition is the condition tree of
    analytics.segments, so the API and campaigns read it the same way.
    """

    name: str = ""
    op: str = "and"
    conditions: list[Condition] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def field_choices(self) -> list[tuple[str, Any]]:
        return [(key, spec.label) for key, spec in FIELDS.items()]

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Top-level conditions with their field-name prefix and remove action, for the template."""
        return [{"prefix": f"c-{i}-", "remove": f"remove:c-{i}", "condition": c} for i, c in enumerate(self.conditions)]

    @property
    def group_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "index": j,
                "op": g.op,
                "count": len(g.conditions),
                "rows": [
                    {"prefix": f"g-{j}-c-{i}-", "remove": f"remove:g-{j}-c-{i}", "condition": c}
                    for i, c in enumerate(g.conditions)
                ],
            }
            for j, g in enumerate(self.groups)
        ]

    @classmethod
    def blank(cls) -> SegmentBuilder:
        return cls(conditions=[Condition(field="rfm_group", cmp="eq", value="")])

    @classmethod
    def from_post(cls, data: QueryDict) -> SegmentBuilder:
        def count(name: str, cap: int) -> int:
            try:
                return max(0, min(int(data.get(name, 0)), cap))
            except (TypeError, ValueError):
                return 0

        def conditions(prefix: str) -> list[Condition]:
            rows = []
            for i in range(count(f"{prefix}conditions", MAX_CONDITIONS)):
                p = f"{prefix}c-{i}-"
                rows.append(
                    Condition(
                        field=(data.get(p + "field") or "").strip(),
                        cmp=(data.get(p + "cmp") or "eq").strip(),
                        value=(data.get(p + "value") or "")[:200],
                    )
                )
            return rows

        groups = [
            Group(op=_op(data.get(f"g-{j}-op")), conditions=conditions(f"g-{j}-"))
            for j in range(count("groups", MAX_GROUPS))
        ]
        return cls(
            name=(data.get("name") or "").strip()[:120],
            op=_op(data.get("op")),
            conditions=conditions(""),
            groups=groups,
        )

    def apply(self, action: str) -> None:
        """Add or remove a row or a group ("add_condition", "add_group", "add_to:1", "remove:c-0", "remove:g-1-c-2",
        "remove_group:1"); an unknown action changes nothing."""
        name, _sep, arg = action.partition(":")
        total = len(self.conditions) + sum(len(g.conditions) for g in self.groups)
        if name == "add_condition" and total < MAX_CONDITIONS:
            self.conditions.append(Condition())
        elif name == "add_group" and len(self.groups) < MAX_GROUPS and total < MAX_CONDITIONS:
            self.groups.append(Group(op="or", conditions=[Condition()]))
        elif name == "add_to" and arg.isdigit() and int(arg) < len(self.groups) and total < MAX_CONDITIONS:
            self.groups[int(arg)].conditions.append(Condition())
        elif name == "remove_group" and arg.isdigit() and int(arg) < len(self.groups):
            del self.groups[int(arg)]
        elif name == "remove":
            parts = arg.split("-")
            if len(parts) == 2 and parts[0] == "c" and parts[1].isdigit() and int(parts[1]) < len(self.conditions):
                del self.conditions[int(parts[1])]
            elif len(parts) == 4 and parts[0] == "g" and parts[1].isdigit() and parts[3].isdigit():
                j, i = int(parts[1]), int(parts[3])
                if j < len(self.groups) and i < len(self.groups[j].conditions):
                    del self.groups[j].conditions[i]
                    if not self.groups[j].conditions:
                        del self.groups[j]

    def _check(self, condition: Condition) -> bool:
        spec = FIELDS.get(condition.field)
        if spec is None:
            condition.error = _("Choose a field.")
            return False
        comparison = COMPARISONS.get(condition.cmp)
        if comparison is None or spec.kind not in comparison[2]:
            condition.error = _("“%(cmp)s” does not apply to %(field)s.") % {
                "cmp": comparison[1] if comparison else condition.cmp,
                "field": spec.label,
            }
            return False
        if not condition.value.strip():
            condition.error = _("Give a value.")
            return False
        if spec.kind == "number":
            try:
                Decimal(condition.value.strip())
            except InvalidOperation:
                condition.error = _("Give a number.")
                return False
        return True

    def definition(self, *, complete_only: bool) -> dict[str, Any] | None:
        """The condition tree; with complete_only, rows still being typed are left out (for the live count).

        Returns None when nothing is left; otherwise rows that do not check out get an error and
        are left out.
        """

        def rows(conditions: list[Condition]) -> list[dict[str, Any]]:
            out = []
            for c in conditions:
                c.error = ""
                if complete_only and not c.complete:
                    continue
                if self._check(c):
                    out.append(c.as_definition())
            return out

        children: list[dict[str, Any]] = rows(self.conditions)
        for group in self.groups:
            inner = rows(group.conditions)
            if inner:
                children.append({"op": group.op, "conditions": inner})
        if not children:
            return None
        return {"op": self.op, "conditions": children}

    def has_errors(self) -> bool:
        return any(c.error for c in self.conditions) or any(c.error for g in self.groups for c in g.conditions)

    def validate(self) -> dict[str, Any] | None:
        """The full definition for saving, or None with `errors` (and per-row errors) filled in."""
        self.errors = []
        if not self.name:
            self.errors.append(_("Give the segment a name."))
        definition = self.definition(complete_only=False)
        if definition is None:
            self.errors.append(_("Add at least one condition."))
        elif self.has_errors():
            self.errors.append(_("Correct the conditions marked below."))
        else:
            try:
                definition_to_q(definition)
            except DefinitionError as exc:
                self.errors.append(str(exc))
        return None if self.errors else definition

    @classmethod
    def from_definition(cls, definition: dict[str, Any], name: str = "") -> SegmentBuilder:
        builder = cls(name=name, op=_op(definition.get("op")))
        for child in definition.get("conditions") or []:
            if "conditions" in child:
                builder.groups.append(
                    Group(
                        op=_op(child.get("op")),
                        conditions=[_condition(c) for c in child["conditions"] if "conditions" not in c],
                    )
                )
            else:
                builder.conditions.append(_condition(child))
        return builder


def _op(value: Any) -> str:
    return "or" if value == "or" else "and"


def _condition(data: dict[str, Any]) -> Condition:
    value = data.get("value")
    return Condition(
        field=str(data.get("field", "")),
        cmp=str(data.get("cmp", "eq")),
        value="" if value is None else str(value).lower() if isinstance(value, bool) else str(value),
    )
