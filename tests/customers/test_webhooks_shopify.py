"""Shopify webhooks: signed, stored once, applied once, newest state wins, privacy topics honoured."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from customers.integrations.common import sign
from customers.integrations.services import webhook_event_process
from customers.models import Customer, Order, OrderLine, PlatformConnection, Product, SurveyResponse, WebhookEvent
from customers.money import net_revenue
from customers.signals import data_changed
from tests.customers.platform_fakes import shopify_customer, shopify_order
from tests.factories import CustomerFactory, OrderFactory

SECRET = "shopify-app-secret-123456"
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def connection(shop):
    return PlatformConnection.unscoped.create(
        shop=shop, platform="shopify", store_url="https://alpha.myshopify.com", webhook_secret=SECRET
    )


@pytest.fixture
def deliver(client, connection, django_capture_on_commit_callbacks):
    """POST a signed delivery like Shopify does and run what it queued on commit."""

    def _deliver(topic: str, payload: dict, *, event_id: str = "", secret: str | None = SECRET, slug: str = "alpha"):
        body = json.dumps(payload).encode()
        headers = {
            "HTTP_X_SHOPIFY_TOPIC": topic,
            "HTTP_X_SHOPIFY_SHOP_DOMAIN": "alpha.myshopify.com",
            "HTTP_X_SHOPIFY_WEBHOOK_ID": f"wh-{event_id or topic}",
            "HTTP_X_SHOPIFY_EVENT_ID": event_id or f"ev-{topic}-{payload.get('id')}",
        }
        if secret is not None:
            headers["HTTP_X_SHOPIFY_HMAC_SHA256"] = sign(body=body, secret=secret)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(f"/hooks/shopify/{slug}/", data=body, content_type="application/json", **headers)

    return _deliver


def _order(shop, external_id="1001"):
    return Order.unscoped.get(shop=shop, source="shopify", external_id=external_id)


def test_signed_order_is_stored_processed_and_upserted(deliver, shop):
    response = deliver("orders/create", shopify_order(1001, updated_at=T0, quantity=2))
    assert response.status_code == 200
    assert response.json() == {"status": "received"}
    event = WebhookEvent.unscoped.get(shop=shop)
    assert (event.status, event.topic, event.processed_at is not None) == ("processed", "orders/create", True)
    order = _order(shop)
    assert order.total == Decimal("33.00")
    assert (order.currency, order.status, order.source_updated_at) == ("GBP", "paid", T0)
    assert Customer.unscoped.get(pk=order.customer_id).email == "shopper501@example.org"
    assert Customer.unscoped.get(pk=order.customer_id).email_consent is True
    lines = OrderLine.unscoped.filter(order=order).order_by("pk")
    assert [(line.product.sku, line.quantity, line.unit_price) for line in lines] == [
        ("BEANS", 2, Decimal("12.50")),
        ("MUG", 1, Decimal("8.00")),
    ]


def test_bad_signature_is_401_and_writes_nothing(deliver, shop):
    response = deliver("orders/create", shopify_order(1001, updated_at=T0), secret="not-the-secret")
    assert response.status_code == 401
    assert not WebhookEvent.unscoped.exists()
    assert not Order.unscoped.exists()


def test_missing_signature_is_401_and_writes_nothing(deliver, shop):
    assert deliver("orders/create", shopify_order(1001, updated_at=T0), secret=None).status_code == 401
    assert not WebhookEvent.unscoped.exists()


def test_signature_is_checked_over_the_raw_body(client, connection, shop):
    body = json.dumps(shopify_order(1001, updated_at=T0)).encode()
    signature = sign(body=body, secret=SECRET)
    tampered = body.replace(b'"12.50"', b'"0.01"')
    response = client.post(
        "/hooks/shopify/alpha/",
        data=tampered,
        content_type="application/json",
        HTTP_X_SHOPIFY_TOPIC="orders/create",
        HTTP_X_SHOPIFY_HMAC_SHA256=signature,
    )
    assert response.status_code == 401
    assert not WebhookEvent.unscoped.exists()


def test_empty_webhook_secret_never_verifies(deliver, connection, shop):
    PlatformConnection.unscoped.filter(pk=connection.pk).update(webhook_secret="")
    assert deliver("orders/create", shopify_order(1001, updated_at=T0), secret="").status_code == 401


def test_unknown_shop_or_platform_not_connected_is_404(deliver, client, shop, other_shop):
    assert deliver("orders/create", shopify_order(1001, updated_at=T0), slug="nope").status_code == 404
    assert deliver("orders/create", shopify_order(1001, updated_at=T0), slug="beta").status_code == 404
    assert not WebhookEvent.unscoped.exists()


def test_get_is_not_allowed(client, connection):
    assert client.get("/hooks/shopify/alpha/").status_code == 405


def test_redelivery_with_same_event_id_is_processed_once(deliver, shop):
    payload = shopify_order(1001, updated_at=T0)
    assert deliver("orders/create", payload, event_id="evt-1").json() == {"status": "received"}
    Order.unscoped.filter(shop=shop).delete()  # if it were applied again, the order would come back
    again = deliver("orders/create", payload, event_id="evt-1")
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    assert WebhookEvent.unscoped.filter(shop=shop).count() == 1
    assert not Order.unscoped.filter(shop=shop).exists()


def test_worker_claims_an_event_once(deliver, shop):
    deliver("orders/create", shopify_order(1001, updated_at=T0))
    event = WebhookEvent.unscoped.get(shop=shop)
    assert webhook_event_process(event_id=event.pk) is None  # already processed: not claimed again


def test_out_of_order_deliveries_end_in_the_newest_state(deliver, shop):
    newer = shopify_order(1001, updated_at=T0 + dt.timedelta(hours=2), quantity=5, financial_status="refunded")
    older = shopify_order(1001, updated_at=T0, quantity=1)
    deliver("orders/updated", newer, event_id="e2")
    deliver("orders/create", older, event_id="e1")
    order = _order(shop)
    assert order.status == "returned"
    assert sorted(OrderLine.unscoped.filter(order=order).values_list("quantity", flat=True)) == [1, 5]
    assert order.source_updated_at == T0 + dt.timedelta(hours=2)


def test_refunded_line_items_become_returned_lines(deliver, shop):
    payload = shopify_order(1001, updated_at=T0, quantity=3)
    payload["refunds"] = [{"id": 1, "refund_line_items": [{"line_item_id": 10011, "quantity": 1}]}]
    deliver("orders/updated", payload)
    quantities = OrderLine.unscoped.filter(order=_order(shop)).order_by("pk").values_list("quantity", flat=True)
    assert list(quantities) == [3, 1, -1]


def test_a_partial_refund_is_subtracted_at_what_was_paid_back_to_the_cent(deliver, shop):
    # Shopify's refund_line_items carry `subtotal`, the amount refunded after discounts (ADR 0007)
    payload = shopify_order(1001, updated_at=T0, quantity=3, financial_status="partially_refunded")
    payload["refunds"] = [{"id": 1, "refund_line_items": [{"line_item_id": 10011, "quantity": 3, "subtotal": "10.00"}]}]
    deliver("orders/updated", payload)
    order = _order(shop)
    assert (order.status, order.total) == ("paid", Decimal("45.50"))
    lines = sorted(OrderLine.unscoped.filter(order=order).values_list("quantity", "unit_price"))
    assert lines == [(-2, Decimal("3.33")), (-1, Decimal("3.34")), (1, Decimal("8.00")), (3, Decimal("12.50"))]
    assert net_revenue(shop=shop, orders=Order.unscoped.filter(pk=order.pk)) == Decimal("35.50")


def test_a_refunded_order_is_returned_with_its_goods_as_sold_and_nets_to_zero(deliver, shop):
    payload = shopify_order(1001, updated_at=T0, quantity=2, financial_status="refunded")
    payload["refunds"] = [{"id": 1, "refund_line_items": [{"line_item_id": 10011, "quantity": 2, "subtotal": "25.00"}]}]
    deliver("orders/updated", payload)
    order = _order(shop)
    assert order.status == "returned"
    assert sorted(OrderLine.unscoped.filter(order=order).values_list("quantity", flat=True)) == [1, 2]
    assert net_revenue(shop=shop, orders=Order.unscoped.filter(pk=order.pk)) == 0


def test_guest_order_has_no_customer(deliver, shop):
    deliver("orders/create", shopify_order(1001, updated_at=T0, customer_id=None))
    assert _order(shop).is_guest
    assert not Customer.unscoped.exists()


def test_order_delete_then_older_update_stays_deleted(deliver, shop):
    deliver("orders/create", shopify_order(1001, updated_at=T0), event_id="e1")
    deliver("orders/delete", {"id": 1001}, event_id="e2")
    assert not Order.unscoped.filter(shop=shop).exists()
    deliver("orders/updated", shopify_order(1001, updated_at=T0 + dt.timedelta(minutes=1)), event_id="e3")
    assert not Order.unscoped.filter(shop=shop).exists()
    assert WebhookEvent.unscoped.get(event_id="orders/updated:e3").status == "ignored"


def test_customer_update_maps_consent_and_address(deliver, shop):
    payload = shopify_customer(501, updated_at=T0, email="Grace@Example.org")
    payload["email_marketing_consent"] = {"state": "unsubscribed", "consent_updated_at": None}
    deliver("customers/update", payload)
    customer = Customer.unscoped.get(shop=shop, source="shopify", external_id="501")
    assert (customer.email, customer.email_consent, customer.city) == ("grace@example.org", False, "Leeds")


def test_unknown_topic_is_stored_and_ignored(deliver, shop):
    assert deliver("products/update", {"id": 5}).status_code == 200
    assert WebhookEvent.unscoped.get(shop=shop).status == "ignored"


def test_data_changed_is_sent_once_per_applied_event(deliver, shop):
    received = []

    def listener(sender, shop_id, reason, **kwargs):
        received.append((shop_id, reason))

    data_changed.connect(listener)
    try:
        deliver("orders/create", shopify_order(1001, updated_at=T0), event_id="a")
        deliver("orders/create", shopify_order(1001, updated_at=T0), event_id="b")  # same data: no change
    finally:
        data_changed.disconnect(listener)
    assert received == [(shop.pk, "webhook")]


# --------------------------------------------------------------------------- privacy topics


def test_customers_redact_erases_personal_data_and_keeps_orders(deliver, shop):
    deliver("orders/create", shopify_order(1001, updated_at=T0))
    customer = Customer.unscoped.get(shop=shop, source="shopify", external_id="501")
    SurveyResponse.unscoped.create(shop=shop, customer=customer, email=customer.email, answers={"age_range": "25-34"})
    payload = {
        "shop_id": 1,
        "shop_domain": "alpha.myshopify.com",
        "customer": {"id": 501, "email": "shopper501@example.org", "phone": ""},
        "orders_to_redact": [1001],
    }
    deliver("customers/redact", payload)
    customer.refresh_from_db()
    assert (customer.email, customer.first_name, customer.last_name, customer.city) == ("", "", "", "")
    assert customer.erased_at is not None and customer.email_consent is False
    assert _order(shop).customer_id == customer.pk  # revenue still adds up, anonymously
    assert not SurveyResponse.unscoped.filter(shop=shop).exists()
    # A late (older or newer) delivery never brings the personal data back.
    deliver("orders/updated", shopify_order(1001, updated_at=T0 + dt.timedelta(days=1)), event_id="late")
    customer.refresh_from_db()
    assert customer.email == ""


def test_customers_redact_for_unknown_customer_blocks_later_imports(deliver, shop):
    deliver("customers/redact", {"shop_id": 1, "customer": {"id": 777, "email": "gone@example.org"}})
    deliver("customers/create", shopify_customer(777, updated_at=T0, email="gone@example.org"))
    customer = Customer.unscoped.get(shop=shop, source="shopify", external_id="777")
    assert customer.email == "" and customer.erased_at is not None


def test_shop_redact_erases_only_this_platforms_customers_of_this_shop(deliver, shop, other_shop):
    deliver("customers/create", shopify_customer(501, updated_at=T0))
    csv_customer = CustomerFactory(shop=shop, source="csv", email="kept@example.org")
    elsewhere = CustomerFactory(shop=other_shop, source="shopify", external_id="501", email="other@example.org")
    deliver("shop/redact", {"shop_id": 1, "shop_domain": "alpha.myshopify.com"})
    assert Customer.unscoped.get(shop=shop, source="shopify").email == ""
    csv_customer.refresh_from_db()
    elsewhere.refresh_from_db()
    assert (csv_customer.email, elsewhere.email) == ("kept@example.org", "other@example.org")


def test_data_request_is_listed_and_exported_for_the_owner(deliver, shop, owner_client, viewer_client):
    deliver("orders/create", shopify_order(1001, updated_at=T0))
    payload = {
        "shop_id": 1,
        "shop_domain": "alpha.myshopify.com",
        "orders_requested": [1001],
        "customer": {"id": 501, "email": "shopper501@example.org", "phone": ""},
        "data_request": {"id": 9999},
    }
    deliver("customers/data_request", payload)
    event = WebhookEvent.unscoped.get(shop=shop, topic="customers/data_request")
    assert event.status == "processed"
    page = owner_client.get("/data/")
    assert "shopper501@example.org" in page.content.decode()
    assert f"/data/requests/{event.pk}/export/" in page.content.decode()
    export = owner_client.get(f"/data/requests/{event.pk}/export/")
    assert export.status_code == 200
    data = json.loads(export.content)
    assert data["customers"][0]["profile"]["email"] == "shopper501@example.org"
    assert data["customers"][0]["orders"][0]["external_id"] == "1001"
    assert len(data["customers"][0]["orders"][0]["lines"]) == 2
    assert viewer_client.get(f"/data/requests/{event.pk}/export/").status_code == 403


def test_other_shops_data_request_is_404(deliver, shop, stranger_client):
    deliver("customers/data_request", {"shop_id": 1, "customer": {"id": 501, "email": "x@example.org"}})
    event = WebhookEvent.unscoped.get(shop=shop)
    assert stranger_client.get(f"/data/requests/{event.pk}/export/").status_code == 404


def test_products_from_line_items_are_upserted_once(deliver, shop):
    deliver("orders/create", shopify_order(1001, updated_at=T0), event_id="a")
    deliver("orders/create", shopify_order(1002, updated_at=T0), event_id="b")
    assert Product.unscoped.filter(shop=shop, source="shopify").count() == 2
    assert not Order.unscoped.filter(shop=shop, source="api").exists()
    OrderFactory(shop=shop)  # other sources untouched
    assert Order.unscoped.filter(shop=shop).count() == 3
