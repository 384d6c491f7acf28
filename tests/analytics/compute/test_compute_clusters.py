from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.compute.clusters import ClusterFact, cluster_customers

GROUPS = {
    # name: (frequency, monetary, mean_days_between_orders, recency_days, top_category)
    "fans": (20, 2000.0, 12.0, 5.0, "Coffee"),
    "casual": (2, 100.0, 150.0, 200.0, "Tea"),
    "regular": (6, 600.0, 40.0, 40.0, "Mugs"),
}


def _features(per_group: int = 120, seed: int = 7) -> tuple[pd.DataFrame, list[str]]:
    rng = np.random.default_rng(seed)
    frames = []
    for name, (freq, money, gap, recency, category) in GROUPS.items():
        n = per_group
        frames.append(
            pd.DataFrame(
                {
                    "frequency": np.maximum(1, np.round(freq * rng.lognormal(0, 0.1, n))),
                    "monetary": money * rng.lognormal(0, 0.1, n),
                    "mean_days_between_orders": gap * rng.lognormal(0, 0.1, n),
                    "recency_days": recency * rng.lognormal(0, 0.1, n),
                    "tenure_days": rng.uniform(300, 400, n),
                    "top_category": category,
                    "group": name,
                }
            )
        )
    data = pd.concat(frames, ignore_index=True)
    # three extreme customers
    extreme = pd.DataFrame(
        {
            "frequency": [400, 1, 300],
            "monetary": [5e6, 1e6, 8e6],
            "mean_days_between_orders": [0.5, 1.0, 0.2],
            "recency_days": [0.0, 0.0, 300.0],
            "tenure_days": [399.0, 1.0, 2.0],
            "top_category": ["Beans"] * 3,
            "group": "extreme",
        }
    )
    data = pd.concat([data, extreme], ignore_index=True)
    data.index = pd.Index([f"cust{i:04d}" for i in range(len(data))], name="customer_id")
    return data, list(data.index[-3:])


def _purity(labels: pd.Series, groups: pd.Series) -> float:
    table = pd.crosstab(labels, groups)
    return float(table.max(axis=1).sum() / table.to_numpy().sum())


@pytest.mark.parametrize("method", ["kmeans", "agglomerative"])
def test_recovers_three_groups(method: str) -> None:
    feats, extremes = _features()
    res = cluster_customers(feats, method=method, random_state=0)
    assert res.k == 3
    assert max(res.k_scores, key=res.k_scores.get) == 3
    assert set(extremes) <= set(res.outliers)
    clustered = res.labels[res.labels >= 0]
    assert _purity(clustered, feats.loc[clustered.index, "group"]) > 0.98
    assert res.silhouette > 0.6 and res.calinski_harabasz > 100 and res.davies_bouldin < 0.8
    assert res.centres["size"].sum() == len(clustered)
    assert "log" not in res.features and "monetary" in res.log_features

    # the fans' cluster is described as frequent big spenders of coffee
    fans = int(clustered[feats.loc[clustered.index, "group"] == "fans"].mode()[0])
    facts = {f.feature: f for f in res.facts[fans]}
    assert all(isinstance(f, ClusterFact) for f in res.facts[fans])
    assert facts["top_category"].value == "Coffee" and "mostly Coffee" in res.descriptions[fans]
    text = res.descriptions[fans]
    assert "buy every 12 days" in text or "spend" in text or "buy" in text
    ratio_facts = [f for f in res.facts[fans] if f.kind == "ratio"]
    assert ratio_facts and all(f.value > 1 and f.direction == "high" for f in ratio_facts)

    assert list(res.projection.columns) == ["pc1", "pc2", "cluster"]
    assert len(res.projection) == len(feats)


def test_description_mentions_purchase_gap() -> None:
    feats, _ = _features()
    res = cluster_customers(
        feats[["mean_days_between_orders", "top_category", "group"]].assign(frequency=feats["frequency"]),
        columns=["mean_days_between_orders"],
        k=3,
    )
    texts = " | ".join(res.descriptions.values())
    assert "buy every 12 days" in texts
    assert "buy every 150 days" in texts or "buy every 151 days" in texts or "buy every 149 days" in texts


def test_hdbscan_finds_groups_and_noise() -> None:
    feats, extremes = _features()
    res = cluster_customers(feats, method="hdbscan", random_state=0, min_cluster_size=20)
    assert res.k == 3
    clustered = res.labels[res.labels >= 0]
    assert _purity(clustered, feats.loc[clustered.index, "group"]) > 0.98
    assert set(res.noise).isdisjoint(res.outliers)
    assert (res.labels.loc[res.noise] == -1).all()


def test_identical_on_second_run() -> None:
    feats, _ = _features()
    a = cluster_customers(feats, method="kmeans", random_state=3, sample_size=200)
    b = cluster_customers(feats, method="kmeans", random_state=3, sample_size=200)
    pd.testing.assert_series_equal(a.labels, b.labels)
    pd.testing.assert_frame_equal(a.projection, b.projection)
    pd.testing.assert_frame_equal(a.centres, b.centres)
    assert a.silhouette == b.silhouette and a.outliers == b.outliers and a.descriptions == b.descriptions


def test_large_agglomerative_uses_a_sample() -> None:
    feats, _ = _features(per_group=400)
    res = cluster_customers(feats, method="agglomerative", k=3, sample_size=300)
    assert res.k == 3 and (res.labels >= 0).sum() == len(feats) - len(res.outliers)
    clustered = res.labels[res.labels >= 0]
    assert _purity(clustered, feats.loc[clustered.index, "group"]) > 0.98


def test_refuses_bad_input() -> None:
    feats, _ = _features()
    with pytest.raises(ValueError, match="method"):
        cluster_customers(feats, method="dbscan")
    with pytest.raises(ValueError, match="missing column.*loyalty"):
        cluster_customers(feats, columns=["monetary", "loyalty"])
    with pytest.raises(ValueError, match="at least 10 customers"):
        cluster_customers(feats.head(5))
    with pytest.raises(ValueError, match="k must be"):
        cluster_customers(feats, k=1)
    with pytest.raises(ValueError, match="default feature columns"):
        cluster_customers(pd.DataFrame({"x": range(20)}))
