"""Rules page, forecasts page and the analysis page (past runs, quality figures, next run's parameters)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from analytics.compute.pipeline import adaptive_min_support
from analytics.compute.rules import RULE_ALGORITHMS
from analytics.models import AnalysisRun, AssociationRule, RunStatus

pytestmark = pytest.mark.django_db

RULES = reverse("rule_list")
ANALYSIS = reverse("analysis")


@pytest.mark.parametrize("role", ["owner", "staff", "viewer"])
def test_members_see_the_rules(pages, role):
    response = getattr(pages, role).get(RULES)

    assert response.status_code == 200
    shop_rules = AssociationRule.objects.for_shop(pages.shop).filter(run=pages.run, segment=None, level="product")
    assert response.context["rules"].paginator.count == shop_rules.count() > 0


def test_rules_filter_by_thresholds_and_level(pages, hx):
    response = hx(pages.viewer, "get", RULES, data={"level": "category", "min_confidence": "0.5", "min_lift": "1.2"})

    expected = AssociationRule.objects.for_shop(pages.shop).filter(
        run=pages.run, segment=None, level="category", confidence__gte=0.5, lift__gte=1.2
    )
    assert response.content.decode().lstrip().startswith('<div id="rules"')
    assert response.context["rules"].paginator.count == expected.count()


def test_rules_filter_by_product_name(pages):
    rule = AssociationRule.objects.for_shop(pages.shop).filter(run=pages.run, segment=None, level="product").first()
    word = rule.consequent_label.split()[0]

    response = pages.viewer.get(RULES, {"q": word})

    labels = [r.consequent_label + " ".join(r.antecedent_labels) for r in response.context["rules"]]
    assert labels and all(word.lower() in label.lower() for label in labels)


def test_bought_together_lists_the_rules_that_start_with_a_product(pages):
    rule = AssociationRule.objects.for_shop(pages.shop).filter(run=pages.run, segment=None, level="product").first()
    item = rule.antecedents[0]

    response = pages.viewer.get(RULES, {"product": item})

    assert response.context["together"]
    assert all(item in r.antecedents for r in response.context["together"])
    assert "also buy" in response.content.decode()


def test_rules_without_a_run_say_so(viewer_client):
    response = viewer_client.get(RULES)

    assert response.status_code == 200
    assert "No analysis has finished yet." in response.content.decode()


@pytest.mark.parametrize("role", ["owner", "staff", "viewer"])
def test_members_see_the_forecasts(pages, role):
    response = getattr(pages, role).get(reverse("forecast_list"))

    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-chart="forecast"' in body
    assert "Forecast as a table" in body
    # a chart whose data end inside a period marks it (the sentence, described by it, its legend entry)
    charts = response.context["charts"]
    assert any(p.get("partial") for c in charts for p in c["forecast"].points)  # the demo's last day is not over
    for item in charts:
        chart_id = f"forecast-{item['metric']}"
        partial = any(p.get("partial") for p in item["forecast"].points)
        assert (f'id="{chart_id}-partial"' in body) is partial
        assert (f'aria-describedby="{chart_id}-summary {chart_id}-partial"' in body) is partial
    assert body.count('data-l-partial="') == sum(any(p.get("partial") for p in c["forecast"].points) for c in charts)


@pytest.mark.parametrize("role", ["owner", "staff", "viewer"])
def test_members_see_past_runs_with_timing_and_quality(pages, role):
    response = getattr(pages, role).get(ANALYSIS)

    body = response.content.decode()
    assert response.status_code == 200
    assert "silhouette" in body
    assert "Calinski" in body and "Davies" in body
    assert "seasonal naive" in body
    assert "Purchases predicted" in body and "each customer&#x27;s own past rate" in body and "RMSE" in body
    assert "clusters" in body  # a step of the timing


def test_a_failed_run_shows_its_error(pages):
    AnalysisRun.unscoped.create(shop=pages.shop, status=RunStatus.FAILED, error="statsmodels exploded")

    assert "statsmodels exploded" in pages.viewer.get(ANALYSIS).content.decode()


def test_htmx_gets_the_run_table_only(pages, hx):
    response = hx(pages.viewer, "get", ANALYSIS)

    assert response.content.decode().lstrip().startswith('<section class="card" id="runs"')


def test_the_next_run_takes_the_chosen_method_k_and_thresholds(pages, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = pages.staff.post(
            reverse("analysis_run_start"),
            {
                "cluster_method": "agglomerative",
                "k": "4",
                "min_support": "0.02",
                "min_confidence": "0.3",
                "rule_algorithm": "apriori",
                "next": ANALYSIS,
            },
        )

    run = AnalysisRun.objects.for_shop(pages.shop).get(status=RunStatus.QUEUED)
    assert response.status_code == 302 and response["Location"] == ANALYSIS
    assert run.params == {
        "cluster_method": "agglomerative",
        "k": 4,
        "min_support": 0.02,
        "min_confidence": 0.3,
        "rule_algorithm": "apriori",
    }


def test_the_next_run_form_offers_every_rule_algorithm_and_says_the_support_cap(pages):
    response = pages.owner.get(ANALYSIS, HTTP_ACCEPT_LANGUAGE="en")

    field = response.context["form"].fields["rule_algorithm"]
    assert field.choices == [("fpgrowth", "FP-growth"), ("apriori", "Apriori")]
    assert [value for value, _label in field.choices] == list(RULE_ALGORITHMS)
    body = response.content.decode()
    assert '<option value="fpgrowth" selected>FP-growth</option>' in body
    assert '<option value="apriori">Apriori</option>' in body
    # the default support: 1% and at least 10 orders, capped at 5% (pipeline.adaptive_min_support)
    assert "Empty: 0.01, and at least 10 orders, but never more than 0.05" in body
    assert adaptive_min_support(150) == 0.05 < 10 / 150


def test_bad_parameters_start_nothing(pages):
    response = pages.staff.post(reverse("analysis_run_start"), {"cluster_method": "magic", "k": "99"})

    assert response.status_code == 302
    assert not AnalysisRun.objects.for_shop(pages.shop).filter(status=RunStatus.QUEUED).exists()


def test_an_unsafe_next_url_is_ignored(pages, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = pages.staff.post(reverse("analysis_run_start"), {"next": "https://evil.example/"})

    assert response["Location"] == reverse("dashboard")
