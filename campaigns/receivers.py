"""campaigns listens to customers: an unsubscribe or bounce follows the person through a merge,
and an erased customer's addresses leave the recipients and suppressions (customers_erased).

Suppressions are kept by address. When two customers are merged, the survivor may end up with
an address that was never suppressed while one of the person's former addresses was; the
person asked not to be emailed, so the survivor's address is suppressed too. A bounce is about
an address, not a person, and does not follow. The merge records the suppression made here, and
its undo removes it again.
"""

from __future__ import annotations

from django.db.models import Q
from django.dispatch import receiver

from campaigns.models import Suppression, SuppressionReason, suppression_digest
from customers.signals import customer_data_collect, customer_merge_undone, customer_merged, customers_erased

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
    digest = suppression_digest(shop_id=shop.pk, email=address)
    if suppressions.filter(Q(email=address) | Q(email_hash=digest)).exists():
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


@receiver(customers_erased, dispatch_uid="campaigns.personal_data_erase")
def personal_data_erase(sender, shop, customer_ids, emails, phones, names, **kwargs) -> None:
    """Erase what campaigns keep about the erased customers (see campaign_personal_data_erase)."""
    from campaigns.services import campaign_personal_data_erase

    campaign_personal_data_erase(shop=shop, customer_ids=customer_ids, emails=emails, phones=phones, names=names)


@receiver(customer_data_collect, dispatch_uid="campaigns.customer_data_collect")
def customer_data_collect_campaigns(sender, shop, customer_ids, **kwargs) -> dict:
    from campaigns.selectors import customer_campaign_export

    return customer_campaign_export(shop=shop, customer_ids=customer_ids)
