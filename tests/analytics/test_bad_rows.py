"""Issue 14 point 1: a row the analysis cannot use never stops the whole analysis; it is left out,
counted and named on the analysis page, and it can be mended or deleted through the API."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.test import Client

from analytics import services
from analytics.models import RunStatus
from customers.demo import demo_shop_generate
from customers.models import Order, OrderLine
from shops.scope import shop_scope
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db
RAW_KEY = "sk_test_badrows_alpha_000000000000000000000000"


def _run(shop):
    with shop_scope(shop):
        run = services.analysis_run_create(shop=shop, params={}, trigger="command")
        run = services.analysis_run_claim(run_id=run.pk)
        return services.analysis_run_execute(run=run)


@pytest.fixture
def demo_shop(shop):
    demo_shop_generate(shop=shop, customers=150, months=6, as_of=dt.date(2026, 11, 1))
    return shop


def _spoil(order: Order, when: str) -> None:
    """Store a date no way in accepts any more, as a row written before the checks (or in the admin)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("UPDATE customers_order SET placed_at = %s::timestamptz WHERE id = %s", [when, order.pk])
    else:
        Order.unscoped.filter(pk=order.pk).update(placed_at=dt.datetime(1960, 5, 1, tzinfo=dt.UTC))


def test_an_order_out_of_range_is_left_out_counted_and_named_not_a_failed_run(demo_shop, owner_client):
    bad = Order.unscoped.filter(shop=demo_shop, customer__isnull=False).order_by("pk").first()
    _spoil(bad, "0001-01-01 00:00:00+14 BC")

    run = _run(demo_shop)

    assert run.status == RunStatus.DONE, run.error
    assert run.summary["skipped"]["orders"] == {"count": 1, "ids": [bad.pk]}
    page = owner_client.get("/analysis/").content.decode()
    assert "1 order was left out" in page and str(bad.pk) in page


def test_a_spoilt_order_is_mended_by_sending_it_again_or_deleted_through_the_api(demo_shop):
    ApiKeyFactory(shop=demo_shop, raw=RAW_KEY)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {RAW_KEY}")
    bad, other = Order.unscoped.filter(shop=demo_shop, customer__isnull=False).order_by("pk")[:2]
    _spoil(bad, "0001-01-01 00:00:00+14 BC")
    _spoil(other, "0001-01-01 00:00:00+14 BC")
    line = OrderLine.unscoped.filter(order_id=bad.pk).select_related("product").first()
    body = {
        "items": [
            {
                "external_id": bad.external_id,
                "source": bad.source,
                "placed_at": "2026-05-01T10:00:00Z",
                "lines": [{"sku": line.product.sku, "quantity": 1, "unit_price": "4.50"}],
            }
        ]
    }
    response = client.post("/api/v1/orders/bulk/", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    assert Order.unscoped.get(pk=bad.pk).placed_at == dt.datetime(2026, 5, 1, 10, tzinfo=dt.UTC)

    response = client.delete(f"/api/v1/orders/{other.pk}/")
    assert response.status_code == 204
    assert not Order.unscoped.filter(pk=other.pk).exists()
    assert not OrderLine.unscoped.filter(order_id=other.pk).exists()
    assert client.delete(f"/api/v1/orders/{other.pk}/").status_code == 404
    assert _run(demo_shop).summary.get("skipped") is None


def test_deleting_an_order_is_for_this_shops_staff_only(shop, other_shop, viewer_client):
    from tests.factories import OrderFactory

    ApiKeyFactory(shop=shop, raw=RAW_KEY)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {RAW_KEY}")
    theirs = OrderFactory(shop=other_shop)
    ours = OrderFactory(shop=shop)

    assert client.delete(f"/api/v1/orders/{theirs.pk}/").status_code == 404
    assert Order.unscoped.filter(pk=theirs.pk).exists()
    assert viewer_client.delete(f"/api/v1/orders/{ours.pk}/").status_code == 403
    assert Order.unscoped.filter(pk=ours.pk).exists()
