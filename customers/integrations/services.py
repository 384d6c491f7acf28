"""Writes for platform connections and webhook events, and applying platform records.

The webhook endpoint only stores a verified event (webhook_event_receive) and queues
it; the worker applies it (webhook_event_process) at most once, claiming it with a
conditional UPDATE. Webhooks and the pull sync write through the same function,
platform_records_apply, so they end in the same state.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from customers import identity, redaction, retention
from customers import services as customer_services
from customers.integrations import selectors, shopify, woocommerce
from customers.integrations.common import PlatformRecords
from customers.keys import email_key, erased_digest, phone_key
from customers.models import (
    Customer,
    CustomerIdentity,
    IdentityKind,
    Platform,
    PlatformConnection,
    WebhookEvent,
    WebhookStatus,
)
from customers.services import UpsertReport
from shops.models import Shop
from shops.scope import shop_scope

logger = logging.getLogger(__name__)

PLATFORM_MODULES: dict[str, ModuleType] = {Platform.SHOPIFY: shopify, Platform.WOOCOMMERCE: woocommerce}


def platform_module(platform: str) -> ModuleType:
    return PLATFORM_MODULES[platform]


# --------------------------------------------------------------------------- connections


def connection_save(
    *,
    shop: Shop,
    platform: str,
    store_url: str,
    access_token: str | None,
    webhook_secret: str | None,
    enabled: bool = True,
) -> PlatformConnection:
    """Create or update the shop's connection to `platform`; None for a secret keeps the stored one."""
    connection = PlatformConnection.objects.for_shop(shop).filter(platform=platform).first()
    if connection is None:
        connection = PlatformConnection(shop=shop, platform=platform)
    connection.store_url = store_url.rstrip("/")
    if access_token is not None:
        connection.access_token = access_token
    if webhook_secret is not None:
        connection.webhook_secret = webhook_secret
    connection.enabled = enabled
    connection.save()
    return connection


def connection_delete(*, connection: PlatformConnection) -> None:
    connection.delete()


def connection_sync_queue(*, connection: PlatformConnection) -> None:
    """Queue a pull of this connection after the current transaction commits."""
    from customers.integrations.tasks import sync_connection

    transaction.on_commit(lambda: sync_connection.delay(connection.pk))


# --------------------------------------------------------------------------- applying records


# Customers and products are matched to rows other sources brought in (ADR 0009), so their
# counts also say how: "matched" (found by an id the row already had), "linked" (found by
# email, phone or SKU, the platform's id added to the row); "created" are new rows.
_MATCHED_KINDS = frozenset({"customers", "products"})


def _merge(total: dict[str, dict[str, int]], name: str, report: UpsertReport) -> None:
    counts = total.setdefault(name, {"created": 0, "updated": 0, "unchanged": 0, "stale": 0})
    if name in _MATCHED_KINDS:
        counts.setdefault("matched", 0)
        counts.setdefault("linked", 0)
    for key, value in report.counts().items():
        counts[key] = counts.get(key, 0) + value


def platform_records_apply(*, shop: Shop, records: PlatformRecords) -> dict[str, dict[str, int]]:
    """Upsert a page of platform records in one transaction: customers, products, then orders.

    Returns counts per kind. Sends no signal: the caller does once per event or sync run.
    """
    counts: dict[str, dict[str, int]] = {}
    with transaction.atomic():
        if records.customers:
            _merge(counts, "customers", customer_services.customers_upsert(shop=shop, items=records.customers))
        known = {(c.source, c.external_id) for c in records.customers if c.external_id}
        billing = [c for c in records.billing_customers if (c.source, c.external_id) not in known]
        # Registered customers first, then guests (known by email only) in a call of their own:
        # a guest then meets only what is stored, never a registered customer's billing email
        # of the same page, so a page ends as the same orders delivered one by one would.
        for group in ([c for c in billing if c.external_id], [c for c in billing if not c.external_id]):
            if group:
                report = customer_services.customers_upsert(shop=shop, items=group, update_existing=False)
                _merge(counts, "customers", report)
        if records.products:
            _merge(counts, "products", customer_services.products_upsert(shop=shop, items=records.products))
        if records.orders:
            _merge(counts, "orders", customer_services.orders_upsert(shop=shop, items=records.orders))
    return counts


def counts_changed(counts: dict[str, dict[str, int]]) -> bool:
    return any(c.get("created") or c.get("updated") for c in counts.values())


# --------------------------------------------------------------------------- webhook events


def webhook_event_receive(
    *, connection: PlatformConnection, topic: str, event_id: str, payload: dict[str, Any]
) -> tuple[WebhookEvent, bool]:
    """Store a verified delivery and queue its processing on commit; (event, False) for a redelivery."""
    from customers.integrations.tasks import process_webhook_event

    fields = {"shop": connection.shop, "platform": connection.platform, "event_id": event_id[:200]}
    try:
        with transaction.atomic():
            event = WebhookEvent.unscoped.create(**fields, topic=topic[:100], payload=payload)
    except IntegrityError:
        return WebhookEvent.unscoped.get(**fields), False
    transaction.on_commit(lambda: process_webhook_event.delay(event.pk))
    return event, True


def webhook_event_process(*, event_id: int) -> str | None:
    """Apply one stored event at most once; returns its final status, None if it was not ours to claim.

    The claim is a conditional UPDATE (received -> processing), so two workers given the
    same event cannot both apply it. Errors mark the event failed with the reason; the
    next pull sync repairs what it would have written.
    """
    claimed = WebhookEvent.unscoped.filter(pk=event_id, status=WebhookStatus.RECEIVED).update(
        status=WebhookStatus.PROCESSING
    )
    if not claimed:
        return None
    event = WebhookEvent.unscoped.select_related("shop").get(pk=event_id)
    shop = event.shop
    with shop_scope(shop):
        try:
            with transaction.atomic():
                status, changed = _event_apply(shop=shop, event=event)
                _payload_redact_if_erased(shop=shop, event=event)
                WebhookEvent.unscoped.filter(pk=event.pk).update(status=status, processed_at=timezone.now(), error="")
                if changed:
                    customer_services.data_changed_on_commit(shop_id=shop.pk, reason="webhook")
        except Exception as exc:
            logger.exception("webhook event %s (%s) failed", event.pk, event.topic)
            WebhookEvent.unscoped.filter(pk=event.pk).update(
                status=WebhookStatus.FAILED, processed_at=timezone.now(), error=f"{type(exc).__name__}: {exc}"[:2000]
            )
            return WebhookStatus.FAILED
    return status


def _event_apply(*, shop: Shop, event: WebhookEvent) -> tuple[str, bool]:
    module = platform_module(event.platform)
    payload, topic = event.payload, event.topic
    if topic in module.ORDER_UPSERT_TOPICS:
        records = module.records_from_orders([payload])
        if _deleted_later(shop=shop, event=event, module=module, records=records):
            return WebhookStatus.IGNORED, False
        return WebhookStatus.PROCESSED, counts_changed(platform_records_apply(shop=shop, records=records))
    if topic in module.CUSTOMER_UPSERT_TOPICS:
        records = module.records_from_customers([payload])
        return WebhookStatus.PROCESSED, counts_changed(platform_records_apply(shop=shop, records=records))
    if topic in module.ORDER_DELETE_TOPICS:
        deleted = customer_services.order_delete(shop=shop, source=module.SOURCE, external_id=str(payload.get("id")))
        return WebhookStatus.PROCESSED, deleted
    if topic in module.CUSTOMER_DELETE_TOPICS:
        return WebhookStatus.PROCESSED, customers_redact(shop=shop, source=module.SOURCE, external_id=payload.get("id"))
    if module is shopify and topic == shopify.DATA_REQUEST_TOPIC:
        return WebhookStatus.PROCESSED, False  # listed on the data page, where the owner downloads the export
    if module is shopify and topic == shopify.CUSTOMER_REDACT_TOPIC:
        customer = payload.get("customer") or {}
        erased = customers_redact(
            shop=shop,
            source=module.SOURCE,
            external_id=customer.get("id"),
            email=customer.get("email"),
            phone=customer.get("phone"),
        )
        return WebhookStatus.PROCESSED, erased
    if module is shopify and topic == shopify.SHOP_REDACT_TOPIC:
        # every customer Shopify knows, whatever source created the row (their identities say so)
        ids = (
            Customer.objects.for_shop(shop)
            .filter(identities__source=module.SOURCE, erased_at__isnull=True)
            .values_list("pk", flat=True)
            .distinct()
        )
        erased = customer_services.customers_erase(shop=shop, customer_ids=ids) > 0
        retention.webhook_payloads_clear(shop=shop, platform=event.platform)
        return WebhookStatus.PROCESSED, erased
    return WebhookStatus.IGNORED, False


def _payload_redact_if_erased(*, shop: Shop, event: WebhookEvent) -> bool:
    """Redact a delivery about a customer who was erased before it came (a late order or
    customer update): it wrote nothing about them, and its payload must not keep them either.
    The person is recognised by the platform's customer id or by the digest of an email or
    phone in the payload (ADR 0009). Returns whether the payload changed."""
    module = platform_module(event.platform)
    record = event.topic in module.CUSTOMER_RECORD_TOPICS
    refs = redaction.payload_customer_ids(event.payload, customer_record=record)
    texts = redaction.payload_strings(event.payload)
    digests: dict[str, tuple[str, str]] = {}
    for value in texts:
        if key := email_key(value):
            digests[erased_digest(shop_id=shop.pk, key=key)] = ("email", value)
        elif redaction.looks_like_phone(value) and (key := phone_key(value, region=shop.phone_region)):
            digests[erased_digest(shop_id=shop.pk, key=key)] = ("phone", value)
    erased_ids = refs & set(
        Customer.objects.for_shop(shop)
        .filter(erased_at__isnull=False, identities__source=module.SOURCE, identities__external_id__in=list(refs))
        .values_list("identities__external_id", flat=True)
    )
    known = []
    found = CustomerIdentity.objects.for_shop(shop).filter(
        source__in=[IdentityKind.ERASED_EMAIL, IdentityKind.ERASED_PHONE]
    )
    keys = sorted(digests)
    for start in range(0, len(keys), identity.IN_CHUNK):
        chunk = found.filter(external_id__in=keys[start : start + identity.IN_CHUNK])
        known += [digests[digest] for digest in chunk.values_list("external_id", flat=True)]
    if not erased_ids and not known:
        return False
    marks = redaction.PersonMarks.build(
        emails=[value for kind, value in known if kind == "email"],
        phones=[value for kind, value in known if kind == "phone"],
        platform_ids=[(module.SOURCE, ref) for ref in erased_ids],
        region=shop.phone_region,
    )
    payload, changed = redaction.payload_redact(event.payload, marks, source=module.SOURCE, customer_record=record)
    if changed:
        WebhookEvent.unscoped.filter(pk=event.pk).update(payload=payload)
    return changed


def _deleted_later(*, shop: Shop, event: WebhookEvent, module: ModuleType, records: PlatformRecords) -> bool:
    """An order update older than a processed delete of the same order must not bring it back."""
    if not records.orders:
        return False
    order = records.orders[0]
    deleted_at = (
        WebhookEvent.objects.for_shop(shop)
        .filter(
            platform=event.platform,
            topic__in=module.ORDER_DELETE_TOPICS,
            status=WebhookStatus.PROCESSED,
            payload__id=event.payload.get("id"),
        )
        .order_by("-received_at")
        .values_list("received_at", flat=True)
        .first()
    )
    return deleted_at is not None and (order.updated_at is None or order.updated_at <= deleted_at)


def customers_redact(
    *, shop: Shop, source: str, external_id: Any, email: str | None = None, phone: str | None = None
) -> bool:
    """Erase the personal data of the person a platform names (customer id, and the email and
    phone its privacy request gives), found through any of their identities: a customer first
    brought in by CSV and later linked to this platform's id is erased too, and so is every
    row with the same email still waiting to be merged. Returns whether anyone was erased.

    The platform's id is linked to the erased customer; when we do not have the person yet,
    an erased placeholder is created under that id (with the digests of the email and phone,
    left by the erasure), so a late order attaches to it and no source brings them back.
    """
    external_id = "" if external_id in (None, "") else str(external_id)
    with transaction.atomic():
        ids = selectors.customer_ids_named(shop=shop, source=source, external_id=external_id, email=email, phone=phone)
        known = bool(external_id) and bool(identity.customer_ids_by_identity(shop=shop, pairs=[(source, external_id)]))
        if external_id and not known:
            if ids:
                identity.customer_identities_link(shop=shop, rows=[(min(ids), source, external_id)])
            else:
                # Held for the length of this transaction only: customers_erase blanks it below
                # and keeps just the digests that recognise the person again.
                placeholder = Customer(
                    shop=shop,
                    source=source,
                    external_id=external_id,
                    email=(email or "").strip()[:254],
                    phone=(phone or "").strip()[:40],
                )
                placeholder.save()
                identity.customer_identities_link(shop=shop, rows=[(placeholder.pk, source, external_id)])
                customer_services.customers_erase(shop=shop, customer_ids=[placeholder.pk])
        erasable = (
            Customer.objects.for_shop(shop).filter(pk__in=ids, erased_at__isnull=True).values_list("pk", flat=True)
        )
        erased = customer_services.customers_erase(shop=shop, customer_ids=list(erasable)) > 0
        # The request itself, and what came before it under the details it gives (also when
        # the person was erased before, or their details there differ from ours), go as well.
        asked = redaction.PersonMarks.build(
            emails=[email], phones=[phone], platform_ids=[(source, external_id)], region=shop.phone_region
        )
        retention.personal_traces_erase(shop=shop, marks=asked)
        return erased
