"""Background jobs of the customers app. Tasks take ids, run inside the shop's scope and call one service."""

from __future__ import annotations

from celery import shared_task

from customers.demo import demo_shop_generate
from customers.identity import customer_phone_keys_refresh
from customers.models import Order
from shops.models import Shop
from shops.scope import shop_scope


@shared_task(name="customers.load_demo_data", acks_late=True, time_limit=600, soft_time_limit=540, max_retries=0)
def load_demo_data(shop_id: int, customers: int = 3000, seed: int = 7) -> dict:
    """Fill a shop with demo data; does nothing for a missing shop or one that already has orders.

    Returns the summary (JSON-friendly), or {"skipped": reason}.
    """
    shop = Shop.objects.filter(pk=shop_id).first()
    if shop is None:
        return {"skipped": "no such shop"}
    with shop_scope(shop):
        if Order.objects.exists():
            return {"skipped": "shop already has orders"}
        return demo_shop_generate(shop=shop, customers=customers, seed=seed).as_dict()


@shared_task(name="customers.refresh_phone_keys", acks_late=True, soft_time_limit=300, time_limit=360, max_retries=0)
def refresh_phone_keys(shop_id: int) -> int:
    """Re-read the shop's stored phone numbers with its phone country; returns how many changed."""
    shop = Shop.objects.filter(pk=shop_id).first()
    if shop is None:
        return 0
    with shop_scope(shop):
        return customer_phone_keys_refresh(shop=shop)


@shared_task(name="customers.expire_merge_records", acks_late=True, soft_time_limit=60, time_limit=120, max_retries=0)
def expire_merge_records() -> int:
    """Clear the personal data of merges past their undo window, in every shop (run daily by
    beat); returns how many records were cleared. Idempotent: a cleared record is not selected."""
    from customers.merging import customer_merges_expire

    return customer_merges_expire()


@shared_task(name="customers.expire_stored_data", acks_late=True, soft_time_limit=1800, time_limit=1900, max_retries=0)
def expire_stored_data() -> dict:
    """Delete, in every shop, the webhook payloads, uploaded files and idempotency answers kept
    past settings.DATA_RETENTION_DAYS (run daily by beat); returns the counts. Idempotent."""
    from customers.retention import stored_data_expire

    return stored_data_expire().as_dict()
