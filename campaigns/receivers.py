"""campaigns listens to customers: an unsubscribe or bounce follows the person through a merge.

Suppressions are kept by address. When two customers are merged, the survivor may end up with
an address that was never suppressed while one of the person's former addresses was; the
person asked not to be emailed, so the survivor's address is suppressed too. A bounce is about
an address, not a person, and does not follow. The merge records the suppression made here, and
its undo removes it again.
"""

from __future__ import annotations

from django.dispatch import receiver

from campaigns.models import Suppression, SuppressionReason
from customers.signals import customer_merge_undone, customer_merged

SUPPRESSIONS_CREATED = "campaigns.Suppression.created"
# What the person asked for (or the shop decided about them), whatever their address.
PERSONAL_REASONS = (SuppressionReason.UNSUBSCRIBED, SuppressionReason.COMPLAINT, SuppressionReason.MANUAL)


@receiver(customer_merged, dispatch_uid="campaigns.suppression_follows_merge")
def suppression_follows_merge(sender, shop, survivor, merge, former_emails, **kwargs) -> dict[str, list[int]]:
    """Suppress the survivor's address when the person unsubscribed (or complained, or the shop
    suppressed them) at one of their former addresses. Returns {SUPPRESSIONS_CREATED: [id]} for
    the merge record (empty when nothing was added)."""
    address = survivor.email.strip().lower()
    former = {e.strip().lower() for e in former_emails if e and e.strip()} - {address}
    if not address or not former:
        return {}
    suppressions = Suppression.objects.for_shop(shop)
    if suppressions.filter(email=address).exists():
        return {}
    first = suppressions.filter(email__in=former, reason__in=PERSONAL_REASONS).order_by("created_at", "pk").first()
    if first is None:
        return {}
    created = Suppression.unscoped.create(shop=shop, email=address, reason=first.reason, campaign_id=first.campaign_id)
    return {SUPPRESSIONS_CREATED: [created.pk]}


@receiver(customer_merge_undone, dispatch_uid="campaigns.suppression_follows_merge_undo")
def suppression_follows_merge_undo(sender, shop, merge, **kwargs) -> None:
    """Remove the suppressions the merge added: each customer is back with its own address."""
    ids = merge.moved.get(SUPPRESSIONS_CREATED) or []
    if ids:
        Suppression.objects.for_shop(shop).filter(pk__in=ids).delete()
