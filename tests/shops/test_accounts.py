"""Accounts: signup, login, logout, password reset, shop switch, language, admin."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from shops.middleware import SESSION_SHOP_KEY
from shops.models import Membership, Role, Shop
from tests.factories import ApiKeyFactory, CustomerFactory, MembershipFactory, OrderFactory, UserFactory

User = get_user_model()
PASSWORD = "correct-horse-battery"  # UserFactory's password


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _signup_data(**overrides) -> dict:
    data = {
        "email": "new.owner@example.com",
        "password": "a-long-unusual-passphrase-42",
        "shop_name": "Gamma Goods",
        "slug": "gamma",
        "timezone": "Europe/London",
        "currency": "GBP",
    }
    data.update(overrides)
    return data


def _errors_in(response) -> str:
    return response.content.decode()


# --- signup -----------------------------------------------------------------


@pytest.mark.django_db
def test_signup_creates_user_shop_and_owner_membership_and_logs_in(client):
    response = client.post(reverse("signup"), _signup_data())

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    user = User.objects.get(username="new.owner@example.com")
    shop = Shop.objects.get(slug="gamma")
    assert shop.currency == "GBP"
    assert Membership.objects.get(user=user, shop=shop).role == Role.OWNER
    assert client.session[SESSION_SHOP_KEY] == shop.pk
    dashboard = client.get(reverse("dashboard"))
    assert dashboard.status_code == 200
    assert "Gamma Goods" in dashboard.content.decode()


@pytest.mark.django_db
def test_signup_stores_email_lower_case_and_derives_slug_from_name(client):
    response = client.post(reverse("signup"), _signup_data(email="Mixed.Case@Example.COM", slug=""))

    assert response.status_code == 302
    assert User.objects.filter(username="mixed.case@example.com").exists()
    assert Shop.objects.filter(slug="gamma-goods").exists()


@pytest.mark.django_db
def test_signup_accepts_a_lower_case_currency_code(client):
    response = client.post(reverse("signup"), _signup_data(currency="gbp"))

    assert response.status_code == 302
    assert Shop.objects.get(slug="gamma").currency == "GBP"


@pytest.mark.django_db
def test_signup_with_taken_slug_shows_error_and_creates_nothing(client, shop):
    response = client.post(reverse("signup"), _signup_data(slug=shop.slug))

    assert response.status_code == 200
    assert "is already taken" in _errors_in(response)
    assert not User.objects.filter(username="new.owner@example.com").exists()
    assert list(Shop.objects.values_list("slug", flat=True).filter(name="Gamma Goods")) == []
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_signup_with_taken_email_shows_error(client, owner):
    response = client.post(reverse("signup"), _signup_data(email=owner.email.upper()))

    assert response.status_code == 200
    assert "An account with this email already exists" in _errors_in(response)
    assert not Shop.objects.filter(slug="gamma").exists()


@pytest.mark.django_db
def test_signup_with_weak_password_shows_error(client):
    response = client.post(reverse("signup"), _signup_data(password="12345678"))

    assert response.status_code == 200
    body = _errors_in(response)
    assert "too common" in body or "entirely numeric" in body
    assert not User.objects.filter(username="new.owner@example.com").exists()
    assert not Shop.objects.filter(slug="gamma").exists()


@pytest.mark.django_db
def test_signup_page_redirects_a_logged_in_user_to_dashboard(owner_client):
    assert owner_client.get(reverse("signup"))["Location"] == reverse("dashboard")


# --- login / logout ---------------------------------------------------------


@pytest.mark.django_db
def test_login_with_wrong_password_shows_clear_message(client, owner):
    response = client.post(reverse("login"), {"username": owner.email, "password": "wrong-password"})

    assert response.status_code == 200
    body = response.content.decode()
    assert "That email and password do not match an account" in body
    assert "Traceback" not in body
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_login_is_case_insensitive_on_email(client, owner):
    response = client.post(reverse("login"), {"username": f"  {owner.email.upper()} ", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert int(client.session["_auth_user_id"]) == owner.pk


@pytest.mark.django_db
def test_login_sets_the_users_shop(client, owner, shop):
    client.post(reverse("login"), {"username": owner.email, "password": PASSWORD})

    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert response.wsgi_request.shop == shop


@pytest.mark.django_db
def test_logout_is_a_post_and_ends_the_session(owner_client):
    response = owner_client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert "_auth_user_id" not in owner_client.session
    assert owner_client.get(reverse("dashboard")).status_code == 302


@pytest.mark.django_db
def test_logout_by_get_is_refused(owner_client):
    assert owner_client.get(reverse("logout")).status_code == 405
    assert "_auth_user_id" in owner_client.session


# --- password reset ---------------------------------------------------------


@pytest.mark.django_db
def test_password_reset_email_link_sets_a_new_password_that_works(client, owner):
    response = client.post(reverse("password_reset"), {"email": owner.email.upper()})
    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [owner.email]
    assert "Reset your Shop Insights password" in message.subject
    link = re.search(r"https?://testserver(/password-reset/\S+/\S+/)", message.body).group(1)

    # The link redirects to a token-free URL (Django hides the token from the Referer).
    confirm = client.get(link, follow=True)
    assert confirm.status_code == 200
    assert confirm.context["validlink"] is True
    set_password_url = confirm.redirect_chain[-1][0]
    new_password = "a-brand-new-passphrase-77"
    done = client.post(set_password_url, {"new_password1": new_password, "new_password2": new_password})
    assert done.status_code == 302
    assert done["Location"] == reverse("password_reset_complete")
    assert client.get(reverse("password_reset_complete")).status_code == 200

    fresh = Client()
    assert fresh.post(reverse("login"), {"username": owner.email, "password": PASSWORD}).status_code == 200
    assert fresh.post(reverse("login"), {"username": owner.email, "password": new_password}).status_code == 302
    # The link works once.
    assert client.get(link, follow=True).context["validlink"] is False


@pytest.mark.django_db
def test_password_reset_for_unknown_email_sends_nothing_and_does_not_tell(client):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})

    assert response.status_code == 302
    assert mail.outbox == []


# --- shop switch, no shop -----------------------------------------------------


@pytest.mark.django_db
def test_switch_to_a_shop_you_belong_to(owner, shop, other_shop, client_for):
    MembershipFactory(user=owner, shop=other_shop, role=Role.VIEWER)
    client = client_for(owner)
    client.get(reverse("dashboard"))

    response = client.post(reverse("shop_switch"), {"shop": other_shop.pk})

    assert response.status_code == 302
    assert client.session[SESSION_SHOP_KEY] == other_shop.pk
    assert client.get(reverse("dashboard")).wsgi_request.shop == other_shop


@pytest.mark.django_db
def test_switch_to_a_shop_you_do_not_belong_to_is_404(owner_client, shop, other_shop):
    owner_client.get(reverse("dashboard"))

    assert owner_client.post(reverse("shop_switch"), {"shop": other_shop.pk}).status_code == 404
    assert owner_client.post(reverse("shop_switch"), {"shop": "not-a-number"}).status_code == 404
    assert owner_client.session[SESSION_SHOP_KEY] == shop.pk


@pytest.mark.django_db
def test_switch_ignores_an_offsite_next_url(owner, shop, other_shop, client_for):
    MembershipFactory(user=owner, shop=other_shop)
    client = client_for(owner)

    response = client.post(reverse("shop_switch"), {"shop": other_shop.pk, "next": "https://evil.example/"})

    assert response["Location"] == reverse("dashboard")


@pytest.mark.django_db
def test_a_session_pointing_at_a_foreign_shop_falls_back_to_own_shop(owner_client, shop, other_shop):
    session = owner_client.session
    session[SESSION_SHOP_KEY] = other_shop.pk
    session.save()

    assert owner_client.get(reverse("dashboard")).wsgi_request.shop == shop


@pytest.mark.django_db
def test_user_without_a_shop_is_sent_to_shop_create(client_for):
    client = client_for(UserFactory())

    assert client.get(reverse("dashboard"))["Location"] == reverse("shop_create")
    assert client.get(reverse("shop_settings"))["Location"] == reverse("shop_create")
    response = client.post(
        reverse("shop_create"), {"shop_name": "Delta", "slug": "delta", "timezone": "UTC", "currency": "EUR"}
    )
    assert response["Location"] == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200


@pytest.mark.django_db
def test_shop_create_with_taken_slug_shows_error(owner_client, other_shop):
    response = owner_client.post(
        reverse("shop_create"), {"shop_name": "X", "slug": other_shop.slug, "timezone": "UTC", "currency": "EUR"}
    )

    assert response.status_code == 200
    assert "is already taken" in response.content.decode()


# --- language -----------------------------------------------------------------


@pytest.mark.django_db
def test_switching_language_to_simplified_chinese(owner_client):
    response = owner_client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert response.status_code == 302

    dashboard = owner_client.get(reverse("dashboard"))
    assert dashboard.status_code == 200
    assert '<html lang="zh-hans">' in dashboard.content.decode()


# --- admin --------------------------------------------------------------------


@pytest.fixture
def superuser_client(client_for):
    return client_for(UserFactory(is_staff=True, is_superuser=True))


@pytest.mark.django_db
def test_superuser_opens_the_admin_index(superuser_client):
    assert superuser_client.get("/admin/").status_code == 200


@pytest.mark.parametrize(
    ("model", "shop_field"),
    [
        ("customers/customer", "shop"),
        ("customers/order", "shop"),
        ("shops/shop", "pk"),
        ("shops/apikey", "shop"),
    ],
)
@pytest.mark.django_db
def test_superuser_sees_every_shops_rows_in_the_admin(superuser_client, shop, other_shop, model, shop_field):
    for s in (shop, other_shop):
        OrderFactory(shop=s, customer=CustomerFactory(shop=s))
        ApiKeyFactory(shop=s)

    response = superuser_client.get(f"/admin/{model}/")

    assert response.status_code == 200
    # The admin runs unscoped: both shops' rows are listed.
    listed = response.context["cl"].queryset.order_by().values_list(shop_field, flat=True)
    assert {shop.pk, other_shop.pk} <= set(listed)


@pytest.mark.django_db
def test_admin_refuses_a_shop_owner(owner_client):
    response = owner_client.get("/admin/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_admin_change_page_of_a_customer_opens(superuser_client, customer):
    assert superuser_client.get(f"/admin/customers/customer/{customer.pk}/change/").status_code == 200
