"""The shop's audit log: every audited action writes one event that names no customer, API key
use is written once a day, the page is the owner's, and events go after a year."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns import sending
from campaigns import services as campaign_services
from campaigns.models import CampaignStatus
from customers import merging
from customers.integrations.shopify import DATA_REQUEST_TOPIC
from customers.integrations.sync import connection_sync
from customers.models import ImportJob, ImportStatus, Platform, PlatformConnection, WebhookEvent
from shops.audit import audit_record
from shops.models import AuditAction, AuditEvent
from shops.scope import shop_scope
from shops.tasks import expire_audit_events
from tests.campaigns.factories import CampaignFactory, segment_with_members
from tests.customers.platform_fakes import SHOPIFY_TOKEN, FakePlatform, shopify_customer, shopify_order
from tests.factories import ApiKeyFactory, CustomerFactory, MembershipFactory

pytestmark = pytest.mark.django_db

IMPORT_FIXTURES = Path(__file__).parents[1] / "customers" / "importers" / "fixtures"
PASSWORD = "correct horse battery staple"


def _events(shop, action) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_shop(shop).filter(action=action))


def _one(shop, action) -> AuditEvent:
    events = _events(shop, action)
    assert len(events) == 1, events
    return events[0]


def _holds_nothing_of(event: AuditEvent, *texts: str) -> None:
    stored = json.dumps([event.details, event.target_type, str(event)]).lower()
    for text in texts:
        assert text and text.lower() not in stored


# --- sign-ins ---------------------------------------------------------------------------------


def test_a_sign_in_is_recorded_in_every_shop_of_the_user_with_the_address(shop, other_shop, owner):
    owner.set_password(PASSWORD)
    owner.save()
    MembershipFactory(shop=other_shop, user=owner, role="viewer")

    response = Client(REMOTE_ADDR="203.0.113.9").post(
        reverse("login"), {"username": owner.username, "password": PASSWORD}
    )

    assert response.status_code == 302
    for each in (shop, other_shop):
        event = _one(each, AuditAction.SIGN_IN)
        assert event.actor == owner and event.ip == "203.0.113.9"


def test_a_failed_sign_in_is_recorded_once_and_an_unknown_name_nowhere(shop, owner):
    owner.set_password(PASSWORD)
    owner.save()

    Client().post(reverse("login"), {"username": owner.username.upper(), "password": "wrong"})
    Client().post(reverse("login"), {"username": "nobody@example.org", "password": "wrong"})

    event = _one(shop, AuditAction.SIGN_IN_FAILED)
    assert event.actor == owner
    assert not _events(shop, AuditAction.SIGN_IN)
    assert AuditEvent.unscoped.filter(action=AuditAction.SIGN_IN_FAILED).count() == 1


# --- API keys ----------------------------------------------------------------------------------


def test_creating_and_revoking_a_key_are_recorded_with_who_did_it(owner_client, owner, shop):
    owner_client.post(reverse("api_key_create"), {"key-name": "Zapier"})
    created = _one(shop, AuditAction.API_KEY_CREATED)
    assert created.actor == owner and created.target_type == "api_key"

    owner_client.post(reverse("api_key_revoke", args=[created.target_id]))

    revoked = _one(shop, AuditAction.API_KEY_REVOKED)
    assert revoked.actor == owner and revoked.target_id == created.target_id


def test_api_key_use_is_recorded_once_a_day(shop):
    key = ApiKeyFactory(shop=shop, raw="sk_audit_key_000000000000000000000000000000")
    client = Client(HTTP_AUTHORIZATION="Bearer sk_audit_key_000000000000000000000000000000")

    for _ in range(3):
        assert client.get("/api/v1/customers/").status_code == 200
    event = _one(shop, AuditAction.API_KEY_USED)
    assert event.api_key == key and event.actor is None

    key.refresh_from_db()
    type(key).unscoped.filter(pk=key.pk).update(last_used_on=key.last_used_on - dt.timedelta(days=1))
    client.get("/api/v1/customers/")
    client.get("/api/v1/customers/")

    assert len(_events(shop, AuditAction.API_KEY_USED)) == 2


# --- data in: imports and syncs ----------------------------------------------------------------


def test_a_finished_import_is_recorded_with_its_counts_and_no_customer(
    owner_client, owner, shop, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path / "media"
    data = (IMPORT_FIXTURES / "generic_orders.csv").read_bytes()
    upload = SimpleUploadedFile("generic_orders.csv", data, content_type="text/csv")
    owner_client.post(reverse("import_upload"), {"kind": "orders", "preset": "generic", "file": upload})
    job = ImportJob.objects.for_shop(shop).get()
    assert not _events(shop, AuditAction.IMPORT)  # an upload is not an import yet

    mapping = {
        f"map_{name}": name
        for name in (
            "order_id",
            "ordered_at",
            "customer_id",
            "email",
            "sku",
            "product_name",
            "quantity",
            "unit_price",
            "currency",
            "status",
        )
    }
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("import_preview", args=[job.pk]), mapping)

    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    event = _one(shop, AuditAction.IMPORT)
    assert event.actor == owner and (event.target_type, event.target_id) == ("import", job.pk)
    assert event.details["status"] == "done" and event.details["rows_imported"] == job.rows_done
    emails = [line.split(",")[3] for line in data.decode().splitlines()[1:] if "@" in line]
    _holds_nothing_of(event, *emails)


def test_a_sync_is_recorded_with_its_counts_and_no_customer(shop, settings):
    settings.INTEGRATIONS_ALLOW_LOCAL_URLS = True
    t0 = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    with FakePlatform("shopify", page_size=2) as fake:
        fake.customers[500] = shopify_customer(500, updated_at=t0, email="grace.hopper@example.org")
        fake.orders[100] = shopify_order(100, updated_at=t0, customer_id=500)
        connection = PlatformConnection.unscoped.create(
            shop=shop, platform=Platform.SHOPIFY, store_url=fake.url, access_token=SHOPIFY_TOKEN
        )
        connection = PlatformConnection.unscoped.select_related("shop").get(pk=connection.pk)
        with shop_scope(shop):
            run = connection_sync(connection=connection)

    assert run.ok, run.error
    event = _one(shop, AuditAction.SYNC)
    assert event.target_id == connection.pk and event.details["ok"] is True
    assert event.details["fetched"] == {"customers": 1, "orders": 1}
    _holds_nothing_of(event, "grace.hopper@example.org", SHOPIFY_TOKEN)


# --- data out: exports and erasures ------------------------------------------------------------


def test_each_export_is_recorded_by_id_only(owner_client, owner, shop):
    customer = CustomerFactory(shop=shop, email="ada@example.org", first_name="Ada", last_name="Byron")
    segment = segment_with_members(shop, [customer])
    request = WebhookEvent.unscoped.create(
        shop=shop,
        platform=Platform.SHOPIFY,
        event_id=f"dr-{uuid.uuid4().hex}",
        topic=DATA_REQUEST_TOPIC,
        payload={"customer": {"id": 4242, "email": "ada@example.org"}},
    )

    assert owner_client.get(reverse("customer_export", args=[customer.pk])).status_code == 200
    b"".join(owner_client.get(reverse("segment_export", args=[segment.pk])).streaming_content)
    assert owner_client.get(reverse("data_request_export", args=[request.pk])).status_code == 200

    events = _events(shop, AuditAction.EXPORT)
    assert sorted((e.target_type, e.target_id) for e in events) == sorted(
        [("customer", customer.pk), ("segment", segment.pk), ("data_request", request.pk)]
    )
    for event in events:
        assert event.actor == owner
        _holds_nothing_of(event, "ada@example.org", "Byron")


def test_an_erasure_is_recorded_with_the_customer_number_only(owner_client, owner, shop):
    customer = CustomerFactory(shop=shop, email="ada@example.org", first_name="Ada", last_name="Byron")

    owner_client.post(reverse("customer_erase", args=[customer.pk]))

    event = _one(shop, AuditAction.ERASURE)
    assert event.actor == owner and (event.target_type, event.target_id) == ("customer", customer.pk)
    assert event.details == {"customers": 1, "customer_ids": [customer.pk]}
    _holds_nothing_of(event, "ada@example.org", "Byron")


# --- merges, campaigns, settings ---------------------------------------------------------------


def test_a_merge_and_its_undo_are_recorded_by_id_only(shop, owner):
    kept = CustomerFactory(shop=shop, email="ada@example.org", last_name="Byron")
    other = CustomerFactory(shop=shop, email="countess@example.org", last_name="King")
    with shop_scope(shop):
        merge = merging.customer_merge(shop=shop, survivor=kept, other=other, user=owner)
        merging.customer_merge_undo(shop=shop, merge=merge, user=owner)

    merged = _one(shop, AuditAction.MERGE)
    undone = _one(shop, AuditAction.MERGE_UNDONE)
    assert merged.actor == owner and merged.target_id == kept.pk and merged.details["merged_customer"] == other.pk
    assert undone.target_id == other.pk and undone.details["merge"] == merge.pk
    for event in (merged, undone):
        _holds_nothing_of(event, "ada@example.org", "countess@example.org", "Byron", "King")


def test_a_campaign_is_recorded_when_scheduled_started_and_sent_or_cancelled(shop, owner, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    shop.postal_address = "1 Main Street, Springfield"
    shop.save()
    people = [CustomerFactory(shop=shop, email=f"p{n}@example.org", email_consent=True) for n in range(3)]
    campaign = CampaignFactory(shop=shop, segment=segment_with_members(shop, people), holdout_share=0)

    with shop_scope(shop):
        campaign_services.campaign_schedule(campaign=campaign, send_at=None, actor=owner)
    campaign.refresh_from_db()
    if campaign.status == CampaignStatus.SCHEDULED:  # the task did not run the start eagerly
        campaign_services.campaign_start(campaign_id=campaign.pk)
    sending.campaign_send(campaign_id=campaign.pk, worker="test")
    campaign_services.campaign_finish_if_done(campaign_id=campaign.pk)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert _one(shop, AuditAction.CAMPAIGN_SCHEDULED).actor == owner
    assert _one(shop, AuditAction.CAMPAIGN_STARTED).details["pending"] == 3
    sent = _one(shop, AuditAction.CAMPAIGN_SENT)
    assert sent.target_id == campaign.pk and sent.details["recipients"] == {"sent": 3}
    _holds_nothing_of(sent, "p0@example.org")

    draft = CampaignFactory(shop=shop, segment=campaign.segment)
    campaign_services.campaign_cancel(campaign=draft, actor=owner)
    assert _one(shop, AuditAction.CAMPAIGN_CANCELLED).target_id == draft.pk


def test_a_settings_change_records_the_field_names_only(owner_client, shop):
    form = {
        "shop-name": shop.name,
        "shop-timezone": "Europe/Berlin",
        "shop-currency": shop.currency,
        "shop-postal_address": "7 Secret Lane",
        "shop-phone_region": "",
    }

    owner_client.post(reverse("shop_settings"), form)

    event = _one(shop, AuditAction.SETTINGS_CHANGED)
    assert sorted(event.details["fields"]) == ["postal_address", "timezone"]
    _holds_nothing_of(event, "Secret Lane", "Berlin")


def test_free_text_is_refused_in_details(shop):
    with pytest.raises(ValueError):
        audit_record(shop=shop, action=AuditAction.EXPORT, details={"who": "ada@example.org"})
    with pytest.raises(ValueError):
        audit_record(shop=shop, action=AuditAction.EXPORT, details={"name": "Ada Byron"})


# --- the page ----------------------------------------------------------------------------------


def test_the_owner_sees_the_log_newest_first_and_can_filter_by_action(owner_client, shop):
    AuditEvent.unscoped.all().delete()
    old = audit_record(shop=shop, action=AuditAction.EXPORT, target=("segment", 41))
    AuditEvent.unscoped.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=2))
    audit_record(shop=shop, action=AuditAction.SYNC, target=("connection", 42))

    page = owner_client.get(reverse("audit_log")).content.decode()
    assert page.index("connection #42") < page.index("segment #41")
    assert "table-wrap" in page

    filtered = owner_client.get(reverse("audit_log"), {"action": "export"}).content.decode()
    assert "segment #41" in filtered and "connection #42" not in filtered
    partial = owner_client.get(reverse("audit_log"), {"action": "sync"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and "connection #42" in partial


def test_the_page_is_paginated_and_translated(owner_client, shop):
    for n in range(55):
        audit_record(shop=shop, action=AuditAction.EXPORT, target=("segment", 1000 + n))

    first = owner_client.get(reverse("audit_log")).content.decode()
    assert "segment #1054" in first and "segment #1000" not in first
    second = owner_client.get(reverse("audit_log"), {"page": 2}).content.decode()
    assert "segment #1000" in second
    chinese = owner_client.get(reverse("audit_log"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'lang="zh-hans"' in chinese and "返回设置" in chinese and "筛选" in chinese and "审计日志" in chinese


def test_the_settings_page_links_to_the_log(owner_client):
    assert reverse("audit_log") in owner_client.get(reverse("shop_settings")).content.decode()


@pytest.mark.parametrize("who", ["staff_client", "viewer_client"])
def test_staff_and_viewers_may_not_read_the_log(request, who):
    assert request.getfixturevalue(who).get(reverse("audit_log")).status_code == 403


def test_a_stranger_sees_only_their_own_shops_log(stranger_client, shop):
    audit_record(shop=shop, action=AuditAction.EXPORT, target=("segment", 777))

    page = stranger_client.get(reverse("audit_log")).content.decode()

    assert "segment #777" not in page


def test_anonymous_users_are_sent_to_login(client):
    response = client.get(reverse("audit_log"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


# --- retention ---------------------------------------------------------------------------------


def test_the_daily_task_deletes_events_older_than_a_year(shop, other_shop, settings):
    settings.AUDIT_RETENTION_DAYS = 365
    now = timezone.now()
    old = audit_record(shop=shop, action=AuditAction.EXPORT)
    other_old = audit_record(shop=other_shop, action=AuditAction.EXPORT)
    recent = audit_record(shop=shop, action=AuditAction.EXPORT)
    AuditEvent.unscoped.filter(pk__in=[old.pk, other_old.pk]).update(created_at=now - dt.timedelta(days=366))
    AuditEvent.unscoped.filter(pk=recent.pk).update(created_at=now - dt.timedelta(days=364))

    assert expire_audit_events.delay().get() == 2

    assert list(AuditEvent.unscoped.values_list("pk", flat=True)) == [recent.pk]
    assert "expire-audit-events" in settings.CELERY_BEAT_SCHEDULE
