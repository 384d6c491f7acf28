"""Celery task of the CSV import: load the job id, call the service (queue "ingest")."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from customers.importers import services


@shared_task(
    name="customers.import_job_run",
    acks_late=True,
    time_limit=services.IMPORT_TIME_LIMIT,
    soft_time_limit=services.IMPORT_TIME_LIMIT - 60,
    autoretry_for=(OperationalError,),
    retry_backoff=30,
    max_retries=3,
)
def import_job_run(import_job_id: int) -> None:
    """Run import job `import_job_id` once: the service claims it with a conditional UPDATE,
    so a redelivered or duplicated message does nothing."""
    services.import_job_run(job_id=import_job_id)
