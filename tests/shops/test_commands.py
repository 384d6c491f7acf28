"""Management commands: create_shop and create_api_key."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from shops.models import ApiKey, Membership, Role, Shop, hash_api_key
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _run(*args: str, **options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


# --- create_shop --------------------------------------------------------------------


def test_create_shop_creates_the_owner_account_and_membership():
    out, _err = _run(
        "create_shop",
        "--slug=gamma",
        "--name=Gamma Goods",
        "--owner=Owner@Gamma.example",
        "--password=a-long-unusual-passphrase-42",
        "--timezone=Europe/Berlin",
        "--currency=chf",
    )

    shop = Shop.objects.get(slug="gamma")
    user = User.objects.get(username="owner@gamma.example")
    assert (shop.name, shop.timezone, shop.currency) == ("Gamma Goods", "Europe/Berlin", "CHF")
    assert Membership.objects.get(shop=shop, user=user).role == Role.OWNER
    assert user.check_password("a-long-unusual-passphrase-42")
    assert "Created shop gamma" in out


def test_create_shop_makes_an_existing_account_the_owner():
    user = UserFactory(email="known@example.com")

    _run("create_shop", "--slug=gamma", "--name=Gamma", "--owner=known@example.com")

    assert Membership.objects.get(shop__slug="gamma", user=user).role == Role.OWNER


def test_create_shop_with_a_taken_slug_is_a_clear_error(shop):
    with pytest.raises(CommandError, match=r"A shop with the slug 'alpha' already exists; choose another slug"):
        _run("create_shop", "--slug=alpha", "--name=Again", "--owner=x@example.com", "--password=pw-long-enough-1")

    assert Shop.objects.get(slug="alpha").name == "Alpha Coffee"
    assert not Shop.objects.filter(name="Again").exists()
    assert not User.objects.filter(username="x@example.com").exists()


def test_create_shop_if_missing_does_nothing_for_an_existing_shop(shop):
    out, _err = _run("create_shop", "--if-missing", "--slug=alpha", "--name=Again", "--owner=x@example.com")

    assert "already exists; nothing to do" in out
    assert Shop.objects.get(slug="alpha").name == "Alpha Coffee"


def test_create_shop_for_a_new_account_needs_a_password():
    with pytest.raises(CommandError, match="give --password"):
        _run("create_shop", "--slug=gamma", "--name=Gamma", "--owner=new@example.com")

    assert not Shop.objects.filter(slug="gamma").exists()


def test_create_shop_with_a_bad_timezone_is_a_clear_error_and_creates_nothing():
    with pytest.raises(CommandError, match="Mars/Olympus is not a known time zone"):
        _run(
            "create_shop",
            "--slug=gamma",
            "--name=Gamma",
            "--owner=new@example.com",
            "--password=a-long-unusual-passphrase-42",
            "--timezone=Mars/Olympus",
        )

    assert not Shop.objects.filter(slug="gamma").exists()
    assert not User.objects.filter(username="new@example.com").exists()


# --- create_api_key ------------------------------------------------------------------------


def test_create_api_key_prints_a_key_that_works_on_the_api(shop):
    customer = CustomerFactory(shop=shop)

    out, err = _run("create_api_key", "--shop=alpha", "--name=ERP")

    raw = out.strip()
    assert raw.startswith("sk_")
    assert "shown only now" in err
    key = ApiKey.objects.for_shop(shop).get()
    assert (key.name, key.hashed_key) == ("ERP", hash_api_key(raw))
    response = Client().get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [customer.pk]


def test_create_api_key_for_an_unknown_shop_is_a_clear_error(shop):
    with pytest.raises(CommandError, match=r"No shop has the slug 'nope'"):
        _run("create_api_key", "--shop=nope")

    assert not ApiKey.unscoped.filter(name="command line").exists()
