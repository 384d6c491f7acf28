"""Every write of the API honours Idempotency-Key (issue 14, point 5), checked by walking the URLconf.

For every API URL and every write method it serves (POST, PUT, PATCH, DELETE), a request that
succeeds is sent twice with the same key: the second gets the first answer (same status, same
body, header Idempotent-Replayed) and writes nothing to the database; the same key with another
body gets 422. A new write endpoint fails `test_every_api_write_is_listed` until it mixes in
customers.idempotency.IdempotencyKeyMixin and has a request in WRITES below.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics import services as analytics_services
from customers.idempotency import IdempotencyKeyMixin
from customers.merging import customer_merge
from shops.models import Shop
from tests.campaigns.factories import CampaignFactory, consenting_customers, segment_with_members
from tests.factories import CustomerFactory, OrderFactory, ProductFactory
from tests.isolation.test_url_guard import API_PREFIX, ROUTES, Route, _view_class

WRITE_METHODS = ["post", "put", "patch", "delete"]
NO_BODY = None


def _campaign(shop: Shop):
    return CampaignFactory(shop=shop, segment=segment_with_members(shop, consenting_customers(shop, 2)))


def _custom_segment(shop: Shop):
    return analytics_services.custom_segment_create(
        shop=shop, name="Regulars", definition={"field": "frequency", "cmp": "gte", "value": 2}
    )


def _merge(shop: Shop):
    return customer_merge(shop=shop, survivor=CustomerFactory(shop=shop), other=CustomerFactory(shop=shop))


def _later() -> str:
    return (timezone.now() + dt.timedelta(days=3)).isoformat()


# (URL name, method) -> shop -> (URL, a body the endpoint accepts, or NO_BODY)
WRITES: dict[tuple[str, str], Callable[[Shop], tuple[str, object]]] = {
    ("customer-bulk", "post"): lambda shop: (
        "/api/v1/customers/bulk/",
        {"items": [{"external_id": "C-1", "email": "c1@example.org"}]},
    ),
    ("product-bulk", "post"): lambda shop: (
        "/api/v1/products/bulk/",
        {"items": [{"external_id": "P-1", "sku": "BEANS", "title": "Beans"}]},
    ),
    ("order-bulk", "post"): lambda shop: (
        "/api/v1/orders/bulk/",
        {
            "items": [
                {
                    "external_id": "O-1",
                    "placed_at": "2026-02-28T09:30:00Z",
                    "currency": "GBP",
                    "customer_external_id": CustomerFactory(shop=shop, source="api", external_id="C-9").external_id,
                    "lines": [{"sku": ProductFactory(shop=shop).sku, "quantity": 1, "unit_price": "9.90"}],
                }
            ]
        },
    ),
    ("event-create", "post"): lambda shop: (
        "/api/v1/events/",
        {"customer_id": CustomerFactory(shop=shop).pk, "kind": "search", "at": "2026-03-01T10:00:00Z"},
    ),
    ("review-create", "post"): lambda shop: (
        "/api/v1/reviews/",
        {"customer_id": CustomerFactory(shop=shop).pk, "product_sku": ProductFactory(shop=shop).sku, "rating": 5},
    ),
    ("customer-merge", "post"): lambda shop: (
        f"/api/v1/customers/{CustomerFactory(shop=shop).pk}/merge/",
        {"other_id": CustomerFactory(shop=shop).pk},
    ),
    ("customer-merge-undo", "post"): lambda shop: (f"/api/v1/customer-merges/{_merge(shop).pk}/undo/", NO_BODY),
    ("order-detail", "delete"): lambda shop: (
        f"/api/v1/orders/{OrderFactory(shop=shop, customer=CustomerFactory(shop=shop)).pk}/",
        NO_BODY,
    ),
    ("segment-list", "post"): lambda shop: (
        "/api/v1/segments/",
        {"name": "Regulars", "definition": {"field": "frequency", "cmp": "gte", "value": 2}},
    ),
    ("segment-detail", "delete"): lambda shop: (f"/api/v1/segments/{_custom_segment(shop).pk}/", NO_BODY),
    ("analysis-run-list", "post"): lambda shop: ("/api/v1/analysis-runs/", {"only": ["rfm"]}),
    ("campaign-list", "post"): lambda shop: (
        "/api/v1/campaigns/",
        {
            "name": "Spring",
            "segment": segment_with_members(shop, consenting_customers(shop, 2)).pk,
            "subject_template": "Hello",
            "body_template": "Hello {{ first_name }}",
            "offer_type": "amount_off",
            "offer_value": "5.00",
            "code_mode": "shared",
            "discount_code": "FIVE",
        },
    ),
    ("campaign-detail", "patch"): lambda shop: (f"/api/v1/campaigns/{_campaign(shop).pk}/", {"name": "Renamed"}),
    ("campaign-preview", "post"): lambda shop: (f"/api/v1/campaigns/{_campaign(shop).pk}/preview/", {}),
    ("campaign-schedule", "post"): lambda shop: (
        f"/api/v1/campaigns/{_campaign(shop).pk}/schedule/",
        {"scheduled_at": _later()},
    ),
    ("campaign-cancel", "post"): lambda shop: (f"/api/v1/campaigns/{_campaign(shop).pk}/cancel/", NO_BODY),
}


def _write_methods(route: Route) -> list[str]:
    """The write methods a route serves: a router route's action map, or the view's handlers."""
    actions = getattr(route.callback, "actions", None)
    if actions is not None:
        return [m for m in WRITE_METHODS if m in actions]
    view_class = _view_class(route.callback)
    if view_class is None:
        return []
    return [m for m in WRITE_METHODS if m in view_class.http_method_names and hasattr(view_class, m)]


API_WRITES = [
    (route, method)
    for route in ROUTES
    if route.route.startswith(API_PREFIX) and "format" not in route.kwargs
    for method in _write_methods(route)
]


def _send(client, method: str, url: str, body, key: str):
    data = "" if body is NO_BODY else json.dumps(body)
    return getattr(client, method)(url, data=data, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)


def _writes(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().split(" ", 1)[0].upper() in {"INSERT", "UPDATE", "DELETE", "REPLACE"}
    ]


def test_the_walk_finds_the_known_writes():
    found = {(r.name, m) for r, m in API_WRITES}

    assert {("customer-bulk", "post"), ("campaign-detail", "patch"), ("segment-detail", "delete")} <= found


def test_every_api_write_is_listed():
    found = {(r.name, m) for r, m in API_WRITES}
    unlisted = sorted(found - set(WRITES))
    without_mixin = sorted(
        {str(r) for r, _m in API_WRITES if not issubclass(_view_class(r.callback), IdempotencyKeyMixin)}
    )

    assert not without_mixin, (
        "These API views serve writes without honouring Idempotency-Key; put "
        "customers.idempotency.IdempotencyKeyMixin first in their bases:\n" + "\n".join(without_mixin)
    )
    assert not unlisted, (
        "Add a request that succeeds for these writes to WRITES in tests/isolation/test_idempotency_guard.py:\n"
        + "\n".join(f"{name} {method.upper()}" for name, method in unlisted)
    )
    assert set(WRITES) <= found, f"WRITES names writes that no longer exist: {sorted(set(WRITES) - found)}"


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method"), sorted(WRITES), ids=lambda v: v if isinstance(v, str) else "")
def test_a_write_repeated_with_its_key_is_answered_once(name, method, shop, owner_client):
    url, body = WRITES[(name, method)](shop)
    key = f"guard-{uuid.uuid4()}"

    first = _send(owner_client, method, url, body, key)
    assert 200 <= first.status_code < 300, (name, method, first.status_code, first.content[:500])
    with CaptureQueriesContext(connection) as second_queries:
        second = _send(owner_client, method, url, body, key)
    other_body = {"another": "request"} if body in (NO_BODY, {}) else {**body, "another": "request"}
    conflict = _send(owner_client, method, url, other_body, key)

    assert second.status_code == first.status_code, name
    assert (second.json() if second.content else None) == (first.json() if first.content else None), name
    assert second["Idempotent-Replayed"] == "true"
    assert _writes(second_queries.captured_queries) == [], f"{name} {method.upper()}: the repeat wrote"
    assert conflict.status_code == 422, (name, conflict.status_code)
    assert "already used for a different request" in conflict.json()["errors"][0]["message"]
