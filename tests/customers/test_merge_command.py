"""manage.py merge_duplicates: the customers stored twice, merged by the rule of arrival matching."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from customers.models import Customer, CustomerIdentity, CustomerMerge, IdentityKind, Order
from customers.services import customer_erase
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored_twice(shop):
    """Two records sharing an email, one sharing a former email kept by an earlier merge, two
    sharing only a phone, and one on its own."""
    ann = CustomerFactory(shop=shop, email="ann@example.org")
    ann_again = CustomerFactory(shop=shop, email=" ANN@example.org")
    bob = CustomerFactory(shop=shop, email="bob@example.org")
    CustomerIdentity.unscoped.create(shop=shop, customer=bob, source=IdentityKind.EMAIL, external_id="rob@example.org")
    rob = CustomerFactory(shop=shop, email="rob@example.org")
    cat = CustomerFactory(shop=shop, email="cat@example.org", phone="+447700900123")
    cat_phone = CustomerFactory(shop=shop, email="kitty@example.org", phone="+44 7700 900123")
    alone = CustomerFactory(shop=shop, email="alone@example.org")
    for person in (ann, ann_again, rob, cat_phone):
        OrderFactory(shop=shop, customer=person)
    return {
        "ann": ann,
        "ann_again": ann_again,
        "bob": bob,
        "rob": rob,
        "cat": cat,
        "cat_phone": cat_phone,
        "alone": alone,
    }


def _run(*args) -> str:
    out = StringIO()
    call_command("merge_duplicates", *args, stdout=out)
    return out.getvalue()


def test_a_dry_run_reports_the_groups_and_writes_nothing(shop, stored_twice):
    before = list(Customer.unscoped.filter(shop=shop).values())

    report = _run("--shop", shop.slug, "--dry-run")

    assert "2 group(s)" in report and "2 customer(s) to merge" in report
    p = stored_twice
    assert f"would keep #{p['ann'].pk}, would merge #{p['ann_again'].pk}" in report
    assert f"would keep #{p['bob'].pk}, would merge #{p['rob'].pk}" in report
    assert "Dry run: nothing was changed." in report
    assert list(Customer.unscoped.filter(shop=shop).values()) == before
    assert not CustomerMerge.unscoped.exists()


def test_a_run_merges_each_group_into_its_oldest_customer(shop, stored_twice):
    p = stored_twice

    report = _run("--shop", shop.slug)

    assert "Merged 2 customer(s) in 2 group(s); 0 group(s) refused." in report
    remaining = set(Customer.unscoped.filter(shop=shop).values_list("pk", flat=True))
    assert remaining == {p[k].pk for k in ("ann", "bob", "cat", "cat_phone", "alone")}
    assert Order.unscoped.filter(customer=p["ann"]).count() == 2
    assert Order.unscoped.filter(customer=p["bob"]).count() == 1
    assert set(CustomerMerge.unscoped.values_list("survivor_id", "merged_customer_id", "reason")) == {
        (p["ann"].pk, p["ann_again"].pk, "command"),
        (p["bob"].pk, p["rob"].pk, "command"),
    }
    assert "0 group(s)" in _run("--shop", shop.slug, "--dry-run")  # nothing left to do


def test_phones_count_with_include_phone_or_when_the_shop_matches_by_phone(shop, stored_twice):
    p = stored_twice

    report = _run("--shop", shop.slug, "--dry-run", "--include-phone")
    assert "3 group(s) of customers sharing an email or phone" in report
    assert f"would keep #{p['cat'].pk}, would merge #{p['cat_phone'].pk}" in report

    shop.match_by_phone = True
    shop.save()
    _run("--shop", shop.slug)

    assert not Customer.unscoped.filter(pk=p["cat_phone"].pk).exists()
    assert Order.unscoped.filter(customer=p["cat"]).count() == 1


def test_erased_customers_are_never_merged(shop):
    kept = CustomerFactory(shop=shop, email="same@example.org")
    erased = customer_erase(shop=shop, customer=CustomerFactory(shop=shop, email="same@example.org"))

    report = _run("--shop", shop.slug)

    assert "0 group(s)" in report
    assert Customer.unscoped.filter(pk__in=[kept.pk, erased.pk]).count() == 2


def test_other_shops_are_left_alone(shop, other_shop):
    CustomerFactory(shop=other_shop, email="same@example.org")
    CustomerFactory(shop=other_shop, email="same@example.org")
    CustomerFactory(shop=shop, email="same@example.org")

    assert "0 group(s)" in _run("--shop", shop.slug)
    assert Customer.unscoped.filter(shop=other_shop).count() == 2


def test_an_unknown_shop_is_an_error(db):
    with pytest.raises(CommandError, match="No shop"):
        _run("--shop", "nope")
