"""What customers does when the apps to its left tell it something (connected in CustomersConfig.ready)."""

from __future__ import annotations

from django.dispatch import receiver

from shops.signals import shop_settings_changed

PHONE_SETTINGS = {"phone_region", "match_by_phone"}


@receiver(shop_settings_changed, dispatch_uid="customers.phone_keys_on_settings")
def phone_keys_on_settings(sender, *, shop_id: int, fields: list[str], **kwargs) -> None:
    """The stored phone keys were read with the old phone country: read them again, in the background."""
    if PHONE_SETTINGS & set(fields):
        from customers.tasks import refresh_phone_keys

        refresh_phone_keys.delay(shop_id)
