from __future__ import annotations

from celery import shared_task

from analytics import services
from shops.models import Shop
from shops.scope import shop_scope


@shared_task(name="analytics.run_analysis", acks_late=True, time_limit=60 * 30, soft_time_limit=60 * 28)
def run_analysis(run_id: int) -> str:
    """Claim the queued run (at most one worker gets it) and execute it in its shop's scope."""
    run = services.analysis_run_claim(run_id=run_id)
    if run is None:
        return "not queued (already claimed or finished)"
    with shop_scope(run.shop):
        run = services.analysis_run_execute(run=run)
    return run.status


@shared_task(name="analytics.nightly_analysis", acks_late=True, time_limit=120)
def nightly_analysis() -> int:
    """Queue one run per shop that has orders (beat, once a night)."""
    from customers.models import Order

    queued = 0
    for shop in Shop.objects.all():
        if Order.objects.for_shop(shop).exists():
            with shop_scope(shop):
                _run, created = services.analysis_run_request(shop=shop, trigger="nightly")
            queued += int(created)
    return queued
