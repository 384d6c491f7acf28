"""Customer lifetime value: BG/NBD purchase model and Gamma-Gamma spend model.

The models are fitted by maximum likelihood with :mod:`scipy.optimize`; the
likelihoods and predictions follow

- Fader, Hardie & Lee (2005), "Counting your customers the easy way: an
  alternative to the Pareto/NBD model", Marketing Science 24(2) (BG/NBD);
- Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer
  base analysis", J. Marketing Research 42(4), and Hardie's note "The
  Gamma-Gamma model of monetary value" (2013) (Gamma-Gamma).

On the CDNOW sample (2,357 customers, 39-week calibration, time unit weeks,
recency and T measured in days / 7) this code gives the published estimates:
r=0.243, alpha=4.414, a=0.793, b=2.426 and p=6.25, q=3.74, v=15.44.

Time is measured in the unit chosen in :func:`summary_from_transactions`
(``freq='D'`` -> days, ``freq='W'`` -> weeks = days / 7, not rounded). Every
result states its unit. Purchases on the same calendar day are one purchase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from ._util import require_columns, timestamp_utc_naive, to_utc_naive

DAYS_PER_MONTH = 365.25 / 12
_UNITS = {"D": ("days", 1.0), "W": ("weeks", 7.0)}


# ---------------------------------------------------------------------------
# RFM summary
# ---------------------------------------------------------------------------
def summary_from_transactions(
    transactions: pd.DataFrame,
    customer_id_col: str,
    datetime_col: str,
    monetary_col: str | None,
    calibration_end: Any,
    observation_end: Any | None = None,
    freq: str = "D",
) -> pd.DataFrame:
    """Per-customer (frequency, recency, T, monetary) summary for BG/NBD and Gamma-Gamma.

    Parameters
    ----------
    transactions
        One row per purchase (or order line). Rows on the same calendar day for a
        customer are combined into one purchase (values summed). Rows with a null
        customer id are dropped.
    customer_id_col, datetime_col, monetary_col
        Column names; ``monetary_col`` may be None (no monetary summary).
    calibration_end
        Last day (inclusive) of the calibration period; ``T`` is measured up to it.
        Customers whose first purchase is after it are left out.
    observation_end
        If given and later than ``calibration_end``, holdout columns are added for
        the period (calibration_end, observation_end].
    freq
        ``'D'`` (time unit days) or ``'W'`` (time unit weeks = days / 7).

    Returns
    -------
    DataFrame indexed by customer id with

    - ``frequency``: number of repeat purchase days in calibration (x)
    - ``recency``: time from first to last purchase in calibration (t_x)
    - ``T``: time from first purchase to ``calibration_end``
    - ``monetary_value``: mean value of the repeat purchases in calibration
      (0 when there are none), as used by the Gamma-Gamma model
    - with a holdout: ``frequency_holdout``, ``monetary_value_holdout``,
      ``duration_holdout``

    ``result.attrs`` holds ``time_unit`` and ``calibration_end``.
    """
    if freq not in _UNITS:
        raise ValueError(f"freq must be 'D' or 'W', got {freq!r}")
    cols = [customer_id_col, datetime_col] + ([monetary_col] if monetary_col else [])
    require_columns(transactions, cols, "transactions")
    unit_name, days_per_unit = _UNITS[freq]
    cal_end = timestamp_utc_naive(calibration_end, "calibration_end").normalize()
    obs_end = (
        timestamp_utc_naive(observation_end, "observation_end").normalize() if observation_end is not None else cal_end
    )
    if obs_end < cal_end:
        raise ValueError("observation_end must not be before calibration_end")

    tx = pd.DataFrame(
        {
            "customer_id": transactions[customer_id_col],
            "day": to_utc_naive(transactions[datetime_col], datetime_col).dt.normalize(),
            "value": (
                pd.to_numeric(transactions[monetary_col], errors="coerce").astype(float) if monetary_col else 0.0
            ),
        }
    )
    tx = tx[tx["customer_id"].notna() & tx["day"].notna() & (tx["day"] <= obs_end)]
    daily = tx.groupby(["customer_id", "day"], sort=True)["value"].sum().reset_index()
    first = daily.groupby("customer_id")["day"].transform("min")
    daily = daily[first <= cal_end]
    first = first[first <= cal_end]
    if daily.empty:
        raise ValueError("transactions has no customer with a purchase on or before calibration_end")

    cal = daily[daily["day"] <= cal_end]
    g = cal.groupby("customer_id")
    first_day = g["day"].min()
    out = pd.DataFrame(index=first_day.index)
    out["frequency"] = (g.size() - 1).astype(float)
    out["recency"] = (g["day"].max() - first_day).dt.days / days_per_unit
    out["T"] = (cal_end - first_day).dt.days / days_per_unit
    if monetary_col:
        repeat = cal[cal["day"] > cal["customer_id"].map(first_day)]
        out["monetary_value"] = repeat.groupby("customer_id")["value"].mean().reindex(out.index).fillna(0.0)
    if obs_end > cal_end:
        hold = daily[daily["day"] > cal_end].groupby("customer_id")
        out["frequency_holdout"] = hold.size().reindex(out.index).fillna(0).astype(float)
        if monetary_col:
            out["monetary_value_holdout"] = hold["value"].mean().reindex(out.index).fillna(0.0)
        out["duration_holdout"] = (obs_end - cal_end).days / days_per_unit
    out.index.name = "customer_id"
    out.attrs["time_unit"] = unit_name
    out.attrs["calibration_end"] = cal_end
    return out


# ---------------------------------------------------------------------------
# BG/NBD
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class BGNBDParams:
    """Fitted BG/NBD parameters (``alpha`` is in the stated time unit)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    converged: bool
    time_unit: str


class _BGNBDData:
    """The likelihood's data, reduced once for many evaluations.

    Identical customers share one term (weights), and every function of x alone (the
    gamma functions) or of T or t_x alone (the logs) is computed once per distinct value and
    gathered: a big shop has tens of thousands of distinct (x, t_x, T) rows but only
    hundreds of distinct x, T and t_x values.
    """

    def __init__(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray):
        keys, counts = np.unique(np.column_stack([x, tx, T]), axis=0, return_counts=True)
        self.w = counts.astype(float)
        self.n = float(self.w.sum())
        self.x_values, self.x_at = np.unique(keys[:, 0], return_inverse=True)
        self.t_values, self.t_at = np.unique(keys[:, 2], return_inverse=True)
        self.tx_values, self.tx_at = np.unique(keys[:, 1], return_inverse=True)
        self.x = keys[:, 0]
        self.repeat = self.x > 0

    def mean_ll(self, params: np.ndarray, gradient: bool = False) -> Any:
        """Mean log-likelihood per customer at (r, alpha, a, b); with ``gradient``, also its
        derivatives by the four parameters (Fader, Hardie & Lee 2005, eq. 6 differentiated)."""
        r, alpha, a, b = params
        ux = self.x_values
        per_x = (
            special.gammaln(r + ux)
            - special.gammaln(r)
            + r * np.log(alpha)
            + special.gammaln(a + b)
            + special.gammaln(b + ux)
            - special.gammaln(b)
            - special.gammaln(a + b + ux)
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            per_x_a4 = np.log(a) - np.log(np.maximum(b + ux - 1, 1e-300))
        rx = r + self.x
        log_t = np.log(alpha + self.t_values)[self.t_at]
        log_tx = np.log(alpha + self.tx_values)[self.tx_at]
        a3 = -rx * log_t
        a4 = np.where(self.repeat, per_x_a4[self.x_at] - rx * log_tx, -np.inf)
        both = np.logaddexp(a3, a4)
        value = float((self.w * (per_x[self.x_at] + both)).sum() / self.n)
        if not gradient:
            return value
        # share of each of the two terms inside the log-sum (w4 = 0 without a repeat purchase)
        w3 = np.exp(a3 - both)
        w4 = np.where(self.repeat, np.exp(a4 - both), 0.0)
        psi_ab = special.digamma(a + b)
        d_r = special.digamma(r + ux)[self.x_at] - special.digamma(r) + np.log(alpha) - w3 * log_t - w4 * log_tx
        d_alpha = r / alpha - rx * (w3 / (alpha + self.t_values)[self.t_at] + w4 / (alpha + self.tx_values)[self.tx_at])
        d_a = psi_ab - special.digamma(a + b + ux)[self.x_at] + w4 / a
        with np.errstate(divide="ignore", invalid="ignore"):
            inv_b = np.where(self.repeat, w4 / np.maximum(b + self.x - 1, 1e-300), 0.0)
        d_b = (psi_ab + special.digamma(b + ux) - special.digamma(b) - special.digamma(a + b + ux))[self.x_at] - inv_b
        grad = np.array([(self.w * d).sum() for d in (d_r, d_alpha, d_a, d_b)]) / self.n
        return value, grad


def _check_rft(frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(frequency, dtype=float)
    tx = np.asarray(recency, dtype=float)
    t_ = np.asarray(T, dtype=float)
    if not (x.shape == tx.shape == t_.shape):
        raise ValueError("frequency, recency and T must have the same length")
    if x.size == 0:
        raise ValueError("no customers to fit")
    if not (np.isfinite(x).all() and np.isfinite(tx).all() and np.isfinite(t_).all()):
        raise ValueError("frequency, recency and T must be finite")
    if (x < 0).any() or (tx < 0).any() or (tx > t_ + 1e-9).any():
        raise ValueError("need frequency >= 0 and 0 <= recency <= T")
    if ((x == 0) & (tx > 0)).any():
        raise ValueError("recency must be 0 when frequency is 0")
    return x, tx, t_


def _minimise(nll: Any, x0: np.ndarray, nll_and_grad: Any = None) -> optimize.OptimizeResult:
    """Minimise a mean negative log-likelihood over log-parameters.

    With the analytic gradient, BFGS alone (a few dozen evaluations); without it, or when
    that does not converge, Nelder-Mead and then a BFGS polish on numerical gradients. The
    objective is a mean (per customer), so the tolerances mean the same for 100 customers as
    for 100,000: on a sum, an absolute tolerance below the float resolution of a large total
    can never be met and the search runs to its evaluation limit.
    """
    if nll_and_grad is not None:
        res = optimize.minimize(nll_and_grad, x0, jac=True, method="BFGS", options={"gtol": 1e-8, "maxiter": 2000})
        # "precision loss" at a zero gradient is an optimum that floats cannot refine further
        converged = res.success or bool(np.max(np.abs(res.jac)) < 1e-6)
        if converged and np.isfinite(res.fun):
            res.success = True
            return res
    res = optimize.minimize(
        nll, x0, method="Nelder-Mead", options={"xatol": 1e-7, "fatol": 1e-12, "maxiter": 20000, "maxfev": 40000}
    )
    polish = optimize.minimize(nll, res.x, method="BFGS", options={"gtol": 1e-9, "maxiter": 2000})
    if np.isfinite(polish.fun) and polish.fun <= res.fun:
        polish.success = bool(res.success or polish.success)
        return polish
    return res


def fit_bgnbd(frequency: Any, recency: Any, T: Any, time_unit: str = "weeks") -> BGNBDParams:
    """Maximum-likelihood BG/NBD fit.

    ``frequency`` = repeat purchases x, ``recency`` = t_x, ``T`` = age, all in
    ``time_unit``. Raises ``ValueError`` on inconsistent input. The result's
    ``converged`` is False when the optimiser did not converge or a parameter
    is not finite.
    """
    x, tx, t_ = _check_rft(frequency, recency, T)
    data = _BGNBDData(x, tx, t_)

    def nll(logp: np.ndarray) -> float:
        p = np.exp(logp)
        if not np.all(np.isfinite(p)):
            return np.inf
        val = -data.mean_ll(p)
        return float(val) if np.isfinite(val) else np.inf

    def nll_and_grad(logp: np.ndarray) -> tuple[float, np.ndarray]:
        p = np.exp(logp)
        if not np.all(np.isfinite(p)):
            return np.inf, np.zeros_like(logp)
        with np.errstate(all="ignore"):
            val, grad = data.mean_ll(p, gradient=True)
        if not (np.isfinite(val) and np.isfinite(grad).all()):
            return np.inf, np.zeros_like(logp)
        return -val, -grad * p  # d/d(log p) = p * d/dp

    x0 = np.log([1.0, max(float(np.mean(t_)), 1e-3), 1.0, 1.0])
    res = _minimise(nll, x0, nll_and_grad)
    p = np.exp(res.x)
    ok = bool(res.success and np.all(np.isfinite(p)) and np.all(p < 1e6) and np.isfinite(res.fun))
    return BGNBDParams(
        r=float(p[0]),
        alpha=float(p[1]),
        a=float(p[2]),
        b=float(p[3]),
        log_likelihood=float(-res.fun * data.n),
        converged=ok,
        time_unit=time_unit,
    )


def p_alive(params: BGNBDParams, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """Probability each customer is still active at the end of their T."""
    x, tx, t_ = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = (
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (np.log(alpha + t_) - np.log(alpha + tx))
        )
    return np.where(x > 0, 1.0 / (1.0 + np.exp(log_ratio)), 1.0)


def expected_purchases(params: BGNBDParams, t: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """E[purchases in (T, T + t]] given (x, t_x, T); ``t`` in the model's unit."""
    x, tx, t_ = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if t <= 0:
        return np.zeros_like(x)
    if abs(a - 1) < 1e-9:  # the closed form divides by a - 1
        a = 1 + 1e-9
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + t_ + t))
    first = (a + b + x - 1) / (a - 1) * (1 - ((alpha + t_) / (alpha + t_ + t)) ** (r + x) * hyp)
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = np.where(x > 0, a / (b + x - 1) * ((alpha + t_) / (alpha + tx)) ** (r + x), 0.0)
    return first / (1 + odds)


def expected_purchases_new_customer(params: BGNBDParams, t: float) -> float:
    """E[X(t)]: expected purchases of a new customer in their first ``t`` time units."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if abs(a - 1) < 1e-9:
        a = 1 + 1e-9
    hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
    return float((a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp))


# ---------------------------------------------------------------------------
# Gamma-Gamma
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma spend parameters; ``fitted_on`` = customers used."""

    p: float
    q: float
    v: float
    log_likelihood: float
    converged: bool
    fitted_on: int
    frequency_monetary_corr: float


def fit_gamma_gamma(frequency: Any, monetary_value: Any) -> GammaGammaParams:
    """Maximum-likelihood Gamma-Gamma fit on customers with x > 0 and positive spend.

    ``monetary_value`` is each customer's mean spend per repeat purchase.
    ``frequency_monetary_corr`` (Pearson) should be near 0 for the model's
    independence assumption to hold.
    """
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary_value, dtype=float)
    if x.shape != m.shape:
        raise ValueError("frequency and monetary_value must have the same length")
    keep = (x > 0) & (m > 0) & np.isfinite(m)
    x, m = x[keep], m[keep]
    if x.size < 2:
        raise ValueError("need at least two repeat customers with positive spend")

    # per customer: terms of x alone are gathered from the distinct x values; log m, x log x are constants
    ux, x_at = np.unique(x, return_inverse=True)
    log_m, x_log_x, n = np.log(m), x * np.log(x), float(x.size)

    def terms(logp: np.ndarray, gradient: bool) -> Any:
        p, q, v = np.exp(logp)
        px = p * x
        log_xmv = np.log(x * m + v)
        ll = (
            (special.gammaln(p * ux + q) - special.gammaln(p * ux))[x_at]
            - special.gammaln(q)
            + q * np.log(v)
            + (px - 1) * log_m
            + p * x_log_x
            - (px + q) * log_xmv
        )
        value = -ll.sum() / n
        if not gradient:
            return value
        psi_pxq = special.digamma(p * ux + q)[x_at]
        d_p = x * (psi_pxq - special.digamma(p * ux)[x_at] + log_m + np.log(x) - log_xmv)
        d_q = psi_pxq - special.digamma(q) + np.log(v) - log_xmv
        d_v = q / v - (px + q) / (x * m + v)
        grad = -np.array([d_p.sum(), d_q.sum(), d_v.sum()]) / n * np.array([p, q, v])
        return value, grad

    def nll(logp: np.ndarray) -> float:
        val = terms(logp, gradient=False)
        return float(val) if np.isfinite(val) else np.inf

    def nll_and_grad(logp: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(all="ignore"):
            val, grad = terms(logp, gradient=True)
        if not (np.isfinite(val) and np.isfinite(grad).all()):
            return np.inf, np.zeros_like(logp)
        return float(val), grad

    res = _minimise(nll, np.log([1.0, 1.0, max(float(np.mean(m)), 1e-3)]), nll_and_grad)
    p, q, v = np.exp(res.x)
    corr = float(np.corrcoef(x, m)[0, 1]) if np.std(x) > 0 and np.std(m) > 0 else float("nan")
    ok = bool(res.success) and bool(np.all(np.isfinite([p, q, v]))) and bool(max(p, q, v) < 1e8)
    return GammaGammaParams(
        p=float(p),
        q=float(q),
        v=float(v),
        log_likelihood=float(-res.fun * n),
        converged=ok,
        fitted_on=int(x.size),
        frequency_monetary_corr=corr,
    )


def expected_average_value(params: GammaGammaParams, frequency: Any, monetary_value: Any) -> np.ndarray:
    """E[spend per purchase | x, m]; customers with x = 0 get the population mean p*v/(q-1)."""
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary_value, dtype=float)
    p, q, v = params.p, params.q, params.v
    if q <= 1:
        return np.full_like(x, np.nan)
    cond = (p * (v + x * m)) / (p * x + q - 1)
    return np.where(x > 0, cond, p * v / (q - 1))


# ---------------------------------------------------------------------------
# CLV
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class CLVResult:
    """Outcome of :func:`clv_analysis`.

    When ``ok`` is False, ``reason`` says why and the caller should fall back to
    RFM; ``customers`` is then None. ``time_unit`` is the unit of the model's
    time parameters (``alpha``, recency, T); the per-customer predictions name
    their own unit in the column name.
    """

    ok: bool
    reason: str
    time_unit: str
    bgnbd: BGNBDParams | None = None
    gamma_gamma: GammaGammaParams | None = None
    customers: pd.DataFrame | None = None
    repeat_customers: int = 0
    months: int = 12
    monthly_discount_rate: float = 0.01


def clv_analysis(
    summary: pd.DataFrame,
    time_unit: str | None = None,
    as_of: Any = None,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
    min_repeat_customers: int = 20,
) -> CLVResult:
    """Fit BG/NBD and Gamma-Gamma and predict per-customer value.

    Parameters
    ----------
    summary
        Output of :func:`summary_from_transactions` (``frequency``, ``recency``,
        ``T``, ``monetary_value``).
    time_unit
        ``'days'`` or ``'weeks'``; defaults to ``summary.attrs['time_unit']``.
    as_of
        Date the summary's T runs to (default ``summary.attrs['calibration_end']``);
        used for the next-order date.
    months, monthly_discount_rate
        CLV horizon in months (of 365.25/12 days) and discount rate per month.
    min_repeat_customers
        Below this many customers with a repeat purchase, no model is fitted.

    Returns
    -------
    :class:`CLVResult`. ``customers`` is indexed like ``summary`` with
    ``p_alive``, ``expected_purchases_30d``, ``_90d``, ``_365d``,
    ``next_order_in_days`` (median wait to the next purchase if the customer is
    still active: ``(alpha + T) * (2 ** (1 / (r + x)) - 1)``, in days),
    ``next_order_date``, ``expected_average_value`` and ``clv`` (discounted
    expected spend over the next ``months`` months).

    As in the BG/NBD model itself, a customer with no repeat purchase has
    ``p_alive`` = 1 (the model lets customers drop out only after a purchase);
    their expected purchases are still low because of the population's rates.
    """
    require_columns(summary, ("frequency", "recency", "T", "monetary_value"), "summary")
    unit = time_unit or summary.attrs.get("time_unit")
    if unit not in ("days", "weeks"):
        raise ValueError("time_unit must be 'days' or 'weeks' (or set in summary.attrs)")
    if months < 1:
        raise ValueError("months must be at least 1")
    if monthly_discount_rate < 0:
        raise ValueError("monthly_discount_rate must not be negative")
    days_per_unit = 1.0 if unit == "days" else 7.0
    x, tx, t_ = _check_rft(summary["frequency"], summary["recency"], summary["T"])
    repeaters = int((x > 0).sum())
    base = {"time_unit": unit, "repeat_customers": repeaters, "months": months}
    base["monthly_discount_rate"] = monthly_discount_rate
    if repeaters < min_repeat_customers:
        return CLVResult(
            ok=False,
            reason=f"only {repeaters} customers with a repeat purchase; need {min_repeat_customers}",
            **base,
        )
    bg = fit_bgnbd(x, tx, t_, time_unit=unit)
    if not bg.converged:
        return CLVResult(ok=False, reason="BG/NBD fit did not converge", bgnbd=bg, **base)
    try:
        gg = fit_gamma_gamma(x, summary["monetary_value"])
    except ValueError as exc:
        return CLVResult(ok=False, reason=f"Gamma-Gamma: {exc}", bgnbd=bg, **base)
    if not gg.converged or gg.q <= 1:
        return CLVResult(
            ok=False, reason="Gamma-Gamma fit did not converge (or q <= 1)", bgnbd=bg, gamma_gamma=gg, **base
        )

    out = pd.DataFrame(index=summary.index)
    out["p_alive"] = p_alive(bg, x, tx, t_)
    for days in (30, 90, 365):
        out[f"expected_purchases_{days}d"] = expected_purchases(bg, days / days_per_unit, x, tx, t_)
    wait_units = (bg.alpha + t_) * (2.0 ** (1.0 / (bg.r + x)) - 1.0)
    out["next_order_in_days"] = wait_units * days_per_unit
    start = as_of if as_of is not None else summary.attrs.get("calibration_end")
    if start is not None:
        start_ts = timestamp_utc_naive(start, "as_of")
        capped = np.minimum(out["next_order_in_days"].to_numpy(), 365.25 * 200)
        out["next_order_date"] = start_ts + pd.to_timedelta(np.round(capped), unit="D")
    else:
        out["next_order_date"] = pd.NaT
    value = expected_average_value(gg, x, summary["monetary_value"])
    out["expected_average_value"] = value
    clv = np.zeros_like(x)
    prev = np.zeros_like(x)
    for i in range(1, months + 1):
        cum = expected_purchases(bg, i * DAYS_PER_MONTH / days_per_unit, x, tx, t_)
        clv += (cum - prev) * value / (1 + monthly_discount_rate) ** i
        prev = cum
    out["clv"] = clv
    numeric = out.drop(columns="next_order_date").to_numpy(dtype=float)
    if not np.isfinite(numeric).all():
        return CLVResult(ok=False, reason="model predictions are not finite", bgnbd=bg, gamma_gamma=gg, **base)
    return CLVResult(ok=True, reason="", bgnbd=bg, gamma_gamma=gg, customers=out, **base)


@dataclass(frozen=True, eq=False)
class HoldoutValidation:
    """Predicted vs actual purchases in the holdout period.

    ``by_frequency`` has one row per calibration repeat count (the last row
    pools ``max_frequency`` and above): customers, actual and predicted mean
    holdout purchases.
    """

    time_unit: str
    duration: float
    customers: int
    actual_total: float
    predicted_total: float
    mae: float
    by_frequency: pd.DataFrame


def holdout_validation(summary: pd.DataFrame, params: BGNBDParams, max_frequency: int = 7) -> HoldoutValidation:
    """Compare BG/NBD conditional expectations with holdout purchases.

    ``summary`` must come from :func:`summary_from_transactions` with an
    ``observation_end`` (so it has ``frequency_holdout`` and ``duration_holdout``),
    and ``params`` fitted on its calibration columns.
    """
    require_columns(summary, ("frequency", "recency", "T", "frequency_holdout", "duration_holdout"), "summary")
    duration = float(summary["duration_holdout"].iloc[0])
    pred = expected_purchases(params, duration, summary["frequency"], summary["recency"], summary["T"])
    actual = summary["frequency_holdout"].to_numpy(dtype=float)
    bucket = np.minimum(summary["frequency"].to_numpy(dtype=int), max_frequency)
    table = (
        pd.DataFrame({"frequency": bucket, "actual": actual, "predicted": pred})
        .groupby("frequency")
        .agg(customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean"))
        .reset_index()
    )
    return HoldoutValidation(
        time_unit=params.time_unit,
        duration=duration,
        customers=len(summary),
        actual_total=float(actual.sum()),
        predicted_total=float(pred.sum()),
        mae=float(np.mean(np.abs(actual - pred))),
        by_frequency=table,
    )
