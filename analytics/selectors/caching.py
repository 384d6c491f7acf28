"""Cache keys of the analytics pages: what a cached value or rendered fragment depends on."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.utils import timezone, translation

from shops.models import Shop


def page_cache_key(*parts: Any) -> str:
    raw = json.dumps(parts, sort_keys=True, default=str)
    return "analytics:pages:" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def rendered_key(shop: Shop, *parts: Any) -> str:
    """The key of an HTML fragment: its parts, and what the text is rendered in (language, time
    zone and the shop's currency)."""
    return page_cache_key(
        "rendered",
        shop.pk,
        *parts,
        shop.currency,
        timezone.get_current_timezone_name(),
        translation.get_language(),
    )
