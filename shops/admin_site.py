from functools import wraps

from django.contrib import admin

from shops.scope import unscoped_access


class ShopAdminSite(admin.AdminSite):
    """The Django admin for superusers, run unscoped on purpose: it sees every shop."""

    site_header = "Shop Insights administration"

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        @wraps(inner)
        def unscoped(request, *args, **kwargs):
            with unscoped_access():
                response = inner(request, *args, **kwargs)
                if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                    response.render()  # templates query lazily; render inside the unscoped block
                return response

        return unscoped
