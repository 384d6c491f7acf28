"""Dashboard: headline figures, forecast, segment cards, changes, run-now with progress, empty states, demo data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse

from analytics.models import AnalysisRun, RunStatus, Segment
from analytics.selectors.dashboard import dashboard_kpis, dashboard_period
from customers.models import Order
from tests.factories import CustomerFactory, MembershipFactory, OrderFactory

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("dashboard")


@pytest.mark.parametrize("role", ["owner", "staff", "viewer"])
def test_every_member_sees_the_dashboard_with_figures_forecast_and_segments(pages, role):
    response = getattr(pages, role).get(DASHBOARD)

    assert response.status_code == 200
    body = response.content.decode()
    assert "Revenue forecast" in body
    assert 'data-chart="forecast"' in body
    assert "Your customer groups" in body
    cluster = Segment.objects.for_shop(pages.shop).filter(run=pages.run, kind="cluster").first()
    assert reverse("segment_detail", args=[cluster.pk]) in body


def test_a_stranger_sees_their_own_shop_not_this_one(pages):
    response = pages.stranger.get(DASHBOARD)

    assert response.status_code == 200
    assert "Pages Demo" not in response.content.decode()


def test_the_dashboard_answers_in_a_bounded_number_of_queries(pages, django_assert_max_num_queries):
    with django_assert_max_num_queries(25):
        pages.owner.get(DASHBOARD)


def test_htmx_gets_only_the_dashboard_content(pages, hx):
    response = hx(pages.owner, "get", DASHBOARD)

    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="dashboard-content"')
    assert "<html" not in body


def test_segment_cards_show_the_trend_against_the_previous_run(pages):
    body = pages.owner.get(DASHBOARD).content.decode()

    # the fake previous run had 3 Champions; the table shows the change and the changes card lists it
    assert "What changed since the last analysis" in body
    assert "(3 →" in body


def test_revenue_figure_is_the_paid_orders_of_the_last_30_days_in_the_shop_time_zone(pages):
    period = dashboard_period(shop=pages.shop)
    kpis = {k.key: k for k in dashboard_kpis(shop=pages.shop, period=period)}
    direct = (
        Order.objects.for_shop(pages.shop)
        .filter(status="paid", placed_at__gte=period.start, placed_at__lt=period.end)
        .aggregate(s=Sum("total"))["s"]
    )

    # the demo data ends before today, so the period ends on the day of the last order
    assert period.last_day == dt.date(2026, 2, 28)
    assert period.start.tzinfo is not None and str(period.start.tzinfo) == "Europe/London"
    assert kpis["revenue"].value == direct
    assert kpis["revenue"].previous > 0
    assert 0 < kpis["repeat_rate"].value < 1
    assert kpis["aov"].value > 0
    assert kpis["active"].value > 0


def test_viewer_cannot_start_an_analysis(pages):
    response = pages.viewer.post(reverse("analysis_run_start"))

    assert response.status_code == 403
    assert not AnalysisRun.objects.for_shop(pages.shop).filter(status=RunStatus.QUEUED).exists()


def test_staff_starts_an_analysis_and_gets_a_polling_progress_bar(pages, hx, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = hx(pages.staff, "post", reverse("analysis_run_start"))

    run = AnalysisRun.objects.for_shop(pages.shop).get(status=RunStatus.QUEUED)
    body = response.content.decode()
    assert response.status_code == 200
    assert len(callbacks) == 1  # the task is queued after commit
    assert reverse("analysis_run_progress", args=[run.pk]) in body
    assert 'hx-trigger="every 1s"' in body
    assert run.created_by == pages.users["staff"]


def test_a_second_start_while_one_is_pending_does_not_queue_another(pages, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        pages.staff.post(reverse("analysis_run_start"))
        pages.owner.post(reverse("analysis_run_start"))

    assert AnalysisRun.objects.for_shop(pages.shop).filter(status=RunStatus.QUEUED).count() == 1


def test_progress_of_a_finished_run_stops_polling_and_asks_the_page_to_refresh(pages, hx):
    response = hx(pages.owner, "get", reverse("analysis_run_progress", args=[pages.run.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    assert "every 1s" not in body
    assert "dashboard-refresh" in response["HX-Trigger"]


def test_progress_of_a_running_run_shows_its_step(pages):
    run = AnalysisRun.unscoped.create(shop=pages.shop, status=RunStatus.RUNNING, progress=60, step="rules")

    body = pages.viewer.get(reverse("analysis_run_progress", args=[run.pk])).content.decode()

    assert 'aria-valuenow="60"' in body
    assert "association rules" in body
    assert "every 1s" in body


def test_a_stranger_cannot_see_another_shops_run_progress(pages):
    response = pages.stranger.get(reverse("analysis_run_progress", args=[pages.run.pk]))

    assert response.status_code == 404


def test_a_pending_run_shows_its_progress_on_the_dashboard(pages):
    run = AnalysisRun.unscoped.create(shop=pages.shop, status=RunStatus.QUEUED)

    body = pages.viewer.get(DASHBOARD).content.decode()

    assert reverse("analysis_run_progress", args=[run.pk]) in body


def test_a_failed_run_says_why_and_keeps_the_previous_results(pages):
    AnalysisRun.unscoped.create(shop=pages.shop, status=RunStatus.FAILED, error="the shop has no paid orders yet")

    body = pages.owner.get(DASHBOARD).content.decode()

    assert "The last analysis failed" in body
    assert "the shop has no paid orders yet" in body
    assert "Revenue forecast" in body


# --- empty states ------------------------------------------------------------------------


def test_a_new_shop_sees_what_to_do_first_and_no_chart(owner_client):
    response = owner_client.get(DASHBOARD)

    body = response.content.decode()
    assert response.status_code == 200
    assert reverse("demo_data_load") in body
    assert reverse("data_overview") in body
    assert reverse("import_upload") in body
    assert "<canvas" not in body


def test_only_the_owner_gets_the_load_demo_data_button(viewer_client):
    body = viewer_client.get(DASHBOARD).content.decode()

    assert reverse("demo_data_load") not in body


def test_a_shop_with_data_but_no_finished_run_is_told_to_run_the_analysis(shop, owner_client):
    OrderFactory(shop=shop, customer=CustomerFactory(shop=shop), total=Decimal("12.00"))

    body = owner_client.get(DASHBOARD).content.decode()

    assert "Run the analysis" in body
    assert "<canvas" not in body
    assert "Customers" in body


def test_load_demo_data_is_for_the_owner_only(shop, staff_client, viewer_client):
    assert staff_client.post(reverse("demo_data_load")).status_code == 403
    assert viewer_client.post(reverse("demo_data_load")).status_code == 403


def test_owner_loads_demo_data_of_the_configured_size_then_sees_progress(
    shop, owner_client, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.DEMO_CUSTOMERS = 42
    queued = []
    monkeypatch.setattr("analytics.views.load_demo_data.delay", lambda *a, **k: queued.append((a, k)))

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("demo_data_load"))
    dashboard = owner_client.get(DASHBOARD).content.decode()
    status = owner_client.get(reverse("demo_data_status")).content.decode()

    assert response.status_code == 302
    assert queued == [((shop.pk,), {"customers": 42})]
    assert "Preparing your demo shop" in dashboard
    assert reverse("demo_data_status") in dashboard
    assert "every 1s" in status


def test_demo_status_asks_for_a_refresh_once_orders_exist(shop, owner_client):
    OrderFactory(shop=shop)

    response = owner_client.get(reverse("demo_data_status"))

    assert "dashboard-refresh" in response["HX-Trigger"]
    assert "every 1s" not in response.content.decode()


def test_demo_data_is_not_loaded_into_a_shop_that_has_orders(shop, owner_client, monkeypatch):
    OrderFactory(shop=shop)
    queued = []
    monkeypatch.setattr("analytics.views.load_demo_data.delay", lambda *a, **k: queued.append(a))

    owner_client.post(reverse("demo_data_load"))

    assert queued == []


def test_the_dashboard_of_a_user_without_a_shop_redirects_to_shop_creation(client):
    user = MembershipFactory().user
    user.memberships.all().delete()
    client.force_login(user, backend="shops.auth.EmailOrUsernameBackend")

    assert client.get(DASHBOARD)["Location"] == reverse("shop_create")


def test_headline_figures_are_cached_until_the_data_changes(pages):
    from customers.signals import data_changed
    from shops.models import Shop

    period = dashboard_period(shop=pages.shop)
    first = pages.owner.get(DASHBOARD).context["kpis"]
    customer = CustomerFactory(shop=pages.shop)
    order = OrderFactory(shop=pages.shop, customer=customer, placed_at=period.end - dt.timedelta(hours=1))
    try:
        cached = pages.owner.get(DASHBOARD).context["kpis"]
        data_changed.send(sender=Shop, shop_id=pages.shop.pk, reason="test")
        fresh = pages.owner.get(DASHBOARD).context["kpis"]
    finally:
        order.delete()
        customer.delete()

    revenue = {k.key: k.value for k in first}["revenue"]
    assert {k.key: k.value for k in cached}["revenue"] == revenue
    assert {k.key: k.value for k in fresh}["revenue"] == revenue + order.total
    assert {k.key: k.value for k in fresh}["customers"] == {k.key: k.value for k in first}["customers"] + 1


def test_the_run_s_story_cards_and_forecast_are_rendered_once_per_run_and_language(pages, monkeypatch):
    from django.utils import translation

    from analytics.selectors import dashboard as dashboard_pages

    first = pages.owner.get(DASHBOARD)

    def recomputed(**kwargs):
        raise AssertionError("the segment cards were computed again")

    monkeypatch.setattr(dashboard_pages, "segment_cards", recomputed)
    again = pages.owner.get(DASHBOARD)
    insights = again.context["insights"]
    with translation.override("zh-hans"):
        chinese = dashboard_pages.RunInsights(shop=pages.shop, run=pages.run).key

    body = again.content.decode()
    assert first.status_code == again.status_code == 200
    assert 'id="rfm-share"' in body and 'id="dashboard-forecast' in body and "segment-cards" in body
    assert body.count('class="segment-card') == first.content.decode().count('class="segment-card') > 0
    assert "cards" not in vars(insights)  # rendered from the cache, never computed
    assert chinese != insights.key
