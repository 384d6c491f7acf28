"""The analytics API: segments (and custom-segment writes), rules, forecasts, profiles, analysis runs.

Lists read the shop's current run; single objects may be of any of the shop's runs. Another
shop's ids are 404 (every queryset starts from request.shop); writes need the staff role.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from analytics import services
from analytics.compute import pipeline
from analytics.models import (
    AnalysisRun,
    AssociationRule,
    CustomerScore,
    Forecast,
    RuleLevel,
    Segment,
    SegmentKind,
    SegmentMembership,
)
from analytics.segments import (
    current_run,
    custom_segment_reason,
    custom_segment_scores,
    customer_segments,
    segments_current,
)
from analytics.selectors.runs import run_clv_model
from analytics.serializers import (
    AnalysisRunInputSerializer,
    AnalysisRunOutputSerializer,
    CustomerProfileSerializer,
    ForecastFilterSerializer,
    ForecastOutputSerializer,
    RuleFilterSerializer,
    RuleOutputSerializer,
    SegmentChangesSerializer,
    SegmentCreateInputSerializer,
    SegmentMemberSerializer,
    SegmentOutputSerializer,
)
from customers.idempotency import IdempotencyKeyMixin
from customers.models import Customer, Product
from shops.api import ShopGenericAPIView, ShopReadOnlyViewSet, ShopScopedAPIMixin
from shops.api_auth import ApiKeyUser
from shops.models import Shop

CHANGES_LIMIT = 1000


class ResultsPagination(PageNumberPagination):
    """Pages of 50; ``page_size`` asks for up to 1,000 (members of a big segment, all rules)."""

    page_size_query_param = "page_size"
    max_page_size = 1000


def _filters(serializer_class, request) -> dict:
    """Validated query parameters (400 naming the bad one)."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _segment_in_run(shop: Shop, run: AnalysisRun | None, value: str) -> Segment | None:
    """A segment of the shop by id, or by key within the run."""
    segments = Segment.objects.for_shop(shop)
    if value.isdigit():
        return segments.filter(pk=int(value)).first()
    return segments.filter(run=run, key=value).first() if run is not None else None


def _user(request):
    return None if isinstance(request.user, ApiKeyUser) else request.user


# --------------------------------------------------------------------------- segments


def _with_live_stats(shop: Shop, segments: list[Segment]) -> list[Segment]:
    """Custom segments are counted live against the current run (not saved)."""
    run = current_run(shop=shop)
    for segment in segments:
        if segment.kind == SegmentKind.CUSTOM:
            for name, value in services.custom_segment_stats(shop=shop, segment=segment, run=run).items():
                setattr(segment, name, value)
    return segments


@extend_schema_view(
    list=extend_schema(summary="The current run's segments and every custom segment"),
    retrieve=extend_schema(summary="One segment (of any run)"),
)
class SegmentViewSet(
    IdempotencyKeyMixin,
    ShopScopedAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Segment.unscoped.none()  # for the schema's id type only; rows come from get_shop_queryset
    pagination_class = ResultsPagination
    serializer_class = SegmentOutputSerializer

    def get_shop_queryset(self, shop):
        if self.action == "list":
            return segments_current(shop=shop).order_by("kind", "-size", "pk")
        return Segment.objects.for_shop(shop).order_by("pk")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        data = self.get_serializer(_with_live_stats(request.shop, page), many=True).data
        return self.get_paginated_response(data)

    def retrieve(self, request, *args, **kwargs):
        segment = _with_live_stats(request.shop, [self.get_object()])[0]
        return Response(self.get_serializer(segment).data)

    @extend_schema(
        summary="Create a custom segment",
        description="Validated like the pages' segment builder; an error names the node of the definition "
        "(e.g. `definition.conditions[1].field`). Needs the staff role.",
        request=SegmentCreateInputSerializer,
        responses={201: SegmentOutputSerializer},
    )
    def create(self, request, *args, **kwargs):
        serializer = SegmentCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        segment = services.custom_segment_create(
            shop=request.shop,
            name=serializer.validated_data["name"],
            definition=serializer.validated_data["definition"],
            created_by=_user(request),
        )
        return Response(SegmentOutputSerializer(segment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Delete a custom segment",
        description="Computed segments belong to their analysis run and are refused with 400. Needs the staff role.",
        responses={204: None, 400: OpenApiResponse(description="A computed segment.")},
    )
    def destroy(self, request, *args, **kwargs):
        segment = self.get_object()
        try:
            services.custom_segment_delete(shop=request.shop, segment=segment)
        except ValueError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="The segment's customers, each with the reason they are in it",
        responses=SegmentMemberSerializer(many=True),
    )
    @action(detail=True, methods=["get"], serializer_class=SegmentMemberSerializer)
    def members(self, request, pk=None):
        segment = self.get_object()
        shop = request.shop
        if segment.kind == SegmentKind.CUSTOM:
            scores = custom_segment_scores(shop=shop, definition=segment.definition)
            page = self.paginate_queryset(scores.select_related("customer").order_by("customer_id"))
            rows = [_member_row(s.customer, custom_segment_reason(s, segment.definition)) for s in page]
        else:
            memberships = SegmentMembership.objects.for_shop(shop).filter(segment=segment).select_related("customer")
            memberships = memberships.order_by("customer_id")
            page = self.paginate_queryset(memberships)
            rows = [_member_row(m.customer, m.reason) for m in page]
        return self.get_paginated_response(SegmentMemberSerializer(rows, many=True).data)

    @extend_schema(
        summary="Who joined and who left the segment since the previous completed run",
        description="Computed segments are matched across runs by key; a custom segment's definition is "
        "evaluated on the current and the previous run.",
        parameters=[OpenApiParameter("limit", OpenApiTypes.INT, description=f"Ids listed (default {CHANGES_LIMIT}).")],
        responses=SegmentChangesSerializer,
    )
    @action(detail=True, methods=["get"], serializer_class=SegmentChangesSerializer)
    def changes(self, request, pk=None):
        segment = self.get_object()
        try:
            limit = max(0, int(request.query_params.get("limit", CHANGES_LIMIT)))
        except ValueError:
            raise ValidationError({"limit": _("A whole number.")}) from None
        changes = services.segment_membership_changes(shop=request.shop, segment=segment)
        data = {
            "run": changes["run"],
            "previous_run": changes["previous_run"],
            "joined_count": len(changes["joined"]),
            "left_count": len(changes["left"]),
            "joined": changes["joined"][:limit],
            "left": changes["left"][:limit],
        }
        return Response(SegmentChangesSerializer(data).data)


def _member_row(customer: Customer, reason: str) -> dict:
    return {
        "id": customer.pk,
        "external_id": customer.external_id,
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "reason": reason,
    }


# --------------------------------------------------------------------------- rules and forecasts


def _product_ids(shop: Shop, value: str) -> list[str]:
    """Ids (as rule items are stored: text) of the shop's products with this id or SKU."""
    q = Q(sku=value)
    if value.isdigit():
        q |= Q(pk=int(value))
    return [str(pk) for pk in Product.objects.for_shop(shop).filter(q).values_list("pk", flat=True)]


@extend_schema_view(
    list=extend_schema(
        summary="The current run's association rules",
        parameters=[RuleFilterSerializer],
    ),
    retrieve=extend_schema(summary="One rule (of any run)"),
)
class RuleViewSet(ShopReadOnlyViewSet):
    queryset = AssociationRule.unscoped.none()  # for the schema's id type only; rows come from get_shop_queryset
    pagination_class = ResultsPagination
    serializer_class = RuleOutputSerializer

    def get_shop_queryset(self, shop) -> QuerySet[AssociationRule]:
        rules = AssociationRule.objects.for_shop(shop)
        if self.action != "list":
            return rules.order_by("pk")
        filters = _filters(RuleFilterSerializer, self.request)
        run = current_run(shop=shop)
        if run is None:
            return rules.none()
        rules = rules.filter(run=run)
        if "segment" in filters:
            segment = _segment_in_run(shop, run, filters["segment"])
            rules = rules.filter(segment=segment) if segment is not None else rules.none()
        else:
            rules = rules.filter(segment__isnull=True)
        if "level" in filters:
            rules = rules.filter(level=filters["level"])
        if "product" in filters:
            ids = _product_ids(shop, filters["product"])
            mentions = Q(consequent__in=ids)
            for pid in ids:
                # antecedents is a JSON list of id strings; the quotes make "12" not match "123"
                mentions |= Q(antecedents__icontains=f'"{pid}"')
            rules = rules.filter(mentions, level=RuleLevel.PRODUCT) if ids else rules.none()
        if "min_lift" in filters:
            rules = rules.filter(lift__gte=filters["min_lift"])
        if "min_confidence" in filters:
            rules = rules.filter(confidence__gte=filters["min_confidence"])
        return rules.order_by("-lift", "-confidence", "pk")


@extend_schema_view(
    list=extend_schema(summary="The current run's forecasts", parameters=[ForecastFilterSerializer]),
    retrieve=extend_schema(summary="One forecast (of any run)"),
)
class ForecastViewSet(ShopReadOnlyViewSet):
    queryset = Forecast.unscoped.none()  # for the schema's id type only; rows come from get_shop_queryset
    pagination_class = ResultsPagination
    serializer_class = ForecastOutputSerializer

    def get_shop_queryset(self, shop) -> QuerySet[Forecast]:
        forecasts = Forecast.objects.for_shop(shop).select_related("segment")
        if self.action != "list":
            return forecasts.order_by("pk")
        filters = _filters(ForecastFilterSerializer, self.request)
        run = current_run(shop=shop)
        if run is None:
            return forecasts.none()
        forecasts = forecasts.filter(run=run)
        for name in ("metric", "freq"):
            if name in filters:
                forecasts = forecasts.filter(**{name: filters[name]})
        if "segment" in filters:
            if filters["segment"] == "shop":
                forecasts = forecasts.filter(segment__isnull=True)
            else:
                segment = _segment_in_run(shop, run, filters["segment"])
                forecasts = forecasts.filter(segment=segment) if segment is not None else forecasts.none()
        return forecasts.order_by("segment_id", "metric", "freq", "pk")


# --------------------------------------------------------------------------- runs


@extend_schema_view(
    list=extend_schema(summary="The shop's analysis runs, newest first, with status, progress and timings"),
    retrieve=extend_schema(summary="One analysis run: progress while it runs, summary when done"),
)
class AnalysisRunViewSet(
    IdempotencyKeyMixin,
    ShopScopedAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    queryset = AnalysisRun.unscoped.none()  # for the schema's id type only; rows come from get_shop_queryset
    pagination_class = ResultsPagination
    serializer_class = AnalysisRunOutputSerializer

    def get_shop_queryset(self, shop) -> QuerySet[AnalysisRun]:
        return AnalysisRun.objects.for_shop(shop).order_by("-created_at", "-pk")

    @extend_schema(
        summary="Start an analysis run",
        description="Queues a run on the analytics workers and answers 202 with it. If a run is already "
        "queued or running, answers 200 with that run instead (one run at a time per shop). Needs the staff role.",
        request=AnalysisRunInputSerializer,
        responses={202: AnalysisRunOutputSerializer, 200: AnalysisRunOutputSerializer},
    )
    def create(self, request, *args, **kwargs):
        serializer = AnalysisRunInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            run, created = services.analysis_run_request(
                shop=request.shop, params=serializer.to_params(), trigger="api", created_by=_user(request)
            )
        except ValueError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(
            AnalysisRunOutputSerializer(run).data, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
        )


# --------------------------------------------------------------------------- customer profile


class CustomerProfileView(ShopGenericAPIView):
    """customers/<id>/profile/: the customer's features, scores, predictions and segments in the current run."""

    serializer_class = CustomerProfileSerializer

    def get_shop_queryset(self, shop):
        return Customer.objects.for_shop(shop)

    @extend_schema(
        summary="A customer's profile from the current analysis run",
        responses={200: CustomerProfileSerializer, 404: OpenApiResponse(description="No such customer, or no run.")},
    )
    def get(self, request, pk: int):
        shop = request.shop
        customer = get_object_or_404(self.get_queryset(), pk=pk)
        run = current_run(shop=shop)
        score = (
            CustomerScore.objects.for_shop(shop).filter(run=run, customer=customer).first() if run is not None else None
        )
        if score is None:
            raise NotFound(_("This customer has no profile yet: no analysis run has included them."))
        return Response(CustomerProfileSerializer(_profile(shop, run, score)).data)


def _profile(shop: Shop, run: AnalysisRun, score: CustomerScore) -> dict:
    cluster_segment = None
    if score.cluster is not None:
        segments = Segment.objects.for_shop(shop).filter(run=run)
        if score.cluster < 0:  # an outlier, or in no HDBSCAN cluster ("noise"): the membership says which
            segments = segments.filter(
                key__in=[pipeline.OUTLIERS_KEY, pipeline.NOISE_KEY], memberships__customer_id=score.customer_id
            )
        else:
            segments = segments.filter(key=f"cluster:{score.cluster}")
        cluster_segment = segments.first()
    return {
        "customer": score.customer_id,
        "run": run.pk,
        "as_of": (run.summary or {}).get("as_of"),
        "features": score.features,
        "rfm": {
            "recency_days": score.recency_days,
            "frequency": score.frequency,
            "monetary": score.monetary,
            "r": score.r_score,
            "f": score.f_score,
            "m": score.m_score,
            "group": score.rfm_group,
        },
        "cluster": {
            "number": score.cluster,
            "segment": cluster_segment.pk if cluster_segment else None,
            "name": cluster_segment.name if cluster_segment else None,
            "description": cluster_segment.description if cluster_segment else None,
            "x": score.x,
            "y": score.y,
        },
        "predictions": {
            "p_alive": score.p_alive,
            "expected_30": score.expected_30,
            "expected_90": score.expected_90,
            "expected_365": score.expected_365,
            "clv_12m": score.clv_12m,
            "expected_spend": score.expected_spend,
            "model": run_clv_model(run),
            "next_order_date": score.next_order_date,
            "churn_risk": score.churn_risk,
            "churn_explanation": services.churn_risk_explanation(score),
        },
        "segments": [
            {"id": s.pk, "key": s.key, "kind": s.kind, "name": s.name, "reason": reason}
            for s, reason in customer_segments(shop=shop, customer_id=score.customer_id, run=run)
        ],
        "recommendations": score.recommendations,
    }
