"""One analysed demo shop shared by all page tests (generating and analysing per test would be slow).

The shop has an owner, a staff member and a viewer; a stranger owns another shop. A fake
earlier run with one segment lets the pages show changes since the previous analysis.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.test import Client, override_settings

from analytics import services
from analytics.models import AnalysisRun, RunStatus, Segment, SegmentKind, SegmentMembership
from customers.demo import demo_shop_generate
from shops.scope import shop_scope
from tests.factories import MembershipFactory, ShopFactory

AS_OF = dt.date(2026, 3, 1)
N_CUSTOMERS = 300


def _client(user) -> Client:
    client = Client()
    client.force_login(user, backend="shops.auth.EmailOrUsernameBackend")
    return client


@pytest.fixture(scope="package")
def analysed(django_db_setup, django_db_blocker):
    """A demo shop of 300 customers with one finished analysis run (current) and a fake earlier run."""
    with django_db_blocker.unblock():
        shop = ShopFactory(name="Pages Demo", slug="pages-demo", timezone="Europe/London", currency="GBP")
        other = ShopFactory(name="Other Shop", slug="pages-other")
        people = {role: MembershipFactory(shop=shop, role=role).user for role in ("owner", "staff", "viewer")}
        people["stranger"] = MembershipFactory(shop=other, role="owner").user
        try:
            # session fixtures run before the autouse settings fixtures: no autorun, no broker
            with override_settings(ANALYTICS_AUTORUN=False), shop_scope(shop):
                demo_shop_generate(shop=shop, customers=N_CUSTOMERS, seed=7, as_of=AS_OF)
                previous = _fake_previous_run(shop)
                run = services.analysis_run_create(shop=shop, trigger="test")
                run = services.analysis_run_execute(run=services.analysis_run_claim(run_id=run.pk))
            assert run.status == RunStatus.DONE, run.error
            with shop_scope(other):
                other_run = AnalysisRun.objects.create(shop=other, status=RunStatus.DONE)
                other_segment = Segment.objects.create(
                    shop=other, run=other_run, kind=SegmentKind.CLUSTER, key="cluster:0", name="Cluster 1"
                )
            yield SimpleNamespace(
                shop=shop,
                other=other,
                run=run,
                previous=previous,
                users=people,
                other_run=other_run,
                other_segment=other_segment,
            )
        finally:
            shop.delete()
            other.delete()
            for user in people.values():
                user.delete()


def _fake_previous_run(shop) -> AnalysisRun:
    """A finished run from a week earlier, with a smaller "Champions" group, so trends and changes show."""
    run = AnalysisRun.objects.create(shop=shop, status=RunStatus.DONE, trigger="test", summary={"rules": {"count": {}}})
    AnalysisRun.unscoped.filter(pk=run.pk).update(created_at=dt.datetime(2026, 2, 20, tzinfo=dt.UTC))
    segment = Segment.objects.create(
        shop=shop, run=run, kind=SegmentKind.RFM, key="rfm:champions", name="Champions", size=3
    )
    from customers.models import Customer

    for customer in Customer.objects.for_shop(shop).order_by("id")[:3]:
        SegmentMembership.objects.create(shop=shop, run=run, segment=segment, customer=customer)
    run.refresh_from_db()
    return run


@pytest.fixture
def pages(analysed, db):
    """Clients for the analysed shop's owner, staff and viewer, and a stranger from another shop."""
    return SimpleNamespace(
        **vars(analysed),
        owner=_client(analysed.users["owner"]),
        staff=_client(analysed.users["staff"]),
        viewer=_client(analysed.users["viewer"]),
        stranger=_client(analysed.users["stranger"]),
    )


@pytest.fixture
def hx():
    """Send a request as HTMX does: hx(client, "get", url, ...)."""

    def send(client: Client, method: str, url: str, **kwargs):
        return getattr(client, method)(url, HTTP_HX_REQUEST="true", **kwargs)

    return send
