"""Celery application. Queues: ingest, analytics, campaigns (and default)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("shop_insights")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_routes = {
    "customers.*": {"queue": "ingest"},
    "analytics.*": {"queue": "analytics"},
    "campaigns.*": {"queue": "campaigns"},
}
app.autodiscover_tasks()
