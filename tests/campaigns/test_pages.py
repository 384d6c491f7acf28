"""Campaign pages: owner and staff create and send, viewers read, strangers get 404."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, CampaignStatus
from tests.campaigns.factories import BODY, SUBJECT, CampaignFactory, consenting_customers, segment_with_members
from tests.factories import CustomerFactory


@pytest.fixture
def segment(shop):
    people = consenting_customers(shop, 5)
    people[0].first_name = "Grace"
    type(people[0]).unscoped.filter(pk=people[0].pk).update(first_name="Grace")
    return segment_with_members(shop, people)


@pytest.fixture
def campaign(shop, segment):
    return CampaignFactory(shop=shop, segment=segment, name="Spring offer")


def _form(segment, **extra) -> dict:
    data = {
        "name": "Come back",
        "segment": segment.pk,
        "subject_template": SUBJECT,
        "body_template": BODY,
        "offer_type": "percent_off",
        "offer_value": "10",
        "code_mode": "unique",
        "discount_code": "BACK",
        "holdout_percent": "10",
        "frequency_cap": "2",
        "attribution_days": "5",
        "when": "draft",
    }
    data.update(extra)
    return data


@pytest.mark.parametrize("who", ["owner_client", "staff_client", "viewer_client"])
def test_members_see_the_list_and_the_campaign(request, who, campaign):
    client = request.getfixturevalue(who)

    listing = client.get("/campaigns/")
    detail = client.get(f"/campaigns/{campaign.pk}/")

    assert listing.status_code == 200 and "Spring offer" in listing.content.decode()
    assert detail.status_code == 200
    assert detail.context["audience"].to_send > 0


def test_anonymous_visitors_are_sent_to_login(client, campaign):
    for url in ("/campaigns/", "/campaigns/new/", f"/campaigns/{campaign.pk}/"):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_strangers_get_404_for_another_shops_campaign(stranger_client, campaign):
    base = f"/campaigns/{campaign.pk}"
    assert stranger_client.get(f"{base}/").status_code == 404
    assert stranger_client.get(f"{base}/preview/").status_code == 404
    assert stranger_client.get(f"{base}/edit/").status_code == 404
    for action in ("schedule", "cancel", "test-send", "results/refresh"):
        assert stranger_client.post(f"{base}/{action}/", {"when": "now"}).status_code == 404
    assert "Spring offer" not in stranger_client.get("/campaigns/").content.decode()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_viewers_may_not_change_anything(viewer_client, campaign, segment):
    base = f"/campaigns/{campaign.pk}"
    assert viewer_client.post("/campaigns/new/", _form(segment)).status_code == 403
    assert viewer_client.post(f"{base}/edit/", _form(segment)).status_code == 403
    for action in ("schedule", "cancel", "test-send", "results/refresh"):
        assert viewer_client.post(f"{base}/{action}/", {"when": "now"}).status_code == 403
    assert Campaign.unscoped.count() == 1 and Campaign.unscoped.get().status == CampaignStatus.DRAFT


def test_create_page_preselects_the_segment_from_the_segment_page(owner_client, segment):
    response = owner_client.get(f"/campaigns/new/?segment={segment.pk}")

    assert response.status_code == 200
    assert response.context["form"]["segment"].value() == segment.pk
    assert f'<option value="{segment.pk}" selected>' in response.content.decode()


def test_create_ignores_another_shops_segment_in_the_query(owner_client, other_shop):
    foreign = segment_with_members(other_shop, [CustomerFactory(shop=other_shop)], name="Foreign")

    response = owner_client.get(f"/campaigns/new/?segment={foreign.pk}")

    assert response.status_code == 200 and "Foreign" not in response.content.decode()


@pytest.mark.parametrize("who", ["owner_client", "staff_client"])
def test_owner_and_staff_schedule_at_a_local_time_in_the_shops_time_zone(request, who, shop, segment):
    client = request.getfixturevalue(who)

    response = client.post("/campaigns/new/", _form(segment, when="later", send_at="2030-07-01T10:00"))

    campaign = Campaign.unscoped.get()
    assert response.status_code == 302 and response["Location"] == f"/campaigns/{campaign.pk}/"
    assert campaign.status == CampaignStatus.SCHEDULED
    assert campaign.scheduled_at == dt.datetime(2030, 7, 1, 9, 0, tzinfo=dt.UTC)  # London is UTC+1 in July
    assert campaign.segment_key == segment.key and campaign.holdout_share == Decimal("0.10")
    assert campaign.created_by is not None


def test_a_local_time_skipped_by_the_clock_change_is_refused(owner_client, segment):
    response = owner_client.post("/campaigns/new/", _form(segment, when="later", send_at="2030-03-31T01:30"))

    assert response.status_code == 200
    assert "does not exist" in str(response.context["schedule"].errors["send_at"])
    assert not Campaign.unscoped.exists()


def test_template_errors_name_the_placeholder(owner_client, segment):
    response = owner_client.post("/campaigns/new/", _form(segment, body_template="Hi {{ frist_name }}"))

    assert response.status_code == 200
    assert "frist_name" in str(response.context["form"].errors["body_template"])


def test_send_now_from_the_create_page_sends(owner_client, segment, smtp, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post("/campaigns/new/", _form(segment, when="now", holdout_percent="0"))

    campaign = Campaign.unscoped.get()
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT and len(smtp.messages()) == 5


def test_a_scheduled_campaign_can_be_edited_rescheduled_and_cancelled(owner_client, shop, campaign, segment):
    services.campaign_schedule(campaign=campaign, send_at=timezone.now() + dt.timedelta(days=2))
    base = f"/campaigns/{campaign.pk}"

    owner_client.post(f"{base}/edit/", _form(segment, name="Renamed", when="later", send_at="2030-01-05T08:00"))
    campaign.refresh_from_db()
    assert (campaign.name, campaign.status) == ("Renamed", CampaignStatus.SCHEDULED)
    assert campaign.scheduled_at == dt.datetime(2030, 1, 5, 8, 0, tzinfo=dt.UTC)

    owner_client.post(f"{base}/schedule/", {"when": "later", "send_at": "2030-02-01T12:00"})
    campaign.refresh_from_db()
    assert campaign.scheduled_at == dt.datetime(2030, 2, 1, 12, 0, tzinfo=dt.UTC)

    owner_client.post(f"{base}/cancel/")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    assert services.campaigns_due_scan(now=dt.datetime(2030, 3, 1, tzinfo=dt.UTC)).started == []


def test_a_started_campaign_can_no_longer_be_edited(owner_client, campaign, segment):
    Campaign.unscoped.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)

    response = owner_client.post(f"/campaigns/{campaign.pk}/edit/", _form(segment, name="Too late"))
    cancel = owner_client.post(f"/campaigns/{campaign.pk}/cancel/", follow=True)

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.name == "Spring offer" and campaign.status == CampaignStatus.SENDING
    assert "already started" in cancel.content.decode()
    with pytest.raises(services.CampaignError):
        services.campaign_update(campaign=campaign, data={"name": "Too late"})


def test_preview_for_a_chosen_member_as_htmx_partial_and_as_a_page(viewer_client, campaign, segment, shop):
    grace = segment.memberships(manager="unscoped").order_by("customer_id").first().customer
    url = f"/campaigns/{campaign.pk}/preview/?customer={grace.pk}"

    partial = viewer_client.get(url, HTTP_HX_REQUEST="true")
    page = viewer_client.get(url)
    outsider = CustomerFactory(shop=shop)
    refused = viewer_client.get(f"/campaigns/{campaign.pk}/preview/?customer={outsider.pk}", HTTP_HX_REQUEST="true")

    html_url = f"/campaigns/{campaign.pk}/preview/html/?customer={grace.pk}"
    assert partial.status_code == 200 and b"topbar" not in partial.content and html_url in partial.content.decode()
    assert "Grace, 15% off at Alpha Coffee" in partial.content.decode()
    html = viewer_client.get(html_url)  # the HTML version, framed by the partial
    assert html.status_code == 200 and "</html>" in html.content.decode() and "Grace" in html.content.decode()
    assert page.status_code == 200 and b"topbar" in page.content
    assert "not in this campaign" in refused.content.decode()


def test_test_send_goes_to_the_logged_in_owner(owner_client, owner, campaign, smtp):
    response = owner_client.post(f"/campaigns/{campaign.pk}/test-send/")

    assert response.status_code == 302
    [received] = smtp.messages()
    assert received.to == owner.email and received.message["Subject"].startswith("[Test] ")


def test_the_page_warns_when_the_shop_has_no_postal_address(owner_client, shop, campaign):
    type(shop).objects.filter(pk=shop.pk).update(postal_address="")

    detail = owner_client.get(f"/campaigns/{campaign.pk}/").content.decode()
    schedule = owner_client.post(f"/campaigns/{campaign.pk}/schedule/", {"when": "now"}, follow=True)

    assert "postal address" in detail
    assert "postal address" in schedule.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_results_partial_for_htmx_polling(owner_client, campaign):
    Campaign.unscoped.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING, started_at=timezone.now())

    response = owner_client.get(f"/campaigns/{campaign.pk}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="campaign-results")

    assert response.status_code == 200 and b"<html" not in response.content
    assert "Results" in response.content.decode()
