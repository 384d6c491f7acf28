"""What both platforms share: signed bodies, the records a payload maps to, and a careful HTTP GET.

The HTTP client is the standard library's urllib (no extra dependency): GET only,
JSON only, no redirects followed, a size cap and a timeout. Store URLs are typed in
by shop owners and fetched by our server, so they must be https and must not point
at private, loopback or link-local addresses, unless settings.INTEGRATIONS_ALLOW_LOCAL_URLS
is on (tests and local development against a store on this machine).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from customers.keys import email_key
from customers.services import CustomerInput, OrderInput, ProductInput
from shops import bounds

MAX_RESPONSE_BYTES = 20 * 1024 * 1024
HTTP_TIMEOUT_SECONDS = 30
_CENTS = Decimal("0.01")


class PlatformError(Exception):
    """The platform could not be reached or answered something we cannot use."""


class PayloadRefused(ValueError):
    """A payload holds a value the product does not store (a date outside the accepted range)."""


@dataclass
class PlatformRecords:
    """What a page of platform payloads becomes, ready for the upsert services.

    billing_customers are created when missing but never update an existing customer
    (WooCommerce's billing details belong to the order, not the customer's profile).
    stamps are the updated_at of the page's main items, for the sync cursor.
    """

    customers: list[CustomerInput] = field(default_factory=list)
    billing_customers: list[CustomerInput] = field(default_factory=list)
    products: list[ProductInput] = field(default_factory=list)
    orders: list[OrderInput] = field(default_factory=list)
    stamps: list[dt.datetime] = field(default_factory=list)


def signature_valid(*, body: bytes, secret: str, header: str | None) -> bool:
    """base64(HMAC-SHA256(secret, raw body)) equals the header, compared in constant time.

    An empty secret never verifies (anyone could sign with it).
    """
    if not secret or not header:
        return False
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, header.strip().encode("latin-1", errors="replace"))


def sign(*, body: bytes, secret: str) -> str:
    """The signature a platform sends for `body` (used by tests and the fake platforms)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def newest_by_key(items: list) -> list:
    """One item per (source, external_id): the newest by updated_at, later ones winning ties.

    An item without an external id (a guest known by email only) is keyed by its email key,
    so two guests of one page stay two people and one guest's orders stay one.
    """
    chosen: dict[tuple[str, str], Any] = {}
    for item in items:
        key = (item.source, item.external_id or f"email:{email_key(item.fields.get('email'))}")
        old = chosen.get(key)
        if old is None or old.updated_at is None or (item.updated_at is not None and item.updated_at >= old.updated_at):
            chosen[key] = item
    return list(chosen.values())


def parse_datetime(value: Any, *, naive_tz: dt.tzinfo | None = dt.UTC) -> dt.datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=naive_tz)
    if problem := bounds.datetime_problem(parsed):
        # a platform's date outside the range the product keeps: the delivery fails, named, and
        # nothing of it is stored (one such date would stop every analysis of the shop)
        raise PayloadRefused(f"{value}: {problem}")
    return parsed


def parse_money(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount.quantize(_CENTS) if amount.is_finite() else None


def text(value: Any, max_length: int) -> str:
    return ("" if value is None else str(value)).strip()[:max_length]


# --------------------------------------------------------------------------- HTTP


def _allow_local() -> bool:
    return bool(getattr(settings, "INTEGRATIONS_ALLOW_LOCAL_URLS", False))


def store_url_problem(url: str) -> str | None:
    """Why our server must not fetch this store URL, or None when it may."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return _("Give the full address of your store, starting with https://.")
    if _allow_local():
        return None
    if parts.scheme != "https":
        return _("The store address must start with https://.")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except (socket.gaierror, UnicodeError):
        return _("The store address %(host)s could not be found.") % {"host": parts.hostname}
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global:
            return _("The store address must be a public internet address.")
    return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a 3xx becomes an HTTPError: a redirect could lead to an address we refuse


_opener = urllib.request.build_opener(_NoRedirect)


def http_get_json(url: str, *, headers: Mapping[str, str]) -> tuple[Any, Mapping[str, str]]:
    """GET a JSON document; PlatformError for a refused URL, a network error, a non-2xx answer or bad JSON."""
    problem = store_url_problem(url)
    if problem:
        raise PlatformError(problem)
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url, headers={"Accept": "application/json", "User-Agent": "ShopInsights/1.0", **headers}
    )
    shown = url.split("?")[0]
    try:
        with _opener.open(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
            body = response.read(MAX_RESPONSE_BYTES + 1)
            response_headers = response.headers
    except urllib.error.HTTPError as exc:
        raise PlatformError(_("%(url)s answered HTTP %(code)s.") % {"url": shown, "code": exc.code}) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PlatformError(_("%(url)s could not be reached: %(reason)s") % {"url": shown, "reason": reason}) from None
    if len(body) > MAX_RESPONSE_BYTES:
        raise PlatformError(_("%(url)s answered with more than 20 MB.") % {"url": shown})
    try:
        return json.loads(body), response_headers
    except ValueError:
        raise PlatformError(_("%(url)s did not answer with JSON.") % {"url": shown}) from None
