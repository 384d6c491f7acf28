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
- ``kept``: what is left of a paid sale once the customer's credit notes are taken off
  their earlier sales, the latest first (a credit note names no sale; the latest earlier
  ones are the likeliest: an Online Retail ``C`` invoice usually cancels an invoice of
  minutes or days before). Only with ``customer_id`` and ``placed_at``; 0 for non-sales.
  A customer's ``kept`` adds up to their ``net`` unless they returned more than they ever
  bought in the data.
- ``purchase``: a real purchase: a ``paid`` sale with ``total > 0`` of which something is
  kept. Cancellations, credit notes, fully returned sales and sales cancelled by a later
  credit note are not purchases: not purchase days, not transactions for lifetime value,
  not baskets for rules. Its value for lifetime value is ``kept``. (SQL pages count
  *orders*, ``customers.money.purchase_q``: every paid sale, whatever came back later.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._util import require_columns

COUNTED_STATUSES = frozenset({"paid", "returned"})
AMOUNT_COLUMNS = ("gross", "refunded", "net", "kept", "purchase")


def order_amounts(orders: pd.DataFrame, lines: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per order (same index as ``orders``): ``gross``, ``refunded``, ``net``, ``kept`` (floats), ``purchase`` (bool).

    ``orders`` needs ``order_id``, ``total``, ``status``; with ``customer_id`` and ``placed_at``
    too, credit notes are taken off the customer's earlier sales (``kept``). ``lines``
    (optional) needs ``order_id``, ``quantity``, ``unit_price`` and supplies the partial
    refunds of paid sales (without it a paid sale refunds nothing). An ``orders`` frame that
    already carries these columns (the pipeline reads every order once) is taken as it is.
    """
    if set(AMOUNT_COLUMNS) <= set(orders.columns):
        return orders[list(AMOUNT_COLUMNS)]
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
    net = np.round(gross - refunded, 2)
    sold = paid & (total > 0)
    kept = np.where(sold, net, 0.0)
    if credit.any() and {"customer_id", "placed_at"} <= set(orders.columns):
        kept = _credit_notes_against_sales(orders, kept, sold, np.where(credit, -total, 0.0))
    kept = np.round(kept, 2)
    # rounded to the cent: totals are cents, and a float sum of cents must not leave 1e-13 residues
    return pd.DataFrame(
        {
            "gross": np.round(gross, 2),
            "refunded": np.round(refunded, 2),
            "net": net,
            "kept": kept,
            "purchase": sold & (kept > 0),
        },
        index=orders.index,
    )


def _credit_notes_against_sales(
    orders: pd.DataFrame, kept: np.ndarray, sold: np.ndarray, back: np.ndarray
) -> np.ndarray:
    """Take each credit note's amount off the same customer's sales before it, the latest first.

    A credit note names no sale it refunds; the latest earlier sales are the likeliest (an
    Online Retail ``C`` invoice usually cancels an invoice of minutes or days before). What
    no earlier sale can absorb stays off the customer's net only. Guests are left alone.
    """
    kept = kept.copy()
    customer = orders["customer_id"]
    affected = customer[(back > 0) & customer.notna().to_numpy()].unique()
    rows = np.flatnonzero(customer.isin(affected).to_numpy() & ((sold & (kept > 0)) | (back > 0)))
    if not len(rows):
        return kept
    # Walk each customer's orders backwards in time with the credit not yet placed (W): a credit
    # note adds to it, a sale absorbs what it can. That is the same as each credit note taking
    # the latest earlier sales first, and W is a Lindley recursion, W_k = max(0, W_k-1 + X_k),
    # so it has a closed form over running sums: W = S - min(0, running min of S). In cents.
    cents = np.where(back[rows] > 0, np.round(back[rows] * 100), -np.round(kept[rows] * 100)).astype(np.int64)
    frame = pd.DataFrame(
        {
            "row": rows,
            "customer": customer.to_numpy()[rows],
            "at": pd.to_datetime(orders["placed_at"].iloc[rows], utc=True).to_numpy(),
            # backwards: a credit note before a sale of the same moment, the later of two sales first
            "credit": back[rows] > 0,
            "x": cents,
        }
    ).sort_values(["customer", "at", "credit", "row"], ascending=[True, False, False, False])
    by_customer = frame.groupby("customer", sort=False)["x"]
    running = by_customer.cumsum().to_numpy()
    lowest = frame.assign(s=running).groupby("customer", sort=False)["s"].cummin().to_numpy()
    pending = running - np.minimum(lowest, 0)
    first = ~frame["customer"].duplicated().to_numpy()
    before = np.where(first, 0, np.roll(pending, 1))
    is_sale = ~frame["credit"].to_numpy()
    taken = np.where(is_sale, before - pending, 0)
    sale_rows = frame["row"].to_numpy()[is_sale]
    kept[sale_rows] = (np.round(kept[sale_rows] * 100) - taken[is_sale]) / 100.0
    return kept
