"""Dashboard and settings pages: owner / staff / viewer / stranger / anonymous."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from shops.models import Invitation, Membership, Role
from tests.factories import ApiKeyFactory, CustomerFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- dashboard ----------------------------------------------------------------


@pytest.mark.parametrize("member", ["owner_client", "staff_client", "viewer_client"])
def test_dashboard_opens_for_every_member(request, member, shop):
    response = request.getfixturevalue(member).get(reverse("dashboard"))

    assert response.status_code == 200
    assert shop.name in response.content.decode()


def test_dashboard_sends_anonymous_visitors_to_login(client):
    response = client.get(reverse("dashboard"))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/"


def test_stranger_sees_their_own_shop_on_the_dashboard(stranger_client, shop, other_shop):
    response = stranger_client.get(reverse("dashboard"))

    assert response.status_code == 200
    assert response.wsgi_request.shop == other_shop
    assert shop.name not in response.content.decode()


# --- settings -----------------------------------------------------------------


def test_settings_page_opens_for_the_owner(owner_client, shop):
    ApiKeyFactory(shop=shop, name="ERP sync")

    response = owner_client.get(reverse("shop_settings"))

    assert response.status_code == 200
    assert "ERP sync" in response.content.decode()


@pytest.mark.parametrize("member", ["staff_client", "viewer_client"])
def test_settings_page_is_forbidden_below_owner(request, member):
    client = request.getfixturevalue(member)

    assert client.get(reverse("shop_settings")).status_code == 403
    assert client.post(reverse("shop_settings"), {"shop-name": "Hijacked"}).status_code == 403


def test_settings_page_sends_anonymous_visitors_to_login(client):
    assert client.get(reverse("shop_settings"))["Location"].startswith(reverse("login"))


def test_owner_saves_shop_settings(owner_client, shop):
    response = owner_client.post(
        reverse("shop_settings"),
        {"shop-name": "Alpha Roasters", "shop-timezone": "Europe/Paris", "shop-currency": "EUR"},
    )

    assert response.status_code == 302
    shop.refresh_from_db()
    assert (shop.name, shop.timezone, shop.currency) == ("Alpha Roasters", "Europe/Paris", "EUR")


def test_owner_turns_on_phone_matching_with_a_country(owner_client, shop):
    settings_page = owner_client.get(reverse("shop_settings")).content.decode()
    assert "Match customers by phone number" in settings_page and "ISO 3166" in settings_page

    response = owner_client.post(
        reverse("shop_settings"),
        {
            "shop-name": "Alpha Coffee",
            "shop-timezone": "Europe/London",
            "shop-currency": "GBP",
            "shop-match_by_phone": "on",
            "shop-phone_region": " gb ",
        },
    )

    assert response.status_code == 302
    shop.refresh_from_db()
    assert (shop.match_by_phone, shop.phone_region) == (True, "GB")


@pytest.mark.django_db(transaction=True)
def test_changing_the_phone_country_reads_stored_phones_again(owner_client, shop):
    customer = CustomerFactory(shop=shop, phone="07700 900123")
    assert customer.phone_key == ""  # a national number cannot be read without a country

    owner_client.post(
        reverse("shop_settings"),
        {
            "shop-name": "Alpha Coffee",
            "shop-timezone": "Europe/London",
            "shop-currency": "GBP",
            "shop-phone_region": "GB",
        },
    )

    customer.refresh_from_db()
    assert customer.phone_key == "+447700900123"


@pytest.mark.parametrize("region", ["XX", "G1", "GBR"])
def test_phone_country_must_be_a_two_letter_country_code(owner_client, shop, region):
    response = owner_client.post(
        reverse("shop_settings"),
        {
            "shop-name": "Alpha Coffee",
            "shop-timezone": "Europe/London",
            "shop-currency": "GBP",
            "shop-phone_region": region,
        },
    )

    assert response.status_code == 200
    assert response.context["form"].errors["phone_region"]
    shop.refresh_from_db()
    assert shop.phone_region == ""


def test_stranger_owner_edits_only_their_own_shop(stranger_client, shop, other_shop):
    stranger_client.post(
        reverse("shop_settings"), {"shop-name": "Renamed", "shop-timezone": "UTC", "shop-currency": "EUR"}
    )

    shop.refresh_from_db()
    other_shop.refresh_from_db()
    assert shop.name == "Alpha Coffee"
    assert other_shop.name == "Renamed"


# --- members ------------------------------------------------------------------


def _team_section(response) -> str:
    """The Team card as the owner sees it, with per-render tokens and row ids made neutral."""
    html = response.content.decode()
    section = html[html.index("<h2>Team</h2>") : html.index("<h2>API keys</h2>")]
    section = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken"', section)
    return re.sub(r"/settings/invitations/\d+/", "/settings/invitations/N/", section)


def test_adding_a_member_answers_the_same_whether_the_address_has_an_account_or_not(owner_client, shop):
    """Issue 14: "add member" must not tell the owner which addresses have accounts."""
    UserFactory(email="known@example.com")

    answers = {}
    for email in ["known@example.com", "unknown@example.com"]:
        response = owner_client.post(reverse("member_add"), {"member-email": email, "member-role": "staff"})
        page = owner_client.get(response["Location"])
        message = [str(m) for m in page.context["messages"]]
        answers[email] = (
            response.status_code,
            response["Location"],
            [m.replace(email, "EMAIL") for m in message],
            _team_section(page).replace(email, "EMAIL"),
        )
        Invitation.objects.filter(shop=shop).delete()

    assert answers["known@example.com"] == answers["unknown@example.com"]
    assert answers["known@example.com"][2] == [
        "Saved: EMAIL gets the role Staff the next time they log in, or when they sign up, with this address. "
        "Current members get it at once."
    ]
    assert not Membership.objects.filter(shop=shop, user__email="known@example.com").exists()


def test_an_invited_account_becomes_a_member_when_it_next_logs_in(owner_client, shop, client):
    newcomer = UserFactory(email="newcomer@example.com")
    owner_client.post(reverse("member_add"), {"member-email": "NewComer@example.com", "member-role": "staff"})
    assert "newcomer@example.com" in owner_client.get(reverse("shop_settings")).content.decode()

    response = client.post(reverse("login"), {"username": "newcomer@example.com", "password": "correct-horse-battery"})

    assert response.status_code == 302
    assert Membership.objects.get(shop=shop, user=newcomer).role == Role.STAFF
    assert not Invitation.objects.filter(shop=shop).exists()
    assert client.get(reverse("dashboard")).wsgi_request.shop == shop


def test_an_invited_address_becomes_a_member_when_it_signs_up(owner_client, shop, client):
    owner_client.post(reverse("member_add"), {"member-email": "later@example.com", "member-role": "viewer"})

    client.post(
        reverse("signup"),
        {
            "email": "Later@example.com",
            "password": "a-long-unusual-passphrase-42",
            "shop_name": "Later Ltd",
            "slug": "later",
            "timezone": "Europe/London",
            "currency": "GBP",
        },
    )

    assert Membership.objects.get(shop=shop, user__username="later@example.com").role == Role.VIEWER


def test_an_invitation_gives_nothing_to_another_address(owner_client, shop, client):
    UserFactory(email="someone.else@example.com")
    owner_client.post(reverse("member_add"), {"member-email": "invited@example.com", "member-role": "owner"})

    client.post(reverse("login"), {"username": "someone.else@example.com", "password": "correct-horse-battery"})

    assert not Membership.objects.filter(shop=shop, user__username="someone.else@example.com").exists()
    assert Invitation.objects.filter(shop=shop, email="invited@example.com").exists()


def test_a_current_members_role_changes_at_once(owner_client, shop, staff):
    owner_client.post(reverse("member_add"), {"member-email": staff.email.upper(), "member-role": "viewer"})

    assert Membership.objects.get(shop=shop, user=staff).role == Role.VIEWER
    assert not Invitation.objects.filter(shop=shop).exists()


def test_the_owner_cancels_an_invitation(owner_client, shop):
    owner_client.post(reverse("member_add"), {"member-email": "oops@example.com", "member-role": "staff"})
    invitation = Invitation.objects.get(shop=shop)

    response = owner_client.post(reverse("invitation_cancel", args=[invitation.pk]))

    assert response.status_code == 302
    assert not Invitation.objects.filter(pk=invitation.pk).exists()


@pytest.mark.parametrize("member", ["staff_client", "viewer_client"])
def test_invitations_cannot_be_cancelled_below_owner(request, member, shop, owner):
    invitation = Invitation.objects.create(shop=shop, email="x@example.com", role="staff", invited_by=owner)

    response = request.getfixturevalue(member).post(reverse("invitation_cancel", args=[invitation.pk]))

    assert response.status_code == 403
    assert Invitation.objects.filter(pk=invitation.pk).exists()


def test_the_last_owner_cannot_demote_themselves(owner_client, owner, shop):
    owner_client.post(reverse("member_add"), {"member-email": owner.email, "member-role": "viewer"})

    assert Membership.objects.get(shop=shop, user=owner).role == Role.OWNER


@pytest.mark.parametrize("member", ["staff_client", "viewer_client"])
def test_member_add_is_forbidden_below_owner(request, member, shop):
    UserFactory(email="newcomer@example.com")
    client = request.getfixturevalue(member)

    response = client.post(reverse("member_add"), {"member-email": "newcomer@example.com", "member-role": "owner"})

    assert response.status_code == 403
    assert not Membership.objects.filter(shop=shop, user__email="newcomer@example.com").exists()
    assert not Invitation.objects.filter(shop=shop).exists()


def test_owner_removes_a_member(owner_client, shop, staff):
    membership = Membership.objects.get(shop=shop, user=staff)

    response = owner_client.post(reverse("member_remove", args=[membership.pk]))

    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_the_last_owner_cannot_be_removed(owner_client, owner, shop):
    membership = Membership.objects.get(shop=shop, user=owner)

    response = owner_client.post(reverse("member_remove", args=[membership.pk]), follow=True)

    assert "A shop needs at least one owner" in response.content.decode()
    assert Membership.objects.filter(pk=membership.pk).exists()


@pytest.mark.parametrize("member", ["staff_client", "viewer_client"])
def test_member_remove_is_forbidden_below_owner(request, member, shop, owner):
    membership = Membership.objects.get(shop=shop, user=owner)

    assert request.getfixturevalue(member).post(reverse("member_remove", args=[membership.pk])).status_code == 403
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_member_remove_of_another_shops_membership_is_404(owner_client, other_shop, stranger):
    membership = Membership.objects.get(shop=other_shop, user=stranger)

    assert owner_client.post(reverse("member_remove", args=[membership.pk])).status_code == 404
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_stranger_cannot_remove_a_member_of_shop(stranger_client, shop, staff):
    membership = Membership.objects.get(shop=shop, user=staff)

    assert stranger_client.post(reverse("member_remove", args=[membership.pk])).status_code == 404
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_member_remove_needs_post(owner_client, shop, staff):
    membership = Membership.objects.get(shop=shop, user=staff)

    assert owner_client.get(reverse("member_remove", args=[membership.pk])).status_code == 405


def test_a_removed_member_loses_access(owner_client, shop, staff, client_for):
    staff_client = client_for(staff)
    assert staff_client.get(reverse("dashboard")).status_code == 200

    owner_client.post(reverse("member_remove", args=[Membership.objects.get(shop=shop, user=staff).pk]))

    assert staff_client.get(reverse("dashboard"))["Location"] == reverse("shop_create")


def test_a_member_of_two_shops_keeps_their_other_membership(shop, other_shop, client_for):
    both = UserFactory()
    MembershipFactory(user=both, shop=shop, role=Role.STAFF)
    MembershipFactory(user=both, shop=other_shop, role=Role.OWNER)

    response = client_for(both).get(reverse("shop_settings"))

    # Alphabetically first shop is the default: Alpha Coffee, where they are only staff.
    assert response.status_code == 403
