"""What any way in accepts, whatever app it belongs to: dates within a stated range, strings that
the database can store, JSON that is not nested without end (issue 14).

Every date the product keeps about a shop's business (orders, events, reviews, updated_at of any
source) lies between EARLIEST and one day after now: pandas (the analysis) reads 1677-2262 only,
and a date in 1 BC or 9999 cannot even be read back by Python. Birth dates lie between 1900 and
today.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
FUTURE_SLACK = dt.timedelta(days=1)
EARLIEST_BIRTH = dt.date(1900, 1, 1)
MAX_JSON_DEPTH = 32
MAX_ID = 2**63 - 1  # the largest database id (bigint); a larger number is refused, not sent to the database

# A NUL, or half of a UTF-16 surrogate pair on its own: PostgreSQL text cannot hold either.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def latest(now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) + FUTURE_SLACK


def datetime_problem(value: dt.datetime, *, now: dt.datetime | None = None) -> str | None:
    """Why this (aware) time is refused, or None."""
    try:
        ok = EARLIEST <= value <= latest(now)
    except (TypeError, OverflowError):
        ok = False
    if ok:
        return None
    return _("Give a time between 1970-01-01 and tomorrow (%(value)s is outside).") % {"value": value.isoformat()}


def birth_date_problem(value: dt.date, *, today: dt.date | None = None) -> str | None:
    today = today or timezone.now().date()
    if EARLIEST_BIRTH <= value <= today:
        return None
    return _("Give a birth date between 1900-01-01 and today.")


def text_problem(value: str) -> str | None:
    """Why this string cannot be stored (a NUL or a lone surrogate), or None."""
    if _UNSTORABLE.search(value):
        return _("Remove the NUL or invalid (surrogate) character from the text.")
    return None


def json_problem(value: Any, *, max_depth: int = MAX_JSON_DEPTH, strings: bool = True) -> str | None:
    """Why a parsed JSON document is refused: nested deeper than max_depth, or (with `strings`) a
    string, key or value, that cannot be stored. Walks without recursion, so no input can exhaust
    the stack. Readers that check each field's text themselves (naming the item and field) pass
    strings=False."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if strings and (problem := text_problem(item)):
                return problem
        elif isinstance(item, dict | list):
            if depth > max_depth:
                return _("The JSON is nested more than %(n)s levels deep.") % {"n": max_depth}
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)
    return None
