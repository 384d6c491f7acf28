"""Blanking an erased person out of stored payloads and texts, on the shapes Shopify and
WooCommerce really send (the builders the webhook tests deliver)."""

from __future__ import annotations

import datetime as dt
import json

from customers.redaction import PersonMarks, payload_names_person, payload_redact, text_mentions
from tests.customers.platform_fakes import shopify_customer, shopify_order, woo_customer, woo_order

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
EMAIL = "zenobia.quillfeather@example.net"
ZENOBIA = PersonMarks.build(
    emails=[EMAIL],
    phones=["+44 7700 900461"],
    names=["Zenobia Quillfeather"],
    platform_ids=[("shopify", "8801"), ("woocommerce", "77")],
)
ADDRESS = {
    "first_name": "Zenobia",
    "last_name": "Quillfeather",
    "name": "Zenobia Quillfeather",
    "address1": "7 Marrowgate Yard",
    "address2": "",
    "city": "Lower Slaughter",
    "zip": "GL54 2HT",
    "province": "Gloucestershire",
    "country": "United Kingdom",
    "country_code": "GB",
    "phone": "07700 900461",
    "company": None,
    "latitude": 51.9,
    "longitude": -1.76,
}


def _zenobia_shopify(**extra) -> dict:
    return shopify_customer(
        8801,
        updated_at=T0,
        email=EMAIL,
        first_name="Zenobia",
        last_name="Quillfeather",
        phone="+447700900461",
        default_address={**ADDRESS, "id": 61, "customer_id": 8801},
        tags="vip, Zenobia",
        **extra,
    )


def _texts(value) -> str:
    return json.dumps(value, ensure_ascii=False).casefold()


def _none_of_her(value) -> bool:
    text = _texts(value)
    return not any(n in text for n in ("zenobia", "quillfeather", "7700", "marrowgate", "slaughter", "gl54"))


def test_a_shopify_order_of_hers_keeps_ids_products_and_money_and_loses_every_personal_value():
    order = shopify_order(
        1001,
        updated_at=T0,
        customer=_zenobia_shopify(),
        email=EMAIL,
        contact_email=EMAIL,
        phone="+44 7700 900461",
        billing_address=ADDRESS,
        shipping_address=ADDRESS,
        note="Leave it with Zenobia at the back door",
        note_attributes=[{"name": "gift message", "value": "For Zenobia"}],
        browser_ip="203.0.113.9",
        client_details={"browser_ip": "203.0.113.9", "user_agent": "Mozilla/5.0"},
    )
    redacted, changed = payload_redact(order, ZENOBIA, source="shopify", customer_record=False)

    assert changed and _none_of_her(redacted) and "203.0.113.9" not in _texts(redacted)
    assert (redacted["id"], redacted["name"], redacted["total_price"], redacted["currency"]) == (
        1001,
        "#1001",
        order["total_price"],
        "GBP",
    )
    assert redacted["customer"]["id"] == 8801  # a later apply still finds the (erased) customer
    assert redacted["customer"]["updated_at"] == order["customer"]["updated_at"]
    assert redacted["customer"]["default_address"]["customer_id"] == 8801
    assert [i["title"] for i in redacted["line_items"]] == ["Beans", "Mug"]
    assert redacted["billing_address"]["latitude"] is None
    assert order["customer"]["email"] == EMAIL  # the input is left as it was


def test_a_shopify_customer_record_of_hers_keeps_only_its_ids_and_times():
    record = _zenobia_shopify()
    redacted, changed = payload_redact(record, ZENOBIA, source="shopify", customer_record=True)
    assert changed and _none_of_her(redacted)
    assert (redacted["id"], redacted["updated_at"]) == (8801, record["updated_at"])
    assert redacted["email_marketing_consent"]["consent_updated_at"] == record["updated_at"]
    assert redacted["email_marketing_consent"]["state"] == ""


def test_a_woocommerce_guest_order_is_hers_by_the_billing_email_and_keeps_its_lines():
    order = woo_order(5, modified=T0, customer_id=0)
    order["billing"] = {
        **order["billing"],
        "email": EMAIL.upper(),
        "first_name": "Zenobia",
        "last_name": "Quillfeather",
    }
    order["shipping"] = {"first_name": "Zenobia", "address_1": "7 Marrowgate Yard", "city": "Lower Slaughter"}
    order["customer_note"] = "ring twice"
    order["customer_ip_address"] = "203.0.113.9"

    assert payload_names_person(order, ZENOBIA, source="woocommerce", customer_record=False)
    redacted, _changed = payload_redact(order, ZENOBIA, source="woocommerce", customer_record=False)
    assert _none_of_her(redacted) and "ring twice" not in _texts(redacted) and "203.0.113.9" not in _texts(redacted)
    assert redacted["line_items"][0]["name"] == "Tea" and redacted["total"] == order["total"]
    assert redacted["status"] == "completed"


def test_a_woocommerce_customer_record_is_hers_by_its_id():
    record = woo_customer(77, modified=T0, email="someone.else@example.org")
    record.update(first_name="Zenobia", last_name="Quillfeather")
    redacted, changed = payload_redact(record, ZENOBIA, source="woocommerce", customer_record=True)
    assert changed and _none_of_her(redacted) and "someone.else" not in _texts(redacted)
    assert redacted["id"] == 77 and redacted["date_modified_gmt"] == record["date_modified_gmt"]


def test_an_id_of_hers_on_another_platform_does_not_make_a_payload_hers():
    record = woo_customer(8801, modified=T0)  # 8801 is her Shopify id, not her WooCommerce one
    assert not payload_names_person(record, ZENOBIA, source="woocommerce", customer_record=True)
    assert payload_redact(record, ZENOBIA, source="woocommerce", customer_record=True) == (record, False)


def test_someone_elses_order_loses_only_the_texts_that_mention_her():
    order = shopify_order(2002, updated_at=T0, customer_id=502)
    order["note"] = f"Gift from {EMAIL}"
    order["shipping_address"] = {**ADDRESS, "name": "Quillfeather, Zenobia", "phone": "", "address2": ""}
    order["note_attributes"] = [{"name": "courier", "value": "call her on +44 (0)7700-900461 first"}]
    redacted, changed = payload_redact(order, ZENOBIA, source="shopify", customer_record=False)
    assert changed
    assert redacted["note"] == "" and redacted["shipping_address"]["name"] == ""
    assert redacted["note_attributes"] == [{"name": "courier", "value": ""}]
    # the order's own customer is not her: their details stay
    assert redacted["customer"] == order["customer"]
    assert redacted["shipping_address"]["first_name"] == "Zenobia"  # one word alone is not a person


def test_a_namesake_with_other_details_is_left_alone():
    order = shopify_order(3003, updated_at=T0, customer_id=503)
    order["customer"].update(first_name="Zenobia", last_name="Quillfeather", email="namesake@example.org")
    assert payload_redact(order, ZENOBIA, source="shopify", customer_record=False) == (order, False)


def test_her_phone_is_recognised_however_it_is_written():
    for written in ("+447700900461", "07700 900461", "0044 7700 900 461", "(07700) 900-461"):
        assert payload_names_person({"phone": written}, ZENOBIA, source="shopify", customer_record=False), written
    assert not payload_names_person({"phone": "07700 900462"}, ZENOBIA, source="shopify", customer_record=False)
    assert not payload_names_person({"total": "7700900461.00x"}, ZENOBIA, source="shopify", customer_record=False)


def test_text_mentions_finds_her_in_csv_rows_whatever_the_order_of_her_names():
    assert text_mentions("C1,Zenobia,Quillfeather,,GB\n", ZENOBIA)
    assert text_mentions("9,QUILLFEATHER;zenobia;x\n", ZENOBIA)
    assert text_mentions("C1,x,y,ZENOBIA.QUILLFEATHER@EXAMPLE.NET\n", ZENOBIA)
    assert text_mentions("C1,x,y,+44 7700 900461\n", ZENOBIA)
    assert not text_mentions("C1,Zenobia,Smith\nC2,Ada,Quillfeather\n", ZENOBIA)
    assert not text_mentions("anything", PersonMarks.build())


def test_one_word_names_and_blank_values_mark_no_one():
    marks = PersonMarks.build(emails=["", "not an email"], phones=["", "12"], names=["Ada", " "], platform_ids=[])
    assert not marks
    assert not text_mentions("Ada came by", marks)
