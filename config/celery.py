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
# Task modules below an app package are not found by the default discovery.
app.autodiscover_tasks(["customers.integrations", "customers.importers"])
