"""The period in progress on Online Retail, through the product's own path: the file as the
``online-retail`` preset reads it, ``import_csv``, ``analyze``, then the stored forecasts, the JSON
summary and the pages.

Online Retail starts on Wednesday 2010-12-01 and ends on Friday 2011-12-09 at 12:50: its last day
is half over, its last week (Monday 5 to Sunday 11 December) is not over, and its first week lacks
its Monday and Tuesday. None of them may be learnt from or backtested as a whole period; the
period in progress is shown with its actual so far; a segment's forecast must not fall because of
it. Reference figures are counted independently from the raw file with pandas (exact duplicate
lines dropped, as the importer does; a line is worth Quantity x UnitPrice, a C invoice negative).
"""

from __future__ import annotations

import json
import re
from io import StringIO
from types import SimpleNamespace

import pandas as pd
import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from analytics.models import AnalysisRun, Forecast, SegmentKind
from analytics.selectors.dashboard import segment_forecasts
from analytics.templatetags.insights import money
from shops.models import Role
from shops.scope import shop_scope
from tests.conftest import SHARED_DATA
from tests.factories import MembershipFactory, ShopFactory
from tests.truth.online_retail import invoices_cancelled_by_credit_notes

ONLINE_RETAIL = SHARED_DATA / "online_retail.csv.xz"

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    if not ONLINE_RETAIL.is_file():
        pytest.skip(f"{ONLINE_RETAIL} is absent (the shared real-data folder sits beside the checkout)")
    df = pd.read_csv(ONLINE_RETAIL, dtype={"InvoiceNo": str, "StockCode": str}, parse_dates=["InvoiceDate"])
    df = df.drop_duplicates()
    return df.assign(value=df["Quantity"] * df["UnitPrice"], day=df["InvoiceDate"].dt.normalize())


@pytest.fixture(scope="module")
def retail(raw, django_db_setup, django_db_blocker):
    """Online Retail imported whole and analysed (clusters and forecasts) once for the module."""
    with django_db_blocker.unblock(), override_settings(ANALYTICS_AUTORUN=False):
        shop = ShopFactory(name="Online Retail", slug="online-retail-fc", timezone="Europe/London", currency="GBP")
        try:
            call_command(
                "import_csv", str(ONLINE_RETAIL), "--shop", shop.slug, "--preset", "online-retail", stdout=StringIO()
            )
            out = StringIO()
            call_command("analyze", "--shop", shop.slug, "--only", "clusters,forecast", "--json", stdout=out)
            summary = json.loads(out.getvalue())
            run = AnalysisRun.unscoped.get(shop=shop, is_current=True)
            yield SimpleNamespace(shop=shop, run=run, summary=summary)
        finally:
            shop.delete()


def _forecast(retail, metric: str, freq: str, segment=None) -> Forecast:
    return Forecast.unscoped.get(run=retail.run, segment=segment, metric=metric, freq=freq)


def test_analyze_json_names_the_partial_periods_it_left_out(retail):
    periods = retail.summary["forecast"]["periods"]
    for metric in ("revenue", "orders"):
        daily = periods[f"shop:{metric}:D"]
        assert daily["trained_from"] == "2010-12-01" and daily["trained_through"] == "2011-12-08"
        assert daily["first_partial_left_out"] is None  # the first day counts from its first order
        day = daily["in_progress"]
        assert day["period"] == "2011-12-09" and day["left_out_of_training"] is True
        assert day["data_end"] == "2011-12-09T12:50:00.000001+00:00"  # just after the last order (the end is exclusive)
        assert day["covered"] == pytest.approx((12 + 50 / 60) / 24, abs=1e-4)

        weekly = periods[f"shop:{metric}:W"]
        # weeks end on Sundays: 5 Dec 2010 (Wed-Sun only) left out, 12 Dec 2010 .. 4 Dec 2011 learnt from
        assert weekly["first_partial_left_out"] == "2010-12-05"
        assert (weekly["trained_from"], weekly["trained_through"]) == ("2010-12-12", "2011-12-04")
        assert weekly["complete_periods"] == 52
        week = weekly["in_progress"]
        assert (week["period"], week["start"], week["end"]) == (
            "2011-12-11",
            "2011-12-05T00:00:00+00:00",
            "2011-12-12T00:00:00+00:00",
        )
        assert week["covered"] == pytest.approx((4 * 24 + 12 + 50 / 60) / (7 * 24), abs=1e-4)
    assert not retail.summary["forecast"]["notes"]  # every series had enough complete periods


def test_stored_forecasts_learn_from_complete_periods_and_show_the_actual_so_far(retail, raw):
    last_day = raw[raw["day"] == "2011-12-09"]
    last_week = raw[raw["day"] >= "2011-12-05"]
    invoices = raw.groupby("InvoiceNo").agg(total=("value", "sum"), day=("day", "first"))
    sales = invoices[~invoices.index.str.startswith("C") & (invoices["total"] > 0)]

    revenue = _forecast(retail, "revenue", "D")
    assert revenue.history[-1] == ["2011-12-08", pytest.approx(raw.loc[raw["day"] == "2011-12-08", "value"].sum())]
    assert "2011-12-09" not in {d for d, _v in revenue.history}
    partial, first_whole = revenue.points[0], revenue.points[1]
    # net revenue so far on the last day: sales less the 7 credit-note lines of that morning
    assert partial["partial"] is True and partial["date"] == "2011-12-09"
    assert partial["so_far"] == pytest.approx(last_day["value"].sum(), abs=0.01)  # 32,111.91
    assert partial["mean"] >= partial["so_far"]
    assert first_whole["date"] == "2011-12-10" and "partial" not in first_whole
    assert len(revenue.points) == 1 + 28

    orders = _forecast(retail, "orders", "D")
    # purchases (sale invoices with a positive total), not credit notes: 44 sale invoices by noon on
    # the last day, less 581483 (168,469.60), which C581484 cancelled 12 minutes later (ADR 0007)
    cancelled = invoices_cancelled_by_credit_notes(raw.assign(CustomerID=raw["CustomerID"].fillna("")))
    assert "581483" in cancelled
    last_morning = sales[(sales["day"] == "2011-12-09") & ~sales.index.isin(cancelled)]
    assert orders.points[0]["so_far"] == len(last_morning) == 43

    weekly = _forecast(retail, "revenue", "W")
    assert weekly.history[-1][0] == "2011-12-04"
    assert weekly.history[-1][1] == pytest.approx(
        raw.loc[(raw["day"] >= "2011-11-28") & (raw["day"] < "2011-12-05"), "value"].sum(), abs=0.01
    )
    assert weekly.points[0]["date"] == "2011-12-11" and weekly.points[0]["partial"] is True
    assert weekly.points[0]["so_far"] == pytest.approx(last_week["value"].sum(), abs=0.01)  # 300,098.44
    assert weekly.points[1]["date"] == "2011-12-18" and len(weekly.points) == 1 + 12


def test_no_segment_forecast_collapses_on_the_partial_last_week(retail):
    clusters = [
        f
        for f in Forecast.unscoped.filter(run=retail.run, segment__isnull=False, freq="W").select_related("segment")
        if f.segment.kind in (SegmentKind.CLUSTER, SegmentKind.OUTLIERS)
    ]
    assert len(clusters) >= 2
    for f in clusters:
        assert f.history[-1][0] == "2011-12-04", f.segment.key
        assert f.points[0]["partial"] is True and f.points[0]["date"] == "2011-12-11"
        # before: the 4.5 days of the last week were learnt as a whole week, and a cluster's
        # seasonal-naive forecast fell to 12,700 a week against 29-47 thousand (-70%)
        recent = sum(v for _d, v in f.history[-4:]) / 4
        next_week = f.points[1]["mean"]
        assert 0.5 < next_week / recent < 2, (f.segment.key, next_week, recent)
    with shop_scope(retail.shop):
        rows = segment_forecasts(shop=retail.shop, run=retail.run)
    assert rows and all(r["change"] is not None and r["change"] > -0.5 for r in rows), [
        (r["segment"].key, r["change"]) for r in rows
    ]
    assert all(str(r["in_progress"]) == "2011-12-11" and r["horizon"] == 12 for r in rows)


def test_pages_mark_the_period_in_progress(retail, client_for):
    client = client_for(MembershipFactory(shop=retail.shop, role=Role.OWNER).user)
    segment_forecast = Forecast.unscoped.filter(run=retail.run, segment__isnull=False, freq="W").first()
    so_far = money(segment_forecast.points[0]["so_far"], "GBP")
    pages = {
        reverse("dashboard"): "12/09/2011 is not over in your data: £32,112 so far, about £",
        reverse("forecast_list"): "12/09/2011 is not over in your data: £32,112 so far, about £",
        reverse("segment_detail", args=[segment_forecast.segment_id]): (
            f"The week ending 12/11/2011 is not over in your data: {so_far} so far, about £"
        ),
    }
    for url, sentence in pages.items():
        body = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert sentence in body, url
        # the sentence on the period in progress is the chart's description, beside its summary; the
        # chart's legend entry for it and its table row are there only when a period is in progress
        marked = re.findall(r'<p class="chart-summary chart-partial" id="([^"]+)-partial">', body)
        assert marked, url
        for chart in marked:
            assert f'aria-describedby="{chart}-summary {chart}-partial"' in body, (url, chart)
        assert body.count('data-l-partial="So far (not over yet)"') == len(marked), url
        assert "not over yet</span>" in body, url
    forecasts = client.get(reverse("forecast_list"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "43 so far, about" in forecasts  # purchases on the last morning
    assert "The week ending 12/11/2011 is not over in your data: it counts in neither." in forecasts
