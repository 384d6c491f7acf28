"""Order lines have no database foreign keys (see OrderLine): the code must keep them whole.

Every way an order, a product or a shop goes away leaves no line pointing at nothing, and a
delete racing a writer that replaces the order's lines waits for it (PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction

from customers import services
from customers.models import Order, OrderLine, Product
from customers.services import LineInput, OrderInput
from shops.models import Shop
from shops.scope import unscoped_access
from tests.factories import ProductFactory

PLACED = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)


def _orphans() -> tuple[int, int]:
    """(lines whose order is gone, lines whose product is gone), over every shop."""
    lines = OrderLine.unscoped.all()
    no_order = lines.exclude(order_id__in=Order.unscoped.values("pk")).count()
    no_product = lines.filter(product_id__isnull=False).exclude(product_id__in=Product.unscoped.values("pk")).count()
    return no_order, no_product


def _order(external_id: str, quantity: int = 1, sku: str = "BEANS-1") -> OrderInput:
    return OrderInput(
        external_id=external_id,
        lines=[LineInput(quantity=quantity, unit_price=Decimal("9.90"), sku=sku)],
        fields={"placed_at": PLACED},
    )


@pytest.mark.django_db
def test_deleting_orders_products_and_shops_leaves_no_stray_lines(shop, other_shop):
    ProductFactory(shop=shop, sku="BEANS-1")
    kept = ProductFactory(shop=shop, sku="CUP-1")
    ProductFactory(shop=other_shop, sku="BEANS-1")
    services.orders_upsert(shop=shop, items=[_order("O1", 2), _order("O2"), _order("O3", sku="CUP-1")])
    services.orders_upsert(shop=other_shop, items=[_order("O1")])
    assert OrderLine.unscoped.count() == 4

    # Lines replaced: the old ones go, the new ones point at the order.
    services.orders_upsert(shop=shop, items=[_order("O1", 5)])
    assert list(
        OrderLine.objects.for_shop(shop).filter(order__external_id="O1").values_list("quantity", flat=True)
    ) == [5]
    assert services.order_delete(shop=shop, source="api", external_id="O2") is True
    assert services.order_delete(shop=shop, source="api", external_id="O2") is False
    assert OrderLine.objects.for_shop(shop).count() == 2
    kept.delete()  # a deleted product leaves its lines without a product, as on_delete=SET_NULL says
    assert OrderLine.objects.for_shop(shop).filter(product__isnull=True).count() == 1
    assert _orphans() == (0, 0)

    with unscoped_access():
        Shop.objects.filter(pk=shop.pk).delete()
    assert OrderLine.unscoped.count() == 1  # the other shop's line only
    assert _orphans() == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_a_delete_waits_for_the_writer_replacing_the_orders_lines(shop):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite writers are serialised anyway)")
    ProductFactory(shop=shop, sku="BEANS-1")
    services.orders_upsert(shop=shop, items=[_order("O1")])
    writer_locked = threading.Event()
    deleted_at: list[float] = []
    committed_at: list[float] = []
    errors: list[BaseException] = []

    def writer():
        try:
            with transaction.atomic():
                services.orders_upsert(shop=shop, items=[_order("O1", 3)])  # locks O1, replaces its line
                writer_locked.set()
                time.sleep(0.5)  # the delete below runs meanwhile and must wait
            committed_at.append(time.monotonic())
        except BaseException as exc:  # reported below
            errors.append(exc)
            writer_locked.set()
        finally:
            connections.close_all()

    def deleter():
        try:
            writer_locked.wait(10)
            services.order_delete(shop=shop, source="api", external_id="O1")
            deleted_at.append(time.monotonic())
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer), threading.Thread(target=deleter)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert not errors, errors
    assert deleted_at and committed_at and deleted_at[0] >= committed_at[0]
    assert not Order.objects.for_shop(shop).exists()
    assert OrderLine.unscoped.count() == 0
    assert _orphans() == (0, 0)
