"""Clusters a person can read, on the real Online Retail file through the product's own path:
``import_csv --preset online-retail``, ``analyze --only rfm,clusters --json``, the stored segments,
and the analysis and segment pages in English and in Simplified Chinese.

- every cluster has a name that says what it is, distinct within the run, never "Cluster N";
- descriptions are whole sentences (the file has no categories: they ended in "mostly ");
- a cluster of one-time buyers is not given a gap between orders;
- HDBSCAN's quality figures count the customers it leaves in no cluster.

The whole file imports in about 12 s here (541,909 lines), each analysis in 3-5 s.
"""

from __future__ import annotations

import json
import re
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from analytics import explain_clusters
from analytics.models import AnalysisRun, Segment, SegmentKind
from analytics.selectors import quality
from shops.models import Role
from tests.conftest import SHARED_DATA
from tests.factories import MembershipFactory, ShopFactory

ONLINE_RETAIL = SHARED_DATA / "online_retail.csv.xz"
DANGLING = re.compile(r"\b(mostly|and|or|of|the|a|with|every)\s*$", re.IGNORECASE)

pytestmark = [
    pytest.mark.django_db(transaction=False),
    pytest.mark.skipif(not ONLINE_RETAIL.is_file(), reason=f"{ONLINE_RETAIL} is absent (real data beside checkout)"),
]


def _analyze(shop, *args: str) -> dict:
    out = StringIO()
    call_command("analyze", "--shop", shop.slug, "--only", "rfm,clusters", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def _check_readable(summary: dict, run: AnalysisRun) -> None:
    clusters = summary["clusters"]
    segments = clusters["segments"]
    names = [s["name"] for s in segments]
    assert len(names) == clusters["k"] >= 2
    assert len(set(names)) == len(names), names
    assert not any(re.fullmatch(r"Cluster \d+", n) for n in names), names
    for seg in segments:
        text = seg["description"]
        assert text.endswith(".") and not DANGLING.search(text.rstrip(".")), text
        assert "mostly" not in text  # the file has no categories
        stored = Segment.objects.for_shop(run.shop).get(run=run, key=seg["key"])
        assert stored.kind == SegmentKind.CLUSTER and stored.name == seg["name"] and stored.description == text
        assert stored.facts[0] == {"kind": "name", **seg["name_key"]}
        if seg["one_time_share"] >= 0.5:
            # one-time buyers have no gap between orders: none described, none in the centre
            assert "every" not in text and stored.centre.get("mean_days_between_orders") is None
            assert all(f.get("feature") != "mean_days_between_orders" for f in stored.facts)
            assert "one_time_buyers" in seg["name_key"]["key"]


def test_online_retail_clusters_read_in_both_languages(client):
    shop = ShopFactory(name="Online Retail", slug="online-retail", currency="GBP", timezone="Europe/London")
    owner = MembershipFactory(shop=shop, role=Role.OWNER).user
    started = time.perf_counter()
    call_command(
        "import_csv", str(ONLINE_RETAIL), "--shop", shop.slug, "--preset", "online-retail", "--allow-partial",
        stdout=StringIO(),
    )  # fmt: skip
    assert time.perf_counter() - started < 60

    kmeans = _analyze(shop, "--cluster-method", "kmeans")
    kmeans_run = AnalysisRun.objects.for_shop(shop).latest("pk")
    _check_readable(kmeans, kmeans_run)
    c = kmeans["clusters"]
    # about 36% of Online Retail's buyers bought on one day only: the split the clusters find first
    assert any(s["one_time_share"] >= 0.9 for s in c["segments"])
    assert any(s["one_time_share"] <= 0.05 for s in c["segments"])
    assert c["assigned_share"] == 1 and c["noise"] == 0

    hdbscan = _analyze(shop, "--cluster-method", "hdbscan")
    run = AnalysisRun.objects.for_shop(shop).latest("pk")
    _check_readable(hdbscan, run)
    h = hdbscan["clusters"]
    in_clusters = sum(s["size"] for s in h["segments"])
    # the quality is over every customer scored: those in a cluster and the noise
    assert in_clusters + h["noise"] == h["customers_scored"]
    assert h["assigned_share"] == pytest.approx(in_clusters / h["customers_scored"], abs=1e-4)
    assert h["noise"] > 0  # Online Retail has customers between the dense groups
    assert h["silhouette"] != h["silhouette_assigned"]
    noise = Segment.objects.for_shop(run.shop).get(run=run, key="noise")
    assert noise.size == h["noise"] and noise.kind == SegmentKind.OUTLIERS
    assert Segment.objects.for_shop(run.shop).get(run=run, key="outliers").size == h["outliers"]

    # the pages, as the owner reads them, in both languages
    client.force_login(owner, backend="shops.auth.EmailOrUsernameBackend")  # their only shop
    cluster_segments = list(Segment.objects.for_shop(shop).filter(run=run, kind=SegmentKind.CLUSTER))
    ratings = quality.run_ratings(run)
    assert set(ratings) >= {"silhouette", "calinski_harabasz", "davies_bouldin"}
    for language, words in (("en", "Silhouette (−1 to 1)"), ("zh-hans", "轮廓系数（−1 到 1）")):
        page = client.get(reverse("analysis"), HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert words in page
        with translation.override(language):
            for line in quality.explanation_lines():
                assert line in page.replace("&#x27;", "'")
            for rating in ratings.values():
                assert f"{rating.name}: {rating.label}" in page
        for segment in cluster_segments:
            page = client.get(reverse("segment_detail", args=[segment.pk]), HTTP_ACCEPT_LANGUAGE=language)
            html = page.content.decode()
            with translation.override(language):
                name = explain_clusters.cluster_segment_name(segment)
                facts = explain_clusters.fact_texts(segment.facts)
            assert f"<h1>{name}</h1>" in html
            assert facts and all(f in html for f in facts)
            if language == "zh-hans":
                assert not re.search(r"[A-Za-z]{4,}", name), name  # a Chinese name, not the English one
                assert all(re.search(r"[\u4e00-\u9fff]", f) for f in facts), facts
            else:
                assert name == segment.name
