"""analytics.compute.money: ADR 0007 read order by order, and credit notes set against earlier sales."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.compute.money import order_amounts

COLUMNS = ["order_id", "customer_id", "placed_at", "total", "status"]


def _orders(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["placed_at"] = pd.to_datetime(frame["placed_at"])
    return frame


def test_each_kind_of_order_moves_what_the_adr_says():
    orders = _orders(
        [
            ("sale", "c", "2024-01-01", 30.0, "paid"),
            ("partly", "c", "2024-01-02", 20.0, "paid"),
            ("whole", "c", "2024-01-03", 25.0, "returned"),
            ("gone", "c", "2024-01-04", 7.5, "cancelled"),
            ("later", "c", "2024-01-05", 9.0, "pending"),
        ]
    )
    lines = pd.DataFrame(
        [("partly", 2, 10.0), ("partly", -1, 10.0), ("sale", 3, 10.0)], columns=["order_id", "quantity", "unit_price"]
    )
    a = order_amounts(orders, lines).set_index(orders["order_id"])
    assert a.loc["sale"].tolist() == [30.0, 0.0, 30.0, 30.0, True]
    assert a.loc["partly"].tolist() == [20.0, 10.0, 10.0, 10.0, True]
    assert a.loc["whole"].tolist() == [25.0, 25.0, 0.0, 0.0, False]
    for order_id in ("gone", "later"):
        assert a.loc[order_id].tolist() == [0.0, 0.0, 0.0, 0.0, False]


def test_a_credit_note_cancels_the_latest_earlier_sale_first():
    """Online Retail's customer 16446: a 168,469.60 invoice cancelled by a C invoice 12 minutes later."""
    orders = _orders(
        [
            ("553573", 16446, "2011-05-18 09:52", 2.90, "paid"),
            ("581483", 16446, "2011-12-09 09:15", 168469.60, "paid"),
            ("C581484", 16446, "2011-12-09 09:27", -168469.60, "returned"),
        ]
    )
    a = order_amounts(orders).set_index(orders["order_id"])
    assert a.loc["581483", "kept"] == 0 and not a.loc["581483", "purchase"]  # cancelled: no purchase day
    assert a.loc["553573", "kept"] == 2.90 and a.loc["553573", "purchase"]
    assert a["net"].sum() == pytest.approx(2.90) == a["kept"].sum()


def test_a_credit_note_larger_than_the_latest_sale_reaches_back_and_never_forward():
    orders = _orders(
        [
            ("a", "c", "2024-01-01", 50.0, "paid"),
            ("b", "c", "2024-02-01", 20.0, "paid"),
            ("r", "c", "2024-02-10", -30.0, "returned"),
            ("d", "c", "2024-03-01", 40.0, "paid"),  # after the credit note: untouched
            ("g", None, "2024-01-15", 10.0, "paid"),  # a guest's sale: no credit note of theirs
            ("x", "other", "2024-01-01", -5.0, "returned"),  # returns with nothing bought before
        ]
    )
    a = order_amounts(orders).set_index(orders["order_id"])
    assert a["kept"].to_dict() == {"a": 40.0, "b": 0.0, "r": 0.0, "d": 40.0, "g": 10.0, "x": 0.0}
    assert a["purchase"].to_dict() == {"a": True, "b": False, "r": False, "d": True, "g": True, "x": False}
    assert a.loc["x", "net"] == -5.0  # still off that customer's net spend


def test_without_customers_and_dates_nothing_is_set_against_anything():
    orders = pd.DataFrame([("a", 50.0, "paid"), ("r", -30.0, "returned")], columns=["order_id", "total", "status"])
    a = order_amounts(orders)
    assert a["kept"].tolist() == [50.0, 0.0] and a["purchase"].tolist() == [True, False]


def _forward_lifo(orders: pd.DataFrame) -> dict:
    """ADR 0007 read literally: each credit note, in time order, takes the latest earlier sales first."""
    kept = {}
    for _customer, group in (
        orders.assign(credit=orders["total"] < 0).sort_values(["placed_at", "credit"]).groupby("customer_id")
    ):
        stack = []
        for order_id, total in zip(group["order_id"], group["total"], strict=True):
            if total > 0:
                kept[order_id] = round(total * 100)
                stack.append(order_id)
                continue
            back = round(-total * 100)
            while back and stack:
                take = min(back, kept[stack[-1]])
                kept[stack[-1]] -= take
                back -= take
                if not kept[stack[-1]]:
                    stack.pop()
    return {k: v / 100 for k, v in kept.items()}


def test_credit_notes_set_against_sales_agree_with_a_step_by_step_reading_on_random_shops():
    rng = np.random.default_rng(5)
    for _ in range(20):
        n = 300
        is_credit = rng.random(n) < 0.25
        orders = pd.DataFrame(
            {
                "order_id": np.arange(n),
                "customer_id": rng.integers(0, 12, n),
                # whole days: many orders of a customer share a moment (sale before credit note then)
                "placed_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 60, n), unit="D"),
                "total": np.where(is_credit, -1, 1) * np.round(rng.uniform(1, 80, n), 2),
                "status": np.where(is_credit, "returned", "paid"),
            }
        )
        a = order_amounts(orders).set_index(orders["order_id"])
        expected = _forward_lifo(orders)
        sales = orders.loc[~is_credit, "order_id"]
        assert a.loc[sales, "kept"].to_dict() == pytest.approx({k: expected[k] for k in sales})
