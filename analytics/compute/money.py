"""What each order moved: paid by the customer, paid back, net; and which orders are purchases.

This is the one reading of the sign convention of ADR 0007 ("money signs"); every money
figure of the analysis (features, RFM, clusters, lifetime value, forecasts) is built from
:func:`order_amounts`. The writers in ``customers`` enforce the same convention when data
arrives, so stored rows always fit it:

- ``total`` is the order's value as placed, signed by the direction money moved: a sale
  has ``total >= 0``; a credit note (a refund document, e.g. an Online Retail ``C`` invoice)
  has ``total < 0`` and status ``returned``.
- a line's ``quantity`` is positive for goods sold and negative for goods taken back.
- ``status``: ``paid`` counts; ``returned`` counts as "paid, then paid back in full";
  ``pending`` and ``cancelled`` never count (no money has moved, or it never will).

Per order (only ``paid`` and ``returned`` orders count, others are all zero):

- ``gross``: what the customer paid: ``total`` of a sale, 0 for a credit note.
- ``refunded``: what the customer got back: the whole ``total`` of a ``returned`` sale;
  ``-total`` of a credit note; for a ``paid`` sale, its negative lines at
  ``-quantity * unit_price`` (a partial refund recorded on the order, as Shopify does),
  never more than the sale's ``total``.
- ``net = gross - refunded``.
- ``purchase``: a real purchase: a ``paid`` sale with ``total > 0``. Cancellations, credit
  notes and fully returned sales (status ``returned``) are not purchases: they are not
  purchase days, not transactions for lifetime value. (The same test in SQL is
  ``customers.money.purchase_q``.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._util import require_columns

COUNTED_STATUSES = frozenset({"paid", "returned"})
AMOUNT_COLUMNS = ("gross", "refunded", "net", "purchase")


def order_amounts(orders: pd.DataFrame, lines: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per order (same index as ``orders``): ``gross``, ``refunded``, ``net`` (floats) and ``purchase`` (bool).

    ``orders`` needs ``order_id``, ``total``, ``status``; ``lines`` (optional) needs
    ``order_id``, ``quantity``, ``unit_price`` and supplies the partial refunds of paid
    sales (without it a paid sale refunds nothing).
    """
    require_columns(orders, ("order_id", "total", "status"), "orders")
    status = orders["status"].astype("string").str.lower().fillna("")
    total = pd.to_numeric(orders["total"], errors="coerce").fillna(0.0).astype(float).to_numpy()
    counted = status.isin(COUNTED_STATUSES).to_numpy(dtype=bool)
    paid = status.eq("paid").to_numpy(dtype=bool)
    returned = status.eq("returned").to_numpy(dtype=bool)
    sale = counted & (total >= 0)
    credit = counted & (total < 0)

    gross = np.where(sale, total, 0.0)
    refunded = np.where(credit, -total, 0.0) + np.where(returned & (total > 0), total, 0.0)
    if lines is not None and len(lines):
        require_columns(lines, ("order_id", "quantity", "unit_price"), "lines")
        quantity = pd.to_numeric(lines["quantity"], errors="coerce").to_numpy(dtype=float)
        back = quantity < 0
        if back.any():
            price = pd.to_numeric(lines["unit_price"], errors="coerce").to_numpy(dtype=float)[back]
            given_back = pd.Series(-quantity[back] * price).groupby(lines["order_id"].to_numpy()[back]).sum()
            partial = given_back.reindex(orders["order_id"].to_numpy()).fillna(0.0).to_numpy()
            partial = np.minimum(np.maximum(partial, 0.0), np.maximum(total, 0.0))
            refunded = refunded + np.where(paid & (total > 0), partial, 0.0)
    net = gross - refunded
    # rounded to the cent: totals are cents, and a float sum of cents must not leave 1e-13 residues
    out = pd.DataFrame(
        {
            "gross": np.round(gross, 2),
            "refunded": np.round(refunded, 2),
            "net": np.round(net, 2),
            "purchase": paid & (total > 0),
        },
        index=orders.index,
    )
    return out
