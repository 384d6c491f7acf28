"""Reads of customers, products and orders; every function takes shop=."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet

from customers.models import Customer, Order, Product
from customers.money import net_revenue
from shops.models import Shop


def customer_list(*, shop: Shop) -> QuerySet[Customer]:
    return Customer.objects.for_shop(shop).order_by("id")


def product_list(*, shop: Shop) -> QuerySet[Product]:
    return Product.objects.for_shop(shop).order_by("id")


def order_list(*, shop: Shop) -> QuerySet[Order]:
    return (
        Order.objects.for_shop(shop)
        .select_related("customer")
        .prefetch_related("lines__product")
        .order_by("-placed_at", "-id")
    )


@dataclass(frozen=True)
class ShopTotals:
    customers: int
    products: int
    orders: int
    guest_orders: int
    net_revenue: Decimal


def shop_totals(*, shop: Shop) -> ShopTotals:
    """Counts for the dashboard; net revenue is what customers paid minus what went back (ADR 0007)."""
    orders = Order.objects.for_shop(shop).aggregate(n=Count("id"), guests=Count("id", filter=Q(customer__isnull=True)))
    revenue = net_revenue(shop=shop)
    return ShopTotals(
        customers=Customer.objects.for_shop(shop).count(),
        products=Product.objects.for_shop(shop).count(),
        orders=orders["n"],
        guest_orders=orders["guests"],
        net_revenue=Decimal(revenue).quantize(Decimal("0.01")),
    )
