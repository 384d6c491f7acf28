"""Input and output shapes of /api/v1/campaigns/. Inputs get the shop in their context."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from analytics.models import Segment
from campaigns.models import Campaign, CodeMode, OfferType


class CampaignOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "status",
            "segment",
            "segment_key",
            "segment_name",
            "channel",
            "subject_template",
            "body_template",
            "offer_type",
            "offer_value",
            "code_mode",
            "discount_code",
            "scheduled_at",
            "holdout_share",
            "frequency_cap",
            "attribution_days",
            "last_error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class CampaignInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    segment = serializers.PrimaryKeyRelatedField(queryset=Segment.unscoped.none())
    subject_template = serializers.CharField(max_length=300)
    body_template = serializers.CharField()
    offer_type = serializers.ChoiceField(choices=OfferType.choices, default=OfferType.PRODUCT_RECOMMENDATION)
    offer_value = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)
    code_mode = serializers.ChoiceField(choices=CodeMode.choices, default=CodeMode.NONE)
    discount_code = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    holdout_share = serializers.DecimalField(
        max_digits=4, decimal_places=3, min_value=Decimal("0"), max_value=Decimal("0.5"), default=Decimal("0.100")
    )
    frequency_cap = serializers.IntegerField(min_value=1, max_value=20, default=2)
    attribution_days = serializers.IntegerField(min_value=1, max_value=60, default=5)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any segment of the caller's shop; another shop's id is "does not exist". (No shop: the
        # OpenAPI schema is being generated, and no segment is valid.)
        shop = self.context.get("shop")
        if shop is not None:
            self.fields["segment"].queryset = Segment.objects.for_shop(shop)


class PreviewInputSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField(required=False, help_text="A member of the segment; default the first.")


class PreviewOutputSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    to = serializers.EmailField()
    subject = serializers.CharField()
    text = serializers.CharField()
    html = serializers.CharField()
    discount_code = serializers.CharField(allow_blank=True)
    headers = serializers.DictField(child=serializers.CharField())


class ScheduleInputSerializer(serializers.Serializer):
    scheduled_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="ISO 8601; without an offset it is read in the shop's time zone. Omit or null to send now.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.context.get("shop") is not None:
            self.fields["scheduled_at"].timezone = self.context["shop"].tzinfo


class AudienceSerializer(serializers.Serializer):
    is_estimate = serializers.BooleanField()
    members = serializers.IntegerField()
    excluded = serializers.DictField(child=serializers.IntegerField(), help_text="reason -> count")
    holdout = serializers.IntegerField()
    deferred = serializers.IntegerField()
    to_send = serializers.IntegerField()
    sent = serializers.IntegerField()
    failed = serializers.IntegerField()
    unknown = serializers.IntegerField()


class UpliftSerializer(serializers.Serializer):
    treated_rate = serializers.FloatField()
    holdout_rate = serializers.FloatField()
    difference = serializers.FloatField()
    ci_low = serializers.FloatField()
    ci_high = serializers.FloatField()
    method = serializers.CharField()


class RevenueDifferenceSerializer(serializers.Serializer):
    treated_mean = serializers.DecimalField(max_digits=14, decimal_places=2)
    holdout_mean = serializers.DecimalField(max_digits=14, decimal_places=2)
    difference = serializers.DecimalField(max_digits=14, decimal_places=2)
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)


class ResultsSerializer(serializers.Serializer):
    status = serializers.CharField()
    audience = AudienceSerializer()
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    bounced = serializers.IntegerField()
    opened = serializers.IntegerField()
    clicked = serializers.IntegerField()
    converted = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=18, decimal_places=2)
    failed = serializers.IntegerField()
    unknown = serializers.IntegerField()
    holdout = serializers.IntegerField()
    holdout_converted = serializers.IntegerField()
    holdout_revenue = serializers.DecimalField(max_digits=18, decimal_places=2)
    conversion_rate = serializers.FloatField(allow_null=True)
    holdout_conversion_rate = serializers.FloatField(allow_null=True)
    uplift = UpliftSerializer(allow_null=True)
    revenue_per_customer = RevenueDifferenceSerializer(allow_null=True)
    attributed_at = serializers.DateTimeField(allow_null=True)
    window_ends_at = serializers.DateTimeField(allow_null=True)
