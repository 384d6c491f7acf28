"""/api/v1/campaigns/: create, list, retrieve, preview, schedule, cancel, results; who may do what."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, CampaignStatus
from tests.campaigns.factories import BODY, SUBJECT, CampaignFactory, consenting_customers, segment_with_members
from tests.factories import ApiKeyFactory, CustomerFactory

KEY = "sk_campaign_api_test_key_000000000000000000000"


@pytest.fixture
def api(shop) -> Client:
    ApiKeyFactory(shop=shop, raw=KEY)
    return Client(HTTP_AUTHORIZATION=f"Bearer {KEY}")


@pytest.fixture
def segment(shop):
    return segment_with_members(shop, consenting_customers(shop, 4))


@pytest.fixture
def campaign(shop, segment):
    return CampaignFactory(shop=shop, segment=segment, name="Spring offer")


def _body(segment, **extra) -> dict:
    body = {
        "name": "API campaign",
        "segment": segment.pk,
        "subject_template": SUBJECT,
        "body_template": BODY,
        "offer_type": "amount_off",
        "offer_value": "5.00",
        "code_mode": "shared",
        "discount_code": "FIVE",
    }
    body.update(extra)
    return body


def test_create_list_and_retrieve(api, segment):
    created = api.post("/api/v1/campaigns/", _body(segment), content_type="application/json")

    assert created.status_code == 201, created.json()
    data = created.json()
    assert (data["status"], data["segment"], data["segment_key"], data["holdout_share"]) == (
        "draft",
        segment.pk,
        segment.key,
        "0.100",
    )
    assert [c["id"] for c in api.get("/api/v1/campaigns/").json()["results"]] == [data["id"]]
    assert api.get(f"/api/v1/campaigns/{data['id']}/").json()["name"] == "API campaign"


def test_create_refuses_an_unknown_placeholder_naming_it(api, segment):
    response = api.post(
        "/api/v1/campaigns/", _body(segment, subject_template="Hi {{ nmae }}"), content_type="application/json"
    )

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == "subject_template" and "nmae" in error["message"]


def test_create_refuses_another_shops_segment(api, other_shop):
    foreign = segment_with_members(other_shop, [CustomerFactory(shop=other_shop)])

    response = api.post("/api/v1/campaigns/", _body(foreign), content_type="application/json")

    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "segment"
    assert not Campaign.unscoped.exists()


def test_preview_for_a_member(api, campaign, segment):
    member = segment.memberships(manager="unscoped").order_by("customer_id").first().customer

    response = api.post(
        f"/api/v1/campaigns/{campaign.pk}/preview/", {"customer_id": member.pk}, content_type="application/json"
    )

    data = response.json()
    assert response.status_code == 200
    assert data["to"] == member.email and data["subject"] == f"{member.first_name}, 15% off at Alpha Coffee"
    assert data["discount_code"] in data["text"]
    assert data["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_preview_refuses_a_non_member(api, campaign, shop):
    outsider = CustomerFactory(shop=shop)

    response = api.post(
        f"/api/v1/campaigns/{campaign.pk}/preview/", {"customer_id": outsider.pk}, content_type="application/json"
    )

    assert response.status_code == 400


def test_schedule_reads_a_time_without_offset_in_the_shops_zone(api, campaign):
    response = api.post(
        f"/api/v1/campaigns/{campaign.pk}/schedule/",
        {"scheduled_at": "2030-07-01T10:00:00"},
        content_type="application/json",
    )

    assert response.status_code == 200, response.json()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED
    assert campaign.scheduled_at == dt.datetime(2030, 7, 1, 9, tzinfo=dt.UTC)


def test_schedule_refuses_the_past(api, campaign):
    response = api.post(
        f"/api/v1/campaigns/{campaign.pk}/schedule/",
        {"scheduled_at": "2020-01-01T10:00:00Z"},
        content_type="application/json",
    )

    assert response.status_code == 400 and "past" in response.json()["errors"][0]["message"]


def test_schedule_now_starts_sending(api, campaign, smtp, django_capture_on_commit_callbacks):
    Campaign.unscoped.filter(pk=campaign.pk).update(holdout_share=Decimal("0"))
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/campaigns/{campaign.pk}/schedule/", {}, content_type="application/json")

    assert response.status_code == 200
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT and len(smtp.messages()) == 4


def test_cancel_then_schedule_is_a_conflict(api, campaign):
    assert api.post(f"/api/v1/campaigns/{campaign.pk}/cancel/").json()["status"] == "cancelled"

    response = api.post(f"/api/v1/campaigns/{campaign.pk}/schedule/", {}, content_type="application/json")

    assert response.status_code == 409
    assert api.post(f"/api/v1/campaigns/{campaign.pk}/cancel/").status_code == 409


def test_patch_while_scheduled_but_not_after_the_start(api, campaign):
    services.campaign_schedule(campaign=campaign, send_at=timezone.now() + dt.timedelta(days=1))

    ok = api.patch(f"/api/v1/campaigns/{campaign.pk}/", {"name": "Renamed"}, content_type="application/json")
    Campaign.unscoped.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    late = api.patch(f"/api/v1/campaigns/{campaign.pk}/", {"name": "Late"}, content_type="application/json")

    assert ok.status_code == 200 and ok.json()["name"] == "Renamed"
    assert late.status_code == 409
    campaign.refresh_from_db()
    assert campaign.name == "Renamed"


def test_results(api, campaign):
    response = api.get(f"/api/v1/campaigns/{campaign.pk}/results/")

    data = response.json()
    assert response.status_code == 200
    assert data["audience"]["is_estimate"] is True and data["audience"]["members"] == 4
    assert data["sent"] == 0 and data["uplift"] is None


def test_viewer_reads_and_previews_but_does_not_write(viewer_client, campaign, segment):
    base = f"/api/v1/campaigns/{campaign.pk}"
    assert viewer_client.get("/api/v1/campaigns/").status_code == 200
    assert viewer_client.get(f"{base}/results/").status_code == 200
    assert viewer_client.post(f"{base}/preview/", {}, content_type="application/json").status_code == 200
    assert viewer_client.post("/api/v1/campaigns/", _body(segment), content_type="application/json").status_code == 403
    for action in ("schedule", "cancel"):
        assert viewer_client.post(f"{base}/{action}/", {}, content_type="application/json").status_code == 403
    assert viewer_client.patch(f"{base}/", {"name": "x"}, content_type="application/json").status_code == 403


def test_staff_session_writes(staff_client, segment):
    response = staff_client.post("/api/v1/campaigns/", _body(segment), content_type="application/json")
    assert response.status_code == 201


def test_strangers_get_404(stranger_client, campaign):
    base = f"/api/v1/campaigns/{campaign.pk}"
    assert stranger_client.get(f"{base}/").status_code == 404
    assert stranger_client.get(f"{base}/results/").status_code == 404
    for action in ("preview", "schedule", "cancel"):
        assert stranger_client.post(f"{base}/{action}/", {}, content_type="application/json").status_code == 404
    assert stranger_client.get("/api/v1/campaigns/").json()["results"] == []
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_the_schema_documents_the_campaign_endpoints(client, db):
    response = client.get("/api/v1/schema/?format=json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/v1/campaigns/", "/api/v1/campaigns/{id}/preview/", "/api/v1/campaigns/{id}/schedule/",
                 "/api/v1/campaigns/{id}/cancel/", "/api/v1/campaigns/{id}/results/"):  # fmt: skip
        assert path in paths
    assert paths["/api/v1/campaigns/{id}/"]["get"]["parameters"][0]["schema"]["type"] == "integer"
