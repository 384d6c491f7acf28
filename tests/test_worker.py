"""A real Celery worker process runs a real task against the test database."""

from __future__ import annotations

import os
import time

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app
from customers.models import Customer
from tests.worker_support import celery_worker, database_url_for_worker, purge_queues

POLL_SECONDS = 60


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_loads_demo_data_into_the_shop(shop):
    from customers.tasks import load_demo_data

    app.conf.task_always_eager = False  # the autouse _celery_eager fixture turned it on
    purge_queues(app)

    with celery_worker(database_url=database_url_for_worker(connection.settings_dict)) as worker:
        load_demo_data.delay(shop.id, customers=50, seed=7)
        deadline = time.monotonic() + POLL_SECONDS
        while not Customer.objects.for_shop(shop).exists():
            assert worker.alive(), f"the worker died:\n{worker.log()}"
            assert time.monotonic() < deadline, f"no customers after {POLL_SECONDS} s; worker log:\n{worker.log()}"
            time.sleep(0.5)

    assert Customer.objects.for_shop(shop).count() > 0
    assert not Customer.unscoped.exclude(shop=shop).exists()


def test_the_worker_is_given_the_test_database(db):
    url = database_url_for_worker(connection.settings_dict)

    assert url.rsplit("/", 1)[-1].startswith("test_")


def test_broker_is_redis_when_redis_url_is_set():
    if not os.environ.get("REDIS_URL"):
        pytest.skip("REDIS_URL is not set, so the filesystem transport is the broker")

    assert settings.CELERY_BROKER_URL.startswith("redis")
    assert app.conf.broker_url == os.environ["REDIS_URL"]
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
        assert conn.transport.driver_type == "redis"


def test_broker_is_the_filesystem_without_redis_url():
    if os.environ.get("REDIS_URL"):
        pytest.skip("REDIS_URL is set, so Redis is the broker")

    assert settings.CELERY_BROKER_URL == "filesystem://"
    assert app.conf.broker_transport_options["data_folder_in"].startswith(str(settings.VAR_DIR))


def test_filesystem_broker_keeps_its_state_under_var_dir():
    if os.environ.get("REDIS_URL"):
        pytest.skip("REDIS_URL is set, so Redis is the broker")

    # Without control_folder, kombu writes its exchange tables to ./control of the current directory.
    control = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("control_folder", "control")

    assert control.startswith(str(settings.VAR_DIR))
