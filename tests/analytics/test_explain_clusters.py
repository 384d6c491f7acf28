"""The pages say a cluster's name and facts in the active language, in the very words the compute
layer writes in English (the run's stored name and description, the API's and the exports')."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.utils import translation

from analytics import explain, explain_clusters
from analytics.compute import cluster_names
from analytics.compute.cluster_names import ClusterFact, fact_sentence
from analytics.selectors import quality


def test_every_name_and_qualifier_reads_as_the_compute_layer_writes_it() -> None:
    assert set(explain_clusters.CLUSTER_NAMES) == set(cluster_names.NAME_TEXTS)
    assert set(explain_clusters.QUALIFIERS) == set(cluster_names.QUALIFIER_TEXTS)
    with translation.override("en"):
        for key in cluster_names.NAME_TEXTS:
            for qualifiers, number in (((), None), (("spend_more", "newer"), None), (("larger_baskets",), 2)):
                entry = {"key": key, "qualifiers": list(qualifiers), "number": number}
                assert explain_clusters.cluster_name(entry) == cluster_names.name_text(key, qualifiers, number)


@pytest.mark.parametrize(
    ("feature", "kind", "value"),
    [
        ("monetary", "ratio", 2.34),
        ("frequency", "ratio", 0.3),
        ("orders", "ratio", 1.5),
        ("avg_order_value", "ratio", 1.5),
        ("tenure_days", "ratio", 0.4),
        ("browsing_seconds", "ratio", 3.0),
        ("searches", "ratio", 2.0),
        ("mean_days_between_orders", "value", 28.0),
        ("recency_days", "value", 8.6),
        ("return_rate", "value", 0.05),
        ("one_time_buyer", "share", 0.42),
        ("one_time_buyer", "share", 0.0),
        ("one_time_buyer", "share", 0.0004),
        ("one_time_buyer", "share", 0.997),
        ("one_time_buyer", "share", 1.0),
        ("review_sentiment", "value", 0.5),
        ("review_sentiment", "value", -0.5),
        ("review_sentiment", "value", 0.0),
        ("age", "value", 41.0),
        ("top_category", "category", "Coffee"),
        # where the two layers once drifted apart: ratios from 10, values from 1,000, shares, and
        # features named by their label
        ("monetary", "ratio", 12.34),
        ("recency_days", "value", 1234.0),
        ("top_category_share", "value", 0.4),
        ("page_views", "ratio", 2.5),
        ("reviews", "value", 3.0),
    ],
)
def test_every_fact_reads_as_the_compute_layer_writes_it(feature: str, kind: str, value) -> None:
    fact = ClusterFact(feature, kind, value, "high", fact_sentence(feature, kind, value))
    stored = {"feature": fact.feature, "kind": fact.kind, "value": fact.value, "direction": "high", "text": fact.text}
    with translation.override("en"):
        assert explain_clusters.fact_text(stored) == fact.text
    assert fact.text.endswith(".") and (fact.text[0].isupper() or fact.text[0].isdigit())


def test_the_compute_layers_feature_labels_are_the_pages_msgids() -> None:
    with translation.override("en"):
        for feature, text in cluster_names.FEATURE_TEXTS.items():
            assert str(explain.FEATURE_LABELS[feature]) == text


def test_an_empty_category_and_the_name_entry_are_not_facts() -> None:
    facts = [
        {"kind": "name", "key": "lapsed_one_time_buyers", "qualifiers": [], "number": None},
        {"feature": "recency_days", "kind": "value", "value": 264.0, "direction": "high"},
        {"feature": "top_category", "kind": "category", "value": "", "direction": "high", "text": "mostly "},
    ]
    with translation.override("en"):
        assert explain_clusters.fact_texts(facts) == ["They last bought 264 days ago."]
        assert explain_clusters.cluster_headline(facts) == "not seen for a while"
        segment = SimpleNamespace(kind="cluster", key="cluster:1", name="Lapsed one-time buyers", facts=facts)
        assert explain.segment_name(segment) == "Lapsed one-time buyers"
        # a run stored before clusters had names
        assert explain.segment_name(SimpleNamespace(kind="cluster", key="cluster:1", name="x", facts=[])) == "Cluster 2"
        noise = SimpleNamespace(kind="outliers", key="noise", name="No clear group", facts=[])
        assert explain.segment_name(noise) == "No clear group"
        assert explain.outliers_text(noise) is explain.NOISE_TEXT


@pytest.mark.parametrize(
    ("metric", "value", "expected"),
    [
        ("silhouette", 0.62, "good"),
        ("silhouette", 0.34, "fair"),
        ("silhouette", 0.12, "poor"),
        ("calinski_harabasz", 0.63, "good"),
        ("calinski_harabasz", 0.34, "fair"),
        ("calinski_harabasz", 0.2, "poor"),
        ("davies_bouldin", 0.8, "good"),
        ("davies_bouldin", 1.22, "fair"),
        ("davies_bouldin", 2.7, "poor"),
        ("mase", 0.85, "good"),
        ("mase", 1.1, "fair"),
        ("mase", 1.6, "poor"),
    ],
)
def test_quality_figures_are_rated_good_fair_or_poor(metric: str, value: float, expected: str) -> None:
    assert quality.rate(metric, value).rating == expected


def test_calinski_harabasz_of_an_older_run_is_rated_on_the_share_it_explains() -> None:
    # k-means on Online Retail: CH 2164.47 over 4,294 customers in 2 clusters explains 33.5%
    clusters = {"calinski_harabasz": 2164.4673, "k": 2, "segments": [{"size": 2727}, {"size": 1567}]}
    assert quality.explained_share(clusters) == pytest.approx(0.3352, abs=1e-4)
    run = SimpleNamespace(summary={"clusters": {**clusters, "silhouette": 0.3357, "davies_bouldin": 1.2146}})
    ratings = quality.run_ratings(run)
    assert {m: r.rating for m, r in ratings.items()} == {
        "silhouette": "fair",
        "calinski_harabasz": "fair",
        "davies_bouldin": "fair",
    }
