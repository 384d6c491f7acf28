from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.compute.rfm import SEGMENTS, quintile_score, rfm_scores, rfm_summary, segment_for


def test_quintile_score_ranks_and_ties() -> None:
    s = pd.Series(range(1, 11), dtype=float)
    assert quintile_score(s).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert quintile_score(s, higher_is_better=False).tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    # 7 one-time buyers out of 10: all tie at F=1 (qcut would fail on these edges)
    f = pd.Series([1, 1, 1, 1, 1, 1, 1, 2, 3, 9])
    assert quintile_score(f).tolist() == [1] * 7 + [4, 5, 5]


def test_segment_grid() -> None:
    assert segment_for(5, 5, 5) == "Champions"
    assert segment_for(5, 1, 1) == "New"
    assert segment_for(4, 1, 1) == "Promising"
    assert segment_for(5, 2, 3) == "Potential loyalist"
    assert segment_for(4, 4, 5) == "Loyal"
    assert segment_for(3, 3, 3) == "Need attention"
    assert segment_for(3, 1, 2) == "About to sleep"
    assert segment_for(2, 3, 4) == "At risk"
    assert segment_for(1, 5, 5) == "Cannot lose them"
    assert segment_for(2, 1, 1) == "Hibernating"
    assert segment_for(1, 1, 2) == "Lost"
    # every grid cell names one of the 11 segments, and all 11 appear
    names = {segment_for(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)}
    assert names == set(SEGMENTS)
    with pytest.raises(ValueError, match="r score"):
        segment_for(0, 3, 3)


def _features(n: int = 200, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "recency_days": rng.uniform(0, 365, n),
            "frequency": rng.geometric(0.4, n),
            "monetary": rng.lognormal(4, 1, n),
        },
        index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"),
    )


def test_scores_from_features_and_summary() -> None:
    feats = _features()
    scores = rfm_scores(feats)
    assert scores[["r", "f", "m"]].isin([1, 2, 3, 4, 5]).all().all()
    # best recency gets R=5, worst R=1
    assert scores.loc[feats["recency_days"].idxmin(), "r"] == 5
    assert scores.loc[feats["recency_days"].idxmax(), "r"] == 1
    assert scores.loc[feats["monetary"].idxmax(), "m"] == 5
    assert set(scores["segment"]) <= set(SEGMENTS)
    summary = rfm_summary(scores)
    assert summary["segment"].tolist() == list(SEGMENTS)
    assert summary["size"].sum() == len(feats)
    assert summary["share_of_customers"].sum() == pytest.approx(1.0)
    assert summary["share_of_revenue"].sum() == pytest.approx(1.0)
    champions = summary.set_index("segment").loc["Champions"]
    assert champions["share_of_revenue"] > champions["share_of_customers"]
    pd.testing.assert_frame_equal(scores, rfm_scores(feats))


def test_scores_from_orders() -> None:
    orders = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "c", "c", None],
            "placed_at": pd.to_datetime(
                ["2024-01-01", "2024-02-01", "2024-02-20", "2023-06-01", "2023-07-01", "2023-08-01", "2024-02-01"]
            ),
            "total": [10.0, 20.0, 5.0, 100.0, 100.0, 100.0, 999.0],
            "status": ["paid", "paid", "paid", "paid", "cancelled", "returned", "paid"],
        }
    )
    scores = rfm_scores(orders, as_of="2024-03-01")
    assert scores.loc["a", "frequency"] == 2
    # cancelled excluded; a sale returned in full is no purchase and nets to zero (ADR 0007)
    assert scores.loc["c", "frequency"] == 1
    assert scores.loc["c", "monetary"] == pytest.approx(100.0)
    # 3 customers: scores are 1 + floor(5 * customers_worse / 3)
    assert scores[["r", "f", "m"]].to_dict("index") == {
        "a": {"r": 2, "f": 4, "m": 2},
        "b": {"r": 4, "f": 1, "m": 1},
        "c": {"r": 1, "f": 1, "m": 4},
    }
    with pytest.raises(ValueError, match="as_of"):
        rfm_scores(orders)


def test_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="monetary"):
        rfm_scores(pd.DataFrame({"recency_days": [1.0], "frequency": [1]}))
    with pytest.raises(ValueError, match="total"):
        rfm_scores(pd.DataFrame({"customer_id": ["a"], "placed_at": [pd.Timestamp("2024-01-01")]}), as_of="2024-02-01")
    with pytest.raises(ValueError, match="segment"):
        rfm_summary(pd.DataFrame({"monetary": [1.0]}))
