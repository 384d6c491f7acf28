from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from analytics.compute.forecast import SEASONAL_NAIVE, forecast_series, prepare_series


def _synthetic_daily(days: int = 200, seed: int = 3) -> pd.Series:
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2024-01-01", periods=days, freq="D")
    weekly = np.array([100, 120, 130, 125, 140, 0, 60], dtype=float)  # closed on Saturdays
    trend = np.linspace(0, 40, days)
    values = weekly[idx.dayofweek] + np.where(idx.dayofweek == 5, 0, trend + rng.normal(0, 8, days))
    return pd.Series(values, index=idx)


def test_synthetic_daily_forecast() -> None:
    series = _synthetic_daily()
    res = forecast_series(series, horizon=21, freq="D")
    fc = res.forecast
    assert list(fc.columns) == ["mean", "lo80", "hi80", "lo95", "hi95"]
    assert len(fc) == 21 and fc.index[0] == series.index[-1] + pd.Timedelta(days=1)
    assert (fc["lo95"] <= fc["lo80"]).all() and (fc["lo80"] <= fc["mean"]).all()
    assert (fc["mean"] <= fc["hi80"]).all() and (fc["hi80"] <= fc["hi95"]).all()
    # Saturdays were always zero: the forecast keeps them at zero
    assert (fc.loc[fc.index.dayofweek == 5, "mean"] == 0).all()
    assert (fc.loc[fc.index.dayofweek == 4, "mean"] > 100).all()
    # a clean seasonal pattern with trend: a model beats seasonal naive
    assert res.model != SEASONAL_NAIVE
    assert res.mase < res.naive_mase
    assert set(res.backtest["model"]) >= {SEASONAL_NAIVE, "ets_additive_seasonal"}
    again = forecast_series(series, horizon=21, freq="D")
    pd.testing.assert_frame_equal(res.forecast, again.forecast)
    assert again.model == res.model


def test_weekly_without_enough_history_drops_seasonality() -> None:
    rng = np.random.default_rng(0)
    idx = pd.date_range("2023-01-01", periods=80, freq="W-SUN")
    series = pd.Series(1000 + np.cumsum(rng.normal(5, 20, 80)), index=idx)
    res = forecast_series(series, horizon=6, freq="W")
    assert res.season_length == 1 and len(res.forecast) == 6
    assert res.forecast.index.freqstr.startswith("W")


def test_prepare_series_fills_missing_days_with_zero() -> None:
    idx = pd.to_datetime(["2024-01-01 10:00", "2024-01-01 15:00", "2024-01-04 09:00"])
    s = prepare_series(pd.Series([1.0, 2.0, 5.0], index=idx), "D")
    assert s.tolist() == [3.0, 0.0, 0.0, 5.0]


def test_refuses_bad_input() -> None:
    series = _synthetic_daily(60)
    with pytest.raises(ValueError, match="freq"):
        forecast_series(series, 7, freq="M")
    with pytest.raises(ValueError, match="horizon"):
        forecast_series(series, 0)
    with pytest.raises(ValueError, match="DatetimeIndex"):
        forecast_series(pd.Series([1.0, 2.0]), 7)
    with pytest.raises(ValueError, match="periods"):
        forecast_series(series.iloc[:40], 7)


@pytest.mark.slow
def test_online_retail_daily_revenue_beats_seasonal_naive(online_retail_daily_revenue: pd.Series) -> None:
    series = online_retail_daily_revenue
    assert len(series) == 305  # trading days 2010-12-01..2011-12-09 (no Saturdays)
    started = time.perf_counter()
    res = forecast_series(series, horizon=28, freq="D")
    elapsed = time.perf_counter() - started
    assert elapsed < 15  # a few seconds on the 2-core machine
    assert res.model != SEASONAL_NAIVE
    assert res.mase < res.naive_mase
    assert res.mae < res.naive_mae
    assert res.smape < res.naive_smape
    # shop closed on Saturdays: forecast 0 there
    assert (res.forecast.loc[res.forecast.index.dayofweek == 5, "mean"] == 0).all()
    assert (res.forecast.loc[res.forecast.index.dayofweek < 5, "mean"] > 0).all()
