"""WooCommerce webhooks: ping, signature, guests, out-of-order, refunds, deletes."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from customers.integrations.common import sign
from customers.models import Customer, CustomerIdentity, Order, OrderLine, PlatformConnection, WebhookEvent
from customers.money import net_revenue
from tests.customers.platform_fakes import woo_customer, woo_order

SECRET = "woo-webhook-secret-abcdef"
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def connection(shop):
    return PlatformConnection.unscoped.create(
        shop=shop, platform="woocommerce", store_url="https://alpha.example.com", webhook_secret=SECRET
    )


@pytest.fixture
def deliver(client, connection, django_capture_on_commit_callbacks):
    counter = iter(range(1, 10_000))

    def _deliver(topic: str, payload: dict, *, secret: str | None = SECRET, delivery_id: str | None = None):
        body = json.dumps(payload).encode()
        headers = {
            "HTTP_X_WC_WEBHOOK_TOPIC": topic,
            "HTTP_X_WC_WEBHOOK_RESOURCE": topic.split(".")[0],
            "HTTP_X_WC_WEBHOOK_EVENT": topic.split(".")[1],
            "HTTP_X_WC_WEBHOOK_ID": "12",
            "HTTP_X_WC_WEBHOOK_DELIVERY_ID": delivery_id or f"d{next(counter)}",
            "HTTP_X_WC_WEBHOOK_SOURCE": "https://alpha.example.com/",
        }
        if secret is not None:
            headers["HTTP_X_WC_WEBHOOK_SIGNATURE"] = sign(body=body, secret=secret)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/hooks/woocommerce/alpha/", data=body, content_type="application/json", **headers)

    return _deliver


def test_activation_ping_is_200_and_writes_nothing(client, connection):
    response = client.post(
        "/hooks/woocommerce/alpha/", data="webhook_id=12", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert not WebhookEvent.unscoped.exists()


def test_unsigned_body_that_is_not_a_ping_is_401(client, connection):
    response = client.post("/hooks/woocommerce/alpha/", data=json.dumps({"id": 1}), content_type="application/json")
    assert response.status_code == 401
    assert not WebhookEvent.unscoped.exists()


def test_bad_signature_is_401_and_writes_nothing(deliver, shop):
    assert deliver("order.created", woo_order(5, modified=T0), secret="wrong").status_code == 401
    assert not WebhookEvent.unscoped.exists() and not Order.unscoped.exists()


def test_signed_order_creates_order_customer_and_lines(deliver, shop):
    assert deliver("order.created", woo_order(5, modified=T0, quantity=3)).status_code == 200
    order = Order.unscoped.get(shop=shop, source="woocommerce", external_id="5")
    assert (order.total, order.currency, order.status) == (Decimal("31.50"), "EUR", "paid")
    assert order.placed_at == dt.datetime(2026, 2, 1, 9, 0, tzinfo=dt.UTC)  # *_gmt read as UTC
    assert order.source_updated_at == T0
    customer = Customer.unscoped.get(pk=order.customer_id)
    assert (customer.external_id, customer.email, customer.city) == ("77", "ada@example.org", "London")
    line = OrderLine.unscoped.get(order=order)
    assert (line.quantity, line.unit_price, line.product.sku) == (3, Decimal("10.50"), "TEA")


def test_guest_order_belongs_to_a_customer_known_by_the_billing_email(deliver, shop):
    # customer_id 0 is a guest checkout; its billing email names the person (ADR 0009)
    deliver("order.created", woo_order(6, modified=T0, customer_id=0))
    order = Order.unscoped.get(shop=shop, external_id="6")
    customer = Customer.unscoped.get(shop=shop)
    assert order.customer_id == customer.pk
    assert (customer.source, customer.external_id, customer.email) == ("woocommerce", "", "ada@example.org")
    assert not CustomerIdentity.unscoped.filter(customer=customer).exists()  # known by its email only


def test_guest_order_without_an_email_has_no_customer(deliver, shop):
    payload = woo_order(6, modified=T0, customer_id=0)
    payload["billing"]["email"] = ""
    deliver("order.created", payload)
    assert Order.unscoped.get(shop=shop, external_id="6").is_guest
    assert not Customer.unscoped.filter(shop=shop).exists()


def test_billing_details_do_not_overwrite_the_customer_profile(deliver, shop):
    deliver("customer.updated", woo_customer(77, modified=T0, email="profile@example.org"))
    deliver("order.created", woo_order(5, modified=T0))
    assert Customer.unscoped.get(shop=shop, external_id="77").email == "profile@example.org"


def test_out_of_order_deliveries_end_in_the_newest_state(deliver, shop):
    deliver("order.updated", woo_order(5, modified=T0 + dt.timedelta(hours=1), status="cancelled"))
    deliver("order.created", woo_order(5, modified=T0, status="processing"))
    order = Order.unscoped.get(shop=shop, external_id="5")
    assert order.status == "cancelled"


def test_refunded_order_nets_to_zero(deliver, shop):
    deliver("order.updated", woo_order(5, modified=T0, status="refunded", quantity=2))
    order = Order.unscoped.get(shop=shop, external_id="5")
    assert order.status == "returned"
    # ADR 0007: a returned sale lists its goods as sold; its status says they all came back
    assert list(OrderLine.unscoped.filter(order=order).values_list("quantity", flat=True)) == [2]
    assert net_revenue(shop=shop, orders=Order.unscoped.filter(pk=order.pk)) == 0


def test_redelivery_with_same_delivery_id_is_stored_once(deliver, shop):
    deliver("order.created", woo_order(5, modified=T0), delivery_id="same")
    response = deliver("order.created", woo_order(5, modified=T0), delivery_id="same")
    assert response.json() == {"status": "duplicate"}
    assert WebhookEvent.unscoped.count() == 1


def test_order_deleted(deliver, shop):
    deliver("order.created", woo_order(5, modified=T0))
    deliver("order.deleted", {"id": 5})
    assert not Order.unscoped.filter(shop=shop).exists()


def test_customer_deleted_erases_the_customer(deliver, shop):
    deliver("customer.created", woo_customer(77, modified=T0))
    deliver("customer.deleted", {"id": 77})
    customer = Customer.unscoped.get(shop=shop, external_id="77")
    assert customer.email == "" and customer.erased_at is not None
