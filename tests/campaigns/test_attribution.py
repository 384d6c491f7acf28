"""Conversions in the attribution window, the holdout comparison and its confidence interval."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest

from campaigns.attribution import campaign_attribution_refresh, campaign_results, conversion_uplift, revenue_difference
from campaigns.models import CampaignStatus, Recipient
from tests.campaigns.factories import CampaignFactory, segment_with_members
from tests.factories import CustomerFactory, OrderFactory

Z = 1.959963984540054


def _wilson(x: int, n: int) -> tuple[float, float]:
    centre = (x + Z * Z / 2) / (n + Z * Z)
    half = Z * math.sqrt(x * (n - x) / n + Z * Z / 4) / (n + Z * Z)
    return centre - half, centre + half


def test_uplift_interval_is_newcombes_hybrid_score_interval():
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 vs 48/80 -> 0.0524 to 0.3339.
    uplift = conversion_uplift(treated_n=70, treated_conversions=56, holdout_n=80, holdout_conversions=48)

    assert uplift.difference == pytest.approx(0.2)
    assert (round(uplift.ci_low, 4), round(uplift.ci_high, 4)) == (0.0524, 0.3339)
    (l1, u1), (l2, u2) = _wilson(56, 70), _wilson(48, 80)
    assert uplift.ci_low == pytest.approx(0.2 - math.sqrt((0.8 - l1) ** 2 + (u2 - 0.6) ** 2))
    assert uplift.ci_high == pytest.approx(0.2 + math.sqrt((u1 - 0.8) ** 2 + (0.6 - l2) ** 2))
    assert uplift.significant


def test_no_uplift_without_a_holdout():
    assert conversion_uplift(treated_n=10, treated_conversions=1, holdout_n=0, holdout_conversions=0) is None


def test_revenue_per_customer_difference_with_welch_interval():
    # treated revenues [50, 0, 0], holdout [10, 0]
    diff = revenue_difference(
        treated_n=3,
        treated_total=Decimal("50"),
        treated_squares=Decimal("2500"),
        holdout_n=2,
        holdout_total=Decimal("10"),
        holdout_squares=Decimal("100"),
    )

    assert (diff.treated_mean, diff.holdout_mean, diff.difference) == (
        Decimal("16.67"),
        Decimal("5.00"),
        Decimal("11.67"),
    )
    se = math.sqrt((2500 - 3 * (50 / 3) ** 2) / 2 / 3 + (100 - 2 * 25) / 1 / 2)
    assert diff.ci_low == pytest.approx(50 / 3 - 5 - Z * se)
    assert diff.ci_high == pytest.approx(50 / 3 - 5 + Z * se)


@pytest.fixture
def finished(shop):
    """A sent campaign: three treated customers, two in the holdout, and their orders."""
    started = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    sent_at = started + dt.timedelta(hours=1)
    a, b, c, h1, h2 = (CustomerFactory(shop=shop, email_consent=True) for _ in range(5))
    campaign = CampaignFactory(
        shop=shop,
        segment=segment_with_members(shop, [a, b, c, h1, h2]),
        status=CampaignStatus.SENT,
        started_at=started,
        attribution_days=5,
    )
    for customer in (a, b, c):
        Recipient.unscoped.create(
            shop=shop,
            campaign=campaign,
            customer=customer,
            email=customer.email,
            status="sent",
            handoff_at=sent_at,
            sent_at=sent_at,
        )
    for customer in (h1, h2):
        Recipient.unscoped.create(
            shop=shop, campaign=campaign, customer=customer, email=customer.email, status="holdout"
        )
    day = dt.timedelta(days=1)
    orders = {
        "a1": OrderFactory(shop=shop, customer=a, placed_at=sent_at + 2 * day, total=Decimal("30.00")),
        "a2": OrderFactory(shop=shop, customer=a, placed_at=sent_at + 4 * day, total=Decimal("20.00")),
        "a_late": OrderFactory(shop=shop, customer=a, placed_at=sent_at + 6 * day, total=Decimal("99.00")),
        "b_late": OrderFactory(shop=shop, customer=b, placed_at=sent_at + 5 * day + dt.timedelta(minutes=1)),
        "c_before": OrderFactory(shop=shop, customer=c, placed_at=started + dt.timedelta(minutes=30)),
        "c_cancelled": OrderFactory(shop=shop, customer=c, placed_at=sent_at + day, status="cancelled"),
        "h1": OrderFactory(shop=shop, customer=h1, placed_at=started + day, total=Decimal("10.00")),
    }
    return campaign, (a, b, c, h1, h2), orders


def test_orders_in_the_window_after_the_send_are_attributed(shop, finished):
    campaign, (a, b, c, h1, h2), orders = finished

    changed = campaign_attribution_refresh(shop=shop, campaign=campaign)

    rows = {r.customer_id: r for r in Recipient.unscoped.filter(campaign=campaign)}
    assert changed == 2
    assert (rows[a.pk].converted_order_id, rows[a.pk].revenue) == (orders["a1"].pk, Decimal("50.00"))
    assert rows[b.pk].converted_order_id is None and rows[c.pk].converted_order_id is None
    assert (rows[h1.pk].converted_order_id, rows[h1.pk].revenue) == (orders["h1"].pk, Decimal("10.00"))
    assert campaign_attribution_refresh(shop=shop, campaign=campaign) == 0  # idempotent


def test_results_compare_treated_with_holdout(shop, finished):
    campaign, (a, *_rest), _orders = finished
    campaign_attribution_refresh(shop=shop, campaign=campaign)
    Recipient.unscoped.filter(campaign=campaign, customer=a).update(opened_at=campaign.started_at)

    results = campaign_results(shop=shop, campaign=campaign)

    assert (results.sent, results.delivered, results.opened, results.converted) == (3, 3, 1, 1)
    assert results.revenue == Decimal("50.00")
    assert (results.holdout, results.holdout_converted, results.holdout_revenue) == (2, 1, Decimal("10.00"))
    assert results.uplift.difference == pytest.approx(1 / 3 - 1 / 2)
    expected = conversion_uplift(treated_n=3, treated_conversions=1, holdout_n=2, holdout_conversions=1)
    assert (results.uplift.ci_low, results.uplift.ci_high) == (expected.ci_low, expected.ci_high)
    assert results.revenue_per_customer.difference == Decimal("11.67")


def test_the_campaign_page_shows_conversions_and_uplift(shop, finished, owner_client):
    campaign, *_ = finished
    campaign_attribution_refresh(shop=shop, campaign=campaign)

    response = owner_client.get(f"/campaigns/{campaign.pk}/")

    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="uplift"' in body and "95%" in body
    assert "-16.7%" in body  # 33.3% - 50.0%
    assert "50.00 GBP" in body
