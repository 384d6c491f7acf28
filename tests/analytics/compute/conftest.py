"""Fixtures for the analytics.compute tests: real public data from ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def shared_file(name: str) -> Path:
    """Path of a shared data file; skips the test when it is absent."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (the shared real-data folder sits beside the checkout)")
    return path


@pytest.fixture(scope="session")
def online_retail() -> pd.DataFrame:
    """UCI Online Retail invoice lines (541,909 rows), read once per session."""
    path = shared_file("online_retail.csv.xz")
    return pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str}, parse_dates=["InvoiceDate"])


@pytest.fixture(scope="session")
def online_retail_daily_revenue(online_retail: pd.DataFrame) -> pd.Series:
    """Daily revenue (Quantity * UnitPrice, cancellations included)."""
    revenue = online_retail["Quantity"] * online_retail["UnitPrice"]
    return revenue.groupby(online_retail["InvoiceDate"].dt.normalize()).sum()


@pytest.fixture(scope="session")
def groceries_baskets() -> pd.DataFrame:
    """Groceries (arules) as a long (basket_id, item) frame: 9,835 baskets, 169 items."""
    path = shared_file("groceries.csv")
    wide = pd.read_csv(path)
    items = wide.drop(columns=wide.columns[0])
    long = items.reset_index().melt(id_vars="index", value_name="item").dropna(subset=["item"])
    long = long[long["item"].astype(str) != "nan"]
    return long.rename(columns={"index": "basket_id"})[["basket_id", "item"]].reset_index(drop=True)


@pytest.fixture(scope="session")
def cdnow_sample() -> pd.DataFrame:
    """CDNOW 1/10 sample: one row per purchase record (6,919 rows, 2,357 customers)."""
    path = shared_file("cdnow_sample.txt")
    df = pd.read_csv(
        path,
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "cds", "value"],
        dtype={"date": str},
    )
    df["date"] = pd.to_datetime(df["date"], format="%Y%m%d")
    return df
