"""Customer lifetime value: a purchase model (MBG/NBD or BG/NBD) and the Gamma-Gamma spend model.

The models are fitted by maximum likelihood with :mod:`scipy.optimize`; the
likelihoods and predictions follow

- Fader, Hardie & Lee (2005), "Counting your customers the easy way: an
  alternative to the Pareto/NBD model", Marketing Science 24(2) (BG/NBD);
- Batislam, Denizel & Filiztekin (2007), "Empirical validation and comparison of
  models for customer base analysis", IJRM 24(3) (MBG/NBD, as in ``lifetimes``);
- Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer
  base analysis", J. Marketing Research 42(4), and Hardie's note "The
  Gamma-Gamma model of monetary value" (2013) (Gamma-Gamma).

On the CDNOW sample (2,357 customers, 39-week calibration, time unit weeks,
recency and T measured in days / 7) this code gives the published estimates:
BG/NBD r=0.243, alpha=4.414, a=0.793, b=2.426; Gamma-Gamma p=6.25, q=3.74,
v=15.44; MBG/NBD r=0.525, alpha=6.183, a=0.891, b=1.614 (BTYDplus, lifetimes).

Transactions are real purchases only (``money.order_amounts``: paid, not refunded
in full, worth their net); purchases on the same calendar day are one purchase.
Time is measured in the unit chosen in :func:`summary_from_transactions`
(``freq='D'`` -> days, ``freq='W'`` -> weeks = days / 7, not rounded).

The figures an owner sees, all from ONE purchase model, so they cannot contradict:

- chance still active (``p_alive``): the model's probability that the customer has
  not stopped buying, given how often and how recently they bought. MBG/NBD is the
  default because BG/NBD gives every one-time buyer 100% however long ago they bought.
  Rounded to the whole percent shown.
- churn risk: ``1 - p_alive``; its band (:func:`churn_band`) is high from :data:`CHURN_HIGH_FROM`
  (as likely gone as not, or more: exactly when there is no expected next order), medium above
  :data:`CHURN_MEDIUM_ABOVE`, low otherwise.
- expected purchases (``expected_purchases_365d``): purchase days expected in the next
  12 months (365 days), allowing for the chance of having stopped. Rounded to 2 decimals.
- expected next order: the date by which the customer has more likely than not bought
  again, ``P(alive) * P(next purchase within w | active) = 1/2``; none when
  ``p_alive <= 0.5`` or when that date is beyond the 12 months.
- predicted value (``clv``): expected purchases x expected spend per purchase (Gamma-Gamma;
  2 decimals), both as shown, their product rounded to the cent (half up). Not discounted.

Degenerate fits and the fallback. A fitted dropout model is not trusted when the
optimiser did not converge or a parameter lies outside :data:`PARAMETER_BOUNDS` (its
optimum is at the edge of the model: e.g. a -> 0 with b in the tens of thousands, "nobody
ever drops out"), nor when, fitted on the calibration period, its holdout RMSE is not
below both baselines (each customer's own past rate, and predicting no purchase):
:func:`calibration_check`. Then the predictions fall back to the NBD (Ehrenberg): each
customer buys at a steady rate, rates Gamma(r, alpha) across customers, so the expected
purchases in t are ``(r + x) / (alpha + T) * t``, the customer's own rate shrunk towards
the shop's. It has no dropout, so no chance still active and no next order (churn risk
then comes from the RFM group). When Gamma-Gamma cannot be fitted, the spend per purchase
is the customer's own mean purchase value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from ._util import require_columns, timestamp_utc_naive, to_utc_naive

_FREQ_UNITS = {"D": "days", "W": "weeks"}
_DAYS_PER_UNIT = {"days": 1.0, "weeks": 7.0}


def days_per_unit(time_unit: str) -> float:
    """Days in one time unit of the models: ``'days'`` -> 1, ``'weeks'`` -> 7."""
    try:
        return _DAYS_PER_UNIT[time_unit]
    except KeyError:
        raise ValueError(f"time_unit must be 'days' or 'weeks', got {time_unit!r}") from None


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
    - ``mean_value``: mean value of all purchase days in calibration, the first included
    - with a holdout: ``frequency_holdout``, ``monetary_value_holdout``,
      ``duration_holdout``

    ``result.attrs`` holds ``time_unit`` and ``calibration_end``.
    """
    if freq not in _FREQ_UNITS:
        raise ValueError(f"freq must be 'D' or 'W', got {freq!r}")
    cols = [customer_id_col, datetime_col] + ([monetary_col] if monetary_col else [])
    require_columns(transactions, cols, "transactions")
    unit_name = _FREQ_UNITS[freq]
    unit_days = days_per_unit(unit_name)
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
    out["recency"] = (g["day"].max() - first_day).dt.days / unit_days
    out["T"] = (cal_end - first_day).dt.days / unit_days
    if monetary_col:
        repeat = cal[cal["day"] > cal["customer_id"].map(first_day)]
        out["monetary_value"] = repeat.groupby("customer_id")["value"].mean().reindex(out.index).fillna(0.0)
        out["mean_value"] = g["value"].mean()
    if obs_end > cal_end:
        hold = daily[daily["day"] > cal_end].groupby("customer_id")
        out["frequency_holdout"] = hold.size().reindex(out.index).fillna(0).astype(float)
        if monetary_col:
            out["monetary_value_holdout"] = hold["value"].mean().reindex(out.index).fillna(0.0)
        out["duration_holdout"] = (obs_end - cal_end).days / unit_days
    out.index.name = "customer_id"
    out.attrs["time_unit"] = unit_name
    out.attrs["calibration_end"] = cal_end
    return out


# ---------------------------------------------------------------------------
# BG/NBD
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class BGNBDParams:
    """Fitted BG/NBD or MBG/NBD parameters (``alpha`` is in the stated time unit).

    ``model`` is ``'bgnbd'`` (Fader, Hardie & Lee 2005) or ``'mbgnbd'`` (Batislam, Denizel &
    Filiztekin 2007: a customer may also drop out right after the first purchase). ``converged``
    says only that the optimiser stopped at an optimum; :func:`degenerate_reason` says whether
    that optimum can be trusted.
    """

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    converged: bool
    time_unit: str
    model: str = "bgnbd"


@dataclass(frozen=True)
class NBDParams:
    """The fallback purchase model: Ehrenberg's NBD (Gamma-Poisson rates, nobody drops out).

    Each customer buys at a steady rate; rates vary across customers as Gamma(r, alpha). It
    cannot tell who has left, so it gives no chance of being active.
    """

    r: float
    alpha: float
    log_likelihood: float
    converged: bool
    time_unit: str
    model: str = "nbd"


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


def _positive_nll(mean_ll: Any) -> Any:
    """A mean negative log-likelihood over log-parameters (inf where it is not finite)."""

    def nll(logp: np.ndarray) -> float:
        p = np.exp(logp)
        if not np.all(np.isfinite(p)):
            return np.inf
        with np.errstate(all="ignore"):
            val = -mean_ll(p)
        return float(val) if np.isfinite(val) else np.inf

    return nll


def _positive_nll_and_grad(mean_ll: Any) -> Any:
    """The mean negative log-likelihood over log-parameters and its gradient by them, from a
    ``mean_ll(params, gradient=True)`` giving the value and its derivatives by the parameters
    (inf and a zero gradient where either is not finite)."""

    def nll_and_grad(logp: np.ndarray) -> tuple[float, np.ndarray]:
        p = np.exp(logp)
        if not np.all(np.isfinite(p)):
            return np.inf, np.zeros_like(logp)
        with np.errstate(all="ignore"):
            val, grad = mean_ll(p, gradient=True)
        if not (np.isfinite(val) and np.isfinite(grad).all()):
            return np.inf, np.zeros_like(logp)
        return -val, -grad * p  # d/d(log p) = p * d/dp

    return nll_and_grad


def _dropout_params(res: optimize.OptimizeResult, n: float, time_unit: str, model: str) -> BGNBDParams:
    """The fitted (r, alpha, a, b) from the optimiser's log-parameters; the log-likelihood summed over ``n``."""
    p = np.exp(res.x)
    ok = bool(res.success and np.all(np.isfinite(p)) and np.all(p < 1e6) and np.isfinite(res.fun))
    return BGNBDParams(
        r=float(p[0]),
        alpha=float(p[1]),
        a=float(p[2]),
        b=float(p[3]),
        log_likelihood=float(-res.fun * n),
        converged=ok,
        time_unit=time_unit,
        model=model,
    )


def fit_bgnbd(frequency: Any, recency: Any, T: Any, time_unit: str = "weeks") -> BGNBDParams:
    """Maximum-likelihood BG/NBD fit.

    ``frequency`` = repeat purchases x, ``recency`` = t_x, ``T`` = age, all in
    ``time_unit``. Raises ``ValueError`` on inconsistent input. The result's
    ``converged`` is False when the optimiser did not converge or a parameter
    is not finite.
    """
    x, tx, t_ = _check_rft(frequency, recency, T)
    data = _BGNBDData(x, tx, t_)
    x0 = np.log([1.0, max(float(np.mean(t_)), 1e-3), 1.0, 1.0])
    res = _minimise(_positive_nll(data.mean_ll), x0, _positive_nll_and_grad(data.mean_ll))
    return _dropout_params(res, data.n, time_unit, "bgnbd")


def fit_mbgnbd(frequency: Any, recency: Any, T: Any, time_unit: str = "weeks") -> BGNBDParams:
    """Maximum-likelihood MBG/NBD fit (Batislam, Denizel & Filiztekin 2007, as in ``lifetimes``).

    Same inputs and parameters as :func:`fit_bgnbd`; the difference is that a customer may
    drop out right after any purchase, the first one included, so a one-time buyer who has
    not come back for a long time is probably gone (under BG/NBD they are always active).
    """
    x, tx, t_ = _check_rft(frequency, recency, T)
    keys, counts = np.unique(np.column_stack([x, tx, t_]), axis=0, return_counts=True)
    w = counts.astype(float)
    ux, utx, ut = keys[:, 0], keys[:, 1], keys[:, 2]

    # the gamma functions depend on x alone, which takes few distinct values: computed per value
    xs, at_x = np.unique(ux, return_inverse=True)
    total_w = w.sum()

    def mean_ll(params: np.ndarray, gradient: bool = False) -> Any:
        r, alpha, a, b = params
        log_at, log_atx = np.log(alpha + ut), np.log(alpha + utx)
        z = np.log(a) - np.log(b + ux) + (r + ux) * (log_at - log_atx)
        per_x = special.gammaln(r + xs) + special.gammaln(b + xs + 1) - special.gammaln(a + b + xs + 1)
        ll = (
            per_x[at_x]
            - special.gammaln(r)
            + r * np.log(alpha)
            + special.gammaln(a + b)
            - special.gammaln(b)
            - (r + ux) * log_at
            + np.logaddexp(0.0, z)
        )
        value = float((w * ll).sum() / total_w)
        if not gradient:
            return value
        sig = special.expit(z)  # d log(1 + e^z) / dz
        psi_rx, psi_bx1, psi_abx1 = (special.digamma(v + xs)[at_x] for v in (r, b + 1, a + b + 1))
        d_r = psi_rx - special.digamma(r) + np.log(alpha) - log_at + sig * (log_at - log_atx)
        d_alpha = r / alpha - (r + ux) / (alpha + ut) + sig * (r + ux) * (1 / (alpha + ut) - 1 / (alpha + utx))
        d_a = special.digamma(a + b) - psi_abx1 + sig / a
        d_b = special.digamma(a + b) + psi_bx1 - special.digamma(b) - psi_abx1 - sig / (b + ux)
        grad = np.array([(w * d).sum() / total_w for d in (d_r, d_alpha, d_a, d_b)])
        return value, grad

    x0 = np.log([1.0, max(float(np.mean(t_)), 1e-3), 1.0, 1.0])
    res = _minimise(_positive_nll(mean_ll), x0, _positive_nll_and_grad(mean_ll))
    return _dropout_params(res, float(total_w), time_unit, "mbgnbd")


def fit_nbd(frequency: Any, recency: Any, T: Any, time_unit: str = "weeks") -> NBDParams:
    """Maximum-likelihood NBD fit of repeat purchases ``x`` over each customer's ``T``.

    The fallback when the dropout model's fit is degenerate: it has two parameters, a
    likelihood with one optimum, and no dropout to push to a bound.
    """
    x, _tx, t_ = _check_rft(frequency, recency, T)
    keys, counts = np.unique(np.column_stack([x, t_]), axis=0, return_counts=True)
    w = counts.astype(float)
    ux, ut = keys[:, 0], keys[:, 1]
    with np.errstate(divide="ignore"):
        log_t = np.where(ux > 0, np.log(np.maximum(ut, 1e-300)), 0.0)

    def mean_ll(params: np.ndarray) -> float:
        r, alpha = params
        ll = (
            special.gammaln(r + ux)
            - special.gammaln(r)
            - special.gammaln(ux + 1)
            + r * (np.log(alpha) - np.log(alpha + ut))
            + ux * (log_t - np.log(alpha + ut))
        )
        return float((w * ll).sum() / w.sum())

    x0 = np.log([1.0, max(float(np.mean(t_)), 1e-3)])
    res = _minimise(_positive_nll(mean_ll), x0)
    p = np.exp(res.x)
    ok = bool(res.success and np.all(np.isfinite(p)) and np.isfinite(res.fun))
    return NBDParams(
        r=float(p[0]),
        alpha=float(p[1]),
        log_likelihood=float(-res.fun * w.sum()),
        converged=ok,
        time_unit=time_unit,
    )


PURCHASE_MODELS = {"bgnbd": fit_bgnbd, "mbgnbd": fit_mbgnbd}

# A fitted parameter outside these bounds is the optimiser running to a bound of the model,
# not an estimate: e.g. a -> 0 with b in the tens of thousands means "nobody ever drops out"
# (the model has collapsed into the NBD), and its chance-still-active is then meaningless.
# Published fits sit well inside (CDNOW in weeks: r 0.24, alpha 4.4, a 0.79, b 2.4).
PARAMETER_BOUNDS = {"r": (1e-3, 1e3), "alpha": (1e-3, 1e6), "a": (1e-3, 1e3), "b": (1e-3, 1e3)}


def degenerate_reason(params: BGNBDParams) -> str:
    """Why a fitted dropout model cannot be trusted, or ``""`` when it can.

    Degenerate: the optimiser did not converge; a parameter is not finite or lies outside
    :data:`PARAMETER_BOUNDS` (the likelihood's optimum is at the edge of the parameter space).
    The holdout test (no better than a naive rate) is applied by the caller, which has the
    holdout period.
    """
    if not params.converged:
        return "the fit did not converge"
    values = {"r": params.r, "alpha": params.alpha, "a": params.a, "b": params.b}
    for name, value in values.items():
        low, high = PARAMETER_BOUNDS[name]
        if not np.isfinite(value) or not low <= value <= high:
            return f"{name} = {value:.4g} is at a bound of the model (outside {low:g}..{high:g})"
    return ""


def p_alive(params: BGNBDParams | NBDParams, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """P(the customer is still active at the end of their T): BG/NBD eq. 13, MBG/NBD likewise.

    BG/NBD lets customers drop out only after a repeat purchase, so it gives 1 to everyone
    with ``x = 0``; MBG/NBD does not. The NBD has no dropout: NaN (unknown) for everyone.
    """
    x, tx, t_ = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    if params.model == "nbd":
        return np.full_like(x, np.nan)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if params.model == "mbgnbd":
            log_ratio = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + t_) - np.log(alpha + tx))
            return 1.0 / (1.0 + np.exp(log_ratio))
        log_ratio = (
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (np.log(alpha + t_) - np.log(alpha + tx))
        )
        return np.where(x > 0, 1.0 / (1.0 + np.exp(log_ratio)), 1.0)


def expected_purchases(params: BGNBDParams | NBDParams, t: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """E[purchases in (T, T + t]] given (x, t_x, T); ``t`` in the model's unit.

    BG/NBD: Fader, Hardie & Lee (2005) eq. 10; MBG/NBD: Batislam et al. (2007), as in
    ``lifetimes``; NBD: ``(r + x) / (alpha + T) * t``.
    """
    x, tx, t_ = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    if t <= 0:
        return np.zeros_like(x)
    if params.model == "nbd":
        return (params.r + x) / (params.alpha + t_) * t
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if abs(a - 1) < 1e-9:  # the closed form divides by a - 1
        a = 1 + 1e-9
    if params.model == "mbgnbd":
        hyp = special.hyp2f1(r + x, b + x + 1, a + b + x, t / (alpha + t_ + t))
        first = (a + b + x) / (a - 1) * (1 - ((alpha + t_) / (alpha + t_ + t)) ** (r + x) * hyp)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            odds = a / (b + x) * ((alpha + t_) / (alpha + tx)) ** (r + x)
        return first / (1 + odds)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + t_ + t))
    first = (a + b + x - 1) / (a - 1) * (1 - ((alpha + t_) / (alpha + t_ + t)) ** (r + x) * hyp)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        odds = np.where(x > 0, a / (b + x - 1) * ((alpha + t_) / (alpha + tx)) ** (r + x), 0.0)
    return first / (1 + odds)


def next_purchase_wait(params: BGNBDParams | NBDParams, frequency: Any, T: Any, alive: Any) -> np.ndarray:
    """Time (model unit) from the end of T until the customer has more likely than not bought again.

    While active, a customer's wait to the next purchase is Pareto II:
    ``P(no purchase within w | active) = ((alpha + T) / (alpha + T + w)) ** (r + x)``, and an
    active customer buys again sooner or later, so ``P(bought again by w) = P(alive) * (1 - that)``.
    It passes one half at ``w = (alpha + T) * ((1 - 0.5 / P(alive)) ** (-1 / (r + x)) - 1)`` and
    never when ``P(alive) <= 0.5``: then NaN (no expected next order). The NBD cannot tell who
    has stopped (no ``P(alive)``), so it gives no next order at all.
    """
    x, t_ = np.asarray(frequency, dtype=float), np.asarray(T, dtype=float)
    if params.model == "nbd":
        return np.full_like(x, np.nan)
    p = np.asarray(alive, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        share = 1.0 - 0.5 / p
        wait = (params.alpha + t_) * (share ** (-1.0 / (params.r + x)) - 1.0)
    return np.where(p > 0.5, wait, np.nan)


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
HORIZON_DAYS = 365  # "the next 12 months" of every figure
# Churn risk bands on 1 - p_alive: "high" when the customer is at least as likely gone as not (and
# so has no expected next order), "low" only when at least 4 in 5 such customers are still active.
CHURN_HIGH_FROM = 0.5
CHURN_MEDIUM_ABOVE = 0.2
# Below this many customers with a repeat purchase, the purchase model is not fitted.
MIN_REPEAT_CUSTOMERS = 20


def churn_band(p_alive: Any) -> np.ndarray:
    """``'high'`` / ``'medium'`` / ``'low'`` per customer from the churn risk ``1 - p_alive``
    (in whole percent, as shown), ``''`` where there is no ``p_alive`` (NaN: the NBD)."""
    p = np.asarray(p_alive, dtype=float)
    with np.errstate(invalid="ignore"):
        churn = np.round(1.0 - p, 2)  # p_alive is stored in whole percent; so is the churn shown
        return np.select(
            [churn >= CHURN_HIGH_FROM, churn > CHURN_MEDIUM_ABOVE, churn >= 0], ["high", "medium", "low"], ""
        )


@dataclass(frozen=True, eq=False)
class CLVResult:
    """Outcome of :func:`clv_analysis`.

    When ``ok`` is False, ``reason`` says why (no predictions: too few repeat customers, or
    no spend model); ``customers`` is then None. ``model`` is the purchase model the
    predictions come from: the requested dropout model (``'mbgnbd'`` or ``'bgnbd'``), or
    ``'nbd'`` when it fell back; ``fallback`` then says why (``'degenerate_fit'`` or
    ``'holdout_no_better'``) and ``fallback_detail`` how. ``fit`` is the dropout model's fit
    on all the data (kept when degenerate, so the owner can see it), ``nbd`` the fallback's.
    ``spend_model`` is ``'gamma_gamma'`` or ``'own_mean'`` (its fallback).
    """

    ok: bool
    reason: str
    time_unit: str
    model: str = ""
    fit: BGNBDParams | None = None
    nbd: NBDParams | None = None
    fallback: str = ""
    fallback_detail: str = ""
    gamma_gamma: GammaGammaParams | None = None
    spend_model: str = ""
    customers: pd.DataFrame | None = None
    repeat_customers: int = 0


def clv_analysis(
    summary: pd.DataFrame,
    time_unit: str | None = None,
    as_of: Any = None,
    model: str = "mbgnbd",
    min_repeat_customers: int = MIN_REPEAT_CUSTOMERS,
    fallback: str = "",
    fallback_detail: str = "",
) -> CLVResult:
    """Fit the purchase model and the spend model and predict every customer's figures.

    Parameters
    ----------
    summary
        Output of :func:`summary_from_transactions` (``frequency``, ``recency``, ``T``,
        ``monetary_value``; ``mean_value`` for the spend fallback).
    time_unit
        ``'days'`` or ``'weeks'``; defaults to ``summary.attrs['time_unit']``.
    as_of
        Date the summary's T runs to (default ``summary.attrs['calibration_end']``);
        the next-order date counts from it.
    model
        ``'mbgnbd'`` (default) or ``'bgnbd'``. When its fit is degenerate
        (:func:`degenerate_reason`), or ``fallback`` is given by the caller (e.g.
        ``'holdout_no_better'``), the NBD is used instead.
    min_repeat_customers
        Below this many customers with a repeat purchase, nothing is predicted.

    Returns
    -------
    :class:`CLVResult`. ``customers`` is indexed like ``summary`` with the figures of the
    module docstring: ``p_alive`` (NaN under the NBD; its churn band: :func:`churn_band`),
    ``expected_purchases_30d``, ``_90d``, ``_365d`` (the last rounded to 2 decimals: it is a
    factor of ``clv``), ``next_order_in_days`` / ``next_order_date`` (NaN / NaT unless
    :func:`next_purchase_wait` falls within the next 12 months), ``expected_average_value``
    (spend per purchase, rounded to cents) and
    ``clv`` = ``expected_purchases_365d * expected_average_value``, rounded to cents.
    """
    require_columns(summary, ("frequency", "recency", "T", "monetary_value"), "summary")
    unit = time_unit or summary.attrs.get("time_unit")
    if unit not in ("days", "weeks"):
        raise ValueError("time_unit must be 'days' or 'weeks' (or set in summary.attrs)")
    if model not in PURCHASE_MODELS:
        raise ValueError(f"model must be one of {', '.join(PURCHASE_MODELS)}")
    unit_days = days_per_unit(unit)
    x, tx, t_ = _check_rft(summary["frequency"], summary["recency"], summary["T"])
    repeaters = int((x > 0).sum())
    base: dict[str, Any] = {"time_unit": unit, "repeat_customers": repeaters}
    if repeaters < min_repeat_customers:
        return CLVResult(
            ok=False, reason=f"only {repeaters} customers with a repeat purchase; need {min_repeat_customers}", **base
        )
    fit = PURCHASE_MODELS[model](x, tx, t_, time_unit=unit)
    degenerate = degenerate_reason(fit)
    if degenerate and not fallback:
        fallback, fallback_detail = "degenerate_fit", f"{model}: {degenerate}"
    params: BGNBDParams | NBDParams = fit
    nbd = None
    if fallback:
        nbd = fit_nbd(x, tx, t_, time_unit=unit)
        params = nbd
        if not nbd.converged:
            return CLVResult(ok=False, reason="no purchase model fits: " + fallback_detail, fit=fit, nbd=nbd, **base)
    base.update(model=params.model, fit=fit, nbd=nbd, fallback=fallback, fallback_detail=fallback_detail)

    spend_model, gg = "gamma_gamma", None
    try:
        gg = fit_gamma_gamma(x, summary["monetary_value"])
        if not gg.converged or gg.q <= 1:
            spend_model = "own_mean"
    except ValueError:
        spend_model = "own_mean"
    if spend_model == "gamma_gamma":
        spend = expected_average_value(gg, x, summary["monetary_value"])
    elif "mean_value" in summary.columns:
        spend = summary["mean_value"].to_numpy(dtype=float)
    else:
        return CLVResult(ok=False, reason="no spend model fits (Gamma-Gamma failed)", gamma_gamma=gg, **base)

    out = pd.DataFrame(index=summary.index)
    # to the whole percent shown, so that churn, the churn band and the next order agree with it
    out["p_alive"] = np.round(p_alive(params, x, tx, t_), 2)
    for days in (30, 90, HORIZON_DAYS):
        out[f"expected_purchases_{days}d"] = expected_purchases(params, days / unit_days, x, tx, t_)
    wait = next_purchase_wait(params, x, t_, out["p_alive"]) * unit_days
    out["next_order_in_days"] = np.where(wait <= HORIZON_DAYS, wait, np.nan)  # within the 12 months, or none
    start = as_of if as_of is not None else summary.attrs.get("calibration_end")
    if start is not None:
        start_ts = timestamp_utc_naive(start, "as_of")
        out["next_order_date"] = start_ts + pd.to_timedelta(np.round(out["next_order_in_days"]), unit="D")
    else:
        out["next_order_date"] = pd.NaT
    # The value is the product of the two factors shown to the owner, as shown (rounded).
    purchases = np.round(out[f"expected_purchases_{HORIZON_DAYS}d"].to_numpy(dtype=float), 2)
    out[f"expected_purchases_{HORIZON_DAYS}d"] = purchases
    out["expected_average_value"] = np.round(spend, 2)
    # in whole hundredths and cents, so that the product is exact (0.7 x 23.25 = 16.275 -> 16.28, half up)
    hundredths = np.rint(purchases * 100)
    cents = np.rint(out["expected_average_value"].to_numpy(dtype=float) * 100)
    with np.errstate(invalid="ignore"):
        out["clv"] = np.sign(hundredths * cents) * np.floor((np.abs(hundredths * cents) + 50) // 100) / 100
    numeric = out[[c for c in out.columns if c.startswith("expected") or c == "clv"]].to_numpy(dtype=float)
    if not np.isfinite(numeric).all():
        return CLVResult(ok=False, reason="model predictions are not finite", gamma_gamma=gg, **base)
    return CLVResult(ok=True, reason="", gamma_gamma=gg, spend_model=spend_model, customers=out, **base)


# ---------------------------------------------------------------------------
# Holdout check
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Errors:
    """Per-customer errors of one prediction of holdout purchases."""

    mae: float  # mean |actual - predicted| purchases per customer
    rmse: float  # root mean squared error, per customer
    predicted_total: float


def _errors(actual: np.ndarray, predicted: np.ndarray) -> Errors:
    diff = actual - predicted
    return Errors(
        mae=float(np.mean(np.abs(diff))), rmse=float(np.sqrt(np.mean(diff**2))), predicted_total=float(predicted.sum())
    )


@dataclass(frozen=True, eq=False)
class HoldoutValidation:
    """Predicted vs actual purchases in the holdout period, beside two baselines.

    ``errors`` has one :class:`Errors` per prediction: ``'model'`` (the purchase model
    fitted on the calibration period), ``'own_rate'`` (each customer's own past rate: repeat
    purchases / T, times the holdout length) and ``'nothing'`` (no purchase at all).
    ``by_frequency`` has one row per calibration repeat count (the last row pools
    ``max_frequency`` and above): customers, actual and predicted mean holdout purchases.
    """

    time_unit: str
    duration: float
    customers: int
    actual_total: float
    errors: dict[str, Errors]
    by_frequency: pd.DataFrame

    @property
    def predicted_total(self) -> float:
        return self.errors["model"].predicted_total

    @property
    def beats_baselines(self) -> bool:
        """The model's RMSE is below both baselines' (it earns its place).

        RMSE, not MAE, decides: the predictions are expected counts (means), which squared
        error rewards; absolute error rewards the median, and the median customer buys
        nothing in a holdout, so "nothing" nearly always wins on MAE (on CDNOW: BG/NBD MAE
        0.786 against 0.799 for nothing, RMSE 1.61 against 2.21).
        """
        return all(self.errors["model"].rmse < self.errors[name].rmse for name in ("own_rate", "nothing"))


def holdout_validation(
    summary: pd.DataFrame, params: BGNBDParams | NBDParams, max_frequency: int = 7
) -> HoldoutValidation:
    """Compare a purchase model's conditional expectations with holdout purchases and the baselines.

    ``summary`` must come from :func:`summary_from_transactions` with an
    ``observation_end`` (so it has ``frequency_holdout`` and ``duration_holdout``),
    and ``params`` fitted on its calibration columns.
    """
    require_columns(summary, ("frequency", "recency", "T", "frequency_holdout", "duration_holdout"), "summary")
    duration = float(summary["duration_holdout"].iloc[0])
    x = summary["frequency"].to_numpy(dtype=float)
    t_ = summary["T"].to_numpy(dtype=float)
    pred = expected_purchases(params, duration, x, summary["recency"], t_)
    actual = summary["frequency_holdout"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        own_rate = np.where(t_ > 0, x / t_, 0.0) * duration
    bucket = np.minimum(x.astype(int), max_frequency)
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
        errors={
            "model": _errors(actual, pred),
            "own_rate": _errors(actual, own_rate),
            "nothing": _errors(actual, np.zeros_like(actual)),
        },
        by_frequency=table,
    )


@dataclass(frozen=True, eq=False)
class CalibrationCheck:
    """The purchase model fitted on the calibration period and tested on the holdout.

    ``fit`` is the requested model's calibration fit; ``degenerate`` its
    :func:`degenerate_reason`; ``validation`` its holdout check (None when degenerate);
    ``fallback_validation`` the NBD's, fitted on the same period. ``fallback`` is what
    the predictions should do: ``''`` (use the model), ``'degenerate_fit'`` or
    ``'holdout_no_better'`` (use the NBD), with ``fallback_detail`` in words.
    """

    calibration_end: pd.Timestamp
    observation_end: pd.Timestamp
    fit: BGNBDParams
    degenerate: str
    validation: HoldoutValidation | None
    fallback_validation: HoldoutValidation | None
    fallback: str
    fallback_detail: str


def calibration_check(summary: pd.DataFrame, model: str = "mbgnbd") -> CalibrationCheck:
    """Fit ``model`` on the calibration columns of ``summary`` and check it on its holdout.

    The model falls back when its fit is degenerate, or when its holdout RMSE is not below
    the RMSE of each customer's own past rate and of predicting nothing (it does not earn
    its place; :attr:`HoldoutValidation.beats_baselines` says why RMSE, not MAE). Raises
    ``ValueError`` when ``summary`` has no holdout or bad input.
    """
    require_columns(summary, ("frequency", "recency", "T", "frequency_holdout", "duration_holdout"), "summary")
    unit = summary.attrs.get("time_unit", "days")
    if model not in PURCHASE_MODELS:
        raise ValueError(f"model must be one of {', '.join(PURCHASE_MODELS)}")
    x, tx, t_ = _check_rft(summary["frequency"], summary["recency"], summary["T"])
    fit = PURCHASE_MODELS[model](x, tx, t_, time_unit=unit)
    degenerate = degenerate_reason(fit)
    validation = None if degenerate else holdout_validation(summary, fit)
    nbd = fit_nbd(x, tx, t_, time_unit=unit)
    fallback_validation = holdout_validation(summary, nbd) if nbd.converged else None
    fallback, detail = "", ""
    if degenerate:
        fallback, detail = "degenerate_fit", f"{model} on the calibration period: {degenerate}"
    elif validation is not None and not validation.beats_baselines:
        fallback = "holdout_no_better"
        e = validation.errors
        detail = (
            f"{model} holdout RMSE {e['model'].rmse:.4f} is not below both own past rate "
            f"{e['own_rate'].rmse:.4f} and nothing {e['nothing'].rmse:.4f}"
        )
    cal_end = summary.attrs.get("calibration_end")
    return CalibrationCheck(
        calibration_end=cal_end,
        observation_end=cal_end + pd.Timedelta(days=float(summary["duration_holdout"].iloc[0]) * days_per_unit(unit)),
        fit=fit,
        degenerate=degenerate,
        validation=validation,
        fallback_validation=fallback_validation,
        fallback=fallback,
        fallback_detail=detail,
    )
