"""Bulk upsert endpoints, events and reviews: idempotent, all-or-nothing, one shop only."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client

from customers.models import Customer, Event, IdempotencyRecord, Order, OrderLine, Product, Review
from tests.factories import ApiKeyFactory, CustomerFactory, ProductFactory

RAW_KEY = "sk_test_bulk_alpha_0000000000000000000000000"
OTHER_KEY = "sk_test_bulk_beta_00000000000000000000000000"


@pytest.fixture
def api(shop):
    ApiKeyFactory(shop=shop, raw=RAW_KEY)
    return _ApiClient(RAW_KEY)


@pytest.fixture
def other_api(other_shop):
    ApiKeyFactory(shop=other_shop, raw=OTHER_KEY)
    return _ApiClient(OTHER_KEY)


class _ApiClient:
    def __init__(self, raw_key: str):
        self.client = Client()
        self.auth = f"Bearer {raw_key}"

    def post(self, path: str, body, *, key: str | None = None):
        headers = {"HTTP_AUTHORIZATION": self.auth}
        if key:
            headers["HTTP_IDEMPOTENCY_KEY"] = key
        raw = body if isinstance(body, str | bytes) else json.dumps(body)
        return self.client.post(path, data=raw, content_type="application/json", **headers)


def _order(n: int, *, updated_at: str = "2026-03-01T10:00:00Z", quantity: int = 2, **extra) -> dict:
    return {
        "external_id": f"O{n}",
        "placed_at": "2026-02-28T09:30:00Z",
        "updated_at": updated_at,
        "currency": "GBP",
        "customer_external_id": "C1",
        "lines": [
            {"sku": "BEANS-1", "quantity": quantity, "unit_price": "9.90"},
            {"product_external_id": "P2", "quantity": 1, "unit_price": "4.50"},
        ],
        **extra,
    }


@pytest.fixture
def catalogue(shop):
    CustomerFactory(shop=shop, source="api", external_id="C1")
    ProductFactory(shop=shop, source="csv", external_id="X", sku="BEANS-1")
    ProductFactory(shop=shop, source="api", external_id="P2", sku="MUG")


def _state(shop) -> list:
    orders = list(
        Order.unscoped.filter(shop=shop)
        .order_by("external_id")
        .values_list("external_id", "customer_id", "placed_at", "total", "status", "source_updated_at", "updated_at")
    )
    lines = list(
        OrderLine.unscoped.filter(shop=shop).order_by("pk").values_list("pk", "product_id", "quantity", "unit_price")
    )
    return [orders, lines]


# --------------------------------------------------------------------------- orders


def test_bulk_orders_create_then_replay_changes_nothing(api, shop, catalogue):
    body = {"items": [_order(1), _order(2)]}
    response = api.post("/api/v1/orders/bulk/", body)
    assert response.status_code == 200, response.json()
    data = response.json()
    assert (data["created"], data["updated"], data["unchanged"], data["stale"]) == (2, 0, 0, 0)
    order = Order.unscoped.get(shop=shop, external_id="O1")
    assert order.total == Decimal("24.30")  # 2 x 9.90 + 4.50, computed from the lines
    assert order.customer.external_id == "C1"
    assert sorted(OrderLine.unscoped.filter(order=order).values_list("product__sku", flat=True)) == ["BEANS-1", "MUG"]
    assert data["items"][0] == {"index": 0, "source": "api", "external_id": "O1", "id": order.pk, "result": "created"}

    before = _state(shop)
    again = api.post("/api/v1/orders/bulk/", body)
    assert again.status_code == 200
    assert (again.json()["created"], again.json()["unchanged"]) == (0, 2)
    assert _state(shop) == before  # same rows, same line ids, same updated_at


def test_bulk_orders_update_replaces_lines_and_counts_updated(api, shop, catalogue):
    api.post("/api/v1/orders/bulk/", {"items": [_order(1)]})
    response = api.post(
        "/api/v1/orders/bulk/", {"items": [_order(1, updated_at="2026-03-02T10:00:00Z", quantity=5, status="pending")]}
    )
    assert response.json()["updated"] == 1
    order = Order.unscoped.get(shop=shop, external_id="O1")
    assert order.status == "pending"
    assert sorted(OrderLine.unscoped.filter(order=order).values_list("quantity", flat=True)) == [1, 5]
    assert OrderLine.unscoped.filter(shop=shop).count() == 2


def test_bulk_orders_older_update_is_stale_and_ignored(api, shop, catalogue):
    api.post("/api/v1/orders/bulk/", {"items": [_order(1, updated_at="2026-03-05T00:00:00Z")]})
    before = _state(shop)
    response = api.post("/api/v1/orders/bulk/", {"items": [_order(1, updated_at="2026-03-04T00:00:00Z", quantity=9)]})
    assert response.json()["stale"] == 1
    assert response.json()["items"][0]["result"] == "stale"
    assert _state(shop) == before


def test_bulk_orders_guest_order_with_null_customer(api, shop, catalogue):
    response = api.post("/api/v1/orders/bulk/", {"items": [_order(1, customer_external_id=None)]})
    assert response.status_code == 200
    assert Order.unscoped.get(shop=shop, external_id="O1").is_guest


def test_validation_error_names_item_and_field_and_writes_nothing(api, shop, catalogue):
    bad = _order(3)
    bad["lines"][0]["quantity"] = "lots"
    response = api.post("/api/v1/orders/bulk/", {"items": [_order(1), _order(2), _order(4), bad]})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {"index": 3, "field": "lines[0].quantity", "message": "Give a whole number."} in errors
    assert not Order.unscoped.filter(shop=shop).exists()


def test_unknown_product_or_customer_refuses_the_batch(api, shop, catalogue):
    bad = _order(2, customer_external_id="NOPE")
    bad["lines"][1]["product_external_id"] = "P404"
    response = api.post("/api/v1/orders/bulk/", {"items": [_order(1), bad]})
    assert response.status_code == 400
    fields = {(e["index"], e["field"]) for e in response.json()["errors"]}
    assert fields == {(1, "customer_external_id"), (1, "lines[1].product_external_id")}
    assert not Order.unscoped.filter(shop=shop).exists()


def test_money_as_decimal_strings_with_at_most_two_places(api, shop, catalogue):
    bad = _order(1, total="12.345")
    response = api.post("/api/v1/orders/bulk/", {"items": [bad]})
    assert response.json()["errors"] == [{"index": 0, "field": "total", "message": "Use at most 2 decimal places."}]
    response = api.post("/api/v1/orders/bulk/", {"items": [_order(1, total="100.10")]})
    assert Order.unscoped.get(shop=shop).total == Decimal("100.10")


def test_duplicate_key_in_batch_is_refused(api, shop, catalogue):
    response = api.post("/api/v1/orders/bulk/", {"items": [_order(1), _order(1)]})
    assert response.status_code == 400
    assert response.json()["errors"][0]["index"] == 1
    assert not Order.unscoped.filter(shop=shop).exists()


def test_more_than_1000_items_is_refused_naming_the_limit(api, shop):
    items = [{"external_id": f"C{n}"} for n in range(1001)]
    response = api.post("/api/v1/customers/bulk/", {"items": items})
    assert response.status_code == 400
    assert "1000" in response.json()["errors"][0]["message"]
    assert not Customer.unscoped.filter(shop=shop).exists()


def test_exactly_1000_items_is_accepted(api, shop):
    items = [{"external_id": f"C{n}", "email": f"c{n}@example.org"} for n in range(1000)]
    response = api.post("/api/v1/customers/bulk/", {"items": items})
    assert response.status_code == 200
    assert response.json()["created"] == 1000


def test_unknown_field_and_bad_json_are_refused(api, shop):
    response = api.post("/api/v1/customers/bulk/", {"items": [{"external_id": "C1", "emial": "x@example.org"}]})
    assert response.json()["errors"] == [{"index": 0, "field": "emial", "message": "Unknown field."}]
    assert api.post("/api/v1/customers/bulk/", "{not json").status_code == 400


# --------------------------------------------------------------------------- customers and products


def test_bulk_customers_merge_only_given_fields_and_source_defaults_to_api(api, shop):
    api.post(
        "/api/v1/customers/bulk/",
        {"items": [{"external_id": "C1", "email": "Ada@Example.org", "first_name": "Ada", "city": "Leeds"}]},
    )
    response = api.post("/api/v1/customers/bulk/", {"items": [{"external_id": "C1", "city": "York"}]})
    assert response.json()["updated"] == 1
    customer = Customer.unscoped.get(shop=shop, external_id="C1")
    assert (customer.source, customer.email, customer.first_name, customer.city) == (
        "api",
        "ada@example.org",
        "Ada",
        "York",
    )


def test_same_external_id_in_two_sources_are_two_rows(api, shop):
    api.post("/api/v1/products/bulk/", {"items": [{"external_id": "1", "title": "A"}]})
    api.post("/api/v1/products/bulk/", {"items": [{"external_id": "1", "title": "B", "source": "shopify"}]})
    assert Product.unscoped.filter(shop=shop, external_id="1").count() == 2


def test_bulk_products_stale_and_unchanged(api, shop):
    first = {"external_id": "P1", "title": "Beans", "price": "9.90", "updated_at": "2026-01-02T00:00:00+00:00"}
    api.post("/api/v1/products/bulk/", {"items": [first]})
    older = {**first, "title": "Old beans", "updated_at": "2026-01-01T00:00:00+00:00"}
    response = api.post("/api/v1/products/bulk/", {"items": [older, {**first, "external_id": "P2"}]})
    assert (response.json()["stale"], response.json()["created"]) == (1, 1)
    assert Product.unscoped.get(shop=shop, external_id="P1").title == "Beans"


# --------------------------------------------------------------------------- Idempotency-Key


def test_idempotency_key_replays_the_first_answer(api, shop, catalogue):
    body = {"items": [_order(1)]}
    first = api.post("/api/v1/orders/bulk/", body, key="batch-7")
    Order.unscoped.filter(shop=shop).delete()  # even if the data moved on, the answer is replayed
    replay = api.post("/api/v1/orders/bulk/", body, key="batch-7")
    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert not Order.unscoped.filter(shop=shop).exists()
    assert IdempotencyRecord.unscoped.filter(shop=shop).count() == 1


def test_idempotency_key_with_another_body_is_422(api, shop, catalogue):
    api.post("/api/v1/orders/bulk/", {"items": [_order(1)]}, key="batch-8")
    response = api.post("/api/v1/orders/bulk/", {"items": [_order(2)]}, key="batch-8")
    assert response.status_code == 422
    assert "already used for a different request" in response.json()["errors"][0]["message"]
    assert not Order.unscoped.filter(shop=shop, external_id="O2").exists()


def test_refused_request_does_not_use_up_the_key(api, shop, catalogue):
    bad = _order(1)
    bad["placed_at"] = "yesterday"
    assert api.post("/api/v1/orders/bulk/", {"items": [bad]}, key="k").status_code == 400
    assert not IdempotencyRecord.unscoped.exists()


def test_idempotency_keys_are_per_shop(api, other_api, shop, other_shop):
    api.post("/api/v1/customers/bulk/", {"items": [{"external_id": "C1"}]}, key="same")
    response = other_api.post("/api/v1/customers/bulk/", {"items": [{"external_id": "C9"}]}, key="same")
    assert response.status_code == 200
    assert Customer.unscoped.filter(shop=other_shop, external_id="C9").exists()


# --------------------------------------------------------------------------- access


def test_other_shops_key_cannot_touch_this_shop(other_api, shop, other_shop):
    mine = CustomerFactory(shop=shop, source="api", external_id="C1", email="mine@example.org")
    response = other_api.post(
        "/api/v1/customers/bulk/", {"items": [{"external_id": "C1", "email": "stolen@example.org"}]}
    )
    assert response.json()["created"] == 1  # a new row in the caller's own shop
    mine.refresh_from_db()
    assert mine.email == "mine@example.org"
    assert Customer.unscoped.get(shop=other_shop, external_id="C1").email == "stolen@example.org"


def test_other_shops_key_cannot_name_this_shops_customer_in_events(other_api, shop, customer):
    body = {"customer_id": customer.pk, "kind": "search", "at": "2026-01-01T10:00:00Z"}
    response = other_api.post("/api/v1/events/", body)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": None, "field": "customer_id", "message": "No such customer in this shop."}
    ]
    assert not Event.unscoped.exists()


def test_staff_session_may_write_viewer_may_not(staff_client, viewer_client, shop):
    body = json.dumps({"items": [{"external_id": "C1"}]})
    assert viewer_client.post("/api/v1/customers/bulk/", body, content_type="application/json").status_code == 403
    assert staff_client.post("/api/v1/customers/bulk/", body, content_type="application/json").status_code == 200


def test_anonymous_is_refused(client, shop):
    response = client.post("/api/v1/customers/bulk/", "{}", content_type="application/json")
    assert response.status_code in (401, 403)
    assert not Customer.unscoped.exists()


def test_existing_list_endpoints_still_work(api, shop, catalogue):
    api.post("/api/v1/orders/bulk/", {"items": [_order(1)]})
    response = api.client.get("/api/v1/orders/", HTTP_AUTHORIZATION=api.auth)
    assert response.status_code == 200
    assert response.json()["results"][0]["external_id"] == "O1"


# --------------------------------------------------------------------------- events and reviews


def test_event_by_customer_external_id(api, shop, customer):
    body = {
        "customer_external_id": customer.external_id,
        "kind": "search",
        "at": "2026-03-01T10:00:00Z",
        "duration_seconds": 12,
        "properties": {"query": "decaf"},
    }
    response = api.post("/api/v1/events/", body)
    assert response.status_code == 201, response.json()
    event = Event.unscoped.get(pk=response.json()["id"])
    assert (event.shop, event.customer, event.properties) == (shop, customer, {"query": "decaf"})


def test_event_with_bad_kind_names_the_field(api, shop):
    response = api.post("/api/v1/events/", {"kind": "dance", "at": "2026-03-01T10:00:00Z"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "kind"


def test_event_with_idempotency_key_is_recorded_once(api, shop):
    body = {"kind": "page_view", "at": "2026-03-01T10:00:00Z"}
    first = api.post("/api/v1/events/", body, key="ev-1")
    second = api.post("/api/v1/events/", body, key="ev-1")
    assert first.json() == second.json()
    assert Event.unscoped.count() == 1


def test_review_by_sku(api, shop, customer):
    ProductFactory(shop=shop, sku="BEANS-1")
    response = api.post(
        "/api/v1/reviews/", {"product_sku": "BEANS-1", "customer_id": customer.pk, "rating": 4, "text": "Good"}
    )
    assert response.status_code == 201, response.json()
    review = Review.unscoped.get(pk=response.json()["id"])
    assert (review.rating, review.customer, review.product.sku) == (4, customer, "BEANS-1")


def test_review_rating_out_of_range(api, shop):
    ProductFactory(shop=shop, sku="BEANS-1")
    response = api.post("/api/v1/reviews/", {"product_sku": "BEANS-1", "rating": 6})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "rating"
    assert not Review.unscoped.exists()


def test_order_becomes_a_guest_order_when_customer_is_null(api, shop, catalogue):
    api.post("/api/v1/orders/bulk/", {"items": [_order(1), _order(2)]})
    response = api.post(
        "/api/v1/orders/bulk/",
        {"items": [_order(1, customer_external_id=None), _order(2, customer_external_id=None)]},
    )
    assert response.json()["updated"] == 2
    assert all(o.is_guest for o in Order.unscoped.filter(shop=shop))


def test_order_without_updated_at_is_applied_and_keeps_the_stored_stamp(api, shop, catalogue):
    api.post("/api/v1/orders/bulk/", {"items": [_order(1)]})
    item = _order(1, status="cancelled")
    del item["updated_at"]
    assert api.post("/api/v1/orders/bulk/", {"items": [item]}).json()["updated"] == 1
    order = Order.unscoped.get(shop=shop)
    assert order.status == "cancelled"
    assert order.source_updated_at.isoformat() == "2026-03-01T10:00:00+00:00"


def test_order_whose_only_change_is_its_lines_is_updated(api, shop, catalogue):
    api.post("/api/v1/orders/bulk/", {"items": [_order(1, total="30.00")]})
    response = api.post("/api/v1/orders/bulk/", {"items": [_order(1, total="30.00", quantity=3)]})
    assert response.json()["updated"] == 1
    order = Order.unscoped.get(shop=shop)
    assert sorted(OrderLine.unscoped.filter(order=order).values_list("quantity", flat=True)) == [1, 3]
