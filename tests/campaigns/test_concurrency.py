"""Two due-scans and two senders at the same time, each on its own database connection."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connections

from campaigns import sending, services
from campaigns.models import CampaignStatus, Recipient
from tests.campaigns.factories import consenting_customers, due_campaign, segment_with_members


def _in_threads(target, count: int = 2) -> list:
    """Run target() in `count` threads released together; returns their results (or exceptions)."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i):
        try:
            barrier.wait()
            results[i] = target()
        except Exception as exc:  # reported by the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


@pytest.mark.django_db(transaction=True)
def test_two_due_scans_at_once_start_the_campaign_once(shop, smtp):
    people = consenting_customers(shop, 40)
    campaign = due_campaign(shop, segment_with_members(shop, people), holdout_share=Decimal("0.10"))

    reports = _in_threads(services.campaigns_due_scan)

    assert not [r for r in reports if isinstance(r, Exception)], reports
    assert sorted(len(r.started) for r in reports) == [0, 1]
    assert Recipient.unscoped.filter(campaign=campaign).count() == 40
    # Tasks run eagerly on commit in the scanning thread: the campaign is sent, once.
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    counts = smtp.count_by_recipient()
    assert len(counts) == 36 and set(counts.values()) == {1}


@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_never_send_a_customer_twice(shop, smtp, settings, monkeypatch):
    settings.CAMPAIGNS_CHUNK_SIZE = 7
    people = consenting_customers(shop, 60)
    campaign = due_campaign(shop, segment_with_members(shop, people), holdout_share=Decimal("0"))
    monkeypatch.setattr(services, "send_chunks_enqueue", lambda **kwargs: 0)  # the threads below are the senders
    services.campaign_start(campaign_id=campaign.pk)

    results = _in_threads(
        lambda: sending.campaign_send(campaign_id=campaign.pk, worker=threading.current_thread().name)
    )

    assert not [r for r in results if isinstance(r, Exception)], results
    counts = smtp.count_by_recipient()
    assert len(counts) == 60 and set(counts.values()) == {1}
    assert sum(r[0].sent for r in results) == 60
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
