"""The frames an analysis reads: the same values from SQLite and from PostgreSQL's CSV path."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from analytics import frames
from tests.factories import (
    CustomerFactory,
    EventFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    ReviewFactory,
    ShopFactory,
)

pytestmark = pytest.mark.django_db
AWKWARD = 'Mug, "big"\nsecond line \\ back'  # comma, quotes, newline, backslash


@pytest.fixture
def data(shop):
    at = dt.datetime(2026, 2, 3, 4, 5, 6, 789012, tzinfo=dt.UTC)
    anna = CustomerFactory(shop=shop, city=AWKWARD, birth_date=dt.date(1990, 5, 6), gender="female")
    blank = CustomerFactory(shop=shop)
    mug = ProductFactory(shop=shop, title=AWKWARD, category="Coffee, beans", brand="")
    paid = OrderFactory(shop=shop, customer=anna, placed_at=at, total=Decimal("12.34"), status="paid")
    guest = OrderFactory(shop=shop, customer=None, placed_at=at + dt.timedelta(days=1), total=Decimal("5.00"))
    line = OrderLineFactory(shop=shop, order=paid, product=mug, quantity=3, unit_price=Decimal("4.11"))
    orphan = OrderLineFactory(shop=shop, order=guest, product=mug, quantity=-1, unit_price=Decimal("5.00"))
    orphan.product = None
    orphan.save()
    EventFactory(shop=shop, customer=anna, kind="search", at=at, duration_seconds=None)
    EventFactory(shop=shop, customer=None)  # anonymous: not in the frame
    ReviewFactory(shop=shop, customer=anna, product=mug, rating=4, text=AWKWARD)
    other = ShopFactory(slug="elsewhere")
    OrderFactory(shop=other, customer=CustomerFactory(shop=other))  # another shop: never in the frames
    return locals()


def test_the_frames_hold_exactly_the_shops_rows(shop, data):
    f = frames.analysis_frames(shop=shop)

    orders = f["orders"].set_index("order_id").sort_index()
    assert list(orders.index) == sorted([data["paid"].pk, data["guest"].pk])
    assert orders.loc[data["paid"].pk, "customer_id"] == data["anna"].pk
    assert pd.isna(orders.loc[data["guest"].pk, "customer_id"])
    assert orders.loc[data["paid"].pk, "placed_at"] == pd.Timestamp(data["at"])
    assert orders.loc[data["paid"].pk, "total"] == 12.34 and orders.loc[data["paid"].pk, "status"] == "paid"

    lines = f["lines"].set_index("order_id").sort_index()
    kept = lines.loc[data["paid"].pk]
    assert kept["product_id"] == data["mug"].pk and kept["title"] == AWKWARD and kept["category"] == "Coffee, beans"
    assert kept["brand"] == "" and kept["quantity"] == 3 and kept["unit_price"] == 4.11
    assert kept["customer_id"] == data["anna"].pk and kept["placed_at"] == pd.Timestamp(data["at"])
    returned = lines.loc[data["guest"].pk]
    assert pd.isna(returned["product_id"]) and returned["title"] == "" and returned["quantity"] == -1
    assert pd.isna(returned["customer_id"])

    customers = f["customers"].set_index("customer_id").sort_index()
    assert list(customers.index) == sorted([data["anna"].pk, data["blank"].pk])
    assert customers.loc[data["anna"].pk, "city"] == AWKWARD
    assert customers.loc[data["anna"].pk, "birth_date"] == pd.Timestamp("1990-05-06")
    assert customers.loc[data["blank"].pk, "city"] == "" and pd.isna(customers.loc[data["blank"].pk, "birth_date"])

    events = f["events"]
    assert len(events) == 1 and events.iloc[0]["kind"] == "search" and pd.isna(events.iloc[0]["duration_seconds"])
    assert events.iloc[0]["at"] == pd.Timestamp(data["at"])
    reviews = f["reviews"]
    assert len(reviews) == 1 and reviews.iloc[0]["text"] == AWKWARD and reviews.iloc[0]["rating"] == 4


def test_a_shop_without_data_gives_empty_frames_with_their_columns(shop):
    f = frames.analysis_frames(shop=shop)

    assert list(f["orders"].columns) == frames.ORDER_COLUMNS and f["orders"].empty
    assert list(f["lines"].columns) == frames.LINE_COLUMNS and f["lines"].empty
    assert f["customers"].empty and f["events"].empty and f["reviews"].empty
