"""Revenue forecasting with a model chosen by rolling-origin backtest.

Candidates (statsmodels): ETS with additive error and seasonality, with and
without an additive damped trend (``ETSModel``), and two seasonal ARIMA models
(``SARIMAX``). Each is scored by a rolling-origin backtest against the
seasonal-naive forecast; the model with the lowest mean MASE wins (seasonal
naive itself is a candidate, so the winner is never worse than it on the
backtest). The winner is refitted on the whole series for the forecast.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

FREQS = {"D": 7, "W": 52}
SEASONAL_NAIVE = "seasonal_naive"


@dataclass(frozen=True, eq=False)
class ForecastResult:
    """Outcome of :func:`forecast_series`.

    ``forecast``: DataFrame indexed by future period with ``mean``, ``lo80``,
    ``hi80``, ``lo95``, ``hi95``. ``backtest``: one row per candidate with mean
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
    rule = "D" if freq == "D" else "W-SUN"
    return s.resample(rule).sum().astype(float)


def forecast_series(
    series: pd.Series,
    horizon: int,
    freq: str = "D",
    folds: int = 3,
    backtest_horizon: int | None = None,
    quick: bool = False,
) -> ForecastResult:
    """Forecast ``horizon`` periods ahead with the best backtested model.

    Parameters
    ----------
    series
        Values (e.g. revenue) on a DatetimeIndex; it is summed onto a regular
        ``freq`` grid with missing periods as 0 (see :func:`prepare_series`).
    horizon
        Periods to forecast (>= 1).
    freq
        ``'D'`` (daily, weekly seasonality of 7) or ``'W'`` (weekly; yearly
        seasonality of 52 only with at least three years of data, else none).
    folds
        Rolling-origin backtest folds. Fold ``k`` trains on everything before
        its origin and tests the next ``backtest_horizon`` periods; the test
        windows are the last ``folds * backtest_horizon`` periods, back to back.
    backtest_horizon
        Defaults to ``min(horizon, season length * 2)`` for daily data (14) and
        ``min(horizon, 8)`` for weekly.
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
    s = prepare_series(series, freq)
    m: int | None = FREQS[freq]
    if freq == "W" and len(s) < 3 * 52:
        m = None
    season = m or 1
    bh = backtest_horizon or (min(horizon, 2 * season) if freq == "D" else min(horizon, 8))
    min_train = max(3 * season, 30)
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fc = models[best](y, horizon)
        except (ValueError, np.linalg.LinAlgError):
            best = SEASONAL_NAIVE
            fc = models[best](y, horizon)
    if (y >= 0).all():  # a quantity that cannot go negative
        fc = fc.clip(lower=0.0)
    start = s.index[-1] + s.index.freq
    fc.index = pd.date_range(start, periods=horizon, freq=s.index.freq, name="period")
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
    )
