"""The data page and the connection pages: who may see and change what."""

from __future__ import annotations

import datetime as dt

import pytest

from customers.models import ImportJob, PlatformConnection, SyncRun, WebhookEvent
from tests.customers.platform_fakes import SHOPIFY_TOKEN, FakePlatform, shopify_order
from tests.factories import CustomerFactory, OrderFactory

FULL_TOKEN = "shpat_0123456789abcdef0123456789abcdef"
FULL_SECRET = "whsec_0123456789abcdef0123456789"


@pytest.fixture
def connection(shop):
    return PlatformConnection.unscoped.create(
        shop=shop,
        platform="shopify",
        store_url="https://alpha.myshopify.com",
        access_token=FULL_TOKEN,
        webhook_secret=FULL_SECRET,
        last_error="Shopify answered HTTP 401.",
    )


@pytest.mark.parametrize("who", ["owner_client", "staff_client", "viewer_client"])
def test_members_see_the_data_page(request, who, shop):
    OrderFactory(shop=shop)
    response = request.getfixturevalue(who).get("/data/")
    assert response.status_code == 200
    assert response.context["counts"].orders == 1


def test_anonymous_is_sent_to_login(client, db):
    response = client.get("/data/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_stranger_sees_only_their_own_shop(stranger_client, shop, connection):
    CustomerFactory(shop=shop)
    WebhookEvent.unscoped.create(shop=shop, platform="shopify", event_id="e1", topic="orders/create", payload={})
    SyncRun.unscoped.create(shop=shop, connection=connection, ok=False, error="secret-ish failure")
    ImportJob.unscoped.create(shop=shop, filename="alpha-orders.csv", file_path="uploads/x.csv")
    response = stranger_client.get("/data/")
    assert response.status_code == 200
    assert response.context["counts"].customers == 0
    body = response.content.decode()
    for leak in ("alpha.myshopify.com", "orders/create", "secret-ish failure", "alpha-orders.csv", "/survey/alpha/"):
        assert leak not in body


def test_data_page_lists_imports_connections_runs_and_survey_snippet(owner_client, shop, connection):
    ImportJob.unscoped.create(shop=shop, filename="orders-2025.csv", file_path="uploads/x.csv", status="done")
    SyncRun.unscoped.create(
        shop=shop,
        connection=connection,
        ok=True,
        report={"pages": 2, "counts": {"orders": {"created": 3, "updated": 1, "unchanged": 0, "stale": 0}}},
    )
    WebhookEvent.unscoped.create(
        shop=shop, platform="shopify", event_id="e1", topic="orders/updated", status="failed", error="boom"
    )
    body = owner_client.get("/data/").content.decode()
    for expected in (
        "orders-2025.csv",
        "alpha.myshopify.com",
        "Shopify answered HTTP 401.",
        "3 new, 1 updated",
        "orders/updated",
        "boom",
        "http://localhost:8000/survey/alpha/embed/",
        "/data/connections/shopify/",
    ):
        assert expected in body, expected


def test_connection_page_is_for_the_owner_only(owner_client, staff_client, viewer_client, client, shop):
    assert owner_client.get("/data/connections/shopify/").status_code == 200
    assert staff_client.get("/data/connections/shopify/").status_code == 403
    assert viewer_client.get("/data/connections/woocommerce/").status_code == 403
    assert client.get("/data/connections/shopify/").status_code == 302
    assert owner_client.get("/data/connections/magento/").status_code == 404


def test_connection_page_never_echoes_secrets_and_shows_the_webhook_url(owner_client, connection):
    body = owner_client.get("/data/connections/shopify/").content.decode()
    assert FULL_TOKEN not in body and FULL_SECRET not in body
    assert "••••cdef" in body
    assert "http://localhost:8000/hooks/shopify/alpha/" in body


def test_owner_connects_woocommerce(owner_client, shop, settings):
    settings.INTEGRATIONS_ALLOW_LOCAL_URLS = True
    response = owner_client.post(
        "/data/connections/woocommerce/",
        {
            "store_url": "https://shop.example.com/",
            "access_token": "ck_1:cs_2",
            "webhook_secret": "s3",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    connection = PlatformConnection.unscoped.get(shop=shop, platform="woocommerce")
    assert (connection.store_url, connection.access_token, connection.webhook_secret) == (
        "https://shop.example.com",
        "ck_1:cs_2",
        "s3",
    )


def test_blank_secret_fields_keep_the_stored_secrets(owner_client, connection, settings):
    settings.INTEGRATIONS_ALLOW_LOCAL_URLS = True
    owner_client.post("/data/connections/shopify/", {"store_url": "https://beta.myshopify.com", "enabled": "on"})
    connection.refresh_from_db()
    assert connection.store_url == "https://beta.myshopify.com"
    assert (connection.access_token, connection.webhook_secret) == (FULL_TOKEN, FULL_SECRET)


def test_private_store_address_is_refused(owner_client, shop):
    response = owner_client.post(
        "/data/connections/shopify/", {"store_url": "https://127.0.0.1:6379", "access_token": "x", "enabled": "on"}
    )
    assert response.status_code == 200
    assert "public internet address" in response.content.decode()
    assert not PlatformConnection.unscoped.exists()


def test_woocommerce_token_needs_key_and_secret(owner_client, shop, settings):
    settings.INTEGRATIONS_ALLOW_LOCAL_URLS = True
    response = owner_client.post(
        "/data/connections/woocommerce/", {"store_url": "https://shop.example.com", "access_token": "ck_only"}
    )
    assert "ck_…:cs_…" in response.content.decode()
    assert not PlatformConnection.unscoped.exists()


def test_sync_now_pulls_in_the_background(owner_client, shop, settings, django_capture_on_commit_callbacks):
    settings.INTEGRATIONS_ALLOW_LOCAL_URLS = True
    with FakePlatform("shopify") as fake:
        fake.orders[1] = shopify_order(1, updated_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        PlatformConnection.unscoped.create(
            shop=shop, platform="shopify", store_url=fake.url, access_token=SHOPIFY_TOKEN
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = owner_client.post("/data/connections/shopify/sync/")
    assert response.status_code == 302
    run = SyncRun.unscoped.get(shop=shop)
    assert run.ok, run.error


def test_sync_and_remove_are_owner_only_and_404_without_connection(staff_client, owner_client, connection, shop):
    assert staff_client.post("/data/connections/shopify/sync/").status_code == 403
    assert staff_client.post("/data/connections/shopify/delete/").status_code == 403
    assert owner_client.post("/data/connections/woocommerce/sync/").status_code == 404
    assert owner_client.post("/data/connections/shopify/delete/").status_code == 302
    assert not PlatformConnection.unscoped.filter(shop=shop).exists()


def test_stranger_cannot_reach_this_shops_connection(stranger_client, connection, other_shop):
    response = stranger_client.get("/data/connections/shopify/")
    assert response.status_code == 200
    assert "alpha.myshopify.com" not in response.content.decode()
    assert stranger_client.post("/data/connections/shopify/delete/").status_code == 404
    assert PlatformConnection.unscoped.filter(pk=connection.pk).exists()


def test_other_shops_sync_run_and_event_ids_are_404(stranger_client, shop):
    event = WebhookEvent.unscoped.create(
        shop=shop, platform="shopify", event_id="e1", topic="customers/data_request", payload={}
    )
    assert stranger_client.get(f"/data/requests/{event.pk}/export/").status_code == 404
