from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers and orders")

    def ready(self) -> None:
        from customers import receivers  # noqa: F401  (connects the shop_settings_changed listener)
