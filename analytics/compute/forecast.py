"""Revenue forecasting with a model chosen by rolling-origin backtest.

Candidates (statsmodels): ETS with additive error and seasonality, with and
without an additive damped trend (``ETSModel``), and two seasonal ARIMA models
(``SARIMAX``). Each is scored by a rolling-origin backtest against the
seasonal-naive forecast; the model with the lowest mean MASE wins (seasonal
naive itself is a candidate, so the winner is never worse than it on the
backtest). The winner is refitted on the whole series for the forecast.

Only complete periods are learnt from. The data ends at some moment (``data_end``:
just after the last order, or "now" for a run as of now), usually part-way through a day and a
week: that period *in progress* holds only the orders so far, and a model (or the
seasonal-naive "repeat the last week") fed with it as if it were a whole period
forecasts a collapse (a segment's weekly revenue fell by 75-98% on the demo shop
when the data ended on a Tuesday). So the period in progress is left out of the
training series and of the backtests, and so is a first period the data covers only
in part (data starting on a Wednesday: its first week). What the owner sees:

- the history: complete periods only;
- the period in progress, marked as such: its actual *so far* beside the forecast for
  the *whole* period ("this week so far 1,200, about 5,400 expected for the week");
  the forecast starts with it (:attr:`ForecastResult.in_progress`);
- then ``horizon`` whole periods after it (:attr:`ForecastResult.forecast`), so "the
  next 4 weeks" are four whole weeks, compared with the last four complete weeks.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

FREQS = {"D": 7, "W": 52}
RULES = {"D": "D", "W": "W-SUN"}
SEASONAL_NAIVE = "seasonal_naive"
INTERVAL_COLUMNS = ("mean", "lo80", "hi80", "lo95", "hi95")


@dataclass(frozen=True)
class PeriodInProgress:
    """The period the data ends in, covered only in part: not learnt from, forecast whole.

    ``period`` is its label on the grid (the day; for a week, its Sunday), ``start`` /
    ``end`` its bounds (end exclusive), ``data_end`` where the data stops inside it,
    ``covered`` the share of the period before ``data_end`` (0 < covered < 1), ``so_far``
    its actual value up to ``data_end`` and ``forecast`` the forecast for the whole period
    (``mean``, ``lo80``, ``hi80``, ``lo95``, ``hi95``; empty until forecast).
    """

    period: pd.Timestamp
    start: pd.Timestamp
    end: pd.Timestamp
    data_end: pd.Timestamp
    covered: float
    so_far: float
    forecast: dict[str, float]


@dataclass(frozen=True, eq=False)
class SeriesPeriods:
    """:func:`split_periods`: the complete periods, and the partial ones left out of them.

    ``complete`` is a regular grid of whole periods (missing ones 0); ``first_partial`` the
    label of a first period the data starts inside of (dropped), else None;
    ``in_progress`` the last period when the data ends inside it, else None.
    """

    complete: pd.Series
    first_partial: pd.Timestamp | None
    in_progress: PeriodInProgress | None


@dataclass(frozen=True, eq=False)
class ForecastResult:
    """Outcome of :func:`forecast_series`.

    ``forecast``: DataFrame indexed by future period with ``mean``, ``lo80``,
    ``hi80``, ``lo95``, ``hi95``: ``horizon`` whole periods after the last one with data
    (after the period in progress, when there is one). ``in_progress``: the period the data
    ends inside of, with its actual so far and its whole-period forecast (None when the data
    ends on a period boundary). ``history``: the complete periods the models learnt from
    (and were backtested on); ``first_partial``: a partial first period left out of it.
    ``backtest``: one row per candidate with mean
    ``mae``, ``mape`` (percent, over non-zero actuals), ``smape`` (percent,
    0..200) and ``mase`` (MAE / in-sample seasonal-naive MAE) across folds,
    sorted best first. ``mae``, ``mape``, ``smape``, ``mase`` repeat the
    chosen model's scores; the ``naive_*`` fields the seasonal-naive ones.
    """

    model: str
    freq: str
    season_length: int
    horizon: int
    forecast: pd.DataFrame
    backtest: pd.DataFrame
    folds: int
    mae: float
    mape: float
    smape: float
    mase: float
    naive_mae: float
    naive_mase: float
    naive_smape: float
    history: pd.Series
    in_progress: PeriodInProgress | None = None
    first_partial: pd.Timestamp | None = None


# A forecaster takes the training values and the horizon and returns
# (mean, sd-scaled interval bounds) as a DataFrame with mean/lo80/hi80/lo95/hi95.
Forecaster = Callable[[np.ndarray, int], pd.DataFrame]


def _seasonal_naive(m: int) -> Forecaster:
    def run(y: np.ndarray, h: int) -> pd.DataFrame:
        lag = m if len(y) > m else 1
        base = y[-lag:]
        mean = np.array([base[i % lag] for i in range(h)])
        resid = y[lag:] - y[:-lag]
        sd = float(np.std(resid, ddof=1)) if resid.size > 1 else 0.0
        k = np.floor(np.arange(h) / lag) + 1
        return _frame(mean, sd * np.sqrt(k), None)

    return run


def _frame(mean: np.ndarray, sd: np.ndarray | None, bounds: dict[str, np.ndarray] | None) -> pd.DataFrame:
    out = pd.DataFrame({"mean": np.asarray(mean, dtype=float)})
    for level in (80, 95):
        if bounds is not None:
            lo, hi = bounds[f"lo{level}"], bounds[f"hi{level}"]
        else:
            z = stats.norm.ppf(0.5 + level / 200)
            lo, hi = out["mean"] - z * sd, out["mean"] + z * sd
        out[f"lo{level}"] = np.asarray(lo, dtype=float)
        out[f"hi{level}"] = np.asarray(hi, dtype=float)
    return out


def _ets(m: int | None, damped: bool) -> Forecaster:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    def run(y: np.ndarray, h: int) -> pd.DataFrame:
        model = ETSModel(
            pd.Series(y),  # statsmodels' ETS prediction needs an index
            error="add",
            trend="add" if damped else None,
            damped_trend=damped,
            seasonal="add" if m else None,
            seasonal_periods=m,
            initialization_method="heuristic" if m and len(y) >= 2 * m + 10 else "estimated",
        )
        fit = model.fit(disp=False, maxiter=200)
        pred = fit.get_prediction(start=len(y), end=len(y) + h - 1)
        bounds = {}
        for level in (80, 95):
            sf = pred.summary_frame(alpha=1 - level / 100)
            bounds[f"lo{level}"] = sf["pi_lower"].to_numpy()
            bounds[f"hi{level}"] = sf["pi_upper"].to_numpy()
        return _frame(np.asarray(pred.predicted_mean), None, bounds)

    return run


def _sarima(order: tuple[int, int, int], seasonal: tuple[int, int, int], m: int | None) -> Forecaster:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    # The backtest fits the same model on ever longer prefixes of one series: each fit starts
    # from the previous fit's parameters (the optimum barely moves), which saves most of the
    # optimiser's iterations; SARIMA is by far the slowest candidate.
    previous: list[np.ndarray] = []

    def run(y: np.ndarray, h: int) -> pd.DataFrame:
        model = SARIMAX(
            y,
            order=order,
            seasonal_order=(*seasonal, m) if m else (0, 0, 0, 0),
            trend="c" if order[1] == 0 and seasonal[1] == 0 else None,
            enforce_stationarity=False,
            enforce_invertibility=False,
            # the variance is solved from the filter, not searched for: one parameter fewer
            # for the numerical gradient, the same fit, about twice as fast
            concentrate_scale=True,
        )
        start = previous[-1] if previous and np.isfinite(previous[-1]).all() else None
        fit = model.fit(start_params=start, disp=False, maxiter=200)
        previous.append(np.asarray(fit.params))
        fc = fit.get_forecast(h)
        bounds = {}
        for level in (80, 95):
            ci = np.asarray(fc.conf_int(alpha=1 - level / 100))
            bounds[f"lo{level}"], bounds[f"hi{level}"] = ci[:, 0], ci[:, 1]
        return _frame(fc.predicted_mean, None, bounds)

    return run


def _closed_positions(y: np.ndarray, m: int, cycles: int = 8) -> np.ndarray:
    """Seasonal positions (0..m-1, counted from the start of ``y``) that were
    exactly 0 in each of the last ``cycles`` cycles: e.g. a shop closed on Saturdays."""
    if m <= 1 or len(y) < cycles * m:
        return np.zeros(m, dtype=bool)
    tail = y[len(y) - cycles * m :]
    offset = (len(y) - cycles * m) % m
    closed = np.ones(m, dtype=bool)
    for i, value in enumerate(tail):
        if value != 0:
            closed[(offset + i) % m] = False
    return closed


def _respect_closed(run: Forecaster, m: int) -> Forecaster:
    """Wrap a forecaster so that always-closed periods are forecast as exactly 0."""

    def wrapped(y: np.ndarray, h: int) -> pd.DataFrame:
        out = run(y, h)
        closed = _closed_positions(y, m)
        if closed.any():
            future = (len(y) + np.arange(h)) % m
            out.loc[closed[future], :] = 0.0
        return out

    return wrapped


def _candidates(m: int | None, quick: bool = False) -> dict[str, Forecaster]:
    """The models to backtest; ``quick`` leaves out the (S)ARIMA ones, the slow half."""
    out: dict[str, Forecaster] = {}
    if m:
        out["ets_additive_seasonal"] = _ets(m, damped=False)
        out["ets_damped_trend_seasonal"] = _ets(m, damped=True)
        if not quick:
            out[f"sarima_(1,0,1)(0,1,1)[{m}]"] = _sarima((1, 0, 1), (0, 1, 1), m)
            out[f"sarima_(0,1,1)(0,1,1)[{m}]"] = _sarima((0, 1, 1), (0, 1, 1), m)
    else:
        out["ets_simple"] = _ets(None, damped=False)
        out["ets_damped_trend"] = _ets(None, damped=True)
        if not quick:
            out["arima_(1,1,1)"] = _sarima((1, 1, 1), (0, 0, 0), None)
    return out


def _scores(actual: np.ndarray, pred: np.ndarray, train: np.ndarray, m: int) -> dict[str, float]:
    err = np.abs(actual - pred)
    mae = float(err.mean())
    nz = actual != 0
    mape = float(np.mean(err[nz] / np.abs(actual[nz])) * 100) if nz.any() else float("nan")
    denom = np.abs(actual) + np.abs(pred)
    smape = float(np.mean(np.where(denom > 0, 2 * err / np.where(denom > 0, denom, 1), 0.0)) * 100)
    lag = m if len(train) > m else 1
    scale = float(np.mean(np.abs(train[lag:] - train[:-lag])))
    mase = mae / scale if scale > 0 else float("nan")
    return {"mae": mae, "mape": mape, "smape": smape, "mase": mase}


def prepare_series(series: pd.Series, freq: str) -> pd.Series:
    """Regularise ``series`` onto a complete ``freq`` grid.

    Values are summed per period (``'D'`` = calendar day, ``'W'`` = week ending
    Sunday); periods with no value (a shop closed on Saturdays) become 0.
    Raises ``ValueError`` for a non-datetime index, an unknown ``freq`` or
    non-numeric values.
    """
    if freq not in FREQS:
        raise ValueError(f"freq must be 'D' or 'W', got {freq!r}")
    if not isinstance(series, pd.Series):
        raise ValueError("series must be a pandas Series")
    if not isinstance(series.index, pd.DatetimeIndex):
        raise ValueError("series must have a DatetimeIndex")
    values = pd.to_numeric(series, errors="coerce")
    if values.isna().any() and series.notna().all():
        raise ValueError("series must hold numbers")
    idx = series.index
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    s = pd.Series(values.to_numpy(dtype=float), index=idx).fillna(0.0)
    return s.resample(RULES[freq]).sum().astype(float)


def period_bounds(label: pd.Timestamp, freq: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Start and (exclusive) end of the period labelled ``label`` on a :func:`prepare_series` grid:
    the day itself, or the Monday to Sunday week that ``label`` (its Sunday) ends."""
    label = pd.Timestamp(label)
    if freq == "D":
        return label, label + pd.Timedelta(days=1)
    return label - pd.Timedelta(days=6), label + pd.Timedelta(days=1)


def _period_label(moment: pd.Timestamp, freq: str) -> pd.Timestamp:
    day = moment.floor("D")
    return day if freq == "D" else day + pd.Timedelta(days=6 - day.dayofweek)


def _on_clock(moment, tz) -> pd.Timestamp | None:
    """``moment`` as a naive timestamp on the series' clock (``prepare_series`` keeps the wall
    time of an aware index): aware moments are converted to ``tz`` (UTC for a naive series)."""
    if moment is None:
        return None
    ts = pd.Timestamp(moment)
    if ts.tzinfo is not None:
        ts = ts.tz_convert(tz or "UTC").tz_localize(None)
    return ts


def split_periods(series: pd.Series, freq: str, data_start=None, data_end=None) -> SeriesPeriods:
    """The complete ``freq`` periods of ``series`` and the partial ones at either end.

    ``data_end`` is the moment the data stops (just after the last order, or now): values at or
    after it are ignored, the grid runs up to the period containing it (periods without a value are 0),
    and that period is *in progress* unless ``data_end`` falls exactly on its end (a data set
    that ends at midnight on a Sunday has no week in progress). ``data_start`` is the moment
    the data begins: the series' first period is partial, and dropped, when ``data_start`` falls
    after its start (orders from a Wednesday on: that first week lacks its Monday and
    Tuesday). A series whose first value comes later (a segment that began buying later) starts
    on a whole period. Either left as None: that end is taken as whole (the series as given).
    """
    tz = series.index.tz if isinstance(series.index, pd.DatetimeIndex) else None
    start, end = _on_clock(data_start, tz), _on_clock(data_end, tz)
    raw = series
    if end is not None and isinstance(series.index, pd.DatetimeIndex) and len(series):
        clock = series.index.tz_localize(None) if tz is not None else series.index
        raw = series[np.asarray(clock < end)]
    s = prepare_series(raw, freq)
    step = pd.tseries.frequencies.to_offset(RULES[freq])
    in_progress = None
    if end is not None and len(s):
        last = _period_label(end - pd.Timedelta(1, "ns"), freq)
        s = s.reindex(pd.date_range(s.index[0], last, freq=step), fill_value=0.0)
        p_start, p_end = period_bounds(last, freq)
        if end < p_end:
            in_progress = PeriodInProgress(
                period=last,
                start=p_start,
                end=p_end,
                data_end=end,
                covered=float((end - p_start) / (p_end - p_start)),
                so_far=float(s.iloc[-1]),
                forecast={},
            )
            s = s.iloc[:-1]
    first_partial = None
    if start is not None and len(s) and start > period_bounds(s.index[0], freq)[0]:
        first_partial = s.index[0]
        s = s.iloc[1:]
    s.index = pd.DatetimeIndex(s.index, freq=step)
    return SeriesPeriods(s, first_partial, in_progress)


def forecast_series(
    series: pd.Series,
    horizon: int,
    freq: str = "D",
    folds: int = 3,
    backtest_horizon: int | None = None,
    quick: bool = False,
    data_start=None,
    data_end=None,
) -> ForecastResult:
    """Forecast ``horizon`` periods ahead with the best backtested model.

    Parameters
    ----------
    series
        Values (e.g. revenue) on a DatetimeIndex; it is summed onto a regular
        ``freq`` grid with missing periods as 0 (see :func:`prepare_series`).
    horizon
        Whole periods to forecast (>= 1) after the period in progress, if any.
    data_start, data_end
        Where the data begins and ends (see :func:`split_periods`): a partial first period
        and the period in progress are left out of training and backtests; the period in
        progress is forecast whole and returned as ``in_progress``. None: the series'
        first and last periods are taken as whole.
    freq
        ``'D'`` (daily, weekly seasonality of 7) or ``'W'`` (weekly; yearly
        seasonality of 52 only with at least three years of data, else none).
    folds
        Rolling-origin backtest folds. Fold ``k`` trains on everything before
        its origin and tests the next ``backtest_horizon`` periods; the test
        windows are the last ``folds * backtest_horizon`` periods, back to back.
    backtest_horizon
        Defaults to ``min(horizon, season length * 2)`` for daily data (14) and
        ``min(horizon, 8)`` for weekly, shortened (down to 7 days or 4 weeks) when the
        history is too short for ``folds`` windows of that length.
    quick
        Backtest the ETS models (and seasonal naive) only, not the (S)ARIMA ones: for
        many small series (one per segment) where the slow models rarely pay.

    Returns
    -------
    :class:`ForecastResult`.

    Raises
    ------
    ValueError
        Bad arguments, or fewer than ``max(3 * season, 30)`` periods of history
        plus the backtest windows.
    """
    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError("horizon must be a positive integer")
    if folds < 1:
        raise ValueError("folds must be at least 1")
    periods = split_periods(series, freq, data_start=data_start, data_end=data_end)
    s = periods.complete
    m: int | None = FREQS[freq]
    if freq == "W" and len(s) < 3 * 52:
        m = None
    season = m or 1
    min_train = max(3 * season, 30)
    bh = backtest_horizon
    if bh is None:
        bh = min(horizon, 2 * season) if freq == "D" else min(horizon, 8)
        # A year of weekly data less its two partial weeks (Online Retail: 52 complete weeks) is
        # still backtested, on shorter windows, down to a week of days or four weeks.
        shortest = min(bh, 7 if freq == "D" else 4)
        bh = max(shortest, min(bh, (len(s) - min_train) // folds))
    if len(s) < min_train + folds * bh:
        raise ValueError(
            f"series has {len(s)} periods; need at least {min_train + folds * bh} "
            f"({min_train} to train plus {folds} backtest folds of {bh})"
        )
    y = s.to_numpy()
    models: dict[str, Forecaster] = {SEASONAL_NAIVE: _seasonal_naive(season), **_candidates(m, quick)}
    if m:
        models = {name: _respect_closed(run, m) for name, run in models.items()}

    rows = []
    for name, run in models.items():
        fold_scores = []
        for k in range(folds, 0, -1):
            origin = len(y) - k * bh
            train, test = y[:origin], y[origin : origin + bh]
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pred = run(train, bh)["mean"].to_numpy()
            except (ValueError, np.linalg.LinAlgError):
                pred = np.full(bh, np.nan)
            if not np.isfinite(pred).all():
                fold_scores = []
                break
            fold_scores.append(_scores(test, pred, train, season))
        if fold_scores:
            mean_scores = {key: float(np.mean([f[key] for f in fold_scores])) for key in fold_scores[0]}
            rows.append({"model": name, **mean_scores})
    table = pd.DataFrame(rows)
    table["_order"] = range(len(table))
    table = table.sort_values(["mase", "_order"]).drop(columns="_order").reset_index(drop=True)
    naive = table.set_index("model").loc[SEASONAL_NAIVE]

    best = str(table.loc[0, "model"])
    # the period in progress is the first one after the training series: forecast it too
    steps = horizon + (1 if periods.in_progress is not None else 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fc = models[best](y, steps)
        except (ValueError, np.linalg.LinAlgError):
            best = SEASONAL_NAIVE
            fc = models[best](y, steps)
    non_negative = bool((y >= 0).all())  # a quantity that cannot go negative
    if non_negative:
        fc = fc.clip(lower=0.0)
    fc.index = pd.date_range(s.index[-1] + s.index.freq, periods=steps, freq=s.index.freq, name="period")
    in_progress = periods.in_progress
    if in_progress is not None:
        whole = fc.iloc[0]
        if non_negative and in_progress.so_far > 0:
            # the whole period cannot end below what it has already brought
            whole = whole.clip(lower=in_progress.so_far)
        in_progress = replace(in_progress, forecast={k: float(whole[k]) for k in INTERVAL_COLUMNS})
        fc = fc.iloc[1:]
    chosen = table.set_index("model").loc[best]
    return ForecastResult(
        model=best,
        freq=freq,
        season_length=season,
        horizon=int(horizon),
        forecast=fc,
        backtest=table,
        folds=folds,
        mae=float(chosen["mae"]),
        mape=float(chosen["mape"]),
        smape=float(chosen["smape"]),
        mase=float(chosen["mase"]),
        naive_mae=float(naive["mae"]),
        naive_mase=float(naive["mase"]),
        naive_smape=float(naive["smape"]),
        history=s,
        in_progress=in_progress,
        first_partial=periods.first_partial,
    )
