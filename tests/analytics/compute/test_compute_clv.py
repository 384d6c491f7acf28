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


def test_clv_analysis_and_holdout(cdnow_summary: pd.DataFrame) -> None:
    res = clv.clv_analysis(cdnow_summary, monthly_discount_rate=0.01)
    assert res.ok and res.time_unit == "weeks" and res.repeat_customers == 946
    c = res.customers
    assert c is not None and len(c) == 2357
    assert ((c["p_alive"] > 0) & (c["p_alive"] <= 1)).all()
    assert (c["p_alive"][cdnow_summary["frequency"] == 0] == 1).all()
    assert (c["expected_purchases_30d"] <= c["expected_purchases_90d"]).all()
    assert (c["expected_purchases_90d"] <= c["expected_purchases_365d"]).all()
    assert (c["clv"] >= 0).all() and c["clv"].sum() > 0
    assert (c["next_order_date"] > pd.Timestamp("1997-09-30")).all()
    # customer 1 bought recently and often: more valuable than a one-off buyer
    one_off = cdnow_summary.index[cdnow_summary["frequency"] == 0][0]
    assert c.loc[1, "clv"] > c.loc[one_off, "clv"]

    hv = clv.holdout_validation(cdnow_summary, res.bgnbd)
    assert hv.time_unit == "weeks" and hv.duration == pytest.approx(39.0)
    # the model tracks the holdout: total repeat purchases within 15 %,
    # and conditional expectations rise with calibration frequency like the actuals
    assert hv.predicted_total == pytest.approx(hv.actual_total, rel=0.15)
    assert hv.by_frequency["predicted"].is_monotonic_increasing
    assert np.corrcoef(hv.by_frequency["actual"], hv.by_frequency["predicted"])[0, 1] > 0.95


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
    assert first == second
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
