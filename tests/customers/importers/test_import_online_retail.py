"""The real UCI Online Retail file (541,909 lines) imports completely and correctly.

Every expected figure is computed here from the raw file with pandas, independently of
the importer, except the published ones (541,909 lines, 5,268 exact duplicates, 4,372
customers), which are asserted as numbers too.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from customers import selectors
from customers.importers import services
from customers.models import Customer, Order, OrderLine, OrderStatus, Product

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture
def expected(shared_data) -> dict:
    """Figures of the file computed with plain pandas and Decimal."""
    raw = pd.read_csv(shared_data / "online_retail.csv.xz", dtype=str, keep_default_na=False)
    rows = raw.drop_duplicates()
    quantity = rows["Quantity"].astype(int)
    invoices = rows["InvoiceNo"]
    all_negative = quantity.groupby(invoices).max() < 0
    credit_notes = invoices[invoices.str.startswith("C")].unique()
    # ADR 0007: an invoice of a negative total (a "bad debt" adjustment too) is a credit note
    negative_total = (quantity * rows["UnitPrice"].astype(float)).groupby(invoices).sum() < 0
    returned = set(credit_notes) | set(all_negative[all_negative].index) | set(negative_total[negative_total].index)
    guests = rows["CustomerID"] == ""
    revenue = sum(Decimal(q) * Decimal(p) for q, p in zip(rows["Quantity"], rows["UnitPrice"], strict=True))
    price = rows["UnitPrice"].astype(float)
    return {
        "rows_read": len(raw),
        "duplicates": len(raw) - len(rows),
        "lines": len(rows),
        "invoices": invoices.nunique(),
        "credit_notes": len(credit_notes),
        "returned": len(returned),
        "guest_lines": int(guests.sum()),
        "guest_orders": invoices[guests].nunique(),
        "customers": rows.loc[~guests, "CustomerID"].nunique(),
        "products": rows["StockCode"].nunique(),
        "zero_price": int((price == 0).sum()),
        "negative_price": int((price < 0).sum()),
        "net_revenue": revenue.quantize(Decimal("0.01")),
    }


@pytest.fixture
def uk_shop(shop):
    shop.timezone, shop.currency = "Europe/London", "GBP"
    shop.save()
    return shop


def test_online_retail_file_imports_completely_and_correctly(uk_shop, shared_data, expected):
    report = services.import_file(shop=uk_shop, path=shared_data / "online_retail.csv.xz", preset="online-retail")
    assert report.status == "imported", report.errors[:5]
    # published figures
    assert report.rows_read == expected["rows_read"] == 541_909
    assert report.duplicates_dropped == expected["duplicates"] == 5_268
    assert report.customers == expected["customers"] == 4_372
    assert expected["credit_notes"] == 3_836
    # derived figures
    assert report.rows_rejected == 0
    assert report.rows_imported == report.order_lines == expected["lines"]
    assert report.orders == expected["invoices"]
    assert report.returned_orders == expected["returned"]
    assert report.cancelled_orders == 0
    assert report.guest_lines == expected["guest_lines"]
    assert report.guest_orders == expected["guest_orders"]
    assert report.products == expected["products"]
    assert report.zero_price_lines == expected["zero_price"]
    assert report.negative_price_lines == expected["negative_price"]
    assert report.net_revenue == expected["net_revenue"]
    # what is in the database
    assert Order.objects.for_shop(uk_shop).count() == expected["invoices"]
    assert OrderLine.objects.for_shop(uk_shop).count() == expected["lines"]
    assert Customer.objects.for_shop(uk_shop).count() == expected["customers"]
    assert Product.objects.for_shop(uk_shop).count() == expected["products"]
    credit_notes = Order.objects.for_shop(uk_shop).filter(external_id__startswith="C")
    assert credit_notes.count() == expected["credit_notes"]
    assert not credit_notes.exclude(status=OrderStatus.RETURNED).exists()
    assert Order.objects.for_shop(uk_shop).filter(customer__isnull=True).count() == expected["guest_orders"]
    assert selectors.shop_totals(shop=uk_shop).net_revenue == expected["net_revenue"]
