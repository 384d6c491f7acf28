"""Background jobs of the shops app (default queue)."""

from __future__ import annotations

from celery import shared_task

from shops.audit import audit_events_expire


@shared_task(name="shops.expire_audit_events", acks_late=True, soft_time_limit=300, time_limit=360, max_retries=0)
def expire_audit_events() -> int:
    """Delete audit events past settings.AUDIT_RETENTION_DAYS in every shop (run daily by beat);
    returns how many went. Idempotent: a deleted event is not found again."""
    return audit_events_expire()
