"""The sign convention for money (ADR 0007), enforced where orders are written and read in SQL.

- ``Order.total`` is the order's value as placed, signed by the direction money moved: a
  sale has ``total >= 0``; a credit note (a refund document, such as an Online Retail ``C``
  invoice) has ``total < 0`` and status ``returned``.
- ``OrderLine.quantity`` is positive for goods sold, negative for goods taken back. A paid
  sale may carry negative lines: a partial refund recorded on the order (Shopify does);
  they never add up to more than the sale's total. A ``returned`` sale lists its goods as
  sold: the status already says they all came back.
- Only ``paid`` and ``returned`` orders count. Per order: paid (gross) is the total of a
  sale; got back (refunded) is the whole total of a returned sale, minus the total of a
  credit note, or the negative lines of a paid sale; net = gross - refunded.

The analysis reads the same rules with pandas in ``analytics/compute/money.py`` (which may
not import the apps); ``tests/truth/test_truth_money.py`` checks that both readings agree
to the cent on the real files and the demo shop.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np
from django.db.models import Case, DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum, Value, When
from django.utils.translation import gettext as _

from shops.models import Shop

from .models import Order, OrderLine, OrderStatus

MONEY = DecimalField(max_digits=16, decimal_places=2)
COUNTED = (OrderStatus.PAID, OrderStatus.RETURNED)
ZERO = Decimal("0.00")


class OrderMoneyError(ValueError):
    """An order breaks the sign convention; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def order_sign_normalised(status: str, total: Decimal, lines: Sequence[tuple[int, Decimal]]) -> str:
    """Check one order against the convention and return its status (a paid credit note becomes ``returned``).

    ``lines`` are ``(quantity, unit_price)``. Raises :class:`OrderMoneyError` naming the field
    when the order cannot be read one way only.
    """
    amounts = [Decimal(q) * Decimal(p) for q, p in lines]
    sold = [a for a in amounts if a > 0]
    back = -sum((a for a in amounts if a < 0), ZERO)
    if total < 0:
        for n, (quantity, price) in enumerate(lines):
            if quantity > 0 and price > 0:
                raise OrderMoneyError(
                    f"lines[{n}].quantity",
                    _("A credit note (negative total) takes goods back: its quantities must be negative."),
                )
        return OrderStatus.RETURNED if status == OrderStatus.PAID else status
    if status not in COUNTED:
        return status  # cancelled and pending orders move no money; their lines are kept as sent
    if lines and not sold and back > 0:
        raise OrderMoneyError(
            "total",
            _(
                "All lines are returns but the total is not negative: "
                "record a return as a credit note with a negative total."
            ),
        )
    if status == OrderStatus.RETURNED and back > 0:
        raise OrderMoneyError(
            "lines",
            _(
                "A returned order lists its goods as sold (positive quantities): "
                "its status already says they all came back."
            ),
        )
    if back > total:
        raise OrderMoneyError(
            "lines",
            _("The returned lines (%(back)s) are worth more than the order's total (%(total)s).")
            % {"back": back, "total": total},
        )
    return status


def net_cents(status: np.ndarray, total_cents: np.ndarray, returned_line_cents: np.ndarray) -> int:
    """Net revenue in cents of many orders (vectorised, for import reports before anything is written).

    ``returned_line_cents`` is, per order, the value of its negative lines as a positive number.
    """
    counted = np.isin(status, [str(s) for s in COUNTED])
    sale = counted & (total_cents >= 0)
    gross = np.where(sale, total_cents, 0)
    refunded = np.where(counted & (total_cents < 0), -total_cents, 0)
    refunded = refunded + np.where(sale & (status == str(OrderStatus.RETURNED)), total_cents, 0)
    partial = np.minimum(returned_line_cents, np.maximum(total_cents, 0))
    refunded = refunded + np.where(sale & (status == str(OrderStatus.PAID)), partial, 0)
    return int((gross - refunded).sum())


def purchase_q(prefix: str = "") -> Q:
    """SQL: the orders that are real purchases (a paid sale), as ``analytics.compute.money`` reads them."""
    return Q(**{f"{prefix}status": OrderStatus.PAID, f"{prefix}total__gt": 0})


def net_revenue(*, shop: Shop, orders: QuerySet | None = None) -> Decimal:
    """Paid minus paid back over the shop's orders, or these of them (two aggregate queries: the
    orders, their negative lines)."""
    orders = Order.objects.for_shop(shop) if orders is None else orders.filter(shop=shop)
    agg = orders.aggregate(paid=paid_in(), back=refunds_on_orders())
    lines = OrderLine.objects.for_shop(shop).filter(order__in=orders.order_by().values("pk"))
    return net_of(agg, lines.aggregate(back=refunds_on_lines()))


def paid_in(within: Q | None = None) -> Sum:
    """SQL over Order: what customers paid (the sales of counted orders), of the orders ``within``."""
    return Sum("total", filter=Q(status__in=COUNTED, total__gt=0) & (within or Q()), output_field=MONEY)


def refunds_on_orders(within: Q | None = None) -> Sum:
    """SQL over Order: what went back by whole orders (returned sales, credit notes), of the orders ``within``."""
    return Sum(
        Case(
            When(status=OrderStatus.RETURNED, total__gt=0, then=F("total")),
            When(status__in=COUNTED, total__lt=0, then=-F("total")),
            default=Value(ZERO),
            output_field=MONEY,
        ),
        filter=within,
        output_field=MONEY,
    )


def refunds_on_lines(within: Q | None = None) -> Sum:
    """SQL over OrderLine: partial refunds (negative lines of paid sales) as a positive amount.

    ``within`` filters the lines, e.g. ``Q(order__placed_at__gte=...)``.
    """
    return Sum(
        ExpressionWrapper(-F("quantity") * F("unit_price"), output_field=MONEY),
        filter=Q(quantity__lt=0, order__status=OrderStatus.PAID, order__total__gt=0) & (within or Q()),
        output_field=MONEY,
    )


def net_of(orders_aggregate: dict, lines_aggregate: dict) -> Decimal:
    """Net money from the aggregates named ``paid``, ``back`` (orders) and ``back`` (lines)."""
    paid = Decimal(orders_aggregate.get("paid") or ZERO)
    back = Decimal(orders_aggregate.get("back") or ZERO) + Decimal(lines_aggregate.get("back") or ZERO)
    return (paid - back).quantize(ZERO)  # SQLite sums decimals as floats: back to cents
