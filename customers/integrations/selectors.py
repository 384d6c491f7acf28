"""Reads for the data page, connection pages and privacy exports; every function takes shop=."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from customers import identity
from customers.integrations import shopify
from customers.keys import email_key, phone_key
from customers.models import (
    Customer,
    CustomerIdentity,
    Event,
    IdentityKind,
    ImportJob,
    Order,
    OrderLine,
    PlatformConnection,
    Product,
    Review,
    SurveyResponse,
    SyncRun,
    WebhookEvent,
)
from customers.signals import customer_data_collect
from shops.models import Shop


@dataclass(frozen=True)
class RowCounts:
    customers: int
    products: int
    orders: int
    order_lines: int
    events: int
    reviews: int
    survey_responses: int


def row_counts(*, shop: Shop) -> RowCounts:
    return RowCounts(
        customers=Customer.objects.for_shop(shop).count(),
        products=Product.objects.for_shop(shop).count(),
        orders=Order.objects.for_shop(shop).count(),
        order_lines=OrderLine.objects.for_shop(shop).count(),
        events=Event.objects.for_shop(shop).count(),
        reviews=Review.objects.for_shop(shop).count(),
        survey_responses=SurveyResponse.objects.for_shop(shop).count(),
    )


def recent_imports(*, shop: Shop, limit: int = 10) -> QuerySet[ImportJob]:
    return ImportJob.objects.for_shop(shop).order_by("-created_at")[:limit]


def connections(*, shop: Shop) -> QuerySet[PlatformConnection]:
    return PlatformConnection.objects.for_shop(shop).order_by("platform")


def connection_for(*, shop: Shop, platform: str) -> PlatformConnection | None:
    return PlatformConnection.objects.for_shop(shop).filter(platform=platform).first()


def connection_for_webhook(*, shop_slug: str, platform: str) -> PlatformConnection | None:
    """The enabled connection a webhook URL names; public endpoints have no shop in scope yet."""
    return (
        PlatformConnection.unscoped.select_related("shop")
        .filter(shop__slug=shop_slug, platform=platform, enabled=True)
        .first()
    )


def connection_ids_to_sync() -> list[int]:
    """Every enabled connection with pull credentials, across shops (for the periodic task)."""
    return list(
        PlatformConnection.unscoped.filter(enabled=True)
        .exclude(access_token="")
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def recent_sync_runs(*, shop: Shop, connection: PlatformConnection | None = None, limit: int = 10) -> QuerySet[SyncRun]:
    runs = SyncRun.objects.for_shop(shop).select_related("connection")
    if connection is not None:
        runs = runs.filter(connection=connection)
    return runs.order_by("-started_at")[:limit]


def recent_webhook_events(*, shop: Shop, limit: int = 20) -> QuerySet[WebhookEvent]:
    return WebhookEvent.objects.for_shop(shop).defer("payload").order_by("-received_at")[:limit]


def data_requests(*, shop: Shop, limit: int = 50) -> QuerySet[WebhookEvent]:
    """Privacy data requests from Shopify (customers/data_request), newest first."""
    return WebhookEvent.objects.for_shop(shop).filter(topic=shopify.DATA_REQUEST_TOPIC).order_by("-received_at")[:limit]


def data_request_get(*, shop: Shop, event_id: int) -> WebhookEvent | None:
    return WebhookEvent.objects.for_shop(shop).filter(pk=event_id, topic=shopify.DATA_REQUEST_TOPIC).first()


def customer_ids_named(
    *, shop: Shop, source: str, external_id: Any = None, email: Any = None, phone: Any = None
) -> set[int]:
    """The customers a platform's privacy request names: the one with the identity (source,
    external_id), whatever source created it, and every customer with the same email key,
    also a former email kept by a merge (or phone key, when the shop matches by phone), so
    rows not merged yet are found too. Erased customers included."""
    external_id = "" if external_id in (None, "") else str(external_id)
    keys = [identity.CustomerKey(source, external_id, _stripped(email), _stripped(phone))]
    ids = {m.existing_id for m in identity.customers_resolve(shop=shop, keys=keys) if m.existing_id}
    query = Q(pk__in=[])
    if key := email_key(email):
        query |= Q(email_key=key) | Q(identities__source=IdentityKind.EMAIL, identities__external_id=key)
    if shop.match_by_phone and (key := phone_key(phone, region=shop.phone_region)):
        query |= Q(phone_key=key) | Q(identities__source=IdentityKind.PHONE, identities__external_id=key)
    ids.update(Customer.objects.for_shop(shop).filter(query).values_list("pk", flat=True))
    return ids


def _stripped(value: Any) -> str:
    return "" if value is None else str(value).strip()


def data_request_export(*, shop: Shop, event: WebhookEvent) -> dict[str, Any]:
    """Everything we hold about the customer a data request names, as JSON-ready data: each
    customer row that is the person (found through any of their identities, see
    customer_ids_named) with its identities, orders, events, reviews and survey answers, and what
    the other apps hold about them (customer_data_collect: analyses, campaign messages)."""
    person = event.payload.get("customer") or {}
    ids = customer_ids_named(
        shop=shop,
        source=shopify.SOURCE,
        external_id=person.get("id"),
        email=person.get("email"),
        phone=person.get("phone"),
    )
    customers = Customer.objects.for_shop(shop).filter(pk__in=ids).order_by("pk")
    export = {
        "request": {"event_id": event.event_id, "received_at": event.received_at.isoformat(), "customer": person},
        "customers": [_customer_export(shop, c) for c in customers],
    }
    for _receiver, sections in customer_data_collect.send(sender=Customer, shop=shop, customer_ids=sorted(ids)):
        for name, data in (sections or {}).items():
            export.setdefault(name, data)
    return export


def _customer_export(shop: Shop, customer: Customer) -> dict[str, Any]:
    profile = Customer.objects.for_shop(shop).filter(pk=customer.pk).values().get()
    orders = list(Order.objects.for_shop(shop).filter(customer=customer).order_by("placed_at").values())
    lines = OrderLine.objects.for_shop(shop).filter(order__customer=customer).order_by("pk")
    by_order: dict[int, list] = {}
    for line in lines.values("order_id", "product__title", "product__sku", "quantity", "unit_price"):
        by_order.setdefault(line.pop("order_id"), []).append(line)
    for order in orders:
        order["lines"] = by_order.get(order["id"], [])
    # the digests an erasure leaves are no one's data to give back: they only recognise the person
    erased = (IdentityKind.ERASED_EMAIL, IdentityKind.ERASED_PHONE)
    identities = CustomerIdentity.objects.for_shop(shop).filter(customer=customer).exclude(source__in=erased)
    return {
        "profile": profile,
        "identities": list(identities.order_by("pk").values("source", "external_id", "created_at")),
        "orders": orders,
        "events": list(Event.objects.for_shop(shop).filter(customer=customer).order_by("at").values()),
        "reviews": list(Review.objects.for_shop(shop).filter(customer=customer).order_by("created_at").values()),
        "survey_responses": list(
            SurveyResponse.objects.for_shop(shop).filter(customer=customer).order_by("created_at").values()
        ),
    }
