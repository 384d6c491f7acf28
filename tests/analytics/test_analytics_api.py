"""The analytics API on an analysed demo shop: roles, the wall between shops, filters, writes, the profile."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.test import Client, override_settings

from analytics import services
from analytics.models import (
    AnalysisRun,
    AssociationRule,
    CustomerScore,
    Forecast,
    RunStatus,
    Segment,
    SegmentKind,
    SegmentMembership,
)
from customers.demo import demo_shop_generate
from customers.models import Product
from shops.scope import shop_scope
from tests.factories import ApiKeyFactory, CustomerFactory, MembershipFactory, ShopFactory

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2026, 3, 1)
DEMO_KEY = "sk_analytics_api_demo_key_000000000000000000000"
OTHER_KEY = "sk_analytics_api_other_key_00000000000000000000"


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """A 300-customer demo shop with one complete analysis run (shared by the module's tests)."""
    with django_db_blocker.unblock(), override_settings(ANALYTICS_AUTORUN=False):
        shop = ShopFactory(name="API Demo", slug="api-demo", timezone="Europe/London", currency="GBP")
        try:
            demo_shop_generate(shop=shop, customers=300, seed=7, as_of=AS_OF)
            with shop_scope(shop):
                run = services.analysis_run_create(shop=shop, trigger="command")
                run = services.analysis_run_execute(run=services.analysis_run_claim(run_id=run.pk))
            assert run.status == RunStatus.DONE, run.error
            yield SimpleNamespace(shop=shop, run=run)
        finally:
            shop.delete()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _session(client_for, shop, role):
    return client_for(MembershipFactory(shop=shop, role=role).user)


@pytest.fixture
def clients(demo, client_for, shop):
    """Members of the demo shop by role, and outsiders: the owner of another shop, another shop's key."""
    ApiKeyFactory(shop=demo.shop, raw=DEMO_KEY)
    ApiKeyFactory(shop=shop, raw=OTHER_KEY)
    return SimpleNamespace(
        owner=_session(client_for, demo.shop, "owner"),
        staff=_session(client_for, demo.shop, "staff"),
        viewer=_session(client_for, demo.shop, "viewer"),
        key=Client(HTTP_AUTHORIZATION=f"Bearer {DEMO_KEY}"),
        stranger=_session(client_for, shop, "owner"),
        other_key=Client(HTTP_AUTHORIZATION=f"Bearer {OTHER_KEY}"),
    )


def _ids(demo) -> SimpleNamespace:
    segment = Segment.unscoped.filter(run=demo.run, kind=SegmentKind.RFM).order_by("-size").first()
    return SimpleNamespace(
        segment=segment,
        rule=AssociationRule.unscoped.filter(run=demo.run).first(),
        forecast=Forecast.unscoped.filter(run=demo.run).first(),
        run=demo.run,
        customer=SegmentMembership.unscoped.filter(segment=segment).first().customer_id,
    )


def _urls(ids) -> list[str]:
    return [
        f"/api/v1/segments/{ids.segment.pk}/",
        f"/api/v1/segments/{ids.segment.pk}/members/",
        f"/api/v1/segments/{ids.segment.pk}/changes/",
        f"/api/v1/rules/{ids.rule.pk}/",
        f"/api/v1/forecasts/{ids.forecast.pk}/",
        f"/api/v1/analysis-runs/{ids.run.pk}/",
        f"/api/v1/customers/{ids.customer}/profile/",
    ]


LISTS = ["/api/v1/segments/", "/api/v1/rules/", "/api/v1/forecasts/", "/api/v1/analysis-runs/"]


# --- who may read and write -------------------------------------------------------------


def test_every_member_and_the_shops_key_can_read(demo, clients):
    urls = LISTS + _urls(_ids(demo))

    for who in ("owner", "staff", "viewer", "key"):
        client = getattr(clients, who)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (who, url, response.status_code)


def test_anonymous_callers_are_refused(demo):
    assert Client().get("/api/v1/segments/").status_code in (401, 403)


def test_another_shops_ids_are_not_found(demo, clients):
    urls = _urls(_ids(demo))

    for who in ("stranger", "other_key"):
        client = getattr(clients, who)
        for url in urls:
            assert client.get(url).status_code == 404, (who, url)
        assert client.delete(urls[0]).status_code == 404, who


def test_lists_show_only_the_callers_shop(demo, clients):
    for who in ("stranger", "other_key"):
        client = getattr(clients, who)
        for url in LISTS:
            response = client.get(url)
            assert response.status_code == 200 and response.json()["results"] == [], (who, url)


def test_a_viewer_cannot_start_a_run_or_change_segments(demo, clients):
    segment = Segment.unscoped.filter(run=demo.run).first()

    assert clients.viewer.post("/api/v1/analysis-runs/", {}, content_type="application/json").status_code == 403
    body = {"name": "x", "definition": {"field": "frequency", "cmp": "gte", "value": 2}}
    assert clients.viewer.post("/api/v1/segments/", body, content_type="application/json").status_code == 403
    assert clients.viewer.delete(f"/api/v1/segments/{segment.pk}/").status_code == 403


# --- analysis runs -------------------------------------------------------------------------


def test_staff_start_a_run_once_and_see_its_progress(demo, clients, django_capture_on_commit_callbacks):
    body = {"only": ["rfm", "rules"], "min_support": 0.05, "calibration_end": "2025-12-31"}
    with django_capture_on_commit_callbacks() as queued:
        first = clients.staff.post("/api/v1/analysis-runs/", body, content_type="application/json")
        again = clients.key.post("/api/v1/analysis-runs/", {}, content_type="application/json")

    assert first.status_code == 202
    run = first.json()
    assert run["status"] == RunStatus.QUEUED and run["trigger"] == "api" and run["progress"] == 0
    assert run["params"] == {"only": ["rfm", "rules"], "min_support": 0.05, "calibration_end": "2025-12-31"}
    assert again.status_code == 200 and again.json()["id"] == run["id"]  # one run at a time
    assert len(queued) == 1
    shown = clients.viewer.get(f"/api/v1/analysis-runs/{run['id']}/").json()
    assert shown["status"] == RunStatus.QUEUED
    listed = clients.viewer.get("/api/v1/analysis-runs/").json()["results"]
    assert [r["id"] for r in listed][:2] == [run["id"], demo.run.pk]
    assert listed[1]["is_current"] and listed[1]["summary"]["clusters"]["k"] >= 2 and listed[1]["timings"]


def test_bad_run_parameters_are_refused_by_name(demo, clients):
    for body, field in (
        ({"only": ["rfm", "magic"]}, "only"),
        ({"min_support": 3}, "min_support"),
        ({"cluster_method": "dbscan"}, "cluster_method"),
        ({"calibration_end": "soon"}, "calibration_end"),
    ):
        response = clients.staff.post("/api/v1/analysis-runs/", body, content_type="application/json")
        assert response.status_code == 400 and field in response.json(), body
    assert not AnalysisRun.unscoped.filter(shop=demo.shop, status=RunStatus.QUEUED).exists()


# --- segments ------------------------------------------------------------------------------


def test_segments_list_the_current_runs_segments_with_their_figures(demo, clients):
    rows = clients.viewer.get("/api/v1/segments/?page_size=100").json()["results"]
    stored = Segment.unscoped.filter(run=demo.run)

    assert {r["id"] for r in rows} == set(stored.values_list("pk", flat=True))
    row = next(r for r in rows if r["kind"] == SegmentKind.CLUSTER)
    segment = stored.get(pk=row["id"])
    assert row["key"] == segment.key and row["size"] == segment.size and row["description"] == segment.description
    assert row["facts"] == segment.facts and row["revenue_share"] == pytest.approx(segment.revenue_share)
    assert (Decimal(row["avg_clv"]) if row["avg_clv"] else None) == segment.avg_clv


def test_segment_members_come_with_the_reason(demo, clients):
    segment = Segment.unscoped.filter(run=demo.run, kind=SegmentKind.CLUSTER).order_by("-size").first()

    body = clients.viewer.get(f"/api/v1/segments/{segment.pk}/members/").json()

    assert body["count"] == segment.size == SegmentMembership.unscoped.filter(segment=segment).count()
    assert len(body["results"]) == min(50, segment.size)
    assert all(m["reason"] == segment.description[:300] for m in body["results"])
    ids = [m["id"] for m in body["results"]]
    assert ids == sorted(ids)


def test_a_custom_segment_made_through_the_api_counts_like_the_scores_say(demo, clients):
    definition = {
        "op": "and",
        "conditions": [
            {"field": "frequency", "cmp": "gte", "value": 2},
            {"op": "or", "conditions": [
                {"field": "churn_risk", "cmp": "eq", "value": "high"},
                {"field": "clv_12m", "cmp": "gt", "value": 100},
            ]},
        ],
    }  # fmt: skip

    created = clients.staff.post(
        "/api/v1/segments/", {"name": "Worth winning back", "definition": definition}, content_type="application/json"
    )

    assert created.status_code == 201, created.json()
    segment = created.json()
    expected = sorted(
        s.customer_id
        for s in CustomerScore.unscoped.filter(run=demo.run)
        if s.frequency >= 2 and (s.churn_risk == "high" or (s.clv_12m is not None and s.clv_12m > 100))
    )
    assert expected and segment["kind"] == SegmentKind.CUSTOM and segment["size"] == len(expected)
    members = clients.viewer.get(f"/api/v1/segments/{segment['id']}/members/?page_size=1000").json()
    assert members["count"] == len(expected)
    assert sorted(m["id"] for m in members["results"]) == expected
    assert all("Purchase days" in m["reason"] for m in members["results"])
    listed = clients.viewer.get("/api/v1/segments/?page_size=100").json()["results"]
    assert next(r for r in listed if r["id"] == segment["id"])["size"] == len(expected)

    assert clients.staff.delete(f"/api/v1/segments/{segment['id']}/").status_code == 204
    assert not Segment.unscoped.filter(pk=segment["id"]).exists()


def test_a_bad_definition_is_refused_naming_the_node(demo, clients):
    definition = {"op": "and", "conditions": [{"field": "frequency", "value": 2}, {"field": "shoe_size", "value": 9}]}

    response = clients.staff.post(
        "/api/v1/segments/", {"name": "Bad", "definition": definition}, content_type="application/json"
    )

    assert response.status_code == 400
    assert "definition.conditions[1].field" in response.json()["definition"][0]


def test_computed_segments_cannot_be_deleted(demo, clients):
    segment = Segment.unscoped.filter(run=demo.run).first()

    response = clients.staff.delete(f"/api/v1/segments/{segment.pk}/")

    assert response.status_code == 400 and Segment.unscoped.filter(pk=segment.pk).exists()


def test_segment_changes_list_who_joined_and_left(demo, clients):
    segment = Segment.unscoped.filter(run=demo.run, kind=SegmentKind.RFM).order_by("-size").first()

    body = clients.viewer.get(f"/api/v1/segments/{segment.pk}/changes/").json()

    # the demo shop has one run: nothing to compare with yet
    assert body == {
        "run": demo.run.pk,
        "previous_run": None,
        "joined_count": 0,
        "left_count": 0,
        "joined": [],
        "left": [],
    }


# --- rules and forecasts ------------------------------------------------------------------------


def test_rules_filter_by_level_lift_confidence_and_product(demo, clients):
    every = clients.viewer.get("/api/v1/rules/?page_size=1000").json()
    assert every["count"] == AssociationRule.unscoped.filter(run=demo.run, segment__isnull=True).count()

    category = clients.viewer.get("/api/v1/rules/?level=category&min_lift=1.2&min_confidence=0.4&page_size=1000")
    rows = category.json()["results"]
    assert rows and all(r["level"] == "category" and r["lift"] >= 1.2 and r["confidence"] >= 0.4 for r in rows)

    rule = AssociationRule.unscoped.filter(run=demo.run, level="product").order_by("-lift").first()
    product = Product.unscoped.get(pk=int(rule.consequent))
    for value in (product.sku, str(product.pk)):
        rows = clients.viewer.get(f"/api/v1/rules/?product={value}&page_size=1000").json()["results"]
        assert rule.pk in {r["id"] for r in rows}
        assert all(str(product.pk) in r["antecedents"] + [r["consequent"]] for r in rows)

    assert clients.viewer.get("/api/v1/rules/?min_confidence=2").status_code == 400
    assert clients.viewer.get("/api/v1/rules/?level=brand").status_code == 400


def test_rules_of_one_segment(demo, clients):
    rule = AssociationRule.unscoped.filter(run=demo.run, segment__isnull=False).first()
    assert rule is not None

    for value in (rule.segment.pk, rule.segment.key):
        rows = clients.viewer.get(f"/api/v1/rules/?segment={value}&page_size=1000").json()["results"]
        assert rows and {r["segment"] for r in rows} == {rule.segment_id}


def test_forecasts_filter_by_metric_frequency_and_segment(demo, clients):
    rows = clients.viewer.get("/api/v1/forecasts/?metric=revenue&freq=D&segment=shop").json()["results"]

    assert len(rows) == 1
    stored = Forecast.unscoped.get(pk=rows[0]["id"])
    assert stored.run == demo.run and stored.segment is None and rows[0]["model_name"] == stored.model_name
    assert rows[0]["backtest"]["mase"] == stored.backtest["mase"]
    # the day the data ends in comes first, flagged, with its actual so far; then 28 whole days
    partial, *whole = rows[0]["points"]
    assert partial["partial"] is True and partial["date"] == "2026-02-28" and partial["so_far"] > 0
    assert len(whole) == 28 and not any(p.get("partial") for p in whole)
    assert stored.history[-1][0] == "2026-02-27"
    for point in rows[0]["points"]:
        assert point["lo95"] <= point["lo80"] <= point["mean"] <= point["hi80"] <= point["hi95"]
    segment_rows = clients.viewer.get("/api/v1/forecasts/?freq=W").json()["results"]
    assert any(r["segment_key"] for r in segment_rows)


# --- the customer profile --------------------------------------------------------------------------


def test_the_profile_shows_the_stored_score(demo, clients):
    score = (
        CustomerScore.unscoped.filter(
            run=demo.run, p_alive__isnull=False, cluster__gte=0, next_order_date__isnull=False
        )
        .order_by("pk")
        .first()
    )

    body = clients.viewer.get(f"/api/v1/customers/{score.customer_id}/profile/").json()

    assert body["customer"] == score.customer_id and body["run"] == demo.run.pk
    assert body["features"] == score.features
    assert body["rfm"] == {
        "recency_days": score.recency_days,
        "frequency": score.frequency,
        "monetary": str(score.monetary),
        "r": score.r_score,
        "f": score.f_score,
        "m": score.m_score,
        "group": score.rfm_group,
    }
    predictions = body["predictions"]
    assert predictions["p_alive"] == score.p_alive
    assert predictions["expected_30"] == score.expected_30 and predictions["expected_365"] == score.expected_365
    assert predictions["clv_12m"] == str(score.clv_12m)
    assert predictions["next_order_date"] == score.next_order_date.isoformat()
    assert predictions["churn_risk"] == score.churn_risk
    assert predictions["churn_explanation"].startswith(
        f"Churn risk {score.churn_percent}% = 100% minus a {round(score.p_alive * 100)}% chance of still being active"
    )
    assert predictions["expected_spend"] == str(score.expected_spend) and predictions["model"] == "mbgnbd"
    cluster = Segment.unscoped.get(run=demo.run, key=f"cluster:{score.cluster}")
    assert body["cluster"]["number"] == score.cluster and body["cluster"]["name"] == cluster.name
    assert not cluster.name.startswith("Cluster")  # a name that says what the cluster is
    kinds = {s["kind"]: s for s in body["segments"]}
    assert kinds[SegmentKind.RFM]["name"] == score.rfm_group
    assert kinds[SegmentKind.RFM]["reason"] == f"R{score.r_score} F{score.f_score} M{score.m_score}"
    assert kinds[SegmentKind.CLUSTER]["key"] == f"cluster:{score.cluster}"
    assert body["recommendations"] == score.recommendations


def test_a_customer_without_a_score_has_no_profile(demo, clients):
    newcomer = CustomerFactory(shop=demo.shop)

    response = clients.viewer.get(f"/api/v1/customers/{newcomer.pk}/profile/")

    assert response.status_code == 404 and "no profile yet" in response.json()["detail"]


# --- the schema ---------------------------------------------------------------------------------------


def _analytics_schema() -> dict:
    """The OpenAPI schema of this app's routes as registered in config/api_urls.py.

    (Generated for these routes only, so another app's schema problem cannot hide this one's.)
    """
    from django.urls import include, path
    from drf_spectacular.generators import SchemaGenerator

    from analytics import api
    from config import api_urls

    ours = {api.SegmentViewSet, api.RuleViewSet, api.ForecastViewSet, api.AnalysisRunViewSet, api.CustomerProfileView}

    def view_class(pattern):
        callback = getattr(pattern, "callback", None)
        return getattr(callback, "cls", None) or getattr(callback, "view_class", None)

    routes = [p for p in [*api_urls.urlpatterns, *api_urls.router.urls] if view_class(p) in ours]
    return SchemaGenerator(patterns=[path("api/v1/", include(routes))]).get_schema(request=None, public=True)


def test_the_schema_documents_the_analytics_endpoints():
    paths = {path.replace("{pk}", "{id}"): spec for path, spec in _analytics_schema()["paths"].items()}

    for path in (
        "/api/v1/segments/",
        "/api/v1/segments/{id}/",
        "/api/v1/segments/{id}/members/",
        "/api/v1/segments/{id}/changes/",
        "/api/v1/rules/",
        "/api/v1/forecasts/",
        "/api/v1/analysis-runs/",
        "/api/v1/analysis-runs/{id}/",
        "/api/v1/customers/{id}/profile/",
    ):
        assert path in paths, path
    assert {"post", "get"} <= paths["/api/v1/analysis-runs/"].keys()
    assert "202" in paths["/api/v1/analysis-runs/"]["post"]["responses"]
    assert "delete" in paths["/api/v1/segments/{id}/"]
    rule_params = {p["name"] for p in paths["/api/v1/rules/"]["get"]["parameters"]}
    assert {"level", "product", "min_lift", "min_confidence", "segment", "page_size"} <= rule_params
