"""Celery tasks of the integrations: thin, they load ids and call one service.

Registered by name under customers.*, routed to the ingest queue by config/celery.py.
The worker finds this module through app.autodiscover_tasks(["customers.integrations"]).
"""

from __future__ import annotations

from celery import shared_task

from customers.integrations import selectors, services, sync
from customers.models import PlatformConnection
from shops.scope import shop_scope


@shared_task(name="customers.process_webhook_event", acks_late=True, soft_time_limit=120, time_limit=180)
def process_webhook_event(event_id: int) -> str | None:
    """Apply one stored webhook event (claims it first, so a redelivered task does nothing)."""
    return services.webhook_event_process(event_id=event_id)


@shared_task(
    name="customers.sync_connection",
    acks_late=True,
    soft_time_limit=25 * 60,
    time_limit=30 * 60,
)
def sync_connection(connection_id: int) -> int | None:
    """Pull one connection; returns the SyncRun id (None if disabled, gone or already running)."""
    connection = PlatformConnection.unscoped.select_related("shop").filter(pk=connection_id, enabled=True).first()
    if connection is None:
        return None
    with shop_scope(connection.shop):
        run = sync.connection_sync(connection=connection)
    return run.pk if run else None


@shared_task(name="customers.sync_all_connections", acks_late=True, soft_time_limit=60, time_limit=120)
def sync_all_connections() -> int:
    """Queue a pull of every enabled connection (run by beat, e.g. every 15 minutes)."""
    ids = selectors.connection_ids_to_sync()
    for connection_id in ids:
        sync_connection.delay(connection_id)
    return len(ids)
