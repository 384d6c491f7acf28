"""Login throttling (issue 14, point 5): wrong passwords lock an account and an address for a while.

Found by the issue's author: 20 wrong passwords, then the right one logged in. Now the fifth
failure for one account, or from one address, pauses logging in for LOGIN_LOCKOUT_MINUTES; the
pause always ends, failures during it do not extend it, and API keys are not affected.
"""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client, RequestFactory
from django.urls import reverse

from shops.client_ip import client_ip
from tests.factories import ApiKeyFactory, MembershipFactory

PASSWORD = "correct-horse-battery"  # UserFactory's password
WRONG = "not-the-password"
HOME = "203.0.113.7"
ELSEWHERE = "198.51.100.20"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _login(username: str, password: str, ip: str = HOME, client: Client | None = None):
    client = client or Client()
    response = client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)
    return response, client


def _fail(username: str, times: int, ip: str = HOME) -> list[int]:
    return [_login(username, WRONG, ip)[0].status_code for _ in range(times)]


def _cool_off_passes() -> None:
    """Time travel: the recorded failures become older than the cool-off."""
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.order_by("-attempt_time").first().attempt_time
        - settings.AXES_COOLOFF_TIME
        - dt.timedelta(seconds=1)
    )


@pytest.mark.django_db
def test_five_wrong_passwords_then_the_right_one_is_refused(owner):
    statuses = _fail(owner.email, 5)
    response, client = _login(owner.email, PASSWORD)

    assert statuses == [200, 200, 200, 200, 429]
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    body = response.content.decode()
    assert "Too many login attempts" in body
    assert "Try again in 15 minutes." in body
    assert owner.email not in body  # the page names no account


@pytest.mark.django_db
def test_four_wrong_passwords_then_the_right_one_logs_in_and_clears_the_count(owner):
    _fail(owner.email, 4)
    response, _client = _login(owner.email, PASSWORD)
    assert response.status_code == 302

    # the success reset the count: four more failures still leave the account open
    assert _fail(owner.email, 4) == [200] * 4
    assert _login(owner.email, PASSWORD)[0].status_code == 302


@pytest.mark.django_db
def test_the_account_is_locked_from_any_address(owner):
    _fail(owner.email, 5, ip=HOME)

    response, _client = _login(owner.email, PASSWORD, ip=ELSEWHERE)

    assert response.status_code == 429


@pytest.mark.django_db
def test_the_address_is_locked_for_every_account(owner, shop):
    colleague = MembershipFactory(shop=shop, role="staff").user
    _fail(owner.email, 5, ip=HOME)

    assert _login(colleague.email, PASSWORD, ip=HOME)[0].status_code == 429
    # the colleague's account itself is fine from another address
    assert _login(colleague.email, PASSWORD, ip=ELSEWHERE)[0].status_code == 302


@pytest.mark.django_db
def test_guessing_many_accounts_from_one_address_is_stopped(db):
    statuses = [_login(f"guess{n}@example.com", WRONG)[0].status_code for n in range(6)]

    assert statuses == [200, 200, 200, 200, 429, 429]


@pytest.mark.django_db
def test_changing_the_case_of_the_email_does_not_get_round_the_lock(owner):
    variants = [owner.email.upper(), f" {owner.email} ", owner.email.title(), owner.email, owner.email.upper()]
    for n, variant in enumerate(variants):
        _login(variant, WRONG, ip=f"192.0.2.{n}")  # one failure per address: only the account can lock

    assert _login(owner.email, PASSWORD, ip=ELSEWHERE)[0].status_code == 429


@pytest.mark.django_db
def test_the_lockout_ends_after_the_cool_off_and_failures_during_it_do_not_extend_it(owner):
    _fail(owner.email, 5)
    assert _fail(owner.email, 3) == [429, 429, 429]  # still trying during the lockout

    _cool_off_passes()
    response, client = _login(owner.email, PASSWORD)

    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == owner.pk


@pytest.mark.django_db
def test_the_lockout_page_is_translated(owner):
    _fail(owner.email, 5)

    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    response, _client = _login(owner.email, PASSWORD, client=client)

    assert response.status_code == 429
    assert "登录尝试次数过多" in response.content.decode()


@pytest.mark.django_db
def test_an_api_key_works_from_a_locked_address(owner, shop):
    ApiKeyFactory(shop=shop, raw="sk_throttle_test_000000000000000000000000000")
    _fail(owner.email, 5)
    assert _login(owner.email, PASSWORD)[0].status_code == 429

    api = Client(HTTP_AUTHORIZATION="Bearer sk_throttle_test_000000000000000000000000000")
    response = api.get("/api/v1/customers/", REMOTE_ADDR=HOME)

    assert response.status_code == 200


@pytest.mark.django_db
def test_a_logged_in_session_keeps_working_while_its_address_is_locked(owner_client, owner):
    _fail(owner.email, 5, ip="127.0.0.1")

    assert owner_client.get(reverse("dashboard")).status_code == 200


# --- the client's address -------------------------------------------------------------


def _request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_a_proxy_the_address_is_the_connections_and_x_forwarded_for_is_ignored(settings):
    settings.PROXY_COUNT = 0

    assert client_ip(_request("203.0.113.7", forwarded="10.0.0.1")) == "203.0.113.7"


def test_behind_one_proxy_the_address_is_the_one_the_proxy_saw_not_one_the_client_wrote(settings):
    settings.PROXY_COUNT = 1

    # the client sent "X-Forwarded-For: 1.2.3.4"; the proxy appended the address it saw
    assert client_ip(_request("10.0.0.2", forwarded="1.2.3.4, 203.0.113.7")) == "203.0.113.7"
    assert client_ip(_request("10.0.0.2", forwarded="203.0.113.7")) == "203.0.113.7"
    assert client_ip(_request("10.0.0.2")) == "10.0.0.2"
    assert client_ip(_request("10.0.0.2", forwarded="not-an-address")) == "10.0.0.2"


def test_behind_two_proxies_the_address_is_the_one_the_outer_proxy_saw(settings):
    settings.PROXY_COUNT = 2

    assert client_ip(_request("10.0.0.3", forwarded="1.2.3.4, 203.0.113.7, 10.0.0.2")) == "203.0.113.7"


@pytest.mark.django_db
def test_behind_a_proxy_the_lock_follows_the_real_address(settings, owner, shop):
    settings.PROXY_COUNT = 1
    colleague = MembershipFactory(shop=shop, role="staff").user
    client = Client()
    for n in range(5):  # a new made-up address each time does not help
        client.post(
            reverse("login"),
            {"username": f"guess{n}@example.com", "password": WRONG},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, {HOME}",
        )

    locked = Client().post(
        reverse("login"),
        {"username": colleague.email, "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR=HOME,
    )
    other_person = Client().post(
        reverse("login"),
        {"username": colleague.email, "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR=ELSEWHERE,
    )

    assert locked.status_code == 429
    assert other_person.status_code == 302
