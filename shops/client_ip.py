"""The address a request came from, the same way for every use (login throttling, survey rate limit)."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's IP address.

    With PROXY_COUNT = n reverse proxies in front of the app, it is the n-th address from the
    right of X-Forwarded-For: the one the outermost of our proxies saw. Addresses to its left
    were written by the client and are not trusted. Without proxies, or when the header is
    missing or malformed, it is REMOTE_ADDR.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not count or not forwarded:
        return remote
    chain = [part.strip() for part in forwarded.split(",") if part.strip()]
    if not chain:
        return remote
    candidate = chain[max(len(chain) - count, 0)]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
