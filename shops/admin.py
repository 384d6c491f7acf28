from functools import wraps

from django.contrib import admin

from shops.models import ApiKey, Membership, Shop
from shops.scope import unscoped_access


class ShopAdminSite(admin.AdminSite):
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


admin_site = admin.site


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "timezone", "currency", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "shop", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["shop"]
    readonly_fields = ["prefix", "hashed_key", "created_at", "last_used_at"]
