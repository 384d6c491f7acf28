from django.contrib import admin

from customers.models import (
    Customer,
    CustomerIdentity,
    CustomerMerge,
    Event,
    Order,
    OrderLine,
    Product,
    ProductIdentity,
    Review,
)


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    raw_id_fields = ["product"]
    fields = ["product", "quantity", "unit_price"]


class CustomerIdentityInline(admin.TabularInline):
    """Read-only: identities are written by the ways in and by merges (ADR 0009)."""

    model = CustomerIdentity
    extra = 0
    fields = ["source", "external_id", "created_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class ProductIdentityInline(CustomerIdentityInline):
    model = ProductIdentity


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "shop", "source", "external_id", "country", "email_consent"]
    list_filter = ["shop", "source", "email_consent"]
    search_fields = ["email", "first_name", "last_name", "external_id", "identities__external_id"]
    inlines = [CustomerIdentityInline]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["title", "sku", "category", "brand", "price", "shop"]
    list_filter = ["shop", "category"]
    search_fields = ["title", "sku"]
    inlines = [ProductIdentityInline]


@admin.register(CustomerMerge)
class CustomerMergeAdmin(admin.ModelAdmin):
    """The audit record of merges; undo is the owner's, on the profile page or the API."""

    list_display = ["merged_customer_id", "survivor", "reason", "created_by", "created_at", "undone_at", "shop"]
    list_filter = ["shop", "reason"]
    raw_id_fields = ["survivor", "created_by"]
    readonly_fields = ["snapshot", "survivor_before", "moved", "set_aside"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["__str__", "shop", "customer", "placed_at", "total", "currency", "status"]
    list_filter = ["shop", "status", "source"]
    raw_id_fields = ["customer"]
    date_hierarchy = "placed_at"
    inlines = [OrderLineInline]

    def save_formset(self, request, form, formset, change):
        # Inline lines belong to the order's shop.
        for line in formset.save(commit=False):
            line.shop_id = form.instance.shop_id
            line.save()
        for obj in formset.deleted_objects:
            obj.delete()


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["kind", "customer", "at", "duration_seconds", "shop"]
    list_filter = ["shop", "kind"]
    raw_id_fields = ["customer"]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["product", "customer", "rating", "created_at", "shop"]
    list_filter = ["shop", "rating"]
    raw_id_fields = ["customer", "product"]
