"""A new owner imports a spreadsheet of orders over the shop they already have, in a real Chromium:
the file's customers and products are found by email and SKU, nobody is created twice, and the
import report says how many rows matched (issue 13, ADR 0009)."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from customers.demo import demo_shop_generate
from customers.models import Customer, CustomerIdentity, Product
from tests.factories import MembershipFactory, ShopFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _orders_csv(shop) -> tuple[bytes, int, int]:
    """20 order lines in the generic layout: 9 known customers (by email, under the file's own ids,
    one email listed twice under two ids) buying known SKUs. Returns (file, ids, distinct SKUs)."""
    people = list(Customer.objects.for_shop(shop).exclude(email="").order_by("pk")[:9])
    skus = list(Product.objects.for_shop(shop).order_by("pk").values_list("sku", "title")[:5])
    rows = []
    for n in range(20):
        order = n // 2  # two lines an order, one customer an order
        # the tenth order: the second person's email again, under a new id of the file
        person = people[order] if order < 9 else people[1]
        sku, title = skus[n % 5]
        rows.append(
            {
                "order_id": f"INV-{order + 1}",
                "ordered_at": f"2026-10-{order + 1:02d} 10:00:00",
                "customer_id": f"XL-{order + 1}",
                "email": person.email.upper() if n % 2 else person.email,
                "first_name": person.first_name,
                "last_name": person.last_name,
                "sku": sku,
                "product_name": title,
                "quantity": "1",
                "unit_price": "9.50",
                "currency": "GBP",
            }
        )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode(), 10, len({sku for sku, _t in skus})


def test_a_csv_over_the_demo_shop_creates_no_duplicate_and_says_what_it_matched(page, live_server, artifacts):
    from playwright.sync_api import expect

    shop = ShopFactory(name="Leaf & Bean", slug="leaf-and-bean")
    owner = MembershipFactory(shop=shop, role="owner").user
    demo_shop_generate(shop=shop, customers=120, months=3)
    customers_before = Customer.objects.for_shop(shop).count()
    products_before = Product.objects.for_shop(shop).count()
    body, file_ids, skus = _orders_csv(shop)

    client = Client()
    client.force_login(owner)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )

    page.goto(f"{live_server.url}/data/import/upload/")
    page.set_input_files("input[type=file]", files=[{"name": "orders.csv", "mimeType": "text/csv", "buffer": body}])
    page.select_option("select[name=kind]", "orders")
    page.select_option("select[name=preset]", "generic")
    page.click("button[type=submit].primary")
    expect(page.get_by_role("button", name="Import")).to_be_visible()
    page.screenshot(path=str(artifacts / "identity-01-preview.png"), full_page=True)
    page.get_by_role("button", name="Import").click()

    table = page.locator("#import-matching")
    expect(table).to_be_visible(timeout=60_000)
    page.screenshot(path=str(artifacts / "identity-02-report.png"), full_page=True)
    cells = [c.strip() for c in table.locator("tbody tr").first.locator("td").all_inner_texts()]
    matched, linked, created = cells[:3]
    assert (matched, linked, created) == ("0", str(file_ids), "0"), cells
    product_cells = [c.strip() for c in table.locator("tbody tr").nth(1).locator("td").all_inner_texts()]
    assert product_cells[1:3] == [str(skus), "0"], product_cells

    assert Customer.objects.for_shop(shop).count() == customers_before
    assert Product.objects.for_shop(shop).count() == products_before
    # the email listed under two of the file's ids is one customer with both identities
    twice = CustomerIdentity.objects.for_shop(shop).filter(source="csv", external_id__in=["XL-2", "XL-10"])
    assert twice.count() == 2 and len({i.customer_id for i in twice}) == 1
