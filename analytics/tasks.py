"""Celery tasks of the analytics queue: they take ids, claim their work, and call one service."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError

from analytics import services
from analytics.models import RunStatus
from shops.models import Shop
from shops.scope import shop_scope

logger = logging.getLogger(__name__)


@shared_task(
    name="analytics.run_analysis",
    acks_late=True,
    time_limit=services.RUN_TIME_LIMIT,
    soft_time_limit=services.RUN_TIME_LIMIT - 120,
    autoretry_for=(OperationalError,),  # the database was briefly away before the run was claimed
    retry_backoff=True,
    max_retries=3,
)
def run_analysis(run_id: int) -> str:
    """Claim the queued run (at most one worker gets it) and execute it in its shop's scope.

    A redelivered message finds the run claimed and does nothing; a failure inside the run is
    recorded on the run (not retried: the same data would fail the same way).
    """
    run = services.analysis_run_claim(run_id=run_id)
    if run is None:
        return "not queued (already claimed or finished)"
    with shop_scope(run.shop):
        run = services.analysis_run_execute(run=run)
        if run.status == RunStatus.DONE:
            _warm_pages(run)
    return run.status


def _warm_pages(run) -> None:
    """The segment pages' caches for the new run; a failure here leaves the run as it is (the
    pages compute on their first visit instead)."""
    from analytics.selectors.segments import segment_pages_warm

    try:
        segment_pages_warm(shop=run.shop, run=run)
    except Exception:
        logger.exception("warming the pages of run %s failed", run.pk)


@shared_task(name="analytics.nightly_analysis", acks_late=True, time_limit=300)
def nightly_analysis() -> int:
    """Queue one run per shop that has orders (beat, once a night); returns how many were queued."""
    from customers.models import Order

    queued = 0
    for shop in Shop.objects.all().order_by("pk"):
        if Order.objects.for_shop(shop).exists():
            with shop_scope(shop):
                _run, created = services.analysis_run_request(shop=shop, trigger="nightly")
            queued += int(created)
    return queued
