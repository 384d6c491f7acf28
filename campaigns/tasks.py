"""Background jobs of the campaigns app (queue `campaigns`, see config/celery.py).

Tasks take ids and call one service; every one of them may run twice or at the same time
as another copy: the services claim their work with conditional UPDATEs.
"""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task
from celery.signals import worker_process_init, worker_ready

from campaigns import attribution, sending, services


@worker_ready.connect
@worker_process_init.connect
def _load_urlconf(**kwargs) -> None:
    """Load the URLconf (and with it every app's views) when the worker starts, not during the
    first campaign message, whose links need reverse()."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the attribute loads it


@shared_task(name="campaigns.due_scan", acks_late=True, time_limit=300, soft_time_limit=270, max_retries=0)
def due_scan() -> dict:
    """Beat, every minute: start due campaigns, recover expired claims, release deferred recipients."""
    return asdict(services.campaigns_due_scan())


@shared_task(name="campaigns.start_campaign", acks_late=True, time_limit=300, soft_time_limit=270, max_retries=0)
def start_campaign(campaign_id: int) -> dict | None:
    """Start one campaign whose time has come ("send now"); a no-op if it already started."""
    report = services.campaign_start(campaign_id=campaign_id)
    return asdict(report) if report else None


@shared_task(
    name="campaigns.send_chunk",
    bind=True,
    acks_late=True,
    time_limit=600,
    soft_time_limit=540,
    max_retries=6,
)
def send_chunk(self, campaign_id: int) -> dict:
    """Send chunks of a sending campaign until none is pending (or the time budget is spent: then queue
    a follow-up). A mail server that cannot be reached is retried with backoff; its claims are given back."""
    try:
        report, more = sending.campaign_send(campaign_id=campaign_id, worker=self.request.hostname or "")
    except sending.MailServerUnavailable as exc:
        raise self.retry(exc=exc, countdown=min(600, 15 * 2**self.request.retries))
    if more:
        send_chunk.delay(campaign_id)
    return asdict(report)


@shared_task(name="campaigns.refresh_attribution", acks_late=True, time_limit=900, soft_time_limit=840)
def refresh_attribution() -> int:
    """Beat, every 15 minutes: attribute new orders to campaigns whose window may still take them."""
    return attribution.campaigns_attribution_refresh_open()
