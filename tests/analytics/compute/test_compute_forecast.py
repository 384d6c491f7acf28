from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from analytics.compute.forecast import SEASONAL_NAIVE, forecast_series, prepare_series, split_periods


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


# --- the period in progress ---------------------------------------------------------------------


def _daily_orders_until(end: str, seed: int = 2, level_sd: float = 0.1) -> pd.Series:
    """Daily revenue from a Wednesday to ``end`` (a shop whose weekly level wanders, so the
    models lean on the latest weeks), summed per day as the pipeline does."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2023-01-04", end, freq="D")
    weekly = np.array([120, 100, 110, 105, 130, 90, 60.0])
    level = np.exp(np.cumsum(rng.normal(0, level_sd, len(idx) // 7 + 2)))[(np.arange(len(idx)) + 2) // 7]
    return pd.Series(weekly[idx.dayofweek] * level * rng.gamma(30, 1 / 30, len(idx)), index=idx)


def test_split_periods_leaves_out_the_day_in_progress_and_fills_quiet_days() -> None:
    idx = pd.to_datetime(["2024-03-01", "2024-03-02", "2024-03-04"])
    s = pd.Series([10.0, 20.0, 5.0], index=idx)
    periods = split_periods(s, "D", data_start="2024-03-01", data_end="2024-03-05 12:00")
    # 3 March had no order but the data covers it: a real 0; 5 March is only half over
    assert periods.complete.to_dict() == {
        pd.Timestamp("2024-03-01"): 10.0,
        pd.Timestamp("2024-03-02"): 20.0,
        pd.Timestamp("2024-03-03"): 0.0,
        pd.Timestamp("2024-03-04"): 5.0,
    }
    p = periods.in_progress
    assert p is not None and p.period == pd.Timestamp("2024-03-05") and p.so_far == 0.0
    assert p.covered == pytest.approx(0.5)
    assert periods.first_partial is None
    # data that start at 08:00 (an export cut at that moment) do not cover the first day whole
    cut = split_periods(s, "D", data_start="2024-03-01 08:00", data_end="2024-03-05 12:00")
    assert cut.first_partial == pd.Timestamp("2024-03-01") and cut.complete.index[0] == pd.Timestamp("2024-03-02")


def test_split_periods_weeks_partial_at_both_ends() -> None:
    # Wednesday 2024-01-03 to Tuesday 2024-01-30 10:00, one order a day worth 1
    idx = pd.date_range("2024-01-03", "2024-01-30", freq="D")
    s = pd.Series(1.0, index=idx)
    periods = split_periods(s, "W", data_start="2024-01-03", data_end="2024-01-30 10:00")
    # weeks end on Sundays: 7 Jan (Wed-Sun only: partial), 14, 21, 28 complete, 4 Feb in progress
    assert periods.first_partial == pd.Timestamp("2024-01-07")
    assert list(periods.complete.index) == list(pd.to_datetime(["2024-01-14", "2024-01-21", "2024-01-28"]))
    assert periods.complete.tolist() == [7.0, 7.0, 7.0]
    p = periods.in_progress
    assert p.period == pd.Timestamp("2024-02-04") and p.start == pd.Timestamp("2024-01-29")
    assert p.so_far == 2.0 and p.covered == pytest.approx((24 + 10) / (7 * 24))


def test_split_periods_data_ending_on_a_boundary_has_nothing_in_progress() -> None:
    idx = pd.date_range("2024-01-01", "2024-01-28", freq="D")  # Monday to Sunday
    s = pd.Series(1.0, index=idx)
    periods = split_periods(s, "W", data_start="2024-01-01", data_end="2024-01-29 00:00")
    assert periods.in_progress is None and periods.first_partial is None
    assert periods.complete.tolist() == [7.0, 7.0, 7.0, 7.0]
    # values at or after the data end belong to no covered period
    later = pd.concat([s, pd.Series([99.0], index=[pd.Timestamp("2024-01-29 09:00")])])
    assert split_periods(later, "W", data_end="2024-01-29").complete.tolist() == [7.0, 7.0, 7.0, 7.0]


def test_split_periods_reads_an_aware_data_end_on_the_series_clock() -> None:
    idx = pd.date_range("2024-03-01", "2024-03-04", freq="D", tz="Asia/Shanghai")
    s = pd.Series(1.0, index=idx)
    # 2024-03-04 02:00 UTC is 10:00 in Shanghai: the 4th is in progress there
    periods = split_periods(s, "D", data_end=pd.Timestamp("2024-03-04 02:00", tz="UTC"))
    assert periods.in_progress.period == pd.Timestamp("2024-03-04")
    assert periods.in_progress.covered == pytest.approx(10 / 24)


def test_a_partial_last_week_does_not_make_the_forecast_collapse() -> None:
    daily = _daily_orders_until("2024-06-11")  # the data ends on a Tuesday afternoon
    end = pd.Timestamp("2024-06-11 15:00")
    # what the analysis did before: the Monday and Tuesday of the last week taken as a whole week
    as_whole = forecast_series(daily, horizon=12, freq="W", quick=True)
    res = forecast_series(daily, horizon=12, freq="W", quick=True, data_start=daily.index[0], data_end=end)
    recent = res.history.iloc[-4:].mean()
    assert as_whole.forecast["mean"].iloc[0] / recent < 0.6  # the fall the issue saw
    assert 0.8 < res.forecast["mean"].iloc[0] / recent < 1.25
    # neither partial week is in the history the models learnt from and were backtested on
    assert res.history.index[-1] == pd.Timestamp("2024-06-09")
    assert res.history.index[0] == pd.Timestamp("2023-01-15") and res.first_partial == pd.Timestamp("2023-01-08")
    # the week in progress: its actual so far (Monday + Tuesday) and a forecast for all of it
    p = res.in_progress
    assert p.period == pd.Timestamp("2024-06-16")
    assert p.so_far == pytest.approx(daily.loc["2024-06-10":"2024-06-11"].sum())
    assert p.forecast["lo95"] <= p.forecast["mean"] <= p.forecast["hi95"]
    assert p.forecast["mean"] > p.so_far
    # the horizon counts whole weeks after it
    assert len(res.forecast) == 12 and res.forecast.index[0] == pd.Timestamp("2024-06-23")


def test_the_period_in_progress_is_not_backtested() -> None:
    daily = _daily_orders_until("2024-06-11")
    end = pd.Timestamp("2024-06-11 15:00")
    res = forecast_series(daily, horizon=8, freq="W", quick=True, data_start=daily.index[0], data_end=end)
    # the same backtest as on the complete weeks alone, given as a series of whole weeks
    complete = forecast_series(res.history, horizon=9, freq="W", quick=True)  # same backtest windows (8)
    pd.testing.assert_frame_equal(res.backtest, complete.backtest)
    # and the whole-week forecast of the week in progress is the complete weeks' first step
    assert res.in_progress.forecast["mean"] == pytest.approx(complete.forecast["mean"].iloc[0])
    assert res.forecast["mean"].to_numpy() == pytest.approx(complete.forecast["mean"].iloc[1:].to_numpy())


def test_the_whole_period_is_never_forecast_below_what_it_already_brought() -> None:
    daily = _daily_orders_until("2024-06-11")
    daily.loc["2024-06-11"] = 50_000.0  # one huge order on the last (partial) day
    res = forecast_series(daily, horizon=7, freq="D", data_start=daily.index[0], data_end="2024-06-11 15:00")
    assert res.in_progress.so_far == 50_000.0
    assert res.in_progress.forecast["mean"] == 50_000.0 and res.in_progress.forecast["lo95"] == 50_000.0
    assert 50_000.0 not in res.history.to_numpy()  # nor did the models learn from it


def test_a_year_of_complete_weeks_is_still_backtested_on_shorter_windows() -> None:
    # Online Retail: 54 weekly labels, 52 complete weeks once both partial ones are left out
    idx = pd.date_range("2010-12-05", periods=52, freq="W-SUN")
    series = pd.Series(1000 + 10 * np.sin(np.arange(52)), index=idx)
    res = forecast_series(series, horizon=12, freq="W")
    assert len(res.history) == 52 and len(res.forecast) == 12
    with pytest.raises(ValueError, match="periods"):
        forecast_series(series.iloc[:41], horizon=12, freq="W")


@pytest.mark.slow
def test_online_retail_weekly_forecast_leaves_out_both_partial_weeks(online_retail: pd.DataFrame) -> None:
    # the file starts on Wednesday 2010-12-01 and ends on Friday 2011-12-09 at 12:50
    revenue = online_retail["Quantity"] * online_retail["UnitPrice"]
    daily = revenue.groupby(online_retail["InvoiceDate"].dt.normalize()).sum()
    start, end = online_retail["InvoiceDate"].min(), online_retail["InvoiceDate"].max()
    assert end == pd.Timestamp("2011-12-09 12:50")
    res = forecast_series(daily, horizon=12, freq="W", data_start=start.floor("D"), data_end=end)
    assert res.first_partial == pd.Timestamp("2010-12-05")
    assert res.history.index[0] == pd.Timestamp("2010-12-12") and res.history.index[-1] == pd.Timestamp("2011-12-04")
    assert len(res.history) == 52
    p = res.in_progress
    assert p.period == pd.Timestamp("2011-12-11")
    assert p.so_far == pytest.approx(daily.loc["2011-12-05":].sum())
    # Monday to Friday 12:50 of a Monday-Sunday week
    assert p.covered == pytest.approx((4 * 24 + 12 + 50 / 60) / (7 * 24))
    recent = res.history.iloc[-4:].mean()
    assert 0.6 < res.forecast["mean"].iloc[0] / recent < 1.5
