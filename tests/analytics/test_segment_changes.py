"""Segment membership history: who joined and who left a segment between consecutive runs."""

from __future__ import annotations

import pytest

from analytics.models import RunStatus
from analytics.services import segment_membership_changes
from tests.analytics.factories import (
    AnalysisRunFactory,
    CustomerScoreFactory,
    CustomSegmentFactory,
    SegmentFactory,
    SegmentMembershipFactory,
)
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _members(segment, *customers):
    for customer in customers:
        SegmentMembershipFactory(segment=segment, customer=customer)


@pytest.fixture
def people(shop):
    return [CustomerFactory(shop=shop) for _ in range(4)]


def test_joined_and_left_between_the_previous_completed_run_and_this_one(shop, people):
    a, b, c, d = people
    first = AnalysisRunFactory(shop=shop)
    _members(SegmentFactory(shop=shop, run=first, key="rfm:at-risk"), a, b)
    _members(SegmentFactory(shop=shop, run=first, key="rfm:champions"), c)
    failed = AnalysisRunFactory(shop=shop, status=RunStatus.FAILED)  # skipped: not a completed run
    second = AnalysisRunFactory(shop=shop, is_current=True)
    at_risk = SegmentFactory(shop=shop, run=second, key="rfm:at-risk")
    _members(at_risk, b, c, d)

    changes = segment_membership_changes(shop=shop, segment=at_risk)

    assert changes == {"run": second.pk, "previous_run": first.pk, "joined": [c.pk, d.pk], "left": [a.pk]}
    assert failed.pk not in changes.values()


def test_a_segment_new_in_this_run_was_joined_by_all_its_members(shop, people):
    a, b, *_ = people
    first = AnalysisRunFactory(shop=shop)
    SegmentFactory(shop=shop, run=first, key="cluster:0")
    second = AnalysisRunFactory(shop=shop)
    new = SegmentFactory(shop=shop, run=second, key="cluster:3")
    _members(new, a, b)

    changes = segment_membership_changes(shop=shop, segment=new)

    assert changes["previous_run"] == first.pk and changes["joined"] == [a.pk, b.pk] and changes["left"] == []


def test_an_older_runs_segment_compares_with_the_run_before_it(shop, people):
    a, b, c, _ = people
    runs = [AnalysisRunFactory(shop=shop) for _ in range(3)]
    segments = [SegmentFactory(shop=shop, run=run, key="rfm:lost") for run in runs]
    _members(segments[0], a)
    _members(segments[1], a, b)
    _members(segments[2], c)

    changes = segment_membership_changes(shop=shop, segment=segments[1])

    assert changes == {"run": runs[1].pk, "previous_run": runs[0].pk, "joined": [b.pk], "left": []}


def test_the_first_run_has_nothing_to_compare_with(shop, people):
    segment = SegmentFactory(shop=shop, key="rfm:lost")
    _members(segment, people[0])

    assert segment_membership_changes(shop=shop, segment=segment) == {
        "run": segment.run_id,
        "previous_run": None,
        "joined": [],
        "left": [],
    }


def test_a_custom_segment_is_evaluated_on_both_runs(shop, people):
    a, b, c, _ = people
    first = AnalysisRunFactory(shop=shop)
    second = AnalysisRunFactory(shop=shop, is_current=True)
    for customer, before, now in ((a, "At risk", "Lost"), (b, "At risk", "At risk"), (c, "Lost", "At risk")):
        CustomerScoreFactory(shop=shop, run=first, customer=customer, rfm_group=before)
        CustomerScoreFactory(shop=shop, run=second, customer=customer, rfm_group=now)
    segment = CustomSegmentFactory(shop=shop, definition={"field": "rfm_group", "cmp": "eq", "value": "At risk"})

    changes = segment_membership_changes(shop=shop, segment=segment)

    assert changes == {"run": second.pk, "previous_run": first.pk, "joined": [c.pk], "left": [a.pk]}


def test_another_shops_segment_shows_no_changes(shop, other_shop, people):
    foreign = SegmentFactory(shop=other_shop, key="rfm:lost")

    assert segment_membership_changes(shop=shop, segment=foreign)["joined"] == []
