"""Writes of customers, products, orders, events and reviews; every function takes shop= first.

The upserts are set-based: for a batch they read the stored rows in one query per
table, then bulk-create the new rows, bulk-update the changed ones and replace the
lines of changed orders. No query runs per item. Items are keyed by
(shop, source, external_id); an item whose `updated_at` is older than the stored
row's `source_updated_at` is skipped as "stale", so replays and out-of-order
deliveries end in the newest state.

Each upsert takes a per-shop, per-table lock on PostgreSQL (an advisory transaction
lock) so two writers of the same shop cannot interleave their read-compare-write;
callers that upsert several tables in one transaction go customers -> products ->
orders, always in that order, so they cannot deadlock.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Greatest, Least, Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from customers import identity
from customers.identity import column_in
from customers.keys import email_key, erased_digest
from customers.models import (
    Customer,
    CustomerIdentity,
    Event,
    IdempotencyRecord,
    IdentityKind,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    Review,
    Source,
    SurveyResponse,
)
from customers.money import OrderMoneyError, order_sign_normalised
from customers.signals import customers_erased, data_changed
from shops import bounds
from shops.audit import audit_record
from shops.models import AuditAction, Shop

CUSTOMER_FIELDS = (
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
)
PRODUCT_FIELDS = ("sku", "title", "category", "brand", "price")
# What an upsert may write on a customer (the keys and stamps follow from these).
_CUSTOMER_WRITABLE = frozenset(CUSTOMER_FIELDS) | {"postcode", "age_range", "interests"}
ORDER_FIELDS = ("placed_at", "currency", "total", "status")

# What customer_erase blanks; everything that says who the person is.
_ERASED_VALUES: dict[str, Any] = {
    "email": "",
    "first_name": "",
    "last_name": "",
    "phone": "",
    "birth_date": None,
    "gender": "",
    "occupation": "",
    "city": "",
    "country": "",
    "tags": [],
    "email_consent": False,
    "email_consent_at": None,
    "postcode": "",
    "province": "",
    "age_range": "",
    "interests": [],
}

_LOCK_KEYS = {"customers": 1, "products": 2, "orders": 3, "idempotency": 4}


# --------------------------------------------------------------------------- inputs and results


@dataclass(slots=True)
class CustomerInput:
    """One customer to upsert; `fields` holds only the fields the sender gave (others are kept)."""

    external_id: str
    source: str = Source.API
    updated_at: dt.datetime | None = None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ProductInput:
    external_id: str
    source: str = Source.API
    updated_at: dt.datetime | None = None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class LineInput:
    """A line names its product by `product_external_id` (same source as the order) or `sku`; neither = no product."""

    quantity: int
    unit_price: Decimal
    sku: str = ""
    product_external_id: str = ""


@dataclass(slots=True)
class OrderInput:
    """One order with all its lines (the lines replace the stored ones when the order changed).

    `fields` may hold placed_at, currency, total, status and customer_external_id
    (None = guest order; absent = keep the stored customer). Without total, the
    total is the sum of the lines.
    """

    external_id: str
    lines: list[LineInput]
    source: str = Source.API
    updated_at: dt.datetime | None = None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ItemError:
    index: int | None
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "message": str(self.message)}


class UpsertError(Exception):
    """The batch was refused and nothing was written; `errors` name the item and field."""

    def __init__(self, errors: list[ItemError]):
        super().__init__("; ".join(f"item {e.index} {e.field}: {e.message}" for e in errors[:5]))
        self.errors = errors


CREATED, UPDATED, UNCHANGED, STALE, ERASED = "created", "updated", "unchanged", "stale", "erased"


@dataclass
class UpsertReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    erased: int = 0  # customers whose personal data was erased: never written again
    matched: int = 0  # items found by an identity the row already had
    linked: int = 0  # items found by email, phone or SKU: their identity was added to the row
    items: list[dict[str, Any]] = field(default_factory=list)
    by_identity: bool = False  # customers and products: items are matched by identity (ADR 0009)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def add(self, *, index: int, item: Any, result: str, pk: int | None, how: str = "") -> None:
        setattr(self, result, getattr(self, result) + 1)
        entry = {"index": index, "source": item.source, "external_id": item.external_id, "id": pk, "result": result}
        if how:
            self.by_identity = True
            entry["match"] = how
            self.matched += how == identity.IDENTITY
            self.linked += how not in (identity.IDENTITY, identity.NEW)
        self.items.append(entry)

    def counts(self) -> dict[str, int]:
        counts = {"created": self.created, "updated": self.updated, "unchanged": self.unchanged, "stale": self.stale}
        if self.erased:
            counts["erased"] = self.erased
        if self.by_identity:
            counts["matched"], counts["linked"] = self.matched, self.linked
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {**self.counts(), "items": self.items}


# --------------------------------------------------------------------------- helpers


def data_changed_on_commit(*, shop_id: int, reason: str) -> None:
    """Tell listeners (analytics) that the shop's facts changed, once the transaction commits."""
    transaction.on_commit(partial(data_changed.send, sender=Shop, shop_id=shop_id, reason=reason))


def shop_table_lock(shop: Shop, table: str) -> None:
    """Serialise writers of one shop's table until the transaction ends (PostgreSQL; SQLite serialises anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_KEYS[table], shop.pk])


def _check_unique_keys(items: Sequence[Any]) -> None:
    seen: dict[tuple[str, str], int] = {}
    errors = []
    for index, item in enumerate(items):
        key = (item.source, item.external_id)
        if not item.external_id:
            continue  # known by email only (a guest's billing details, the survey)
        if key in seen:
            errors.append(
                ItemError(index, "external_id", _("Appears twice in this batch (also item %(n)s).") % {"n": seen[key]})
            )
        else:
            seen[key] = index
    if errors:
        raise UpsertError(errors)


def _keys_q(keys: Iterable[tuple[str, str]]) -> Q:
    """Rows whose (source, external_id) is one of `keys`."""
    by_source: dict[str, list[str]] = defaultdict(list)
    for source, external_id in keys:
        by_source[source].append(external_id)
    query = Q(pk__in=[])
    for source, ids in by_source.items():
        query |= Q(column_in("external_id", ids), source=source)
    return query


def _is_stale(item: Any, stored_at: dt.datetime | None) -> bool:
    return item.updated_at is not None and stored_at is not None and item.updated_at < stored_at


def _apply_fields(obj: Any, values: dict[str, Any], changed: set[str]) -> bool:
    dirty = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.add(name)
            dirty = True
    return dirty


def _bump_source_updated_at(obj: Any, item: Any, changed: set[str]) -> bool:
    """A newer timestamp is stored even when nothing else changed, so an older delivery cannot win later."""
    if item.updated_at is not None and (obj.source_updated_at is None or item.updated_at > obj.source_updated_at):
        obj.source_updated_at = item.updated_at
        changed.add("source_updated_at")
        return True
    return False


def _save_updates(model: type, objs: list, fields: set[str], now: dt.datetime) -> None:
    if not objs:
        return
    for obj in objs:
        obj.updated_at = now
    model.unscoped.bulk_update(objs, sorted(fields | {"updated_at"}), batch_size=500)


# --------------------------------------------------------------------------- customers and products


def customers_upsert(
    *,
    shop: Shop,
    items: Sequence[CustomerInput],
    reason: str | None = None,
    update_existing: bool = True,
) -> UpsertReport:
    """Create or update customers, each found by identity, then email, then phone (ADR 0009).

    An item may have no external_id (it is then known by its email only). A match links the
    item's identity to the stored customer; items of the batch that are the same person
    become one row. Fields merge by customers.identity.customer_fields_merge (the newest value
    of each field wins; an unsubscribe beats an older consent). Erased customers are never
    written again nor created anew. With update_existing=False, existing customers are left
    as they are (an order's billing details are not the customer's profile), but the
    identity is still linked. `reason` set: data_changed is sent after commit.
    Raises UpsertError for duplicate keys in the batch.
    """
    _check_unique_keys(items)
    report = UpsertReport()
    now = timezone.now()
    with transaction.atomic():
        shop_table_lock(shop, "customers")
        matches = identity.customers_resolve(
            shop=shop,
            keys=[
                identity.CustomerKey(
                    item.source, item.external_id, item.fields.get("email") or "", item.fields.get("phone") or ""
                )
                for item in items
            ],
        )
        existing = Customer.objects.for_shop(shop).in_bulk([m.existing_id for m in matches if m.existing_id])
        new_by_group: dict[int, Customer] = {}
        to_update: dict[int, Customer] = {}
        changed_fields: set[str] = set()
        results: list[tuple[int, CustomerInput, str, Customer, identity.Match]] = []
        for index, (item, match) in enumerate(zip(items, matches, strict=True)):
            if match.existing_id is not None:
                obj = existing[match.existing_id]
                if obj.erased_at is not None:
                    results.append((index, item, ERASED, obj, match))
                    continue
                if not update_existing:
                    results.append((index, item, UNCHANGED, obj, match))
                    continue
                touched: set[str] = set()
                result = _customer_merge_item(shop, obj, item, touched, now)
                if touched:
                    to_update[obj.pk] = obj
                    changed_fields |= touched
                results.append((index, item, result, obj, match))
                continue
            obj = new_by_group.get(match.group)
            if obj is None:
                obj = Customer(
                    shop=shop,
                    source=item.source,
                    external_id=item.external_id,
                    source_updated_at=item.updated_at,
                    field_updated_at={},
                )
                new_by_group[match.group] = obj
                _customer_merge_item(shop, obj, item, set(), now)
                results.append((index, item, CREATED, obj, match))
            else:
                _customer_merge_item(shop, obj, item, set(), now)
                results.append((index, item, UPDATED, obj, match))
        Customer.unscoped.bulk_create(list(new_by_group.values()), batch_size=1000)
        _save_updates(Customer, list(to_update.values()), changed_fields, now)
        # An erased customer found by email gets the new identity too: later deliveries by id
        # then find the erased row straight away.
        identity.customer_identities_link(
            shop=shop,
            rows=[
                (obj.pk, item.source, item.external_id) for _i, item, _r, obj, match in results if match.links_identity
            ],
        )
    for index, item, result, obj, match in sorted(results, key=lambda r: r[0]):
        report.add(index=index, item=item, result=result, pk=obj.pk, how=match.how)
    if reason and report.changed:
        data_changed_on_commit(shop_id=shop.pk, reason=reason)
    return report


def _customer_merge_item(shop: Shop, obj: Customer, item: CustomerInput, changed: set[str], now: dt.datetime) -> str:
    """Merge one item's fields into `obj` (in memory); returns UPDATED, UNCHANGED or STALE."""
    stored = {name: getattr(obj, name) for name in item.fields if name in _CUSTOMER_WRITABLE}
    if "email_consent" in item.fields:
        stored["email_consent"] = obj.email_consent
    changes, stamps, stale = identity.customer_fields_merge(
        stored=stored,
        stamps=obj.field_updated_at or {},
        incoming={name: value for name, value in item.fields.items() if name in _CUSTOMER_WRITABLE},
        at=item.updated_at,
        now=now,
    )
    changes.update(identity.customer_keys_for(changes, shop=shop))
    for name, value in changes.items():
        setattr(obj, name, value)
        changed.add(name)
    if stamps != (obj.field_updated_at or {}):
        obj.field_updated_at = stamps
        changed.add("field_updated_at")
    _bump_source_updated_at(obj, item, changed)
    if stale:
        return STALE
    return UPDATED if changes else UNCHANGED


def products_upsert(*, shop: Shop, items: Sequence[ProductInput], reason: str | None = None) -> UpsertReport:
    """Create or update products, each found by identity, then SKU (ADR 0009); only the given fields are written.

    A match by SKU links the item's identity to the stored product; items of the batch with
    the same SKU become one product. An item older than the stored row's newest update is stale.
    """
    _check_unique_keys(items)
    report = UpsertReport()
    now = timezone.now()
    with transaction.atomic():
        shop_table_lock(shop, "products")
        matches = identity.products_resolve(
            shop=shop,
            keys=[identity.ProductKey(item.source, item.external_id, item.fields.get("sku") or "") for item in items],
        )
        existing = Product.objects.for_shop(shop).in_bulk([m.existing_id for m in matches if m.existing_id])
        new_by_group: dict[int, Product] = {}
        to_update: dict[int, Product] = {}
        changed_fields: set[str] = set()
        results, errors = [], []
        for index, (item, match) in enumerate(zip(items, matches, strict=True)):
            fields = {name: value for name, value in item.fields.items() if not _blank(value) or name == "price"}
            obj = existing.get(match.existing_id) if match.existing_id else new_by_group.get(match.group)
            if obj is None:
                if not item.fields.get("title"):
                    errors.append(ItemError(index, "title", _("A new product needs a title.")))
                    continue
                obj = Product(
                    shop=shop,
                    source=item.source,
                    external_id=item.external_id,
                    source_updated_at=item.updated_at,
                    **fields,
                )
                new_by_group[match.group] = obj
                results.append((index, item, CREATED, obj, match))
            elif _is_stale(item, obj.source_updated_at):
                results.append((index, item, STALE, obj, match))
            else:
                dirty = _apply_fields(obj, fields, changed_fields if obj.pk else set())
                touched = _bump_source_updated_at(obj, item, changed_fields if obj.pk else set())
                if obj.pk and (dirty or touched):
                    to_update[obj.pk] = obj
                results.append((index, item, UPDATED if dirty else UNCHANGED, obj, match))
        if errors:
            raise UpsertError(errors)
        Product.unscoped.bulk_create(list(new_by_group.values()), batch_size=1000)
        _save_updates(Product, list(to_update.values()), changed_fields, now)
        identity.product_identities_link(
            shop=shop,
            rows=[
                (obj.pk, item.source, item.external_id) for _i, item, _r, obj, match in results if match.links_identity
            ],
        )
    for index, item, result, obj, match in sorted(results, key=lambda r: r[0]):
        report.add(index=index, item=item, result=result, pk=obj.pk, how=match.how)
    if reason and report.changed:
        data_changed_on_commit(shop_id=shop.pk, reason=reason)
    return report


def _blank(value: Any) -> bool:
    return value is None or value == ""


# --------------------------------------------------------------------------- orders


def _order_references(
    shop: Shop, items: Sequence[OrderInput]
) -> tuple[dict[tuple[str, str], int], dict[str, int], dict[tuple[str, str], int], dict[str, int]]:
    """Ids of the customers and products the batch names, through their identities (so a
    merged customer's old ids still find the survivor): a few queries for the whole batch.

    Returns (customer by (source, external_id), customer by email key, product by (source,
    external_id), product by SKU).
    """
    customer_keys: set[tuple[str, str]] = set()
    emails: set[str] = set()
    product_keys: set[tuple[str, str]] = set()
    skus: set[str] = set()
    for item in items:
        ref = item.fields.get("customer_external_id")
        if ref:
            customer_keys.add((item.source, ref))
        elif item.fields.get("customer_email"):
            emails.add(email_key(item.fields["customer_email"]))
        for line in item.lines:
            if line.product_external_id:
                product_keys.add((item.source, line.product_external_id))
            elif line.sku:
                skus.add(line.sku)
    customers = identity.customer_ids_by_identity(shop=shop, pairs=customer_keys)
    by_email = identity.customer_ids_by_email(shop=shop, keys=emails - {""})
    products = identity.product_ids_by_identity(shop=shop, pairs=product_keys)
    by_sku = identity.product_ids_by_sku(shop=shop, skus=skus)
    return customers, by_email, products, by_sku


def orders_upsert(*, shop: Shop, items: Sequence[OrderInput], reason: str | None = None) -> UpsertReport:
    """Create or update orders with their lines by (source, external_id).

    A changed order gets its lines replaced; an unchanged one (same fields, same
    lines) is not written. Customers and products must exist already (same source
    for external ids; any source for a SKU): an unknown one refuses the whole batch
    with UpsertError naming the item and field. Nothing is written on error.
    """
    _check_unique_keys(items)
    report = UpsertReport()
    now = timezone.now()
    with transaction.atomic():
        shop_table_lock(shop, "orders")
        customers, by_email, products, by_sku = _order_references(shop, items)
        errors: list[ItemError] = []
        resolved: list[tuple[dict[str, Any], list[tuple[int | None, int, Decimal]]]] = []
        for index, item in enumerate(items):
            values = {
                name: value
                for name, value in item.fields.items()
                if name not in ("customer_external_id", "customer_email")
            }
            if not item.fields.get("customer_external_id") and item.fields.get("customer_email"):
                # a guest order with an email belongs to the customer with that email, if there is one
                values["customer_id"] = by_email.get(email_key(item.fields["customer_email"]))
            elif "customer_external_id" in item.fields:
                ref = item.fields["customer_external_id"]
                customer_id = customers.get((item.source, ref)) if ref else None
                if ref and customer_id is None:
                    errors.append(
                        ItemError(
                            index,
                            "customer_external_id",
                            _("No customer with external id “%(ref)s” (source %(source)s); upsert customers first.")
                            % {"ref": ref, "source": item.source},
                        )
                    )
                values["customer_id"] = customer_id
            lines = []
            for n, line in enumerate(item.lines):
                product_id = None
                if line.product_external_id:
                    product_id = products.get((item.source, line.product_external_id))
                    if product_id is None:
                        errors.append(
                            ItemError(
                                index,
                                f"lines[{n}].product_external_id",
                                _("No product with external id “%(ref)s”; upsert products first.")
                                % {"ref": line.product_external_id},
                            )
                        )
                elif line.sku:
                    product_id = by_sku.get(line.sku)
                    if product_id is None:
                        errors.append(
                            ItemError(
                                index,
                                f"lines[{n}].sku",
                                _("No product with SKU “%(sku)s”; upsert products first.") % {"sku": line.sku},
                            )
                        )
                lines.append((product_id, line.quantity, line.unit_price))
            if "total" not in values:
                # as placed (ADR 0007): the goods sold; an order of returns only is a credit note
                sold = sum((q * p for _pid, q, p in lines if q * p > 0), Decimal("0.00"))
                values["total"] = sold if sold > 0 else sum((q * p for _pid, q, p in lines), Decimal("0.00"))
            try:
                status = order_sign_normalised(
                    values.get("status", OrderStatus.PAID), values["total"], [(q, p) for _pid, q, p in lines]
                )
            except OrderMoneyError as exc:
                errors.append(ItemError(index, exc.field, exc.message))
            else:
                if status != values.get("status", OrderStatus.PAID):
                    values["status"] = status
            resolved.append((values, lines))
        if errors:
            raise UpsertError(errors)

        # The stored orders are locked until commit: their lines are replaced below, and with no
        # database foreign key on lines (see OrderLine) a concurrent delete must wait for us.
        existing = {}
        for row in (
            Order.objects.for_shop(shop)
            .select_for_update()
            .filter(_keys_q((i.source, i.external_id) for i in items))
            .values("pk", "source", "external_id", *_ORDER_READ_FIELDS, placed_at_read=_PLACED_AT_READ)
        ):
            row["placed_at"] = row.pop("placed_at_read")
            existing[(row["source"], row["external_id"])] = row
        stored_lines: dict[int, list[tuple[int | None, int, Decimal]]] = defaultdict(list)
        if existing:
            for order_id, product_id, quantity, unit_price in (
                OrderLine.objects.for_shop(shop)
                .filter(column_in("order_id", [row["pk"] for row in existing.values()], array_type="bigint[]"))
                .order_by("order_id", "pk")
                .values_list("order_id", "product_id", "quantity", "unit_price")
            ):
                stored_lines[order_id].append((product_id, quantity, unit_price))

        inserts: list[tuple[int, OrderInput, dict[str, Any], list]] = []
        updates: list[dict[str, Any]] = []
        replace_lines: list[tuple[int, list]] = []
        changed_fields: set[str] = set()
        results: list[tuple[int, OrderInput, str, int]] = []
        for index, (item, (values, lines)) in enumerate(zip(items, resolved, strict=True)):
            row = existing.get((item.source, item.external_id))
            if row is None:
                if "placed_at" not in values:
                    errors.append(ItemError(index, "placed_at", _("A new order needs placed_at.")))
                    continue
                new = {"customer_id": None, "currency": shop.currency, "status": OrderStatus.PAID, **values}
                new.update(source=item.source, external_id=item.external_id, source_updated_at=item.updated_at)
                inserts.append((index, item, new, lines))
            elif _is_stale(item, row["source_updated_at"]):
                results.append((index, item, STALE, row["pk"]))
            else:
                dirty = False
                for name, value in values.items():
                    if row[name] != value:
                        row[name] = value
                        changed_fields.add(name)
                        dirty = True
                lines_differ = stored_lines.get(row["pk"], []) != lines
                if item.updated_at is not None and (
                    row["source_updated_at"] is None or item.updated_at > row["source_updated_at"]
                ):
                    row["source_updated_at"] = item.updated_at  # newer stamp kept, so older deliveries lose later
                    changed_fields.add("source_updated_at")
                    updates.append(row)
                elif dirty or lines_differ:
                    updates.append(row)
                if lines_differ:
                    replace_lines.append((row["pk"], lines))
                results.append((index, item, UPDATED if dirty or lines_differ else UNCHANGED, row["pk"]))
        if errors:
            raise UpsertError(errors)

        new_ids = _orders_insert(shop, [new for _i, _item, new, _lines in inserts], now)
        _orders_update(shop, updates, changed_fields, now)
        if replace_lines:
            _order_lines_delete(shop, [order_id for order_id, _lines in replace_lines])
        _order_lines_insert(
            shop,
            [
                (order_id, product_id, quantity, unit_price)
                for order_id, lines in [*zip(new_ids, (i[3] for i in inserts), strict=True), *replace_lines]
                for product_id, quantity, unit_price in lines
            ],
        )
    results.extend((index, item, CREATED, pk) for (index, item, _new, _lines), pk in zip(inserts, new_ids, strict=True))
    for index, item, result, pk in sorted(results, key=lambda r: r[0]):
        report.add(index=index, item=item, result=result, pk=pk)
    if reason and report.changed:
        data_changed_on_commit(shop_id=shop.pk, reason=reason)
    return report


# Orders and lines are written in bulk without model instances: on PostgreSQL with COPY and
# UPDATE ... FROM unnest(arrays), elsewhere with bulk_create / bulk_update. Either way no
# save() and no model signals run, as with any bulk write.
_ORDER_ROW_FIELDS = ("customer_id", "placed_at", "currency", "total", "status", "source_updated_at")
_ORDER_READ_FIELDS = tuple(name for name in _ORDER_ROW_FIELDS if name != "placed_at")
# A stored time outside the range every way in accepts now (shops.bounds; such rows were stored
# before) is read at the range's edge: Python cannot even hold 1 BC, and the order must stay
# mendable by sending it again with its right date.
_PLACED_AT_READ = Greatest(Least(F("placed_at"), Value(dt.datetime(9000, 1, 1, tzinfo=dt.UTC))), Value(bounds.EARLIEST))
_ORDER_INSERT_FIELDS = ("source", "external_id", *_ORDER_ROW_FIELDS)


def _copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    quote = connection.ops.quote_name
    sql = f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _orders_insert(shop: Shop, rows: list[dict[str, Any]], now: dt.datetime) -> list[int]:
    """Insert order rows; returns their ids in the same order."""
    if not rows:
        return []
    if connection.vendor == "postgresql":
        meta = Order._meta
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, len(rows)],
            )
            ids = [pk for (pk,) in cursor.fetchall()]
        columns = [meta.pk.column, "shop_id", "created_at", "updated_at"]
        columns += [meta.get_field(name).column for name in _ORDER_INSERT_FIELDS]
        _copy_rows(
            meta.db_table,
            columns,
            (
                [pk, shop.pk, now, now, *(row[name] for name in _ORDER_INSERT_FIELDS)]
                for pk, row in zip(ids, rows, strict=True)
            ),
        )
        return ids
    objs = [Order(shop=shop, **row) for row in rows]
    Order.unscoped.bulk_create(objs, batch_size=1000)
    return [obj.pk for obj in objs]


def _orders_update(shop: Shop, rows: list[dict[str, Any]], fields: set[str], now: dt.datetime) -> None:
    if not rows:
        return
    names = sorted(fields)
    if connection.vendor == "postgresql":
        meta, quote = Order._meta, connection.ops.quote_name
        model_fields = [meta.get_field(name) for name in names]
        columns = [quote(f.column) for f in model_fields]
        types = [f.db_type(connection) for f in model_fields]
        arrays = [[row["pk"] for row in rows]] + [[row[name] for row in rows] for name in names]
        # Only model metadata goes into the SQL text (names and types); values are parameters.
        assignments = ", ".join([f"{c} = v.{c}" for c in columns] + [f"{quote('updated_at')} = %s"])
        arrays_sql = ", ".join(["%s::bigint[]"] + [f"%s::{t}[]" for t in types])
        table, pk_column = quote(meta.db_table), quote(meta.pk.column)
        sql = f"UPDATE {table} AS t SET {assignments} FROM unnest({arrays_sql}) AS v({', '.join(['id', *columns])})"  # noqa: S608
        sql += f" WHERE t.{pk_column} = v.id AND t.shop_id = %s"
        with connection.cursor() as cursor:
            cursor.execute(sql, [now, *arrays, shop.pk])
        return
    objs = [Order(pk=row["pk"], shop=shop, updated_at=now, **{name: row[name] for name in names}) for row in rows]
    Order.unscoped.bulk_update(objs, [*names, "updated_at"], batch_size=500)


def _order_lines_delete(shop: Shop, order_ids: list[int]) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            table = connection.ops.quote_name(OrderLine._meta.db_table)
            sql = f"DELETE FROM {table} WHERE shop_id = %s AND order_id = ANY(%s::bigint[])"  # noqa: S608 - model metadata only
            cursor.execute(sql, [shop.pk, order_ids])
        return
    OrderLine.objects.for_shop(shop).filter(order_id__in=order_ids).delete()


def _order_lines_insert(shop: Shop, rows: list[tuple[int, int | None, int, Decimal]]) -> None:
    if not rows:
        return
    if connection.vendor == "postgresql":
        columns = ["shop_id", "order_id", "product_id", "quantity", "unit_price"]
        _copy_rows(OrderLine._meta.db_table, columns, ((shop.pk, *row) for row in rows))
        return
    OrderLine.unscoped.bulk_create(
        [OrderLine(shop=shop, order_id=o, product_id=p, quantity=q, unit_price=u) for o, p, q, u in rows],
        batch_size=3000,
    )


def order_delete(*, shop: Shop, source: str, external_id: str) -> bool:
    """Delete one order (and its lines) by key; False if there was none.

    The order is locked first, so a writer adding lines to it (which locks it too) finishes
    before its lines are deleted, or finds it gone and creates it anew.
    """
    with transaction.atomic():
        orders = Order.objects.for_shop(shop).filter(source=source, external_id=external_id)
        if not list(orders.select_for_update().values_list("pk", flat=True)):
            return False
        deleted, _detail = orders.delete()
    return deleted > 0


def order_delete_by_id(*, shop: Shop, order_id: int) -> bool:
    """Delete one order of the shop (and its lines) by id; False if there was none. Locks it
    first, as order_delete does."""
    with transaction.atomic():
        orders = Order.objects.for_shop(shop).filter(pk=order_id)
        if not list(orders.select_for_update().values_list("pk", flat=True)):
            return False
        deleted, _detail = orders.only("pk").delete()  # the key only: the row's date may be unreadable
    return deleted > 0


# --------------------------------------------------------------------------- events and reviews


def event_create(
    *,
    shop: Shop,
    kind: str,
    at: dt.datetime,
    customer: Customer | None = None,
    duration_seconds: int | None = None,
    properties: dict[str, Any] | None = None,
) -> Event:
    """Record one browsing event (page view, search, cart, checkout); `customer` must be the shop's.

    Sends no data_changed: events arrive one by one, often, and must not start an
    analysis run each; the next batch, import or sync picks them up.
    """
    if customer is not None and customer.shop_id != shop.pk:
        raise ValueError("customer belongs to another shop")
    event = Event.unscoped.create(
        shop=shop,
        customer=customer,
        kind=kind,
        at=at,
        duration_seconds=duration_seconds,
        properties=properties or {},
    )
    return event


def review_create(
    *,
    shop: Shop,
    product: Product,
    rating: int,
    text: str = "",
    customer: Customer | None = None,
    created_at: dt.datetime | None = None,
) -> Review:
    """Record one product review (rating 1-5); product and customer must be the shop's."""
    if product.shop_id != shop.pk or (customer is not None and customer.shop_id != shop.pk):
        raise ValueError("product or customer belongs to another shop")
    review = Review.unscoped.create(
        shop=shop,
        product=product,
        customer=customer,
        rating=rating,
        text=text,
        created_at=created_at or timezone.now(),
    )
    return review


# --------------------------------------------------------------------------- erasure


def customers_erase(
    *, shop: Shop, customer_ids: Iterable[int], now: dt.datetime | None = None, actor: Any = None
) -> int:
    """Erase the personal data of these customers of the shop; returns how many were erased.

    Blanks every field that identifies the person, withdraws consent, deletes their
    survey answers, clears event properties and review texts. The row, its identities
    (source ids) and its orders stay, anonymised, so revenue and segments still add up. Its
    email and phone, current and former, are kept only as one-way digests: any source that
    sends them again finds the erased row, and nothing creates the person anew (ADR 0009).
    Their copies go too (ADR 0010): stored webhook payloads, uploaded files and reports
    (customers.retention), and, through the customers_erased signal, campaign recipients,
    suppressions (kept as a digest) and derived scores.
    """
    now = now or timezone.now()
    customers = Customer.objects.for_shop(shop).filter(pk__in=list(customer_ids))
    rows = list(customers.values_list("pk", "email_key", "phone_key"))
    if not rows:
        return 0
    ids = [pk for pk, _email, _phone in rows]
    from customers import retention  # retention reads the importers, which import this module

    marks = retention.person_marks(shop=shop, customer_ids=ids)  # before the rows are blanked
    identities = CustomerIdentity.objects.for_shop(shop).filter(customer_id__in=ids)
    aliases = list(
        identities.filter(source__in=[IdentityKind.EMAIL, IdentityKind.PHONE]).values_list(
            "customer_id", "source", "external_id"
        )
    )
    # Some sources name a customer by their email (the Shopify and WooCommerce CSV layouts):
    # such an id is personal data too, and goes the way of the email.
    email_ids = list(identities.filter(external_id__contains="@").values_list("customer_id", "pk", "external_id"))
    aliases += [(pk, IdentityKind.EMAIL, email_key(external_id)) for pk, _id, external_id in email_ids]
    erased_kind = {IdentityKind.EMAIL: IdentityKind.ERASED_EMAIL, IdentityKind.PHONE: IdentityKind.ERASED_PHONE}
    keys = [(pk, IdentityKind.EMAIL, email) for pk, email, _phone in rows]
    keys += [(pk, IdentityKind.PHONE, phone) for pk, _email, phone in rows]
    digests = [
        (pk, erased_kind[kind], erased_digest(shop_id=shop.pk, key=key)) for pk, kind, key in [*keys, *aliases] if key
    ]
    with transaction.atomic():
        customers.update(
            **_ERASED_VALUES, email_key="", phone_key="", field_updated_at={}, erased_at=now, updated_at=now
        )
        customers.filter(external_id__contains="@").update(external_id="")
        identities.filter(pk__in=[pk_identity for _pk, pk_identity, _e in email_ids]).delete()
        identities.filter(source__in=[IdentityKind.EMAIL, IdentityKind.PHONE]).delete()
        identity.customer_identities_link(shop=shop, rows=digests)
        survey = SurveyResponse.objects.for_shop(shop).alias(address=Lower("email"))
        survey.filter(Q(customer_id__in=ids) | Q(address__in=sorted(marks.emails))).delete()
        # a merge record keeps the merged person's data for its undo: that goes too
        from customers.merging import customer_merge_records_erase  # merging imports this module

        customer_merge_records_erase(shop=shop, customer_ids=ids)
        Event.objects.for_shop(shop).filter(customer_id__in=ids).update(properties={})
        Review.objects.for_shop(shop).filter(customer_id__in=ids).update(text="")
        retention.personal_traces_erase(shop=shop, marks=marks)
        customers_erased.send(
            sender=Customer,
            shop=shop,
            customer_ids=ids,
            emails=sorted(marks.emails),
            phones=sorted(marks.phones),
            names=sorted(" ".join(words) for words in marks.names),
        )
        # ids only: the log must not keep what the erasure just removed
        audit_record(
            shop=shop,
            action=AuditAction.ERASURE,
            actor=actor,
            target=("customer", ids[0]) if len(ids) == 1 else None,
            details={"customers": len(ids), "customer_ids": ids},
        )
    return len(ids)


def customer_erase(*, shop: Shop, customer: Customer, now: dt.datetime | None = None, actor: Any = None) -> Customer:
    """Erase one customer's personal data (see customers_erase); returns the refreshed row.
    `actor` is the team member who asked, for the audit log."""
    customers_erase(shop=shop, customer_ids=[customer.pk], now=now, actor=actor)
    customer.refresh_from_db()
    return customer


# --------------------------------------------------------------------------- idempotency


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before for a different request."""


def idempotency_record_get(*, shop: Shop, key: str, endpoint: str, request_hash: str) -> IdempotencyRecord | None:
    """The stored answer for this key, None if the key is new; IdempotencyConflict if it was used differently."""
    record = IdempotencyRecord.objects.for_shop(shop).filter(key=key).first()
    if record is not None and (record.request_hash != request_hash or record.endpoint != endpoint):
        raise IdempotencyConflict(key)
    return record


def idempotency_record_save(
    *, shop: Shop, key: str, endpoint: str, request_hash: str, status: int, body: Any
) -> IdempotencyRecord:
    """Store the first answer to a keyed request (raises IntegrityError if a concurrent one stored it first)."""
    return IdempotencyRecord.unscoped.create(
        shop=shop, key=key, endpoint=endpoint, request_hash=request_hash, response_status=status, response_body=body
    )
