"""The public preference survey: updates the right shop's customer, resists spam."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from customers.models import Customer, SurveyResponse
from customers.survey import RATE_LIMIT
from tests.factories import CustomerFactory


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def _answers(**extra) -> dict:
    return {
        "email": "Ada@Example.org",
        "age_range": "25-34",
        "occupation": "Engineer",
        "interests": ["books", "tech"],
        "email_consent": "on",
        **extra,
    }


def test_survey_page_is_public(client, shop):
    response = client.get("/survey/alpha/")
    assert response.status_code == 200
    assert "Alpha Coffee" in response.content.decode()


def test_embed_can_be_framed(client, shop):
    response = client.get("/survey/alpha/embed/")
    assert response.status_code == 200
    assert "X-Frame-Options" not in response.headers
    assert "<html" in response.content.decode() and "topbar" not in response.content.decode()


def test_unknown_shop_is_404(client, db):
    assert client.get("/survey/nope/").status_code == 404


def test_answers_create_a_survey_customer_with_consent_time(client, shop):
    response = client.post("/survey/alpha/", _answers())
    assert response.status_code == 200
    assert "Thank you" in response.content.decode()
    customer = Customer.unscoped.get(shop=shop)
    assert (customer.source, customer.email, customer.age_range, customer.occupation) == (
        "survey",
        "ada@example.org",
        "25-34",
        "Engineer",
    )
    assert customer.interests == ["books", "tech"]
    assert customer.email_consent is True and customer.email_consent_at is not None
    response_row = SurveyResponse.unscoped.get(shop=shop)
    assert response_row.customer == customer and response_row.answers["interests"] == ["books", "tech"]


def test_answers_update_the_existing_customer_with_that_email(client, shop):
    existing = CustomerFactory(shop=shop, email="ada@example.org", source="shopify", first_name="Ada")
    client.post("/survey/alpha/embed/", _answers(email="ADA@example.org"))
    existing.refresh_from_db()
    assert (existing.age_range, existing.first_name, existing.source) == ("25-34", "Ada", "shopify")
    assert Customer.unscoped.filter(shop=shop).count() == 1


def test_unticked_consent_withdraws_it(client, shop):
    client.post("/survey/alpha/", _answers())
    answers = _answers()
    del answers["email_consent"]
    client.post("/survey/alpha/", answers)
    customer = Customer.unscoped.get(shop=shop)
    assert customer.email_consent is False and customer.email_consent_at is None


def test_never_touches_another_shops_customer(client, shop, other_shop):
    theirs = CustomerFactory(shop=other_shop, email="ada@example.org", occupation="Pilot")
    client.post("/survey/alpha/", _answers())
    theirs.refresh_from_db()
    assert theirs.occupation == "Pilot" and theirs.age_range == ""
    assert Customer.unscoped.filter(shop=shop).count() == 1


def test_honeypot_pretends_success_and_writes_nothing(client, shop):
    response = client.post("/survey/alpha/", _answers(website="http://spam.example"))
    assert response.status_code == 200
    assert "Thank you" in response.content.decode()
    assert not Customer.unscoped.exists() and not SurveyResponse.unscoped.exists()


def test_rate_limit_per_ip_and_shop(client, shop, other_shop):
    for n in range(RATE_LIMIT):
        assert client.post("/survey/alpha/", _answers(email=f"c{n}@example.org")).status_code == 200
    response = client.post("/survey/alpha/", _answers(email="late@example.org"))
    assert response.status_code == 429
    assert not Customer.unscoped.filter(email="late@example.org").exists()
    # Another shop's survey has its own allowance; another IP too.
    assert client.post("/survey/beta/", _answers(email="late@example.org")).status_code == 200
    other_ip = client.post("/survey/alpha/", _answers(email="x@example.org"), REMOTE_ADDR="203.0.113.9")
    assert other_ip.status_code == 200


def test_invalid_email_shows_the_error_and_writes_nothing(client, shop):
    response = client.post("/survey/alpha/", _answers(email="not-an-email"))
    assert response.status_code == 200
    assert "valid email" in response.content.decode()
    assert not Customer.unscoped.exists()
