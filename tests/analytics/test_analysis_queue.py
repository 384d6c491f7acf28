"""Queueing runs: after a data change, nightly, from the worker; one run at a time per shop."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from analytics import services, tasks
from analytics.models import AnalysisRun, RunStatus
from customers.signals import data_changed
from tests.factories import CustomerFactory, OrderFactory, ShopFactory


def _with_orders(shop):
    OrderFactory(shop=shop, customer=CustomerFactory(shop=shop))
    return shop


@pytest.mark.django_db
def test_a_data_change_queues_one_run_and_no_second_while_it_waits(shop, settings, django_capture_on_commit_callbacks):
    settings.ANALYTICS_AUTORUN = True

    with django_capture_on_commit_callbacks() as queued:
        data_changed.send(sender=None, shop_id=shop.pk, reason="import")
        data_changed.send(sender=None, shop_id=shop.pk, reason="sync")
        data_changed.send(sender=None, shop_id=shop.pk, reason="webhook")

    run = AnalysisRun.unscoped.get(shop=shop)
    assert run.status == RunStatus.QUEUED and run.trigger == "import"
    assert len(queued) == 1


@pytest.mark.django_db
def test_a_data_change_starts_nothing_when_autorun_is_off(shop, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        data_changed.send(sender=None, shop_id=shop.pk, reason="import")

    assert not AnalysisRun.unscoped.filter(shop=shop).exists() and not queued


@pytest.mark.django_db
def test_the_queued_task_runs_the_analysis_in_the_shops_scope(shop, settings, django_capture_on_commit_callbacks):
    settings.ANALYTICS_AUTORUN = True
    _with_orders(shop)

    with django_capture_on_commit_callbacks(execute=True):
        data_changed.send(sender=None, shop_id=shop.pk, reason="import")

    run = AnalysisRun.unscoped.get(shop=shop)
    assert run.status == RunStatus.DONE and run.is_current, run.error
    assert run.summary["customers"] == 1


@pytest.mark.django_db
def test_the_task_does_nothing_with_a_run_already_claimed(shop):
    run = AnalysisRun.unscoped.create(shop=shop, status=RunStatus.RUNNING, started_at=timezone.now())

    assert tasks.run_analysis(run.pk) == "not queued (already claimed or finished)"
    assert AnalysisRun.unscoped.get(pk=run.pk).status == RunStatus.RUNNING


@pytest.mark.django_db
def test_a_run_whose_worker_died_does_not_block_the_shop(shop, django_capture_on_commit_callbacks):
    long_ago = timezone.now() - dt.timedelta(hours=2)
    lost = AnalysisRun.unscoped.create(shop=shop, status=RunStatus.RUNNING, started_at=long_ago)
    AnalysisRun.unscoped.filter(pk=lost.pk).update(created_at=long_ago)
    recent = AnalysisRun.unscoped.create(shop=ShopFactory(slug="busy"), status=RunStatus.RUNNING)
    AnalysisRun.unscoped.filter(pk=recent.pk).update(started_at=timezone.now())

    with django_capture_on_commit_callbacks():
        run, created = services.analysis_run_request(shop=shop, trigger="owner")

    assert created and run.status == RunStatus.QUEUED
    lost.refresh_from_db()
    assert lost.status == RunStatus.FAILED and "worker stopped" in lost.error
    assert AnalysisRun.unscoped.get(pk=recent.pk).status == RunStatus.RUNNING


@pytest.mark.django_db
def test_nightly_queues_one_run_per_shop_with_orders(shop, other_shop, django_capture_on_commit_callbacks):
    _with_orders(shop)
    _with_orders(other_shop)
    ShopFactory(slug="no-orders-yet")

    with django_capture_on_commit_callbacks() as queued:
        assert tasks.nightly_analysis() == 2
        assert tasks.nightly_analysis() == 0  # still queued: not twice

    runs = AnalysisRun.unscoped.all()
    assert sorted(r.shop_id for r in runs) == sorted([shop.pk, other_shop.pk])
    assert {r.trigger for r in runs} == {"nightly"} and len(queued) == 2


@pytest.mark.django_db
def test_a_run_is_claimed_once(shop):
    run = AnalysisRun.unscoped.create(shop=shop)

    first = services.analysis_run_claim(run_id=run.pk)
    second = services.analysis_run_claim(run_id=run.pk)

    assert first is not None and first.status == RunStatus.RUNNING and first.started_at
    assert second is None


@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_the_same_run_at_once_only_one_gets_it(shop):
    run = AnalysisRun.unscoped.create(shop=shop)
    start = threading.Barrier(2)
    claims = []

    def worker():
        try:
            start.wait()
            while True:
                try:
                    claims.append(services.analysis_run_claim(run_id=run.pk))
                    break
                except OperationalError:  # SQLite's shared in-memory test database: "table is locked"
                    continue
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(claims) == 2
    assert sum(claim is not None for claim in claims) == 1
    assert AnalysisRun.unscoped.get(pk=run.pk).status == RunStatus.RUNNING


@pytest.mark.django_db
@pytest.mark.parametrize("warming", ["works", "fails"])
def test_the_task_warms_the_new_run_s_pages_and_a_failed_warm_up_leaves_the_run_done(shop, monkeypatch, warming):
    from analytics.selectors import segments as segment_pages

    _with_orders(shop)
    warmed = []

    def warm(*, shop, run):
        warmed.append(run.pk)
        if warming == "fails":
            raise RuntimeError("the cache is away")
        return 0

    monkeypatch.setattr(segment_pages, "segment_pages_warm", warm)
    run = services.analysis_run_create(shop=shop, trigger="test")

    assert tasks.run_analysis(run.pk) == RunStatus.DONE
    assert warmed == [run.pk]
    assert AnalysisRun.unscoped.get(pk=run.pk).is_current
