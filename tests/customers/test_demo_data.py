"""The demo data generator: deterministic, confined to one shop, and with structure the analytics can find."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO
from types import SimpleNamespace

import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.db.models import DecimalField, ExpressionWrapper, F, Sum

from customers.demo import DemoDataExists, demo_shop_generate
from customers.models import Customer, CustomerIdentity, Event, Order, OrderLine, Product, ProductIdentity, Review
from customers.tasks import load_demo_data
from tests.factories import CustomerFactory, ShopFactory

AS_OF = dt.date(2026, 3, 1)  # the window is 2025-01-01 .. 2026-02-28: one July, one December
N_CUSTOMERS = 300
PURCHASE = ["paid", "returned"]


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """One generated shop shared by the structure tests (generating it per test would be slow)."""
    with django_db_blocker.unblock():
        shop = ShopFactory(name="Demo Structure", slug="demo-structure", timezone="Europe/London", currency="GBP")
        summary = demo_shop_generate(shop=shop, customers=N_CUSTOMERS, seed=11, as_of=AS_OF)
        orders = pd.DataFrame(
            Order.objects.for_shop(shop).values("id", "customer_id", "placed_at", "total", "status", "currency")
        )
        orders["total"] = orders["total"].astype(float)
        orders["local"] = orders["placed_at"].dt.tz_convert(shop.timezone)
        lines = pd.DataFrame(
            OrderLine.objects.for_shop(shop).values("order_id", "product__sku", "quantity", "unit_price")
        )
        try:
            yield SimpleNamespace(shop=shop, summary=summary, orders=orders, lines=lines)
        finally:
            shop.delete()


def _purchases(orders: pd.DataFrame) -> pd.DataFrame:
    return orders[orders["status"].isin(PURCHASE) & (orders["total"] > 0)]


def _per_customer(orders: pd.DataFrame) -> pd.DataFrame:
    bought = _purchases(orders).dropna(subset=["customer_id"])
    return bought.groupby("customer_id").agg(orders=("id", "size"), spend=("total", "sum"), last_order=("local", "max"))


@pytest.mark.django_db
def test_same_seed_and_as_of_give_identical_data_and_another_seed_differs(shop, other_shop):
    third = ShopFactory(slug="gamma", timezone="Europe/London", currency="GBP")
    for target, seed in ((shop, 5), (other_shop, 5), (third, 6)):
        demo_shop_generate(shop=target, customers=60, seed=seed, as_of=AS_OF)

    def snapshot(target):
        emails = list(Customer.objects.for_shop(target).order_by("external_id").values_list("email", flat=True))
        orders = list(
            Order.objects.for_shop(target)
            .order_by("external_id")
            .values_list("external_id", "placed_at", "total", "status", "customer__external_id")
        )
        return emails, orders

    assert snapshot(shop) == snapshot(other_shop)
    assert snapshot(shop)[0] != snapshot(third)[0]
    assert snapshot(shop)[1] != snapshot(third)[1]


@pytest.mark.django_db
def test_writes_only_to_the_given_shop(shop, other_shop):
    bystander = CustomerFactory(shop=other_shop)
    demo_shop_generate(shop=shop, customers=60, seed=1, as_of=AS_OF)

    for model in (Customer, Product, Order, OrderLine, Event, Review):
        assert model.objects.for_shop(shop).exists(), model.__name__
    assert list(Customer.objects.for_shop(other_shop)) == [bystander]
    for model in (Product, Order, OrderLine, Event, Review):
        assert not model.objects.for_shop(other_shop).exists(), model.__name__
    for model in (Customer, Product, Order):
        assert set(model.objects.for_shop(shop).values_list("source", flat=True)) == {"demo"}


@pytest.mark.django_db
def test_demo_rows_carry_their_identities_and_match_keys(shop):
    demo_shop_generate(shop=shop, customers=40, seed=4, as_of=AS_OF)

    customers = list(
        Customer.objects.for_shop(shop).values_list("pk", "external_id", "email", "email_key", "phone", "phone_key")
    )
    identities = set(CustomerIdentity.objects.for_shop(shop).values_list("customer_id", "source", "external_id"))
    assert identities == {(pk, "demo", external_id) for pk, external_id, *_rest in customers}
    assert all(key == email.lower() for _pk, _id, email, key, _phone, _pkey in customers)
    assert all(pkey.startswith("+") for *_rest, phone, pkey in customers if phone)
    products = set(Product.objects.for_shop(shop).values_list("pk", "source", "external_id"))
    assert set(ProductIdentity.objects.for_shop(shop).values_list("product_id", "source", "external_id")) == products


@pytest.mark.django_db
def test_generating_twice_for_one_shop_is_refused(shop):
    demo_shop_generate(shop=shop, customers=20, seed=1, as_of=AS_OF)
    with pytest.raises(DemoDataExists):
        demo_shop_generate(shop=shop, customers=20, seed=2, as_of=AS_OF)
    assert Customer.objects.for_shop(shop).count() == 20


@pytest.mark.django_db
def test_counts_and_fields_are_plausible(demo):
    s, shop = demo.summary, demo.shop
    assert (s.customers, s.products) == (N_CUSTOMERS, 120)
    assert 4 * N_CUSTOMERS <= s.orders <= 8 * N_CUSTOMERS
    assert 1.8 <= s.lines / s.orders <= 3.5
    assert s.events >= 8 * N_CUSTOMERS
    assert 0.35 * N_CUSTOMERS <= s.reviews <= 0.55 * N_CUSTOMERS
    assert s.first_day == dt.date(2025, 1, 1)
    assert (Order.objects.for_shop(shop).count(), OrderLine.objects.for_shop(shop).count()) == (s.orders, s.lines)
    assert (Event.objects.for_shop(shop).count(), Review.objects.for_shop(shop).count()) == (s.events, s.reviews)

    customers = pd.DataFrame(Customer.objects.for_shop(shop).values())
    assert customers["email"].is_unique
    assert customers["email"].str.match(r"^[a-z0-9._]+@([a-z]+\.)?example\.(com|org|net)$").all()
    assert customers["external_id"].str.match(r"^D-C\d{5}$").all()
    assert 0.6 <= customers["email_consent"].mean() <= 0.8
    assert customers.loc[customers["email_consent"], "email_consent_at"].notna().all()
    assert customers.loc[~customers["email_consent"], "email_consent_at"].isna().all()
    assert customers["last_name"].isin(["Wang", "王", "Chen", "陈", "Li", "李"]).any()
    assert customers["last_name"].isin(["Smith", "Jones", "Taylor", "Brown"]).any()
    assert customers["birth_date"].notna().mean() > 0.8
    assert customers["created_at"].min() < pd.Timestamp(s.first_day, tz="UTC")  # an existing customer base
    assert not customers["tags"].map(lambda tags: any(t in str(tags) for t in ("loyal", "lapsed", "bargain"))).any()

    products = pd.DataFrame(Product.objects.for_shop(shop).values())
    assert products["category"].nunique() == 8
    assert products["sku"].is_unique and products["external_id"].is_unique
    assert products["price"].map(lambda p: p == p.quantize(Decimal("0.01"))).all()


@pytest.mark.django_db
def test_guest_cancelled_returned_pending_and_refund_orders_are_present(demo):
    orders, shop = demo.orders, demo.shop
    status = orders["status"].value_counts(normalize=True)
    assert 0.02 <= orders["customer_id"].isna().mean() <= 0.09
    assert 0.01 <= status["cancelled"] <= 0.06
    returned_sales = orders[(orders["status"] == "returned") & (orders["total"] > 0)]
    assert 0.01 <= len(returned_sales) / len(orders) <= 0.05
    assert "pending" in status
    refunds = orders[orders["total"] < 0]
    assert len(refunds) >= 0.005 * len(orders)
    # credit notes follow ADR 0007: status returned, negative total
    assert refunds["status"].eq("returned").all() and refunds["customer_id"].notna().all()
    assert (demo.lines["quantity"] < 0).sum() == len(refunds)
    assert set(orders["currency"]) == {shop.currency}
    assert orders["placed_at"].max() < pd.Timestamp(AS_OF, tz=shop.timezone)
    assert orders["placed_at"].min() >= pd.Timestamp(demo.summary.first_day, tz=shop.timezone)


@pytest.mark.django_db
def test_order_totals_are_the_sum_of_their_lines_and_net_revenue_counts_paid_orders(demo):
    amount = ExpressionWrapper(
        F("quantity") * F("unit_price"), output_field=DecimalField(max_digits=14, decimal_places=2)
    )
    line_sums = dict(
        OrderLine.objects.for_shop(demo.shop).values("order_id").annotate(s=Sum(amount)).values_list("order_id", "s")
    )
    totals = dict(Order.objects.for_shop(demo.shop).values_list("id", "total"))
    assert totals == line_sums
    orders = Order.objects.for_shop(demo.shop)
    paid = orders.filter(status="paid").aggregate(s=Sum("total"))["s"]
    credit_notes = orders.filter(status="returned", total__lt=0).aggregate(s=Sum("total"))["s"]
    # SQLite sums decimals as floats
    assert demo.summary.net_revenue == (paid + credit_notes).quantize(Decimal("0.01"))


@pytest.mark.django_db
def test_customer_groups_really_differ(demo):
    per_customer = _per_customer(demo.orders)
    top_decile = per_customer[per_customer["spend"] >= per_customer["spend"].quantile(0.9)]
    assert top_decile["orders"].mean() >= 2.5 * per_customer["orders"].median()
    assert (top_decile["spend"] / top_decile["orders"]).mean() > 1.3 * (
        per_customer["spend"] / per_customer["orders"]
    ).median()
    assert (per_customer["orders"] == 1).mean() >= 0.2
    quiet_since = pd.Timestamp(AS_OF, tz=demo.shop.timezone) - pd.Timedelta(days=180)
    lapsed = per_customer[(per_customer["orders"] >= 3) & (per_customer["last_order"] < quiet_since)]
    assert len(lapsed) >= 0.05 * N_CUSTOMERS


@pytest.mark.django_db
def test_sales_have_yearly_weekly_and_daily_rhythms(demo):
    bought = _purchases(demo.orders)
    by_month = bought.groupby(bought["local"].dt.month)["total"].sum()
    assert by_month[12] > 1.6 * by_month[7]
    assert by_month[11] > by_month[7]
    by_weekday = bought.groupby(bought["local"].dt.dayofweek).size()
    assert by_weekday[6] > 1.3 * by_weekday[5]  # Sunday evenings busy, Saturdays quiet
    assert by_weekday.max() > 1.3 * by_weekday.min()
    hours = bought["local"].dt.hour
    assert hours.between(19, 21).sum() > 1.5 * hours.between(7, 9).sum()  # evenings beat mornings


@pytest.mark.django_db
def test_products_bought_together_have_lift_above_two(demo):
    bought_lines = demo.lines[demo.lines["order_id"].isin(_purchases(demo.orders)["id"]) & (demo.lines["quantity"] > 0)]
    baskets = bought_lines.groupby("order_id")["product__sku"].agg(set)

    def lift(antecedents: set[str], consequents: set[str]) -> float:
        has_a = baskets.map(lambda b: bool(b & antecedents))
        has_c = baskets.map(lambda b: bool(b & consequents))
        return (has_a & has_c).mean() / (has_a.mean() * has_c.mean())

    assert lift({"TE-EGR-100", "TE-ENB-80", "TE-ASS-250", "TE-DAR-100"}, {"SN-SHB", "SN-OAT"}) > 2
    assert lift({"CH-TRF-12", "CH-ADV", "CH-HRT"}, {"GS-WRAP"}) > 2
    assert lift({"CB-ETH-250", "CB-COL-250", "CB-KEN-250"}, {"BG-FLT-100"}) > 2


@pytest.mark.django_db
def test_events_and_reviews_have_their_details(demo):
    events = pd.DataFrame(Event.objects.for_shop(demo.shop).values("kind", "duration_seconds", "properties"))
    assert set(events["kind"]) == {"page_view", "search", "add_to_cart"}
    views = events[events["kind"] == "page_view"]
    assert views["duration_seconds"].gt(0).all()
    assert events.loc[events["kind"] == "search", "properties"].map(lambda p: bool(p.get("query"))).all()
    reviews = pd.DataFrame(Review.objects.for_shop(demo.shop).values("rating", "text", "customer_id"))
    assert set(reviews["rating"]) == {1, 2, 3, 4, 5}
    assert reviews["text"].str.len().gt(0).all() and reviews["customer_id"].notna().all()


@pytest.mark.django_db
def test_command_prints_a_summary_and_if_empty_leaves_a_filled_shop_alone(shop):
    out = StringIO()
    call_command("demo_data", "--shop", "alpha", "--customers", "40", "--as-of", "2026-03-01", stdout=out)
    assert "alpha" in out.getvalue() and "40 customers, 120 products" in out.getvalue()
    assert "net revenue" in out.getvalue()
    orders = Order.objects.for_shop(shop).count()

    out = StringIO()
    call_command("demo_data", "--shop", "alpha", "--customers", "40", "--if-empty", stdout=out)
    assert "already has customers or orders" in out.getvalue()
    assert (Customer.objects.for_shop(shop).count(), Order.objects.for_shop(shop).count()) == (40, orders)


@pytest.mark.django_db
def test_command_refuses_a_second_run_without_if_empty(shop):
    call_command("demo_data", "--shop", "alpha", "--customers", "10", stdout=StringIO())
    with pytest.raises(CommandError, match="already has demo data"):
        call_command("demo_data", "--shop", "alpha", "--customers", "10", stdout=StringIO())


@pytest.mark.django_db
def test_command_refuses_an_unknown_shop():
    with pytest.raises(CommandError, match="'no-such-shop'"):
        call_command("demo_data", "--shop", "no-such-shop", stdout=StringIO())


@pytest.mark.django_db
def test_task_loads_demo_data_once(shop):
    first = load_demo_data.delay(shop.id, customers=30, seed=3).get()
    assert first["customers"] == 30 and first["orders"] == Order.objects.for_shop(shop).count()
    assert load_demo_data.delay(shop.id, customers=30, seed=3).get() == {"skipped": "shop already has orders"}
    assert Customer.objects.for_shop(shop).count() == 30


def test_task_is_routed_to_the_ingest_queue():
    from config.celery import app

    assert load_demo_data.name == "customers.load_demo_data"
    assert app.amqp.router.route({}, load_demo_data.name)["queue"].name == "ingest"
