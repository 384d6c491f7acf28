"""The merge API: merge customers, undo a merge, list the possible duplicates."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from customers import duplicates, identity, merging
from customers.api import BodyRefused, json_body
from customers.idempotency import IdempotencyKeyMixin, IdempotentWriteMixin
from customers.models import Customer, CustomerMerge
from customers.serializers import ApiErrorSerializer
from shops import bounds
from shops.api import ShopGenericAPIView

MAX_OTHERS = 100


class MergeInputSerializer(serializers.Serializer):
    other_id = serializers.IntegerField(
        required=False, min_value=1, max_value=bounds.MAX_ID, help_text="The customer to merge into the one in the URL."
    )
    other_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=bounds.MAX_ID),
        required=False,
        max_length=MAX_OTHERS,
        help_text="Several customers to merge into the one in the URL, all or none.",
    )

    def validate(self, attrs):
        ids = ([attrs["other_id"]] if "other_id" in attrs else []) + list(attrs.get("other_ids", []))
        if not ids:
            raise serializers.ValidationError(_("Give other_id or other_ids."))
        attrs["ids"] = list(dict.fromkeys(ids))
        return attrs


class MergeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    merged_customer_id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    undo_until = serializers.DateTimeField()


class MergeResultSerializer(serializers.Serializer):
    survivor = serializers.IntegerField(help_text="The customer kept (the one in the URL).")
    merges = MergeOutputSerializer(many=True)


class UndoResultSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The customer given back, with the id it had.")
    survivor = serializers.IntegerField(help_text="The customer it had been merged into.")


class DuplicateCustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField()
    postcode = serializers.CharField()
    orders = serializers.IntegerField(source="order_count")
    identities = serializers.SerializerMethodField()

    def get_identities(self, obj) -> list[dict[str, str]]:
        return [{"source": i.source, "external_id": i.external_id} for i in identity.known_identities(obj)]


class DuplicateReasonSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=duplicates.DuplicateReason.choices)
    label = serializers.CharField()


class DuplicatePairSerializer(serializers.Serializer):
    first = DuplicateCustomerSerializer(help_text="The older customer, kept by default.")
    second = DuplicateCustomerSerializer()
    reasons = serializers.SerializerMethodField()

    def get_reasons(self, pair) -> list[dict[str, str]]:
        return [{"code": code, "label": label} for code, label in zip(pair.reasons, pair.reason_labels, strict=True)]


class DuplicateListSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="All candidate pairs, of which the surest `limit` are listed.")
    results = DuplicatePairSerializer(many=True)


def _error(field: str, message: str, *, index: int | None = None, code: int = status.HTTP_400_BAD_REQUEST):
    return Response({"errors": [{"index": index, "field": field, "message": str(message)}]}, status=code)


def _merge_output(merge: CustomerMerge) -> dict:
    return {
        "id": merge.pk,
        "merged_customer_id": merge.merged_customer_id,
        "created_at": merge.created_at,
        "undo_until": merging.merge_undo_until(merge),
    }


@extend_schema(
    summary="Merge other customers into this one",
    description=(
        "Moves everything of the other customers (orders, events, reviews, survey answers, scores, "
        "campaign messages, identities) to this one, which is kept; their former emails and phones "
        f"keep finding it. Each merge can be undone for {merging.MERGE_UNDO_DAYS} days. Erased customers "
        "and customers of other shops are refused (400)."
    ),
    request=MergeInputSerializer,
    responses={201: MergeResultSerializer, 400: ApiErrorSerializer, 404: None, 422: ApiErrorSerializer},
)
class CustomerMergeView(IdempotentWriteMixin, ShopGenericAPIView):
    def get_shop_queryset(self, shop):
        return Customer.objects.for_shop(shop)

    def handle_write(self, request, body: bytes) -> Response:
        survivor = self.get_object()  # 404 for another shop's customer
        try:
            payload = json_body(body)
        except BodyRefused as exc:
            return _error("", str(exc))
        serializer = MergeInputSerializer(data=payload if isinstance(payload, dict) else {})
        if not serializer.is_valid():
            field, messages = next(iter(serializer.errors.items()))
            return _error("" if field == "non_field_errors" else field, _first(messages))
        ids = serializer.validated_data["ids"]
        field = "other_ids" if "other_ids" in serializer.validated_data else "other_id"
        found = {c.pk: c for c in Customer.objects.for_shop(request.shop).filter(pk__in=ids)}
        for index, pk in enumerate(ids):
            if pk not in found:
                return _error(
                    field,
                    _("No customer %(id)s in this shop.") % {"id": pk},
                    index=index if field == "other_ids" else None,
                )
        try:
            merges = merging.customers_merge_many(
                shop=request.shop,
                survivor=survivor,
                others=[found[pk] for pk in ids],
                user=request.user,
                reason=merging.MergeReason.API,
            )
        except merging.MergeError as exc:
            return _error(field, exc.message)
        result = {"survivor": survivor.pk, "merges": [_merge_output(m) for m in merges]}
        return Response(MergeResultSerializer(result).data, status=status.HTTP_201_CREATED)


def _first(messages) -> str:
    if isinstance(messages, dict):
        return _first(next(iter(messages.values())))
    if isinstance(messages, list):
        return _first(messages[0])
    return str(messages)


@extend_schema(
    summary="Undo a merge",
    description=f"Gives the merged customer back with its id and rows, within {merging.MERGE_UNDO_DAYS} days.",
    request=None,
    responses={200: UndoResultSerializer, 400: ApiErrorSerializer, 404: None},
)
class CustomerMergeUndoView(IdempotencyKeyMixin, ShopGenericAPIView):
    lookup_url_kwarg = "merge_id"

    def get_shop_queryset(self, shop):
        return CustomerMerge.objects.for_shop(shop)

    def post(self, request, *args, **kwargs):
        merge = self.get_object()
        try:
            restored = merging.customer_merge_undo(shop=request.shop, merge=merge, user=request.user)
        except merging.MergeError as exc:
            return _error("", exc.message)
        return Response(UndoResultSerializer({"id": restored.pk, "survivor": merge.survivor_id}).data)


@extend_schema(
    summary="List the possible duplicate customers",
    description=(
        "Pairs of customers that may be one person, the surest first: the same email, the same name "
        "and postcode, the same name and phone, or a similar email (dots, +tags, a one-letter typo in "
        "the domain). Erased customers are left out."
    ),
    parameters=[OpenApiParameter("limit", int, description="At most this many pairs (1-500, default 200).")],
    responses={200: DuplicateListSerializer},
)
class CustomerDuplicatesView(ShopGenericAPIView):
    def get_shop_queryset(self, shop):
        return Customer.objects.for_shop(shop)

    def get(self, request, *args, **kwargs):
        try:
            limit = min(max(int(request.query_params.get("limit", 200)), 1), 500)
        except ValueError:
            return _error("limit", _("Give a whole number."))
        pairs = duplicates.duplicate_candidates(shop=request.shop, limit=limit)
        data = {"count": duplicates.duplicate_pair_count(shop=request.shop), "results": pairs}
        return Response(DuplicateListSerializer(data).data)
