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
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import (
    Customer,
    Event,
    IdempotencyRecord,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    Review,
    Source,
    SurveyResponse,
)
from customers.money import OrderMoneyError, order_sign_normalised
from customers.signals import data_changed
from shops.models import Shop

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
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def add(self, *, index: int, item: Any, result: str, pk: int | None) -> None:
        setattr(self, result, getattr(self, result) + 1)
        self.items.append(
            {"index": index, "source": item.source, "external_id": item.external_id, "id": pk, "result": result}
        )

    def counts(self) -> dict[str, int]:
        counts = {"created": self.created, "updated": self.updated, "unchanged": self.unchanged, "stale": self.stale}
        if self.erased:
            counts["erased"] = self.erased
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {**self.counts(), "items": self.items}


# --------------------------------------------------------------------------- helpers


def data_changed_on_commit(*, shop_id: int, reason: str) -> None:
    """Tell listeners (analytics) that the shop's facts changed, once the transaction commits."""
    transaction.on_commit(partial(data_changed.send, sender=Shop, shop_id=shop_id, reason=reason))


def _lock(shop: Shop, table: str) -> None:
    """Serialise writers of one shop's table until the transaction ends (PostgreSQL; SQLite serialises anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_KEYS[table], shop.pk])


def _check_unique_keys(items: Sequence[Any]) -> None:
    seen: dict[tuple[str, str], int] = {}
    errors = []
    for index, item in enumerate(items):
        key = (item.source, item.external_id)
        if key in seen:
            errors.append(
                ItemError(index, "external_id", _("Appears twice in this batch (also item %(n)s).") % {"n": seen[key]})
            )
        else:
            seen[key] = index
    if errors:
        raise UpsertError(errors)


def _in(column: str, values: Iterable[Any], *, array_type: str = "text[]") -> Q:
    """`column IN values`, as one typed array parameter on PostgreSQL (`= ANY(%s::text[])`).

    A batch names up to thousands of keys; one placeholder per key makes the driver's
    client-side query parsing the slowest part of the read. The explicit array type lets
    PostgreSQL hash the list and use the column's index.
    """
    values = list(values)
    if connection.vendor == "postgresql":
        # column and array_type come from this module only, never from input
        sql = f"{connection.ops.quote_name(column)} = ANY(%s::{array_type})"
        return Q(RawSQL(sql, [values], output_field=BooleanField()))  # noqa: S611
    return Q(**{f"{column}__in": values})


def _keys_q(keys: Iterable[tuple[str, str]]) -> Q:
    """Rows whose (source, external_id) is one of `keys`."""
    by_source: dict[str, list[str]] = defaultdict(list)
    for source, external_id in keys:
        by_source[source].append(external_id)
    query = Q(pk__in=[])
    for source, ids in by_source.items():
        query |= Q(_in("external_id", ids), source=source)
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
    """Create or update customers by (source, external_id).

    Only the fields an item gives are written. Erased customers are never written
    again (their personal data stays blank). With update_existing=False, existing
    customers are left as they are (used for an order's billing details, which are
    not the customer's profile). `reason` set: data_changed is sent after commit.
    Raises UpsertError for duplicate keys in the batch.
    """
    _check_unique_keys(items)
    report = UpsertReport()
    now = timezone.now()
    with transaction.atomic():
        _lock(shop, "customers")
        existing = {
            (c.source, c.external_id): c
            for c in Customer.objects.for_shop(shop).filter(_keys_q((i.source, i.external_id) for i in items))
        }
        to_create: list[tuple[int, CustomerInput, Customer]] = []
        to_update, changed_fields, results = [], set(), []
        for index, item in enumerate(items):
            obj = existing.get((item.source, item.external_id))
            if obj is None:
                new = Customer(
                    shop=shop,
                    source=item.source,
                    external_id=item.external_id,
                    source_updated_at=item.updated_at,
                    **item.fields,
                )
                to_create.append((index, item, new))
                continue
            if obj.erased_at is not None:
                results.append((index, item, ERASED, obj))
            elif not update_existing or _is_stale(item, obj.source_updated_at):
                results.append((index, item, STALE if update_existing else UNCHANGED, obj))
            else:
                dirty = _apply_fields(obj, item.fields, changed_fields)
                touched = _bump_source_updated_at(obj, item, changed_fields)
                if dirty or touched:
                    to_update.append(obj)
                results.append((index, item, UPDATED if dirty else UNCHANGED, obj))
        Customer.unscoped.bulk_create([obj for _i, _item, obj in to_create], batch_size=1000)
        _save_updates(Customer, to_update, changed_fields, now)
    results.extend((index, item, CREATED, obj) for index, item, obj in to_create)
    for index, item, result, obj in sorted(results, key=lambda r: r[0]):
        report.add(index=index, item=item, result=result, pk=obj.pk)
    if reason and report.changed:
        data_changed_on_commit(shop_id=shop.pk, reason=reason)
    return report


def products_upsert(*, shop: Shop, items: Sequence[ProductInput], reason: str | None = None) -> UpsertReport:
    """Create or update products by (source, external_id); only the given fields are written."""
    _check_unique_keys(items)
    report = UpsertReport()
    now = timezone.now()
    with transaction.atomic():
        _lock(shop, "products")
        existing = {
            (p.source, p.external_id): p
            for p in Product.objects.for_shop(shop).filter(_keys_q((i.source, i.external_id) for i in items))
        }
        to_create, to_update, changed_fields, results = [], [], set(), []
        errors = []
        for index, item in enumerate(items):
            obj = existing.get((item.source, item.external_id))
            if obj is None:
                if not item.fields.get("title"):
                    errors.append(ItemError(index, "title", _("A new product needs a title.")))
                    continue
                new = Product(
                    shop=shop,
                    source=item.source,
                    external_id=item.external_id,
                    source_updated_at=item.updated_at,
                    **item.fields,
                )
                to_create.append((index, item, new))
            elif _is_stale(item, obj.source_updated_at):
                results.append((index, item, STALE, obj))
            else:
                dirty = _apply_fields(obj, item.fields, changed_fields)
                touched = _bump_source_updated_at(obj, item, changed_fields)
                if dirty or touched:
                    to_update.append(obj)
                results.append((index, item, UPDATED if dirty else UNCHANGED, obj))
        if errors:
            raise UpsertError(errors)
        Product.unscoped.bulk_create([obj for _i, _item, obj in to_create], batch_size=1000)
        _save_updates(Product, to_update, changed_fields, now)
    results.extend((index, item, CREATED, obj) for index, item, obj in to_create)
    for index, item, result, obj in sorted(results, key=lambda r: r[0]):
        report.add(index=index, item=item, result=result, pk=obj.pk)
    if reason and report.changed:
        data_changed_on_commit(shop_id=shop.pk, reason=reason)
    return report


# --------------------------------------------------------------------------- orders


def _order_references(
    shop: Shop, items: Sequence[OrderInput]
) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int], dict[str, int]]:
    """Ids of the customers and products the batch names: three queries for the whole batch."""
    customer_keys: dict[str, set[str]] = defaultdict(set)
    product_keys: dict[str, set[str]] = defaultdict(set)
    skus: set[str] = set()
    for item in items:
        ref = item.fields.get("customer_external_id")
        if ref:
            customer_keys[item.source].add(ref)
        for line in item.lines:
            if line.product_external_id:
                product_keys[item.source].add(line.product_external_id)
            elif line.sku:
                skus.add(line.sku)
    customers: dict[tuple[str, str], int] = {}
    if customer_keys:
        query = _keys_q((source, ref) for source, refs in customer_keys.items() for ref in refs)
        for pk, source, external_id in (
            Customer.objects.for_shop(shop).filter(query).values_list("pk", "source", "external_id")
        ):
            customers[(source, external_id)] = pk
    products: dict[tuple[str, str], int] = {}
    if product_keys:
        query = _keys_q((source, ref) for source, refs in product_keys.items() for ref in refs)
        for pk, source, external_id in (
            Product.objects.for_shop(shop).filter(query).values_list("pk", "source", "external_id")
        ):
            products[(source, external_id)] = pk
    by_sku: dict[str, int] = {}
    if skus:
        # Several products may share a SKU across sources; the oldest wins, deterministically.
        for pk, sku in Product.objects.for_shop(shop).filter(_in("sku", skus)).order_by("-pk").values_list("pk", "sku"):
            by_sku[sku] = pk
    return customers, products, by_sku


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
        _lock(shop, "orders")
        customers, products, by_sku = _order_references(shop, items)
        errors: list[ItemError] = []
        resolved: list[tuple[dict[str, Any], list[tuple[int | None, int, Decimal]]]] = []
        for index, item in enumerate(items):
            values = {name: value for name, value in item.fields.items() if name != "customer_external_id"}
            if "customer_external_id" in item.fields:
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
        existing = {
            (row["source"], row["external_id"]): row
            for row in Order.objects.for_shop(shop)
            .select_for_update()
            .filter(_keys_q((i.source, i.external_id) for i in items))
            .values("pk", "source", "external_id", *_ORDER_ROW_FIELDS)
        }
        stored_lines: dict[int, list[tuple[int | None, int, Decimal]]] = defaultdict(list)
        if existing:
            for order_id, product_id, quantity, unit_price in (
                OrderLine.objects.for_shop(shop)
                .filter(_in("order_id", [row["pk"] for row in existing.values()], array_type="bigint[]"))
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


def customers_erase(*, shop: Shop, customer_ids: Iterable[int], now: dt.datetime | None = None) -> int:
    """Erase the personal data of these customers of the shop; returns how many were erased.

    Blanks every field that identifies the person, withdraws consent, deletes their
    survey answers, clears event properties and review texts. The row, its key
    (source, external_id) and its orders stay, anonymised, so revenue and segments
    still add up; later upserts never write personal data to it again.
    """
    now = now or timezone.now()
    ids = list(Customer.objects.for_shop(shop).filter(pk__in=list(customer_ids)).values_list("pk", flat=True))
    if not ids:
        return 0
    with transaction.atomic():
        Customer.objects.for_shop(shop).filter(pk__in=ids).update(**_ERASED_VALUES, erased_at=now, updated_at=now)
        SurveyResponse.objects.for_shop(shop).filter(customer_id__in=ids).delete()
        Event.objects.for_shop(shop).filter(customer_id__in=ids).update(properties={})
        Review.objects.for_shop(shop).filter(customer_id__in=ids).update(text="")
    return len(ids)


def customer_erase(*, shop: Shop, customer: Customer, now: dt.datetime | None = None) -> Customer:
    """Erase one customer's personal data (see customers_erase); returns the refreshed row."""
    customers_erase(shop=shop, customer_ids=[customer.pk], now=now)
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
