from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.compute import cluster_names
from analytics.compute.clusters import ClusterFact, cluster_customers, prepare_matrix

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
    assert "order every 12 days" in texts
    assert "order every 150 days" in texts or "order every 151 days" in texts or "order every 149 days" in texts


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


# --------------------------------------------------------------------------- names and descriptions


def test_clusters_are_named_after_what_they_are() -> None:
    feats, _ = _features()
    res = cluster_customers(feats, method="kmeans", random_state=0)
    clustered = res.labels[res.labels >= 0]
    group_of = {int(c): feats.loc[clustered.index[clustered == c], "group"].mode()[0] for c in range(res.k)}
    names = {group_of[c]: res.names[c] for c in range(res.k)}
    # fans bought 5 days ago, 20 times, 2,000; casual customers 200 days ago, twice, 100
    assert names["fans"].key == "recent_big_spenders" and names["fans"].text == "Recent big spenders"
    assert names["casual"].key == "lapsed_small_spenders"
    assert len({n.text for n in res.names.values()}) == res.k
    assert not any(n.text.startswith("Cluster") for n in res.names.values())


def test_two_clusters_of_the_same_kind_get_a_word_that_tells_them_apart() -> None:
    # two groups of lapsed one-time buyers that differ in basket size, one of recent frequent big spenders
    rng = np.random.default_rng(1)
    n = 100
    frame = pd.DataFrame(
        {
            "frequency": np.r_[np.ones(2 * n), rng.integers(8, 12, n)],
            "recency_days": np.r_[rng.uniform(250, 300, 2 * n), rng.uniform(1, 20, n)],
            "monetary": np.r_[rng.uniform(20, 30, n), rng.uniform(200, 300, n), rng.uniform(400, 500, n)],
            "avg_order_value": np.r_[rng.uniform(20, 30, n), rng.uniform(200, 300, n), rng.uniform(40, 50, n)],
        }
    )
    labels = pd.Series(np.repeat([0, 1, 2], n), index=frame.index)
    names = cluster_names.name_clusters(frame, labels, 3)
    assert names[0].key == names[1].key == "lapsed_one_time_buyers"
    # baskets differ more than spend in the shop's percentiles (the regulars spend most, in small baskets)
    assert names[0].qualifiers == ("smaller_baskets",) and names[1].qualifiers == ("larger_baskets",)
    assert names[0].text == "Lapsed one-time buyers (smaller baskets)"
    assert names[2].key == "recent_big_spenders" and names[2].qualifiers == ()
    # identical clusters cannot be told apart by any feature: a number, still distinct
    same = pd.DataFrame({"frequency": 1, "recency_days": 300.0, "monetary": 25.0}, index=range(20))
    twins = cluster_names.name_clusters(same, pd.Series(np.tile([0, 1], 10)), 2)
    assert [t.text for t in twins.values()] == ["One-time buyers 1", "One-time buyers 2"]


def test_one_time_buyers_get_an_indicator_not_the_median_gap() -> None:
    feats, _ = _features()
    one_time = feats.index[:60]  # half the fans bought once: no gap between orders
    feats.loc[one_time, "frequency"] = 1
    feats.loc[one_time, "mean_days_between_orders"] = np.nan
    x, used, _logged = prepare_matrix(feats)
    assert used.index("one_time_buyer") == used.index("mean_days_between_orders") + 1
    gap = pd.Series(x[:, used.index("mean_days_between_orders")], index=feats.index)
    indicator = pd.Series(x[:, used.index("one_time_buyer")], index=feats.index)
    assert (gap.loc[one_time] == 0).all()  # the repeat buyers' centre, not a typical repeat buyer's gap
    repeat = gap.drop(one_time)
    assert abs(repeat.mean()) < 1e-9 and abs(repeat.std(ddof=0) - 1) < 1e-9  # standardised over repeat buyers
    once = feats["frequency"] <= 1  # the 60 and one of the extreme customers
    assert indicator[once].nunique() == 1 and indicator[~once].nunique() == 1
    assert indicator[once].iloc[0] > indicator[~once].iloc[0]


def test_a_cluster_of_one_time_buyers_has_no_gap_between_orders() -> None:
    feats, _ = _features()
    casual = feats.index[feats["group"] == "casual"]
    feats.loc[casual, "frequency"] = 1
    feats.loc[casual, "mean_days_between_orders"] = np.nan
    res = cluster_customers(feats, method="kmeans", k=3, random_state=0)
    label = int(res.labels.loc[casual].mode()[0])
    assert res.names[label].key.endswith("one_time_buyers")
    assert res.centres.loc[label, "one_time_buyer"] == 1.0
    assert np.isnan(res.centres.loc[label, "mean_days_between_orders"])
    assert all(f.feature != "mean_days_between_orders" for f in res.facts[label])
    assert "every" not in res.descriptions[label]
    assert "All of them have bought only once." in res.descriptions[label]


def test_descriptions_are_whole_sentences_without_an_empty_category() -> None:
    # the Online Retail file has no categories: every customer's top category is ""
    feats, _ = _features()
    feats["top_category"] = ""
    res = cluster_customers(feats, method="kmeans", random_state=0)
    for label, text in res.descriptions.items():
        assert "mostly" not in text
        assert text.endswith(".") and (text[0].isupper() or text[0].isdigit()), text
        assert all(f.kind != "category" for f in res.facts[label])


def test_hdbscan_quality_counts_its_noise() -> None:
    from sklearn.metrics import silhouette_score

    # two tight groups and as many customers scattered between them
    rng = np.random.default_rng(5)
    blob = lambda centre, n: rng.normal(centre, 0.05, size=(n, 2))  # noqa: E731
    scatter = rng.uniform(-1, 4, size=(150, 2))
    points = np.vstack([blob(0.0, 100), blob(3.0, 100), scatter])
    frame = pd.DataFrame(points, columns=["a", "b"])
    res = cluster_customers(frame, method="hdbscan", columns=["a", "b"], outlier_fraction=0, min_cluster_size=30)
    assert res.k == 2 and len(res.noise) > 50
    assert res.assigned_share == pytest.approx(1 - len(res.noise) / len(frame))
    x, _, _ = prepare_matrix(frame, ["a", "b"])
    labels = res.labels.to_numpy()
    assert res.silhouette == pytest.approx(silhouette_score(x, labels))  # noise scored as one group
    assigned = labels >= 0
    assert res.silhouette_assigned == pytest.approx(silhouette_score(x[assigned], labels[assigned]))
    assert res.silhouette < res.silhouette_assigned - 0.1
    assert 0 < res.explained_share < 1


def test_kmeans_quality_is_over_everyone() -> None:
    feats, _ = _features()
    res = cluster_customers(feats, method="kmeans", random_state=0, k=3)
    assert res.assigned_share == 1.0 and not res.noise
    # the explained share is Calinski-Harabasz without its dependence on the number of customers
    n = int((res.labels >= 0).sum())
    ch = res.calinski_harabasz
    assert res.explained_share == pytest.approx(ch * (res.k - 1) / (ch * (res.k - 1) + n - res.k))


def test_the_repeat_buying_half_of_a_shop_are_its_regulars_not_its_big_spenders() -> None:
    # the demo shop's k = 2: repeat buyers (half the shop or more) spend more than one-time buyers,
    # but "big spenders" would promise the owner a small group of whales
    rng = np.random.default_rng(0)
    n = 100
    frame = pd.DataFrame(
        {
            "frequency": np.r_[np.ones(n), rng.integers(2, 6, n)],
            "recency_days": rng.uniform(1, 300, 2 * n),
            "monetary": np.r_[rng.uniform(10, 50, n), rng.uniform(40, 120, n)],
        }
    )
    names = cluster_names.name_clusters(frame, pd.Series(np.repeat([0, 1], n)), 2)
    assert (names[0].text, names[1].text) == ("One-time buyers", "Regulars")
