"""Segment builder: conditions with AND / OR groups, a live count that equals a direct count, saving."""

from __future__ import annotations

import pytest
from django.urls import reverse

from analytics.models import CustomerScore, Segment, SegmentKind

pytestmark = pytest.mark.django_db

BUILDER = reverse("segment_builder")
COUNT = reverse("segment_builder_count")


def _form(**extra):
    data = {
        "name": "Tea lovers at risk",
        "op": "and",
        "conditions": "2",
        "c-0-field": "churn_risk",
        "c-0-cmp": "eq",
        "c-0-value": "high",
        "c-1-field": "monetary",
        "c-1-cmp": "gte",
        "c-1-value": "20",
        "groups": "1",
        "g-0-op": "or",
        "g-0-conditions": "2",
        "g-0-c-0-field": "top_category",
        "g-0-c-0-cmp": "eq",
        "g-0-c-0-value": "tea",
        "g-0-c-1-field": "frequency",
        "g-0-c-1-cmp": "gte",
        "g-0-c-1-value": "3",
    }
    data.update(extra)
    return data


def test_staff_opens_the_builder_and_viewer_may_not(pages):
    assert pages.staff.get(BUILDER).status_code == 200
    assert pages.viewer.get(BUILDER).status_code == 403
    assert pages.viewer.post(COUNT, _form()).status_code == 403


def test_the_live_count_equals_a_direct_count(pages, hx):
    response = hx(pages.staff, "post", COUNT, data=_form())

    direct = (
        CustomerScore.objects.for_shop(pages.shop)
        .filter(run=pages.run, churn_risk="high", monetary__gte=20)
        .filter(top_category__iexact="tea")
        .count()
        + CustomerScore.objects.for_shop(pages.shop)
        .filter(run=pages.run, churn_risk="high", monetary__gte=20, frequency__gte=3)
        .exclude(top_category__iexact="tea")
        .count()
    )
    assert response.status_code == 200
    assert response.context["count"] == direct
    assert f'data-count="{direct}"' in response.content.decode()


def test_the_count_leaves_out_rows_still_being_typed(pages, hx):
    response = hx(pages.staff, "post", COUNT, data=_form(**{"c-1-value": "", "groups": "0"}))

    direct = CustomerScore.objects.for_shop(pages.shop).filter(run=pages.run, churn_risk="high").count()
    assert response.context["count"] == direct


def test_the_count_with_nothing_complete_asks_for_a_condition(pages, hx):
    response = hx(pages.staff, "post", COUNT, data={"conditions": "1", "c-0-field": "rfm_group", "c-0-value": ""})

    assert response.context["count"] is None
    assert "Add a condition" in response.content.decode()


def test_htmx_adds_a_condition_and_a_group(pages, hx):
    added = hx(pages.staff, "post", BUILDER, data=_form(action="add_condition"))
    grouped = hx(pages.staff, "post", BUILDER, data=_form(action="add_group"))

    assert added.content.decode().lstrip().startswith('<form id="builder"')
    assert 'name="c-2-field"' in added.content.decode()
    assert 'name="g-1-c-0-field"' in grouped.content.decode()


def test_htmx_removes_a_condition_and_a_group(pages, hx):
    removed = hx(pages.staff, "post", BUILDER, data=_form(action="remove:c-0"))
    no_group = hx(pages.staff, "post", BUILDER, data=_form(action="remove_group:0"))

    assert 'name="c-1-field"' not in removed.content.decode()
    assert 'name="g-0-op"' not in no_group.content.decode()


def test_changing_a_field_offers_its_values(pages, hx):
    response = hx(pages.staff, "post", BUILDER, data=_form(action="refresh", **{"c-0-field": "rfm_group"}))

    body = response.content.decode()
    assert '<option value="Cannot lose them"' in body
    assert "greater than" not in body.split('name="c-0-cmp"')[1].split("</select>")[0]


def test_saving_creates_a_custom_segment_and_opens_it(pages):
    response = pages.staff.post(BUILDER, _form(action="save"))

    segment = Segment.objects.for_shop(pages.shop).get(name="Tea lovers at risk")
    assert response.status_code == 302
    assert response["Location"] == reverse("segment_detail", args=[segment.pk])
    assert segment.kind == SegmentKind.CUSTOM and segment.run is None
    assert segment.created_by == pages.users["staff"]
    assert segment.definition == {
        "op": "and",
        "conditions": [
            {"field": "churn_risk", "cmp": "eq", "value": "high"},
            {"field": "monetary", "cmp": "gte", "value": "20"},
            {
                "op": "or",
                "conditions": [
                    {"field": "top_category", "cmp": "eq", "value": "tea"},
                    {"field": "frequency", "cmp": "gte", "value": "3"},
                ],
            },
        ],
    }


def test_saving_with_htmx_redirects_the_browser(pages, hx):
    response = hx(pages.staff, "post", BUILDER, data=_form(action="save"))

    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/segments/")


def test_an_incomplete_segment_is_not_saved_and_says_why(pages):
    response = pages.staff.post(BUILDER, _form(action="save", name="", **{"c-1-value": "lots"}))

    body = response.content.decode()
    assert response.status_code == 400
    assert "Give the segment a name." in body
    assert "Give a number." in body
    assert not Segment.objects.for_shop(pages.shop).filter(kind=SegmentKind.CUSTOM).exists()


def test_a_comparison_that_does_not_fit_the_field_is_refused(pages):
    response = pages.staff.post(BUILDER, _form(action="save", **{"c-0-cmp": "gt"}))

    assert response.status_code == 400
    assert "does not apply" in response.content.decode()
