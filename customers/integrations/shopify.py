"""Shopify: webhook headers and topics, payload mapping, and the Admin REST API pull client.

Field names are Shopify's: an order has id, created_at, processed_at, updated_at,
cancelled_at, financial_status, currency, total_price (a decimal string), email,
contact_email, phone, billing_address {zip, phone}, customer {id, email, first_name,
last_name, phone, default_address {city, country, zip}, email_marketing_consent {state,
consent_updated_at}, updated_at} (null for a guest checkout) and line_items [{id,
product_id, sku, title, quantity, price}], refunds [{refund_line_items [{line_item_id,
quantity}]}].

Customers and products keep Shopify's ids as their identities (source "shopify"); the
upsert services match them to rows other sources brought in by the same email (or phone,
when the shop turns that on) and SKU (ADR 0009).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from decimal import ROUND_DOWN, Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit

from customers.integrations.common import (
    PlatformError,
    PlatformRecords,
    http_get_json,
    newest_by_key,
    parse_datetime,
    parse_money,
    text,
)
from customers.models import OrderStatus, Platform, Source
from customers.services import CustomerInput, LineInput, OrderInput, ProductInput

PLATFORM = Platform.SHOPIFY
SOURCE = Source.SHOPIFY
API_VERSION = "2024-10"
PAGE_SIZE = 250
SIGNATURE_HEADER = "X-Shopify-Hmac-Sha256"

ORDER_UPSERT_TOPICS = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/paid",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/partially_fulfilled",
    }
)
ORDER_DELETE_TOPICS = frozenset({"orders/delete"})
CUSTOMER_UPSERT_TOPICS = frozenset({"customers/create", "customers/update"})
CUSTOMER_DELETE_TOPICS = frozenset({"customers/delete"})
# Topics whose payload is a customer record: all of it is the person's (customers.redaction).
CUSTOMER_RECORD_TOPICS = CUSTOMER_UPSERT_TOPICS | CUSTOMER_DELETE_TOPICS
DATA_REQUEST_TOPIC = "customers/data_request"
CUSTOMER_REDACT_TOPIC = "customers/redact"
SHOP_REDACT_TOPIC = "shop/redact"


def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    return False  # Shopify has no unsigned ping


def delivery_meta(headers: Mapping[str, str]) -> tuple[str, str]:
    """(topic, event id). The event id is the same for every retry of one event (Shopify's dedupe key)."""
    topic = headers.get("X-Shopify-Topic", "").strip()
    event_id = headers.get("X-Shopify-Event-Id", "").strip() or headers.get("X-Shopify-Webhook-Id", "").strip()
    return topic, f"{topic}:{event_id}" if event_id else ""


# --------------------------------------------------------------------------- mapping


def customer_input(payload: Mapping[str, Any], *, order: Mapping[str, Any] | None = None) -> CustomerInput:
    """A Shopify customer. Inside an order (`order` given), the order's contact details stand
    in for what the customer record leaves out: Shopify drops a customer's email and phone
    from order payloads unless the app may read protected customer data, and without them
    the customer could not be matched to the same person from another source.
    """
    order = order or {}
    billing = order.get("billing_address") if isinstance(order.get("billing_address"), dict) else {}
    address = payload.get("default_address") if isinstance(payload.get("default_address"), dict) else None
    fields: dict[str, Any] = {}
    email = text(payload.get("email") or order.get("email") or order.get("contact_email"), 254).lower()
    if "email" in payload or email:
        fields["email"] = email
    for name, limit in (("first_name", 100), ("last_name", 100)):
        if name in payload:
            fields[name] = text(payload.get(name), limit)
    phone = text(payload.get("phone") or order.get("phone") or billing.get("phone"), 40)
    if "phone" in payload or phone:
        fields["phone"] = phone
    if address is not None:
        fields["city"] = text(address.get("city"), 100)
        fields["country"] = text(address.get("country") or address.get("country_code"), 100)
    postcode = text((address or {}).get("zip") or billing.get("zip"), 20)
    if address is not None or postcode:
        fields["postcode"] = postcode
    if isinstance(payload.get("tags"), str):
        fields["tags"] = [t.strip()[:100] for t in payload["tags"].split(",") if t.strip()][:50]
    consent = payload.get("email_marketing_consent")
    if isinstance(consent, dict):
        fields.update(_consent_fields(consent))
    return CustomerInput(
        external_id=str(payload["id"]),
        source=SOURCE,
        updated_at=parse_datetime(payload.get("updated_at")),
        fields=fields,
    )


# Shopify's email_marketing_consent.state: only "subscribed" is a consent and only an
# unsubscribe (or the data being redacted) withdraws one. "not_subscribed", "pending"
# (double opt-in not confirmed yet) and "invalid" say nothing about a consent the customer
# gave elsewhere, so they are not sent: a newer "never subscribed" here must not cancel a
# consent given in the survey (ADR 0009: only an explicit withdrawal beats a consent).
_CONSENT_GIVEN = frozenset({"subscribed"})
_CONSENT_WITHDRAWN = frozenset({"unsubscribed", "redacted"})


def _consent_fields(consent: Mapping[str, Any]) -> dict[str, Any]:
    """email_consent (and, for a consent, its time: consent_updated_at, when it was given)."""
    state = consent.get("state")
    if state in _CONSENT_GIVEN:
        return {"email_consent": True, "email_consent_at": parse_datetime(consent.get("consent_updated_at"))}
    if state in _CONSENT_WITHDRAWN:
        return {"email_consent": False}
    return {}


def _order_status(payload: Mapping[str, Any]) -> str:
    financial = payload.get("financial_status") or ""
    if payload.get("cancelled_at") or financial == "voided":
        return OrderStatus.CANCELLED
    if financial == "refunded":
        return OrderStatus.RETURNED
    if financial in {"pending", "authorized", "partially_paid", "expired"}:
        return OrderStatus.PENDING
    return OrderStatus.PAID


def _refund_lines(quantity: int, subtotal: Decimal, product_ref: str) -> list[LineInput]:
    """Negative lines worth exactly ``subtotal``: one price for all units, or one more line for the odd cent."""
    unit = (subtotal / quantity).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    rest = subtotal - unit * quantity
    if rest == 0:
        return [LineInput(quantity=-quantity, unit_price=unit, product_external_id=product_ref)]
    lines = [LineInput(quantity=-1, unit_price=unit + rest, product_external_id=product_ref)]
    if quantity > 1:
        lines.append(LineInput(quantity=-(quantity - 1), unit_price=unit, product_external_id=product_ref))
    return lines


def records_from_orders(payloads: list[Mapping[str, Any]]) -> PlatformRecords:
    """Orders with their customers and products; refunded line items become negative lines."""
    records = PlatformRecords()
    products: dict[str, ProductInput] = {}
    for payload in payloads:
        customer = payload.get("customer")
        customer_ref, guest_email = None, ""
        if isinstance(customer, dict) and customer.get("id"):
            records.customers.append(customer_input(customer, order=payload))
            customer_ref = str(customer["id"])
        else:
            # a guest checkout: the order belongs to the customer with its email, if there is one
            guest_email = text(payload.get("email") or payload.get("contact_email"), 254).lower()
        lines, by_line_id = [], {}
        for item in payload.get("line_items") or []:
            product_ref = str(item["product_id"]) if item.get("product_id") else ""
            if product_ref:
                products[product_ref] = ProductInput(
                    external_id=product_ref,
                    source=SOURCE,
                    fields={
                        "title": text(item.get("title") or item.get("name") or product_ref, 300),
                        "sku": text(item.get("sku"), 100),
                    },
                )
            price = parse_money(item.get("price")) or parse_money("0")
            by_line_id[item.get("id")] = (product_ref, price)
            quantity = int(item.get("quantity") or 0)
            if quantity:
                lines.append(LineInput(quantity=quantity, unit_price=price, product_external_id=product_ref))
        status = _order_status(payload)
        # ADR 0007: a refunded order is "returned" with its goods as sold; the refunds of a paid
        # order are negative lines, priced at what was paid back (subtotal, after discounts)
        for refund in payload.get("refunds") or [] if status != OrderStatus.RETURNED else []:
            for refunded in refund.get("refund_line_items") or []:
                product_ref, price = by_line_id.get(refunded.get("line_item_id"), ("", None))
                quantity = int(refunded.get("quantity") or 0)
                subtotal = parse_money(refunded.get("subtotal"))
                if quantity > 0 and subtotal is not None:
                    lines += _refund_lines(quantity, subtotal, product_ref)
                elif quantity > 0 and price is not None:
                    lines.append(LineInput(quantity=-quantity, unit_price=price, product_external_id=product_ref))
        updated_at = parse_datetime(payload.get("updated_at"))
        fields: dict[str, Any] = {
            "placed_at": parse_datetime(payload.get("processed_at")) or parse_datetime(payload.get("created_at")),
            "status": status,
            "customer_external_id": customer_ref,
        }
        if guest_email:
            fields["customer_email"] = guest_email
        if payload.get("currency"):
            fields["currency"] = text(payload["currency"], 3).upper()
        total = parse_money(payload.get("total_price"))
        if total is not None:
            fields["total"] = total
        if fields["placed_at"] is None:
            fields["placed_at"] = updated_at
        records.orders.append(
            OrderInput(external_id=str(payload["id"]), source=SOURCE, updated_at=updated_at, fields=fields, lines=lines)
        )
        if updated_at:
            records.stamps.append(updated_at)
    records.customers = newest_by_key(records.customers)
    records.orders = newest_by_key(records.orders)
    records.products = list(products.values())
    return records


def records_from_customers(payloads: list[Mapping[str, Any]]) -> PlatformRecords:
    records = PlatformRecords(customers=newest_by_key([customer_input(p) for p in payloads if p.get("id")]))
    records.stamps = [c.updated_at for c in records.customers if c.updated_at]
    return records


# --------------------------------------------------------------------------- pull client

_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


class ShopifyClient:
    """Admin REST API: orders and customers changed since a time, 250 a page, following Link rel="next"."""

    def __init__(self, *, store_url: str, access_token: str):
        self.base = store_url.rstrip("/")
        self.headers = {"X-Shopify-Access-Token": access_token}

    def _pages(self, resource: str, params: dict[str, Any]) -> Iterator[list[dict]]:
        url = f"{self.base}/admin/api/{API_VERSION}/{resource}.json?{urlencode(params)}"
        while url:
            data, headers = http_get_json(url, headers=self.headers)
            if not isinstance(data, dict) or not isinstance(data.get(resource), list):
                raise PlatformError(f"Shopify answered without a list of {resource}.")
            yield data[resource]
            url = _next_url(headers.get("Link", ""), base=self.base)

    def orders_pages(self, *, since: dt.datetime | None) -> Iterator[list[dict]]:
        params: dict[str, Any] = {"status": "any", "limit": PAGE_SIZE, "order": "updated_at asc"}
        if since:
            params["updated_at_min"] = since.isoformat()
        return self._pages("orders", params)

    def customers_pages(self, *, since: dt.datetime | None) -> Iterator[list[dict]]:
        params: dict[str, Any] = {"limit": PAGE_SIZE, "order": "updated_at asc"}
        if since:
            params["updated_at_min"] = since.isoformat()
        return self._pages("customers", params)


def _next_url(link_header: str, *, base: str) -> str | None:
    match = _NEXT_LINK.search(link_header or "")
    if not match:
        return None
    url = match.group(1)
    if urlsplit(url).netloc != urlsplit(base).netloc:
        raise PlatformError("Shopify's next-page link points to another host.")
    return url
