"""API shapes of the analytics app: output serializers for the stored results, input ones for writes."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from analytics.compute.clv import PURCHASE_MODELS as CLV_MODELS
from analytics.compute.pipeline import CLUSTER_METHODS, STEPS
from analytics.compute.rules import RULE_ALGORITHMS
from analytics.models import AnalysisRun, AssociationRule, Forecast, RuleLevel, Segment, SegmentKind
from analytics.segments import DefinitionError, definition_to_q

# --------------------------------------------------------------------------- segments


class SegmentOutputSerializer(serializers.ModelSerializer):
    """A computed segment of the current run, or a custom segment (size and value as of the current run)."""

    class Meta:
        model = Segment
        fields = [
            "id",
            "key",
            "kind",
            "name",
            "description",
            "facts",
            "size",
            "revenue_share",
            "avg_clv",
            "run",
            "definition",
            "created_at",
        ]


class SegmentCreateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    definition = serializers.JSONField(
        help_text=_(
            'A condition tree: {"op": "and"|"or", "conditions": [...]} of groups and conditions '
            '{"field": ..., "cmp": "eq"|"ne"|"gt"|"gte"|"lt"|"lte"|"contains", "value": ...}.'
        )
    )

    def validate_definition(self, value: Any) -> dict:
        try:
            definition_to_q(value)
        except DefinitionError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value


class SegmentMemberSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text=_("Customer id."))
    external_id = serializers.CharField()
    email = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    reason = serializers.CharField(help_text=_("Why the customer is in the segment."))


class SegmentChangesSerializer(serializers.Serializer):
    run = serializers.IntegerField(allow_null=True, help_text=_("The run the segment is compared as of."))
    previous_run = serializers.IntegerField(allow_null=True, help_text=_("The completed run before it."))
    joined_count = serializers.IntegerField()
    left_count = serializers.IntegerField()
    joined = serializers.ListField(child=serializers.IntegerField(), help_text=_("Customer ids (at most `limit`)."))
    left = serializers.ListField(child=serializers.IntegerField(), help_text=_("Customer ids (at most `limit`)."))


# --------------------------------------------------------------------------- rules and forecasts


class RuleOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = AssociationRule
        fields = [
            "id",
            "run",
            "segment",
            "level",
            "antecedents",
            "antecedent_labels",
            "consequent",
            "consequent_label",
            "support",
            "confidence",
            "lift",
            "leverage",
            "conviction",
        ]


class RuleFilterSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=RuleLevel.choices, required=False)
    product = serializers.CharField(required=False, help_text=_("A product id or SKU: rules that mention it."))
    min_lift = serializers.FloatField(required=False, min_value=0)
    min_confidence = serializers.FloatField(required=False, min_value=0, max_value=1)
    segment = serializers.CharField(
        required=False, help_text=_("A segment id or key: that segment's rules (default: the whole shop's).")
    )


class ForecastOutputSerializer(serializers.ModelSerializer):
    segment_key = serializers.CharField(source="segment.key", default=None, read_only=True, allow_null=True)

    class Meta:
        model = Forecast
        fields = [
            "id",
            "run",
            "segment",
            "segment_key",
            "metric",
            "freq",
            "model_name",
            "backtest",
            "naive_backtest",
            "history",
            "points",
        ]


class ForecastFilterSerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=[("revenue", "revenue"), ("orders", "orders")], required=False)
    freq = serializers.ChoiceField(choices=[("D", "daily"), ("W", "weekly")], required=False)
    segment = serializers.CharField(
        required=False, help_text=_('A segment id or key, or "shop" for the whole shop (default: all).')
    )


# --------------------------------------------------------------------------- runs


class AnalysisRunOutputSerializer(serializers.ModelSerializer):
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = AnalysisRun
        fields = [
            "id",
            "status",
            "is_current",
            "trigger",
            "params",
            "progress",
            "step",
            "timings",
            "summary",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
        ]


class AnalysisRunInputSerializer(serializers.Serializer):
    only = serializers.ListField(
        child=serializers.ChoiceField(choices=STEPS), required=False, allow_empty=False, help_text=_("Steps to run.")
    )
    min_support = serializers.FloatField(required=False, min_value=0, max_value=1)
    min_confidence = serializers.FloatField(required=False, min_value=0, max_value=1)
    rule_algorithm = serializers.ChoiceField(choices=list(RULE_ALGORITHMS), required=False)
    rule_max_len = serializers.IntegerField(
        required=False,
        min_value=2,
        max_value=50,
        help_text=_("Most items in a rule, both sides together; absent: no limit."),
    )
    cluster_method = serializers.ChoiceField(choices=CLUSTER_METHODS, required=False)
    k = serializers.IntegerField(required=False, min_value=2, max_value=20)
    calibration_end = serializers.DateField(required=False, help_text=_("CLV check: fit up to this date."))
    clv_model = serializers.ChoiceField(
        choices=list(CLV_MODELS), required=False, help_text=_("Purchase model of lifetime value.")
    )

    def to_params(self) -> dict[str, Any]:
        params = dict(self.validated_data)
        if "calibration_end" in params:
            params["calibration_end"] = params["calibration_end"].isoformat()
        return params


# --------------------------------------------------------------------------- customer profile


class ProfileRFMSerializer(serializers.Serializer):
    recency_days = serializers.FloatField(allow_null=True)
    frequency = serializers.IntegerField()
    monetary = serializers.DecimalField(max_digits=14, decimal_places=2)
    r = serializers.IntegerField(allow_null=True)
    f = serializers.IntegerField(allow_null=True)
    m = serializers.IntegerField(allow_null=True)
    group = serializers.CharField()


class ProfileClusterSerializer(serializers.Serializer):
    number = serializers.IntegerField(allow_null=True, help_text=_("-1: an outlier, in no cluster."))
    segment = serializers.IntegerField(allow_null=True, help_text=_("The cluster's segment id."))
    name = serializers.CharField(allow_null=True)
    description = serializers.CharField(allow_null=True)
    x = serializers.FloatField(allow_null=True)
    y = serializers.FloatField(allow_null=True)


class ProfilePredictionsSerializer(serializers.Serializer):
    p_alive = serializers.FloatField(allow_null=True)
    expected_30 = serializers.FloatField(allow_null=True)
    expected_90 = serializers.FloatField(allow_null=True)
    expected_365 = serializers.FloatField(allow_null=True)
    clv_12m = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        allow_null=True,
        help_text=_("Predicted value, next 12 months: expected_365 × expected_spend, rounded to cents."),
    )
    expected_spend = serializers.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True, help_text=_("Expected spend per purchase.")
    )
    model = serializers.CharField(
        allow_null=True,
        help_text=_("Purchase model of the predictions: mbgnbd, bgnbd, or nbd (the fallback, without p_alive)."),
    )
    next_order_date = serializers.DateField(allow_null=True)
    churn_risk = serializers.CharField()
    churn_explanation = serializers.CharField()


class ProfileSegmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    kind = serializers.ChoiceField(choices=SegmentKind.choices)
    name = serializers.CharField()
    reason = serializers.CharField()


class CustomerProfileSerializer(serializers.Serializer):
    customer = serializers.IntegerField()
    run = serializers.IntegerField()
    as_of = serializers.CharField(allow_null=True)
    features = serializers.DictField()
    rfm = ProfileRFMSerializer()
    cluster = ProfileClusterSerializer()
    predictions = ProfilePredictionsSerializer()
    segments = ProfileSegmentSerializer(many=True)
    recommendations = serializers.ListField(child=serializers.DictField())
