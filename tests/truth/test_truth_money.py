"""Money on real data through the product's own path (ADR 0007): a file or request in, ``import_csv`` /
the bulk API / a webhook, ``analyze``, then the stored scores, the profile API and the dashboard's SQL.

Net spend of every customer must equal what they paid minus what they got back, to the cent,
computed here independently from the raw file with Decimal.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from io import StringIO

import pandas as pd
import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.test import Client

from analytics.models import AnalysisRun, CustomerScore
from analytics.selectors.dashboard import dashboard_kpis, dashboard_period
from customers.demo import demo_shop_generate
from customers.models import Customer, Order, OrderLine
from customers.money import paid_in, refunds_on_lines, refunds_on_orders
from tests.conftest import SHARED_DATA
from tests.factories import ApiKeyFactory, ShopFactory

ONLINE_RETAIL = SHARED_DATA / "online_retail.csv.xz"
CENT = Decimal("0.01")
ZERO = Decimal("0.00")

pytestmark = pytest.mark.django_db(transaction=False)


def _analyze(shop, *args: str) -> dict:
    out = StringIO()
    call_command("analyze", "--shop", shop.slug, "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def _scores(shop) -> dict[int, CustomerScore]:
    run = AnalysisRun.objects.for_shop(shop).get(is_current=True)
    return {s.customer_id: s for s in CustomerScore.objects.for_shop(shop).filter(run=run)}


def _sql_net_per_customer(shop) -> dict[int, Decimal]:
    """The dashboard's SQL reading (customers.money), grouped by customer."""
    net: dict[int, Decimal] = defaultdict(lambda: ZERO)
    orders = (
        Order.objects.for_shop(shop)
        .filter(customer__isnull=False)
        .values("customer")
        .annotate(paid=paid_in(), back=refunds_on_orders())
    )
    for row in orders:
        net[row["customer"]] += (row["paid"] or ZERO) - (row["back"] or ZERO)
    lines = (
        OrderLine.objects.for_shop(shop)
        .filter(order__customer__isnull=False)
        .values("order__customer")
        .annotate(back=refunds_on_lines())
    )
    for row in lines:
        net[row["order__customer"]] -= row["back"] or ZERO
    return {k: v.quantize(CENT) for k, v in net.items()}


def _online_retail_expected() -> pd.DataFrame:
    """Per CustomerID, from the raw file: paid (positive invoices) and got back (C invoices), in Decimal."""
    raw = pd.read_csv(ONLINE_RETAIL, dtype=str, keep_default_na=False).drop_duplicates()  # the importer drops them
    raw = raw[raw["CustomerID"] != ""]
    # Prices are kept in cents: the importer rounds the few with more decimals half-up (and says so).
    raw["amount"] = [
        Decimal(q) * Decimal(p).quantize(CENT, ROUND_HALF_UP)
        for q, p in zip(raw["Quantity"], raw["UnitPrice"], strict=True)
    ]
    invoices = raw.groupby(["CustomerID", "InvoiceNo"])["amount"].sum().reset_index()
    invoices["paid"] = invoices["amount"].map(lambda a: a if a > 0 else ZERO)
    invoices["back"] = invoices["amount"].map(lambda a: -a if a < 0 else ZERO)
    out = invoices.groupby("CustomerID")[["paid", "back"]].sum()
    out.index = [str(int(float(i))) for i in out.index]  # "17850.0" -> "17850", as the importer keys them
    out = out.groupby(level=0).sum()
    out["net"] = out["paid"] - out["back"]
    return out


def test_online_retail_net_spend_of_every_customer_is_paid_minus_got_back_to_the_cent(settings):
    if not ONLINE_RETAIL.is_file():
        pytest.skip(f"{ONLINE_RETAIL} is absent (the shared real-data folder sits beside the checkout)")
    shop = ShopFactory(name="Online Retail", slug="online-retail", timezone="Europe/London", currency="GBP")
    call_command("import_csv", str(ONLINE_RETAIL), "--shop", shop.slug, "--preset", "online-retail", stdout=StringIO())
    summary = _analyze(shop, "--only", "rfm")
    expected = _online_retail_expected()

    ids = dict(Customer.objects.for_shop(shop).values_list("external_id", "pk"))
    scores = _scores(shop)
    sql_net = _sql_net_per_customer(shop)
    assert len(scores) == len(expected) == 4_372
    wrong = []
    for external_id, row in expected.iterrows():
        score = scores[ids[external_id]]
        gross = Decimal(str(score.features["gross_sales"])).quantize(CENT)
        back = Decimal(str(score.features["returns_value"])).quantize(CENT)
        if (score.monetary, gross, back, sql_net[ids[external_id]]) != (row.net, row.paid, row.back, row.net):
            wrong.append((external_id, score.monetary, gross, back, row.net, row.paid, row.back))
    assert not wrong, f"{len(wrong)} customers' money is wrong, e.g. {wrong[:3]}"

    # The customer of the issue: bought 168,472.50, a C invoice gave back 168,469.60.
    big = scores[ids["16446"]]
    assert (big.features["gross_sales"], big.features["returns_value"]) == (168472.5, 168469.6)
    assert big.monetary == Decimal("2.90")
    assert 0.99 < big.features["return_rate"] <= 1.0
    # the C invoice cancelled the big invoice of 12 minutes before: one purchase day is left, in May
    assert big.frequency == 1 and big.features["avg_order_value"] == 2.9
    assert big.recency_days == pytest.approx(205.6, abs=0.1)
    # Total net spend: 8,278,519.42 after exact duplicates are dropped (the old reading, adding the
    # C invoices back instead of subtracting them, gave 9.49 M).
    total = sum(s.monetary for s in scores.values())
    assert total == expected["net"].sum() == Decimal("8278519.42")
    # RFM money groups were built on the same figure: the top monetary score went to the top spenders.
    assert summary["rfm"]["groups"]
    assert big.m_score <= 2  # 2.90 of net spend is no big spender

    # The profile API shows the same net spend.
    ApiKeyFactory(shop=shop, raw="sk_truth_money")
    api = Client(HTTP_AUTHORIZATION="Bearer sk_truth_money")
    profile = api.get(f"/api/v1/customers/{ids['16446']}/profile/").json()
    assert Decimal(profile["rfm"]["monetary"]) == Decimal("2.90")


def _net_by_the_adr(orders, lines_by_order, *, guests: bool = False) -> dict[int | None, Decimal]:
    """ADR 0007 read literally, order by order, in Python: independent of both implementations."""
    net: dict[int | None, Decimal] = defaultdict(lambda: ZERO)
    for order in orders:
        if (order.customer_id is None and not guests) or order.status not in ("paid", "returned"):
            continue
        if order.total < 0:  # a credit note
            net[order.customer_id] += order.total
        elif order.status == "returned":  # sold, then all paid back
            continue
        else:
            back = sum((-q * p for q, p in lines_by_order.get(order.pk, []) if q < 0), ZERO)
            net[order.customer_id] += order.total - min(back, order.total)
    return net


def test_demo_shop_net_spend_of_every_customer_follows_the_convention():
    shop = ShopFactory(name="Demo", slug="demo-money", timezone="Europe/London", currency="GBP")
    summary = demo_shop_generate(shop=shop, customers=800, seed=3, as_of=dt.date(2026, 3, 1))
    _analyze(shop, "--only", "rfm")
    orders = list(Order.objects.for_shop(shop))
    kinds = {o.status for o in orders} | {"credit" for o in orders if o.total < 0}
    assert {"paid", "returned", "cancelled", "pending", "credit"} <= kinds  # every case is present
    lines = defaultdict(list)
    for order_id, quantity, price in OrderLine.objects.for_shop(shop).values_list("order_id", "quantity", "unit_price"):
        lines[order_id].append((quantity, price))
    expected = _net_by_the_adr(orders, lines)
    scores = _scores(shop)
    sql_net = _sql_net_per_customer(shop)
    wrong = [
        (cid, s.monetary, expected.get(cid, ZERO))
        for cid, s in scores.items()
        if s.monetary != expected.get(cid, ZERO).quantize(CENT) or sql_net.get(cid, ZERO) != s.monetary
    ]
    assert not wrong, f"{len(wrong)} customers' net spend is wrong, e.g. {wrong[:3]}"
    # the demo's own figure and the dashboard's revenue of the last 30 days (guests included)
    period = dashboard_period(shop=shop, now=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    in_period = [o for o in orders if period.start <= o.placed_at < period.end]
    kpis = {k.key: k for k in dashboard_kpis(shop=shop, period=period)}
    assert kpis["revenue"].value == sum(_net_by_the_adr(in_period, lines, guests=True).values(), ZERO)
    all_net = Order.objects.for_shop(shop).aggregate(p=paid_in(), b=refunds_on_orders())
    line_back = OrderLine.objects.for_shop(shop).aggregate(b=refunds_on_lines())["b"] or ZERO
    assert (all_net["p"] - all_net["b"] - line_back).quantize(CENT) == summary.net_revenue


BULK = "/api/v1/orders/bulk/"


def _bulk(api, orders):
    return api.post(BULK, {"items": orders}, content_type="application/json")


def test_orders_through_the_bulk_api_keep_the_convention_and_refuse_what_breaks_it():
    shop = ShopFactory(name="API shop", slug="api-money", timezone="UTC", currency="EUR")
    ApiKeyFactory(shop=shop, raw="sk_api_money")
    api = Client(HTTP_AUTHORIZATION="Bearer sk_api_money")
    response = api.post(
        "/api/v1/customers/bulk/",
        {"items": [{"external_id": "c1", "email": "c1@example.com"}]},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    response = api.post(
        "/api/v1/products/bulk/",
        {"items": [{"external_id": "p1", "title": "Tea", "sku": "TEA"}]},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content

    def order(external_id, day, lines, **extra):
        return {
            "external_id": external_id,
            "customer_external_id": "c1",
            "placed_at": f"2026-01-{day:02d}T10:00:00Z",
            "lines": [{"product_external_id": "p1", "quantity": q, "unit_price": p} for q, p in lines],
            **extra,
        }

    good = [
        order("s1", 2, [(3, "10.00")]),  # paid 30
        order("s2", 5, [(2, "10.00"), (-1, "10.00")]),  # paid 20, one back: 10
        order("r1", 9, [(-1, "10.00")]),  # a credit note: 10 back; becomes "returned"
        order("s3", 12, [(1, "25.00")], status="returned"),  # sold and all paid back
        order("s4", 15, [(1, "7.50")], status="cancelled"),
    ]
    response = _bulk(api, good)
    assert response.status_code == 200, response.content
    credit = Order.objects.for_shop(shop).get(external_id="r1")
    assert (credit.status, credit.total) == ("returned", Decimal("-10.00"))
    assert Order.objects.for_shop(shop).get(external_id="s2").total == Decimal("20.00")  # as placed

    _analyze(shop, "--only", "rfm")
    score = next(iter(_scores(shop).values()))
    # paid 30 + 20 + 25 = 75; back 10 + 10 + 25 = 45; net 30
    assert (score.features["gross_sales"], score.features["returns_value"]) == (75.0, 45.0)
    assert score.monetary == Decimal("30.00")
    # s1 only: the credit note r1 of Jan 9 is taken off the latest earlier sale, s2, whose 10 kept is
    # then gone; the credit note and the returned sale are no purchases either
    assert score.frequency == 1

    bad = [
        order("x1", 20, [(1, "10.00"), (-2, "10.00")]),  # returns worth more than the sale
        order("x2", 21, [(1, "10.00")], total="-10.00"),  # a credit note that sells
        order("x3", 22, [(1, "10.00"), (-1, "10.00")], status="returned"),  # returned, with returns in it
    ]
    response = _bulk(api, bad)
    assert response.status_code == 400, response.content
    text = json.dumps(response.json())
    assert "worth more than the order" in text
    assert "lines[0].quantity" in text and "credit note" in text
    assert "lists its goods as sold" in text
    assert not Order.objects.for_shop(shop).filter(external_id__startswith="x").exists()  # nothing half written
    assert Order.objects.for_shop(shop).aggregate(n=Sum("total"))["n"] == Decimal("72.50")
