"""/api/v1/campaigns/: create, list, read, edit while not started, preview, schedule, cancel, results.

Reads (and preview, which writes nothing) need a viewer; everything else staff (an API key acts as staff).
"""

from __future__ import annotations

from dataclasses import asdict

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from campaigns import attribution, selectors, sending, services
from campaigns.models import Campaign
from campaigns.serializers import (
    CampaignInputSerializer,
    CampaignOutputSerializer,
    PreviewInputSerializer,
    PreviewOutputSerializer,
    ResultsSerializer,
    ScheduleInputSerializer,
)
from customers.idempotency import IdempotencyKeyMixin
from customers.serializers import ApiErrorSerializer
from shops.api import ShopScopedAPIMixin
from shops.models import Role


def _errors(detail: dict | list | str, status_code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    """{"errors": [{"index": null, "field", "message"}]}, the API's error shape."""
    items = []
    if isinstance(detail, dict):
        for field, messages in detail.items():
            name = "" if field in ("non_field_errors", "__all__") else field
            for message in messages if isinstance(messages, list | tuple) else [messages]:
                items.append({"index": None, "field": name, "message": str(message)})
    else:
        for message in detail if isinstance(detail, list) else [detail]:
            items.append({"index": None, "field": "", "message": str(message)})
    return Response({"errors": items}, status=status_code)


def results_payload(*, shop, campaign) -> dict:
    results = attribution.campaign_results(shop=shop, campaign=campaign)
    audience = selectors.campaign_audience(shop=shop, campaign=campaign)
    payload = asdict(results)
    payload.update(
        status=campaign.status,
        audience=asdict(audience),
        conversion_rate=results.conversion_rate,
        holdout_conversion_rate=results.holdout_conversion_rate,
    )
    return payload


@extend_schema_view(
    list=extend_schema(summary="List the shop's campaigns"),
    retrieve=extend_schema(summary="One campaign"),
)
class CampaignViewSet(
    IdempotencyKeyMixin,
    ShopScopedAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The shop's campaigns: one message to a segment, sent at most once per customer, measured
    against a holdout. Reads and preview need a viewer, the rest staff (an API key is staff)."""

    serializer_class = CampaignOutputSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]

    @property
    def required_role(self) -> str | None:
        # Preview is a POST that changes nothing: viewers may use it like a read.
        return Role.VIEWER if getattr(self, "action", None) == "preview" else None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reads the model, no shop in scope
            return Campaign.unscoped.none()
        return super().get_queryset()

    def get_shop_queryset(self, shop):
        return selectors.campaign_list(shop=shop)

    def _input(self, request, *, partial: bool = False):
        serializer = CampaignInputSerializer(data=request.data, partial=partial, context={"shop": request.shop})
        return serializer, serializer.is_valid()

    @extend_schema(
        summary="Create a campaign (a draft; schedule it to send)",
        request=CampaignInputSerializer,
        responses={201: CampaignOutputSerializer, 400: ApiErrorSerializer},
    )
    def create(self, request):
        serializer, ok = self._input(request)
        if not ok:
            return _errors(serializer.errors)
        try:
            campaign = services.campaign_create(shop=request.shop, user=None, data=serializer.validated_data)
        except ValidationError as exc:
            return _errors(exc.message_dict)
        return Response(CampaignOutputSerializer(campaign).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a campaign that has not started",
        request=CampaignInputSerializer,
        responses={200: CampaignOutputSerializer, 400: ApiErrorSerializer, 409: ApiErrorSerializer},
    )
    def partial_update(self, request, pk=None):
        campaign = self.get_object()
        serializer, ok = self._input(request, partial=True)
        if not ok:
            return _errors(serializer.errors)
        try:
            campaign = services.campaign_update(campaign=campaign, data=serializer.validated_data)
        except ValidationError as exc:
            return _errors(exc.message_dict)
        except services.CampaignError as exc:
            return _errors(str(exc), status.HTTP_409_CONFLICT)
        return Response(CampaignOutputSerializer(campaign).data)

    @extend_schema(
        summary="Preview the message for one member of the segment",
        request=PreviewInputSerializer,
        responses={200: PreviewOutputSerializer, 400: ApiErrorSerializer},
    )
    @action(detail=True, methods=["post"])
    def preview(self, request, pk=None):
        campaign = self.get_object()
        serializer = PreviewInputSerializer(data=request.data)
        if not serializer.is_valid():
            return _errors(serializer.errors)
        customer_id = serializer.validated_data.get("customer_id")
        customer = selectors.preview_member(shop=request.shop, campaign=campaign, customer_id=customer_id)
        if customer is None:
            message = (
                _("That customer is not in this campaign's segment.")
                if customer_id is not None
                else _("The segment has no members.")
            )
            return _errors({"customer_id": [message]})
        rendered = sending.campaign_preview(shop=request.shop, campaign=campaign, customer=customer)
        return Response(
            {
                "customer_id": customer.pk,
                "to": rendered.to,
                "subject": rendered.subject,
                "text": rendered.text,
                "html": rendered.html,
                "discount_code": rendered.discount_code,
                "headers": rendered.headers,
            }
        )

    @extend_schema(
        summary="Schedule the campaign (or send now)",
        request=ScheduleInputSerializer,
        responses={200: CampaignOutputSerializer, 400: ApiErrorSerializer, 409: ApiErrorSerializer},
    )
    @action(detail=True, methods=["post"])
    def schedule(self, request, pk=None):
        campaign = self.get_object()
        serializer = ScheduleInputSerializer(data=request.data, context={"shop": request.shop})
        if not serializer.is_valid():
            return _errors(serializer.errors)
        if not campaign.is_editable:
            return _errors(_("This campaign has started or was cancelled."), status.HTTP_409_CONFLICT)
        try:
            campaign = services.campaign_schedule(
                campaign=campaign, send_at=serializer.validated_data.get("scheduled_at"), actor=request.user
            )
        except services.CampaignError as exc:
            return _errors({"scheduled_at": [str(exc)]})
        return Response(CampaignOutputSerializer(campaign).data)

    @extend_schema(
        summary="Cancel a campaign that has not started",
        request=None,
        responses={200: CampaignOutputSerializer, 409: ApiErrorSerializer},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        campaign = self.get_object()
        try:
            campaign = services.campaign_cancel(campaign=campaign, actor=request.user)
        except services.CampaignError as exc:
            return _errors(str(exc), status.HTTP_409_CONFLICT)
        return Response(CampaignOutputSerializer(campaign).data)

    @extend_schema(
        summary="Audience, delivery, conversions and uplift against the holdout", responses={200: ResultsSerializer}
    )
    @action(detail=True, methods=["get"])
    def results(self, request, pk=None):
        campaign = self.get_object()
        return Response(ResultsSerializer(results_payload(shop=request.shop, campaign=campaign)).data)
