from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analytics.compute.features import FEATURE_COLUMNS, customer_features, lexicon_sentiment

AS_OF = pd.Timestamp("2024-03-01")


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


@pytest.fixture()
def frames() -> dict[str, pd.DataFrame]:
    orders = pd.DataFrame(
        [
            ("o1", "c1", ts("2024-01-01 10:00"), 100.0, "paid"),  # Monday
            ("o2", "c1", ts("2024-01-01 15:00"), 50.0, "paid"),  # same day
            ("o3", "c1", ts("2024-01-11 10:00"), 30.0, "paid"),  # Thursday
            ("o4", "c1", ts("2024-01-21 10:00"), 20.0, "cancelled"),
            ("o5", "c1", ts("2024-02-10 12:00"), 40.0, "returned"),  # Saturday
            ("o6", "c2", ts("2024-02-20 10:00"), 80.0, "paid"),
            ("o7", None, ts("2024-02-21 10:00"), 500.0, "paid"),  # guest
            ("o8", "c2", ts("2024-03-05 10:00"), 99.0, "paid"),  # after as_of
            ("o9", "c2", ts("2024-02-25 10:00"), 60.0, "pending"),
        ],
        columns=["order_id", "customer_id", "placed_at", "total", "status"],
    )
    lines = pd.DataFrame(
        [
            ("o1", "c1", ts("2024-01-01 10:00"), "A", "Coffee", "X", 2, 50.0),
            ("o2", "c1", ts("2024-01-01 15:00"), "B", "Tea", "Y", 1, 50.0),
            ("o3", "c1", ts("2024-01-11 10:00"), "A", "Coffee", "X", 1, 30.0),
            ("o3", "c1", ts("2024-01-11 10:00"), "A", "Coffee", "X", -1, 10.0),  # partial return
            ("o4", "c1", ts("2024-01-21 10:00"), "B", "Tea", "Y", 1, 20.0),
            ("o5", "c1", ts("2024-02-10 12:00"), "C", "Coffee", "Y", 1, 40.0),
            ("o6", "c2", ts("2024-02-20 10:00"), "B", "Tea", "Y", 1, 80.0),
        ],
        columns=["order_id", "customer_id", "placed_at", "product_id", "category", "brand", "quantity", "unit_price"],
    )
    lines["sku"] = lines["product_id"]
    lines["title"] = lines["product_id"]
    customers = pd.DataFrame(
        [
            ("c1", "1990-03-02", "f", "teacher", "Berlin", "DE", ts("2023-01-01")),
            ("c2", "1990-03-01", "m", None, "Paris", "FR", ts("2024-02-01")),
            ("c3", None, None, None, None, None, ts("2024-05-01")),  # created after as_of
            ("c4", None, "x", None, "Rome", "IT", ts("2023-06-01")),  # never bought
        ],
        columns=["customer_id", "birth_date", "gender", "occupation", "city", "country", "created_at"],
    )
    events = pd.DataFrame(
        [
            ("c1", "page_view", ts("2024-02-01"), 30.0),
            ("c1", "search", ts("2024-02-01"), 5.0),
            ("c1", "add_to_cart", ts("2024-02-01"), None),
            ("c1", "page_view", ts("2024-03-02"), 100.0),  # after as_of
            ("c2", "page_view", ts("2024-02-01"), 10.0),
        ],
        columns=["customer_id", "kind", "at", "duration_seconds"],
    )
    reviews = pd.DataFrame(
        [
            ("c1", "A", 5, ""),
            ("c1", "B", 2, ""),
            ("c2", "B", None, "great product, love it"),
        ],
        columns=["customer_id", "product_id", "rating", "text"],
    )
    return {"orders": orders, "lines": lines, "customers": customers, "events": events, "reviews": reviews}


def test_known_values(frames: dict[str, pd.DataFrame]) -> None:
    f = customer_features(**frames, as_of=AS_OF)
    assert list(f.columns) == list(FEATURE_COLUMNS)
    assert list(f.index) == ["c1", "c2", "c4"]  # c3 created after as_of, guest dropped

    c1 = f.loc["c1"]
    # Jan 1 (two orders), Jan 11; cancelled excluded, and the fully returned sale of Feb 10 is no
    # purchase (ADR 0007)
    assert c1["frequency"] == 2
    assert c1["orders"] == 3
    assert c1["gross_sales"] == pytest.approx(220.0)
    assert c1["returns_value"] == pytest.approx(50.0)  # returned order 40 + partial return 10
    assert c1["monetary"] == pytest.approx(170.0)
    assert c1["return_rate"] == pytest.approx(50 / 220)
    assert c1["avg_order_value"] == pytest.approx(60.0)  # the three purchases as placed: 180 / 3
    assert c1["recency_days"] == pytest.approx(50 - 10 / 24)  # last purchase Jan 11 10:00
    assert c1["mean_days_between_orders"] == pytest.approx(10.0)  # Jan 1 10:00 .. Jan 11 10:00
    assert c1["tenure_days"] == pytest.approx(425.0)
    assert c1["top_category"] == "Coffee"
    assert c1["top_category_share"] == pytest.approx(130 / 180)
    assert c1["top_brand"] == "X"
    assert c1["preferred_weekday"] == 0
    assert c1["preferred_hour"] == 10
    assert c1["browsing_seconds"] == pytest.approx(35.0)
    assert (c1["page_views"], c1["searches"], c1["add_to_carts"]) == (1, 1, 1)
    assert c1["review_sentiment"] == pytest.approx((1.0 - 0.5) / 2)
    assert c1["age"] == 33  # birthday on 2 March not reached on 1 March
    assert c1["city"] == "Berlin"

    c2 = f.loc["c2"]
    assert c2["frequency"] == 1  # pending and future orders ignored
    assert c2["monetary"] == pytest.approx(80.0)
    assert math.isnan(c2["mean_days_between_orders"])
    assert c2["review_sentiment"] == pytest.approx(1.0)  # lexicon on text without rating
    assert c2["age"] == 34

    c4 = f.loc["c4"]
    assert c4["frequency"] == 0 and c4["monetary"] == 0
    assert math.isnan(c4["recency_days"])
    assert math.isnan(c4["review_sentiment"])
    assert c4["tenure_days"] == pytest.approx(274.0)


def test_credit_note_is_subtracted_from_spend_and_is_no_purchase() -> None:
    """Online Retail's customer 16446: bought 168,472.50, then a C invoice gave back 168,469.60."""
    orders = pd.DataFrame(
        [
            ("581483", 16446, ts("2011-12-09 09:15"), 168469.60, "paid"),
            ("553573", 16446, ts("2011-05-18 09:52"), 2.90, "paid"),
            ("C581484", 16446, ts("2011-12-09 09:27"), -168469.60, "returned"),
        ],
        columns=["order_id", "customer_id", "placed_at", "total", "status"],
    )
    f = customer_features(orders, as_of=pd.Timestamp("2011-12-10")).loc[16446]
    assert f["gross_sales"] == pytest.approx(168472.50)
    assert f["returns_value"] == pytest.approx(168469.60)
    assert round(f["monetary"], 2) == 2.90
    assert f["return_rate"] == pytest.approx(168469.60 / 168472.50)
    # the C invoice cancelled the 168,469.60 invoice of 12 minutes before: one purchase is left
    assert f["frequency"] == 1 and f["orders"] == 1
    assert f["recency_days"] == pytest.approx(205.6, abs=0.1)  # May 18


def test_partial_refund_never_exceeds_the_sale() -> None:
    orders = pd.DataFrame(
        [("o1", "c1", ts("2024-01-01"), 8.0, "paid")],
        columns=["order_id", "customer_id", "placed_at", "total", "status"],
    )
    lines = pd.DataFrame(
        [("o1", "c1", "A", "Tea", "X", 1, 10.0), ("o1", "c1", "A", "Tea", "X", -1, 10.0)],
        columns=["order_id", "customer_id", "product_id", "category", "brand", "quantity", "unit_price"],
    )
    f = customer_features(orders, lines, as_of=pd.Timestamp("2024-02-01")).loc["c1"]
    assert f["returns_value"] == pytest.approx(8.0) and f["monetary"] == 0
    assert f["frequency"] == 0  # nothing kept: no purchase


def test_blank_categories_make_no_favourite() -> None:
    orders = pd.DataFrame(
        [("o1", "c1", ts("2024-01-01"), 10.0, "paid")],
        columns=["order_id", "customer_id", "placed_at", "total", "status"],
    )
    lines = pd.DataFrame(
        [("o1", "c1", "A", "", "", 1, 10.0)],
        columns=["order_id", "customer_id", "product_id", "category", "brand", "quantity", "unit_price"],
    )
    f = customer_features(orders, lines, as_of=pd.Timestamp("2024-02-01")).loc["c1"]
    assert pd.isna(f["top_category"]) and math.isnan(f["top_category_share"])
    assert pd.isna(f["top_brand"]) and math.isnan(f["top_brand_share"])
    # the loader's lines carry categorical texts
    lines = pd.concat([lines, lines.assign(category="Tea", unit_price=5.0)], ignore_index=True)
    lines["category"] = lines["category"].astype("category")
    f = customer_features(orders, lines, as_of=pd.Timestamp("2024-02-01")).loc["c1"]
    assert f["top_category"] == "Tea" and f["top_category_share"] == 1.0


def test_tz_aware_uses_utc_for_time_and_wall_clock_for_habits(frames: dict[str, pd.DataFrame]) -> None:
    orders = frames["orders"].copy()
    orders["placed_at"] = orders["placed_at"].dt.tz_localize("Europe/Berlin")
    f = customer_features(orders, as_of=pd.Timestamp("2024-03-01", tz="UTC"))
    assert f.loc["c1", "preferred_hour"] == 10  # Berlin wall clock
    assert f.loc["c1", "recency_days"] == pytest.approx(50 - 9 / 24)  # Jan 11 10:00 CET = 09:00 UTC
    assert math.isnan(f.loc["c1", "top_category_share"])  # no lines given


def test_two_runs_are_identical(frames: dict[str, pd.DataFrame]) -> None:
    a = customer_features(**frames, as_of=AS_OF)
    b = customer_features(**frames, as_of=AS_OF)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(
    ("frame", "column"),
    [("orders", "status"), ("orders", "placed_at"), ("lines", "unit_price"), ("customers", "created_at")],
)
def test_missing_column_is_named(frames: dict[str, pd.DataFrame], frame: str, column: str) -> None:
    frames[frame] = frames[frame].drop(columns=column)
    with pytest.raises(ValueError, match=f"{frame} is missing required column.*{column}"):
        customer_features(**frames, as_of=AS_OF)


def test_refuses_bad_input(frames: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(ValueError, match="as_of"):
        customer_features(frames["orders"])
    bad = frames["orders"].copy()
    bad.loc[0, "status"] = "shipped"
    with pytest.raises(ValueError, match="shipped"):
        customer_features(bad, as_of=AS_OF)
    reviews = frames["reviews"].copy()
    reviews.loc[0, "rating"] = 9
    with pytest.raises(ValueError, match="rating"):
        customer_features(frames["orders"], reviews=reviews, as_of=AS_OF)


def test_lexicon_sentiment() -> None:
    assert lexicon_sentiment("Great coffee, fast delivery") == 1.0
    assert lexicon_sentiment("arrived broken, terrible") == -1.0
    assert math.isnan(lexicon_sentiment("it is a mug"))
    assert math.isnan(lexicon_sentiment(None))


@pytest.mark.slow
def test_online_retail_customers(online_retail: pd.DataFrame) -> None:
    """Real data: every one of the 4,372 customer ids gets a row and net spend adds up."""
    df = online_retail[online_retail["CustomerID"].notna()]
    amount = df["Quantity"] * df["UnitPrice"]
    orders = (
        df.assign(amount=amount)
        .groupby("InvoiceNo")
        .agg(customer_id=("CustomerID", "first"), placed_at=("InvoiceDate", "min"), total=("amount", "sum"))
        .reset_index()
        .rename(columns={"InvoiceNo": "order_id"})
    )
    orders["status"] = "paid"  # cancellations ("C...") have negative totals: refunds
    f = customer_features(orders, as_of="2011-12-10")
    assert len(f) == 4372
    assert f["monetary"].sum() == pytest.approx(amount.sum(), rel=1e-9)
    assert (f["frequency"] >= 0).all() and f["frequency"].max() > 100
    assert np.nanmax(f["recency_days"]) < 375
