"""/api/v1/ customers, products and orders: API key or session, one shop only."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from tests.factories import ApiKeyFactory, CustomerFactory, OrderFactory, OrderLineFactory, UserFactory

pytestmark = pytest.mark.django_db

RAW_KEY = "sk_alpha_test_key_000000000000000000000000000"
OTHER_RAW_KEY = "sk_beta_test_key_0000000000000000000000000000"
RESOURCES = ["customers", "products", "orders"]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api(shop) -> Client:
    """A client that sends `shop`'s API key."""
    ApiKeyFactory(shop=shop, raw=RAW_KEY)
    return Client(HTTP_AUTHORIZATION=f"Bearer {RAW_KEY}")


@pytest.fixture
def other_api(other_shop) -> Client:
    ApiKeyFactory(shop=other_shop, raw=OTHER_RAW_KEY)
    return Client(HTTP_AUTHORIZATION=f"Bearer {OTHER_RAW_KEY}")


def _rows(shop) -> dict[str, object]:
    """One customer, product and order (with a line) in `shop`."""
    customer = CustomerFactory(shop=shop)
    order = OrderFactory(shop=shop, customer=customer)
    line = OrderLineFactory(order=order, quantity=3, unit_price=Decimal("4.50"))
    return {"customers": customer, "products": line.product, "orders": order}


@pytest.fixture
def mine(shop):
    return _rows(shop)


@pytest.fixture
def theirs(other_shop):
    return _rows(other_shop)


def _ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


# --- reading with a key -------------------------------------------------------


@pytest.mark.parametrize("resource", RESOURCES)
def test_key_lists_and_reads_its_shops_rows(api, mine, resource):
    obj = mine[resource]

    listing = api.get(f"/api/v1/{resource}/")
    detail = api.get(f"/api/v1/{resource}/{obj.pk}/")

    assert listing.status_code == 200
    assert _ids(listing) == [obj.pk]
    assert detail.status_code == 200
    assert detail.json()["id"] == obj.pk


def test_order_detail_has_lines_and_money_as_strings(api, mine):
    order = mine["orders"]

    data = api.get(f"/api/v1/orders/{order.pk}/").json()

    assert data["customer"] == mine["customers"].pk
    assert data["total"] == "19.80"
    assert [(line["quantity"], line["unit_price"], line["sku"]) for line in data["lines"]] == [
        (3, "4.50", mine["products"].sku)
    ]


def test_customer_detail_fields(api, mine):
    customer = mine["customers"]

    data = api.get(f"/api/v1/customers/{customer.pk}/").json()

    assert data["email"] == customer.email
    assert data["external_id"] == customer.external_id
    assert "shop" not in data


def test_customer_list_is_paginated_by_fifty(api, shop):
    CustomerFactory.create_batch(60, shop=shop)

    first = api.get("/api/v1/customers/").json()
    second = api.get(first["next"]).json()

    assert first["count"] == 60
    assert len(first["results"]) == 50
    assert first["next"].endswith("/api/v1/customers/?page=2")
    assert first["previous"] is None
    assert len(second["results"]) == 10
    assert second["next"] is None
    assert len({row["id"] for row in first["results"] + second["results"]}) == 60


# --- the wall between shops ------------------------------------------------------


@pytest.mark.parametrize("resource", RESOURCES)
def test_key_never_sees_another_shops_rows(api, mine, theirs, resource):
    listing = api.get(f"/api/v1/{resource}/")

    assert theirs[resource].pk not in _ids(listing)
    assert listing.json()["count"] == 1
    assert api.get(f"/api/v1/{resource}/{theirs[resource].pk}/").status_code == 404


@pytest.mark.parametrize("resource", RESOURCES)
def test_other_shops_key_sees_only_its_own_rows(other_api, mine, theirs, resource):
    assert _ids(other_api.get(f"/api/v1/{resource}/")) == [theirs[resource].pk]
    assert other_api.get(f"/api/v1/{resource}/{mine[resource].pk}/").status_code == 404


@pytest.mark.parametrize("resource", RESOURCES)
def test_session_of_a_stranger_sees_only_their_shop(stranger_client, mine, theirs, resource):
    assert _ids(stranger_client.get(f"/api/v1/{resource}/")) == [theirs[resource].pk]
    assert stranger_client.get(f"/api/v1/{resource}/{mine[resource].pk}/").status_code == 404


def test_a_key_of_shop_a_beats_a_session_in_shop_b(stranger, client_for, api, mine, theirs):
    # A logged-in member of other_shop sending shop's key acts for the key's shop only.
    client = client_for(stranger)

    response = client.get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Bearer {RAW_KEY}")

    assert _ids(response) == [mine["customers"].pk]


# --- sessions --------------------------------------------------------------------


@pytest.mark.parametrize("member", ["owner_client", "staff_client", "viewer_client"])
@pytest.mark.parametrize("resource", RESOURCES)
def test_members_read_with_their_session(request, member, mine, resource):
    client = request.getfixturevalue(member)

    assert _ids(client.get(f"/api/v1/{resource}/")) == [mine[resource].pk]
    assert client.get(f"/api/v1/{resource}/{mine[resource].pk}/").status_code == 200


def test_viewer_session_cannot_write(viewer_client):
    response = viewer_client.post("/api/v1/customers/", {"email": "x@example.com"}, content_type="application/json")

    assert response.status_code == 403


def test_read_only_endpoints_refuse_writes_from_staff_and_keys(staff_client, api, mine):
    customer = mine["customers"]

    assert staff_client.post("/api/v1/customers/", {}, content_type="application/json").status_code == 405
    assert api.post("/api/v1/customers/", {}, content_type="application/json").status_code == 405
    assert api.delete(f"/api/v1/customers/{customer.pk}/").status_code == 405


def test_logged_in_user_without_a_shop_is_refused(client_for):
    response = client_for(UserFactory()).get("/api/v1/customers/")

    assert response.status_code == 403
    assert "not a member of a shop" in response.json()["detail"]


# --- bad credentials ----------------------------------------------------------------


def test_invalid_key_is_401_with_a_clear_message(client, mine):
    response = client.get("/api/v1/customers/", HTTP_AUTHORIZATION="Bearer sk_not_a_real_key")

    assert response.status_code == 401
    assert response.json()["detail"] == "This API key is not valid or has been revoked."
    assert response["WWW-Authenticate"] == "Bearer"


def test_missing_credentials_are_refused(client, mine):
    response = client.get("/api/v1/customers/")

    assert response.status_code == 401
    assert response.json()["detail"] == "Authentication credentials were not provided."


@pytest.mark.parametrize("header", ["Bearer", "Bearer one two", "bearer"])
def test_malformed_bearer_header_is_401(client, mine, header):
    response = client.get("/api/v1/customers/", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["detail"]


def test_another_auth_scheme_is_not_authenticated(client, mine):
    response = client.get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Token {RAW_KEY}")

    assert response.status_code == 401


def test_blank_authorization_header_is_not_a_server_error(client, mine):
    response = client.get("/api/v1/customers/", HTTP_AUTHORIZATION="   ")

    assert response.status_code == 401


# --- schema and docs ------------------------------------------------------------------


def test_schema_is_an_openapi_document(client):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Shop Insights API"
    for resource in RESOURCES:
        assert f"/api/v1/{resource}/" in schema["paths"]
        assert f"/api/v1/{resource}/{{id}}/" in schema["paths"]


def test_docs_render_without_a_cdn(client):
    response = client.get("/api/v1/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()


def test_redoc_renders_without_a_cdn(client):
    response = client.get("/api/v1/redoc/")

    assert response.status_code == 200
    assert "cdn" not in response.content.decode().lower()
