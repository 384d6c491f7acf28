"""WooCommerce: webhook headers and topics, payload mapping, and the REST API (wc/v3) pull client.

Field names are WooCommerce's: an order has id, status (pending, processing, on-hold,
completed, cancelled, refunded, failed), currency, date_created_gmt,
date_modified_gmt (naive, in UTC), total, customer_id (0 for a guest), billing
{first_name, last_name, email, city, postcode, country, phone} and line_items [{id,
product_id, sku, name, quantity, price, total}].

Customers and products keep WooCommerce's ids as their identities (source "woocommerce");
the upsert services match them to rows other sources brought in by the same email (or
phone, when the shop turns that on) and SKU (ADR 0009).
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

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

PLATFORM = Platform.WOOCOMMERCE
SOURCE = Source.WOOCOMMERCE
PAGE_SIZE = 100
SIGNATURE_HEADER = "X-WC-Webhook-Signature"

ORDER_UPSERT_TOPICS = frozenset({"order.created", "order.updated", "order.restored"})
ORDER_DELETE_TOPICS = frozenset({"order.deleted"})
CUSTOMER_UPSERT_TOPICS = frozenset({"customer.created", "customer.updated"})
CUSTOMER_DELETE_TOPICS = frozenset({"customer.deleted"})
# Topics whose payload is a customer record: all of it is the person's (customers.redaction).
CUSTOMER_RECORD_TOPICS = CUSTOMER_UPSERT_TOPICS | CUSTOMER_DELETE_TOPICS

_STATUS = {
    "pending": OrderStatus.PENDING,
    "on-hold": OrderStatus.PENDING,
    "processing": OrderStatus.PAID,
    "completed": OrderStatus.PAID,
    "cancelled": OrderStatus.CANCELLED,
    "failed": OrderStatus.CANCELLED,
    "refunded": OrderStatus.RETURNED,
}
_PING = re.compile(rb"^webhook_id=\d+$")


def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    """WooCommerce's activation ping: an unsigned form body "webhook_id=N", answered 200 and not stored."""
    return not headers.get(SIGNATURE_HEADER) and bool(_PING.match(body.strip()))


def delivery_meta(headers: Mapping[str, str]) -> tuple[str, str]:
    topic = headers.get("X-WC-Webhook-Topic", "").strip()
    delivery = headers.get("X-WC-Webhook-Delivery-ID", "").strip()
    return topic, f"{topic}:{delivery}" if delivery else ""


def _gmt(value: Any) -> dt.datetime | None:
    return parse_datetime(value, naive_tz=dt.UTC)


# --------------------------------------------------------------------------- mapping


def _person_fields(person: Mapping[str, Any], billing: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "email": text(person.get("email") or billing.get("email"), 254).lower(),
        "first_name": text(person.get("first_name") or billing.get("first_name"), 100),
        "last_name": text(person.get("last_name") or billing.get("last_name"), 100),
        "phone": text(billing.get("phone"), 40),
        "city": text(billing.get("city"), 100),
        "postcode": text(billing.get("postcode"), 20),
        "country": text(billing.get("country"), 100),
    }


def customer_input(payload: Mapping[str, Any]) -> CustomerInput:
    billing = payload.get("billing") if isinstance(payload.get("billing"), dict) else {}
    return CustomerInput(
        external_id=str(payload["id"]),
        source=SOURCE,
        updated_at=_gmt(payload.get("date_modified_gmt")) or _gmt(payload.get("date_created_gmt")),
        fields=_person_fields(payload, billing),
    )


def records_from_orders(payloads: list[Mapping[str, Any]]) -> PlatformRecords:
    """Orders with products; the billing details create the order's customer if missing.

    A registered customer is named by customer_id. customer_id 0 is a guest checkout: the
    order belongs to the customer with the billing email, who is created (known by that
    email only) when no one has it; without an email the order stays a guest's. Billing
    details never change an existing customer's profile (billing_customers). A refunded
    order is stored as ``returned`` with its lines as sold: its net revenue is zero (ADR 0007).
    """
    records = PlatformRecords()
    products: dict[str, ProductInput] = {}
    for payload in payloads:
        billing = payload.get("billing") if isinstance(payload.get("billing"), dict) else {}
        customer_ref, guest_email = None, ""
        if payload.get("customer_id"):
            customer_ref = str(payload["customer_id"])
            records.billing_customers.append(
                CustomerInput(external_id=customer_ref, source=SOURCE, fields=_person_fields({}, billing))
            )
        else:
            person = _person_fields({}, billing)
            guest_email = person["email"]
            if guest_email:
                records.billing_customers.append(CustomerInput(external_id="", source=SOURCE, fields=person))
        lines = []
        for item in payload.get("line_items") or []:
            product_ref = str(item["product_id"]) if item.get("product_id") else ""
            if product_ref:
                products[product_ref] = ProductInput(
                    external_id=product_ref,
                    source=SOURCE,
                    fields={"title": text(item.get("name") or product_ref, 300), "sku": text(item.get("sku"), 100)},
                )
            quantity = int(item.get("quantity") or 0)
            price = parse_money(item.get("price"))
            if price is None and quantity:
                price = parse_money((parse_money(item.get("subtotal")) or 0) / quantity)
            if quantity:
                lines.append(LineInput(quantity=quantity, unit_price=price, product_external_id=product_ref))
        status = _STATUS.get(payload.get("status") or "", OrderStatus.PENDING)
        updated_at = _gmt(payload.get("date_modified_gmt"))
        fields: dict[str, Any] = {
            "placed_at": _gmt(payload.get("date_created_gmt")) or updated_at,
            "status": status,
            "customer_external_id": customer_ref,
        }
        if guest_email:
            fields["customer_email"] = guest_email
        if payload.get("currency"):
            fields["currency"] = text(payload["currency"], 3).upper()
        total = parse_money(payload.get("total"))
        if total is not None:
            fields["total"] = total
        records.orders.append(
            OrderInput(external_id=str(payload["id"]), source=SOURCE, updated_at=updated_at, fields=fields, lines=lines)
        )
        if updated_at:
            records.stamps.append(updated_at)
    records.orders = newest_by_key(records.orders)
    records.billing_customers = newest_by_key(records.billing_customers)
    records.products = list(products.values())
    return records


def records_from_customers(payloads: list[Mapping[str, Any]]) -> PlatformRecords:
    records = PlatformRecords(customers=newest_by_key([customer_input(p) for p in payloads if p.get("id")]))
    records.stamps = [c.updated_at for c in records.customers if c.updated_at]
    return records


# --------------------------------------------------------------------------- pull client


class WooCommerceClient:
    """REST API wc/v3 with a consumer key and secret ("ck_...:cs_..."), page by page up to X-WP-TotalPages."""

    def __init__(self, *, store_url: str, access_token: str):
        self.base = store_url.rstrip("/")
        token = base64.b64encode(access_token.encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}

    def _pages(self, resource: str, params: dict[str, Any]) -> Iterator[list[dict]]:
        page = 1
        while True:
            query = urlencode({**params, "per_page": PAGE_SIZE, "page": page})
            data, headers = http_get_json(f"{self.base}/wp-json/wc/v3/{resource}?{query}", headers=self.headers)
            if not isinstance(data, list):
                raise PlatformError(f"WooCommerce answered without a list of {resource}.")
            yield data
            try:
                total_pages = int(headers.get("X-WP-TotalPages") or 1)
            except ValueError:
                total_pages = 1
            if not data or page >= total_pages:
                return
            page += 1

    def orders_pages(self, *, since: dt.datetime | None) -> Iterator[list[dict]]:
        params: dict[str, Any] = {"orderby": "modified", "order": "asc", "dates_are_gmt": "true"}
        if since:
            params["modified_after"] = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return self._pages("orders", params)

    def customers_pages(self, *, since: dt.datetime | None) -> Iterator[list[dict]]:
        # The customers endpoint has no "modified after" filter: every customer is read and
        # the upsert's updated_at check leaves the unchanged ones untouched.
        return self._pages("customers", {"orderby": "id", "order": "asc", "role": "all"})
