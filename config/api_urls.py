"""/api/v1/: every app registers its endpoints here."""

from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from analytics.api import AnalysisRunViewSet, CustomerProfileView, ForecastViewSet, RuleViewSet, SegmentViewSet
from campaigns.api import CampaignViewSet
from customers.api import (
    CustomerBulkUpsertView,
    CustomerViewSet,
    EventCreateView,
    OrderBulkUpsertView,
    OrderViewSet,
    ProductBulkUpsertView,
    ProductViewSet,
    ReviewCreateView,
)
from customers.merge_api import CustomerDuplicatesView, CustomerMergeUndoView, CustomerMergeView

router = DefaultRouter()
router.include_format_suffixes = False  # one URL per resource; JSON is the only format
router.register("customers", CustomerViewSet, basename="customer")
router.register("products", ProductViewSet, basename="product")
router.register("orders", OrderViewSet, basename="order")
router.register("segments", SegmentViewSet, basename="segment")
router.register("rules", RuleViewSet, basename="rule")
router.register("forecasts", ForecastViewSet, basename="forecast")
router.register("analysis-runs", AnalysisRunViewSet, basename="analysis-run")
router.register("campaigns", CampaignViewSet, basename="campaign")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(permission_classes=[]), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: the pages allow no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema", permission_classes=[]), name="api-docs"),
    # Redoc styles itself with <style> elements it writes at run time (styled-components) and parses
    # the schema in a worker: its page alone allows inline styles and blob: workers, never inline script.
    path(
        "redoc/",
        csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["'self'", "blob:"]})(
            SpectacularRedocView.as_view(url_name="api-schema", permission_classes=[])
        ),
        name="api-redoc",
    ),
    # Before the router, whose detail routes would otherwise take "bulk" for an id.
    path("customers/bulk/", CustomerBulkUpsertView.as_view(), name="customer-bulk"),
    path("products/bulk/", ProductBulkUpsertView.as_view(), name="product-bulk"),
    path("orders/bulk/", OrderBulkUpsertView.as_view(), name="order-bulk"),
    path("events/", EventCreateView.as_view(), name="event-create"),
    path("reviews/", ReviewCreateView.as_view(), name="review-create"),
    path("customers/<int:pk>/profile/", CustomerProfileView.as_view(), name="customer-profile"),
    path("customers/duplicates/", CustomerDuplicatesView.as_view(), name="customer-duplicates"),
    path("customers/<int:pk>/merge/", CustomerMergeView.as_view(), name="customer-merge"),
    path("customer-merges/<int:merge_id>/undo/", CustomerMergeUndoView.as_view(), name="customer-merge-undo"),
    path("", include(router.urls)),
]
