"""API keys: only owners create and revoke them; the raw key is shown once and stored hashed."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client
from django.urls import reverse

from shops.models import ApiKey
from tests.factories import ApiKeyFactory, CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _raw_key_from(response) -> str:
    return response.context["issued"].raw_key


def test_owner_creates_a_key_shown_once_and_stored_hashed(owner_client, owner, shop):
    response = owner_client.post(reverse("api_key_create"), {"key-name": "ERP sync"})

    assert response.status_code == 200
    raw = _raw_key_from(response)
    assert raw.startswith("sk_") and len(raw) > 40
    assert raw in response.content.decode()
    key = ApiKey.objects.for_shop(shop).get()
    assert (key.name, key.created_by, key.prefix) == ("ERP sync", owner, raw[:10])
    assert key.hashed_key == hashlib.sha256(raw.encode()).hexdigest()
    stored = [str(value) for value in ApiKey.unscoped.filter(pk=key.pk).values().get().values()]
    assert raw not in stored
    # Never again: the settings page shows the prefix only.
    settings_page = owner_client.get(reverse("shop_settings")).content.decode()
    assert key.prefix in settings_page
    assert raw not in settings_page


def test_a_created_key_works_on_the_api(owner_client, shop):
    customer = CustomerFactory(shop=shop)
    raw = _raw_key_from(owner_client.post(reverse("api_key_create"), {"key-name": "ERP"}))

    response = Client().get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [customer.pk]


def test_a_key_without_a_name_is_refused(owner_client, shop):
    response = owner_client.post(reverse("api_key_create"), {"key-name": ""}, follow=True)

    assert "Give the key a name" in response.content.decode()
    assert not ApiKey.objects.for_shop(shop).exists()


@pytest.mark.parametrize("member", ["staff_client", "viewer_client"])
def test_key_create_is_forbidden_below_owner(request, member, shop):
    response = request.getfixturevalue(member).post(reverse("api_key_create"), {"key-name": "sneaky"})

    assert response.status_code == 403
    assert not ApiKey.objects.for_shop(shop).exists()


def test_key_create_sends_anonymous_visitors_to_login(client, shop):
    assert client.post(reverse("api_key_create"), {"key-name": "x"})["Location"].startswith(reverse("login"))
    assert not ApiKey.objects.for_shop(shop).exists()


def test_key_create_needs_post(owner_client):
    assert owner_client.get(reverse("api_key_create")).status_code == 405


def test_owner_revokes_a_key_and_it_stops_working(owner_client, client, shop):
    ApiKeyFactory(shop=shop, raw="sk_revoke_me_0000000000000000000000000000000")
    key = ApiKey.objects.for_shop(shop).get()
    auth = {"HTTP_AUTHORIZATION": "Bearer sk_revoke_me_0000000000000000000000000000000"}
    assert client.get("/api/v1/customers/", **auth).status_code == 200

    response = owner_client.post(reverse("api_key_revoke", args=[key.pk]))

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    refused = client.get("/api/v1/customers/", **auth)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]


@pytest.mark.parametrize("member", ["staff_client", "viewer_client"])
def test_key_revoke_is_forbidden_below_owner(request, member, shop):
    key = ApiKeyFactory(shop=shop)

    assert request.getfixturevalue(member).post(reverse("api_key_revoke", args=[key.pk])).status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None


def test_revoking_another_shops_key_is_404(owner_client, other_shop):
    key = ApiKeyFactory(shop=other_shop)

    assert owner_client.post(reverse("api_key_revoke", args=[key.pk])).status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_stranger_cannot_revoke_shops_key(stranger_client, shop):
    key = ApiKeyFactory(shop=shop)

    assert stranger_client.post(reverse("api_key_revoke", args=[key.pk])).status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_key_revoke_needs_post(owner_client, shop):
    key = ApiKeyFactory(shop=shop)

    assert owner_client.get(reverse("api_key_revoke", args=[key.pk])).status_code == 405


def test_api_use_records_last_used(client, shop):
    key = ApiKeyFactory(shop=shop, raw="sk_touch_0000000000000000000000000000000000")

    client.get("/api/v1/customers/", HTTP_AUTHORIZATION="Bearer sk_touch_0000000000000000000000000000000000")

    key.refresh_from_db()
    assert key.last_used_at is not None
