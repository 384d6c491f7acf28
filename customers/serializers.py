"""API input and output shapes.

Output: DRF model serializers. Input: events and reviews use DRF serializers (one
object, speed does not matter); the bulk bodies are read in plain Python (see below)
and described to OpenAPI by DRF serializers that are not used for validation.
"""

import datetime as dt
import decimal
import json
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from rest_framework import serializers

from customers import identity
from customers.models import Customer, EventKind, Gender, Order, OrderLine, OrderStatus, Product, Source
from customers.services import CustomerInput, ItemError, LineInput, OrderInput, ProductInput, UpsertError
from shops import bounds


class CustomerOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = [
            "id",
            "external_id",
            "source",
            "email",
            "first_name",
            "last_name",
            "phone",
            "birth_date",
            "gender",
            "occupation",
            "city",
            "country",
            "tags",
            "email_consent",
            "email_consent_at",
            "created_at",
            "updated_at",
        ]


class ProductOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "external_id", "source", "sku", "title", "category", "brand", "price", "updated_at"]


class OrderLineOutputSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", default="", read_only=True)
    title = serializers.CharField(source="product.title", default="", read_only=True)

    class Meta:
        model = OrderLine
        fields = ["id", "product", "sku", "title", "quantity", "unit_price"]


class OrderOutputSerializer(serializers.ModelSerializer):
    lines = OrderLineOutputSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "external_id",
            "source",
            "customer",
            "placed_at",
            "currency",
            "total",
            "status",
            "lines",
            "updated_at",
        ]


# --------------------------------------------------------------------------- bulk upsert input
#
# Bulk bodies are validated in plain Python rather than with DRF serializers: for a
# batch of 1,000 orders with 3 lines DRF's nested validation took about 40x longer
# than this reader (bench/api_upsert.py measures both), which alone would miss the
# 5,000 orders/s target. The DRF serializers further down describe the same bodies
# for the OpenAPI schema only.

MAX_BATCH_ITEMS = 1000
MAX_ORDER_LINES = 1000
_MISSING = object()
_MAX_MONEY = decimal.Decimal("999999999999.99")
_CENTS = decimal.Decimal("0.01")
_SOURCES = frozenset(Source.values)
_STATUSES = frozenset(OrderStatus.values)
_GENDERS = frozenset(Gender.values)


class _Reader:
    """Reads one JSON object field by field, collecting errors named `prefix + field` for item `index`."""

    __slots__ = ("data", "errors", "index", "prefix", "tzinfo")

    def __init__(self, data: dict, *, index: int, errors: list[ItemError], tzinfo, prefix: str = ""):
        self.data, self.index, self.errors, self.tzinfo, self.prefix = data, index, errors, tzinfo, prefix

    def error(self, name: str, message: str) -> None:
        self.errors.append(ItemError(self.index, self.prefix + name, message))

    def only(self, allowed: frozenset[str]) -> None:
        for name in self.data.keys() - allowed:
            self.error(str(name), _("Unknown field."))

    def text(self, name: str, *, max_length: int, required: bool = False) -> Any:
        value = self.data.get(name, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.error(name, _("This field is required."))
                return _MISSING
            return _MISSING if value is _MISSING else ""
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.error(name, _("Give a string."))
            return _MISSING
        value = str(value).strip()
        if problem := bounds.text_problem(value):
            self.error(name, problem)
            return _MISSING
        if required and not value:
            self.error(name, _("This field may not be blank."))
            return _MISSING
        if len(value) > max_length:
            self.error(name, _("At most %(n)s characters.") % {"n": max_length})
            return _MISSING
        return value

    def email(self, name: str) -> Any:
        value = self.text(name, max_length=254)
        if value is _MISSING or value == "":
            return value
        try:
            validate_email(value)
        except DjangoValidationError:
            self.error(name, _("Enter a valid email address."))
            return _MISSING
        return value.lower()

    def choice(self, name: str, choices: frozenset[str], *, default: Any = _MISSING) -> Any:
        value = self.data.get(name, _MISSING)
        if value is _MISSING:
            return default
        if not isinstance(value, str) or value not in choices:
            self.error(name, _("Use one of: %(choices)s.") % {"choices": ", ".join(sorted(c for c in choices if c))})
            return _MISSING
        return value

    def datetime(self, name: str, *, required: bool = False, nullable: bool = False) -> Any:
        value = self.data.get(name, _MISSING)
        if value is _MISSING or (value is None and not required):
            if required:
                self.error(name, _("This field is required."))
            return value if value is None and nullable else _MISSING
        try:
            parsed = dt.datetime.fromisoformat(value)
        except (TypeError, ValueError):
            self.error(name, _("Give an ISO 8601 date and time, e.g. 2026-03-01T14:30:00Z."))
            return _MISSING
        if parsed.tzinfo is None:  # naive times are in the shop's time zone
            parsed = parsed.replace(tzinfo=self.tzinfo)
        if problem := bounds.datetime_problem(parsed):
            self.error(name, problem)
            return _MISSING
        return parsed

    def date(self, name: str) -> Any:
        value = self.data.get(name, _MISSING)
        if value is _MISSING or value is None:
            return value if value is _MISSING else None
        try:
            parsed = dt.date.fromisoformat(value)
        except (TypeError, ValueError):
            self.error(name, _("Give a date as YYYY-MM-DD."))
            return _MISSING
        if problem := bounds.birth_date_problem(parsed):
            self.error(name, problem)
            return _MISSING
        return parsed

    def money(self, name: str, *, required: bool = False, nullable: bool = False) -> Any:
        value = self.data.get(name, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.error(name, _("This field is required."))
                return _MISSING
            return None if value is None and nullable else _MISSING
        if isinstance(value, bool) or not isinstance(value, str | int | decimal.Decimal):
            self.error(name, _('Give an amount as a decimal string, e.g. "19.90".'))
            return _MISSING
        try:
            amount = decimal.Decimal(value.strip() if isinstance(value, str) else value)
        except decimal.InvalidOperation:
            self.error(name, _('Give an amount as a decimal string, e.g. "19.90".'))
            return _MISSING
        if not amount.is_finite() or abs(amount) > _MAX_MONEY:
            self.error(name, _("This amount is out of range."))
            return _MISSING
        if amount.as_tuple().exponent < -2 and amount != amount.quantize(_CENTS):
            self.error(name, _("Use at most 2 decimal places."))
            return _MISSING
        return amount.quantize(_CENTS)

    def integer(self, name: str, *, required: bool = False, minimum: int | None = None, maximum: int) -> Any:
        value = self.data.get(name, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.error(name, _("This field is required."))
            return _MISSING if value is _MISSING else None
        if isinstance(value, decimal.Decimal) and value == value.to_integral_value():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(name, _("Give a whole number."))
            return _MISSING
        if (minimum is not None and value < minimum) or value > maximum:
            self.error(name, _("Give a number from %(lo)s to %(hi)s.") % {"lo": minimum, "hi": maximum})
            return _MISSING
        return value

    def boolean(self, name: str) -> Any:
        value = self.data.get(name, _MISSING)
        if value is _MISSING:
            return value
        if not isinstance(value, bool):
            self.error(name, _("Give true or false."))
            return _MISSING
        return value

    def string_list(self, name: str, *, max_items: int = 50, max_length: int = 100) -> Any:
        value = self.data.get(name, _MISSING)
        if value is _MISSING:
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= max_length for v in value):
            self.error(name, _("Give a list of strings of at most %(n)s characters.") % {"n": max_length})
            return _MISSING
        if len(value) > max_items:
            self.error(name, _("At most %(n)s entries.") % {"n": max_items})
            return _MISSING
        for entry in value:
            if problem := bounds.text_problem(entry):
                self.error(name, problem)
                return _MISSING
        return [v.strip() for v in value]


def _batch_items(body: Any) -> list:
    """The item list of a bulk body {"items": [...]}; refuses anything else and more than MAX_BATCH_ITEMS."""
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise UpsertError([ItemError(None, "items", _('Send a JSON object {"items": [...]}.'))])
    items = body["items"]
    if not items:
        raise UpsertError([ItemError(None, "items", _("Send at least one item."))])
    if len(items) > MAX_BATCH_ITEMS:
        raise UpsertError(
            [
                ItemError(
                    None,
                    "items",
                    _("Send at most %(limit)s items per request (this one has %(n)s); split the batch.")
                    % {"limit": MAX_BATCH_ITEMS, "n": len(items)},
                )
            ]
        )
    return items


def _item_reader(raw: Any, index: int, errors: list[ItemError], tzinfo) -> _Reader | None:
    if not isinstance(raw, dict):
        errors.append(ItemError(index, "", _("Each item must be a JSON object.")))
        return None
    return _Reader(raw, index=index, errors=errors, tzinfo=tzinfo)


def _given(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not _MISSING}


_KEY_FIELDS = frozenset({"external_id", "source", "updated_at"})
_CUSTOMER_KEYS = _KEY_FIELDS | {
    "email",
    "first_name",
    "last_name",
    "phone",
    "birth_date",
    "gender",
    "occupation",
    "city",
    "country",
    "tags",
    "email_consent",
    "email_consent_at",
    "postcode",
}
_PRODUCT_KEYS = _KEY_FIELDS | {"sku", "title", "category", "brand", "price"}
_ORDER_KEYS = _KEY_FIELDS | {
    "customer_external_id",
    "customer_email",
    "placed_at",
    "currency",
    "total",
    "status",
    "lines",
}
_LINE_KEYS = frozenset({"sku", "product_external_id", "quantity", "unit_price"})


def _key(reader: _Reader) -> tuple[Any, Any, Any]:
    return (
        reader.text("external_id", max_length=100, required=True),
        reader.choice("source", _SOURCES, default=Source.API),
        None if (updated_at := reader.datetime("updated_at")) is _MISSING else updated_at,
    )


def customer_inputs_from_body(body: Any, *, tzinfo) -> list[CustomerInput]:
    """Validated CustomerInputs from a bulk body; UpsertError naming item index and field otherwise."""
    errors: list[ItemError] = []
    result = []
    for index, raw in enumerate(_batch_items(body)):
        r = _item_reader(raw, index, errors, tzinfo)
        if r is None:
            continue
        r.only(_CUSTOMER_KEYS)
        external_id, source, updated_at = _key(r)
        fields = _given(
            email=r.email("email"),
            first_name=r.text("first_name", max_length=100),
            last_name=r.text("last_name", max_length=100),
            phone=r.text("phone", max_length=40),
            birth_date=r.date("birth_date"),
            gender=r.choice("gender", _GENDERS),
            occupation=r.text("occupation", max_length=100),
            city=r.text("city", max_length=100),
            country=r.text("country", max_length=100),
            postcode=r.text("postcode", max_length=20),
            tags=r.string_list("tags"),
            email_consent=r.boolean("email_consent"),
            email_consent_at=r.datetime("email_consent_at", nullable=True),
        )
        result.append(CustomerInput(external_id=external_id, source=source, updated_at=updated_at, fields=fields))
    if errors:
        raise UpsertError(errors)
    return result


def product_inputs_from_body(body: Any, *, tzinfo) -> list[ProductInput]:
    errors: list[ItemError] = []
    result = []
    for index, raw in enumerate(_batch_items(body)):
        r = _item_reader(raw, index, errors, tzinfo)
        if r is None:
            continue
        r.only(_PRODUCT_KEYS)
        external_id, source, updated_at = _key(r)
        fields = _given(
            title=r.text("title", max_length=300, required=True),
            sku=r.text("sku", max_length=100),
            category=r.text("category", max_length=120),
            brand=r.text("brand", max_length=120),
            price=r.money("price", nullable=True),
        )
        result.append(ProductInput(external_id=external_id, source=source, updated_at=updated_at, fields=fields))
    if errors:
        raise UpsertError(errors)
    return result


def order_inputs_from_body(body: Any, *, tzinfo) -> list[OrderInput]:
    errors: list[ItemError] = []
    result = []
    for index, raw in enumerate(_batch_items(body)):
        r = _item_reader(raw, index, errors, tzinfo)
        if r is None:
            continue
        r.only(_ORDER_KEYS)
        external_id, source, updated_at = _key(r)
        customer = raw.get("customer_external_id", _MISSING)
        if customer is not _MISSING and customer is not None:
            customer = r.text("customer_external_id", max_length=100) or None
        currency = r.text("currency", max_length=3)
        if currency is not _MISSING:
            currency = currency.upper()
            if len(currency) != 3 or not currency.isalpha():
                r.error("currency", _("Use a three-letter ISO 4217 code such as EUR."))
        fields = _given(
            placed_at=r.datetime("placed_at", required=True),
            currency=currency,
            total=r.money("total"),
            status=r.choice("status", _STATUSES),
            customer_external_id=customer,
            customer_email=r.email("customer_email"),
        )
        lines = _order_lines(r, raw.get("lines", _MISSING))
        result.append(
            OrderInput(external_id=external_id, source=source, updated_at=updated_at, fields=fields, lines=lines)
        )
    if errors:
        raise UpsertError(errors)
    return result


def _well_formed_line(raw: Any) -> LineInput | None:
    """The common case checked in one go (a batch has thousands of lines); None sends the line to the full reader.

    Accepts exactly what the full reader accepts without error, nothing more; anything
    unusual (a wrong type, a bound, a blank name) takes the slow path, which names the error.
    """
    if type(raw) is not dict or not raw.keys() <= _LINE_KEYS:
        return None
    quantity, price = raw.get("quantity"), raw.get("unit_price")
    sku, product = raw.get("sku", ""), raw.get("product_external_id", "")
    if type(quantity) is not int or not (0 < abs(quantity) <= 1_000_000) or type(price) is not str:
        return None
    if type(sku) is not str or type(product) is not str or len(sku) > 100 or len(product) > 100:
        return None
    sku, product = sku.strip(), product.strip()
    if not sku and not product:
        return None
    try:
        amount = decimal.Decimal(price)
    except decimal.InvalidOperation:
        return None
    if not amount.is_finite() or amount.as_tuple().exponent < -2 or not (0 <= amount <= _MAX_MONEY):
        return None
    return LineInput(quantity=quantity, unit_price=amount.quantize(_CENTS), sku=sku, product_external_id=product)


def _order_lines(r: _Reader, raw_lines: Any) -> list[LineInput]:
    if raw_lines is _MISSING:
        r.error("lines", _("This field is required (an empty list is allowed)."))
        return []
    if not isinstance(raw_lines, list) or len(raw_lines) > MAX_ORDER_LINES:
        r.error("lines", _("Give a list of at most %(n)s lines.") % {"n": MAX_ORDER_LINES})
        return []
    lines = []
    for n, raw in enumerate(raw_lines):
        line = _well_formed_line(raw)
        if line is not None:
            lines.append(line)
            continue
        if not isinstance(raw, dict):
            r.error(f"lines[{n}]", _("Each line must be a JSON object."))
            continue
        lr = _Reader(raw, index=r.index, errors=r.errors, tzinfo=r.tzinfo, prefix=f"lines[{n}].")
        lr.only(_LINE_KEYS)
        sku = lr.text("sku", max_length=100)
        product_external_id = lr.text("product_external_id", max_length=100)
        if not sku and not product_external_id:
            lr.error("sku", _("Name the product by sku or product_external_id."))
        quantity = lr.integer("quantity", required=True, minimum=-1_000_000, maximum=1_000_000)
        if quantity == 0:
            lr.error("quantity", _("The quantity cannot be 0 (negative for a returned item)."))
        unit_price = lr.money("unit_price", required=True)
        if unit_price is not _MISSING and unit_price < 0:
            lr.error("unit_price", _("The unit price cannot be negative (use a negative quantity for a return)."))
        if quantity is _MISSING or unit_price is _MISSING:
            continue
        lines.append(
            LineInput(
                quantity=quantity,
                unit_price=unit_price,
                sku="" if sku is _MISSING else sku,
                product_external_id="" if product_external_id is _MISSING else product_external_id,
            )
        )
    return lines


# --------------------------------------------------------------------------- OpenAPI descriptions of the bulk bodies


class CustomerBulkItemSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=100)
    source = serializers.ChoiceField(choices=Source.choices, default=Source.API)
    updated_at = serializers.DateTimeField(required=False, help_text="Older than the stored row: ignored (stale).")
    email = serializers.EmailField(required=False, allow_blank=True)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=40)
    birth_date = serializers.DateField(required=False, allow_null=True)
    gender = serializers.ChoiceField(choices=Gender.choices, required=False)
    occupation = serializers.CharField(required=False, allow_blank=True, max_length=100)
    city = serializers.CharField(required=False, allow_blank=True, max_length=100)
    country = serializers.CharField(required=False, allow_blank=True, max_length=100)
    postcode = serializers.CharField(required=False, allow_blank=True, max_length=20)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=50)
    email_consent = serializers.BooleanField(required=False)
    email_consent_at = serializers.DateTimeField(required=False, allow_null=True)


class ProductBulkItemSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=100)
    source = serializers.ChoiceField(choices=Source.choices, default=Source.API)
    updated_at = serializers.DateTimeField(required=False)
    title = serializers.CharField(max_length=300)
    sku = serializers.CharField(required=False, allow_blank=True, max_length=100)
    category = serializers.CharField(required=False, allow_blank=True, max_length=120)
    brand = serializers.CharField(required=False, allow_blank=True, max_length=120)
    price = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)


class OrderLineBulkItemSerializer(serializers.Serializer):
    sku = serializers.CharField(required=False, max_length=100, help_text="The product by SKU (any source) ...")
    product_external_id = serializers.CharField(
        required=False, max_length=100, help_text="... or by its external id (same source as the order)."
    )
    quantity = serializers.IntegerField(min_value=-1_000_000, max_value=1_000_000, help_text="Negative: returned.")
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=decimal.Decimal("0"))


class OrderBulkItemSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=100)
    source = serializers.ChoiceField(choices=Source.choices, default=Source.API)
    updated_at = serializers.DateTimeField(required=False)
    customer_external_id = serializers.CharField(
        required=False, allow_null=True, max_length=100, help_text="null: a guest order; absent: keep the stored one."
    )
    customer_email = serializers.EmailField(
        required=False,
        help_text="Without customer_external_id: the order goes to the customer with this email, if there is one.",
    )
    placed_at = serializers.DateTimeField()
    currency = serializers.CharField(required=False, min_length=3, max_length=3, help_text="Default: the shop's.")
    total = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, help_text="Default: the sum of the lines."
    )
    status = serializers.ChoiceField(choices=OrderStatus.choices, required=False)
    lines = OrderLineBulkItemSerializer(many=True, max_length=MAX_ORDER_LINES)


def _bulk_body(item_serializer: type[serializers.Serializer], name: str) -> type[serializers.Serializer]:
    return type(name, (serializers.Serializer,), {"items": item_serializer(many=True, max_length=MAX_BATCH_ITEMS)})


CustomerBulkSerializer = _bulk_body(CustomerBulkItemSerializer, "CustomerBulkSerializer")
ProductBulkSerializer = _bulk_body(ProductBulkItemSerializer, "ProductBulkSerializer")
OrderBulkSerializer = _bulk_body(OrderBulkItemSerializer, "OrderBulkSerializer")


class BulkResultItemSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    source = serializers.CharField()
    external_id = serializers.CharField()
    id = serializers.IntegerField()
    result = serializers.ChoiceField(choices=["created", "updated", "unchanged", "stale", "erased"])
    match = serializers.ChoiceField(
        choices=["identity", "email", "phone", "sku", "new"],
        required=False,
        help_text="Customers and products: how the stored row was found (email, phone, sku: the identity was linked).",
    )


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    stale = serializers.IntegerField()
    matched = serializers.IntegerField(required=False, help_text="Found by an identity the row already had.")
    linked = serializers.IntegerField(required=False, help_text="Found by email, phone or SKU; the identity was added.")
    items = BulkResultItemSerializer(many=True)


class ApiErrorItemSerializer(serializers.Serializer):
    index = serializers.IntegerField(allow_null=True)
    field = serializers.CharField()
    message = serializers.CharField()


class ApiErrorSerializer(serializers.Serializer):
    errors = ApiErrorItemSerializer(many=True)


# --------------------------------------------------------------------------- single-object input (events, reviews)


class _ShopInputSerializer(serializers.Serializer):
    """Gets the shop in its context and looks customers and products up in that shop only."""

    def _shop(self):
        return self.context["shop"]

    def _customer(self, attrs: dict) -> Customer | None:
        customer_id = attrs.pop("customer_id", None)
        external_id = attrs.pop("customer_external_id", None)
        source = attrs.pop("customer_source", Source.API)
        if customer_id is None and not external_id:
            return None
        customers = Customer.objects.for_shop(self._shop())
        if customer_id is None:
            # through the identities, so the ids of a merged customer still find the one kept
            found = identity.customer_ids_by_identity(shop=self._shop(), pairs=[(source, external_id)])
            customer_id = found.get((source, external_id), 0)
        customer = customers.filter(pk=customer_id).first()
        if customer is None:
            field_name = "customer_id" if customer_id is not None else "customer_external_id"
            raise serializers.ValidationError({field_name: _("No such customer in this shop.")})
        return customer


class EventInputSerializer(_ShopInputSerializer):
    customer_id = serializers.IntegerField(
        required=False, min_value=1, max_value=bounds.MAX_ID, help_text="The customer by id ..."
    )
    customer_external_id = serializers.CharField(required=False, max_length=100, help_text="... or external id")
    customer_source = serializers.ChoiceField(choices=Source.choices, required=False, default=Source.API)
    kind = serializers.ChoiceField(choices=EventKind.choices)
    at = serializers.DateTimeField()
    duration_seconds = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=86400 * 7)
    properties = serializers.DictField(required=False, default=dict)

    def validate_properties(self, value: dict) -> dict:
        if len(json.dumps(value, default=str)) > 10_000:
            raise serializers.ValidationError(_("Keep properties under 10,000 characters of JSON."))
        return value

    def validate(self, attrs: dict) -> dict:
        attrs["customer"] = self._customer(attrs)
        return attrs


class ReviewInputSerializer(_ShopInputSerializer):
    customer_id = serializers.IntegerField(required=False, min_value=1, max_value=bounds.MAX_ID)
    customer_external_id = serializers.CharField(required=False, max_length=100)
    customer_source = serializers.ChoiceField(choices=Source.choices, required=False, default=Source.API)
    product_id = serializers.IntegerField(
        required=False, min_value=1, max_value=bounds.MAX_ID, help_text="The product by id, sku or external id."
    )
    product_sku = serializers.CharField(required=False, max_length=100)
    product_external_id = serializers.CharField(required=False, max_length=100)
    product_source = serializers.ChoiceField(choices=Source.choices, required=False, default=Source.API)
    rating = serializers.IntegerField(min_value=1, max_value=5)
    text = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)
    created_at = serializers.DateTimeField(required=False, help_text="Default: now.")

    def validate(self, attrs: dict) -> dict:
        attrs["customer"] = self._customer(attrs)
        products = Product.objects.for_shop(self._shop())
        product_id = attrs.pop("product_id", None)
        sku = attrs.pop("product_sku", None)
        external_id = attrs.pop("product_external_id", None)
        source = attrs.pop("product_source", Source.API)
        if product_id is not None:
            product, field_name = products.filter(pk=product_id).first(), "product_id"
        elif external_id:
            found = identity.product_ids_by_identity(shop=self._shop(), pairs=[(source, external_id)])
            product = products.filter(pk=found.get((source, external_id), 0)).first()
            field_name = "product_external_id"
        elif sku:
            product, field_name = products.filter(sku=sku).order_by("pk").first(), "product_sku"
        else:
            raise serializers.ValidationError({"product_id": _("Name the product by product_id, sku or external id.")})
        if product is None:
            raise serializers.ValidationError({field_name: _("No such product in this shop.")})
        attrs["product"] = product
        return attrs


class CreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
