"""The merge API: POST /customers/{id}/merge/, POST /customer-merges/{id}/undo/, GET /customers/duplicates/."""

from __future__ import annotations

import pytest
from django.test import Client

from customers.models import Customer, CustomerMerge, Order
from customers.services import customer_erase
from tests.factories import ApiKeyFactory, CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db
KEY = "sk_merge_api_test_key_00000000000000000000000"


@pytest.fixture
def api(shop) -> Client:
    ApiKeyFactory(shop=shop, raw=KEY)
    return Client(HTTP_AUTHORIZATION=f"Bearer {KEY}")


@pytest.fixture
def pair(shop):
    kept = CustomerFactory(shop=shop, email="same@example.org", first_name="Kept")
    other = CustomerFactory(shop=shop, email="SAME@example.org", first_name="Other")
    OrderFactory(shop=shop, customer=other)
    return kept, other


def _merge(client, customer_id, body, **headers):
    return client.post(f"/api/v1/customers/{customer_id}/merge/", body, content_type="application/json", **headers)


def test_an_api_key_merges_a_customer_and_gets_the_merge_back(api, pair):
    kept, other = pair

    response = _merge(api, kept.pk, {"other_id": other.pk})

    assert response.status_code == 201, response.json()
    data = response.json()
    merge = CustomerMerge.unscoped.get()
    assert data["survivor"] == kept.pk
    assert [(m["id"], m["merged_customer_id"]) for m in data["merges"]] == [(merge.pk, other.pk)]
    assert data["merges"][0]["created_at"] and data["merges"][0]["undo_until"] > data["merges"][0]["created_at"]
    assert merge.reason == "api"
    assert not Customer.unscoped.filter(pk=other.pk).exists()
    assert Order.unscoped.get().customer_id == kept.pk


def test_the_owner_merges_several_at_once(owner_client, shop, pair):
    kept, other = pair
    third = CustomerFactory(shop=shop)

    response = _merge(owner_client, kept.pk, {"other_ids": [other.pk, third.pk]})

    assert response.status_code == 201, response.json()
    assert [m["merged_customer_id"] for m in response.json()["merges"]] == [other.pk, third.pk]
    assert CustomerMerge.unscoped.get(merged_customer_id=third.pk).created_by.memberships.get().role == "owner"


def test_several_are_merged_all_or_none(api, shop, pair):
    kept, other = pair
    erased = customer_erase(shop=shop, customer=CustomerFactory(shop=shop))

    response = _merge(api, kept.pk, {"other_ids": [other.pk, erased.pk]})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "other_ids"
    assert Customer.unscoped.filter(pk=other.pk).exists() and not CustomerMerge.unscoped.exists()


@pytest.mark.parametrize(
    "body, field",
    [({}, ""), ({"other_id": "x"}, "other_id"), ({"other_ids": []}, ""), ([1, 2], "")],
)
def test_a_bad_body_is_a_400_with_the_error_shape(api, pair, body, field):
    response = _merge(api, pair[0].pk, body)

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == field and error["message"] and error["index"] is None


def test_merging_a_customer_with_itself_is_refused(api, pair):
    response = _merge(api, pair[0].pk, {"other_id": pair[0].pk})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": None, "field": "other_id", "message": "A customer cannot be merged with itself."}
    ]


def test_another_shops_customer_is_404_in_the_url_and_unknown_in_the_body(api, other_shop, pair):
    stranger = CustomerFactory(shop=other_shop)

    assert _merge(api, stranger.pk, {"other_id": pair[1].pk}).status_code == 404
    response = _merge(api, pair[0].pk, {"other_id": stranger.pk})

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == f"No customer {stranger.pk} in this shop."
    assert Customer.unscoped.filter(pk__in=[stranger.pk, *[c.pk for c in pair]]).count() == 3


def test_a_viewer_may_list_duplicates_but_not_merge(viewer_client, pair):
    assert viewer_client.get("/api/v1/customers/duplicates/").status_code == 200
    assert _merge(viewer_client, pair[0].pk, {"other_id": pair[1].pk}).status_code == 403
    assert not CustomerMerge.unscoped.exists()


def test_a_stranger_cannot_reach_the_shops_customers_or_merges(stranger_client, api, pair):
    merge_id = _merge(api, pair[0].pk, {"other_id": pair[1].pk}).json()["merges"][0]["id"]

    assert _merge(stranger_client, pair[0].pk, {"other_id": pair[0].pk}).status_code == 404
    assert stranger_client.post(f"/api/v1/customer-merges/{merge_id}/undo/").status_code == 404
    assert stranger_client.get("/api/v1/customers/duplicates/").json()["count"] == 0
    assert CustomerMerge.unscoped.get().undone_at is None


def test_a_repeated_request_with_the_same_idempotency_key_is_answered_once(api, pair):
    kept, other = pair

    first = _merge(api, kept.pk, {"other_id": other.pk}, HTTP_IDEMPOTENCY_KEY="merge-1")
    again = _merge(api, kept.pk, {"other_id": other.pk}, HTTP_IDEMPOTENCY_KEY="merge-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert CustomerMerge.unscoped.count() == 1


def test_undo_gives_the_customer_back_once(api, pair):
    kept, other = pair
    merge_id = _merge(api, kept.pk, {"other_id": other.pk}).json()["merges"][0]["id"]

    response = api.post(f"/api/v1/customer-merges/{merge_id}/undo/")

    assert response.status_code == 200
    assert response.json() == {"id": other.pk, "survivor": kept.pk}
    assert Order.unscoped.get().customer_id == other.pk
    again = api.post(f"/api/v1/customer-merges/{merge_id}/undo/")
    assert again.status_code == 400
    assert again.json()["errors"][0]["message"] == "This merge was already undone."


def test_the_duplicates_list_gives_the_pairs_with_their_reasons(api, shop, other_shop, pair):
    CustomerFactory(shop=other_shop, email="same@example.org")

    response = api.get("/api/v1/customers/duplicates/")

    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 1
    (found,) = data["results"]
    assert (found["first"]["id"], found["second"]["id"]) == (pair[0].pk, pair[1].pk)
    assert found["second"]["orders"] == 1
    assert found["first"]["identities"] == [{"source": "api", "external_id": pair[0].external_id}]
    assert found["reasons"] == [{"code": "same_email", "label": "Same email address"}]
    assert api.get("/api/v1/customers/duplicates/?limit=x").status_code == 400


def test_the_schema_documents_the_merge_endpoints(client):
    paths = client.get("/api/v1/schema/?format=json").json()["paths"]

    assert "post" in paths["/api/v1/customers/{id}/merge/"]
    assert "post" in paths["/api/v1/customer-merges/{merge_id}/undo/"]
    assert "get" in paths["/api/v1/customers/duplicates/"]
