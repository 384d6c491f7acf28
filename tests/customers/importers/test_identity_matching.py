"""CSV import finds customers and products the shop already has (ADR 0009): by CSV id, then email
(then phone, when the shop asks), products by SKU; it links the file's ids and never duplicates a
person, re-subscribes someone who left or brings an erased customer back."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from customers.demo import demo_shop_generate
from customers.importers import services
from customers.models import Customer, CustomerIdentity, Order, OrderLine, Product, ProductIdentity, Source
from customers.services import CustomerInput, customers_erase, customers_upsert
from tests.factories import CustomerFactory, ProductFactory

FIXTURES = Path(__file__).parent / "fixtures"
pytestmark = pytest.mark.django_db

ORDERS_HEADER = "order_id,ordered_at,customer_id,email,first_name,last_name,sku,product_name,quantity,unit_price\n"
LONG_AGO = "2025-01-01T00:00:00+00:00"


def _write(tmp_path: Path, text: str, name: str = "file.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _import(shop, path: Path | str, **kwargs) -> services.ImportReport:
    path = path if isinstance(path, Path) else FIXTURES / path
    report = services.import_file(shop=shop, path=path, **kwargs)
    assert report.status in ("imported", "dry_run"), report.errors
    return report


def _csv_identity(shop, external_id: str) -> CustomerIdentity:
    return CustomerIdentity.objects.for_shop(shop).get(source=Source.CSV, external_id=external_id)


def _identities(shop, customer: Customer) -> list[tuple[str, str]]:
    return sorted(
        CustomerIdentity.objects.for_shop(shop).filter(customer=customer).values_list("source", "external_id")
    )


# --- over the demo shop ----------------------------------------------------------------------


@pytest.fixture
def demo_shop(shop):
    demo_shop_generate(shop=shop, customers=60, seed=3, as_of=dt.date(2026, 3, 1))
    return shop


def _orders_over(people: list[Customer], goods: list[Product]) -> str:
    """20 order lines from the shop system's own export: its customer ids (S-1 ...), the people's
    emails as that system writes them (upper case here and there), the catalogue's SKUs; the
    first person appears under two customer ids."""
    rows = []
    ids = [f"S-{n}" for n in range(1, len(people) + 1)] + ["S-99"]
    who = [*people, people[0]]
    for n in range(20):
        person, customer_id = who[n % len(who)], ids[n % len(ids)]
        email = person.email.upper() if n % 3 == 0 else person.email
        product = goods[n % len(goods)]
        rows.append(
            f"{5000 + n // 2},2026-02-{1 + n // 2:02d} 10:00,{customer_id},{email},{person.first_name},"
            f"{person.last_name},{product.sku},{product.title},1,{product.price}\n"
        )
    return ORDERS_HEADER + "".join(rows)


def test_a_csv_over_the_demo_shop_creates_no_duplicates_and_reports_the_matches(demo_shop, tmp_path):
    shop = demo_shop
    customers_before, products_before = Customer.objects.for_shop(shop).count(), Product.objects.for_shop(shop).count()
    people = list(Customer.objects.for_shop(shop).order_by("pk")[:9])
    goods = list(Product.objects.for_shop(shop).exclude(sku="").order_by("pk")[:5])
    path = _write(tmp_path, _orders_over(people, goods))

    report = _import(shop, path)

    assert Customer.objects.for_shop(shop).count() == customers_before
    assert Product.objects.for_shop(shop).count() == products_before
    assert report.changes["customers"] == {
        "matched": 0, "linked": 10, "created": 0, "erased": 0, "updated": 0, "unchanged": 10,
    }  # fmt: skip
    assert report.changes["products"]["linked"] == 5 and report.changes["products"]["created"] == 0
    assert _csv_identity(shop, "S-1").customer == _csv_identity(shop, "S-99").customer == people[0]
    for order in Order.objects.for_shop(shop).filter(source=Source.CSV).select_related("customer"):
        assert order.customer in people
    line_products = set(
        OrderLine.objects.for_shop(shop).filter(order__source=Source.CSV).values_list("product_id", flat=True)
    )
    assert line_products == {p.pk for p in goods}
    assert set(
        ProductIdentity.objects.for_shop(shop).filter(source=Source.CSV).values_list("product_id", flat=True)
    ) == {p.pk for p in goods}

    again = _import(shop, path)
    assert again.changes["customers"] == {
        "matched": 10, "linked": 0, "created": 0, "erased": 0, "updated": 0, "unchanged": 10,
    }  # fmt: skip
    assert again.changes["products"]["matched"] == 5 and again.lines_written == 0
    assert Customer.objects.for_shop(shop).count() == customers_before


def test_the_job_page_says_how_many_customers_were_found_by_email(owner_client, demo_shop, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    shop = demo_shop
    people = list(Customer.objects.for_shop(shop).order_by("pk")[:9])
    goods = list(Product.objects.for_shop(shop).exclude(sku="").order_by("pk")[:5])
    upload = SimpleUploadedFile("orders.csv", _orders_over(people, goods).encode(), content_type="text/csv")
    job = services.import_job_create(shop=shop, user=None, upload=upload, kind="orders", preset="generic")
    services.import_job_start(job=job, mapping=None, date_formats={}, allow_partial=False, dry_run=True)
    services.import_job_run(job_id=job.pk)

    page = owner_client.get(reverse("import_job", args=[job.pk])).content.decode()

    assert "10 customers were found by email or phone and got the file's ids" in page
    assert 'id="import-matching"' in page
    assert not CustomerIdentity.objects.for_shop(shop).filter(source=Source.CSV).exists()  # a dry run


def test_the_command_prints_how_customers_and_products_were_found(shop):
    CustomerFactory(shop=shop, source=Source.SHOPIFY, email="grace@example.org")
    ProductFactory(shop=shop, source=Source.SHOPIFY, sku="COF-1")
    out = StringIO()
    call_command("import_csv", "--shop", shop.slug, str(FIXTURES / "generic_orders.csv"), stdout=out)
    text = out.getvalue()
    assert "customers: 0 already known, 1 found by email or phone (id linked), 2 new" in text
    assert "products: 0 already known, 1 found by SKU (id linked), 3 new" in text
    assert "orders: 5 new, 0 updated, 0 unchanged" in text


# --- customers -------------------------------------------------------------------------------


def test_two_customer_ids_with_one_email_in_a_file_become_one_customer_with_both_ids(shop, tmp_path):
    path = _write(tmp_path, "customer_id,email,first_name\nA1,twin@example.org,Ann\nA2, TWIN@Example.org ,\n")
    report = _import(shop, path, kind="customers")

    twin = Customer.objects.for_shop(shop).get()
    assert (twin.email, twin.email_key, twin.first_name) == ("twin@example.org", "twin@example.org", "Ann")
    assert _identities(shop, twin) == [("csv", "A1"), ("csv", "A2")]
    assert (report.changes["customers"]["created"], report.changes["customers"]["linked"]) == (1, 1)


def test_orders_of_two_ids_with_one_email_go_to_the_same_customer(shop, tmp_path):
    path = _write(
        tmp_path,
        ORDERS_HEADER
        + "1,2024-01-01,A1,twin@example.org,Ann,,TEA,Tea,1,2.00\n2,2024-01-02,A2,twin@example.org,,,TEA,Tea,1,2.00\n",
    )
    _import(shop, path)
    assert Customer.objects.for_shop(shop).count() == 1
    assert len({o.customer_id for o in Order.objects.for_shop(shop)}) == 1


def test_csv_after_shopify_links_the_csv_id_and_its_newer_values_win(shop):
    customers_upsert(
        shop=shop,
        items=[
            CustomerInput(
                external_id="901",
                source=Source.SHOPIFY,
                updated_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
                fields={"email": "ADA@example.org", "first_name": "Ada", "city": "Paris", "occupation": "analyst"},
            )
        ],
    )
    report = _import(shop, "customers.csv", kind="customers")

    ada = Customer.objects.for_shop(shop).get(email_key="ada@example.org")
    assert Customer.objects.for_shop(shop).count() == 3  # Ada once, Grace and Alan new
    assert report.changes["customers"]["linked"] == 1 and report.changes["customers"]["created"] == 2
    assert _identities(shop, ada) == [("csv", "C1"), ("shopify", "901")]
    assert ada.city == "London"  # the file is as of the import: newer than Shopify's 2025 value
    assert ada.occupation == "analyst"  # a field the file lacks is kept
    assert ada.field_updated_at["city"] > "2025-01-02"


def test_shopify_after_csv_finds_the_imported_customer_by_email(shop):
    _import(shop, "customers.csv", kind="customers")
    result = customers_upsert(
        shop=shop,
        items=[CustomerInput(external_id="77", source=Source.SHOPIFY, fields={"email": "Grace@Example.org"})],
    )
    assert result.linked == 1 and result.created == 0
    grace = Customer.objects.for_shop(shop).get(email_key="grace@example.org")
    assert _identities(shop, grace) == [("csv", "C2"), ("shopify", "77")]


def test_a_csv_yes_does_not_resubscribe_someone_who_withdrew_but_a_no_withdraws(shop, tmp_path):
    left = CustomerFactory(
        shop=shop, email="left@example.org", email_consent=False, field_updated_at={"email_consent": LONG_AGO}
    )
    subscribed = CustomerFactory(
        shop=shop,
        email="sub@example.org",
        email_consent=True,
        email_consent_at=dt.datetime(2024, 6, 1, tzinfo=dt.UTC),
        field_updated_at={"email_consent": LONG_AGO},
    )
    never_asked = CustomerFactory(shop=shop, email="new@example.org", email_consent=False)
    path = _write(
        tmp_path,
        "customer_id,email,email_consent\nL1,left@example.org,yes\nS1,sub@example.org,no\nN1,new@example.org,yes\n",
    )
    _import(shop, path, kind="customers")

    left.refresh_from_db()
    subscribed.refresh_from_db()
    never_asked.refresh_from_db()
    assert not left.email_consent and left.field_updated_at["email_consent"] == LONG_AGO
    assert not subscribed.email_consent and subscribed.email_consent_at is None
    assert subscribed.field_updated_at["email_consent"] > LONG_AGO
    assert never_asked.email_consent and never_asked.email_consent_at is not None


def test_an_erased_customer_is_not_created_again_by_a_shopify_orders_export(shop):
    sophie = CustomerFactory(shop=shop, source=Source.SHOPIFY, external_id="7001", email="Sophie@Example.fr")
    customers_erase(shop=shop, customer_ids=[sophie.pk])

    report = _import(shop, "shopify_orders.csv", preset="shopify")

    assert report.changes["customers"]["erased"] == 1 and report.changes["customers"]["created"] == 2  # Jean, Anne
    assert not Customer.objects.for_shop(shop).filter(email_key="sophie@example.fr").exists()
    sophie.refresh_from_db()
    assert sophie.email == "" and sophie.erased_at is not None
    assert Order.objects.for_shop(shop).get(external_id="#1001").customer_id == sophie.pk
    # the export keys customers by email: that address is not kept as an id of the erased row
    assert not CustomerIdentity.objects.for_shop(shop).filter(external_id__icontains="sophie").exists()


def test_a_customers_file_row_with_an_erased_email_writes_nothing(shop, tmp_path):
    gone = CustomerFactory(shop=shop, email="gone@example.org", first_name="Gone")
    customers_erase(shop=shop, customer_ids=[gone.pk])
    path = _write(tmp_path, "customer_id,email,first_name,city\nX9,gone@example.org,Back,Leeds\n")

    report = _import(shop, path, kind="customers")

    assert report.changes["customers"]["erased"] == 1 and report.changes["customers"]["created"] == 0
    assert Customer.objects.for_shop(shop).count() == 1
    gone.refresh_from_db()
    assert (gone.first_name, gone.city, gone.email) == ("", "", "")
    assert _csv_identity(shop, "X9").customer == gone  # found straight away next time


def test_phone_matches_only_when_the_shop_matches_by_phone(shop, tmp_path):
    shop.phone_region = "GB"
    shop.save()
    CustomerFactory(shop=shop, email="pat@example.org", phone="+44 7700 900123")
    path = _write(tmp_path, "customer_id,phone,first_name\nP1,07700 900123,Pat\n")

    off = _import(shop, path, kind="customers", dry_run=True)
    assert off.changes["customers"]["created"] == 1

    shop.match_by_phone = True
    shop.save()
    on = _import(shop, path, kind="customers")
    assert (on.changes["customers"]["linked"], on.changes["customers"]["created"]) == (1, 0)
    pat = Customer.objects.for_shop(shop).get()
    assert pat.first_name == "Pat" and _csv_identity(shop, "P1").customer == pat


def test_a_new_customer_from_a_file_gets_its_match_keys(shop):
    _import(shop, "customers.csv", kind="customers")
    ada = Customer.objects.for_shop(shop).get(email="ada@example.org")
    assert (ada.email_key, ada.phone_key) == ("ada@example.org", "+44201234")
    assert set(ada.field_updated_at) >= {"email", "first_name", "city", "email_consent"}
    assert _csv_identity(shop, "C1").customer == ada


# --- products --------------------------------------------------------------------------------


def test_a_product_from_another_source_is_found_by_sku(shop):
    mask = ProductFactory(shop=shop, source=Source.SHOPIFY, sku="MASK-1", title="Collagen mask")

    report = _import(shop, "shopify_orders.csv", preset="shopify")

    assert report.changes["products"]["linked"] == 1 and report.changes["products"]["created"] == 1  # the balm
    assert Product.objects.for_shop(shop).filter(sku="MASK-1").get() == mask
    assert ProductIdentity.objects.for_shop(shop).get(source=Source.CSV, external_id="MASK-1").product == mask
    assert OrderLine.objects.for_shop(shop).get(order__external_id="#1002").product == mask


def test_a_products_file_updates_the_product_with_that_sku(shop):
    coffee = ProductFactory(shop=shop, source=Source.WOOCOMMERCE, sku="COF-1", title="Coffee", category="")

    report = _import(shop, "products.csv", kind="products")

    coffee.refresh_from_db()
    assert (coffee.title, coffee.category) == ("House blend 250g", "Coffee")
    assert Product.objects.for_shop(shop).count() == 3
    assert report.changes["products"] == {
        "matched": 0, "linked": 1, "created": 2, "erased": 0, "updated": 1, "unchanged": 0,
    }  # fmt: skip


def test_matching_stays_inside_the_shop(shop, other_shop):
    CustomerFactory(shop=other_shop, email="ada@example.org")
    ProductFactory(shop=other_shop, sku="COF-1")
    report = _import(shop, "generic_orders.csv")
    assert report.changes["customers"]["created"] == 3 and report.changes["products"]["created"] == 4
    assert Customer.objects.for_shop(other_shop).count() == 1
    assert not CustomerIdentity.objects.for_shop(other_shop).filter(source=Source.CSV).exists()
