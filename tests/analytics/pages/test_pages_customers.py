"""Customer list with search and filters, profile page, privacy export and erasure."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.urls import reverse

from analytics.models import CustomerScore, Segment, SegmentMembership
from customers.models import Customer, Order, Review
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

LIST = reverse("customer_list")


def _champion(pages) -> Customer:
    segment = Segment.objects.for_shop(pages.shop).get(run=pages.run, key="rfm:champions")
    membership = SegmentMembership.objects.for_shop(pages.shop).filter(segment=segment).order_by("customer_id").first()
    return Customer.objects.for_shop(pages.shop).get(pk=membership.customer_id)


@pytest.mark.parametrize("role", ["owner", "staff", "viewer"])
def test_members_see_the_customer_list(pages, role):
    response = getattr(pages, role).get(LIST)

    assert response.status_code == 200
    assert response.context["customers"].paginator.count == Customer.objects.for_shop(pages.shop).count()


def test_the_customer_list_answers_in_a_bounded_number_of_queries(pages, django_assert_max_num_queries):
    with django_assert_max_num_queries(15):
        pages.viewer.get(LIST, {"q": "a", "sort": "-clv"})


def test_htmx_search_finds_a_customer_by_email(pages, hx):
    someone = _champion(pages)

    response = hx(pages.viewer, "get", LIST, data={"q": someone.email})

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="customers"')
    assert [c.pk for c in response.context["customers"]] == [someone.pk]


def test_a_search_matching_more_than_the_cap_says_more_than(pages, monkeypatch):
    from analytics.selectors import customers as customer_pages

    total = Customer.objects.for_shop(pages.shop).count()
    monkeypatch.setattr(customer_pages, "LIST_CAP", 40)

    capped = pages.viewer.get(LIST)
    monkeypatch.setattr(customer_pages, "LIST_CAP", total)
    exact = pages.viewer.get(LIST)

    assert total > 40
    assert capped.context["customers"].paginator.count == 40
    assert capped.context["customers"].paginator.num_pages == 2
    assert "1–25 of more than 40" in capped.content.decode()
    assert exact.context["customers"].paginator.count == total
    assert f"1–25 of {total:,}" in exact.content.decode()


def test_a_search_is_counted_up_to_its_own_smaller_cap(pages, monkeypatch):
    from analytics.selectors import customers as customer_pages

    everyone = Customer.objects.for_shop(pages.shop)
    matching = everyone.filter(email__icontains="example").count()
    monkeypatch.setattr(customer_pages, "LIST_CAP", 60)
    monkeypatch.setattr(customer_pages, "SEARCH_CAP", 30)

    listed = pages.viewer.get(LIST)
    searched = pages.viewer.get(LIST, {"q": "example"})
    narrow = pages.viewer.get(LIST, {"q": everyone.order_by("pk").first().email})

    assert matching > 60
    assert listed.context["customers"].paginator.count == 60
    assert searched.context["customers"].paginator.count == 30
    assert "1–25 of more than 30" in searched.content.decode()
    assert narrow.context["customers"].paginator.count == 1
    assert not narrow.context["customers"].paginator.capped


@pytest.mark.parametrize("sort", ["name", "-last_order", "-clv", "-monetary", "-frequency", "newest"])
@pytest.mark.parametrize("search", ["", "example", "Lovelace"])
@pytest.mark.parametrize(("narrow", "cap"), [(500, 10_000), (0, 10_000), (0, 150)], ids=["keys", "query", "capped"])
def test_each_way_of_paging_gives_the_pages_of_the_plain_sorted_query(pages, monkeypatch, sort, search, narrow, cap):
    from analytics.selectors import customers as customer_pages
    from analytics.views import ListPaginator

    # Customers new since the run (no score; the factory's are named Lovelace) and a scored
    # customer without a predicted CLV: each score sort puts them last, the unscored after.
    CustomerFactory.create_batch(9, shop=pages.shop)
    first = CustomerScore.objects.for_shop(pages.shop).filter(run=pages.run).order_by("customer_id")[:3]
    CustomerScore.objects.for_shop(pages.shop).filter(pk__in=list(first.values_list("pk", flat=True))).update(
        clv_12m=None
    )
    monkeypatch.setattr(customer_pages, "NARROW", narrow)
    monkeypatch.setattr(customer_pages, "LIST_CAP", cap)
    monkeypatch.setattr(customer_pages, "SEARCH_CAP", cap)

    filters = customer_pages.CustomerFilters(search=search, sort=sort)
    rows = customer_pages.customer_table(shop=pages.shop, filters=filters, run=pages.run)
    expected = list(rows.matching.order_by(*customer_pages.CUSTOMER_SORTS[sort]).values_list("pk", flat=True))
    paginator = ListPaginator(rows, 4)

    assert paginator.count == min(len(expected), cap) and expected
    assert paginator.capped == (len(expected) > cap)
    for number in sorted({1, 2, *range(max(1, paginator.num_pages - 3), paginator.num_pages + 1)}):
        shown = [customer.pk for customer in paginator.page(number).object_list]
        assert shown == expected[(number - 1) * 4 : min(number * 4, paginator.count)], number


def test_filters_by_segment_rfm_group_and_churn_risk(pages):
    segment = Segment.objects.for_shop(pages.shop).get(run=pages.run, key="rfm:champions")

    by_segment = pages.viewer.get(LIST, {"segment": segment.pk})
    by_group = pages.viewer.get(LIST, {"rfm_group": "Champions"})
    by_risk = pages.viewer.get(LIST, {"churn_risk": "high"})

    assert by_segment.context["customers"].paginator.count == segment.size
    assert by_group.context["customers"].paginator.count == segment.size
    high = CustomerScore.objects.for_shop(pages.shop).filter(run=pages.run, churn_risk="high").count()
    assert by_risk.context["customers"].paginator.count == high


def test_filters_by_last_order_date(pages):
    cutoff = dt.date(2026, 2, 1)
    since = dt.datetime(2026, 2, 1, tzinfo=pages.shop.tzinfo)
    # purchases as ADR 0007 defines them: paid sales (no credit notes, no fully returned sales)
    purchases = Order.objects.for_shop(pages.shop).filter(status="paid", total__gt=0, customer__isnull=False)
    recent = set(purchases.filter(placed_at__gte=since).values_list("customer_id", flat=True))
    ever = set(purchases.values_list("customer_id", flat=True))

    after = pages.viewer.get(LIST, {"last_order_after": cutoff.isoformat()})
    before = pages.viewer.get(LIST, {"last_order_before": cutoff.isoformat()})

    assert after.context["customers"].paginator.count == len(recent)
    assert before.context["customers"].paginator.count == len(ever - recent)


def test_another_shops_segment_is_not_a_valid_filter(pages):
    response = pages.viewer.get(LIST, {"segment": pages.other_segment.pk})

    assert response.status_code == 200
    assert response.context["form"].errors


def test_the_profile_shows_features_predictions_with_explanations_orders_and_segments(pages):
    someone = _champion(pages)

    response = pages.viewer.get(reverse("customer_detail", args=[someone.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    for heading in ("Personal", "Behaviour", "Preferences", "Predictions", "Recommended offers", "Segment history"):
        assert heading in body
    assert "Chance still active" in body and "chance that they are still active" in body
    score = CustomerScore.objects.for_shop(pages.shop).get(run=pages.run, customer=someone)
    assert score.p_alive is not None and score.churn_percent == 100 - round(score.p_alive * 100)
    assert f"churn risk {score.churn_percent}%" in body
    # the churn bands in the help come from compute/clv.py
    assert "high from 50%: as likely gone as not; medium above 20%; low otherwise" in body
    assert "Champions" in body
    assert 'class="timeline"' in body


def test_the_profile_answers_in_a_bounded_number_of_queries(pages, django_assert_max_num_queries):
    someone = _champion(pages)
    with django_assert_max_num_queries(20):
        pages.viewer.get(reverse("customer_detail", args=[someone.pk]))


def test_a_stranger_gets_404_for_another_shops_customer(pages):
    someone = _champion(pages)

    for name in ("customer_detail", "customer_export", "customer_erase"):
        assert pages.stranger.get(reverse(name, args=[someone.pk])).status_code == 404
        assert pages.stranger.post(reverse(name, args=[someone.pk])).status_code == 404


def test_the_owner_exports_everything_about_a_customer_as_json(pages):
    someone = _champion(pages)

    response = pages.owner.get(reverse("customer_export", args=[someone.pk]))

    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["profile"]["email"] == someone.email
    assert len(data["orders"]) == Order.objects.for_shop(pages.shop).filter(customer=someone).count()
    assert data["orders"][0]["lines"]
    assert data["analysis"]["scores"][0]["rfm_group"] == "Champions"
    score = CustomerScore.objects.for_shop(pages.shop).get(run=pages.run, customer=someone)
    assert score.expected_spend is not None and score.clv_12m is not None
    assert data["analysis"]["scores"][0]["expected_spend"] == str(score.expected_spend)
    assert data["analysis"]["scores"][0]["clv_12m"] == str(score.clv_12m)
    assert any(s["segment__key"] == "rfm:champions" for s in data["analysis"]["segments"])


def test_staff_and_viewer_cannot_export_or_erase(pages):
    someone = _champion(pages)

    for client in (pages.staff, pages.viewer):
        assert client.get(reverse("customer_export", args=[someone.pk])).status_code == 403
        assert client.post(reverse("customer_erase", args=[someone.pk])).status_code == 403
    assert Customer.objects.for_shop(pages.shop).get(pk=someone.pk).erased_at is None


def test_erasing_asks_for_confirmation_then_blanks_personal_data(pages):
    someone = _champion(pages)
    Review.objects.for_shop(pages.shop).filter(customer=someone).update(text="Lovely beans")

    confirm = pages.owner.get(reverse("customer_erase", args=[someone.pk]))
    response = pages.owner.post(reverse("customer_erase", args=[someone.pk]))

    erased = Customer.objects.for_shop(pages.shop).get(pk=someone.pk)
    assert confirm.status_code == 200 and "cannot be undone" in confirm.content.decode()
    assert response.status_code == 302
    assert erased.erased_at is not None
    assert erased.email == "" and erased.first_name == "" and erased.last_name == ""
    assert not Review.objects.for_shop(pages.shop).filter(customer=someone).exclude(text="").exists()
    assert Order.objects.for_shop(pages.shop).filter(customer=someone).exists()
