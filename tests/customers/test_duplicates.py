"""Possible duplicates: found for each reason, not for unrelated customers, and the pages that
list them and merge a pair."""

from __future__ import annotations

import time

import pytest
from django.utils import translation

from customers import duplicates, merging
from customers.duplicates import DuplicateReason, duplicate_candidates, duplicate_pair_count
from customers.models import Customer, CustomerMerge
from customers.services import customer_erase
from tests.factories import CustomerFactory, OrderFactory, ShopFactory

pytestmark = pytest.mark.django_db


def _pairs(shop) -> dict[tuple[int, int], tuple[str, ...]]:
    return {(p.first.pk, p.second.pk): p.reasons for p in duplicate_candidates(shop=shop)}


def test_the_same_email_in_another_case_is_a_pair(shop):
    a = CustomerFactory(shop=shop, email="Ann@Example.org", first_name="Ann", last_name="Smith")
    b = CustomerFactory(shop=shop, email="ann@example.org ", first_name="A.", last_name="Jones")

    assert _pairs(shop) == {(a.pk, b.pk): (DuplicateReason.SAME_EMAIL,)}


def test_the_same_name_and_postcode_is_a_pair_whatever_the_spaces_and_case(shop):
    a = CustomerFactory(shop=shop, first_name="Ann", last_name="Smith", postcode="sw1a 1aa")
    b = CustomerFactory(shop=shop, first_name="ann ", last_name=" SMITH", postcode="SW1A1AA")

    assert _pairs(shop) == {(a.pk, b.pk): (DuplicateReason.NAME_POSTCODE,)}


def test_the_same_name_and_phone_is_a_pair_read_in_the_shops_country(shop):
    shop.phone_region = "GB"
    shop.save()
    a = CustomerFactory(shop=shop, first_name="Ann", last_name="Smith", phone="07700 900123")
    b = CustomerFactory(shop=shop, first_name="Ann", last_name="Smith", phone="+44 7700 900123")
    c = CustomerFactory(shop=shop, first_name="Bob", last_name="Brown", phone="ext. 55-1234")
    d = CustomerFactory(shop=shop, first_name="Bob", last_name="Brown", phone="(55) 1234")

    assert _pairs(shop) == {(a.pk, b.pk): (DuplicateReason.NAME_PHONE,), (c.pk, d.pk): (DuplicateReason.NAME_PHONE,)}


def test_addresses_that_differ_by_dots_tags_or_googlemail_are_similar(shop):
    a = CustomerFactory(shop=shop, email="ann.smith@gmail.com")
    b = CustomerFactory(shop=shop, email="annsmith+shop@googlemail.com")

    assert _pairs(shop) == {(a.pk, b.pk): (DuplicateReason.SIMILAR_EMAIL,)}


def test_a_one_letter_typo_in_the_domain_is_similar(shop):
    a = CustomerFactory(shop=shop, email="ann@gmail.com")
    b = CustomerFactory(shop=shop, email="ann@gmial.com")  # two letters swapped
    c = CustomerFactory(shop=shop, email="ann@gmai.com")  # one letter missing

    # gmial.com and gmai.com are two typos apart: each is paired with gmail.com only
    assert _pairs(shop) == {
        (a.pk, b.pk): (DuplicateReason.SIMILAR_EMAIL,),
        (a.pk, c.pk): (DuplicateReason.SIMILAR_EMAIL,),
    }


def test_several_reasons_are_listed_together_and_the_same_email_comes_first(shop):
    a = CustomerFactory(shop=shop, first_name="Ann", last_name="Smith", postcode="M1 1AA", email="a@x.org")
    b = CustomerFactory(shop=shop, first_name="Ann", last_name="Smith", postcode="M1 1AA", email="a.s@x.org")
    c = CustomerFactory(shop=shop, email="bob@x.org")
    d = CustomerFactory(shop=shop, email="BOB@x.org")

    pairs = duplicate_candidates(shop=shop)

    assert [(p.first.pk, p.second.pk) for p in pairs] == [(c.pk, d.pk), (a.pk, b.pk)]
    assert pairs[1].reasons == (DuplicateReason.NAME_POSTCODE,)
    assert pairs[1].reason_labels == ["Same name and postcode"]


def test_unrelated_customers_are_not_paired(shop):
    CustomerFactory(shop=shop, first_name="Ann", last_name="Smith", postcode="M1 1AA", phone="+447700900001")
    CustomerFactory(shop=shop, first_name="Ann", last_name="Smith", postcode="LS1 1AA", phone="+447700900002")
    CustomerFactory(shop=shop, first_name="", last_name="", postcode="LS1 1AA", email="x1@example.org")
    CustomerFactory(shop=shop, first_name="", last_name="", postcode="LS1 1AA", email="x2@example.org")
    CustomerFactory(shop=shop, email="bob@example.org")
    CustomerFactory(shop=shop, email="rob@example.org")
    CustomerFactory(shop=shop, email="ann@example.org")
    CustomerFactory(shop=shop, email="ann@example.com")

    assert _pairs(shop) == {}
    assert duplicate_pair_count(shop=shop) == 0


def test_erased_customers_and_other_shops_are_left_out(shop, other_shop):
    CustomerFactory(shop=shop, email="ann@example.org")
    CustomerFactory(shop=other_shop, email="ann@example.org")
    erased = CustomerFactory(shop=shop, email="ann@example.org")
    customer_erase(shop=shop, customer=erased)

    assert _pairs(shop) == {}


def test_a_group_is_paired_with_its_oldest_member_only(shop):
    group = [CustomerFactory(shop=shop, email="same@example.org") for _ in range(4)]

    assert set(_pairs(shop)) == {(group[0].pk, other.pk) for other in group[1:]}


def test_each_customer_comes_with_its_orders_and_identities(shop):
    a = CustomerFactory(shop=shop, email="same@example.org", source="shopify", external_id="77")
    CustomerFactory(shop=shop, email="same@example.org")
    OrderFactory(shop=shop, customer=a)

    pair = duplicate_candidates(shop=shop)[0]

    assert pair.first.order_count == 1 and pair.second.order_count == 0
    assert [(i.source, i.external_id) for i in pair.first.identities.all()] == [("shopify", "77")]


def test_the_count_follows_a_merge(shop):
    a = CustomerFactory(shop=shop, email="same@example.org")
    b = CustomerFactory(shop=shop, email="same@example.org")
    assert duplicate_pair_count(shop=shop) == 1

    merging.customer_merge(shop=shop, survivor=a, other=b)

    assert duplicate_pair_count(shop=shop) == 0


def test_twenty_thousand_customers_are_compared_in_under_five_seconds(db):
    shop = ShopFactory(slug="big-duplicates")
    Customer.unscoped.bulk_create(
        [
            Customer(
                shop=shop,
                email=f"person{n}@example{n % 7}.org",
                email_key=f"person{n}@example{n % 7}.org",
                first_name=f"First{n % 1000}",
                last_name=f"Last{n}",
                postcode=f"AB{n % 97} 1CD",
            )
            for n in range(20_000)
        ],
        batch_size=2000,
    )
    started = time.perf_counter()

    pairs = duplicates._duplicate_pair_reasons(shop=shop)

    assert time.perf_counter() - started < 5
    assert pairs == {}


# --- the duplicates page --------------------------------------------------------------------


@pytest.fixture
def twins(shop):
    a = CustomerFactory(shop=shop, email="twin@example.org", first_name="Tess", last_name="Twin")
    b = CustomerFactory(shop=shop, email="TWIN@example.org", first_name="Tessa", last_name="Twin")
    return a, b


@pytest.mark.parametrize("who", ["owner_client", "staff_client"])
def test_owners_and_staff_see_the_pairs_with_a_merge_button(request, who, twins):
    a, b = twins

    response = request.getfixturevalue(who).get("/data/duplicates/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "Tessa Twin" in body and "Same email address" in body
    assert f"/customers/{a.pk}/merge/?other={b.pk}&amp;next=duplicates" in body


def test_a_viewer_sees_the_pairs_without_merge_buttons(viewer_client, twins):
    a, _b = twins

    response = viewer_client.get("/data/duplicates/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "Tessa Twin" in body and f"/customers/{a.pk}/merge/" not in body


def test_a_stranger_sees_only_their_own_shops_pairs(stranger_client, twins):
    response = stranger_client.get("/data/duplicates/")

    assert response.status_code == 200
    assert "Tessa" not in response.content.decode()


def test_the_data_page_links_to_the_duplicates_with_their_count(owner_client, twins):
    body = owner_client.get("/data/").content.decode()

    assert "1 pair of customers may be the same person." in body and 'href="/data/duplicates/"' in body


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_duplicates_and_merge_pages_render_in_each_language(owner_client, twins, language):
    a, b = twins
    for url in ("/data/duplicates/", f"/customers/{a.pk}/merge/?other={b.pk}&next=duplicates"):
        response = owner_client.get(url, HTTP_ACCEPT_LANGUAGE=language)

        assert response.status_code == 200, url
        body = response.content.decode()
        assert f'<html lang="{language}">' in body
        with translation.override(language):
            assert translation.gettext("Possible duplicates") in body


def test_merging_a_pair_from_the_duplicates_page_keeps_the_chosen_one(owner_client, twins, owner):
    a, b = twins

    confirm = owner_client.get(f"/customers/{a.pk}/merge/?other={b.pk}&next=duplicates")
    assert confirm.status_code == 200 and f'value="{a.pk}" checked' in confirm.content.decode()
    response = owner_client.post(f"/customers/{a.pk}/merge/", {"other_id": b.pk, "keep": b.pk, "next": "duplicates"})

    assert response.status_code == 302 and response["Location"] == "/data/duplicates/"
    assert not Customer.unscoped.filter(pk=a.pk).exists()
    merge = CustomerMerge.unscoped.get()
    assert (merge.survivor_id, merge.merged_customer_id, merge.reason, merge.created_by) == (
        b.pk,
        a.pk,
        "duplicates",
        owner,
    )
    assert "Tessa" not in owner_client.get("/data/duplicates/").content.decode()
