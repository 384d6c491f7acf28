"""Bulk upsert of cleaned frames: customers and products found as every way in finds them,
orders keyed by (shop, source="csv", external_id).

Call these inside one transaction.atomic(): they write customers, products, orders, then
lines, each in large batches. A customer is found by its CSV id (a known identity), then by
email, then by phone when the shop matches by phone; a product by its CSV id, then by SKU
(customers.identity, ADR 0009). A row found by email, phone or SKU gets the CSV id as a new
identity, so the next import finds it straight away. Only changed rows are updated; an order
whose lines differ from the stored ones gets its lines replaced, so importing the same file
twice changes nothing. Empty cells never erase a stored value.

On PostgreSQL new rows go in with COPY (ids reserved from the table's sequence first, so
lines can point at their orders); elsewhere with bulk_create and, for lines, executemany.
Both set shop_id explicitly: raw SQL bypasses the scoped manager, so the shop given here
is the wall.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd
from django.db import connection, models
from django.utils import timezone

from customers import identity
from customers.identity import column_in
from customers.importers.readers import cents_to_decimal, cents_to_strings
from customers.keys import email_key
from customers.models import Customer, CustomerIdentity, Order, OrderLine, Product, ProductIdentity, Source
from customers.money import net_cents
from customers.services import shop_table_lock
from shops.models import Shop

ProgressFn = Callable[[str, int, int], None]

IN_CHUNK = 900  # values per IN (...): under SQLite's 999 query parameters
LINE_BATCH = 50_000
BULK_BATCH = 2_000
CUSTOMER_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "phone",
    "birth_date",
    "gender",
    "city",
    "country",
    "email_consent",
    "province",
    "postcode",
    "tags",
)
PRODUCT_FIELDS = ("sku", "title", "category", "brand", "price", "image_url", "tags")
ORDER_FIELDS = ("customer_id", "placed_at", "currency", "total", "status")
# Written only when the file has them (orders frame columns <name>_cents / discount_code); an
# order that states none keeps what is stored, like any empty cell.
ORDER_AMOUNT_FIELDS = ("shipping", "tax", "discount")
ORDER_TEXT_FIELDS = ("discount_code",)
# Tags as Customer.tags / Product.tags hold them (the API's limits): at most 50, 100 characters each.
MAX_TAGS, MAX_TAG_LENGTH = 50, 100


@dataclass
class Changes:
    """What an upsert did (or, in a dry run, would do) to one kind of row."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


@dataclass
class MatchedChanges(Changes):
    """Changes to customers or products, with how the file's rows were found (ADR 0009).

    Each customer (product) of the file is one of: matched (its CSV id is a known identity),
    linked (found by email, phone or SKU, in the shop or among the file's own rows; its CSV id
    was added to that row), created (the first of a new row) or erased (an erased customer:
    nothing written). updated / unchanged count the matched and linked items found in the
    shop, by whether the file changed the stored row.
    """

    matched: int = 0
    linked: int = 0
    erased: int = 0

    def as_dict(self) -> dict[str, int]:
        return super().as_dict() | {"matched": self.matched, "linked": self.linked, "erased": self.erased}


@dataclass
class WriteResult:
    customers: MatchedChanges = field(default_factory=MatchedChanges)
    products: MatchedChanges = field(default_factory=MatchedChanges)
    orders: Changes = field(default_factory=Changes)
    lines_written: int = 0
    lines_deleted: int = 0


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _existing(
    model: type[models.Model], *, shop: Shop, keys: list[str], fields: list[str], lock: bool = False
) -> dict[str, dict]:
    """external_id -> {id, *fields} of the shop's CSV rows among `keys` (read in chunks); with
    `lock`, the rows stay locked (FOR UPDATE) until the transaction ends."""
    found: dict[str, dict] = {}
    if not model.unscoped.filter(shop=shop, source=Source.CSV).exists():
        return found
    for chunk in _chunks(keys, IN_CHUNK):
        rows = model.unscoped.filter(shop=shop, source=Source.CSV, external_id__in=chunk)
        if lock:
            rows = rows.select_for_update()
        for row in rows.values("id", "external_id", *fields):
            found[row["external_id"]] = row
    return found


def _stored(model: type[models.Model], *, shop: Shop, ids: Iterable[int], fields: list[str]) -> dict[int, dict]:
    """pk -> {id, *fields} of the shop's rows among `ids` (one query on PostgreSQL, chunks elsewhere)."""
    wanted = sorted(set(ids))
    found: dict[int, dict] = {}
    chunks = [wanted] if connection.vendor == "postgresql" else _chunks(wanted, IN_CHUNK)
    for chunk in chunks:
        if not chunk:
            continue
        rows = model.unscoped.filter(shop=shop).filter(column_in("id", chunk, array_type="bigint[]"))
        for row in rows.values("id", *fields):
            found[row["id"]] = row
    return found


def create_rows(model: type[models.Model], rows: list[dict]) -> list[int]:
    """Insert new rows given as {attname: value} (unset fields get their defaults); returns their pks.

    COPY on PostgreSQL, with ids reserved from the table's sequence first, so no model
    instance is built; bulk_create elsewhere. No signals are sent (as with bulk_create).
    """
    if not rows:
        return []
    if connection.vendor != "postgresql":
        objs = [model(**row) for row in rows]
        model.unscoped.bulk_create(objs, batch_size=BULK_BATCH)
        return [obj.pk for obj in objs]
    meta = model._meta
    now = timezone.now()
    fields = [f for f in meta.concrete_fields if not f.primary_key and not f.generated]
    defaults = {}
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            defaults[f.attname] = now
        elif f.has_default():
            defaults[f.attname] = f.get_default()
        else:
            defaults[f.attname] = None
    json_fields = {f.attname for f in fields if isinstance(f, models.JSONField)}
    names = [f.attname for f in fields]
    columns = ", ".join(connection.ops.quote_name(c) for c in [meta.pk.column, *(f.column for f in fields)])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(rows)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        with cursor.cursor.copy(f"COPY {connection.ops.quote_name(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for pk, row in zip(ids, rows, strict=True):
                values = [pk]
                for name in names:
                    value = row.get(name, defaults[name])
                    values.append(json.dumps(value) if name in json_fields else value)
                copy.write_row(values)
    return ids


def _present(value) -> bool:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return False
    return value != ""


def _incoming(frame: pd.DataFrame, values_for: Callable[[dict], dict]) -> list[tuple[str, dict]]:
    """(external_id, present values) per frame row: empty cells are left out, so they never
    overwrite what is stored; numpy scalars become plain Python values (COPY adapts those)."""
    return [
        (
            str(row["external_id"]),
            {k: v.item() if isinstance(v, np.generic) else v for k, v in values_for(row).items() if _present(v)},
        )
        for row in frame.to_dict("records")
    ]


def _tag_list(text: str) -> list[str]:
    """ "vip, newsletter" -> ["vip", "newsletter"] (empty tags dropped, the first of repeats kept)."""
    tags = [tag.strip()[:MAX_TAG_LENGTH] for tag in str(text).split(",")]
    return list(dict.fromkeys(tag for tag in tags if tag))[:MAX_TAGS]


def _with_tags(values: dict) -> dict:
    """`values` with its tags text as a list; no tags at all are left out (they never erase)."""
    if "tags" in values:
        tags = _tag_list(values.pop("tags")) if _present(values["tags"]) else []
        if tags:
            values["tags"] = tags
    return values


def _customer_merge(row: dict, values: dict, *, shop: Shop, now: dt.datetime) -> set[str]:
    """Merge one file row's `values` into `row` (attname -> value, in memory) by the field merge
    rule (customer_fields_merge: a CSV row has no time of its own, so it counts as of `now`);
    returns the names that changed.

    A field's stamp moves only with its value: re-importing a file that changes nothing writes
    nothing, and a "no" that changes nothing does not record a withdrawal that never happened.
    """
    stamps = row.get("field_updated_at") or {}
    merged, new_stamps, _stale = identity.customer_fields_merge(
        stored=row, stamps=stamps, incoming=values, at=None, now=now
    )
    if not merged:
        return set()
    merged |= identity.customer_keys_for(merged, shop=shop)
    row["field_updated_at"] = stamps | {name: new_stamps[name] for name in merged if name in new_stamps}
    row.update(merged)
    return {*merged, "field_updated_at"}


def _update_rows(
    model: type[models.Model], *, shop: Shop, rows: list[dict], fields: set[str], now: dt.datetime
) -> None:
    """Write `fields` of the stored `rows` (each holding every one of them) in batches."""
    if not rows:
        return
    objs = []
    for row in rows:
        obj = model(pk=row["id"], shop=shop, updated_at=now)
        for name in fields:
            setattr(obj, name, row[name])
        objs.append(obj)
    model.unscoped.bulk_update(objs, sorted(fields | {"updated_at"}), batch_size=BULK_BATCH // 2)


def _create_new(
    model: type[models.Model],
    identity_model: type[models.Model],
    *,
    shop: Shop,
    rows: dict[int, dict],
    positions: dict[int, list[int]],
    incoming: list[tuple[str, dict]],
    out: np.ndarray,
) -> None:
    """Create the new rows (`rows`: group -> row), point their file rows (`positions`) at them
    in `out`, and record those rows' CSV ids as identities.

    The identities go in with COPY too: none of them is known (the resolver looked them all up
    under the shop's lock), so the insert cannot conflict, and on the first import of a big
    file it is several times faster than identities_link's ORM insert.
    """
    owner = f"{model._meta.model_name}_id"
    identities = []
    for group, pk in zip(rows, create_rows(model, list(rows.values())), strict=True):
        for position in positions[group]:
            out[position] = pk
            key = incoming[position][0]
            identities.append({"shop_id": shop.pk, owner: pk, "source": Source.CSV.value, "external_id": key})
    create_rows(identity_model, identities)


def upsert_customers(*, shop: Shop, customers: pd.DataFrame) -> tuple[np.ndarray, MatchedChanges]:
    """Customers, each found by its CSV id, then its email, then (when the shop matches by
    phone) its phone (ADR 0009); returns (pk per frame row, changes).

    A customer found in the shop gets the file's values by the field merge rule: as of the
    import, an empty cell never erases, a "yes" does not re-subscribe someone who withdrew, a
    "no" withdraws. Rows of the file that share an email (or phone) become one new customer.
    An erased customer is neither written nor created again; its pk is still returned, so its
    orders stay with it. Every row's CSV id becomes an identity of the customer it went to
    (except an email used as the id of an erased customer: that address is gone for good).
    Takes the shop's customers lock, as the API upserts do, so no two writers create one person twice.
    """
    shop_table_lock(shop, "customers")
    now = timezone.now()
    changes = MatchedChanges()
    incoming = _incoming(
        customers, lambda row: _with_tags({name: row[name] for name in CUSTOMER_FIELDS if name in row})
    )
    matches = identity.customers_resolve(
        shop=shop,
        keys=[
            identity.CustomerKey(Source.CSV.value, key, values.get("email", ""), values.get("phone", ""))
            for key, values in incoming
        ],
    )
    names = {name for _key, values in incoming for name in values}
    fields = sorted(names | {"email_consent", "email_consent_at", "email_key", "phone_key", "field_updated_at"})
    stored = _stored(
        Customer, shop=shop, ids=[m.existing_id for m in matches if m.existing_id], fields=[*fields, "erased_at"]
    )
    ids = np.zeros(len(incoming), dtype=np.int64)
    new_rows: dict[int, dict] = {}
    new_positions: dict[int, list[int]] = defaultdict(list)
    links: list[tuple[int, str]] = []
    dirty: dict[int, set[str]] = {}
    for position, ((key, values), match) in enumerate(zip(incoming, matches, strict=True)):
        if match.existing_id is None:
            row = new_rows.get(match.group)
            if row is None:
                row = {"shop_id": shop.pk, "source": Source.CSV.value, "external_id": key, "field_updated_at": {}}
                new_rows[match.group] = row
                changes.created += 1
            else:
                changes.linked += 1
            _customer_merge(row, values, shop=shop, now=now)
            new_positions[match.group].append(position)
            continue
        row = stored[match.existing_id]
        ids[position] = row["id"]
        if match.erased:
            changes.erased += 1
            if match.links_identity and not email_key(key):
                links.append((row["id"], key))
            continue
        if match.links_identity:
            changes.linked += 1
            links.append((row["id"], key))
        else:
            changes.matched += 1
        changed = _customer_merge(row, values, shop=shop, now=now)
        if changed:
            dirty.setdefault(row["id"], set()).update(changed)
            changes.updated += 1
        else:
            changes.unchanged += 1
    _update_rows(
        Customer,
        shop=shop,
        rows=[stored[pk] for pk in dirty],
        fields=set().union(*dirty.values()) if dirty else set(),
        now=now,
    )
    _create_new(
        Customer, CustomerIdentity, shop=shop, rows=new_rows, positions=new_positions, incoming=incoming, out=ids
    )
    identity.customer_identities_link(shop=shop, rows=[(pk, Source.CSV.value, key) for pk, key in links])
    return ids, changes


def upsert_products(*, shop: Shop, products: pd.DataFrame) -> tuple[np.ndarray, MatchedChanges]:
    """Products, each found by its CSV id (SKU, or "name:..." without one), then by SKU (ADR
    0009); returns (pk per frame row, changes).

    A product found in the shop takes the file's non-empty values; rows of the file with the
    same SKU become one new product. Every row's CSV id becomes an identity of its product.
    Takes the shop's products lock, as the API upserts do.
    """
    shop_table_lock(shop, "products")
    now = timezone.now()
    changes = MatchedChanges()

    def values_for(row: dict) -> dict:
        values = {name: row[name] for name in ("sku", "title", "category", "brand", "image_url", "tags") if name in row}
        if _present(row.get("price_cents")):
            values["price"] = cents_to_decimal(int(row["price_cents"]))
        return _with_tags(values)

    incoming = _incoming(products, values_for)
    matches = identity.products_resolve(
        shop=shop, keys=[identity.ProductKey(Source.CSV.value, key, values.get("sku", "")) for key, values in incoming]
    )
    fields = sorted({name for _key, values in incoming for name in values})
    stored = _stored(Product, shop=shop, ids=[m.existing_id for m in matches if m.existing_id], fields=fields)
    ids = np.zeros(len(incoming), dtype=np.int64)
    new_rows: dict[int, dict] = {}
    new_positions: dict[int, list[int]] = defaultdict(list)
    links: list[tuple[int, str]] = []
    dirty: dict[int, set[str]] = {}
    for position, ((key, values), match) in enumerate(zip(incoming, matches, strict=True)):
        if match.existing_id is None:
            row = new_rows.get(match.group)
            if row is None:
                row = {"shop_id": shop.pk, "source": Source.CSV.value, "external_id": key}
                new_rows[match.group] = row
                changes.created += 1
            else:
                changes.linked += 1
            row.update(values)
            new_positions[match.group].append(position)
            continue
        row = stored[match.existing_id]
        ids[position] = row["id"]
        if match.links_identity:
            changes.linked += 1
            links.append((row["id"], key))
        else:
            changes.matched += 1
        diff = {name: value for name, value in values.items() if row.get(name) != value}
        if diff:
            row.update(diff)
            dirty.setdefault(row["id"], set()).update(diff)
            changes.updated += 1
        else:
            changes.unchanged += 1
    _update_rows(
        Product,
        shop=shop,
        rows=[stored[pk] for pk in dirty],
        fields=set().union(*dirty.values()) if dirty else set(),
        now=now,
    )
    _create_new(Product, ProductIdentity, shop=shop, rows=new_rows, positions=new_positions, incoming=incoming, out=ids)
    identity.product_identities_link(shop=shop, rows=[(pk, Source.CSV.value, key) for pk, key in links])
    return ids, changes


def _line_hashes(product_ids: np.ndarray, quantities: np.ndarray, cents: np.ndarray) -> np.ndarray:
    """A 64-bit fingerprint per line; summed per order it compares line sets in any order."""
    with np.errstate(over="ignore"):
        h = product_ids.astype(np.int64).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        h ^= quantities.astype(np.int64).astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
        h ^= cents.astype(np.int64).astype(np.uint64) * np.uint64(0x165667B19E3779F9)
        h ^= h >> np.uint64(29)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(32)
    return h


def _signatures(order_ids: np.ndarray, hashes: np.ndarray) -> dict[int, tuple[int, int]]:
    """order id -> (line count, wrapped sum of line hashes)."""
    if not len(order_ids):
        return {}
    codes, uniques = pd.factorize(order_ids)
    sums = np.zeros(len(uniques), dtype=np.uint64)
    np.add.at(sums, codes, hashes)
    counts = np.bincount(codes, minlength=len(uniques))
    return {int(u): (int(c), int(s)) for u, c, s in zip(uniques, counts, sums, strict=True)}


def _stored_signatures(*, shop: Shop, order_ids: np.ndarray) -> dict[int, tuple[int, int]]:
    """Signatures of the stored lines of `order_ids`: one raw query over the shop's lines,
    narrowed in memory (far faster than the ORM for half a million rows)."""
    if not len(order_ids):
        return {}
    table = connection.ops.quote_name(OrderLine._meta.db_table)
    sql = (
        "SELECT order_id, COALESCE(product_id, 0), quantity, CAST(ROUND(unit_price * 100) AS BIGINT) "  # noqa: S608
        f"FROM {table} WHERE shop_id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [shop.pk])
        rows = cursor.fetchall()
    if not rows:
        return {}
    stored = np.array(rows, dtype=np.int64)
    del rows
    stored = stored[np.isin(stored[:, 0], order_ids)]
    return _signatures(stored[:, 0], _line_hashes(stored[:, 1], stored[:, 2], stored[:, 3]))


def insert_lines(
    *,
    shop: Shop,
    order_ids: np.ndarray,
    product_ids: np.ndarray,
    quantities: np.ndarray,
    cents: np.ndarray,
    progress: ProgressFn | None = None,
) -> int:
    """Insert order lines in batches (COPY on PostgreSQL, executemany elsewhere); returns the count.

    A product id of 0 is a line with no product (NULL): a refund the file does not tie to goods.
    """
    total = len(order_ids)
    if not total:
        return 0
    table = connection.ops.quote_name(OrderLine._meta.db_table)
    names = ("shop", "order", "product", "quantity", "unit_price")
    column_sql = ", ".join(connection.ops.quote_name(OrderLine._meta.get_field(n).column) for n in names)
    prices = cents_to_strings(cents)
    shop_id = int(shop.pk)
    with connection.cursor() as cursor:
        for start in range(0, total, LINE_BATCH):
            stop = min(start + LINE_BATCH, total)
            products: list = product_ids[start:stop].tolist()
            if not product_ids[start:stop].all():
                null = "\\N" if connection.vendor == "postgresql" else None
                products = [p or null for p in products]
            batch = zip(
                order_ids[start:stop].tolist(),
                products,
                quantities[start:stop].tolist(),
                prices[start:stop].tolist(),
                strict=True,
            )
            if connection.vendor == "postgresql":
                text = "".join(f"{shop_id}\t{o}\t{p}\t{q}\t{c}\n" for o, p, q, c in batch)
                with cursor.cursor.copy(f"COPY {table} ({column_sql}) FROM STDIN") as copy:
                    copy.write(text)
            else:
                cursor.executemany(
                    f"INSERT INTO {table} ({column_sql}) VALUES (%s, %s, %s, %s, %s)",  # noqa: S608
                    [(shop_id, o, p, q, c) for o, p, q, c in batch],
                )
            if progress:
                progress("writing", stop, total)
    return total


def upsert_orders(
    *,
    shop: Shop,
    orders: pd.DataFrame,
    lines: pd.DataFrame,
    customer_ids: np.ndarray,
    product_ids: np.ndarray,
    progress: ProgressFn | None = None,
) -> tuple[Changes, int, int]:
    """Orders by external id with their lines; returns (order changes, lines written, lines deleted).

    `customer_ids` / `product_ids` are the pks of the customers / products frames, indexed
    by the positions in orders.customer_pos and lines.product_pos (-1: a line with no product,
    a refund). An existing order is updated when its customer, date, currency, total, status or
    (when the file has them) shipping, tax, discount or discount code differ, and its lines are
    replaced when they differ from the stored ones (compared as a multiset of
    (product, quantity, price)); otherwise it is left alone.
    """
    changes = Changes()
    now = timezone.now()
    keys = orders["external_id"].tolist()
    positions = orders["customer_pos"].to_numpy()
    customer_of = [int(customer_ids[p]) if p >= 0 else None for p in positions.tolist()]
    placed = pd.DatetimeIndex(orders["placed_at"]).tz_localize("UTC").to_pydatetime()
    totals = [cents_to_decimal(c) for c in orders["total_cents"].tolist()]
    extras = _order_extras(orders)
    extra_fields = sorted({name for values in extras for name in values})
    # Locked: their lines may be replaced, and lines have no database foreign key (see OrderLine).
    existing = _existing(Order, shop=shop, keys=keys, fields=[*ORDER_FIELDS, *extra_fields], lock=True)

    order_ids = np.zeros(len(keys), dtype=np.int64)
    is_existing = np.zeros(len(keys), dtype=bool)
    for position, key in enumerate(keys):
        stored = existing.get(key)
        if stored is not None:
            order_ids[position] = stored["id"]
            is_existing[position] = True
    order_pos = lines["order_pos"].to_numpy()
    product_pos = lines["product_pos"].to_numpy()
    line_products = np.zeros(len(product_pos), dtype=np.int64)  # 0: no product (NULL)
    with_product = product_pos >= 0
    if len(product_ids):
        line_products[with_product] = product_ids[product_pos[with_product]]
    quantities = lines["quantity"].to_numpy(dtype=np.int64)
    cents = lines["cents"].to_numpy(dtype=np.int64)

    # Which re-imported orders have lines that differ from the stored ones?
    lines_changed: set[int] = set()
    if is_existing.any():
        of_existing = is_existing[order_pos]
        incoming = _signatures(
            order_ids[order_pos[of_existing]],
            _line_hashes(line_products[of_existing], quantities[of_existing], cents[of_existing]),
        )
        stored_sig = _stored_signatures(shop=shop, order_ids=order_ids[is_existing])
        lines_changed = {order_id for order_id, sig in incoming.items() if stored_sig.get(order_id) != sig}

    to_create: list[tuple[int, dict]] = []
    to_update = []
    for position, (key, customer_id, placed_at, currency, total, status, extra) in enumerate(
        zip(
            keys,
            customer_of,
            placed,
            orders["currency"].tolist(),
            totals,
            orders["status"].tolist(),
            extras,
            strict=True,
        )
    ):
        values = {
            "customer_id": customer_id,
            "placed_at": placed_at,
            "currency": currency,
            "total": total,
            "status": status,
            **extra,
        }
        stored = existing.get(key)
        if stored is None:
            to_create.append((position, {"shop_id": shop.pk, "source": Source.CSV.value, "external_id": key, **values}))
            continue
        differs = any(stored[name] != value for name, value in values.items())
        if differs:
            # every updated field is written: those this order leaves empty keep the stored value
            kept = {name: stored[name] for name in extra_fields}
            to_update.append(Order(pk=stored["id"], shop=shop, updated_at=now, **(kept | values)))
        if differs or stored["id"] in lines_changed:
            changes.updated += 1
        else:
            changes.unchanged += 1
    created_ids = create_rows(Order, [row for _position, row in to_create])
    for (position, _row), pk in zip(to_create, created_ids, strict=True):
        order_ids[position] = pk
    changes.created = len(to_create)
    if to_update:
        Order.unscoped.bulk_update(to_update, [*ORDER_FIELDS, *extra_fields, "updated_at"], batch_size=1000)

    deleted = 0
    for chunk in _chunks(sorted(lines_changed), IN_CHUNK):
        deleted += OrderLine.unscoped.filter(shop=shop, order_id__in=chunk).delete()[0]

    line_orders = order_ids[order_pos]
    write = ~is_existing[order_pos]
    if lines_changed:
        write |= np.isin(line_orders, np.fromiter(lines_changed, dtype=np.int64, count=len(lines_changed)))
    written = insert_lines(
        shop=shop,
        order_ids=line_orders[write],
        product_ids=line_products[write],
        quantities=quantities[write],
        cents=cents[write],
        progress=progress,
    )
    return changes, written, deleted


def _order_extras(orders: pd.DataFrame) -> list[dict]:
    """Per order the shipping, tax, discount (Decimal) and discount code the file states ({} for
    none, and for every order of a file without those columns)."""
    columns = {}
    for name in ORDER_AMOUNT_FIELDS:
        if f"{name}_cents" in orders:
            cents = orders[f"{name}_cents"]
            columns[name] = [None if pd.isna(c) else cents_to_decimal(int(c)) for c in cents.tolist()]
    for name in ORDER_TEXT_FIELDS:
        if name in orders:
            columns[name] = [value or None for value in orders[name].tolist()]
    if not columns:
        return [{}] * len(orders)
    rows = zip(*columns.values(), strict=True)
    return [{name: value for name, value in zip(columns, row, strict=True) if value is not None} for row in rows]


def net_revenue(orders: pd.DataFrame) -> Decimal:
    """Paid minus paid back, read as ADR 0007 says (as the dashboard and the analysis count it)."""
    return cents_to_decimal(
        net_cents(
            orders["status"].to_numpy().astype(str),
            orders["total_cents"].to_numpy(dtype=np.int64),
            orders["returned_lines_cents"].to_numpy(dtype=np.int64),
        )
    )
