"""Erased means erased (ADR 0010): a customer who came in through every way there is (Shopify
and WooCommerce webhooks, CSV uploads, the survey, the API, a merge, a campaign, an analysis)
is erased through the profile page or a platform's privacy webhook; then no table, no column
and no file under MEDIA_ROOT holds their email, name or phone any more."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from analytics import services as analytics_services
from analytics.models import CustomerScore
from campaigns import tracking
from campaigns.models import Recipient, Suppression, TrackingEvent
from campaigns.selectors import exclusion_reason, suppression_reasons
from customers.importers import services as import_services
from customers.integrations.common import sign
from customers.merging import customer_merge
from customers.models import (
    Customer,
    ImportJob,
    ImportStatus,
    Order,
    PlatformConnection,
    SurveyResponse,
    WebhookEvent,
)
from shops.scope import shop_scope
from tests.campaigns.factories import CampaignFactory
from tests.customers.platform_fakes import shopify_customer, shopify_order, woo_customer, woo_order
from tests.factories import ApiKeyFactory

SHOPIFY_SECRET = "shopify-app-secret-123456"
WOO_SECRET = "woo-webhook-secret-abcdef"
API_KEY = "sk_test_erasure_alpha_000000000000000000000"
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)

EMAIL = "zenobia.quillfeather@example.net"
OLD_EMAIL = "zq.oldmail@example.com"
FIRST, LAST = "Zenobia", "Quillfeather"
PHONE = "+44 7700 900461"
ADDRESS = {
    "first_name": FIRST,
    "last_name": LAST,
    "name": f"{FIRST} {LAST}",
    "address1": "7 Marrowgate Yard",
    "city": "Lower Slaughter",
    "zip": "GL54 2HT",
    "country": "United Kingdom",
    "phone": "07700 900461",
}
# What must be found nowhere afterwards (case-folded): her emails, names, phone, address, IP.
NEEDLES = (
    "zenobia",
    "quillfeather",
    "zq.oldmail",
    "7700900461",
    "7700 900461",
    "marrowgate",
    "lower slaughter",
    "gl54 2ht",
    "203.0.113.9",
)
OTHER_EMAIL = "shopper502@example.org"  # another customer, who must keep everything

CUSTOMERS_CSV = (
    "customer_id,email,first_name,last_name,phone,city,country,email_consent\n"
    f"C9,{EMAIL},{FIRST},{LAST},{PHONE},Lower Slaughter,GB,yes\n"
    "C10,ruth.other@example.org,Ruth,Other,,Leeds,GB,no\n"
)
ORDERS_CSV = (
    "order_id,ordered_at,customer_id,email,first_name,last_name,sku,product_name,quantity,unit_price,currency,status\n"
    f"7001,2026-01-10 10:00:00,C9,{EMAIL},{FIRST},{LAST},BEANS,Beans,{{quantity}},12.50,GBP,paid\n"
)
UNRELATED_CSV = (
    "order_id,ordered_at,customer_id,email,first_name,last_name,sku,product_name,quantity,unit_price,currency,status\n"
    "8001,2026-01-11 10:00:00,C10,ruth.other@example.org,Ruth,Other,BEANS,Beans,1,12.50,GBP,paid\n"
)


# --------------------------------------------------------------------------- the search


def _text(value) -> str:
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def found_in_database(needles=NEEDLES) -> dict[str, set[str]]:
    """{"table.column": needles found} over every value of every table, read with raw SQL."""
    tables = connection.introspection.table_names()
    assert {m._meta.db_table for m in apps.get_models()} <= set(tables)
    found: dict[str, set[str]] = {}
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - names from introspection
            columns = [c[0] for c in cursor.description]
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    folded = _text(value).casefold()
                    hits = {n for n in needles if n in folded}
                    if hits:
                        found.setdefault(f"{table}.{column}", set()).update(hits)
    return found


def found_in_files(root: Path, needles=NEEDLES) -> dict[str, set[str]]:
    found = {}
    for path in Path(root).rglob("*"):
        if path.is_file():
            folded = path.read_bytes().decode("utf-8", "replace").casefold()
            hits = {n for n in needles if n in folded}
            if hits:
                found[str(path.relative_to(root))] = hits
    return found


# --------------------------------------------------------------------------- the shop


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def deliver(client, shop, django_capture_on_commit_callbacks):
    """POST a signed delivery the way Shopify or WooCommerce does and run what it queued."""
    PlatformConnection.unscoped.create(
        shop=shop, platform="shopify", store_url="https://alpha.myshopify.com", webhook_secret=SHOPIFY_SECRET
    )
    PlatformConnection.unscoped.create(
        shop=shop, platform="woocommerce", store_url="https://alpha.example.com", webhook_secret=WOO_SECRET
    )
    counter = iter(range(1, 10_000))

    def _deliver(platform: str, topic: str, payload: dict):
        body = json.dumps(payload).encode()
        n = next(counter)
        if platform == "shopify":
            headers = {
                "HTTP_X_SHOPIFY_TOPIC": topic,
                "HTTP_X_SHOPIFY_EVENT_ID": f"ev-{n}",
                "HTTP_X_SHOPIFY_HMAC_SHA256": sign(body=body, secret=SHOPIFY_SECRET),
            }
        else:
            headers = {
                "HTTP_X_WC_WEBHOOK_TOPIC": topic,
                "HTTP_X_WC_WEBHOOK_DELIVERY_ID": f"d{n}",
                "HTTP_X_WC_WEBHOOK_SIGNATURE": sign(body=body, secret=WOO_SECRET),
            }
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/hooks/{platform}/alpha/", data=body, content_type="application/json", **headers)
        assert response.status_code == 200, response.content
        assert WebhookEvent.unscoped.filter(shop=shop).order_by("-pk").first().status == "processed"

    return _deliver


def _upload(owner_client, name: str, content: str, kind: str = "orders") -> ImportJob:
    """Upload a file through the import page, as the owner does."""
    upload = SimpleUploadedFile(name, content.encode(), content_type="text/csv")
    response = owner_client.post(reverse("import_upload"), {"kind": kind, "preset": "generic", "file": upload})
    assert response.status_code == 302, response.content
    return ImportJob.unscoped.filter(filename=name).latest("pk")


def _start(job: ImportJob, *, dry_run: bool, capture) -> ImportJob:
    """Confirm the preview's mapping and run the import, as the preview page does."""
    preview = import_services.import_preview(job=job)
    assert preview.mapping is not None and preview.mapping.complete, preview.problems
    with capture(execute=True):
        import_services.import_job_start(
            job=job, mapping=preview.mapping.fields, date_formats={}, allow_partial=False, dry_run=dry_run
        )
    job.refresh_from_db()
    return job


def _her() -> Customer:
    return Customer.unscoped.get(email=EMAIL)


@pytest.fixture
def zenobia(shop, deliver, owner_client, client, media, django_capture_on_commit_callbacks):
    """Zenobia Quillfeather, brought in every way there is; returns what the test needs."""
    capture = django_capture_on_commit_callbacks
    # Shopify: an order with her addresses and a note, then her customer record
    customer = shopify_customer(
        8801, updated_at=T0, email=EMAIL, first_name=FIRST, last_name=LAST, phone="+447700900461",
        default_address={**ADDRESS, "id": 61, "customer_id": 8801},
    )  # fmt: skip
    order = shopify_order(
        1001, updated_at=T0, customer=customer, email=EMAIL, billing_address=ADDRESS, shipping_address=ADDRESS,
        note=f"Leave it with {FIRST} {LAST}", browser_ip="203.0.113.9",
    )  # fmt: skip
    deliver("shopify", "orders/create", order)
    deliver(
        "shopify",
        "customers/update",
        {**customer, "tags": "vip", "updated_at": (T0 + dt.timedelta(hours=1)).isoformat()},
    )
    deliver("shopify", "orders/create", shopify_order(1002, updated_at=T0, customer_id=502))  # someone else
    # WooCommerce: her account (found by her email) and an order with her billing details
    deliver(
        "woocommerce",
        "customer.updated",
        {**woo_customer(77, modified=T0, email=EMAIL), "first_name": FIRST, "last_name": LAST},
    )
    woo = woo_order(5, modified=T0, customer_id=77)
    woo["billing"] = {
        "first_name": FIRST,
        "last_name": LAST,
        "email": EMAIL,
        "phone": "07700 900461",
        "city": "Lower Slaughter",
    }
    woo["shipping"] = {"first_name": FIRST, "last_name": LAST, "address_1": "7 Marrowgate Yard"}
    deliver("woocommerce", "order.created", woo)
    her = _her()
    assert Customer.unscoped.filter(shop=shop, email=EMAIL).count() == 1

    # CSV uploads through the import page: imported (its file goes), a dry run and a rejected
    # file (theirs stay), an upload never started, and a file about someone else
    imported = _start(
        _upload(owner_client, "customers.csv", CUSTOMERS_CSV, kind="customers"), dry_run=False, capture=capture
    )
    assert imported.status == ImportStatus.DONE and not Path(imported.file_path).exists()
    dry = _start(_upload(owner_client, "dry.csv", ORDERS_CSV.format(quantity=1)), dry_run=True, capture=capture)
    rejected = _start(
        _upload(owner_client, "bad.csv", ORDERS_CSV.format(quantity="many")), dry_run=False, capture=capture
    )
    assert (dry.status, rejected.status) == (ImportStatus.DONE, ImportStatus.REJECTED)
    abandoned = _upload(owner_client, "zenobia-quillfeather.csv", ORDERS_CSV.format(quantity=2))
    unrelated = _start(_upload(owner_client, "ruth.csv", UNRELATED_CSV), dry_run=True, capture=capture)

    # the survey, under an old address, then that row merged into hers
    response = client.post("/survey/alpha/", {"email": OLD_EMAIL, "age_range": "25-34", "occupation": "Falconer"})
    assert response.status_code == 200
    with shop_scope(shop):
        customer_merge(shop=shop, survivor=her, other=Customer.unscoped.get(email=OLD_EMAIL))
    assert SurveyResponse.unscoped.filter(shop=shop, customer=her).exists()

    # the API: her by her email as id (with an Idempotency-Key), a search, a review
    ApiKeyFactory(shop=shop, raw=API_KEY)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {API_KEY}"}
    item = {"external_id": EMAIL, "email": EMAIL, "first_name": FIRST, "last_name": LAST, "phone": PHONE}
    response = client.post(
        "/api/v1/customers/bulk/", {"items": [item]}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1", **auth
    )
    assert response.status_code == 200, response.content
    event = {
        "customer_id": her.pk,
        "kind": "search",
        "at": T0.isoformat(),
        "properties": {"query": f"gift for {FIRST} {LAST}"},
    }
    assert client.post("/api/v1/events/", event, content_type="application/json", **auth).status_code == 201
    review = {"customer_id": her.pk, "product_sku": "BEANS", "rating": 5, "text": f"{FIRST} {LAST} says: lovely"}
    assert client.post("/api/v1/reviews/", review, content_type="application/json", **auth).status_code == 201

    # a campaign: the message sent to her, her click, her unsubscribe
    campaign = CampaignFactory(shop=shop)
    recipient = Recipient.unscoped.create(
        shop=shop, campaign=campaign, customer=her, email=EMAIL, status="sent", sent_at=timezone.now(),
        error=f"452 4.2.2 <{EMAIL}>: mailbox full (retried)",
    )  # fmt: skip
    TrackingEvent.unscoped.create(
        shop=shop, recipient=recipient, kind="click", at=timezone.now(),
        url="https://alpha.example/welcome?email=zenobia.quillfeather%40example.net",
    )  # fmt: skip
    assert tracking.suppression_add(shop_id=shop.pk, email=EMAIL, reason="unsubscribed")

    # an analysis run: her scores (with the city and occupation copied from her profile)
    with shop_scope(shop):
        run = analytics_services.analysis_run_create(shop=shop, params={}, trigger="command")
        run = analytics_services.analysis_run_execute(run=analytics_services.analysis_run_claim(run_id=run.pk))
    assert run.status == "done", run.error
    assert CustomerScore.unscoped.get(run=run, customer=her).features["city"] == "Lower Slaughter"

    return {"her": her, "files": [dry, rejected, abandoned], "unrelated": unrelated, "media": media}


def _her_everywhere_before(world) -> None:
    """The search finds her where she was brought in, so finding nothing afterwards means something."""
    found = found_in_database()
    for column in (
        "customers_customer.email",
        "customers_importjob.filename",
        "customers_webhookevent.payload",
        "customers_surveyresponse.email",
        "customers_customermerge.snapshot",
        "customers_event.properties",
        "customers_review.text",
        "customers_idempotencyrecord.response_body",
        "campaigns_recipient.email",
        "campaigns_recipient.error",
        "campaigns_suppression.email",
        "campaigns_trackingevent.url",
        "analytics_customerscore.features",
    ):
        assert column in found, column
    files = found_in_files(world["media"])
    assert len(files) == 3 and all({"zenobia", "quillfeather"} <= hits for hits in files.values())


def _nothing_of_her_left(world, shop) -> None:
    assert found_in_database() == {}
    assert found_in_files(world["media"]) == {}
    her = Customer.unscoped.get(pk=world["her"].pk)
    assert her.erased_at is not None
    # what is not hers is all still there: her orders (anonymised), the other customer, the other file
    assert set(Order.unscoped.filter(shop=shop, customer=her).values_list("external_id", flat=True)) >= {"1001", "5"}
    assert Customer.unscoped.filter(shop=shop, email=OTHER_EMAIL).exists()
    assert found_in_database((OTHER_EMAIL,)).keys() >= {"customers_customer.email", "customers_webhookevent.payload"}
    assert Path(world["unrelated"].file_path).exists()
    # jobs keep their reports; the preview of a job whose file went says so
    for job in world["files"]:
        assert not Path(job.file_path).exists()
    # her unsubscribe still holds, as a digest: her address is refused if it comes back
    suppression = Suppression.unscoped.get(shop=shop)
    assert suppression.email == "" and len(suppression.email_hash) == 64
    suppressed = suppression_reasons(shop=shop, emails=[EMAIL.upper()])
    reason = exclusion_reason(shop_id=shop.pk, email=EMAIL, email_consent=True, erased_at=None, suppressed=suppressed)
    assert reason == "unsubscribed"


def test_erasing_on_the_profile_page_leaves_her_in_no_table_and_no_file(zenobia, owner_client, shop):
    _her_everywhere_before(zenobia)
    response = owner_client.post(reverse("customer_erase", args=[zenobia["her"].pk]))
    assert response.status_code == 302
    _nothing_of_her_left(zenobia, shop)


def test_a_shopify_customers_redact_leaves_her_in_no_table_and_no_file(zenobia, deliver, shop):
    _her_everywhere_before(zenobia)
    deliver("shopify", "customers/redact", {"shop_id": 1, "customer": {"id": 8801, "email": EMAIL, "phone": PHONE}})
    _nothing_of_her_left(zenobia, shop)


def test_a_woocommerce_customer_deleted_leaves_her_in_no_table_and_no_file(zenobia, deliver, shop):
    _her_everywhere_before(zenobia)
    deliver("woocommerce", "customer.deleted", {"id": 77})
    _nothing_of_her_left(zenobia, shop)


def test_a_late_delivery_about_her_is_stored_without_her_details(zenobia, deliver, owner_client, shop):
    owner_client.post(reverse("customer_erase", args=[zenobia["her"].pk]))
    late = shopify_customer(8801, updated_at=T0 + dt.timedelta(days=3), email=EMAIL, first_name=FIRST, last_name=LAST)
    deliver("shopify", "customers/update", late)
    guest = woo_order(6, modified=T0, customer_id=0)
    guest["billing"] = {"first_name": FIRST, "last_name": LAST, "email": EMAIL.upper(), "city": "Lower Slaughter"}
    deliver("woocommerce", "order.created", guest)
    assert found_in_database() == {}
    assert WebhookEvent.unscoped.filter(shop=shop, topic="order.created").latest("pk").payload["line_items"]


def test_the_preview_of_an_upload_deleted_with_her_asks_for_it_again(zenobia, owner_client, shop):
    owner_client.post(reverse("customer_erase", args=[zenobia["her"].pk]))
    abandoned = zenobia["files"][2]
    page = owner_client.get(reverse("import_preview", args=[abandoned.pk]))
    assert page.status_code == 200
    assert "no longer available" in page.content.decode()


def test_a_data_request_exports_her_across_every_identity_with_her_campaigns_and_scores(
    zenobia, deliver, owner_client, shop
):
    deliver("shopify", "customers/data_request", {"shop_id": 1, "customer": {"id": 8801, "email": EMAIL}})
    event = WebhookEvent.unscoped.get(shop=shop, topic="customers/data_request")
    data = json.loads(owner_client.get(reverse("data_request_export", args=[event.pk])).content)

    [person] = data["customers"]
    assert person["profile"]["email"] == EMAIL
    identities = {(i["source"], i["external_id"]) for i in person["identities"]}
    assert identities >= {("shopify", "8801"), ("woocommerce", "77"), ("csv", "C9"), ("api", EMAIL)}
    assert {o["external_id"] for o in person["orders"]} >= {"1001", "5"}
    assert person["survey_responses"][0]["email"] == OLD_EMAIL
    assert [m["status"] for m in data["campaign_messages"]] == ["sent"]
    assert [s["reason"] for s in data["suppressions"]] == ["unsubscribed"]
    assert data["scores"][0]["features"]["city"] == "Lower Slaughter"

    # once she is erased, the request's own copy of her details goes too, and so does the export's
    owner_client.post(reverse("customer_erase", args=[zenobia["her"].pk]))
    data = json.loads(owner_client.get(reverse("data_request_export", args=[event.pk])).content)
    assert not any(n in json.dumps(data).casefold() for n in NEEDLES)
