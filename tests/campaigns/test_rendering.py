"""Campaign templates: the sandbox, validation that names the placeholder, personalisation, codes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from campaigns.models import Campaign
from campaigns.rendering import (
    MessageLinks,
    Personalisation,
    TemplateProblem,
    discount_code_customer_id,
    discount_code_for,
    render_message,
    validate_templates,
)
from campaigns.selectors import personalisations
from campaigns.sending import campaign_preview
from tests.campaigns.factories import CampaignFactory, score, segment_with_members
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, ProductFactory

LINKS = MessageLinks(
    unsubscribe_url="https://insights.example/u/TOKEN/",
    open_pixel_url="https://insights.example/t/o/PIX.gif",
    click_url=lambda url: "https://insights.example/t/c/X/?u=" + url,
)


def _campaign(**kwargs) -> Campaign:
    values = {
        "pk": 7,
        "subject_template": "Hi {{ first_name }}",
        "body_template": "Body",
        "offer_type": "percent_off",
        "offer_value": Decimal("15"),
        "code_mode": "none",
        "discount_code": "",
    }
    values.update(kwargs)
    return Campaign(**values)


def _render(campaign, person=None):
    person = person or Personalisation(customer_id=42, email="ada@example.org", first_name="Ada")
    return render_message(
        campaign=campaign,
        shop_name="Alpha Coffee",
        currency="GBP",
        postal_address="1 High Street, London",
        person=person,
        links=LINKS,
    )


@pytest.mark.parametrize(
    ("subject", "body", "field", "needle"),
    [
        ("Hi {{ frist_name }}", "x", "subject_template", "frist_name"),
        ("Hi", "Dear {{ first_name }} {{ password }}", "body_template", "password"),
        ("Hi", "{% if secret %}x{% endif %}", "body_template", "secret"),
        ("Hi", "{% for p in products %}{{ p }}{% endfor %}", "body_template", "products"),
        ("Hi", "{{ first_name|default:settings }}", "body_template", "settings"),
        ("Hi", "{% load static %}{% static 'x' %}", "body_template", "{% load %}"),
        ("Hi", "{% include 'base.html' %}", "body_template", "{% include %}"),
        ("Hi", "{% url 'login' %}", "body_template", "{% url %}"),
        ("Hi", "{{ first_name|safe }}", "body_template", "safe"),
        ("Hi", "{% if first_name %}unclosed", "body_template", "endif"),
    ],
)
def test_bad_templates_are_refused_naming_the_problem(subject, body, field, needle):
    with pytest.raises(TemplateProblem) as info:
        validate_templates(subject=subject, body=body)

    assert info.value.field == field
    assert needle in info.value.message


def test_loop_variables_and_forloop_are_allowed_inside_their_loop_only():
    validate_templates(
        subject="x", body="{% for p in recommended_products %}{{ forloop.counter }}. {{ p }}{% endfor %}"
    )

    with pytest.raises(TemplateProblem, match="“p”"):
        validate_templates(subject="x", body="{% for p in recommended_products %}{% endfor %}{{ p }}")


def test_loops_nest_at_most_two_deep():
    body = (
        "{% for a in recommended_products %}{% for b in recommended_products %}{% for c in recommended_products %}"
        "{% endfor %}{% endfor %}{% endfor %}"
    )
    with pytest.raises(TemplateProblem, match="nested"):
        validate_templates(subject="x", body=body)


def test_model_validation_reports_template_errors_on_the_field(db):
    campaign = _campaign(body_template="Hello {{ nme }}")
    with pytest.raises(ValidationError) as info:
        campaign.clean()
    assert "nme" in str(info.value.message_dict["body_template"])


def test_offer_value_is_required_for_discounts():
    with pytest.raises(ValidationError) as info:
        _campaign(offer_value=None).clean()
    assert "offer_value" in info.value.message_dict


def test_message_is_personalised_and_carries_footer_and_pixel():
    campaign = _campaign(
        subject_template="{{ first_name }}, {{ offer }}\nnew line",
        body_template="Hi {{ first_name }}, you like {{ favourite_category }}.\n\n"
        "{% for p in recommended_products %}* {{ p }}\n{% endfor %}See https://alpha.example/new?a=1&b=2.",
    )
    person = Personalisation(
        customer_id=42,
        email="ada@example.org",
        first_name="Ada <b>",
        favourite_category="Coffee",
        recommended_products=("Beans", "Mug", "Filter", "Extra"),
    )

    message = _render(campaign, person)

    assert message.subject == "Ada <b>, 15% off new line"  # one line
    assert "Hi Ada <b>, you like Coffee." in message.text
    assert "* Beans\n* Mug\n* Filter\n" in message.text and "Extra" not in message.text
    assert "https://insights.example/u/TOKEN/" in message.text
    assert "1 High Street, London" in message.text
    assert "Ada &lt;b&gt;" in message.html and "Ada <b>" not in message.html  # escaped in HTML
    assert 'href="https://insights.example/t/c/X/?u=https://alpha.example/new?a=1&amp;b=2"' in message.html
    assert "https://insights.example/t/o/PIX.gif" in message.html
    assert "1 High Street, London" in message.html


def test_amount_off_is_written_in_the_shops_currency():
    message = _render(_campaign(offer_type="amount_off", offer_value=Decimal("5"), subject_template="{{ offer }}"))
    assert message.subject == "£5.00 off"


def test_unique_codes_differ_per_customer_and_can_be_traced_back():
    campaign = _campaign(code_mode="unique", discount_code="spring")

    a = discount_code_for(campaign=campaign, customer_id=1)
    b = discount_code_for(campaign=campaign, customer_id=2)

    assert a.startswith("SPRING-") and a != b
    assert discount_code_customer_id(campaign=campaign, code=a.lower()) == 1
    assert discount_code_customer_id(campaign=campaign, code=a[:-1] + ("A" if a[-1] != "A" else "B")) is None
    assert (
        discount_code_customer_id(campaign=_campaign(pk=8, code_mode="unique", discount_code="spring"), code=a) is None
    )


def test_shared_code_is_the_shops_code():
    assert (
        discount_code_for(campaign=_campaign(code_mode="shared", discount_code="WELCOME10"), customer_id=5)
        == "WELCOME10"
    )


def test_recommendations_come_from_scores_else_best_sellers_of_the_category(shop):
    fan = CustomerFactory(shop=shop, first_name="Fan")
    newbie = CustomerFactory(shop=shop, first_name="New")
    score(shop, fan, category="Tea", recommendations=[{"product_id": 1, "title": "Green tea", "score": 0.5}])
    score(shop, newbie, category="Coffee")
    beans = ProductFactory(shop=shop, title="Dark beans", category="Coffee")
    order = OrderFactory(shop=shop, customer=fan)
    OrderLineFactory(shop=shop, order=order, product=beans, quantity=5)

    people = personalisations(shop=shop, customers=[fan, newbie])

    assert people[fan.pk].recommended_products == ("Green tea",)
    assert people[fan.pk].favourite_category == "Tea"
    assert people[newbie.pk].recommended_products == ("Dark beans",)


def test_preview_shows_a_members_message_with_their_code(shop):
    ada = CustomerFactory(shop=shop, first_name="Ada", email_consent=True)
    segment = segment_with_members(shop, [ada])
    campaign = CampaignFactory(shop=shop, segment=segment)

    preview = campaign_preview(shop=shop, campaign=campaign, customer=ada)

    assert preview.subject == "Ada, 15% off at Alpha Coffee"
    assert preview.discount_code == discount_code_for(campaign=campaign, customer_id=ada.pk)
    assert preview.discount_code in preview.text
    assert preview.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_starter_message_of_the_create_page_is_valid():
    from campaigns.forms import starter_body, starter_subject

    validate_templates(subject=starter_subject(), body=starter_body())
