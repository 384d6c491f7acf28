"""Background jobs of the customers app. Tasks take ids, run inside the shop's scope and call one service."""

from __future__ import annotations

from celery import shared_task

from customers.demo import demo_shop_generate
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
