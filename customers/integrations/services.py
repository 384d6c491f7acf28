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
from django.db.models import Q
from django.utils import timezone

from customers import services as customer_services
from customers.integrations import shopify, woocommerce
from customers.integrations.common import PlatformRecords
from customers.models import Customer, Platform, PlatformConnection, WebhookEvent, WebhookStatus
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


def _merge(total: dict[str, dict[str, int]], name: str, report: UpsertReport) -> None:
    counts = total.setdefault(name, {"created": 0, "updated": 0, "unchanged": 0, "stale": 0})
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
        known = {(c.source, c.external_id) for c in records.customers}
        billing = [c for c in records.billing_customers if (c.source, c.external_id) not in known]
        if billing:
            report = customer_services.customers_upsert(shop=shop, items=billing, update_existing=False)
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
            shop=shop, source=module.SOURCE, external_id=customer.get("id"), email=customer.get("email")
        )
        return WebhookStatus.PROCESSED, erased
    if module is shopify and topic == shopify.SHOP_REDACT_TOPIC:
        ids = (
            Customer.objects.for_shop(shop)
            .filter(source=module.SOURCE, erased_at__isnull=True)
            .values_list("pk", flat=True)
        )
        return WebhookStatus.PROCESSED, customer_services.customers_erase(shop=shop, customer_ids=ids) > 0
    return WebhookStatus.IGNORED, False


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


def customers_redact(*, shop: Shop, source: str, external_id: Any, email: str | None = None) -> bool:
    """Erase a platform customer's personal data, found by platform id (and email within that platform).

    When we do not have the customer yet, an erased placeholder keeps its id, so a late
    order or a pull can never bring the personal data back.
    """
    query = Q(pk__in=[])
    if external_id:
        query |= Q(external_id=str(external_id))
    if email:
        query |= Q(email__iexact=email.strip())
    customers = Customer.objects.for_shop(shop).filter(query, source=source)
    ids = list(customers.filter(erased_at__isnull=True).values_list("pk", flat=True))
    if external_id and not customers.filter(external_id=str(external_id)).exists():
        Customer.unscoped.create(shop=shop, source=source, external_id=str(external_id), erased_at=timezone.now())
    return customer_services.customers_erase(shop=shop, customer_ids=ids) > 0
