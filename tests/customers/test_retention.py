"""Retention (ADR 0010): stored webhook payloads, uploaded files and idempotency answers older
than DATA_RETENTION_DAYS go, by the nightly task or the command; recent ones and running
imports stay; an upload nobody started goes after a day."""

from __future__ import annotations

import datetime as dt
import json
import os
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone

from config.celery import app
from customers.importers import services as import_services
from customers.integrations.common import sign
from customers.models import IdempotencyRecord, ImportJob, ImportStatus, Order, PlatformConnection, WebhookEvent
from customers.tasks import expire_stored_data
from tests.customers.platform_fakes import shopify_customer, shopify_order

SECRET = "shopify-app-secret-123456"
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
CSV = b"order_id,ordered_at,sku,quantity,unit_price\n1,2024-01-01,A,1,1\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DATA_RETENTION_DAYS = 30


@pytest.fixture
def deliver(client, shop, django_capture_on_commit_callbacks):
    PlatformConnection.unscoped.create(
        shop=shop, platform="shopify", store_url="https://alpha.myshopify.com", webhook_secret=SECRET
    )

    def _deliver(topic: str, payload: dict, *, event_id: str):
        body = json.dumps(payload).encode()
        headers = {
            "HTTP_X_SHOPIFY_TOPIC": topic,
            "HTTP_X_SHOPIFY_EVENT_ID": event_id,
            "HTTP_X_SHOPIFY_HMAC_SHA256": sign(body=body, secret=SECRET),
        }
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/hooks/shopify/alpha/", data=body, content_type="application/json", **headers)

    return _deliver


def _age(model, pk: int, field: str, days: float) -> None:
    model.unscoped.filter(pk=pk).update(**{field: timezone.now() - dt.timedelta(days=days)})


def _job(shop, *, status: str = ImportStatus.DONE, age_days: float = 0) -> ImportJob:
    job = import_services.import_job_create(
        shop=shop, user=None, upload=SimpleUploadedFile("o.csv", CSV), kind="orders", preset="generic"
    )
    ImportJob.unscoped.filter(pk=job.pk).update(status=status, created_at=timezone.now() - dt.timedelta(days=age_days))
    stamp = (timezone.now() - dt.timedelta(days=age_days)).timestamp()
    os.utime(job.file_path, (stamp, stamp))
    return job


def test_old_payloads_are_emptied_and_recent_ones_kept_and_redeliveries_still_recognised(deliver, shop):
    deliver("customers/create", shopify_customer(501, updated_at=T0), event_id="old")
    deliver("orders/create", shopify_order(1001, updated_at=T0), event_id="old-order")
    deliver("orders/delete", {"id": 1001}, event_id="old-delete")
    deliver("customers/update", shopify_customer(501, updated_at=T0 + dt.timedelta(days=1)), event_id="new")
    events = {e.event_id.split(":")[1]: e for e in WebhookEvent.unscoped.filter(shop=shop)}
    for key in ("old", "old-order", "old-delete"):
        _age(WebhookEvent, events[key].pk, "received_at", 31)

    report = expire_stored_data.delay().get()

    assert report["payloads_emptied"] == 2  # the delete's payload is only the order's id already
    stored = {e.event_id.split(":")[1]: e for e in WebhookEvent.unscoped.filter(shop=shop)}
    assert stored["old"].payload == {} and stored["old-order"].payload == {}
    assert stored["old-delete"].payload == {"id": 1001}  # a late update of the order must not bring it back
    assert stored["new"].payload["email"] == "shopper501@example.org"
    assert (stored["old"].topic, stored["old"].status) == ("customers/create", "processed")
    # the event rows stay for dedupe: the same delivery again is a duplicate
    again = deliver("customers/create", shopify_customer(501, updated_at=T0), event_id="old")
    assert again.json() == {"status": "duplicate"}
    deliver("orders/updated", shopify_order(1001, updated_at=T0), event_id="late-update")
    assert not Order.unscoped.filter(shop=shop, external_id="1001").exists()
    assert expire_stored_data.delay().get()["payloads_emptied"] == 0  # nothing twice


def test_old_and_abandoned_upload_files_go_and_recent_and_running_ones_stay(shop):
    old_done = _job(shop, status=ImportStatus.REJECTED, age_days=31)
    recent_done = _job(shop, status=ImportStatus.DONE, age_days=2)
    abandoned = _job(shop, status=ImportStatus.UPLOADED, age_days=1.5)
    mapping = _job(shop, status=ImportStatus.NEEDS_MAPPING, age_days=1.5)
    fresh_upload = _job(shop, status=ImportStatus.UPLOADED, age_days=0.1)
    running = _job(shop, status=ImportStatus.RUNNING, age_days=40)
    stray = Path(old_done.file_path).with_name("crashed.csv.part0")
    stray.write_bytes(CSV)
    stamp = (timezone.now() - dt.timedelta(days=45)).timestamp()
    os.utime(stray, (stamp, stamp))

    report = expire_stored_data.delay().get()

    assert report["files_deleted"] == 4
    assert not any(Path(j.file_path).exists() for j in (old_done, abandoned, mapping)) and not stray.exists()
    assert all(Path(j.file_path).exists() for j in (recent_done, fresh_upload, running))
    assert ImportJob.unscoped.filter(shop=shop).count() == 6  # the jobs and their reports stay


def test_the_uploads_of_a_deleted_shop_go(shop, other_shop):
    kept = _job(shop, status=ImportStatus.DONE, age_days=1)
    gone = _job(other_shop, status=ImportStatus.DONE, age_days=1)
    other_shop.delete()
    assert expire_stored_data.delay().get()["files_deleted"] == 1
    assert Path(kept.file_path).exists() and not Path(gone.file_path).exists()


def test_old_idempotency_answers_go(shop):
    old = IdempotencyRecord.unscoped.create(
        shop=shop, key="a", endpoint="/api/v1/customers/bulk/", request_hash="x", response_status=200
    )
    new = IdempotencyRecord.unscoped.create(
        shop=shop, key="b", endpoint="/api/v1/customers/bulk/", request_hash="y", response_status=200
    )
    _age(IdempotencyRecord, old.pk, "created_at", 31)
    assert expire_stored_data.delay().get()["idempotency_records_deleted"] == 1
    assert list(IdempotencyRecord.unscoped.values_list("pk", flat=True)) == [new.pk]


def test_the_retention_follows_the_setting(deliver, shop, settings):
    deliver("customers/create", shopify_customer(501, updated_at=T0), event_id="e")
    _age(WebhookEvent, WebhookEvent.unscoped.get(shop=shop).pk, "received_at", 8)
    assert expire_stored_data.delay().get()["payloads_emptied"] == 0
    settings.DATA_RETENTION_DAYS = 7
    assert expire_stored_data.delay().get()["payloads_emptied"] == 1


def test_the_command_runs_it_by_hand_with_its_own_period(deliver, shop):
    deliver("customers/create", shopify_customer(501, updated_at=T0), event_id="e")
    _age(WebhookEvent, WebhookEvent.unscoped.get(shop=shop).pk, "received_at", 3)
    out = StringIO()
    call_command("expire_stored_data", "--days", "2", stdout=out)
    assert "emptied 1 webhook payload(s)" in out.getvalue()
    assert WebhookEvent.unscoped.get(shop=shop).payload == {}
    with pytest.raises(CommandError):
        call_command("expire_stored_data", "--days", "0")


def test_beat_runs_the_task_daily_on_the_ingest_queue():
    entries = [e for e in django_settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "customers.expire_stored_data"]
    assert len(entries) == 1
    assert "customers.expire_stored_data" in app.tasks
    assert app.amqp.router.route({}, "customers.expire_stored_data")["queue"].name == "ingest"


def test_shop_redact_empties_every_shopify_payload_of_the_shop(deliver, shop, other_shop):
    deliver("orders/create", shopify_order(1001, updated_at=T0), event_id="o")
    deliver("customers/create", shopify_customer(9, updated_at=T0, email="someone@example.org"), event_id="c")
    other = WebhookEvent.unscoped.create(
        shop=other_shop, platform="shopify", event_id="x", topic="orders/create", payload={"email": "b@example.org"}
    )
    deliver("shop/redact", {"shop_id": 1, "shop_domain": "alpha.myshopify.com"}, event_id="r")
    assert [e.payload for e in WebhookEvent.unscoped.filter(shop=shop)] == [{}, {}, {}]
    other.refresh_from_db()
    assert other.payload == {"email": "b@example.org"}
