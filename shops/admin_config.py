from django.contrib.admin.apps import AdminConfig


class ShopsAdminConfig(AdminConfig):
    """The Django admin, running unscoped: it is for superusers who see every shop."""

    default_site = "shops.admin_site.ShopAdminSite"
