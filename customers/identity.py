"""Identity resolution: one customer, one product, whatever the source (ADR 0009).

Every way in (bulk API, webhooks, pull sync, CSV import, survey, demo) finds the rows an
incoming batch is about with these functions, so the rules are the same everywhere:

- A customer is matched, in order, by a known identity (source, external_id); by the same
  email key (trimmed, case-folded), also a former email kept by a merge; when the shop turns
  it on, by the same phone key (E.164). Items of one batch that share any of these keys are
  one person. An erased customer is matched by identity and by the digests of its former
  email and phone, so no source creates them again.
- A product is matched by a known identity, then by the same SKU.

The first match links the item's identity to the row (identities_link); no match creates a
row. Field values are merged by customer_fields_merge: for each field the newest value
wins; an explicit unsubscribe wins over an older consent.

The callers hold the shop's customers (or products) lock for the whole read-decide-write, so
two writers cannot both create the same person.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Count, Q
from django.db.models.expressions import RawSQL

from customers.keys import email_key, erased_digest, phone_key
from customers.models import Customer, CustomerIdentity, IdentityKind, Product, ProductIdentity
from shops.models import Shop

IN_CHUNK = 900  # values per IN (...): under SQLite's 999 query parameters

IDENTITY, EMAIL, PHONE, SKU, NEW = "identity", "email", "phone", "sku", "new"


@dataclass(frozen=True, slots=True)
class CustomerKey:
    """What an incoming customer is known by: its source's id ("" = none), email and phone as sent."""

    source: str
    external_id: str = ""
    email: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class ProductKey:
    source: str
    external_id: str = ""
    sku: str = ""


@dataclass(frozen=True, slots=True)
class Match:
    """Where an incoming item belongs.

    customer_id: the existing row (None: a new row, one per `group`); items with the same
    group are the same person or product. how: identity, email, phone, sku (the item's
    identity is new and gets linked) or new. erased: the row is an erased customer.
    """

    existing_id: int | None
    group: int
    how: str
    erased: bool = False

    @property
    def links_identity(self) -> bool:
        return self.how != IDENTITY


def column_in(column: str, values: Iterable[Any], *, array_type: str = "text[]") -> Q:
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


def _chunks(values: list, size: int = IN_CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _identity_rows(model: type, *, shop: Shop, pairs: Iterable[tuple[str, str]], owner: str) -> dict:
    """(source, external_id) -> owner id for the pairs that are known identities."""
    by_source: dict[str, list[str]] = defaultdict(list)
    for source, external_id in set(pairs):
        if external_id:
            by_source[source].append(external_id)
    found: dict[tuple[str, str], int] = {}
    for source, ids in by_source.items():
        for chunk in _chunks(sorted(ids)) if connection.vendor != "postgresql" else [ids]:
            rows = model.objects.for_shop(shop).filter(column_in("external_id", chunk), source=source)
            for external_id, owner_id in rows.values_list("external_id", owner):
                found[(source, external_id)] = owner_id
    return found


def _first_by_key(queryset, field: str, keys: set[str]) -> dict[str, int]:
    """key -> the oldest row with that key (deterministic when duplicates are still stored)."""
    found: dict[str, int] = {}
    if not keys:
        return found
    for chunk in _chunks(sorted(keys)) if connection.vendor != "postgresql" else [list(keys)]:
        for key, pk in queryset.filter(column_in(field, chunk)).order_by("-pk").values_list(field, "pk"):
            found[key] = pk
    return found


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def components_by_shared_keys(keys_per_item: list[list[tuple]]) -> list[int]:
    """Component index per item: items sharing any key are one component (numbered by first item)."""
    union = _UnionFind(len(keys_per_item))
    first: dict[tuple, int] = {}
    for index, keys in enumerate(keys_per_item):
        for key in keys:
            if key in first:
                union.union(first[key], index)
            else:
                first[key] = index
    return [union.find(i) for i in range(len(keys_per_item))]


def customers_resolve(*, shop: Shop, keys: Sequence[CustomerKey]) -> list[Match]:
    """Match each incoming customer to a stored one, or to a new row shared with the batch's
    other items of the same person. A handful of queries for the whole batch."""
    use_phone = shop.match_by_phone
    # a source that names people by their email (the platforms' CSV layouts) gives it as the id
    emails = [email_key(k.email) or email_key(k.external_id) for k in keys]
    phones = [phone_key(k.phone, region=shop.phone_region) if use_phone else "" for k in keys]

    by_identity = customer_ids_by_identity(shop=shop, pairs=((k.source, k.external_id) for k in keys))
    email_set = {e for e in emails if e}
    phone_set = {p for p in phones if p}
    by_email = _first_by_key(Customer.objects.for_shop(shop).exclude(email_key=""), "email_key", email_set)
    by_phone = _first_by_key(Customer.objects.for_shop(shop).exclude(phone_key=""), "phone_key", phone_set)
    aliases = _identity_rows(
        CustomerIdentity,
        shop=shop,
        pairs=[(IdentityKind.EMAIL, e) for e in email_set]
        + [(IdentityKind.PHONE, p) for p in phone_set]
        + [(IdentityKind.ERASED_EMAIL, erased_digest(shop_id=shop.pk, key=e)) for e in email_set]
        + [(IdentityKind.ERASED_PHONE, erased_digest(shop_id=shop.pk, key=p)) for p in phone_set],
        owner="customer_id",
    )

    def by_email_key(key: str) -> int | None:
        if not key:
            return None
        return (
            by_email.get(key)
            or aliases.get((IdentityKind.EMAIL, key))
            or aliases.get((IdentityKind.ERASED_EMAIL, erased_digest(shop_id=shop.pk, key=key)))
        )

    def by_phone_key(key: str) -> int | None:
        if not key:
            return None
        return (
            by_phone.get(key)
            or aliases.get((IdentityKind.PHONE, key))
            or aliases.get((IdentityKind.ERASED_PHONE, erased_digest(shop_id=shop.pk, key=key)))
        )

    direct: list[tuple[int | None, str]] = []
    for key, email, phone in zip(keys, emails, phones, strict=True):
        found = by_identity.get((key.source, key.external_id)) if key.external_id else None
        if found is not None:
            direct.append((found, IDENTITY))
        elif (found := by_email_key(email)) is not None:
            direct.append((found, EMAIL))
        elif (found := by_phone_key(phone)) is not None:
            direct.append((found, PHONE))
        else:
            direct.append((None, NEW))

    # Items of one batch that share an identity, an email or a phone are one person; an item
    # matched to a stored customer by its identity keeps it even if its email names another.
    components = components_by_shared_keys(
        [
            [("id", k.source, k.external_id)] * bool(k.external_id) + [("e", e)] * bool(e) + [("p", p)] * bool(p)
            for k, e, p in zip(keys, emails, phones, strict=True)
        ]
    )
    target: dict[int, int] = {}
    for component, (found, _how) in zip(components, direct, strict=True):
        if found is not None:
            target.setdefault(component, found)
    erased = set(
        Customer.objects.for_shop(shop)
        .filter(pk__in=[f for f, _h in direct if f is not None], erased_at__isnull=False)
        .values_list("pk", flat=True)
    )
    matches = []
    seen_new: set[int] = set()
    for component, (found, how), email, phone in zip(components, direct, emails, phones, strict=True):
        if found is None and component in target:
            found, how = target[component], EMAIL if email else PHONE
        elif found is None:
            how = NEW if component not in seen_new else (EMAIL if email else PHONE if phone else IDENTITY)
            seen_new.add(component)
        matches.append(Match(existing_id=found, group=component, how=how, erased=found in erased))
    return matches


def products_resolve(*, shop: Shop, keys: Sequence[ProductKey]) -> list[Match]:
    """Match each incoming product by identity, then by SKU; items of the batch with the same
    SKU or identity are one product."""
    by_identity = product_ids_by_identity(shop=shop, pairs=((k.source, k.external_id) for k in keys))
    skus = [(k.sku or "").strip() for k in keys]
    by_sku = product_ids_by_sku(shop=shop, skus=skus)
    direct = []
    for key, sku in zip(keys, skus, strict=True):
        found = by_identity.get((key.source, key.external_id)) if key.external_id else None
        if found is not None:
            direct.append((found, IDENTITY))
        elif sku and (found := by_sku.get(sku)) is not None:
            direct.append((found, SKU))
        else:
            direct.append((None, NEW))
    components = components_by_shared_keys(
        [
            [("id", k.source, k.external_id)] * bool(k.external_id) + [("s", s)] * bool(s)
            for k, s in zip(keys, skus, strict=True)
        ]
    )
    target: dict[int, int] = {}
    for component, (found, _how) in zip(components, direct, strict=True):
        if found is not None:
            target.setdefault(component, found)
    matches, seen_new = [], set()
    for component, (found, how) in zip(components, direct, strict=True):
        if found is None and component in target:
            found, how = target[component], SKU
        elif found is None:
            how = NEW if component not in seen_new else SKU
            seen_new.add(component)
        matches.append(Match(existing_id=found, group=component, how=how))
    return matches


def customer_ids_by_identity(*, shop: Shop, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(source, external_id) -> customer id, for the pairs that are known identities."""
    return _identity_rows(CustomerIdentity, shop=shop, pairs=pairs, owner="customer_id")


def customer_ids_by_email(*, shop: Shop, keys: Iterable[str]) -> dict[str, int]:
    """email key -> the customer with that email (or a former email kept by a merge); the
    oldest when duplicates are still stored. Erased customers have no email left to find."""
    keys = {key for key in keys if key}
    found = _identity_rows(
        CustomerIdentity, shop=shop, pairs=((IdentityKind.EMAIL, k) for k in keys), owner="customer_id"
    )
    by_alias = {key: pk for (_kind, key), pk in found.items()}
    return by_alias | _first_by_key(Customer.objects.for_shop(shop).exclude(email_key=""), "email_key", keys)


def product_ids_by_identity(*, shop: Shop, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    return _identity_rows(ProductIdentity, shop=shop, pairs=pairs, owner="product_id")


def product_ids_by_sku(*, shop: Shop, skus: Iterable[str]) -> dict[str, int]:
    """SKU -> the product with it (the oldest, when several sources once created one each)."""
    return _first_by_key(Product.objects.for_shop(shop).exclude(sku=""), "sku", {s for s in skus if s})


def identities_link(model: type, *, shop: Shop, owner_field: str, rows: Iterable[tuple[int, str, str]]) -> None:
    """Record (owner id, source, external_id) identities; ones already known are left as they are
    (one INSERT ... ON CONFLICT DO NOTHING per thousand, no read)."""
    objs = [
        model(shop=shop, **{owner_field: owner_id}, source=source, external_id=external_id)
        for owner_id, source, external_id in {(o, s, e) for o, s, e in rows if e}
    ]
    if objs:
        model.unscoped.bulk_create(objs, batch_size=1000, ignore_conflicts=True)


def customer_identities_link(*, shop: Shop, rows: Iterable[tuple[int, str, str]]) -> None:
    return identities_link(CustomerIdentity, shop=shop, owner_field="customer_id", rows=rows)


def product_identities_link(*, shop: Shop, rows: Iterable[tuple[int, str, str]]) -> None:
    return identities_link(ProductIdentity, shop=shop, owner_field="product_id", rows=rows)


# --------------------------------------------------------------------------- field merging


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _stamp(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def customer_fields_merge(
    *,
    stored: dict[str, Any],
    stamps: dict[str, str],
    incoming: dict[str, Any],
    at: dt.datetime | None,
    now: dt.datetime,
) -> tuple[dict[str, Any], dict[str, str], bool]:
    """The changes `incoming` makes to a customer whose values are `stored` (ADR 0009).

    Each field remembers when its value was true (`stamps`, ISO strings). An incoming value
    is as of `at`, the source's updated_at, or `now` when the source gives none; it replaces
    the stored value when it is at least as new. An empty value never replaces a stored one
    (a source that lacks a field does not know it). Consent: a withdrawal (False) wins over
    an older consent; a consent (True) wins over a recorded withdrawal only when it carries
    its own time (email_consent_at, else the source's updated_at) later than the withdrawal.

    Returns (field changes, the new stamps, stale): stale when the item gave values and
    every one of them was older than the stored one.
    """
    when = at or now
    changes: dict[str, Any] = {}
    new_stamps = dict(stamps)
    older = applied = 0
    for name, value in incoming.items():
        if name == "email_consent_at":
            continue
        if name == "email_consent":
            changed, fresh = _consent_merge(stored, stamps, incoming, at=at, now=now)
            changes.update(changed)
            if fresh is None:
                older += 1
            else:
                new_stamps["email_consent"] = fresh.isoformat()
                applied += 1
            continue
        if _empty(value):
            continue
        previous = _stamp(stamps.get(name))
        if previous is not None and when < previous:
            older += 1
            continue
        applied += 1
        new_stamps[name] = when.isoformat()
        if stored.get(name) != value:
            changes[name] = value
    return changes, new_stamps, bool(older and not applied)


def _consent_merge(
    stored: dict[str, Any],
    stamps: dict[str, str],
    incoming: dict[str, Any],
    *,
    at: dt.datetime | None,
    now: dt.datetime,
) -> tuple[dict[str, Any], dt.datetime | None]:
    """(changes, the stamp to record or None when the incoming consent lost)."""
    previous = _stamp(stamps.get("email_consent"))
    if incoming["email_consent"]:
        given_at = incoming.get("email_consent_at") or at
        withdrawn = previous is not None and not stored.get("email_consent")
        if withdrawn and (given_at is None or given_at <= previous):
            return {}, None
        if stored.get("email_consent"):
            return {}, max(filter(None, [previous, given_at])) if (previous or given_at) else now
        return {"email_consent": True, "email_consent_at": given_at or now}, given_at or now
    when = at or now
    if previous is not None and when < previous:
        return {}, None
    if stored.get("email_consent"):
        return {"email_consent": False, "email_consent_at": None}, when
    return {}, when


def customer_keys_for(values: dict[str, Any], *, shop: Shop) -> dict[str, str]:
    """The match keys of the email / phone among `values` (only those present)."""
    keys = {}
    if "email" in values:
        keys["email_key"] = email_key(values["email"])
    if "phone" in values:
        keys["phone_key"] = phone_key(values["phone"], region=shop.phone_region)
    return keys


def customer_phone_keys_refresh(*, shop: Shop, batch: int = 2000) -> int:
    """Read every stored phone again with the shop's phone country (after the owner changed it or
    turned phone matching on); returns how many keys changed."""
    changed = []
    customers = Customer.objects.for_shop(shop).exclude(phone="").only("pk", "phone", "phone_key")
    for customer in customers.iterator(chunk_size=batch):
        key = phone_key(customer.phone, region=shop.phone_region)
        if key != customer.phone_key:
            customer.phone_key = key
            changed.append(customer)
    Customer.unscoped.bulk_update(changed, ["phone_key"], batch_size=batch)
    return len(changed)


def known_identities(customer: Customer) -> list[CustomerIdentity]:
    """The identities worth showing: source ids and former emails / phones, not erasure digests."""
    erased = {IdentityKind.ERASED_EMAIL, IdentityKind.ERASED_PHONE}
    return [identity for identity in customer.identities.all() if identity.source not in erased]


def identity_counts(*, shop: Shop) -> dict[str, int]:
    """Customers with more than one identity, and identities per kind of source (the data page)."""
    per_customer = (
        CustomerIdentity.objects.for_shop(shop)
        .exclude(source__in=[IdentityKind.ERASED_EMAIL, IdentityKind.ERASED_PHONE])
        .values("customer_id")
        .annotate(n=Count("pk"))
    )
    return {"customers_with_several": per_customer.filter(n__gt=1).count()}
