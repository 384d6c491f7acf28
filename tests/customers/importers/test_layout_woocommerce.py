"""WooCommerce files as its owners export them: the built-in product exporter, the orders of
"Advanced Order Export For WooCommerce" (one row per item) and of WebToffee's "Order Export &
Order Import" (one row per order), WebToffee's customers export. The example files in
customers/importers/examples/ are written header for header as those exporters write them and
describe the same six orders of a UK shop (GBP, 20 % VAT):

1001 completed, Mia (user 7): 2 x House Blend 8.50 + Blue mug 12.00, shipping 3.95, tax 6.59 = 39.54
1002 processing, guest Tom: espresso beans 19.50 less 10 % (welcome10) = 17.55, tax 3.51 = 21.06
1003 refunded in full, Mia: hand grinder 45.00, shipping 3.95, tax 9.79 = 58.74
1004 completed, Sophie (user 9): 2 x cold brew bags 7.50 less 5.00 (spring5, and freeship) = 10.00,
     tax 2.00 = 12.00, of which 2.40 refunded
1005 on hold, guest Ana: 2 x Red mug 12.00, shipping 3.95, tax 5.59 = 33.54
1006 cancelled, Mia: House Blend 8.50, shipping 3.95, tax 2.49 = 14.94

Net revenue: 39.54 + 21.06 + (12.00 - 2.40) = 70.20 (the refunded sale nets to zero).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from customers import money
from customers.importers import readers, services
from customers.importers.presets import GENERIC, WOOCOMMERCE, WOOCOMMERCE_WEBTOFFEE
from customers.importers.recognition import recognise_layout
from customers.importers.services import EXAMPLES_DIR
from customers.models import Customer, ImportJob, ImportKind, ImportStatus, Order, OrderLine, OrderStatus, Product

pytestmark = pytest.mark.django_db

SEVERAL_ROWS = EXAMPLES_DIR / "woocommerce.csv"
ONE_ROW = EXAMPLES_DIR / "woocommerce-orders-one-row.csv"
PRODUCTS = EXAMPLES_DIR / "woocommerce-products.csv"
CUSTOMERS = EXAMPLES_DIR / "woocommerce-customers.csv"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _import(shop, path: Path, *, kind: str = "orders", preset: str = WOOCOMMERCE) -> dict:
    out = StringIO()
    call_command("import_csv", str(path), "--shop", shop.slug, "--kind", kind, "--preset", preset, "--json", stdout=out)
    return json.loads(out.getvalue())


def _orders(shop) -> dict[str, dict]:
    """Per order number what the shop now holds: the order's fields, its customer's email and its
    lines as (SKU or "" for a refund, quantity, unit price)."""
    held = {}
    for order in Order.objects.for_shop(shop).select_related("customer"):
        lines = OrderLine.objects.for_shop(shop).filter(order=order).select_related("product")
        held[order.external_id] = {
            "status": order.status,
            "placed_at": order.placed_at,
            "currency": order.currency,
            "total": order.total,
            "shipping": order.shipping,
            "tax": order.tax,
            "discount": order.discount,
            "discount_code": order.discount_code,
            "email": order.customer.email if order.customer else None,
            "lines": sorted(
                (line.product.sku if line.product else "", line.quantity, line.unit_price) for line in lines
            ),
        }
    return held


# --- orders: one row per item and one row per order ---------------------------------------------


def test_orders_in_several_rows_and_in_one_row_give_the_same_orders_lines_and_revenue(shop, other_shop):
    several = _import(shop, SEVERAL_ROWS, preset=WOOCOMMERCE)
    one_row = _import(other_shop, ONE_ROW, preset=WOOCOMMERCE_WEBTOFFEE)
    for report in (several, one_row):
        assert report["status"] == "imported", report["errors"]
        assert report["rows_rejected"] == 0
        assert (report["orders"], report["order_lines"]) == (6, 8)  # 7 items and 1004's refund
        assert (report["returned_orders"], report["pending_orders"], report["cancelled_orders"]) == (1, 1, 1)
        assert report["net_revenue"] == "70.20"
    # read as seven item rows: the file of 8 rows less 1004's row holding only its second coupon; the
    # file of 6 orders with 1001's two items in two rows
    assert several["rows_read"] == one_row["rows_read"] == 7
    assert _orders(shop) == _orders(other_shop)
    # what the dashboard reads from the stored orders (ADR 0007)
    assert money.net_revenue(shop=shop) == money.net_revenue(shop=other_shop) == Decimal("70.20")


def test_woocommerce_statuses_totals_and_the_partial_refund(shop):
    _import(shop, ONE_ROW, preset=WOOCOMMERCE_WEBTOFFEE)
    orders = _orders(shop)
    assert {number: order["status"] for number, order in orders.items()} == {
        "1001": OrderStatus.PAID,  # completed
        "1002": OrderStatus.PAID,  # processing
        "1003": OrderStatus.RETURNED,  # refunded: its lines as sold, no refund line (ADR 0007)
        "1004": OrderStatus.PAID,
        "1005": OrderStatus.PENDING,  # on-hold
        "1006": OrderStatus.CANCELLED,
    }
    first = orders["1001"]
    assert first["placed_at"] == dt.datetime(2025, 3, 2, 10, 15, tzinfo=dt.UTC)  # London, winter time
    assert (first["currency"], first["total"], first["shipping"], first["tax"]) == (
        "GBP", Decimal("39.54"), Decimal("3.95"), Decimal("6.59"),
    )  # fmt: skip
    assert first["lines"] == [("COF-HOUSE-250", 2, Decimal("8.50")), ("MUG-BLUE", 1, Decimal("12.00"))]
    assert orders["1003"]["lines"] == [("GRND-HAND", 1, Decimal("45.00"))]
    # the 2.40 refunded on a completed order: a line of -1 at 2.40 with no product
    assert orders["1004"]["lines"] == [("", -1, Decimal("2.40")), ("CB-10", 2, Decimal("5.00"))]
    assert (orders["1004"]["total"], orders["1004"]["discount"]) == (Decimal("12.00"), Decimal("5.00"))
    # the line price is after the coupon, as WooCommerce charged it
    assert orders["1002"]["lines"] == [("COF-ESP-1KG", 1, Decimal("17.55"))]


def test_every_coupon_code_of_an_order_is_kept(shop, other_shop):
    _import(shop, SEVERAL_ROWS, preset=WOOCOMMERCE)
    _import(other_shop, ONE_ROW, preset=WOOCOMMERCE_WEBTOFFEE)
    for held in (_orders(shop), _orders(other_shop)):
        assert held["1004"]["discount_code"] == "spring5, freeship"  # the second code on a row of its own
        assert (held["1002"]["discount_code"], held["1002"]["discount"]) == ("welcome10", Decimal("1.95"))
        assert held["1001"]["discount_code"] == ""


def test_guest_orders_are_known_by_their_billing_email_and_registered_ones_by_user_id(shop):
    _import(shop, ONE_ROW, preset=WOOCOMMERCE_WEBTOFFEE)
    orders = {o.external_id: o for o in Order.objects.for_shop(shop).select_related("customer")}
    mia = orders["1001"].customer
    assert (mia.external_id, mia.email, mia.first_name, mia.city) == ("7", "mia@example.co.uk", "Mia", "London")
    assert orders["1003"].customer_id == orders["1006"].customer_id == mia.pk
    tom = orders["1002"].customer  # customer_user 0: a guest checkout
    assert (tom.external_id, tom.email, tom.postcode) == ("tom@example.com", "tom@example.com", "LS1 4AP")
    assert orders["1005"].customer.email == "ana@example.pt"
    assert Customer.objects.for_shop(shop).count() == 4


def test_an_export_with_order_fields_on_the_first_row_only_reads_the_same(shop, other_shop, tmp_path):
    """Advanced Order Export with "populate other columns if products exported as rows" off: an
    order's further rows hold only the product and coupon columns."""
    rows = list(csv.reader(io.StringIO(SEVERAL_ROWS.read_text(encoding="utf-8"), newline="")))
    header, body = rows[0], rows[1:]
    own = {"SKU", "Item #", "Item Name", "Quantity (- Refund)", "Item Cost", "Coupon Code", "Discount Amount",
           "Discount Amount Tax"}  # fmt: skip
    for previous, row in zip(body, body[1:], strict=False):
        if row[0] == previous[0]:
            row[:] = [value if name in own else "" for name, value in zip(header, row, strict=True)]
    path = tmp_path / "orders-first-row-only.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out, lineterminator="\r\n").writerows([header, *body])
    assert sum(1 for row in body if row[0] == "") == 2
    report = _import(shop, path, preset=WOOCOMMERCE)
    assert report["status"] == "imported", report["errors"]
    _import(other_shop, SEVERAL_ROWS, preset=WOOCOMMERCE)
    assert _orders(shop) == _orders(other_shop)


def test_webtoffee_items_in_separate_rows_read_like_items_in_columns(shop, other_shop, tmp_path):
    """WebToffee's "line items in separate rows" option: the order's columns repeat and each item
    comes as item_product_id, item_name, item_sku, item_quantity, item_subtotal, …, item_total."""
    rows = list(csv.DictReader(io.StringIO(ONE_ROW.read_text(encoding="utf-8-sig"), newline="")))
    order_columns = [c for c in rows[0] if not c.startswith("line_item_")]
    item_columns = ["item_product_id", "item_name", "item_sku", "item_quantity", "item_subtotal",
                    "item_subtotal_tax", "item_total", "item_total_tax", "item_refunded", "item_refunded_qty",
                    "item_meta"]  # fmt: skip
    path = tmp_path / "orders-separate-rows.csv"
    with path.open("w", newline="", encoding="utf-8-sig") as out:
        writer = csv.writer(out)
        writer.writerow(order_columns + item_columns)
        for row in rows:
            for cell in (row["line_item_1"], row["line_item_2"]):
                if cell:
                    item = dict(part.split(":", 1) for part in cell.split("|") if not part.startswith("meta:"))
                    writer.writerow(
                        [row[c] for c in order_columns]
                        + [item["product_id"], item["name"], item["sku"], item["quantity"], item["sub_total"], "0",
                           item["total"], item["tax"], "", "", "[]"]
                    )  # fmt: skip
    report = _import(shop, path, preset=WOOCOMMERCE_WEBTOFFEE)
    assert report["status"] == "imported", report["errors"]
    _import(other_shop, ONE_ROW, preset=WOOCOMMERCE_WEBTOFFEE)
    assert _orders(shop) == _orders(other_shop)


def test_the_older_woocommerce_orders_layout_still_reads(shop):
    """The layout the preset read before (Order ID, Billing Email Address, …, wc- statuses, a decimal comma)."""
    fixture = Path(__file__).parent / "fixtures" / "woocommerce_orders.csv"
    report = _import(shop, fixture, preset=WOOCOMMERCE)
    assert report["status"] == "imported" and report["net_revenue"] == "1251.75"


# --- customers and products --------------------------------------------------------------------


def test_customers_export_with_accounts_and_a_guest(shop):
    report = _import(shop, CUSTOMERS, kind="customers")
    assert report["status"] == "imported", report["errors"]
    assert report["customers"] == 4
    people = {c.external_id: c for c in Customer.objects.for_shop(shop)}
    assert set(people) == {"7", "9", "11", "tom@example.com"}
    assert (people["7"].email, people["7"].first_name, people["7"].phone) == (
        "mia@example.co.uk", "Mia", "+44 20 7946 0011",
    )  # fmt: skip
    # an account without a name of its own: the billing name stands in
    assert (people["9"].first_name, people["9"].last_name, people["9"].country) == ("Sophie", "Gallas", "FR")
    liam = people["11"]
    assert (liam.city, liam.province, liam.postcode, liam.country) == ("San Francisco", "CA", "94105", "US")
    assert (people["tom@example.com"].first_name, people["tom@example.com"].city) == ("Tom", "Leeds")


def test_orders_after_the_customers_export_attach_to_the_same_customers(shop):
    _import(shop, CUSTOMERS, kind="customers")
    _import(shop, SEVERAL_ROWS, preset=WOOCOMMERCE)  # no user ids in this layout: found by email
    _import(shop, ONE_ROW, preset=WOOCOMMERCE_WEBTOFFEE)  # user ids: found by id
    mia = Customer.objects.for_shop(shop).get(email="mia@example.co.uk")
    assert mia.external_id == "7"
    assert set(Order.objects.for_shop(shop).filter(customer=mia).values_list("external_id", flat=True)) == {
        "1001", "1003", "1006",
    }  # fmt: skip
    assert Order.objects.for_shop(shop).get(external_id="1004").customer.external_id == "9"
    assert Order.objects.for_shop(shop).count() == 6  # the second file updated the orders of the first
    assert Customer.objects.for_shop(shop).count() == 5  # the four of the export and Ana, a guest buyer


def test_products_export_with_variations_sale_prices_images_and_tags(shop):
    report = _import(shop, PRODUCTS, kind="products")
    assert report["status"] == "imported", report["errors"]
    products = {p.sku: p for p in Product.objects.for_shop(shop)}
    # the variable parents (MUG, the cold brew bags without a SKU) and the grouped set are not sold themselves
    assert set(products) == {"COF-HOUSE-250", "COF-ESP-1KG", "MUG-BLUE", "MUG-RED", "GRND-HAND", "CB-10", "CUP-SET-2"}
    assert report["products"] == 7 and report["rows_read"] == 7
    uploads = "https://alpha-coffee.example/wp-content/uploads/2025/01/"
    house = products["COF-HOUSE-250"]
    assert (house.title, house.price, house.category) == ("House Blend 250g", Decimal("8.50"), "Beans")
    assert house.tags == ["house", "medium roast"] and house.image_url == uploads + "house-blend.jpg"
    espresso = products["COF-ESP-1KG"]  # on sale; its first category is "Coffee > Beans"
    assert (espresso.price, espresso.category, espresso.tags) == (Decimal("19.50"), "Beans", ["espresso"])
    blue, red = products["MUG-BLUE"], products["MUG-RED"]
    assert (blue.title, blue.price, blue.category, blue.tags) == ("Enamel Mug - Blue", Decimal("12.00"), "Mugs",
                                                                  ["enamel", "gift"])  # fmt: skip
    assert blue.image_url == uploads + "enamel-mug-blue.jpg"  # its own image
    assert red.image_url == uploads + "enamel-mug.jpg"  # none of its own: the parent's
    assert red.price == Decimal("12.00")  # its sale starts in 2099
    bags = products["CB-10"]  # Parent "id:18": a parent without a SKU
    assert (bags.category, bags.tags, bags.price) == ("Cold Brew", ["cold brew", "summer"], Decimal("7.50"))
    cups = products["CUP-SET-2"]  # exported as "'@home …" (the exporter's guard against spreadsheet formulas)
    assert (cups.title, cups.price, cups.category, cups.image_url) == (
        "@home Espresso Cups (2)", Decimal("14.00"), "Cups", "",
    )  # fmt: skip


def test_products_then_orders_lines_find_the_products_by_sku(shop):
    _import(shop, PRODUCTS, kind="products")
    _import(shop, ONE_ROW, preset=WOOCOMMERCE_WEBTOFFEE)
    assert Product.objects.for_shop(shop).count() == 7
    line = OrderLine.objects.for_shop(shop).get(order__external_id="1004", quantity=2)
    assert (line.product.sku, line.product.category) == ("CB-10", "Cold Brew")


# --- the upload page ---------------------------------------------------------------------------


def _upload_and_import(client, shop, path: Path, *, kind: str, preset: str, capture) -> ImportJob:
    """Upload `path` as the owner would (layout left on Generic), then confirm the preview as shown."""
    data = {"kind": kind, "preset": preset, "file": SimpleUploadedFile(path.name, path.read_bytes(), "text/csv")}
    response = client.post(reverse("import_upload"), data)
    job = ImportJob.objects.for_shop(shop).latest("pk")
    assert response.status_code == 302
    mapping = services.import_preview(job=job).mapping.fields
    with capture(execute=True):
        response = client.post(reverse("import_preview", args=[job.pk]), {f"map_{k}": v for k, v in mapping.items()})
    assert response.status_code == 302, response.content.decode()[:2000]
    job.refresh_from_db()
    return job


@pytest.mark.parametrize(
    ("path", "kind", "key"),
    [
        (SEVERAL_ROWS, ImportKind.ORDERS, WOOCOMMERCE),
        (ONE_ROW, ImportKind.ORDERS, WOOCOMMERCE_WEBTOFFEE),
        (PRODUCTS, ImportKind.PRODUCTS, WOOCOMMERCE),
        (CUSTOMERS, ImportKind.CUSTOMERS, WOOCOMMERCE),
    ],
    ids=["orders-several-rows", "orders-one-row", "products", "customers"],
)
def test_each_woocommerce_example_is_recognised_from_its_header(path, kind, key):
    columns, _encoding = readers.read_header(path)
    assert recognise_layout(columns)[0] == (kind, key)


def test_the_upload_page_imports_both_orders_layouts_to_the_same_revenue(
    owner_client, shop, django_capture_on_commit_callbacks
):
    reports = []
    for path in (SEVERAL_ROWS, ONE_ROW):
        job = _upload_and_import(
            owner_client, shop, path, kind="orders", preset=GENERIC, capture=django_capture_on_commit_callbacks
        )
        assert job.preset == (WOOCOMMERCE if path == SEVERAL_ROWS else WOOCOMMERCE_WEBTOFFEE)  # recognised
        assert job.status == ImportStatus.DONE, job.report
        reports.append(job.report)
        page = owner_client.get(reverse("import_job", args=[job.pk])).content.decode()
        assert "70.20" in page
    for report in reports:
        assert (report["orders"], report["order_lines"], report["net_revenue"]) == (6, 8, "70.20")
    # the second file updated the same six orders
    assert Order.objects.for_shop(shop).count() == 6


def test_the_upload_page_shows_the_items_of_a_one_row_order_as_rows(owner_client, shop):
    data = {"kind": "orders", "preset": WOOCOMMERCE_WEBTOFFEE,
            "file": SimpleUploadedFile(ONE_ROW.name, ONE_ROW.read_bytes(), "text/csv")}  # fmt: skip
    owner_client.post(reverse("import_upload"), data)
    job = ImportJob.objects.for_shop(shop).get()
    page = owner_client.get(reverse("import_preview", args=[job.pk])).content.decode()
    assert "No column for the required field" not in page
    assert "Enamel Mug - Blue" in page and "item_price" in page


def test_the_upload_page_imports_the_products_and_customers_exports(
    owner_client, shop, django_capture_on_commit_callbacks
):
    products = _upload_and_import(
        owner_client, shop, PRODUCTS, kind="products", preset=WOOCOMMERCE, capture=django_capture_on_commit_callbacks
    )
    assert products.status == ImportStatus.DONE and products.report["products"] == 7
    customers = _upload_and_import(
        owner_client, shop, CUSTOMERS, kind="customers", preset=WOOCOMMERCE, capture=django_capture_on_commit_callbacks
    )
    assert customers.status == ImportStatus.DONE and customers.report["customers"] == 4
    assert Product.objects.for_shop(shop).get(sku="MUG-RED").image_url.endswith("enamel-mug.jpg")
    assert Customer.objects.for_shop(shop).get(external_id="11").province == "CA"
