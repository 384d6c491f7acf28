"""The shop's audit log: one writer every app calls, the reads for the owner's page, and expiry.

Nothing here may hold a customer's personal data: callers pass a target as (type, id) and
details as counts, statuses and field names. `audit_record` refuses a details value that is
not a number, a boolean, a short code-like string or a list / dict of those, so a name or an
email address cannot slip in by accident.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from shops.client_ip import client_ip
from shops.models import ApiKey, AuditAction, AuditEvent, Membership, Shop

# Strings allowed in details: statuses, kinds, field names, platform names (no spaces, no "@").
_CODE = re.compile(r"^[A-Za-z0-9_.:-]{0,64}$")


def _checked(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        if not _CODE.match(value):
            raise ValueError(f"audit details hold codes and counts only, not free text: {value!r}")
        return value
    if isinstance(value, list | tuple):
        return [_checked(item) for item in value]
    if isinstance(value, dict):
        return {str(_checked(str(key))): _checked(item) for key, item in value.items()}
    raise ValueError(f"audit details cannot hold a {type(value).__name__}")


def audit_record(
    *,
    shop: Shop,
    action: str,
    actor: AbstractBaseUser | None = None,
    api_key: ApiKey | None = None,
    target: tuple[str, int] | None = None,
    details: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Write one event to the shop's audit log.

    `actor` is a team member (anonymous users are not recorded as actors); `target` is
    ("customer", 123) and the like, never a name; `details` are codes and counts only
    (ValueError otherwise); `request` gives the client's IP address.
    """
    if actor is not None and not getattr(actor, "pk", None):
        actor = None
    target_type, target_id = target if target is not None else ("", None)
    ip = client_ip(request) if request is not None else ""
    return AuditEvent.unscoped.create(
        shop=shop,
        action=AuditAction(action),
        actor=actor,
        api_key=api_key,
        target_type=target_type,
        target_id=target_id,
        details=_checked(details or {}),
        ip=ip or None,
    )


def audit_record_for_user_shops(
    *, user: AbstractBaseUser, action: str, request: HttpRequest | None = None
) -> list[AuditEvent]:
    """Record a sign-in (or a failed one) in the log of every shop the user belongs to."""
    shop_ids = Membership.objects.filter(user=user).values_list("shop_id", flat=True)
    return [
        audit_record(shop=shop, action=action, actor=user, request=request)
        for shop in Shop.objects.filter(pk__in=list(shop_ids))
    ]


def audit_events_for_shop(*, shop: Shop, action: str = "") -> QuerySet[AuditEvent]:
    """The shop's events, newest first, optionally of one action."""
    events = AuditEvent.objects.for_shop(shop).select_related("actor", "api_key")
    if action:
        events = events.filter(action=action)
    return events.order_by("-created_at", "-pk")


def audit_events_expire(*, now: dt.datetime | None = None) -> int:
    """Delete, in every shop, the events older than settings.AUDIT_RETENTION_DAYS; returns how many."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.AUDIT_RETENTION_DAYS)
    deleted, _by_model = AuditEvent.unscoped.filter(created_at__lt=cutoff).delete()
    return deleted
