from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ShopsConfig(AppConfig):
    name = "shops"
    verbose_name = _("Shops")

    def ready(self) -> None:
        from shops import (
            api_schema,  # noqa: F401  (registers the Bearer key with drf-spectacular)
            receivers,  # noqa: F401  (invitations are accepted at login)
        )
