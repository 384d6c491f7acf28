"""Identity resolution through the bulk API and the upsert services (ADR 0009): one customer and
one product whatever the source, fields merged by the newest value, consent and erasure kept."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.test import Client

from customers import services
from customers.keys import email_key, phone_key
from customers.models import (
    Customer,
    CustomerIdentity,
    Event,
    IdentityKind,
    Order,
    OrderLine,
    Product,
    ProductIdentity,
)
from customers.services import CustomerInput, LineInput, OrderInput, ProductInput
from tests.factories import ApiKeyFactory, CustomerFactory, ProductFactory

RAW_KEY = "sk_test_identity_alpha_00000000000000000000000"
T0 = dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def post(shop):
    ApiKeyFactory(shop=shop, raw=RAW_KEY)
    client = Client()

    def _post(path: str, body: dict):
        return client.post(
            path, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {RAW_KEY}"
        )

    return _post


def _identities(customer: Customer) -> set[tuple[str, str]]:
    return set(CustomerIdentity.unscoped.filter(customer=customer).values_list("source", "external_id"))


# --------------------------------------------------------------------------- keys


def test_email_key_trims_and_case_folds():
    assert email_key("  Ann.Lee@Example.COM ") == "ann.lee@example.com"
    assert email_key("not an email") == ""
    assert email_key(None) == ""


def test_phone_key_reads_national_numbers_in_the_shop_region_and_international_anywhere():
    assert phone_key("07700 900123", region="GB") == "+447700900123"
    assert phone_key("+44 (0)7700-900123") == "+447700900123"
    assert phone_key("07700 900123") == ""  # no region: a national number cannot be read
    assert phone_key("12") == ""


# --------------------------------------------------------------------------- customers


def test_same_email_from_a_second_source_links_the_identity_instead_of_creating(shop, post):
    existing = CustomerFactory(shop=shop, source="csv", external_id="17850", email="ann@example.org")
    response = post(
        "/api/v1/customers/bulk/",
        {"items": [{"external_id": "A-1", "email": " ANN@example.org ", "first_name": "Ann"}]},
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["created"] == 0 and body["linked"] == 1 and body["matched"] == 0
    assert body["items"][0] == {
        "index": 0,
        "source": "api",
        "external_id": "A-1",
        "id": existing.pk,
        "result": "updated",
        "match": "email",
    }
    assert Customer.unscoped.filter(shop=shop).count() == 1
    assert _identities(existing) == {("csv", "17850"), ("api", "A-1")}
    # the next delivery finds it by its own identity
    again = post("/api/v1/customers/bulk/", {"items": [{"external_id": "A-1", "city": "Leeds"}]}).json()
    assert again["matched"] == 1 and again["linked"] == 0 and again["items"][0]["id"] == existing.pk


def test_two_ids_with_one_email_in_a_batch_become_one_customer(shop, post):
    body = post(
        "/api/v1/customers/bulk/",
        {
            "items": [
                {"external_id": "A-1", "email": "bo@example.org", "first_name": "Bo"},
                {"external_id": "A-2", "email": "Bo@Example.org", "last_name": "Berg"},
            ]
        },
    ).json()
    assert body["created"] == 1
    customer = Customer.unscoped.get(shop=shop)
    assert (customer.first_name, customer.last_name) == ("Bo", "Berg")
    assert _identities(customer) == {("api", "A-1"), ("api", "A-2")}
    assert {item["id"] for item in body["items"]} == {customer.pk}


def test_phone_matches_only_when_the_shop_turns_it_on(shop):
    CustomerFactory(shop=shop, source="csv", external_id="1", email="", phone="07700 900123")
    shop.phone_region = "GB"
    shop.save()
    Customer.unscoped.get(shop=shop).save()  # keys are read with the shop's region
    item = CustomerInput(external_id="S-9", source="shopify", fields={"phone": "+44 7700 900123"})
    services.customers_upsert(shop=shop, items=[item])
    assert Customer.unscoped.filter(shop=shop).count() == 2

    shop.match_by_phone = True
    shop.save()
    item = CustomerInput(external_id="W-3", source="woocommerce", fields={"phone": "+447700900123"})
    report = services.customers_upsert(shop=shop, items=[item])
    assert report.linked == 1 and report.created == 0
    assert report.items[0]["match"] == "phone"


def test_each_field_keeps_its_newest_value_whatever_the_source(shop):
    services.customers_upsert(
        shop=shop,
        items=[
            CustomerInput(
                external_id="S-1",
                source="shopify",
                updated_at=T0 + dt.timedelta(days=2),
                fields={"email": "cy@example.org", "city": "York", "phone": "+441234567890"},
            )
        ],
    )
    # an older record from another source: its city loses, the field it alone knows is taken
    report = services.customers_upsert(
        shop=shop,
        items=[
            CustomerInput(
                external_id="W-1",
                source="woocommerce",
                updated_at=T0,
                fields={"email": "cy@example.org", "city": "Hull", "occupation": "Baker", "phone": ""},
            )
        ],
    )
    customer = Customer.unscoped.get(shop=shop)
    assert (customer.city, customer.occupation, customer.phone) == ("York", "Baker", "+441234567890")
    assert report.updated == 1
    # a newer one wins
    services.customers_upsert(
        shop=shop,
        items=[
            CustomerInput(
                external_id="W-1", source="woocommerce", updated_at=T0 + dt.timedelta(days=3), fields={"city": "Hull"}
            )
        ],
    )
    customer.refresh_from_db()
    assert customer.city == "Hull"
    # an older delivery of the same field only is stale
    report = services.customers_upsert(
        shop=shop,
        items=[CustomerInput(external_id="S-1", source="shopify", updated_at=T0, fields={"city": "Ripon"})],
    )
    assert report.stale == 1
    customer.refresh_from_db()
    assert customer.city == "Hull"


def test_a_withdrawal_beats_an_older_consent_from_any_source(shop):
    services.customers_upsert(
        shop=shop,
        items=[
            CustomerInput(
                external_id="S-1",
                source="shopify",
                updated_at=T0,
                fields={"email": "di@example.org", "email_consent": True, "email_consent_at": T0},
            )
        ],
    )
    customer = Customer.unscoped.get(shop=shop)
    assert customer.email_consent
    withdrawn_at = T0 + dt.timedelta(days=5)
    services.customers_upsert(
        shop=shop,
        items=[
            CustomerInput(
                external_id="W-1",
                source="woocommerce",
                updated_at=withdrawn_at,
                fields={"email": "di@example.org", "email_consent": False},
            )
        ],
    )
    customer.refresh_from_db()
    assert not customer.email_consent
    # the first source says "subscribed" again, with its old consent time and a newer update: no
    services.customers_upsert(
        shop=shop,
        items=[
            CustomerInput(
                external_id="S-1",
                source="shopify",
                updated_at=withdrawn_at + dt.timedelta(days=1),
                fields={"email_consent": True, "email_consent_at": T0, "city": "Bath"},
            )
        ],
    )
    customer.refresh_from_db()
    assert not customer.email_consent and customer.city == "Bath"
    # an undated "yes" (a spreadsheet column) does not undo an unsubscribe either
    services.customers_upsert(
        shop=shop,
        items=[CustomerInput(external_id="", source="csv", fields={"email": "di@example.org", "email_consent": True})],
    )
    customer.refresh_from_db()
    assert not customer.email_consent
    # a consent given after the withdrawal counts
    again = withdrawn_at + dt.timedelta(days=10)
    services.customers_upsert(
        shop=shop,
        items=[
            CustomerInput(
                external_id="S-1",
                source="shopify",
                updated_at=again,
                fields={"email_consent": True, "email_consent_at": again},
            )
        ],
    )
    customer.refresh_from_db()
    assert customer.email_consent and customer.email_consent_at == again


def test_an_erased_customer_is_never_written_or_created_again_from_any_source(shop, post):
    customer = CustomerFactory(
        shop=shop, source="shopify", external_id="S-1", email="eve@example.org", phone="+441234567890"
    )
    shop.match_by_phone = True
    shop.save()
    services.customers_erase(shop=shop, customer_ids=[customer.pk])
    customer.refresh_from_db()
    assert customer.email == "" and customer.email_key == ""
    assert not CustomerIdentity.unscoped.filter(shop=shop, external_id__contains="eve").exists()

    body = post(
        "/api/v1/customers/bulk/",
        {"items": [{"external_id": "A-1", "source": "api", "email": "Eve@Example.org", "first_name": "Eve"}]},
    ).json()
    assert body["created"] == 0 and body["items"][0] == {
        "index": 0,
        "source": "api",
        "external_id": "A-1",
        "id": customer.pk,
        "result": "erased",
        "match": "email",
    }
    by_phone = services.customers_upsert(
        shop=shop, items=[CustomerInput(external_id="W-1", source="woocommerce", fields={"phone": "+44 1234 567890"})]
    )
    assert by_phone.erased == 1 and by_phone.created == 0
    assert Customer.unscoped.filter(shop=shop).count() == 1
    customer.refresh_from_db()
    assert customer.first_name == "" and customer.email == "" and customer.erased_at is not None
    kinds = set(CustomerIdentity.unscoped.filter(customer=customer).values_list("source", flat=True))
    assert {IdentityKind.ERASED_EMAIL, IdentityKind.ERASED_PHONE, "shopify", "api", "woocommerce"} <= kinds


# --------------------------------------------------------------------------- products and orders


def test_a_product_from_a_second_source_is_matched_by_sku(shop, post):
    product = ProductFactory(shop=shop, source="csv", external_id="85123A", sku="85123A", title="Heart holder")
    body = post(
        "/api/v1/products/bulk/",
        {"items": [{"external_id": "P-77", "title": "White heart holder", "sku": "85123A", "price": "2.55"}]},
    ).json()
    assert body["created"] == 0 and body["linked"] == 1
    assert Product.unscoped.filter(shop=shop).count() == 1
    product.refresh_from_db()
    assert product.title == "White heart holder" and product.price == Decimal("2.55")
    assert set(ProductIdentity.unscoped.filter(product=product).values_list("source", "external_id")) == {
        ("csv", "85123A"),
        ("api", "P-77"),
    }


def test_orders_find_customers_and_products_through_linked_identities(shop, post):
    customer = CustomerFactory(shop=shop, source="csv", external_id="17850", email="fay@example.org")
    product = ProductFactory(shop=shop, source="csv", external_id="85123A", sku="85123A")
    post("/api/v1/customers/bulk/", {"items": [{"external_id": "A-1", "email": "fay@example.org"}]})
    post("/api/v1/products/bulk/", {"items": [{"external_id": "P-77", "title": "Holder", "sku": "85123A"}]})
    response = post(
        "/api/v1/orders/bulk/",
        {
            "items": [
                {
                    "external_id": "O-1",
                    "placed_at": "2026-05-01T10:00:00Z",
                    "customer_external_id": "A-1",
                    "lines": [{"product_external_id": "P-77", "quantity": 2, "unit_price": "2.55"}],
                }
            ]
        },
    )
    assert response.status_code == 200, response.json()
    order = Order.unscoped.get(shop=shop, external_id="O-1")
    assert order.customer_id == customer.pk
    assert list(OrderLine.unscoped.filter(order=order).values_list("product_id", flat=True)) == [product.pk]
    # events name the customer by any of its identities too
    event = post(
        "/api/v1/events/",
        {"customer_external_id": "A-1", "kind": "page_view", "at": "2026-05-01T10:00:00Z"},
    )
    assert event.status_code == 201, event.json()
    assert Event.unscoped.get(shop=shop).customer_id == customer.pk


def test_a_guest_order_with_a_known_email_goes_to_that_customer(shop, post):
    customer = CustomerFactory(shop=shop, source="csv", external_id="17850", email="gus@example.org")
    ProductFactory(shop=shop, sku="MUG")
    items = [
        OrderInput(
            external_id="G-1",
            source="woocommerce",
            fields={"placed_at": T0, "customer_external_id": None, "customer_email": "GUS@example.org "},
            lines=[LineInput(quantity=1, unit_price=Decimal("4.50"), sku="MUG")],
        ),
        OrderInput(
            external_id="G-2",
            source="woocommerce",
            fields={"placed_at": T0, "customer_external_id": None, "customer_email": "nobody@example.org"},
            lines=[LineInput(quantity=1, unit_price=Decimal("4.50"), sku="MUG")],
        ),
    ]
    services.orders_upsert(shop=shop, items=items)
    assert Order.unscoped.get(shop=shop, external_id="G-1").customer_id == customer.pk
    assert Order.unscoped.get(shop=shop, external_id="G-2").customer_id is None
    # through the API as well
    response = post(
        "/api/v1/orders/bulk/",
        {
            "items": [
                {
                    "external_id": "G-3",
                    "placed_at": "2026-05-02T10:00:00Z",
                    "customer_email": "gus@example.org",
                    "lines": [{"sku": "MUG", "quantity": 1, "unit_price": "4.50"}],
                }
            ]
        },
    )
    assert response.status_code == 200, response.json()
    assert Order.unscoped.get(shop=shop, external_id="G-3").customer_id == customer.pk


def test_products_upsert_links_the_identity_of_a_product_found_by_sku_in_the_same_batch(shop):
    report = services.products_upsert(
        shop=shop,
        items=[
            ProductInput(external_id="1", source="shopify", fields={"title": "Mug", "sku": "MUG"}),
            ProductInput(external_id="2", source="shopify", fields={"title": "Mug (blue)", "sku": "MUG"}),
        ],
    )
    assert report.created == 1 and report.linked == 1
    product = Product.unscoped.get(shop=shop)
    assert product.title == "Mug (blue)"
    assert ProductIdentity.unscoped.filter(product=product).count() == 2


def test_erasing_a_customer_known_by_an_email_as_id_keeps_no_trace_of_it(shop):
    """The Shopify and WooCommerce CSV layouts name customers by their email: that id is erased too."""
    report = services.customers_upsert(
        shop=shop, items=[CustomerInput(external_id="Sophie@Example.fr", source="csv", fields={"first_name": "So"})]
    )
    customer = Customer.unscoped.get(pk=report.items[0]["id"])
    services.customers_erase(shop=shop, customer_ids=[customer.pk])
    customer.refresh_from_db()
    assert customer.external_id == ""
    assert not CustomerIdentity.unscoped.filter(shop=shop, external_id__icontains="sophie").exists()
    again = services.customers_upsert(
        shop=shop, items=[CustomerInput(external_id="sophie@example.fr", source="csv", fields={"first_name": "So"})]
    )
    assert again.erased == 1 and again.created == 0
