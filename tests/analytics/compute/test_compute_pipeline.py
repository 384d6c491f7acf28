"""The whole pipeline (no database) on Online Retail: deterministic clusters, a forecast better than naive.

The forecast model itself is checked on the same series in test_compute_forecast.py
(test_online_retail_daily_revenue_beats_seasonal_naive); here the series is the one the
pipeline builds from orders, as an analysis run does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.compute.pipeline import PipelineParams, run_pipeline, summarise


def _frames(online_retail: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Online Retail as the standard frames: one order per invoice (credit notes are refunds)."""
    raw = online_retail
    lines = pd.DataFrame(
        {
            "order_id": raw["InvoiceNo"],
            "customer_id": raw["CustomerID"].astype("Int64"),
            "placed_at": raw["InvoiceDate"],
            "product_id": raw["StockCode"],
            "sku": raw["StockCode"],
            "title": raw["Description"].fillna(""),
            "category": "",
            "brand": "",
            "quantity": raw["Quantity"],
            "unit_price": raw["UnitPrice"],
            "status": "paid",
        }
    )
    orders = (
        lines.assign(amount=lines["quantity"] * lines["unit_price"])
        .groupby("order_id", sort=False)
        .agg(customer_id=("customer_id", "first"), placed_at=("placed_at", "min"), total=("amount", "sum"))
        .reset_index()
    )
    orders["status"] = "paid"  # a "C..." invoice has a negative total: a refund document
    first = orders.dropna(subset=["customer_id"]).groupby("customer_id")["placed_at"].min()
    customers = pd.DataFrame(
        {
            "customer_id": first.index,
            "birth_date": pd.NaT,
            "gender": "",
            "occupation": "",
            "city": "",
            "country": "",
            "created_at": first.to_numpy(),
        }
    )
    events = pd.DataFrame(columns=["customer_id", "kind", "at", "duration_seconds"])
    reviews = pd.DataFrame(columns=["customer_id", "product_id", "rating", "text"])
    return {"orders": orders, "lines": lines, "customers": customers, "events": events, "reviews": reviews}


@pytest.mark.slow
def test_online_retail_pipeline_is_deterministic_and_forecasts_better_than_naive(online_retail: pd.DataFrame) -> None:
    frames = _frames(online_retail)

    first = run_pipeline(**frames, params=PipelineParams(only=("clusters", "forecast"), segment_forecasts=False))
    second = run_pipeline(**frames, params=PipelineParams(only=("clusters",)))

    pd.testing.assert_series_equal(first.clusters.labels, second.clusters.labels)
    assert first.clusters.descriptions == second.clusters.descriptions
    assert first.clusters.outliers == second.clusters.outliers
    assert 2 <= first.clusters.k <= 10 and len(first.clusters.labels) == 4324  # customers with a purchase
    # (4,338 placed a paid invoice; the only invoices of 14 of them were cancelled by C invoices)
    revenue = next(f.result for f in first.forecasts if f.metric == "revenue" and f.freq == "D")
    assert revenue.model != "seasonal_naive"
    assert revenue.mase < revenue.naive_mase and revenue.smape < revenue.naive_smape
    summary = summarise(first)
    assert summary["forecast"]["backtest_error"]["mase"] < summary["forecast"]["seasonal_naive_error"]["mase"]


def _midnight_frames(first: str, last: str) -> dict[str, pd.DataFrame]:
    """One paid order a day, every one placed at exactly 00:00 UTC; the total varies by weekday."""
    days = pd.date_range(first, last, freq="D", tz="UTC")
    totals = 100.0 + 10.0 * days.dayofweek.to_numpy() + np.arange(len(days)) % 5
    orders = pd.DataFrame(
        {
            "order_id": np.arange(1, len(days) + 1),
            "customer_id": 1 + np.arange(len(days)) % 40,
            "placed_at": days,
            "total": totals,
            "status": "paid",
        }
    )
    lines = orders[["order_id", "customer_id", "placed_at", "status"]].assign(
        product_id=1, sku="P1", title="P1", category="", brand="", quantity=1, unit_price=totals
    )
    first_order = orders.groupby("customer_id")["placed_at"].min()
    customers = pd.DataFrame(
        {
            "customer_id": first_order.index,
            "birth_date": pd.NaT,
            "gender": "",
            "occupation": "",
            "city": "",
            "country": "",
            "created_at": first_order.to_numpy(),
        }
    )
    events = pd.DataFrame(columns=["customer_id", "kind", "at", "duration_seconds"])
    reviews = pd.DataFrame(columns=["customer_id", "product_id", "rating", "text"])
    return {"orders": orders, "lines": lines, "customers": customers, "events": events, "reviews": reviews}


def test_a_last_order_at_midnight_keeps_its_day_in_progress() -> None:
    # Monday 2 January 2023 to Wednesday 6 March 2024, each order at 00:00 UTC: the data ends
    # (exclusive) just after the last order, so 6 March is the day in progress, not lost
    frames = _midnight_frames("2023-01-02", "2024-03-06")
    orders = frames["orders"].set_index(frames["orders"]["placed_at"].dt.tz_localize(None))["total"]
    result = run_pipeline(
        **frames,
        params=PipelineParams(only=("forecast",), forecast_horizon_days=7, forecast_horizon_weeks=4),
    )
    by_label = {f.label: f for f in result.forecasts}
    assert set(by_label) == {"shop:revenue:D", "shop:orders:D", "shop:revenue:W", "shop:orders:W"}
    summary = summarise(result)
    assert summary["forecast"]["series"] == [f.label for f in result.forecasts]
    assert list(summary["forecast"]["periods"]) == summary["forecast"]["series"]

    daily = by_label["shop:revenue:D"].result
    assert daily.history.index[-1] == pd.Timestamp("2024-03-05")  # the day before the last order
    assert daily.history.iloc[-1] == orders.loc["2024-03-05"].sum()
    day = daily.in_progress
    assert day is not None and day.period == pd.Timestamp("2024-03-06")
    assert day.so_far == orders.loc["2024-03-06"].sum() == 100.0 + 10.0 * 2 + (len(orders) - 1) % 5
    assert daily.forecast.index[0] == pd.Timestamp("2024-03-07")
    assert by_label["shop:orders:D"].result.in_progress.so_far == 1.0
    periods = summary["forecast"]["periods"]["shop:revenue:D"]
    assert periods["trained_through"] == "2024-03-05"
    assert periods["in_progress"]["period"] == "2024-03-06"
    assert periods["in_progress"]["so_far"] == pytest.approx(day.so_far)
    assert periods["in_progress"]["data_end"] == "2024-03-06T00:00:00.000001+00:00"

    # the week of Monday 4 March: Monday to Wednesday so far, the last order's day included
    weekly = by_label["shop:revenue:W"].result
    assert weekly.history.index[-1] == pd.Timestamp("2024-03-03")
    week = weekly.in_progress
    assert week.period == pd.Timestamp("2024-03-10") and week.start == pd.Timestamp("2024-03-04")
    assert week.so_far == orders.loc["2024-03-04":"2024-03-06"].sum()
    assert by_label["shop:orders:W"].result.in_progress.so_far == 3.0
    weekly_periods = summary["forecast"]["periods"]["shop:revenue:W"]
    assert weekly_periods["trained_through"] == "2024-03-03"
    assert weekly_periods["in_progress"]["so_far"] == pytest.approx(week.so_far)
