"""analytics listens to customers: new data -> a new analysis run (one at a time per shop); an
erasure clears what scores copied from the profile; a data request's export gets the scores."""

from __future__ import annotations

from django.conf import settings
from django.dispatch import receiver

from customers.signals import customer_data_collect, customers_erased, data_changed
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


@receiver(customers_erased, dispatch_uid="analytics.derived_personal_data_erase")
def derived_personal_data_erase(sender, shop, customer_ids, **kwargs) -> None:
    from analytics.privacy import derived_personal_data_erase as erase

    erase(shop=shop, customer_ids=customer_ids)


@receiver(customer_data_collect, dispatch_uid="analytics.customer_data_collect")
def customer_data_collect_analyses(sender, shop, customer_ids, **kwargs) -> dict:
    from analytics.privacy import customer_analytics_export

    return customer_analytics_export(shop=shop, customer_ids=customer_ids)
