"""Pull sync against a local server that answers like Shopify / WooCommerce, with pagination."""

from __future__ import annotations

import datetime as dt

import pytest

from customers.integrations.sync import SYNC_OVERLAP, connection_sync
from customers.integrations.tasks import sync_all_connections
from customers.models import Customer, Order, OrderLine, PlatformConnection, SyncRun
from customers.signals import data_changed
from shops.scope import shop_scope
from tests.customers.platform_fakes import (
    SHOPIFY_TOKEN,
    WOO_KEY,
    WOO_SECRET,
    FakePlatform,
    shopify_customer,
    shopify_order,
    woo_customer,
    woo_order,
)

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _local_store_urls(settings):
    settings.INTEGRATIONS_ALLOW_LOCAL_URLS = True


@pytest.fixture
def shopify_fake():
    with FakePlatform("shopify", page_size=2) as fake:
        for n in range(5):
            fake.orders[100 + n] = shopify_order(100 + n, updated_at=T0 + dt.timedelta(minutes=n), customer_id=500 + n)
        for n in range(3):
            fake.customers[500 + n] = shopify_customer(500 + n, updated_at=T0 - dt.timedelta(days=1))
        yield fake


@pytest.fixture
def woo_fake():
    with FakePlatform("woocommerce", page_size=2) as fake:
        for n in range(3):
            fake.orders[n + 1] = woo_order(
                n + 1, modified=T0 + dt.timedelta(minutes=n), customer_id=0 if n == 0 else 77
            )
        fake.customers[77] = woo_customer(77, modified=T0)
        yield fake


def _connect(shop, fake, platform, token):
    return PlatformConnection.unscoped.create(shop=shop, platform=platform, store_url=fake.url, access_token=token)


def _sync(connection):
    connection = PlatformConnection.unscoped.select_related("shop").get(pk=connection.pk)
    with shop_scope(connection.shop):
        return connection_sync(connection=connection)


def _state(shop):
    return (
        list(Order.unscoped.filter(shop=shop).order_by("pk").values_list("pk", "external_id", "total", "updated_at")),
        list(OrderLine.unscoped.filter(shop=shop).order_by("pk").values_list("pk", "quantity")),
        list(Customer.unscoped.filter(shop=shop).order_by("pk").values_list("pk", "email", "updated_at")),
    )


def test_shopify_pull_follows_link_pagination_and_advances_the_cursor(shop, shopify_fake):
    connection = _connect(shop, shopify_fake, "shopify", SHOPIFY_TOKEN)
    run = _sync(connection)
    assert run.ok, run.error
    assert Order.unscoped.filter(shop=shop, source="shopify").count() == 5
    assert Customer.unscoped.filter(shop=shop, source="shopify").count() == 5
    order_requests = [r for r in shopify_fake.requests if r["path"].endswith("/orders.json")]
    assert len(order_requests) == 3  # 2 + 2 + 1
    assert order_requests[0]["query"]["status"] == "any"
    assert "page_info" in order_requests[1]["query"]
    assert all(r["headers"]["X-Shopify-Access-Token"] == SHOPIFY_TOKEN for r in shopify_fake.requests)
    connection.refresh_from_db()
    assert connection.orders_cursor == T0 + dt.timedelta(minutes=4)
    assert connection.last_synced_at is not None and connection.last_error == ""
    assert run.report["counts"]["orders"]["created"] == 5
    assert run.report["fetched"] == {"customers": 3, "orders": 5}


def test_second_run_changes_nothing_and_asks_from_the_cursor(shop, shopify_fake):
    connection = _connect(shop, shopify_fake, "shopify", SHOPIFY_TOKEN)
    _sync(connection)
    before = _state(shop)
    shopify_fake.requests.clear()
    run = _sync(connection)
    assert run.ok
    assert _state(shop) == before
    assert all(c["created"] == 0 and c["updated"] == 0 for c in run.report["counts"].values())
    first = next(r for r in shopify_fake.requests if r["path"].endswith("/orders.json"))
    since = dt.datetime.fromisoformat(first["query"]["updated_at_min"])
    assert since == T0 + dt.timedelta(minutes=4) - SYNC_OVERLAP


def test_pull_repairs_a_missed_webhook(shop, shopify_fake):
    connection = _connect(shop, shopify_fake, "shopify", SHOPIFY_TOKEN)
    _sync(connection)
    # Changes on the platform whose webhooks never arrived: an update and a new order.
    shopify_fake.orders[101] = shopify_order(101, updated_at=T0 + dt.timedelta(hours=1), financial_status="refunded")
    shopify_fake.orders[200] = shopify_order(200, updated_at=T0 + dt.timedelta(hours=1))
    run = _sync(connection)
    assert run.report["counts"]["orders"]["updated"] == 1
    assert run.report["counts"]["orders"]["created"] == 1
    assert Order.unscoped.get(shop=shop, external_id="101").status == "returned"
    assert Order.unscoped.filter(shop=shop, external_id="200").exists()


def test_failed_page_keeps_what_was_committed_and_records_the_error(shop, shopify_fake):
    connection = _connect(shop, shopify_fake, "shopify", SHOPIFY_TOKEN)
    shopify_fake.fail_requests = {4}  # customers page 1 and 2, orders page 1, then orders page 2 fails
    run = _sync(connection)
    assert not run.ok and "HTTP 500" in run.error
    assert Order.unscoped.filter(shop=shop).count() == 2
    connection.refresh_from_db()
    assert connection.orders_cursor == T0 + dt.timedelta(minutes=1)
    assert "HTTP 500" in connection.last_error
    # The next run resumes from the cursor and completes.
    run = _sync(connection)
    assert run.ok
    assert Order.unscoped.filter(shop=shop).count() == 5


def test_wrong_token_fails_the_run_without_writing(shop, shopify_fake):
    connection = _connect(shop, shopify_fake, "shopify", "shpat_wrong")
    run = _sync(connection)
    assert not run.ok and "401" in run.error
    assert not Order.unscoped.exists()
    connection.refresh_from_db()
    assert connection.orders_cursor is None and connection.last_synced_at is None


def test_woocommerce_pull_pages_by_total_pages_with_basic_auth(shop, woo_fake):
    connection = _connect(shop, woo_fake, "woocommerce", f"{WOO_KEY}:{WOO_SECRET}")
    run = _sync(connection)
    assert run.ok, run.error
    assert Order.unscoped.filter(shop=shop, source="woocommerce").count() == 3
    # order 1 is a guest checkout: it belongs to the customer its billing email names (ADR 0009)
    guest = Order.unscoped.select_related("customer").get(shop=shop, external_id="1").customer
    assert (guest.email, guest.external_id) == ("ada@example.org", "")
    order_requests = [r for r in woo_fake.requests if r["path"].endswith("/orders")]
    assert [r["query"]["page"] for r in order_requests] == ["1", "2"]
    assert order_requests[0]["query"]["orderby"] == "modified"
    connection.refresh_from_db()
    assert connection.orders_cursor == T0 + dt.timedelta(minutes=2)
    before = _state(shop)
    woo_fake.requests.clear()
    again = _sync(connection)
    assert _state(shop) == before
    assert again.report["counts"]["orders"] == {
        "created": 0,
        "updated": 0,
        "unchanged": 3,
        "stale": 0,
    }  # re-read in the overlap
    assert next(r for r in woo_fake.requests if r["path"].endswith("/orders"))["query"]["modified_after"]


def test_sync_sends_data_changed_once_per_run_with_changes(shop, woo_fake, django_capture_on_commit_callbacks):
    connection = _connect(shop, woo_fake, "woocommerce", f"{WOO_KEY}:{WOO_SECRET}")
    received = []

    def listener(sender, shop_id, reason, **kwargs):
        received.append(reason)

    data_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _sync(connection)
            _sync(connection)
    finally:
        data_changed.disconnect(listener)
    assert received == ["sync"]


def test_periodic_task_syncs_every_enabled_connection(shop, other_shop, shopify_fake, woo_fake):
    _connect(shop, shopify_fake, "shopify", SHOPIFY_TOKEN)
    _connect(other_shop, woo_fake, "woocommerce", f"{WOO_KEY}:{WOO_SECRET}")
    PlatformConnection.unscoped.create(shop=other_shop, platform="shopify", store_url=shopify_fake.url, enabled=False)
    assert sync_all_connections.delay().get() == 2
    assert SyncRun.unscoped.filter(ok=True).count() == 2
    assert Order.unscoped.filter(shop=shop).count() == 5
    assert Order.unscoped.filter(shop=other_shop).count() == 3


def test_private_store_address_is_refused_unless_allowed(settings, shop, shopify_fake):
    settings.INTEGRATIONS_ALLOW_LOCAL_URLS = False
    connection = _connect(shop, shopify_fake, "shopify", SHOPIFY_TOKEN)
    run = _sync(connection)
    assert not run.ok and "https" in run.error
    assert shopify_fake.requests == []
