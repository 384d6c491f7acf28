"""import_file(): presets, cleaning rules, all-or-nothing, dry run, re-import and tenancy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from customers import selectors
from customers.importers import services
from customers.models import Customer, Order, OrderLine, OrderStatus, Product, Source
from customers.signals import data_changed
from tests.factories import CustomerFactory

FIXTURES = Path(__file__).parent / "fixtures"
pytestmark = pytest.mark.django_db


def _import(shop, name: str | Path, **kwargs) -> services.ImportReport:
    path = name if isinstance(name, Path) else FIXTURES / name
    return services.import_file(shop=shop, path=path, **kwargs)


def _lines(shop, order: Order):
    return OrderLine.objects.for_shop(shop).filter(order=order).select_related("product")


def _write(tmp_path: Path, text: str, name: str = "orders.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_generic_orders_import_with_customers_products_and_report(shop):
    report = _import(shop, "generic_orders.csv")
    assert report.status == "imported"
    assert (report.rows_read, report.rows_imported, report.duplicates_dropped) == (7, 6, 1)
    assert (report.orders, report.cancelled_orders, report.returned_orders, report.guest_orders) == (5, 1, 1, 1)
    assert (report.customers, report.products) == (3, 4)
    assert report.net_revenue == Decimal("18.20")
    assert Order.objects.for_shop(shop).count() == 5
    assert OrderLine.objects.for_shop(shop).count() == 6
    order = Order.objects.for_shop(shop).get(external_id="1001")
    assert order.source == Source.CSV and order.status == OrderStatus.PAID
    assert order.customer.external_id == "C1" and order.customer.email == "ada@example.org"
    assert order.total == Decimal("18.20")
    assert sorted((line.product.sku, line.quantity, line.unit_price) for line in _lines(shop, order).all()) == [
        ("COF-1", 2, Decimal("7.50")),
        ("TEA-9", 1, Decimal("3.20")),
    ]
    assert Product.objects.for_shop(shop).get(external_id="name:gift card").title == "Gift card"


def test_dashboard_totals_agree_with_the_report(shop):
    report = _import(shop, "generic_orders.csv")
    totals = selectors.shop_totals(shop=shop)
    assert totals.net_revenue == report.net_revenue
    assert (totals.orders, totals.guest_orders, totals.customers) == (5, 1, 3)


def test_naive_times_are_taken_in_the_shops_time_zone_and_stored_aware(shop, tmp_path):
    _import(shop, "generic_orders.csv")
    # 2024-03-05 10:15 in London (GMT until the end of March) is 10:15 UTC.
    placed = Order.objects.for_shop(shop).get(external_id="1001").placed_at
    assert placed == dt.datetime(2024, 3, 5, 10, 15, tzinfo=dt.UTC)
    shop.timezone = "Asia/Shanghai"
    shop.save()
    summer = (FIXTURES / "generic_orders.csv").read_text().replace("2024-03-05 10:15:00", "2024-07-05 10:15:00")
    _import(shop, _write(tmp_path, summer))
    placed = Order.objects.for_shop(shop).get(external_id="1001").placed_at
    assert placed == dt.datetime(2024, 7, 5, 2, 15, tzinfo=dt.UTC)


def test_online_retail_cancellations_become_returns_that_reduce_revenue(shop):
    report = _import(shop, "online_retail_sample.csv", preset="online-retail")
    assert report.status == "imported"
    assert report.duplicates_dropped == 1
    credit = Order.objects.for_shop(shop).get(external_id="C536379")
    assert credit.status == OrderStatus.RETURNED
    assert _lines(shop, credit).get().quantity == -1
    assert report.returned_orders == 2  # and the bad-debt adjustment, of a negative total
    assert report.net_revenue == Decimal("-10986.23")
    assert selectors.shop_totals(shop=shop).net_revenue == report.net_revenue


def test_guest_lines_are_kept_as_orders_without_customer(shop):
    report = _import(shop, "online_retail_sample.csv", preset="online-retail")
    assert report.guest_orders == 3 and report.guest_lines == 3
    guest = Order.objects.for_shop(shop).get(external_id="536544")
    assert guest.customer is None and _lines(shop, guest).count() == 1
    assert Customer.objects.for_shop(shop).get(external_id="17850").country == "United Kingdom"


def test_zero_and_negative_prices_are_flagged_and_kept(shop):
    report = _import(shop, "online_retail_sample.csv", preset="online-retail")
    assert (report.zero_price_lines, report.negative_price_lines) == (1, 1)
    assert any("price of zero" in w for w in report.warnings)
    assert OrderLine.objects.for_shop(shop).filter(unit_price=0).count() == 1
    assert OrderLine.objects.for_shop(shop).get(order__external_id="A563186").unit_price == Decimal("-11062.06")


def test_exact_duplicate_lines_are_dropped_but_not_similar_ones(shop, tmp_path):
    path = _write(
        tmp_path,
        "order_id,ordered_at,sku,quantity,unit_price\n"
        "1,2024-01-01,A,1,2.00\n1,2024-01-01,A,1,2.00\n1,2024-01-01,A,2,2.00\n",
    )
    report = _import(shop, path)
    assert report.duplicates_dropped == 1
    assert sorted(OrderLine.objects.for_shop(shop).values_list("quantity", flat=True)) == [1, 2]


def test_a_rejected_row_means_nothing_is_written(shop, tmp_path):
    path = _write(
        tmp_path,
        "order_id,ordered_at,sku,quantity,unit_price\n"
        "1,2024-01-01,A,1,2.00\n2,2024-01-02,B,lots,2.00\n3,not a date,C,1,2.00\n4,2024-01-04,D,1,\n",
    )
    report = _import(shop, path)
    assert report.status == "rejected"
    assert report.rows_rejected == 3
    assert {(e["row"], e["column"]) for e in report.errors} == {(3, "quantity"), (4, "ordered_at"), (5, "unit_price")}
    assert "“lots” is not a whole number." in [e["message"] for e in report.errors]
    assert not Order.objects.for_shop(shop).exists()
    assert not Product.objects.for_shop(shop).exists()


def test_allow_partial_imports_the_good_rows(shop, tmp_path):
    path = _write(
        tmp_path,
        "order_id,ordered_at,sku,quantity,unit_price\n1,2024-01-01,A,1,2.00\n2,2024-01-02,B,lots,2.00\n",
    )
    report = _import(shop, path, allow_partial=True)
    assert report.status == "imported"
    assert (report.rows_imported, report.rows_rejected) == (1, 1)
    assert list(Order.objects.for_shop(shop).values_list("external_id", flat=True)) == ["1"]


def test_dry_run_writes_nothing_but_reports_everything(shop):
    report = _import(shop, "generic_orders.csv", dry_run=True)
    assert report.status == "dry_run"
    assert report.orders == 5 and report.changes["orders"]["created"] == 5
    assert report.net_revenue == Decimal("18.20")
    assert not Order.objects.for_shop(shop).exists()
    assert not Customer.objects.for_shop(shop).exists()


def test_importing_the_same_file_again_changes_nothing(shop):
    first = _import(shop, "generic_orders.csv")
    line_ids = sorted(OrderLine.objects.for_shop(shop).values_list("id", flat=True))
    second = _import(shop, "generic_orders.csv")
    assert second.status == "imported"
    assert second.changes == {
        "customers": {"created": 0, "updated": 0, "unchanged": 3, "matched": 3, "linked": 0, "erased": 0},
        "products": {"created": 0, "updated": 0, "unchanged": 4, "matched": 4, "linked": 0, "erased": 0},
        "orders": {"created": 0, "updated": 0, "unchanged": 5},
    }
    assert second.lines_written == 0
    assert sorted(OrderLine.objects.for_shop(shop).values_list("id", flat=True)) == line_ids
    assert (second.orders, second.net_revenue) == (first.orders, first.net_revenue)
    assert Order.objects.for_shop(shop).count() == 5


def test_reimporting_a_changed_order_replaces_its_lines_only(shop, tmp_path):
    header = "order_id,ordered_at,sku,quantity,unit_price\n"
    _import(shop, _write(tmp_path, header + "1,2024-01-01,A,1,2.00\n1,2024-01-01,B,1,3.00\n2,2024-01-02,A,1,2.00\n"))
    untouched = OrderLine.objects.for_shop(shop).get(order__external_id="2").pk
    report = _import(shop, _write(tmp_path, header + "1,2024-01-01,A,5,2.00\n2,2024-01-02,A,1,2.00\n", "v2.csv"))
    assert report.changes["orders"] == {"created": 0, "updated": 1, "unchanged": 1}
    assert (report.lines_deleted, report.lines_written) == (2, 1)
    order = Order.objects.for_shop(shop).get(external_id="1")
    assert [(line.product.sku, line.quantity) for line in _lines(shop, order).all()] == [("A", 5)]
    assert order.total == Decimal("10.00")
    assert OrderLine.objects.for_shop(shop).get(order__external_id="2").pk == untouched


def test_empty_cells_do_not_erase_stored_values(shop, tmp_path):
    _import(shop, "customers.csv", kind="customers")
    _import(shop, _write(tmp_path, "customer_id,email,city\nC1,,Paris\n", "c.csv"), kind="customers")
    ada = Customer.objects.for_shop(shop).get(external_id="C1")
    assert (ada.email, ada.city) == ("ada@example.org", "Paris")


def test_ambiguous_date_column_is_rejected_naming_the_column(shop, tmp_path):
    path = _write(tmp_path, "order_id,Date,sku,quantity,unit_price\n1,01/02/2024,A,1,2\n2,03/04/2024,B,1,2\n")
    report = _import(shop, path, mapping={"order_id": "order_id", "ordered_at": "Date", "sku": "sku",
                                          "quantity": "quantity", "unit_price": "unit_price"})  # fmt: skip
    assert report.status == "rejected"
    assert report.errors[0]["column"] == "Date"
    assert "--date-format" in report.errors[0]["message"]
    accepted = _import(shop, path, mapping={"order_id": "order_id", "ordered_at": "Date", "sku": "sku",
                                            "quantity": "quantity", "unit_price": "unit_price"},
                       date_formats={"ordered_at": "day-first"})  # fmt: skip
    assert accepted.status == "imported"
    assert Order.objects.for_shop(shop).get(external_id="1").placed_at.month == 2


@pytest.mark.parametrize(
    ("dates", "month"),
    [(("31/01/2024", "05/02/2024"), 2), (("01/31/2024", "02/05/2024"), 2)],
    ids=["day-first", "month-first"],
)
def test_date_order_is_detected_from_the_column(shop, tmp_path, dates, month):
    rows = "".join(f"{i},{d},A,1,2\n" for i, d in enumerate(dates))
    report = _import(shop, _write(tmp_path, "order_id,ordered_at,sku,quantity,unit_price\n" + rows))
    assert report.status == "imported"
    assert Order.objects.for_shop(shop).get(external_id="1").placed_at.month == month


def test_missing_required_columns_reject_the_file(shop, tmp_path):
    report = _import(shop, _write(tmp_path, "order_id,sku\n1,A\n"))
    assert report.status == "rejected"
    messages = " ".join(e["message"] for e in report.errors)
    assert "Order date" in messages and "Quantity" in messages and "Unit price" in messages


def test_error_list_is_capped_with_a_count_of_the_rest(shop, tmp_path):
    rows = "".join(f"{i},2024-01-01,A,x,1\n" for i in range(1500))
    report = _import(shop, _write(tmp_path, "order_id,ordered_at,sku,quantity,unit_price\n" + rows))
    assert report.rows_rejected == 1500
    assert len(report.errors) == 1000 and report.errors_not_shown == 500
    assert report.errors[0]["row"] == 2


def test_shopify_export_with_multi_row_orders(shop):
    report = _import(shop, "shopify_orders.csv", preset="shopify")
    assert report.status == "imported", report.errors
    orders = {o.external_id: o for o in Order.objects.for_shop(shop)}
    assert _lines(shop, orders["#1001"]).count() == 2
    assert orders["#1001"].total == Decimal("79.80")  # the order's Total, shipping included
    assert orders["#1001"].currency == "EUR"
    assert orders["#1001"].placed_at == dt.datetime(2025, 10, 7, 7, 50, 26, tzinfo=dt.UTC)
    assert orders["#1002"].status == OrderStatus.RETURNED  # refunded: a returned sale (ADR 0007)
    assert orders["#1003"].status == OrderStatus.PENDING
    assert orders["#1004"].status == OrderStatus.CANCELLED  # Cancelled at is set
    sophie = orders["#1001"].customer
    assert (sophie.external_id, sophie.first_name, sophie.last_name) == ("sophie@example.fr", "Sophie", "Gallas")
    assert sophie.email_consent and sophie.email_consent_at is not None
    assert orders["#1003"].customer_id == sophie.pk
    # what the customer paid, shipping included: the same total the analysis and the dashboard count (ADR 0007)
    assert report.net_revenue == Decimal("79.80")


def test_woocommerce_export_with_guests_and_statuses(shop):
    report = _import(shop, "woocommerce_orders.csv", preset="woocommerce")
    assert report.status == "imported", report.errors
    orders = {o.external_id: o for o in Order.objects.for_shop(shop)}
    assert orders["501"].status == OrderStatus.PAID and orders["501"].total == Decimal("1234.50")
    assert orders["502"].customer.external_id == "tom@example.com"  # user id 0: keyed by email
    assert orders["503"].customer is None and orders["503"].status == OrderStatus.CANCELLED
    assert orders["504"].status == OrderStatus.PENDING
    assert orders["501"].customer.external_id == "7" and orders["501"].customer.city == "Berlin"
    assert report.net_revenue == Decimal("1251.75")


def test_customers_file(shop):
    report = _import(shop, "customers.csv", kind="customers")
    assert report.status == "imported" and report.customers == 3
    ada = Customer.objects.for_shop(shop).get(external_id="C1")
    assert ada.email == "ada@example.org" and ada.gender == "female"
    assert ada.birth_date == dt.date(1815, 12, 10) and ada.email_consent
    alan = Customer.objects.for_shop(shop).get(external_id="C3")
    assert alan.gender == "male" and not alan.email_consent


def test_products_file(shop):
    report = _import(shop, "products.csv", kind="products")
    assert report.status == "imported" and report.products == 3
    prices = dict(Product.objects.for_shop(shop).values_list("sku", "price"))
    assert prices == {"COF-1": Decimal("7.50"), "TEA-9": Decimal("3.20"), "MUG-2": Decimal("1234.00")}


def test_gb18030_file_with_chinese_names(shop, tmp_path):
    text = "订单号,下单时间,商品名称,数量,单价,姓名,邮箱\n1,2024-05-01 10:00,绿茶,2,¥38.00,张伟,zw@example.cn\n"
    report = _import(shop, _write(tmp_path, text, encoding="gb18030"))
    assert report.status == "imported", report.errors
    assert report.encoding == "gb18030"
    customer = Customer.objects.for_shop(shop).get()
    assert (customer.first_name, customer.email) == ("张伟", "zw@example.cn")
    assert Product.objects.for_shop(shop).get().title == "绿茶"


def test_utf16_file_with_bom(shop, tmp_path):
    text = "order_id\tordered_at\tproduct_name\tquantity\tunit_price\n1\t2024-05-01\tCafé crème\t1\t3,50 €\n"
    report = _import(shop, _write(tmp_path, text, encoding="utf-16"))
    assert report.status == "imported", report.errors
    assert (report.encoding, report.delimiter) == ("utf-16", "\t")
    assert OrderLine.objects.for_shop(shop).get().unit_price == Decimal("3.50")


def test_unknown_status_is_rejected_with_the_value(shop, tmp_path):
    path = _write(tmp_path, "order_id,ordered_at,sku,quantity,unit_price,status\n1,2024-01-01,A,1,2,lost in space\n")
    report = _import(shop, path)
    assert report.status == "rejected"
    assert "lost in space" in report.errors[0]["message"] and report.errors[0]["column"] == "status"


def test_import_stays_inside_its_shop(shop, other_shop):
    CustomerFactory(shop=other_shop, external_id="C1", source=Source.CSV, email="other@example.org")
    _import(shop, "generic_orders.csv")
    assert Customer.objects.for_shop(other_shop).get(external_id="C1").email == "other@example.org"
    assert not Order.objects.for_shop(other_shop).exists()
    assert Customer.objects.for_shop(shop).get(external_id="C1").email == "ada@example.org"


def test_data_changed_is_sent_after_the_import_commits(shop, django_capture_on_commit_callbacks):
    received = []

    def listener(sender, shop_id, reason, **kwargs):
        received.append((shop_id, reason))

    data_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _import(shop, "generic_orders.csv")
        with django_capture_on_commit_callbacks(execute=True):
            _import(shop, "generic_orders.csv", dry_run=True)
    finally:
        data_changed.disconnect(listener)
    assert received == [(shop.pk, "import")]


def test_unknown_preset_for_kind_is_rejected(shop):
    report = _import(shop, "products.csv", kind="products", preset="online-retail")
    assert report.status == "rejected" and "online-retail" in report.errors[0]["message"]


def test_a_mixed_order_keeps_its_sale_as_total_and_its_returns_are_subtracted(shop, tmp_path):
    # ADR 0007: a sale's total is what it sold; its negative lines are a partial refund
    path = _write(
        tmp_path,
        "order_id,ordered_at,customer_id,sku,quantity,unit_price\n"
        "9001,2024-03-05 10:00,C1,COF-1,3,10.00\n"
        "9001,2024-03-05 10:00,C1,COF-1,-1,10.00\n",
    )
    report = _import(shop, path)
    assert report.status == "imported", report.errors
    order = Order.objects.for_shop(shop).get(external_id="9001")
    assert (order.status, order.total) == (OrderStatus.PAID, Decimal("30.00"))
    assert report.net_revenue == Decimal("20.00") == selectors.shop_totals(shop=shop).net_revenue


def test_returns_worth_more_than_the_sale_and_credit_notes_that_sell_are_refused_by_row(shop, tmp_path):
    mixed = _write(
        tmp_path,
        "order_id,ordered_at,customer_id,sku,quantity,unit_price\n"
        "9001,2024-03-05 10:00,C1,COF-1,1,10.00\n"
        "9001,2024-03-05 10:00,C1,COF-1,-2,10.00\n",
    )
    report = _import(shop, mixed)
    assert report.status == "rejected"
    assert [(e["row"], e["column"]) for e in report.errors] == [(2, "order_id"), (3, "order_id")]
    assert "returns goods worth more than it sold" in report.errors[0]["message"]

    selling_credit_note = _write(
        tmp_path,
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "C536379,22139,RETROSPOT TEA SET,2,2010-12-01 09:41:00,4.95,14527.0,United Kingdom\n",
        name="retail.csv",
    )
    report = _import(shop, selling_credit_note, preset="online-retail")
    assert report.status == "rejected"
    assert [(e["row"], e["column"]) for e in report.errors] == [(2, "Quantity")]
    assert "starting with C" in report.errors[0]["message"]
    assert not Order.objects.for_shop(shop).exists()  # nothing half written
