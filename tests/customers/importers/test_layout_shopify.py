"""Shopify's own exports (orders, customers, products) through import_csv and the upload page.

The files are customers/importers/examples/shopify*.csv, written header for header as Shopify
admin exports them (79 order columns, order fields on the first row of an order only, offsets
in the times, apostrophes before zips and ids). The expected figures are read from the same
files with the csv module, as Shopify's own numbers, not from anything the importer produced.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from customers import money
from customers.importers import services
from customers.importers.presets import KIND_PRESETS
from customers.importers.recognition import recognise_layout
from customers.models import Customer, ImportJob, ImportStatus, Order, OrderLine, OrderStatus, Product
from tests.factories import CustomerFactory

EXAMPLES = Path(__file__).resolve().parents[3] / "customers" / "importers" / "examples"
ORDERS, CUSTOMERS, PRODUCTS = (
    EXAMPLES / "shopify.csv",
    EXAMPLES / "shopify-customers.csv",
    EXAMPLES / "shopify-products.csv",
)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _shopify_orders(path: Path = ORDERS) -> dict[str, dict[str, str]]:
    """Each order's first row as Shopify wrote it (the row that carries the order's fields)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        orders: dict[str, dict[str, str]] = {}
        for row in csv.DictReader(fh):
            orders.setdefault(row["Name"], row)
    return orders


def _shopify_net_revenue(orders: dict[str, dict[str, str]]) -> Decimal:
    """Shopify's Total less its Refunded Amount, over the orders whose money came in."""
    received = ("paid", "partially_refunded", "refunded")
    return sum(
        (
            Decimal(row["Total"]) - Decimal(row["Refunded Amount"] or "0")
            for row in orders.values()
            if row["Financial Status"] in received and not row["Cancelled at"]
        ),
        Decimal("0.00"),
    )


def _import_csv(shop, path: Path, *args: str) -> dict:
    out = StringIO()
    call_command("import_csv", "--shop", shop.slug, "--preset", "shopify", "--json", *args, str(path), stdout=out)
    return json.loads(out.getvalue())


def _orders(shop) -> dict[str, Order]:
    return {order.external_id: order for order in Order.objects.for_shop(shop)}


def _lines(shop, order: Order) -> list[tuple[str | None, int, Decimal]]:
    lines = OrderLine.objects.for_shop(shop).filter(order=order).select_related("product")
    return sorted(
        ((line.product.sku if line.product else None, line.quantity, line.unit_price) for line in lines),
        key=lambda line: (line[0] or "", line[1], line[2]),
    )


# --- orders ---------------------------------------------------------------------------------


def test_the_example_is_shopifys_79_column_header_with_order_fields_on_first_rows_only():
    with ORDERS.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert len(rows[0]) == 79 and rows[0][:3] == ["Name", "Email", "Financial Status"]
    assert rows[0][-1] == "Payment References"
    further = [row for previous, row in zip(rows[1:], rows[2:], strict=False) if row[0] == previous[0]]
    assert len(further) == 3
    created_at = rows[0].index("Created at")
    assert all(row[created_at] == "" and row[rows[0].index("Total")] == "" for row in further)


def test_orders_export_imports_every_order_with_net_revenue_equal_to_shopifys_totals_less_refunds(shop):
    shopify = _shopify_orders()
    report = _import_csv(shop, ORDERS)
    assert report["status"] == "imported", report["errors"]
    assert (report["rows_read"], report["rows_rejected"], report["errors"]) == (11, 0, [])
    assert report["orders"] == len(shopify) == 8
    expected = _shopify_net_revenue(shopify)
    assert expected == Decimal("378.60")
    assert Decimal(report["net_revenue"]) == expected
    assert money.net_revenue(shop=shop) == expected
    assert not any("partially refunded" in warning for warning in report["warnings"])


def test_financial_status_and_cancelled_at_give_our_statuses(shop):
    _import_csv(shop, ORDERS)
    statuses = {name: order.status for name, order in _orders(shop).items()}
    assert statuses == {
        "#1001": OrderStatus.PAID,  # paid
        "#1002": OrderStatus.PAID,  # partially_refunded: a sale with its refund as a negative line
        "#1003": OrderStatus.RETURNED,  # refunded: its goods as sold, all came back
        "#1004": OrderStatus.CANCELLED,  # voided, and Cancelled at is set
        "#1005": OrderStatus.PAID,
        "#1006": OrderStatus.PENDING,  # pending (bank deposit)
        "#1007": OrderStatus.PENDING,  # authorized
        "#1008": OrderStatus.PENDING,  # partially_paid: not all the money came in
    }


def test_multi_item_orders_keep_every_line_and_the_partial_refund_is_one_negative_line(shop):
    _import_csv(shop, ORDERS)
    orders = _orders(shop)
    assert _lines(shop, orders["#1001"]) == [("LS-M", 2, Decimal("59.00")), ("TOTE-1", 1, Decimal("24.00"))]
    # partially refunded: the goods as sold and the Refunded Amount as one line with no product
    assert _lines(shop, orders["#1002"]) == [
        (None, -1, Decimal("59.00")),
        ("LS-L", 2, Decimal("59.00")),
        ("SC-GRY", 1, Decimal("35.00")),
    ]
    assert orders["#1002"].total == Decimal("159.90")
    assert _lines(shop, orders["#1003"]) == [("TOTE-1", 1, Decimal("24.00"))]  # refunded: as sold
    assert Product.objects.for_shop(shop).count() == 5
    assert OrderLine.objects.for_shop(shop).filter(product__isnull=True).count() == 1


def test_lineitem_discount_lowers_the_unit_price_to_the_cent(shop):
    # 3 scarves at 35.00 with a Lineitem discount of 10.00: 95.00, i.e. 31.66 and twice 31.67
    _import_csv(shop, ORDERS)
    order = _orders(shop)["#1005"]
    scarves = [line for line in _lines(shop, order) if line[0] == "SC-GRY"]
    assert scarves == [("SC-GRY", 1, Decimal("31.66")), ("SC-GRY", 2, Decimal("31.67"))]
    assert sum(quantity * price for _sku, quantity, price in scarves) == Decimal("95.00")
    assert order.discount == Decimal("10.00") and order.total == Decimal("145.00")


def test_shipping_taxes_discount_and_code_are_kept_on_the_order(shop):
    _import_csv(shop, ORDERS)
    shopify, orders = _shopify_orders(), _orders(shop)
    for name, row in shopify.items():
        order = orders[name]
        assert order.total == Decimal(row["Total"])
        assert order.shipping == Decimal(row["Shipping"])
        assert order.tax == Decimal(row["Taxes"])
        assert order.discount == Decimal(row["Discount Amount"])
        assert order.discount_code == row["Discount Code"]
        assert order.currency == "EUR"
    first = orders["#1001"]
    assert (first.discount_code, first.discount, first.shipping, first.tax) == (
        "WELCOME10",
        Decimal("14.20"),
        Decimal("4.90"),
        Decimal("22.12"),
    )
    # product revenue is the goods only: 2 x 59.00 + 24.00, apart from the 4.90 shipping
    assert sum(q * p for _sku, q, p in _lines(shop, first)) == Decimal("142.00")


def test_created_at_offsets_read_as_the_right_utc_instant(shop):
    _import_csv(shop, ORDERS)
    orders = _orders(shop)
    assert orders["#1001"].placed_at == dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)  # +0200
    assert orders["#1005"].placed_at == dt.datetime(2026, 3, 20, 10, 30, tzinfo=dt.UTC)  # +0100, before summer time
    assert shop.timezone == "Europe/London"  # the offsets win over the shop's time zone


def test_customers_from_orders_have_consent_postcode_province_and_every_order(shop):
    _import_csv(shop, ORDERS)
    customers = {c.email: c for c in Customer.objects.for_shop(shop)}
    assert len(customers) == 6
    sophie, luca, anna = customers["sophie@example.fr"], customers["luca@example.it"], customers["anna@example.fr"]
    assert (sophie.first_name, sophie.last_name, sophie.city, sophie.country) == ("Sophie", "Martin", "Paris", "FR")
    assert sophie.email_consent and sophie.email_consent_at is not None  # Accepts Marketing: yes
    assert not luca.email_consent
    assert (luca.province, luca.postcode) == ("MI", "20121")
    assert anna.postcode == "06000"  # the apostrophe of a spreadsheet-safe export is gone
    assert Order.objects.for_shop(shop).filter(customer=sophie).count() == 2
    assert not Order.objects.for_shop(shop).filter(customer__isnull=True).exists()


def test_newer_accepts_email_marketing_header_and_a_byte_order_mark_read_the_same(shop, tmp_path):
    text = ORDERS.read_text(encoding="utf-8").replace("Accepts Marketing", "Accepts Email Marketing", 1)
    path = tmp_path / "orders_export_1.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    report = _import_csv(shop, path)
    assert report["status"] == "imported" and report["encoding"] == "utf-8-sig"
    assert report["mapping"]["email_consent"] == "Accepts Email Marketing"
    assert Decimal(report["net_revenue"]) == _shopify_net_revenue(_shopify_orders(path))
    assert Customer.objects.for_shop(shop).get(email="marta@example.es").email_consent


def test_reimporting_the_orders_export_changes_nothing(shop):
    _import_csv(shop, ORDERS)
    report = _import_csv(shop, ORDERS)
    assert report["changes"]["orders"] == {"created": 0, "updated": 0, "unchanged": 8}
    assert (report["lines_written"], report["lines_deleted"]) == (0, 0)
    assert money.net_revenue(shop=shop) == Decimal("378.60")


def test_a_later_export_updates_shipping_and_refund_but_empty_cells_keep_stored_values(shop, tmp_path):
    _import_csv(shop, ORDERS)
    with ORDERS.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    first_1001 = next(row for row in rows[1:] if row[0] == "#1001")
    first_1002 = next(row for row in rows[1:] if row[0] == "#1002")
    first_1001[header.index("Discount Code")] = ""  # an export without the code does not erase it
    first_1002[header.index("Refunded Amount")] = "94.00"  # the scarf came back too
    first_1002[header.index("Shipping")] = "0.00"
    out = StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path = tmp_path / "orders_export_2.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    report = _import_csv(shop, path)
    assert report["changes"]["orders"]["updated"] == 1, report["changes"]
    orders = _orders(shop)
    assert orders["#1001"].discount_code == "WELCOME10"
    assert orders["#1002"].shipping == Decimal("0.00")
    assert (None, -1, Decimal("94.00")) in _lines(shop, orders["#1002"])
    assert money.net_revenue(shop=shop) == Decimal("378.60") - Decimal("35.00")


def test_a_refund_worth_more_than_the_order_is_rejected_by_row(shop, tmp_path):
    with ORDERS.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    refunded = rows[0].index("Refunded Amount")
    rows[3][refunded] = "500.00"  # #1002, whose Total is 159.90
    out = StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path = tmp_path / "bad.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    report = services.import_file(shop=shop, path=path, preset="shopify")
    assert report.status == "rejected"
    assert [(e["row"], e["column"]) for e in report.errors] == [(4, "Refunded Amount"), (5, "Refunded Amount")]
    assert "more than the order's total" in report.errors[0]["message"]
    assert not Order.objects.for_shop(shop).exists()


# --- customers ------------------------------------------------------------------------------


def test_customers_export_keeps_tags_postcode_province_consent_and_shows_shopifys_totals(shop):
    report = _import_csv(shop, CUSTOMERS, "--kind", "customers")
    assert report["status"] == "imported", report["errors"]
    assert (report["customers"], report["rows_rejected"]) == (7, 0)
    with CUSTOMERS.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    spent = sum(Decimal(row["Total Spent"]) for row in rows)
    orders = sum(int(row["Total Orders"]) for row in rows)
    assert (spent, orders) == (Decimal("378.60"), 8)
    assert "these 7 customers spent 378.60 in 8 orders" in " ".join(report["warnings"])
    assert not Order.objects.for_shop(shop).exists()  # Shopify's figures are a check, not orders

    sophie = Customer.objects.for_shop(shop).get(email="sophie@example.fr")
    assert sophie.external_id == "7203941122301"  # Customer ID without its apostrophe
    assert sophie.tags == ["VIP", "newsletter"] and sophie.email_consent
    assert (sophie.postcode, sophie.city, sophie.country, sophie.phone) == ("75001", "Paris", "FR", "+33 6 12 34 56 78")
    luca = Customer.objects.for_shop(shop).get(email="luca@example.it")
    assert (luca.province, luca.postcode, luca.tags, luca.email_consent) == ("MI", "20121", ["wholesale"], False)
    marta = Customer.objects.for_shop(shop).get(email="marta@example.es")
    assert marta.phone == "+34 612 345 678"  # Phone first, then Default Address Phone
    # a customer Shopify knows by phone only is still imported (keyed by Customer ID)
    sms_only = Customer.objects.for_shop(shop).get(external_id="7203941122307")
    assert (sms_only.email, sms_only.phone, sms_only.tags) == ("", "+1 630 555 0100", ["sms-only"])


def test_customers_export_finds_the_customers_the_orders_export_brought(shop):
    _import_csv(shop, ORDERS)
    report = _import_csv(shop, CUSTOMERS, "--kind", "customers")
    assert report["changes"]["customers"]["linked"] == 6  # found by email, given the Customer ID
    assert report["changes"]["customers"]["created"] == 1  # the phone-only customer
    assert Customer.objects.for_shop(shop).count() == 7
    luca = Customer.objects.for_shop(shop).get(email="luca@example.it")
    assert luca.tags == ["wholesale"] and Order.objects.for_shop(shop).filter(customer=luca).count() == 1


def test_older_customers_export_without_customer_id_is_keyed_by_email(shop, tmp_path):
    path = tmp_path / "customers_export.csv"
    path.write_text(
        "First Name,Last Name,Email,Company,Address1,Address2,City,Province,Province Code,Country,Country Code,"
        "Zip,Phone,Accepts Marketing,Total Spent,Total Orders,Tags,Note,Tax Exempt\n"
        "Ada,Lovelace,ada@example.org,,12 St James's Square,,London,England,ENG,United Kingdom,GB,'SW1Y 4JH,"
        '\'+44 20 7946 0018,yes,310.50,3,"VIP, tea",,no\n',
        encoding="utf-8",
    )
    report = _import_csv(shop, path, "--kind", "customers")
    assert report["status"] == "imported", report["errors"]
    ada = Customer.objects.for_shop(shop).get()
    assert (ada.external_id, ada.province, ada.postcode, ada.country) == ("ada@example.org", "ENG", "SW1Y 4JH", "GB")
    assert ada.tags == ["VIP", "tea"] and ada.email_consent


def test_empty_tags_never_erase_stored_ones(shop):
    CustomerFactory(shop=shop, email="anna@example.fr", tags=["returning"])
    _import_csv(shop, CUSTOMERS, "--kind", "customers")
    assert Customer.objects.for_shop(shop).get(email="anna@example.fr").tags == ["returning"]


# --- products -------------------------------------------------------------------------------


def test_products_export_gives_one_product_per_variant_with_its_image(shop):
    report = _import_csv(shop, PRODUCTS, "--kind", "products")
    assert report["status"] == "imported", report["errors"]
    # 8 rows: 6 variants and 2 rows that only add an image (left out, they are no product)
    assert (report["rows_read"], report["rows_rejected"], report["products"]) == (6, 0, 6)
    products = {p.title: p for p in Product.objects.for_shop(shop)}
    assert sorted(products) == [
        "Canvas tote",
        "Gift card – €25",
        "Gift card – €50",
        "Linen shirt – L / Natural",
        "Linen shirt – M / Natural",
        "Wool scarf",
    ]
    m, large = products["Linen shirt – M / Natural"], products["Linen shirt – L / Natural"]
    cdn = "https://cdn.shopify.com/s/files/1/0612/3456/7890/files/"
    assert m.image_url == cdn + "linen-shirt-natural-m.jpg?v=1712131456"  # the variant's own image
    assert large.image_url == cdn + "linen-shirt-front.jpg?v=1712131456"  # else the product's first image
    assert (large.sku, large.price, large.brand, large.category) == ("LS-L", Decimal("59.00"), "Atelier Lin", "Shirts")
    assert large.tags == ["linen", "summer"]  # the product's fields reach every variant
    assert products["Wool scarf"].tags == ["winter", "wool"]
    assert products["Gift card – €50"].price == Decimal("50.00") and products["Gift card – €50"].sku == ""


def test_products_and_orders_exports_meet_on_the_sku(shop):
    _import_csv(shop, PRODUCTS, "--kind", "products")
    report = _import_csv(shop, ORDERS)
    assert report["changes"]["products"]["matched"] == 4  # LS-M, LS-L, TOTE-1, SC-GRY: same SKU, same product
    tote = Product.objects.for_shop(shop).get(sku="TOTE-1")
    assert tote.image_url.endswith("canvas-tote.jpg?v=1712131500")
    assert OrderLine.objects.for_shop(shop).filter(product=tote).count() == 3


def test_the_2025_product_export_names_read_the_same(shop, tmp_path):
    path = tmp_path / "products_export.csv"
    path.write_text(
        "Title,URL handle,Description,Vendor,Product category,Type,Tags,Published on online store,Status,SKU,"
        "Barcode,Option1 name,Option1 value,Option2 name,Option2 value,Option3 name,Option3 value,Price,"
        "Compare-at price,Cost per item,Charge tax,Tax code,Inventory tracker,Inventory quantity,"
        "Continue selling when out of stock,Weight value (grams),Weight unit for display,Requires shipping,"
        "Fulfillment service,Product image URL,Image position,Image alt text,Variant image URL,Gift card,SEO title,"
        "SEO description\n"
        "Crew tee,crew-tee,<p>Cotton</p>,Acme,Apparel & Accessories > Clothing > Shirts & Tops,Tees,basics,TRUE,"
        "Active,TEE-S,,Size,S,,,,,19.00,,,TRUE,,shopify,5,DENY,150,g,TRUE,manual,https://x.test/tee.jpg,1,,,FALSE,,\n"
        ",crew-tee,,,,,,,,TEE-L,,,L,,,,,21.00,,,TRUE,,shopify,2,DENY,160,g,TRUE,manual,https://x.test/tee-2.jpg,2,,"
        "https://x.test/tee-l.jpg,,,\n",
        encoding="utf-8",
    )
    assert recognise_layout(["Title", "URL handle", "Vendor", "Option1 name", "Option1 value", "Image position",
                             "Image alt text", "Gift card", "SEO title"])[0] == ("products", "shopify")  # fmt: skip
    report = _import_csv(shop, path, "--kind", "products")
    assert report["status"] == "imported", report["errors"]
    products = {p.sku: p for p in Product.objects.for_shop(shop)}
    assert (products["TEE-S"].title, products["TEE-S"].image_url) == ("Crew tee – S", "https://x.test/tee.jpg")
    assert (products["TEE-L"].title, products["TEE-L"].image_url) == ("Crew tee – L", "https://x.test/tee-l.jpg")
    assert (products["TEE-L"].price, products["TEE-L"].brand, products["TEE-L"].category) == (
        Decimal("21.00"),
        "Acme",
        "Tees",
    )


# --- registry and the upload page -----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "path"), [("orders", ORDERS), ("customers", CUSTOMERS), ("products", PRODUCTS)], ids=lambda v: str(v)
)
def test_each_shopify_export_is_recognised_from_its_header_and_has_its_example(kind, path):
    with path.open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    assert recognise_layout(header)[0] == (kind, "shopify")
    assert KIND_PRESETS[kind]["shopify"].example == path.name


def _upload_and_import(client, shop, kind: str, path: Path, capture) -> ImportJob:
    upload = SimpleUploadedFile(path.name, path.read_bytes(), content_type="text/csv")
    response = client.post(reverse("import_upload"), {"kind": kind, "preset": "shopify", "file": upload})
    job = ImportJob.objects.for_shop(shop).latest("id")
    assert response.status_code == 302 and response["Location"] == reverse("import_preview", args=[job.pk])
    page = client.get(reverse("import_preview", args=[job.pk]))
    assert page.status_code == 200
    # confirm the mapping the page proposes, as the owner does by pressing the button
    form = {f"map_{name}": column for name, column in page.context["preview"].mapping.fields.items()}
    with capture(execute=True):
        response = client.post(reverse("import_preview", args=[job.pk]), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    job.refresh_from_db()
    return job


def test_orders_export_through_the_upload_page(owner_client, shop, django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("orders_export_1.csv", ORDERS.read_bytes(), content_type="text/csv")
    owner_client.post(reverse("import_upload"), {"kind": "orders", "preset": "shopify", "file": upload})
    job = ImportJob.objects.for_shop(shop).get()
    page = owner_client.get(reverse("import_preview", args=[job.pk])).content.decode()
    assert "Linen shirt - M / Natural" in page and "Canvas tote" in page  # the first rows as read
    assert "→ Refunded amount" in page and "→ Shipping" in page and "→ Line discount" in page
    job = _upload_and_import(owner_client, shop, "orders", ORDERS, django_capture_on_commit_callbacks)
    assert job.status == ImportStatus.DONE, job.report
    assert (job.report["orders"], job.report["rows_rejected"]) == (8, 0)
    expected = _shopify_net_revenue(_shopify_orders())
    assert Decimal(job.report["net_revenue"]) == expected == money.net_revenue(shop=shop)
    assert Order.objects.for_shop(shop).get(external_id="#1003").status == OrderStatus.RETURNED
    page = owner_client.get(reverse("import_job", args=[job.pk])).content.decode()
    assert "378.60" in page


def test_customers_and_products_exports_through_the_upload_page(owner_client, shop, django_capture_on_commit_callbacks):
    job = _upload_and_import(owner_client, shop, "customers", CUSTOMERS, django_capture_on_commit_callbacks)
    assert job.status == ImportStatus.DONE and job.report["customers"] == 7
    page = owner_client.get(reverse("import_job", args=[job.pk])).content.decode()
    assert "these 7 customers spent 378.60 in 8 orders" in page
    assert Customer.objects.for_shop(shop).get(email="sophie@example.fr").tags == ["VIP", "newsletter"]

    job = _upload_and_import(owner_client, shop, "products", PRODUCTS, django_capture_on_commit_callbacks)
    assert job.status == ImportStatus.DONE and job.report["products"] == 6
    assert Product.objects.for_shop(shop).get(sku="LS-L").image_url.endswith("linen-shirt-front.jpg?v=1712131456")
