"""A real Celery worker is killed (SIGKILL) in the middle of a 1,000-recipient send and restarted:
nobody receives the campaign twice and the rest is sent."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection

from campaigns import services
from campaigns.models import Campaign, CampaignStatus, Recipient
from config.celery import app
from tests.campaigns.factories import consenting_customers, due_campaign, segment_with_members
from tests.worker_support import celery_worker, database_url_for_worker, purge_queues

RECIPIENTS = 1000
KILL_AFTER_SENT = 350  # mid-chunk (chunks of 100), most likely inside a hand-off
WORKER_CONCURRENCY = 1  # tests/worker_support.py runs one solo process
TIMEOUT = 180
SCAN_EVERY = 10


def _wait(condition, worker, what: str) -> None:
    """Poll until condition(); meanwhile run the due-scan every few seconds, as beat would (with the
    normal lease), so a send task lost by the broker is replaced."""
    deadline = time.monotonic() + TIMEOUT
    next_scan = time.monotonic() + SCAN_EVERY
    while not condition():
        assert worker.alive(), f"the worker died:\n{worker.log()}"
        assert time.monotonic() < deadline, f"{what} did not happen in {TIMEOUT} s; worker log:\n{worker.log()}"
        if time.monotonic() > next_scan:
            services.campaigns_due_scan(stall=dt.timedelta(seconds=SCAN_EVERY))
            next_scan = time.monotonic() + SCAN_EVERY
        time.sleep(0.05)


def _status_counts(campaign) -> Counter:
    return Counter(Recipient.unscoped.filter(campaign=campaign).values_list("status", flat=True))


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_and_restarted_sends_nobody_twice(shop, smtp, capsys):
    app.conf.task_always_eager = False  # the autouse _celery_eager fixture turned it on
    purge_queues(app)
    people = consenting_customers(shop, RECIPIENTS + RECIPIENTS // 9)  # ~1,000 treated after a 10% holdout
    campaign = due_campaign(shop, segment_with_members(shop, people), holdout_share=Decimal("0.10"))
    smtp.delay = 0.004  # a hand-off that takes a moment, so the kill can land inside one
    worker_env = {"EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}"}
    db_url = database_url_for_worker(connection.settings_dict)

    with celery_worker(database_url=db_url, queues=("campaigns",), extra_env=worker_env) as worker:
        report = services.campaign_start(campaign_id=campaign.pk)  # commits; its send tasks go to the broker
        assert report.pending == RECIPIENTS
        _wait(lambda: _status_counts(campaign)["sent"] >= KILL_AFTER_SENT, worker, f"{KILL_AFTER_SENT} sends")
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait(timeout=10)
    at_kill = _status_counts(campaign)

    # After the lease (here: at once, no worker is alive) the due-scan recovers the dead worker's claims.
    scan = services.campaigns_due_scan(lease=dt.timedelta(0), stall=dt.timedelta(0))
    assert scan.unknown == at_kill["handing_off"] <= WORKER_CONCURRENCY
    assert scan.released_claims == at_kill["claimed"]

    with celery_worker(database_url=db_url, queues=("campaigns",), extra_env=worker_env) as worker:
        _wait(lambda: Campaign.unscoped.get(pk=campaign.pk).status == CampaignStatus.SENT, worker, "the finish")

    final = _status_counts(campaign)
    received = smtp.count_by_recipient()
    sent = set(Recipient.unscoped.filter(campaign=campaign, status="sent").values_list("email", flat=True))
    unknown = set(Recipient.unscoped.filter(campaign=campaign, status="unknown").values_list("email", flat=True))
    holdout = set(Recipient.unscoped.filter(campaign=campaign, status="holdout").values_list("email", flat=True))
    with capsys.disabled():
        print(
            f"\n  at the kill: {dict(at_kill)}; after: {dict(final)}; "
            f"unknown (in hand-off at the kill): {sorted(unknown)}, of which the server had received "
            f"{sorted(unknown & set(received))}"
        )

    assert max(received.values()) == 1, [e for e, n in received.items() if n > 1]
    assert final["sent"] + final["unknown"] == RECIPIENTS
    assert final["unknown"] <= WORKER_CONCURRENCY
    assert sent <= set(received) <= sent | unknown
    assert not holdout & set(received)
    assert not {"pending", "claimed", "handing_off", "deferred"} & set(final)
