"""Finding erased people in stored text, and blanking them: webhook payloads, API answers,
reports and uploaded files. No Django models here: pure functions over JSON values and
text, tested on the payload shapes Shopify and WooCommerce send.

What identifies the people is a PersonMarks: their email keys, phone numbers, names and
platform customer ids. A payload *names* them when it carries one of their platform ids (as
the customer record itself, an order's `customer`, a `customer_id`), an email of theirs or a
phone number of theirs; such a payload is about them, and every personal value in it goes:
the personal keys anywhere (email, phone, first_name, address1, city, zip, note, IP ...)
and every text inside the personal objects (customer, billing / shipping / default address,
addresses, client_details, note_attributes, meta_data), keeping only ids and times, so an
order still finds its (erased) customer if it is applied later. In any other payload a text
that *mentions* them (contains an email or phone of theirs, or every word of a full name)
is blanked, and nothing else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import phonenumbers

from customers.keys import email_key, phone_key

# Objects whose every text is about the person they belong to.
PERSONAL_OBJECTS = frozenset(
    {
        "customer",
        "billing_address",
        "shipping_address",
        "default_address",
        "addresses",
        "billing",
        "shipping",
        "client_details",
        "note_attributes",
        "meta_data",
    }
)
# Values that are personal wherever they are in a payload about the person. Not "name": an
# order's name is its number and a line item's its product (inside an address it goes anyway).
PERSONAL_KEYS = frozenset(
    {
        "email",
        "contact_email",
        "phone",
        "first_name",
        "last_name",
        "company",
        "address1",
        "address2",
        "city",
        "zip",
        "postcode",
        "province",
        "province_code",
        "country",
        "country_code",
        "country_name",
        "browser_ip",
        "customer_ip_address",
        "customer_user_agent",
        "user_agent",
        "note",
        "customer_note",
        "username",
        "avatar_url",
        "birthday",
        "date_of_birth",
    }
)
_COORDINATES = frozenset({"latitude", "longitude"})
_WORD = re.compile(r"\w+")
# A run of digits with the separators phone numbers are written with: "+44 (0)7700-900 123".
_PHONE_RUN = re.compile(r"\+?\d[\d \-().\/]{5,}\d")
_PHONE_SHAPED = re.compile(r"\+?[\d \-().\/]+")
_NON_DIGIT = re.compile(r"\D+")
# A national number may be written with a country code and a trunk prefix before it ("0044").
_PHONE_PREFIX_MAX = 4
_PHONE_DIGITS_MIN = 6


@dataclass(frozen=True)
class PersonMarks:
    """What identifies the erased people. Build it with PersonMarks.build."""

    emails: frozenset[str] = frozenset()  # email keys: trimmed, case-folded
    phones: frozenset[str] = frozenset()  # E.164
    phone_digits: frozenset[str] = frozenset()  # national significant numbers: "7700900123"
    names: frozenset[tuple[str, ...]] = frozenset()  # each full name as case-folded words
    platform_ids: frozenset[tuple[str, str]] = frozenset()  # (source, customer id)

    @classmethod
    def build(
        cls,
        *,
        emails: Iterable[Any] = (),
        phones: Iterable[Any] = (),
        names: Iterable[Any] = (),
        platform_ids: Iterable[tuple[str, Any]] = (),
        region: str = "",
    ) -> PersonMarks:
        """Normalise what the rows hold: any email spelling, phones as written or in E.164 (read
        in the shop's `region`), names as "First Last" (a name needs two words to be recognised
        on its own: one word alone is too common). Empty values are dropped."""
        email_keys = frozenset(k for k in (email_key(e) for e in emails) if k)
        phone_keys = frozenset(k for k in (phone_key(p, region=region) for p in phones) if k)
        digits = set()
        for key in phone_keys:
            try:
                national = str(phonenumbers.parse(key).national_number)
            except phonenumbers.NumberParseException:
                continue
            if len(national) >= _PHONE_DIGITS_MIN:
                digits.add(national)
        words = frozenset(tuple(w) for w in (_WORD.findall(str(n).casefold()) for n in names if n) if len(w) >= 2)
        ids = frozenset((str(source), str(pid)) for source, pid in platform_ids if source and pid not in (None, "", 0))
        return cls(emails=email_keys, phones=phone_keys, phone_digits=frozenset(digits), names=words, platform_ids=ids)

    def __bool__(self) -> bool:
        return bool(self.emails or self.phone_digits or self.names or self.platform_ids)


# --------------------------------------------------------------------------- text


def _phone_matches(value: str, marks: PersonMarks) -> bool:
    """Whether a phone-shaped text is one of their numbers, however it is written."""
    digits = _NON_DIGIT.sub("", value)
    if len(digits) < _PHONE_DIGITS_MIN:
        return False
    return any(digits.endswith(n) and len(digits) - len(n) <= _PHONE_PREFIX_MAX for n in marks.phone_digits)


def looks_like_phone(value: str) -> bool:
    """A text written the way phone numbers are: digits, "+", spaces, dashes, dots, brackets."""
    text = value.strip()
    return (
        len(text) <= 40 and bool(_PHONE_SHAPED.fullmatch(text)) and sum(c.isdigit() for c in text) >= _PHONE_DIGITS_MIN
    )


def _is_their_phone(value: str, marks: PersonMarks) -> bool:
    return bool(marks.phone_digits) and looks_like_phone(value) and _phone_matches(value, marks)


def text_mentions(text: str, marks: PersonMarks) -> bool:
    """Whether a text contains an email or a phone number of theirs, or all the words of a full
    name of theirs on one line ("Ada Byron", "BYRON, Ada", "Ada,Byron" in a CSV row)."""
    if not text or not marks:
        return False
    folded = text.casefold()
    if any(e in folded for e in marks.emails):
        return True
    if marks.phone_digits and any(_phone_matches(m.group(), marks) for m in _PHONE_RUN.finditer(text)):
        return True
    for words in marks.names:
        if all(w in folded for w in words):  # a cheap look first: most texts have none of them
            wanted = set(words)
            if any(wanted <= set(_WORD.findall(line)) for line in folded.splitlines()):
                return True
    return False


def text_redact(text: str, marks: PersonMarks) -> str:
    """The text, or "" when it mentions them."""
    return "" if text_mentions(text, marks) else text


# --------------------------------------------------------------------------- JSON


def _walk(value: Any, key: Any = None) -> Iterable[tuple[Any, Any]]:
    yield key, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v, key)


def _lower(key: Any) -> Any:
    return key.lower() if isinstance(key, str) else key


def payload_names_person(payload: Any, marks: PersonMarks, *, source: str, customer_record: bool) -> bool:
    """Whether a platform's payload is about one of them: it carries a customer id of theirs on
    `source` (the record's own id when it is a `customer_record`, an object under "customer",
    a "customer_id"), an email of theirs or a phone number of theirs."""
    ids = {pid for src, pid in marks.platform_ids if src == source}
    if ids and customer_record and isinstance(payload, dict) and str(payload.get("id")) in ids:
        return True
    for key, value in _walk(payload):
        key = _lower(key)
        if ids and key == "customer" and isinstance(value, dict) and str(value.get("id")) in ids:
            return True
        if ids and key == "customer_id" and not isinstance(value, (dict, list)) and str(value) in ids:
            return True
        if isinstance(value, str) and (email_key(value) in marks.emails or _is_their_phone(value, marks)):
            return True
    return False


def _kept(key: Any) -> bool:
    """Inside a personal object, what still says which record it is: ids and times."""
    if not isinstance(key, str):
        return False
    key = key.lower()
    return key in ("id", "currency") or key.endswith(("_id", "_at", "_gmt"))


def _blank(value: Any, marks: PersonMarks, *, personal: bool, about: bool) -> Any:
    """`value` with its personal texts blanked: every text when `personal` (inside a personal
    object), the personal keys and objects too when the payload is `about` them, and any text
    that mentions them."""
    if isinstance(value, dict):
        return {k: _blank_item(k, v, marks, personal=personal, about=about) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank(v, marks, personal=personal, about=about) for v in value]
    if isinstance(value, str):
        return "" if (personal and value) or text_mentions(value, marks) else value
    return value


def _blank_item(key: Any, value: Any, marks: PersonMarks, *, personal: bool, about: bool) -> Any:
    name = _lower(key)
    if about and name in _COORDINATES:
        return None
    if personal and _kept(name):
        return _blank(value, marks, personal=False, about=about)
    if about and (name in PERSONAL_KEYS or name in PERSONAL_OBJECTS):
        return _blank(value, marks, personal=True, about=about)
    return _blank(value, marks, personal=personal, about=about)


def _may_concern(value: Any, marks: PersonMarks, *, source: str = "") -> bool:
    """A quick look at the whole value as one text: False when nothing of theirs can be in it
    (most payloads), so only the few that may are walked (ten times faster on a shop's payloads)."""
    text = json.dumps(value, ensure_ascii=False, default=str).casefold()
    if any(e in text for e in marks.emails):
        return True
    ids = {pid.casefold() for src, pid in marks.platform_ids if src == source and pid.casefold() in text}
    if ids and (ids & set(_WORD.findall(text)) or not all(_WORD.fullmatch(pid) for pid in ids)):
        return True  # an id as a whole word ("8801", not inside "188012"), or one that is not a word
    if any(all(w in text for w in words) for words in marks.names):
        return True
    if not marks.phone_digits:
        return False
    digits = _NON_DIGIT.sub("", text)  # a number written in the text is in here, whatever its separators
    if not any(n in digits for n in marks.phone_digits):
        return False
    return any(_phone_matches(m.group(), marks) for m in _PHONE_RUN.finditer(text))


def payload_redact(payload: Any, marks: PersonMarks, *, source: str, customer_record: bool) -> tuple[Any, bool]:
    """(payload without their personal data, whether anything changed).

    `customer_record`: the payload is a customer (a customers/* or customer.* topic), so all
    of it is personal when it is theirs. A payload about them loses every personal value; any
    other loses only the texts that mention them.
    """
    if not _may_concern(payload, marks, source=source):
        return payload, False
    about = payload_names_person(payload, marks, source=source, customer_record=customer_record)
    redacted = _blank(payload, marks, personal=about and customer_record, about=about)
    return redacted, redacted != payload


def json_redact(value: Any, marks: PersonMarks) -> tuple[Any, bool]:
    """(value with every text that mentions them blanked, whether anything changed): for what
    is not a platform's payload (API answers, import and sync reports)."""
    if not _may_concern(value, marks):
        return value, False
    redacted = _blank(value, marks, personal=False, about=False)
    return redacted, redacted != value


def payload_strings(payload: Any) -> list[str]:
    """Every text in a payload (for looking up whose it is)."""
    return [value for _key, value in _walk(payload) if isinstance(value, str)]


def payload_customer_ids(payload: Any, *, customer_record: bool) -> set[str]:
    """The platform customer ids a payload carries (see payload_names_person)."""
    found = set()
    if customer_record and isinstance(payload, dict) and payload.get("id") not in (None, "", 0):
        found.add(str(payload["id"]))
    for key, value in _walk(payload):
        key = _lower(key)
        if key == "customer" and isinstance(value, dict) and value.get("id") not in (None, "", 0):
            found.add(str(value["id"]))
        elif key == "customer_id" and not isinstance(value, (dict, list)) and value not in (None, "", 0, "0"):
            found.add(str(value))
    return found
