"""Segment list and segment page: description, comparison, history, picture, members (HTMX), rules, CSV export."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.urls import reverse

from analytics.models import Segment, SegmentKind, SegmentMembership
from analytics.segments import segment_members
from analytics.selectors.segments import cluster_scatter, feature_comparison

pytestmark = pytest.mark.django_db


def _segment(pages, kind: str, key: str | None = None) -> Segment:
    qs = Segment.objects.for_shop(pages.shop).filter(run=pages.run, kind=kind)
    return qs.get(key=key) if key else qs.order_by("key").first()


@pytest.mark.parametrize("role", ["owner", "staff", "viewer"])
def test_members_see_the_segment_list_with_clusters_and_rfm_groups(pages, role):
    body = getattr(pages, role).get(reverse("segment_list")).content.decode()

    assert "Clusters" in body and "RFM groups" in body
    assert "Champions" in body
    assert reverse("segment_detail", args=[_segment(pages, "cluster").pk]) in body


@pytest.mark.parametrize("kind", ["cluster", "rfm", "outliers"])
def test_a_segment_page_tells_who_is_in_it_and_shows_its_charts(pages, kind):
    segment = _segment(pages, kind)

    response = pages.viewer.get(reverse("segment_detail", args=[segment.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Who is in it" in body
    assert 'data-chart="ratio"' in body and 'id="ratio-table"' in body
    assert 'data-chart="scatter"' in body and 'aria-describedby="scatter-summary"' in body
    assert 'id="members"' in body


def test_an_rfm_group_page_explains_the_group_and_recommends_an_action(pages):
    body = pages.viewer.get(
        reverse("segment_detail", args=[_segment(pages, "rfm", "rfm:champions").pk])
    ).content.decode()

    assert "Bought recently, buy often and spend the most." in body
    assert "What to do:" in body


def test_a_cluster_page_lists_its_facts_in_plain_language(pages):
    segment = _segment(pages, "cluster")

    body = pages.viewer.get(reverse("segment_detail", args=[segment.pk])).content.decode()

    assert segment.facts, "the demo clusters differ from the average"
    assert "the average" in body


def test_a_stranger_gets_404_for_another_shops_segment_and_its_export(pages):
    assert pages.stranger.get(reverse("segment_detail", args=[_segment(pages, "cluster").pk])).status_code == 404
    assert pages.stranger.get(reverse("segment_export", args=[_segment(pages, "cluster").pk])).status_code == 404
    assert pages.owner.get(reverse("segment_detail", args=[pages.other_segment.pk])).status_code == 404


def test_the_segment_page_answers_in_a_bounded_number_of_queries(pages, django_assert_max_num_queries):
    segment = _segment(pages, "rfm", "rfm:champions")
    with django_assert_max_num_queries(30):
        pages.owner.get(reverse("segment_detail", args=[segment.pk]))


def test_the_comparison_is_against_the_mean_of_the_runs_buyers(pages):
    segment = _segment(pages, "rfm", "rfm:champions")

    rows = {r["feature"]: r for r in feature_comparison(shop=pages.shop, segment=segment, run=pages.run)}

    assert rows["monetary"]["ratio"] > 1.5  # champions spend much more than the average customer
    assert rows["recency_days"]["ratio"] < 1  # and bought more recently


def test_the_cluster_picture_highlights_the_members_within_3000_points(pages):
    segment = _segment(pages, "cluster")

    scatter = cluster_scatter(shop=pages.shop, segment=segment, run=pages.run)

    assert 0 < len(scatter["members"]) <= segment.size
    assert len(scatter["members"]) + len(scatter["others"]) <= 3000
    assert scatter["members_total"] == segment.size


def test_htmx_members_table_searches_by_name_and_email(pages, hx):
    segment = _segment(pages, "rfm", "rfm:champions")
    someone = segment_members(shop=pages.shop, segment=segment).exclude(last_name="").order_by("id").first()

    response = hx(pages.viewer, "get", reverse("segment_detail", args=[segment.pk]), data={"q": someone.last_name})
    by_email = hx(pages.viewer, "get", reverse("segment_detail", args=[segment.pk]), data={"q": someone.email})

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="members"')
    assert "<html" not in body
    assert someone.last_name in body
    assert reverse("customer_detail", args=[someone.pk]) in by_email.content.decode()


def test_htmx_members_table_sorts_and_paginates(pages, hx):
    segment = _segment(pages, "cluster")
    url = reverse("segment_detail", args=[segment.pk])

    first = hx(pages.viewer, "get", url, data={"sort": "-clv"})
    second = hx(pages.viewer, "get", url, data={"sort": "-clv", "page": 2})

    assert first.status_code == second.status_code == 200
    assert 'aria-sort="descending"' in first.content.decode()
    assert "Page 2 of" in second.content.decode()
    assert first.context["members"][0].clv_12m >= first.context["members"][1].clv_12m


def test_membership_changes_show_who_joined_and_left(pages):
    segment = _segment(pages, "rfm", "rfm:champions")

    body = pages.viewer.get(reverse("segment_detail", args=[segment.pk])).content.decode()

    assert "Joined and left since the last analysis" in body
    assert "joined" in body and "left" in body


def test_csv_export_streams_every_member_with_their_scores(pages):
    segment = _segment(pages, "rfm", "rfm:champions")

    response = pages.staff.get(reverse("segment_export", args=[segment.pk]))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == segment.size
    members = set(
        SegmentMembership.objects.for_shop(pages.shop).filter(segment=segment).values_list("customer_id", flat=True)
    )
    assert {int(r["customer_id"]) for r in rows} == members
    assert {r["rfm_group"] for r in rows} == {"Champions"}
    assert all(r["email"] for r in rows)


def test_csv_export_defuses_spreadsheet_formulas(pages):
    segment = _segment(pages, "rfm", "rfm:champions")
    member = segment_members(shop=pages.shop, segment=segment).order_by("id").first()
    type(member).unscoped.filter(pk=member.pk).update(first_name="=HYPERLINK(1)")

    response = pages.owner.get(reverse("segment_export", args=[segment.pk]))

    text = b"".join(response.streaming_content).decode()
    assert "'=HYPERLINK(1)" in text


def test_viewer_cannot_export_members(pages):
    assert pages.viewer.get(reverse("segment_export", args=[_segment(pages, "cluster").pk])).status_code == 403


def test_create_campaign_link_appears_only_when_campaigns_offer_it(pages):
    body = pages.owner.get(reverse("segment_detail", args=[_segment(pages, "cluster").pk])).content.decode()
    try:
        url = reverse("campaign_create")
    except Exception:
        assert "Create campaign for this segment" not in body
    else:
        assert f"{url}?segment=" in body


def test_a_segment_of_an_earlier_run_says_so(pages):
    old = Segment.objects.for_shop(pages.shop).get(run=pages.previous, key="rfm:champions")

    body = pages.viewer.get(reverse("segment_detail", args=[old.pk])).content.decode()

    assert "earlier analysis" in body


def test_a_custom_segment_page_lists_its_live_members(pages):
    custom = Segment.objects.for_shop(pages.shop).create(
        shop=pages.shop,
        kind=SegmentKind.CUSTOM,
        key="custom:test",
        name="Big spenders at risk",
        definition={"op": "and", "conditions": [{"field": "monetary", "cmp": "gt", "value": 100}]},
    )

    response = pages.viewer.get(reverse("segment_detail", args=[custom.pk]))
    listing = pages.viewer.get(reverse("segment_list")).content.decode()

    assert response.status_code == 200
    body = response.content.decode()
    assert "Net spend greater than 100" in body
    assert response.context["members"].paginator.count == segment_members(shop=pages.shop, segment=custom).count() > 0
    assert "Big spenders at risk" in listing


@pytest.mark.parametrize("sort", ["-monetary", "-clv", "name", "recency"])
def test_cached_member_order_pages_like_the_query_it_replaces(pages, sort):
    from django.core.paginator import Paginator

    from analytics.selectors.segments import RankedMembers, member_queryset, member_scores, member_table

    segment = _segment(pages, "cluster")
    ranked = member_table(shop=pages.shop, segment=segment, sort=sort)
    again = member_table(shop=pages.shop, segment=segment, sort=sort)  # from the cache now
    direct = member_queryset(shop=pages.shop, segment=segment, sort=sort)

    assert isinstance(ranked, RankedMembers) and isinstance(again, RankedMembers)
    assert len(ranked) == segment.size == member_scores(shop=pages.shop, segment=segment).count()
    for number in (1, 2, Paginator(ranked, 25).num_pages):
        cached = [s.customer_id for s in Paginator(again, 25).page(number).object_list]
        queried = [s.customer_id for s in Paginator(direct, 25).page(number).object_list]
        assert cached == queried and cached


def test_a_searched_member_table_is_counted_not_cached(pages, hx):
    segment = _segment(pages, "rfm", "rfm:champions")
    someone = segment_members(shop=pages.shop, segment=segment).exclude(last_name="").order_by("id").first()

    response = hx(pages.viewer, "get", reverse("segment_detail", args=[segment.pk]), data={"q": someone.email})

    assert response.context["members"].paginator.count == 1


def test_a_second_visit_renders_the_run_s_charts_from_the_cache(pages, monkeypatch):
    from analytics.selectors import segments as segment_pages

    url = reverse("segment_detail", args=[_segment(pages, "cluster").pk])

    def body():  # the CSRF token is masked anew for every answer
        body = pages.viewer.get(url).content.decode()
        return re.sub(r'"X-CSRFToken": "[^"]+"|name="csrfmiddlewaretoken" value="[^"]+"', "", body)

    first = body()

    def recomputed(**kwargs):
        raise AssertionError("the comparison was computed again")

    monkeypatch.setattr(segment_pages, "feature_comparison", recomputed)
    again = body()

    assert again == first and 'id="segment-ratio"' in again


def test_the_charts_are_rendered_anew_for_a_new_run_or_another_language(pages):
    from django.utils import translation

    from analytics.models import AnalysisRun
    from analytics.selectors.segments import SegmentInsights

    segment = _segment(pages, "cluster")

    def key():
        return SegmentInsights(shop=pages.shop, segment=segment, run=pages.run).key

    before = key()
    with translation.override("zh-hans"):
        chinese = key()
    AnalysisRun.objects.for_shop(pages.shop).filter(pk=pages.run.pk).update(is_current=False)
    AnalysisRun.objects.for_shop(pages.shop).create(shop=pages.shop, status="done", trigger="test", is_current=True)

    assert len({before, chinese, key()}) == 3
    assert key() == key()


def test_the_worker_warms_each_computed_segment_page_of_a_new_run(pages, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from analytics.selectors import segments as segment_pages

    computed = Segment.objects.for_shop(pages.shop).filter(run=pages.run).exclude(kind=SegmentKind.CUSTOM)
    segment = _segment(pages, "cluster")

    warmed = segment_pages.segment_pages_warm(shop=pages.shop, run=pages.run)

    def recomputed(*args, **kwargs):
        raise AssertionError("computed again after warming")

    for name in ("segment_membership_changes", "_sample_xy", "_feature_means"):
        monkeypatch.setattr(segment_pages, name, recomputed)
    assert warmed == computed.count() > 0
    assert segment_pages.feature_comparison(shop=pages.shop, segment=segment, run=pages.run)
    assert segment_pages.cluster_scatter(shop=pages.shop, segment=segment, run=pages.run)["total"] > 0
    segment_pages.membership_changes(shop=pages.shop, segment=segment)
    with CaptureQueriesContext(connection) as queries:
        ranked = segment_pages.member_table(shop=pages.shop, segment=segment)
    assert len(ranked) == segment.size
    assert not [q for q in queries.captured_queries if "customerscore" in q["sql"]]  # the order came cached
