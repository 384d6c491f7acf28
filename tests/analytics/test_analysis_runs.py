"""Analysis runs on a generated demo shop: the command, the run's life cycle, determinism, fall-backs."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from analytics import services
from analytics.compute import pipeline
from analytics.models import AnalysisRun, CustomerScore, RunStatus, Segment, SegmentKind, SegmentMembership
from customers.demo import demo_shop_generate
from shops.scope import shop_scope
from tests.factories import CustomerFactory, OrderFactory, ShopFactory

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2026, 3, 1)
N_CUSTOMERS = 400


@pytest.fixture(scope="module")
def analysed(django_db_setup, django_db_blocker):
    """A 400-customer demo shop analysed once by `analyze --json` (shared by the module's tests)."""
    with django_db_blocker.unblock(), override_settings(ANALYTICS_AUTORUN=False):
        shop = ShopFactory(name="Analysed Demo", slug="analysed-demo", timezone="Europe/London", currency="GBP")
        try:
            demo_shop_generate(shop=shop, customers=N_CUSTOMERS, seed=7, as_of=AS_OF)
            out = StringIO()
            call_command("analyze", "--shop", shop.slug, "--json", stdout=out)
            run = AnalysisRun.unscoped.get(shop=shop, is_current=True)
            yield SimpleNamespace(shop=shop, run=run, summary=json.loads(out.getvalue()))
        finally:
            shop.delete()


def _run(shop, **params) -> AnalysisRun:
    """What the worker does: create, claim and execute one run."""
    with shop_scope(shop):
        run = services.analysis_run_create(shop=shop, params=params, trigger="command")
        run = services.analysis_run_claim(run_id=run.pk)
        return services.analysis_run_execute(run=run)


def _clusters(run: AnalysisRun) -> dict[int, int | None]:
    return dict(CustomerScore.unscoped.filter(run=run).values_list("customer_id", "cluster"))


# --- analyze --json --------------------------------------------------------------------


def test_analyze_json_prints_every_part_of_the_summary(analysed):
    s = analysed.summary

    assert {"rfm", "clusters", "rules", "forecast", "clv", "timings"} <= s.keys()
    assert {g["name"] for g in s["rfm"]["groups"]} >= {"Champions", "Lost", "At risk"}
    clusters = s["clusters"]
    assert 2 <= clusters["k"] <= 10 and len(clusters["segments"]) == clusters["k"]
    assert -1 <= clusters["silhouette"] <= 1
    assert clusters["calinski_harabasz"] > 0 and clusters["davies_bouldin"] > 0
    assert all(seg["name"] and seg["size"] > 0 and seg["description"] for seg in clusters["segments"])
    buyers = CustomerScore.unscoped.filter(run=analysed.run, frequency__gt=0).count()
    assert sum(seg["size"] for seg in clusters["segments"]) + clusters["outliers"] == buyers
    rules = s["rules"]
    assert rules["count"]["product"] > 0 and rules["count"]["category"] > 0
    top = rules["top_rules"][0]
    assert {"antecedents", "consequent", "support", "confidence", "lift"} <= top.keys()
    forecast = s["forecast"]
    assert forecast["model"]
    assert {"mae", "mase", "smape"} <= forecast["backtest_error"].keys()
    assert {"mae", "mase", "smape"} <= forecast["seasonal_naive_error"].keys()
    clv = s["clv"]
    assert clv["ok"] is True and clv["time_unit"] == "days"
    assert clv["model"] == "mbgnbd" and {"r", "alpha", "a", "b"} <= set(clv["fit"])
    assert set(clv["gamma_gamma"]) == {"p", "q", "v"}
    assert clv["customers_scored"] > 0 and clv["holdout"]["days"] == 56
    assert set(clv["holdout"]["errors"]) >= {"model", "own_rate", "nothing"}
    assert set(s["timings"]) >= {"load", "features", "rfm", "clusters", "clv", "rules", "forecast", "save"}


def test_the_stored_run_matches_the_summary(analysed):
    run = analysed.run

    assert run.status == RunStatus.DONE and run.progress == 100 and run.finished_at is not None
    clusters = Segment.unscoped.filter(run=run, kind=SegmentKind.CLUSTER)
    assert clusters.count() == analysed.summary["clusters"]["k"]
    assert CustomerScore.unscoped.filter(run=run).count() == analysed.summary["customers"]
    # every buyer is in exactly one RFM segment, with its scores as the reason
    rfm = SegmentMembership.unscoped.filter(run=run, segment__kind=SegmentKind.RFM)
    assert rfm.count() == CustomerScore.unscoped.filter(run=run).exclude(rfm_group="").count()
    member = rfm.select_related("segment").first()
    score = CustomerScore.unscoped.get(run=run, customer_id=member.customer_id)
    assert member.segment.name == score.rfm_group
    assert member.reason == f"R{score.r_score} F{score.f_score} M{score.m_score}"


def test_analyze_runs_only_the_steps_asked_for(analysed):
    out = StringIO()
    call_command(
        "analyze", "--shop", analysed.shop.slug, "--only", "rfm,rules", "--min-support", "0.02", "--json", stdout=out
    )
    s = json.loads(out.getvalue())

    assert "rfm" in s and "rules" in s
    assert not {"clusters", "forecast", "clv"} & s.keys()
    assert s["rules"]["params"]["product_min_support"] == 0.02
    assert s["rules"]["params"]["category_min_support"] == 0.02


def test_analyze_refuses_an_unknown_step(analysed):
    with pytest.raises(CommandError, match="unknown analysis step.*magic"):
        call_command("analyze", "--shop", analysed.shop.slug, "--only", "rfm,magic")

    assert not AnalysisRun.unscoped.filter(shop=analysed.shop).exclude(pk=analysed.run.pk).exists()


def test_analyze_refuses_an_unknown_shop():
    with pytest.raises(CommandError, match="no-such-shop"):
        call_command("analyze", "--shop", "no-such-shop")


# --- a run's life cycle ------------------------------------------------------------------


def test_the_run_becomes_current_only_once_complete(analysed, monkeypatch):
    seen = {}
    store = services._store

    def watching_store(*, run, result):
        seen["current"] = list(AnalysisRun.unscoped.filter(shop=analysed.shop, is_current=True).values_list("pk"))
        seen["status"] = AnalysisRun.unscoped.get(pk=run.pk).status
        store(run=run, result=result)

    monkeypatch.setattr(services, "_store", watching_store)

    run = _run(analysed.shop, only=["rfm"])

    assert seen == {"current": [(analysed.run.pk,)], "status": RunStatus.RUNNING}
    assert run.status == RunStatus.DONE and run.is_current and run.progress == 100
    assert AnalysisRun.unscoped.filter(shop=analysed.shop, is_current=True).get() == run


def test_a_failing_run_keeps_the_previous_results_and_says_why(analysed, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("the model exploded")

    monkeypatch.setattr(pipeline, "run_pipeline", explode)

    run = _run(analysed.shop)

    assert run.status == RunStatus.FAILED and run.error == "the model exploded" and run.finished_at
    assert not run.is_current
    assert AnalysisRun.unscoped.get(shop=analysed.shop, is_current=True) == analysed.run
    assert "load" in run.timings


def test_a_run_failing_while_storing_leaves_no_half_written_results(analysed, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_store_scores", explode)

    run = _run(analysed.shop, only=["rfm"])

    assert run.status == RunStatus.FAILED and run.error == "disk full"
    assert not Segment.unscoped.filter(run=run).exists()
    assert not SegmentMembership.unscoped.filter(run=run).exists()
    assert AnalysisRun.unscoped.get(shop=analysed.shop, is_current=True) == analysed.run


def test_a_second_run_on_the_same_data_assigns_the_same_clusters(analysed):
    run = _run(analysed.shop, only=["clusters"])

    assert run.status == RunStatus.DONE
    assert _clusters(run) == _clusters(analysed.run)
    first = dict(Segment.unscoped.filter(run=analysed.run, kind=SegmentKind.CLUSTER).values_list("key", "description"))
    second = dict(Segment.unscoped.filter(run=run, kind=SegmentKind.CLUSTER).values_list("key", "description"))
    assert second == first
    assert run.summary["clusters"]["silhouette"] == analysed.summary["clusters"]["silhouette"]


def test_membership_changes_compare_with_the_previous_run(analysed):
    run = _run(analysed.shop, only=["rfm"])
    segment = Segment.unscoped.get(run=run, key="rfm:champions")

    changes = services.segment_membership_changes(shop=analysed.shop, segment=segment)

    # same data, same RFM scores: nobody moved
    assert changes == {"run": run.pk, "previous_run": analysed.run.pk, "joined": [], "left": []}


# --- fall-backs ------------------------------------------------------------------------------


def test_a_shop_with_too_few_repeat_customers_gets_no_clv_and_churn_risk_from_rfm():
    shop = ShopFactory(slug="tiny-shop")
    start = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)
    for i in range(12):
        customer = CustomerFactory(shop=shop)
        for k in range(1 + (i % 4 == 0)):  # three customers buy twice
            OrderFactory(shop=shop, customer=customer, placed_at=start + dt.timedelta(days=5 * i + 20 * k))

    run = _run(shop, only=["rfm", "clv"])

    assert run.status == RunStatus.DONE
    clv = run.summary["clv"]
    assert clv["ok"] is False and "repeat purchase" in clv["reason"] and clv["customers_scored"] == 0
    scores = list(CustomerScore.unscoped.filter(run=run))
    assert len(scores) == 12
    for score in scores:
        assert score.p_alive is None and score.clv_12m is None
        assert score.churn_risk == services.CHURN_FROM_RFM.get(score.rfm_group, "low")
        assert "RFM group" in services.churn_risk_explanation(score)


def test_a_shop_without_paid_orders_fails_with_a_reason():
    shop = ShopFactory(slug="empty-shop")
    CustomerFactory(shop=shop)

    run = _run(shop)

    assert run.status == RunStatus.FAILED and "no paid orders" in run.error
