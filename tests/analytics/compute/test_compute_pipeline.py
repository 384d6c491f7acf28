"""The whole pipeline (no database) on Online Retail: deterministic clusters, a forecast better than naive.

The forecast model itself is checked on the same series in test_compute_forecast.py
(test_online_retail_daily_revenue_beats_seasonal_naive); here the series is the one the
pipeline builds from orders, as an analysis run does.
"""

from __future__ import annotations

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
