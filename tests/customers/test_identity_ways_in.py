"""One customer, one product whatever the way in (ADR 0009): CSV, Shopify and WooCommerce
webhooks and pull sync, the survey and the demo data all find the same rows by identity,
email (or phone, when the shop says so) and SKU; erasure and consent hold across sources."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from customers.demo import demo_shop_generate
from customers.integrations.common import sign
from customers.integrations.sync import connection_sync
from customers.models import (
    Customer,
    CustomerIdentity,
    IdentityKind,
    Order,
    PlatformConnection,
    Product,
    ProductIdentity,
    SurveyResponse,
    WebhookEvent,
)
from customers.services import CustomerInput, customers_upsert
from customers.survey import survey_submit
from shops.scope import shop_scope
from tests.customers.platform_fakes import (
    SHOPIFY_TOKEN,
    FakePlatform,
    shopify_customer,
    shopify_order,
    woo_customer,
    woo_order,
)
from tests.factories import CustomerFactory

SHOPIFY_SECRET = "shopify-app-secret-123456"
WOO_SECRET = "woo-webhook-secret-abcdef"
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)

# A generic-layout orders file: customer C1 (Ada) bought the beans Shopify sells as product 9001.
CSV_ORDERS = (
    "order_id,ordered_at,customer_id,email,first_name,last_name,phone,sku,product_name,quantity,unit_price,currency,status\n"
    "7001,2026-01-10 10:00:00,C1,Ada@Example.org,Ada,Lovelace,{phone},BEANS,Beans,1,12.50,GBP,paid\n"
)


@pytest.fixture(autouse=True)
def _platforms(shop):
    PlatformConnection.unscoped.create(
        shop=shop, platform="shopify", store_url="https://alpha.myshopify.com", webhook_secret=SHOPIFY_SECRET
    )
    PlatformConnection.unscoped.create(
        shop=shop, platform="woocommerce", store_url="https://alpha.example.com", webhook_secret=WOO_SECRET
    )


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """POST a signed delivery the way Shopify or WooCommerce does and run what it queued."""
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
        return response

    return _deliver


@pytest.fixture
def import_csv(tmp_path, shop):
    """Import an orders file in the generic layout with the import_csv command, as an owner would."""

    def _import(content: str, *, name: str = "orders.csv") -> dict:
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        out = StringIO()
        call_command("import_csv", str(path), "--shop", shop.slug, "--kind", "orders", "--json", stdout=out)
        return json.loads(out.getvalue())

    return _import


def _identities(customer: Customer) -> set[tuple[str, str]]:
    return set(CustomerIdentity.unscoped.filter(customer=customer).values_list("source", "external_id"))


def _ada_order(order_id: int = 1001, **extra) -> dict:
    customer = shopify_customer(501, updated_at=T0, email="ada@example.org", first_name="Ada", last_name="Lovelace")
    return shopify_order(order_id, updated_at=T0, customer=customer, **extra)


# --------------------------------------------------------------------------- CSV and Shopify


def test_a_shopify_webhook_after_a_csv_import_finds_the_csv_customer_and_product(shop, import_csv, deliver):
    import_csv(CSV_ORDERS.format(phone=""))
    deliver("shopify", "orders/create", _ada_order())

    customer = Customer.unscoped.get(shop=shop)
    assert _identities(customer) == {("csv", "C1"), ("shopify", "501")}
    orders = Order.unscoped.filter(shop=shop)
    assert set(orders.values_list("source", "external_id")) == {("csv", "7001"), ("shopify", "1001")}
    assert set(orders.values_list("customer_id", flat=True)) == {customer.pk}
    beans = Product.unscoped.get(shop=shop, sku="BEANS")
    assert set(ProductIdentity.unscoped.filter(product=beans).values_list("source", "external_id")) >= {
        ("shopify", "9001")
    }
    assert Product.unscoped.filter(shop=shop).count() == 2  # beans (both sources) and Shopify's mug


def test_a_csv_import_after_shopify_finds_the_shopify_customer_and_product(shop, import_csv, deliver):
    deliver("shopify", "orders/create", _ada_order())
    import_csv(CSV_ORDERS.format(phone=""))

    customer = Customer.unscoped.get(shop=shop)
    assert _identities(customer) == {("csv", "C1"), ("shopify", "501")}
    assert set(Order.unscoped.filter(shop=shop).values_list("customer_id", flat=True)) == {customer.pk}
    assert Product.unscoped.filter(shop=shop, sku="BEANS").count() == 1


def test_a_pull_sync_after_a_csv_import_links_and_reports_how_it_matched(shop, import_csv, owner_client, settings):
    settings.INTEGRATIONS_ALLOW_LOCAL_URLS = True
    import_csv(CSV_ORDERS.format(phone=""))
    with FakePlatform("shopify", page_size=5) as fake:
        fake.customers[501] = shopify_customer(501, updated_at=T0, email="ADA@example.org ")
        fake.customers[502] = shopify_customer(502, updated_at=T0)
        connection = PlatformConnection.unscoped.get(shop=shop, platform="shopify")
        PlatformConnection.unscoped.filter(pk=connection.pk).update(store_url=fake.url, access_token=SHOPIFY_TOKEN)
        connection.refresh_from_db()
        with shop_scope(shop):
            run = connection_sync(connection=connection)
    assert run.ok, run.error
    counts = run.report["counts"]["customers"]
    assert (counts["linked"], counts["created"], counts["matched"]) == (1, 1, 0)
    assert Customer.unscoped.filter(shop=shop).count() == 2
    body = owner_client.get("/data/").content.decode()
    assert "0 found by their id here, 1 found by email, phone or SKU and linked" in body


# --------------------------------------------------------------------------- guest orders


def test_a_woocommerce_guest_order_with_a_known_email_attaches_to_that_customer(shop, import_csv, deliver):
    import_csv(CSV_ORDERS.format(phone=""))
    payload = woo_order(6, modified=T0, customer_id=0)
    payload["billing"].update(email="ADA@example.org", first_name="A.", last_name="L.", city="Paris")
    deliver("woocommerce", "order.created", payload)

    customer = Customer.unscoped.get(shop=shop)
    assert Order.unscoped.get(shop=shop, source="woocommerce", external_id="6").customer_id == customer.pk
    # the billing details of one order are not the customer's profile
    assert (customer.first_name, customer.last_name, customer.city) == ("Ada", "Lovelace", "")


def test_a_shopify_guest_order_with_a_known_email_attaches_to_that_customer(shop, deliver):
    known = CustomerFactory(shop=shop, source="csv", external_id="C1", email="ada@example.org")
    deliver("shopify", "orders/create", shopify_order(1001, updated_at=T0, customer_id=None, email="Ada@Example.org"))
    deliver(
        "shopify",
        "orders/create",
        shopify_order(1002, updated_at=T0, customer_id=None, contact_email="ada@example.org"),
    )
    deliver("shopify", "orders/create", shopify_order(1003, updated_at=T0, customer_id=None, email="new@example.org"))

    orders = dict(Order.unscoped.filter(shop=shop).values_list("external_id", "customer_id"))
    assert orders == {"1001": known.pk, "1002": known.pk, "1003": None}
    assert Customer.unscoped.filter(shop=shop).count() == 1


# --------------------------------------------------------------------------- survey


def test_the_survey_for_a_known_email_updates_that_customer(shop, deliver):
    deliver("shopify", "customers/create", shopify_customer(501, updated_at=T0, email="Ada@Example.org"))
    survey_submit(shop=shop, email="ada@example.org", age_range="35-44", interests=["tea"], email_consent=True)

    customer = Customer.unscoped.get(shop=shop)
    assert (customer.age_range, customer.interests, customer.email) == ("35-44", ["tea"], "ada@example.org")
    assert SurveyResponse.unscoped.get(shop=shop).customer_id == customer.pk
    assert {"age_range", "interests", "email_consent"} <= set(customer.field_updated_at)


def test_the_survey_for_a_former_email_of_a_merged_customer_updates_the_survivor(shop):
    survivor = CustomerFactory(shop=shop, email="ada.new@example.org", occupation="Engineer")
    CustomerIdentity.unscoped.create(
        shop=shop, customer=survivor, source=IdentityKind.EMAIL, external_id="ada.old@example.org"
    )

    survey_submit(shop=shop, email="Ada.Old@example.org", occupation="Mathematician")

    survivor.refresh_from_db()
    assert Customer.unscoped.filter(shop=shop).count() == 1
    # the survey names the person; it does not move them back to the old address
    assert (survivor.occupation, survivor.email) == ("Mathematician", "ada.new@example.org")


def test_the_survey_for_a_new_email_creates_a_survey_customer_with_its_match_key(shop):
    response = survey_submit(shop=shop, email=" Bo@Example.org ", age_range="25-34")
    customer = Customer.unscoped.get(shop=shop)
    assert (customer.source, customer.email, customer.email_key) == ("survey", "bo@example.org", "bo@example.org")
    assert response.customer_id == customer.pk


# --------------------------------------------------------------------------- phone


@pytest.mark.parametrize("match_by_phone", [False, True])
def test_phone_matches_only_when_the_shop_turns_it_on(shop, import_csv, deliver, match_by_phone):
    shop.phone_region, shop.match_by_phone = "GB", match_by_phone
    shop.save()
    import_csv(CSV_ORDERS.format(phone="07700 900123"))
    other_email = shopify_customer(501, updated_at=T0, email="a.lovelace@example.org", phone="+44 7700 900123")
    deliver("shopify", "customers/create", other_email)

    customers = Customer.unscoped.filter(shop=shop)
    assert customers.count() == (1 if match_by_phone else 2)
    assert set(customers.values_list("phone_key", flat=True)) == {"+447700900123"}  # one number, read in GB


# --------------------------------------------------------------------------- erasure


def test_a_redact_through_a_second_identity_erases_the_one_customer_for_good(shop, import_csv, deliver):
    import_csv(CSV_ORDERS.format(phone=""))
    deliver("shopify", "orders/create", _ada_order())
    customer = Customer.unscoped.get(shop=shop)

    deliver("shopify", "customers/redact", {"customer": {"id": 501, "email": "ada@example.org"}})
    customer.refresh_from_db()
    assert customer.erased_at is not None and (customer.email, customer.first_name) == ("", "")
    assert Order.unscoped.filter(shop=shop, customer=customer).count() == 2

    # Nothing brings the person back: not a webhook, not a CSV, not the survey.
    deliver("shopify", "customers/update", shopify_customer(501, updated_at=T0 + dt.timedelta(days=1)))
    deliver("shopify", "orders/create", shopify_order(1002, updated_at=T0, customer_id=None, email="ada@example.org"))
    import_csv(CSV_ORDERS.format(phone="").replace("7001,", "7002,").replace(",C1,", ",C9,"), name="again.csv")
    assert survey_submit(shop=shop, email="ADA@example.org", age_range="25-34") is None

    customer.refresh_from_db()
    assert Customer.unscoped.filter(shop=shop).count() == 1
    assert (customer.email, customer.age_range, customer.erased_at is not None) == ("", "", True)
    assert not SurveyResponse.unscoped.filter(shop=shop).exists()
    orders = dict(Order.unscoped.filter(shop=shop).values_list("external_id", "customer_id"))
    # the CSV's new id for the same email is linked to the erased row; a guest order by email stays a guest's
    assert orders == {"7001": customer.pk, "1001": customer.pk, "7002": customer.pk, "1002": None}


def test_a_woocommerce_customer_deleted_erases_the_csv_customer_it_was_linked_to(shop, import_csv, deliver):
    import_csv(CSV_ORDERS.format(phone=""))
    deliver("woocommerce", "customer.created", woo_customer(77, modified=T0, email="ada@example.org"))
    customer = Customer.unscoped.get(shop=shop)
    assert ("woocommerce", "77") in _identities(customer)

    deliver("woocommerce", "customer.deleted", {"id": 77})
    customer.refresh_from_db()
    assert customer.erased_at is not None and customer.email == ""
    assert Customer.unscoped.filter(shop=shop).count() == 1


def test_a_redact_for_an_unknown_customer_leaves_an_identity_that_stops_every_source(shop, import_csv, deliver):
    deliver("shopify", "customers/redact", {"customer": {"id": 777, "email": "ada@example.org"}})
    placeholder = Customer.unscoped.get(shop=shop)
    assert ("shopify", "777") in _identities(placeholder)
    assert (placeholder.email, placeholder.email_key, placeholder.erased_at is not None) == ("", "", True)

    deliver("shopify", "orders/create", shopify_order(1001, updated_at=T0, customer_id=777))
    import_csv(CSV_ORDERS.format(phone=""))
    survey_submit(shop=shop, email="ada@example.org", email_consent=True)

    placeholder.refresh_from_db()
    assert Customer.unscoped.filter(shop=shop).count() == 1
    assert (placeholder.email, placeholder.email_consent) == ("", False)
    assert set(Order.unscoped.filter(shop=shop).values_list("customer_id", flat=True)) == {placeholder.pk}


def test_a_data_request_exports_the_customer_whatever_source_brought_them_in(shop, import_csv, deliver, owner_client):
    import_csv(CSV_ORDERS.format(phone=""))
    deliver("shopify", "customers/data_request", {"customer": {"id": 501, "email": "ADA@example.org"}})
    event_id = WebhookEvent.unscoped.get(shop=shop, topic="customers/data_request").pk
    data = json.loads(owner_client.get(f"/data/requests/{event_id}/export/").content)
    assert [c["profile"]["email_key"] for c in data["customers"]] == ["ada@example.org"]
    assert data["customers"][0]["orders"][0]["external_id"] == "7001"


# --------------------------------------------------------------------------- consent


def test_a_withdrawal_in_the_survey_beats_an_older_shopify_consent(shop, deliver):
    deliver("shopify", "customers/create", shopify_customer(501, updated_at=T0, email="ada@example.org"))
    assert Customer.unscoped.get(shop=shop).email_consent is True

    survey_submit(shop=shop, email="ada@example.org", email_consent=False)
    # Shopify sends the same customer again, still subscribed as of T0 (older than the withdrawal)
    deliver("shopify", "customers/update", shopify_customer(501, updated_at=T0, email="ada@example.org", tags="vip"))

    customer = Customer.unscoped.get(shop=shop)
    assert (customer.email_consent, customer.email_consent_at) == (False, None)
    assert customer.tags == ["vip"]  # the rest of the delivery still counts


def test_a_newer_shopify_unsubscribe_beats_a_consent_given_in_the_survey(shop, deliver):
    survey_submit(shop=shop, email="ada@example.org", email_consent=True)
    later = timezone.now() + dt.timedelta(minutes=5)
    payload = shopify_customer(501, updated_at=later, email="ada@example.org")
    payload["email_marketing_consent"] = {"state": "unsubscribed", "consent_updated_at": later.isoformat()}
    deliver("shopify", "customers/update", payload)

    customer = Customer.unscoped.get(shop=shop)
    assert _identities(customer) == {("shopify", "501")}
    assert customer.email_consent is False


def test_shopify_not_subscribed_does_not_withdraw_a_consent_given_elsewhere(shop, deliver):
    later = timezone.now() + dt.timedelta(minutes=5)
    customers_upsert(
        shop=shop,
        items=[
            CustomerInput(external_id="A-1", source="api", fields={"email": "ada@example.org", "email_consent": True})
        ],
    )
    payload = shopify_customer(501, updated_at=later, email="ada@example.org")
    payload["email_marketing_consent"] = {"state": "not_subscribed", "consent_updated_at": None}
    deliver("shopify", "customers/update", payload)
    assert Customer.unscoped.get(shop=shop).email_consent is True


# --------------------------------------------------------------------------- demo data and the data page


def test_demo_customers_and_products_are_found_again_by_a_later_csv(shop, import_csv):
    demo_shop_generate(shop=shop, customers=5, seed=3, as_of=dt.date(2026, 3, 1))
    first = Customer.unscoped.filter(shop=shop).order_by("external_id").first()
    product = Product.unscoped.filter(shop=shop).order_by("external_id").first()
    assert _identities(first) == {("demo", first.external_id)}
    assert set(ProductIdentity.unscoped.filter(product=product).values_list("source", "external_id")) == {
        ("demo", product.external_id)
    }
    assert first.email_key == first.email.lower()

    csv = (
        "order_id,ordered_at,customer_id,email,sku,product_name,quantity,unit_price,currency,status\n"
        f"9001,2026-03-01 10:00:00,X1,{first.email.upper()},{product.sku},{product.title},1,5.00,GBP,paid\n"
    )
    import_csv(csv)
    assert Customer.unscoped.filter(shop=shop).count() == 5
    assert Product.unscoped.filter(shop=shop, sku=product.sku).count() == 1
    assert ("csv", "X1") in _identities(first)


def test_the_data_page_counts_customers_known_by_more_than_one_source(shop, import_csv, deliver, owner_client):
    import_csv(CSV_ORDERS.format(phone=""))
    deliver("shopify", "orders/create", _ada_order())
    response = owner_client.get("/data/")
    assert response.context["identity_counts"]["customers_with_several"] == 1
    assert "1 customer is known by more than one source" in response.content.decode()


# --------------------------------------------------------------------------- mapping


def test_a_shopify_order_without_the_customers_email_is_matched_by_the_orders_email(shop, import_csv, deliver):
    # Without the protected-customer-data scope, Shopify leaves email and phone out of order.customer
    import_csv(CSV_ORDERS.format(phone=""))
    customer = {"id": 501, "updated_at": T0.isoformat(), "default_address": {"zip": "LS1 4AP", "city": "Leeds"}}
    payload = shopify_order(1001, updated_at=T0, customer=customer, email="ada@example.org")
    payload["billing_address"] = {"zip": "LS1 4AP", "phone": "+44 113 496 0000"}
    deliver("shopify", "orders/create", payload)

    stored = Customer.unscoped.get(shop=shop)
    assert _identities(stored) == {("csv", "C1"), ("shopify", "501")}
    assert (stored.postcode, stored.phone) == ("LS1 4AP", "+44 113 496 0000")


def test_woocommerce_billing_postcode_is_the_customers_postcode(shop, deliver):
    payload = woo_customer(77, modified=T0)
    payload["billing"]["postcode"] = "SW1A 1AA"
    deliver("woocommerce", "customer.created", payload)
    assert Customer.unscoped.get(shop=shop).postcode == "SW1A 1AA"
