"""Tags of the merge pages, used by pages of other apps without their views knowing of merges:
the merge panel of the customer's page and the count of possible duplicates on the data page."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext as _

from customers import duplicates, identity, merging
from customers.models import IdentityKind, Source
from shops.models import Role

register = template.Library()


def _can_merge(request) -> bool:
    membership = getattr(request, "membership", None)
    return membership is not None and membership.has_role(Role.STAFF)


@register.inclusion_tag("customers/_merge_panel.html", takes_context=True)
def customer_merge_panel(context, customer) -> dict[str, Any]:
    """The customer page's merge section: merge another customer into this one, and the history
    of merges into it with Undo while it is possible (staff and owners)."""
    request = context["request"]
    return {
        "customer": customer,
        "merges": merging.customer_merges_for(shop=request.shop, customer=customer),
        "can_merge": _can_merge(request),
        "undo_days": merging.MERGE_UNDO_DAYS,
        "csrf_token": context.get("csrf_token"),
        "request": request,
    }


@register.simple_tag(takes_context=True)
def duplicate_pairs_count(context) -> int:
    """How many pairs of the current shop's customers may be one person."""
    return duplicates.duplicate_pair_count(shop=context["request"].shop)


@register.filter
def known_identities(customer) -> list:
    return identity.known_identities(customer)


@register.filter
def identity_label(identity) -> str:
    """How a customer is known: "Shopify 1234", "former email ann@example.org"."""
    if identity.source == IdentityKind.EMAIL:
        return _("former email %(value)s") % {"value": identity.external_id}
    if identity.source == IdentityKind.PHONE:
        return _("former phone %(value)s") % {"value": identity.external_id}
    label = Source(identity.source).label if identity.source in Source.values else identity.source
    return f"{label} {identity.external_id}"


@register.filter
def merge_reason(value: str) -> str:
    return str(merging.MergeReason(value).label) if value in merging.MergeReason.values else value
