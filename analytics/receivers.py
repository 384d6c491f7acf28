"""analytics listens to customers: new data -> a new analysis run (one at a time per shop)."""

from __future__ import annotations

from django.conf import settings
from django.dispatch import receiver

from customers.signals import data_changed
from shops.models import Shop


@receiver(data_changed, dispatch_uid="analytics.run_after_data_changed")
def run_after_data_changed(sender, shop_id: int, reason: str, **kwargs) -> None:
    from analytics import services

    if not settings.ANALYTICS_AUTORUN:
        return
    shop = Shop.objects.filter(pk=shop_id).first()
    if shop is None:
        return
    services.analysis_run_request(shop=shop, trigger=reason[:20])


@receiver(data_changed, dispatch_uid="analytics.kpis_after_data_changed")
def kpis_after_data_changed(sender, shop_id: int, reason: str, **kwargs) -> None:
    from analytics.selectors.dashboard import data_version_bump

    data_version_bump(shop_id=shop_id)
