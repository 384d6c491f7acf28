"""The customers API: read-only lists, bulk upserts, and single events and reviews."""

import decimal
import json
from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response

from customers import selectors, services
from customers.idempotency import IdempotencyKeyMixin, IdempotentWriteMixin
from customers.models import Customer
from customers.serializers import (
    ApiErrorSerializer,
    BulkResultSerializer,
    CreatedSerializer,
    CustomerBulkSerializer,
    CustomerOutputSerializer,
    EventInputSerializer,
    OrderBulkSerializer,
    OrderOutputSerializer,
    ProductBulkSerializer,
    ProductOutputSerializer,
    ReviewInputSerializer,
    customer_inputs_from_body,
    order_inputs_from_body,
    product_inputs_from_body,
)
from shops import bounds
from shops.api import ShopGenericAPIView, ShopReadOnlyViewSet


@extend_schema_view(
    list=extend_schema(summary="List the shop's customers"), retrieve=extend_schema(summary="One customer")
)
class CustomerViewSet(ShopReadOnlyViewSet):
    serializer_class = CustomerOutputSerializer
    lookup_value_regex = "[0-9]+"  # ids only (and the schema types them as integers)

    def get_shop_queryset(self, shop):
        return selectors.customer_list(shop=shop)


@extend_schema_view(
    list=extend_schema(summary="List the shop's products"), retrieve=extend_schema(summary="One product")
)
class ProductViewSet(ShopReadOnlyViewSet):
    serializer_class = ProductOutputSerializer
    lookup_value_regex = "[0-9]+"  # ids only (and the schema types them as integers)

    def get_shop_queryset(self, shop):
        return selectors.product_list(shop=shop)


@extend_schema_view(
    list=extend_schema(summary="List the shop's orders with their lines"),
    retrieve=extend_schema(summary="One order with its lines"),
)
class OrderViewSet(IdempotencyKeyMixin, ShopReadOnlyViewSet):
    serializer_class = OrderOutputSerializer
    lookup_value_regex = "[0-9]+"  # ids only: anything else is a 404 before any view runs

    def get_shop_queryset(self, shop):
        return selectors.order_list(shop=shop)

    @extend_schema(
        summary="Delete an order with its lines",
        description="Also removes an order that cannot be read back (stored with a date out of range).",
        responses={204: None, 404: ApiErrorSerializer},
    )
    def destroy(self, request, *args, **kwargs):
        # by id only: nothing of the row is read, so even a row no loader can read goes
        if not services.order_delete_by_id(shop=request.shop, order_id=int(kwargs["pk"])):
            return Response(
                {"errors": [{"index": None, "field": "id", "message": _("No such order in this shop.")}]},
                status=status.HTTP_404_NOT_FOUND,
            )
        services.data_changed_on_commit(shop_id=request.shop.pk, reason="api")
        return Response(status=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- writes


def _errors_response(errors: list, status_code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"errors": [e.as_dict() for e in errors]}, status=status_code)


def _drf_errors(detail: dict, prefix: str = "") -> list[dict]:
    """DRF's {"field": ["message"]} as the API's [{"index": None, "field", "message"}]."""
    flat = []
    for name, messages in detail.items():
        field_name = "" if name == "non_field_errors" else f"{prefix}{name}"
        if isinstance(messages, dict):
            flat.extend(_drf_errors(messages, prefix=f"{field_name}."))
            continue
        for message in messages if isinstance(messages, list) else [messages]:
            flat.append({"index": None, "field": field_name, "message": str(message)})
    return flat


class BodyRefused(ValueError):
    """The request body is not JSON we accept; the message says why."""


def json_body(body: bytes) -> Any:
    """The parsed body; BodyRefused naming the reason for JSON that is not, that is nested without
    end, or that holds text the database cannot store (NUL, lone surrogates)."""
    try:
        # Decimal for JSON numbers, so 19.9 stays exactly 19.9 if a client sends numbers for money.
        data = json.loads(body or b"null", parse_float=decimal.Decimal)
    except RecursionError:
        raise BodyRefused(bounds.json_problem([[]], max_depth=0)) from None
    except ValueError:
        raise BodyRefused(_("The body is not valid JSON.")) from None
    # the item readers name the item and field of unstorable text; here only the depth
    problem = bounds.json_problem(data, strings=False)
    if problem:
        raise BodyRefused(problem)
    return data


class BulkUpsertView(IdempotentWriteMixin, ShopGenericAPIView):
    """POST {"items": [...]} (at most 1,000): upsert by (source, external_id), all or nothing."""

    parse_items: Callable
    upsert: Callable

    def get_shop_queryset(self, shop):
        return Customer.objects.none()

    def handle_write(self, request, body: bytes) -> Response:
        try:
            payload = json_body(body)
        except BodyRefused as exc:
            return Response(
                {"errors": [{"index": None, "field": "", "message": str(exc)}]}, status=status.HTTP_400_BAD_REQUEST
            )
        try:
            items = type(self).parse_items(payload, tzinfo=request.shop.tzinfo)
            report = type(self).upsert(shop=request.shop, items=items, reason="api")
        except services.UpsertError as exc:
            return _errors_response(exc.errors)
        return Response(report.as_dict(), status=status.HTTP_200_OK)


_BULK_RESPONSES = {200: BulkResultSerializer, 400: ApiErrorSerializer, 422: ApiErrorSerializer}


@extend_schema(
    summary="Upsert customers (at most 1,000 per request)",
    request=CustomerBulkSerializer,
    responses=_BULK_RESPONSES,
)
class CustomerBulkUpsertView(BulkUpsertView):
    serializer_class = CustomerBulkSerializer  # describes the body (OPTIONS, schema); read by parse_items
    parse_items = staticmethod(customer_inputs_from_body)
    upsert = staticmethod(services.customers_upsert)


@extend_schema(
    summary="Upsert products (at most 1,000 per request)",
    request=ProductBulkSerializer,
    responses=_BULK_RESPONSES,
)
class ProductBulkUpsertView(BulkUpsertView):
    serializer_class = ProductBulkSerializer  # describes the body (OPTIONS, schema); read by parse_items
    parse_items = staticmethod(product_inputs_from_body)
    upsert = staticmethod(services.products_upsert)


@extend_schema(
    summary="Upsert orders with their lines (at most 1,000 per request)",
    request=OrderBulkSerializer,
    responses=_BULK_RESPONSES,
)
class OrderBulkUpsertView(BulkUpsertView):
    serializer_class = OrderBulkSerializer  # describes the body (OPTIONS, schema); read by parse_items
    parse_items = staticmethod(order_inputs_from_body)
    upsert = staticmethod(services.orders_upsert)


class SingleCreateView(IdempotentWriteMixin, ShopGenericAPIView):
    """POST one object, validated by `input_serializer` with the shop in its context."""

    input_serializer: type
    create: Callable

    def get_shop_queryset(self, shop):
        return Customer.objects.none()

    def get_serializer_class(self):
        return self.input_serializer  # OPTIONS describes the body with it

    def handle_write(self, request, body: bytes) -> Response:
        try:
            payload = json_body(body)
        except BodyRefused as exc:
            return Response(
                {"errors": [{"index": None, "field": "", "message": str(exc)}]}, status=status.HTTP_400_BAD_REQUEST
            )
        if problem := bounds.json_problem(payload):  # properties are free JSON: check every string
            return Response(
                {"errors": [{"index": None, "field": "", "message": problem}]}, status=status.HTTP_400_BAD_REQUEST
            )
        if not isinstance(payload, dict):
            return Response(
                {"errors": [{"index": None, "field": "", "message": _("Send one JSON object.")}]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        serializer = self.input_serializer(data=payload, context={"shop": request.shop})
        if not serializer.is_valid():
            return Response({"errors": _drf_errors(serializer.errors)}, status=status.HTTP_400_BAD_REQUEST)
        obj = type(self).create(shop=request.shop, **serializer.validated_data)
        return Response({"id": obj.pk}, status=status.HTTP_201_CREATED)


@extend_schema(
    summary="Record a browsing event (page view, search, add to cart, checkout)",
    request=EventInputSerializer,
    responses={201: CreatedSerializer, 400: ApiErrorSerializer, 422: ApiErrorSerializer},
)
class EventCreateView(SingleCreateView):
    input_serializer = EventInputSerializer
    create = staticmethod(services.event_create)


@extend_schema(
    summary="Record a product review",
    request=ReviewInputSerializer,
    responses={201: CreatedSerializer, 400: ApiErrorSerializer, 422: ApiErrorSerializer},
)
class ReviewCreateView(SingleCreateView):
    input_serializer = ReviewInputSerializer
    create = staticmethod(services.review_create)
