from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.compute import clv


@pytest.fixture(scope="module")
def cdnow_summary(cdnow_sample: pd.DataFrame) -> pd.DataFrame:
    # Fader, Hardie & Lee (2005): calibration 1997-01-01..1997-09-30 (39 weeks),
    # holdout the next 39 weeks, time unit weeks, same-day purchases combined.
    return clv.summary_from_transactions(
        cdnow_sample, "customer_id", "date", "value", "1997-09-30", "1998-06-30", freq="W"
    )


def test_cdnow_summary_matches_paper_data(cdnow_summary: pd.DataFrame) -> None:
    s = cdnow_summary
    assert len(s) == 2357
    assert s.attrs["time_unit"] == "weeks"
    # customer 1 of Hardie's cdnow_customers file: x=2, t_x=30.43, T=38.86
    assert s.loc[1, "frequency"] == 2
    assert s.loc[1, "recency"] == pytest.approx(30.43, abs=0.005)
    assert s.loc[1, "T"] == pytest.approx(38.86, abs=0.005)
    assert int((s["frequency"] > 0).sum()) == 946
    assert s["duration_holdout"].iloc[0] == pytest.approx(39.0)


def test_bgnbd_reproduces_published_estimates(cdnow_summary: pd.DataFrame) -> None:
    # Fader, Hardie & Lee (2005), Marketing Science 24(2), p. 281:
    # r = 0.243, alpha = 4.414, a = 0.793, b = 2.426 (LL = -9582.4)
    bg = clv.fit_bgnbd(cdnow_summary["frequency"], cdnow_summary["recency"], cdnow_summary["T"])
    assert bg.converged
    assert bg.r == pytest.approx(0.243, rel=0.01)
    assert bg.alpha == pytest.approx(4.414, rel=0.01)
    assert bg.a == pytest.approx(0.793, rel=0.01)
    assert bg.b == pytest.approx(2.426, rel=0.01)
    assert bg.log_likelihood == pytest.approx(-9582.4, abs=0.5)


def test_time_unit_days_scales_alpha(cdnow_sample: pd.DataFrame, cdnow_summary: pd.DataFrame) -> None:
    days = clv.summary_from_transactions(cdnow_sample, "customer_id", "date", "value", "1997-09-30", freq="D")
    assert days.attrs["time_unit"] == "days"
    bg_days = clv.fit_bgnbd(days["frequency"], days["recency"], days["T"], time_unit="days")
    bg_weeks = clv.fit_bgnbd(cdnow_summary["frequency"], cdnow_summary["recency"], cdnow_summary["T"])
    assert bg_days.alpha == pytest.approx(7 * bg_weeks.alpha, rel=1e-4)
    assert bg_days.r == pytest.approx(bg_weeks.r, rel=1e-4)
    assert bg_days.time_unit == "days"


def test_gamma_gamma_reproduces_published_estimates(cdnow_summary: pd.DataFrame) -> None:
    # Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves", JMR 42(4),
    # and Hardie's note "The Gamma-Gamma model of monetary value" (2013):
    # p = 6.25, q = 3.74, gamma (v) = 15.44, fitted on the 946 customers with a repeat
    # purchase in the 39-week calibration, m_x = mean value of their repeat purchases.
    gg = clv.fit_gamma_gamma(cdnow_summary["frequency"], cdnow_summary["monetary_value"])
    assert gg.converged and gg.fitted_on == 946
    assert gg.p == pytest.approx(6.25, rel=0.01)
    assert gg.q == pytest.approx(3.74, rel=0.01)
    assert gg.v == pytest.approx(15.44, rel=0.01)
    assert abs(gg.frequency_monetary_corr) < 0.2  # the model's independence assumption


def test_mbgnbd_reproduces_btydplus_estimates(cdnow_summary: pd.DataFrame) -> None:
    # MBG/NBD (Batislam, Denizel & Filiztekin 2007) on the same CDNOW summary, in weeks:
    # r = 0.525, alpha = 6.183, a = 0.891, b = 1.614 (BTYDplus; lifetimes' test_params_out_is_close_to_BTYDplus)
    mbg = clv.fit_mbgnbd(cdnow_summary["frequency"], cdnow_summary["recency"], cdnow_summary["T"])
    assert mbg.converged and mbg.model == "mbgnbd" and clv.degenerate_reason(mbg) == ""
    assert [mbg.r, mbg.alpha, mbg.a, mbg.b] == pytest.approx([0.525, 6.183, 0.891, 1.614], abs=0.002)


def test_clv_analysis_figures_agree(cdnow_summary: pd.DataFrame) -> None:
    res = clv.clv_analysis(cdnow_summary)
    assert res.ok and res.model == "mbgnbd" and res.time_unit == "weeks" and res.repeat_customers == 946
    c = res.customers
    assert c is not None and len(c) == 2357
    assert ((c["p_alive"] >= 0) & (c["p_alive"] <= 1)).all()
    # every customer has a churn band, and the high ones (as likely gone as not) no next order
    band = clv.churn_band(c["p_alive"])
    assert set(band) == {"high", "medium", "low"}
    assert c.loc[band == "high", "next_order_date"].isna().all()
    assert (c["expected_purchases_30d"] <= c["expected_purchases_90d"]).all()
    assert (c["expected_purchases_90d"] <= c["expected_purchases_365d"] + 0.005).all()
    # the value is the product of its two shown factors, to the cent
    product = (c["expected_purchases_365d"] * 100).round() * (c["expected_average_value"] * 100).round()
    assert (np.floor((product + 50) // 100) / 100 == c["clv"]).all()
    assert (c["clv"] >= 0).all() and c["clv"].sum() > 0
    # a next order only for the more-likely-than-not, within the 12 months
    dated = c["next_order_date"].notna()
    assert (c.loc[dated, "p_alive"] > 0.5).all() and (c.loc[dated, "next_order_in_days"] <= 365).all()
    assert c.loc[c["p_alive"] <= 0.5, "next_order_date"].isna().all()
    assert (c.loc[dated, "expected_purchases_365d"] >= 0.5).all()
    # MBG/NBD: a one-time buyer is less likely to be active the longer ago they bought (BG/NBD says 1)
    once = cdnow_summary["frequency"] == 0
    by_age = c.loc[once, "p_alive"].to_numpy()[np.argsort(cdnow_summary.loc[once, "T"].to_numpy(), kind="stable")]
    assert (np.diff(by_age) <= 0).all() and by_age.max() < 1
    one_off = cdnow_summary.index[once][0]
    assert c.loc[1, "clv"] > c.loc[one_off, "clv"]
    bg = clv.clv_analysis(cdnow_summary, model="bgnbd")
    assert (bg.customers.loc[once, "p_alive"] == 1).all()


def test_churn_band_boundaries() -> None:
    # on the churn risk 1 - p_alive in whole percent: high from 50%, medium above 20%, low otherwise
    bands = clv.churn_band([0.50, 0.51, 0.80, 0.79, 0.0, 1.0, np.nan])
    assert bands.tolist() == ["high", "medium", "low", "medium", "high", "low", ""]
    assert clv.CHURN_HIGH_FROM == 0.5 and clv.CHURN_MEDIUM_ABOVE == 0.2


def test_days_per_unit() -> None:
    assert clv.days_per_unit("days") == 1.0 and clv.days_per_unit("weeks") == 7.0
    with pytest.raises(ValueError, match="time_unit"):
        clv.days_per_unit("months")


def test_holdout_check_beats_both_baselines_on_cdnow(cdnow_summary: pd.DataFrame) -> None:
    check = clv.calibration_check(cdnow_summary, model="bgnbd")
    assert check.fallback == "" and check.degenerate == ""
    hv = check.validation
    assert hv.time_unit == "weeks" and hv.duration == pytest.approx(39.0)
    e = hv.errors
    assert e["nothing"].predicted_total == 0 and e["nothing"].mae == pytest.approx(hv.actual_total / 2357)
    # per-customer RMSE in repeat purchases over 39 weeks: the model 1.61, own past rate 2.21, nothing 2.21
    assert e["model"].rmse < 0.75 * min(e["own_rate"].rmse, e["nothing"].rmse)
    assert hv.beats_baselines
    # the model tracks the holdout: total repeat purchases within 15 %,
    # and conditional expectations rise with calibration frequency like the actuals
    assert hv.predicted_total == pytest.approx(hv.actual_total, rel=0.15)
    assert hv.by_frequency["predicted"].is_monotonic_increasing
    assert np.corrcoef(hv.by_frequency["actual"], hv.by_frequency["predicted"])[0, 1] > 0.95


def test_degenerate_fit_falls_back_to_the_nbd() -> None:
    # Nobody ever drops out: steady Poisson buyers, Gamma(2, 60 days) rates, a year each. The BG/NBD
    # optimum runs to "no dropout" (here a = 1.2e-07, b = 12,841), the pattern seen on the demo shop.
    rng = np.random.default_rng(0)
    n, T = 1500, 365.0
    lam = rng.gamma(2.0, 1 / 60.0, n)
    x, tx = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = rng.exponential(1 / lam[i])
        while t < T:
            x[i], tx[i] = x[i] + 1, t
            t += rng.exponential(1 / lam[i])
    summary = pd.DataFrame({"frequency": x, "recency": tx, "T": T})
    summary["monetary_value"] = np.where(x > 0, rng.uniform(10, 30, n), 0.0)
    summary["mean_value"] = 20.0
    fit = clv.fit_bgnbd(x, tx, np.full(n, T), time_unit="days")
    assert "at a bound" in clv.degenerate_reason(fit)
    res = clv.clv_analysis(summary, time_unit="days", model="bgnbd")
    assert res.ok and res.model == "nbd" and res.fallback == "degenerate_fit" and "bgnbd" in res.fallback_detail
    c = res.customers
    # the NBD cannot tell who has stopped: no chance still active, no next order; the value still multiplies
    assert c["p_alive"].isna().all() and c["next_order_date"].isna().all()
    assert (c["clv"] > 0).all()
    expected = (res.nbd.r + x) / (res.nbd.alpha + T) * 365
    assert c["expected_purchases_365d"].to_numpy() == pytest.approx(np.round(expected, 2))


def _simulate_bgnbd(rng: np.random.Generator, n: int, T: float) -> tuple[np.ndarray, np.ndarray]:
    """Repeat purchases x and recency t_x of BG/NBD customers (r 0.8, alpha 6, a 1, b 4) over T."""
    lam = rng.gamma(0.8, 1 / 6.0, n)
    p = rng.beta(1.0, 4.0, n)
    x, tx = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = rng.exponential(1 / lam[i])
        while t <= T:
            x[i], tx[i] = x[i] + 1, t
            if rng.random() < p[i]:
                break
            t += rng.exponential(1 / lam[i])
    return x, tx


def test_a_model_that_loses_on_the_holdout_falls_back_to_the_nbd() -> None:
    # A sound dropout fit on the calibration period, but the shop then sold nothing for 26 weeks:
    # "predicting no purchase" is exact there, so the model does not earn its place.
    rng = np.random.default_rng(5)
    n, T = 2000, 52.0
    x, tx = _simulate_bgnbd(rng, n, T)
    summary = pd.DataFrame({"frequency": x, "recency": tx, "T": T})
    summary["monetary_value"] = np.where(x > 0, rng.uniform(10, 30, n), 0.0)
    summary["mean_value"] = 20.0
    summary["frequency_holdout"] = 0.0
    summary["duration_holdout"] = 26.0
    summary.attrs.update(time_unit="weeks", calibration_end=pd.Timestamp("2024-12-31"))

    check = clv.calibration_check(summary, model="mbgnbd")
    assert check.degenerate == "" and check.validation is not None
    e = check.validation.errors
    assert e["nothing"].rmse == 0 and e["model"].rmse > 0 and not check.validation.beats_baselines
    assert check.fallback == "holdout_no_better" and "RMSE" in check.fallback_detail
    assert check.observation_end == pd.Timestamp("2024-12-31") + pd.Timedelta(days=26 * 7)
    assert check.fallback_validation is not None  # the NBD is checked on the same holdout

    res = clv.clv_analysis(summary, fallback=check.fallback, fallback_detail=check.fallback_detail)
    assert res.ok and res.model == "nbd" and res.fallback == "holdout_no_better"
    assert res.fallback_detail == check.fallback_detail and res.fit is not None and res.fit.model == "mbgnbd"
    assert res.nbd is not None and res.nbd.converged
    c = res.customers
    assert c["p_alive"].isna().all() and c["next_order_date"].isna().all()
    assert (clv.churn_band(c["p_alive"]) == "").all()  # the churn risk then comes from the RFM group
    expected = (res.nbd.r + x) / (res.nbd.alpha + T) * 365 / 7
    assert c["expected_purchases_365d"].to_numpy() == pytest.approx(np.round(expected, 2))


def test_spend_falls_back_to_own_mean_when_gamma_gamma_fails(cdnow_summary: pd.DataFrame) -> None:
    repeat = cdnow_summary["frequency"] > 0
    # spend with no finite mean (Pareto, shape 0.5): the Gamma-Gamma fit gives q <= 1
    heavy = cdnow_summary.copy()
    rng = np.random.default_rng(3)
    heavy["monetary_value"] = np.where(repeat, (rng.pareto(0.5, len(heavy)) + 1) * 10, 0.0)
    res = clv.clv_analysis(heavy)
    assert res.ok and res.model == "mbgnbd" and res.spend_model == "own_mean"
    assert res.gamma_gamma is not None and res.gamma_gamma.q <= 1
    assert (res.customers["expected_average_value"] == heavy["mean_value"].round(2)).all()

    # no repeat purchase with a positive spend: nobody to fit Gamma-Gamma on
    free = cdnow_summary.copy()
    free["monetary_value"] = 0.0
    res = clv.clv_analysis(free)
    assert res.ok and res.spend_model == "own_mean" and res.gamma_gamma is None
    c = res.customers
    assert (c["expected_average_value"] == free["mean_value"].round(2)).all()
    product = (c["expected_purchases_365d"] * 100).round() * (c["expected_average_value"] * 100).round()
    assert (np.floor((product + 50) // 100) / 100 == c["clv"]).all()
    # and without each customer's own mean to fall back on, no predictions
    res = clv.clv_analysis(free.drop(columns="mean_value"))
    assert not res.ok and res.reason == "no spend model fits (Gamma-Gamma failed)" and res.customers is None


def test_caller_fallback_when_the_holdout_is_no_better(cdnow_summary: pd.DataFrame) -> None:
    res = clv.clv_analysis(cdnow_summary, fallback="holdout_no_better", fallback_detail="RMSE not below")
    assert res.ok and res.model == "nbd" and res.fallback == "holdout_no_better"
    assert res.fit is not None and res.fit.model == "mbgnbd"  # still reported


def test_guard_falls_back_with_reason() -> None:
    rng = np.random.default_rng(0)
    n = 40
    tx = pd.DataFrame(
        {
            "customer": np.arange(n),
            "at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 60, n), unit="D"),
            "value": rng.uniform(10, 50, n),
        }
    )
    # five customers buy a second time
    repeat = tx.head(5).assign(at=lambda d: d["at"] + pd.Timedelta(days=7))
    s = clv.summary_from_transactions(pd.concat([tx, repeat]), "customer", "at", "value", "2024-03-31", freq="D")
    res = clv.clv_analysis(s)
    assert not res.ok
    assert "5 customers with a repeat purchase" in res.reason
    assert res.customers is None and res.time_unit == "days"


def test_synthetic_fit_is_deterministic_and_recovers_parameters() -> None:
    # simulate BG/NBD with known parameters (time unit: weeks)
    rng = np.random.default_rng(42)
    n, T = 4000, 52.0
    lam = rng.gamma(0.8, 1 / 6.0, n)  # r = 0.8, alpha = 6
    p = rng.beta(1.0, 4.0, n)  # a = 1, b = 4
    x = np.zeros(n)
    tx = np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T:
                break
            x[i] += 1
            tx[i] = t
            if rng.random() < p[i]:
                break
    first = clv.fit_bgnbd(x, tx, np.full(n, T))
    second = clv.fit_bgnbd(x, tx, np.full(n, T))
    assert first == second and clv.degenerate_reason(first) == ""
    assert first.r == pytest.approx(0.8, rel=0.15)
    assert first.alpha == pytest.approx(6.0, rel=0.2)
    assert first.a == pytest.approx(1.0, rel=0.3)
    assert first.b == pytest.approx(4.0, rel=0.3)


def test_refuses_bad_input() -> None:
    good = pd.DataFrame({"c": [1, 1], "d": pd.to_datetime(["2024-01-01", "2024-01-05"]), "v": [1.0, 2.0]})
    with pytest.raises(ValueError, match="transactions is missing required column.*amount"):
        clv.summary_from_transactions(good, "c", "d", "amount", "2024-02-01")
    with pytest.raises(ValueError, match="freq"):
        clv.summary_from_transactions(good, "c", "d", "v", "2024-02-01", freq="M")
    with pytest.raises(ValueError, match="observation_end"):
        clv.summary_from_transactions(good, "c", "d", "v", "2024-02-01", "2024-01-01")
    with pytest.raises(ValueError, match="recency <= T"):
        clv.fit_bgnbd([1, 2], [5.0, 30.0], [10.0, 20.0])
    with pytest.raises(ValueError, match="monetary_value"):
        clv.clv_analysis(pd.DataFrame({"frequency": [1], "recency": [1.0], "T": [2.0]}), time_unit="days")
    with pytest.raises(ValueError, match="time_unit"):
        clv.clv_analysis(pd.DataFrame({"frequency": [1], "recency": [1.0], "T": [2.0], "monetary_value": [1.0]}))


def test_the_mbgnbd_gradient_is_the_likelihoods_own(monkeypatch) -> None:
    """BFGS follows the analytic gradient; a wrong one would only show as a slow, odd fit."""
    from scipy import optimize

    from analytics.compute import clv as clv_module

    seen = {}
    real = clv_module._minimise

    def spy(nll, x0, nll_and_grad=None):
        seen.update(nll=nll, nll_and_grad=nll_and_grad)
        return real(nll, x0, nll_and_grad)

    monkeypatch.setattr(clv_module, "_minimise", spy)
    rng = np.random.default_rng(1)
    x = rng.integers(0, 6, 500).astype(float)
    t = rng.uniform(10, 40, 500)
    clv_module.fit_mbgnbd(x, np.where(x > 0, rng.uniform(0, 1, 500) * t, 0.0), t)
    for log_params in (np.log([0.5, 5, 0.8, 2.0]), np.log([1.3, 20, 0.2, 7.0])):
        _value, grad = seen["nll_and_grad"](log_params)
        assert grad == pytest.approx(optimize.approx_fprime(log_params, seen["nll"], 1e-6), abs=1e-5)
