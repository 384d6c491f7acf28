"""The normalised keys customers are matched on (ADR 0009). No Django models here: models,
importers and the identity service all use these, so one reading of an email or phone holds
everywhere."""

from __future__ import annotations

import hashlib

import phonenumbers

EMAIL_KEY_MAX = 254
PHONE_KEY_MAX = 20


def email_key(value: object) -> str:
    """The email trimmed and case-folded ("" for anything without an @): "  Ann@Example.COM " -> "ann@example.com"."""
    text = "" if value is None else str(value).strip()
    if "@" not in text:
        return ""
    return text.casefold()[:EMAIL_KEY_MAX]


def phone_key(value: object, *, region: str = "") -> str:
    """The phone number in E.164 ("+447700900123"), "" when it cannot be read as a possible number.

    A number written without +country is read in `region` (ISO 3166 two letters, the shop's
    phone country); without a region only international numbers are read.
    """
    text = "" if value is None else str(value).strip()
    if not text or sum(ch.isdigit() for ch in text) < 6:
        return ""
    try:
        number = phonenumbers.parse(text, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[:PHONE_KEY_MAX]


def erased_digest(*, shop_id: int, key: str) -> str:
    """What an erased customer's email or phone key becomes: a one-way digest, enough to
    recognise the same address arriving again, not to read it back."""
    return hashlib.sha256(f"{shop_id}:{key}".encode()).hexdigest()
