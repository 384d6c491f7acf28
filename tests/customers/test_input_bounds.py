"""Issue 14 point 1: no input can break a shop. Dates outside 1970-01-01 .. tomorrow, text the
database cannot store and JSON nested without end are refused with a 400 naming the item and
field, through the bulk API, the single-object API, any DRF endpoint and the webhooks."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from customers.integrations.common import PayloadRefused, parse_datetime
from customers.models import Customer, Event, Order
from tests.factories import ApiKeyFactory, CustomerFactory, ProductFactory

RAW_KEY = "sk_test_bounds_alpha_0000000000000000000000000"


@pytest.fixture
def client_with_key(shop):
    ApiKeyFactory(shop=shop, raw=RAW_KEY)
    return Client(HTTP_AUTHORIZATION=f"Bearer {RAW_KEY}")


def _post(client, path: str, body) -> tuple[int, dict]:
    raw = body if isinstance(body, bytes | str) else json.dumps(body)
    response = client.post(path, data=raw, content_type="application/json")
    return response.status_code, response.json()


def _order(placed_at: str, **extra) -> dict:
    return {
        "items": [
            {
                "external_id": "O-1",
                "placed_at": placed_at,
                "lines": [{"sku": "MUG", "quantity": 1, "unit_price": "4.50"}],
                **extra,
            }
        ]
    }


@pytest.mark.parametrize(
    "placed_at", ["0001-01-01T00:00:00+14:00", "2300-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1969-12-31T23:59:59Z"]
)
def test_an_order_date_outside_the_range_is_refused_and_nothing_is_stored(shop, client_with_key, placed_at):
    ProductFactory(shop=shop, sku="MUG")
    status, body = _post(client_with_key, "/api/v1/orders/bulk/", _order(placed_at))
    assert status == 400
    assert body["errors"][0]["index"] == 0 and body["errors"][0]["field"] == "placed_at"
    assert "1970-01-01" in body["errors"][0]["message"]
    assert not Order.unscoped.filter(shop=shop).exists()
    # the same order with a good date goes in
    status, body = _post(client_with_key, "/api/v1/orders/bulk/", _order("2026-05-01T10:00:00Z"))
    assert status == 200, body


def test_a_customer_updated_at_of_year_9999_is_refused_and_the_list_still_answers(shop, client_with_key):
    status, body = _post(
        client_with_key,
        "/api/v1/customers/bulk/",
        {"items": [{"external_id": "C-1", "updated_at": "9999-12-31T00:00:00Z", "birth_date": "1850-01-01"}]},
    )
    assert status == 400
    assert {e["field"] for e in body["errors"]} == {"updated_at", "birth_date"}
    assert client_with_key.get("/api/v1/customers/").status_code == 200


@pytest.mark.parametrize("bad", ["Ann\u0000", "Ann\ud800"])
def test_text_the_database_cannot_store_is_refused_naming_item_and_field(shop, client_with_key, bad):
    status, body = _post(
        client_with_key,
        "/api/v1/customers/bulk/",
        {"items": [{"external_id": "C-1"}, {"external_id": "C-2", "first_name": bad}]},
    )
    assert status == 400
    assert body["errors"] == [{"index": 1, "field": "first_name", "message": body["errors"][0]["message"]}]
    assert not Customer.unscoped.filter(shop=shop).exists()


def test_unstorable_text_in_free_json_properties_is_refused(shop, client_with_key):
    status, body = _post(
        client_with_key,
        "/api/v1/events/",
        {"kind": "search", "at": "2026-05-01T10:00:00Z", "properties": {"q": "mug\u0000"}},
    )
    assert status == 400, body
    assert not Event.unscoped.filter(shop=shop).exists()


def test_json_nested_without_end_is_a_400_not_a_500(shop, client_with_key):
    deep = "[" * 100_000 + "]" * 100_000
    for path in ("/api/v1/orders/bulk/", "/api/v1/events/", "/api/v1/reviews/"):
        status, body = _post(client_with_key, path, deep)
        assert status == 400, (path, body)
    # and an ordinary DRF endpoint with a body (the campaigns API uses DRF's parser)
    response = client_with_key.post("/api/v1/campaigns/", data=deep, content_type="application/json")
    assert response.status_code == 400, response.content[:200]


def test_a_webhook_date_outside_the_range_is_refused_by_name():
    with pytest.raises(PayloadRefused, match="0001-01-01"):
        parse_datetime("0001-01-01T00:00:00+14:00")
    assert parse_datetime("2026-05-01T10:00:00+02:00").year == 2026


def test_a_good_customer_is_still_written(shop, client_with_key):
    CustomerFactory(shop=shop, external_id="C-9", source="api")
    status, body = _post(client_with_key, "/api/v1/customers/bulk/", {"items": [{"external_id": "C-9", "city": "Ely"}]})
    assert status == 200 and body["updated"] == 1


@pytest.mark.parametrize(
    "path", ["/api/v1/orders/bulk/", "/api/v1/customers/bulk/", "/api/v1/events/", "/api/v1/reviews/"]
)
def test_options_on_the_write_endpoints_answers(shop, client_with_key, path):
    assert client_with_key.options(path).status_code == 200
