"""ADR 0007 read literally on the raw Online Retail file, independently of the product's code."""

from __future__ import annotations

import pandas as pd


def invoices_cancelled_by_credit_notes(raw: pd.DataFrame) -> set[str]:
    """Sale invoices that later C invoices of the same customer take back in full.

    ``raw`` has InvoiceNo, InvoiceDate, CustomerID, Quantity, UnitPrice (exact duplicates already
    dropped). Each credit note is taken off the customer's latest earlier sales first, as ADR 0007
    says; at the same moment a sale comes before a credit note.
    """
    rows = raw[raw["CustomerID"].astype(str).str.strip().ne("") & raw["CustomerID"].notna()]
    amount = rows["Quantity"].astype(float) * rows["UnitPrice"].astype(float)
    invoices = (
        rows.assign(amount=amount, at=pd.to_datetime(rows["InvoiceDate"]))
        .groupby("InvoiceNo")
        .agg(customer=("CustomerID", "first"), at=("at", "min"), total=("amount", "sum"))
        .reset_index()
    )
    invoices["total"] = invoices["total"].round(2)
    invoices["credit"] = invoices["total"] < 0
    cancelled: set[str] = set()
    for _customer, group in invoices.sort_values(["customer", "at", "credit"], kind="stable").groupby("customer"):
        open_sales: list[list] = []  # [invoice, value left], oldest first
        for invoice, total, credit in group[["InvoiceNo", "total", "credit"]].itertuples(index=False):
            if not credit:
                if total > 0:
                    open_sales.append([invoice, total])
                continue
            back = -total
            while back > 0.005 and open_sales:
                taken = min(back, open_sales[-1][1])
                open_sales[-1][1] -= taken
                back -= taken
                if open_sales[-1][1] <= 0.005:
                    cancelled.add(open_sales.pop()[0])
    return cancelled
