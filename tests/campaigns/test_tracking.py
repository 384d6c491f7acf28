"""Unsubscribe (one-click POST, GET only asks), open pixel, click redirect: signed, no open redirect."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote

import pytest
from django.test import Client

from campaigns import sending, services, tracking
from campaigns.models import Recipient, Suppression, TrackingEvent
from tests.campaigns.factories import consenting_customers, due_campaign, segment_with_members


@pytest.fixture
def sent(shop, smtp):
    """A sent campaign and the messages the SMTP server received."""
    people = consenting_customers(shop, 3)
    campaign = due_campaign(shop, segment_with_members(shop, people), holdout_share=Decimal("0"))
    services.campaign_start(campaign_id=campaign.pk)
    sending.campaign_send(campaign_id=campaign.pk)
    return campaign, {m.to: m for m in smtp.messages()}


def _path(url: str) -> str:
    return url.replace("https://insights.example", "")


def _unsubscribe_url(received) -> str:
    return _path(received.message["List-Unsubscribe"].split(",")[0].strip().strip("<>"))


def test_get_asks_and_does_not_unsubscribe(sent, shop):
    campaign, received = sent
    email, message = next(iter(received.items()))

    response = Client().get(_unsubscribe_url(message))

    assert response.status_code == 200
    assert b'method="post"' in response.content
    assert not Suppression.unscoped.filter(shop=shop).exists()


def test_one_click_post_unsubscribes_without_login_cookie_or_csrf_token(sent, shop):
    campaign, received = sent
    email, message = next(iter(received.items()))
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        _unsubscribe_url(message), data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    suppression = Suppression.unscoped.get(shop=shop, email=email)
    assert (suppression.reason, suppression.campaign_id) == ("unsubscribed", campaign.pk)
    assert client.post(_unsubscribe_url(message)).status_code == 200  # twice is fine


def test_an_unsubscribed_customer_gets_no_further_campaign(sent, shop, smtp):
    campaign, received = sent
    email, message = next(iter(received.items()))
    Client().post(_unsubscribe_url(message))
    people = [r.customer for r in Recipient.unscoped.filter(campaign=campaign).select_related("customer")]
    smtp.clear()

    second = due_campaign(shop, segment_with_members(shop, people, key="rfm:second"), holdout_share=Decimal("0"))
    report = services.campaign_start(campaign_id=second.pk)
    sending.campaign_send(campaign_id=second.pk)

    assert report.excluded["unsubscribed"] == 1
    assert email not in smtp.count_by_recipient() and len(smtp.messages()) == 2


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_unsubscribe_token_is_404(sent, shop, method):
    _campaign, received = sent
    url = _unsubscribe_url(next(iter(received.values())))
    payload, signature = url.strip("/").rsplit("/", 1)[1].split(".")
    real = tracking.unsubscribe_token_read(f"{payload}.{signature}")
    other = tracking.unsubscribe_token(shop_id=shop.pk, customer_id=real.customer_id + 1, campaign_id=real.campaign_id)
    forged = other.split(".")[0]

    for bad in (f"{forged}.{signature}", f"{payload}.{signature[:-1]}x", "nonsense"):
        assert getattr(Client(), method)(f"/u/{bad}/").status_code == 404
    assert not Suppression.unscoped.exists()


def test_a_token_of_another_purpose_is_refused(db):
    token = tracking.open_token(recipient_id=5)
    assert tracking.unsubscribe_token_read(token) is None
    assert tracking.click_token_read(token, "https://a.example/") is None


def test_a_test_message_unsubscribe_link_unsubscribes_nobody(shop):
    token = tracking.unsubscribe_token(shop_id=shop.pk, customer_id=0, campaign_id=1)

    response = Client().post(f"/u/{token}/")

    assert response.status_code == 200 and b"test" in response.content
    assert not Suppression.unscoped.exists()


def test_open_pixel_sets_opened_at_once(sent):
    campaign, received = sent
    email, message = next(iter(received.items()))
    html = message.part("text/html")
    pixel = _path(html.split('<img src="', 1)[1].split('"', 1)[0])

    first = Client().get(pixel)
    opened_at = Recipient.unscoped.get(campaign=campaign, email=email).opened_at
    Client().get(pixel)

    assert first.status_code == 200 and first["Content-Type"] == "image/gif" and first.content.startswith(b"GIF")
    assert opened_at is not None
    assert Recipient.unscoped.get(campaign=campaign, email=email).opened_at == opened_at
    assert TrackingEvent.unscoped.filter(kind="open").count() == 2
    assert Client().get("/t/o/forged.abc.gif").status_code == 404


def test_click_redirects_only_to_the_signed_url(sent):
    campaign, received = sent
    email, message = next(iter(received.items()))
    html = message.part("text/html")
    link = _path(html.split('<a href="', 1)[1].split('"', 1)[0].replace("&amp;", "&"))

    response = Client().get(link)
    row = Recipient.unscoped.get(campaign=campaign, email=email)

    assert response.status_code == 302 and response["Location"] == "https://alpha.example/shop?src=mail"
    assert row.clicked_at is not None and row.opened_at is not None
    path, _query = link.split("?u=")
    for other in ("https://evil.example/", "https://alpha.example/shop?src=mail&x=1", "javascript:alert(1)"):
        assert Client().get(f"{path}?u={quote(other, safe='')}").status_code == 400
    assert Client().get(path).status_code == 400


def test_a_click_token_for_a_non_http_url_is_refused(db):
    token = tracking.click_token(recipient_id=1, url="javascript:alert(1)")
    assert tracking.click_token_read(token, "javascript:alert(1)") is None


def test_a_reported_bounce_counts_against_delivered_and_suppresses_the_address(sent, shop):
    from campaigns.attribution import campaign_results

    campaign, received = sent
    email, message = next(iter(received.items()))

    assert tracking.bounce_record(shop_id=shop.pk, message_id=message.message["Message-ID"])
    assert not tracking.bounce_record(shop_id=shop.pk, message_id="<nobody@example>")

    results = campaign_results(shop=shop, campaign=campaign)
    assert (results.sent, results.bounced, results.delivered) == (3, 1, 2)
    assert Suppression.unscoped.get(shop=shop, email=email).reason == "bounced"
