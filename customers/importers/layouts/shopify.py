"""Shopify's own export files, as Shopify admin writes them: orders, customers and products.

Where the layouts come from: Shopify's help centre ("Exporting orders", "Exporting
customers", "Using CSV files to import and export products") and exports as shops have
them (the examples in customers/importers/examples/ follow them header for header).

- Orders › Export: one row per line item, 79 columns (Name, Email, Financial Status, Paid
  at, …, Payment References). The order's own fields (Email, Financial Status, Created at,
  Total, Billing …) are filled on the order's first row only; its further rows carry the
  line item (Lineitem …, Vendor) under the same Name. Times carry their offset
  ("2026-05-01 10:00:00 +0200"). A spreadsheet-safe export writes zips and phones with a
  leading apostrophe ('06000).
- Customers › Export: one row per customer (Customer ID, First Name, Last Name, Email,
  Accepts Email Marketing, Default Address …, Phone, Accepts SMS Marketing, Total Spent,
  Total Orders, Note, Tax Exempt, Tags); older exports have Accepts Marketing, Company,
  Address1, City, Province, Province Code, Country, Country Code, Zip and no Customer ID.
  Numbers are written with a leading apostrophe ('9013808660771).
- Products › Export: one row per variant or extra image under the product's Handle; the
  product's fields (Title, Vendor, Type, Tags, …) on its first row only. Since 2025 the same
  file is written with new names (URL handle, SKU, Price, Product image URL, Variant image
  URL); both are read.

How statuses read (ADR 0007, and the same as the Shopify webhooks and sync,
customers.integrations.shopify): paid and partially_refunded are sales (the refund becomes a
negative line worth the Refunded Amount); refunded is a returned sale with its lines as sold;
voided is cancelled; pending, authorized, partially_paid and expired are pending, since the
money has not all come in and our orders have no "part paid" state (counting the whole
Total would overstate revenue); a Cancelled at date makes any order cancelled.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
from django.utils.translation import gettext_lazy as _

from customers.importers.readers import RawTable
from customers.models import OrderStatus

# --- orders ------------------------------------------------------------------------------

ORDERS_LABEL = _("Shopify orders export")
ORDERS_DESCRIPTION = _(
    "The CSV from Shopify admin › Orders › Export, as Shopify writes it (Shopify help centre, "
    "“Exporting orders”): one row per line item; the order's fields on its first row are carried "
    "to its other rows. Financial Status paid and partially refunded count as sales (the Refunded "
    "Amount is taken off), refunded as returned, voided and Cancelled at as cancelled, pending, "
    "authorized and partially paid as pending. Shipping, Taxes and Discount Amount are kept apart "
    "from the goods; Lineitem discount lowers the line's price."
)
ORDER_ALIASES: dict[str, tuple[str, ...]] = {
    "order_id": ("Name", "Id"),
    "email": ("Email",),
    "financial_status": ("Financial Status",),
    "currency": ("Currency",),
    "order_total": ("Total",),
    "ordered_at": ("Created at", "Paid at"),
    "quantity": ("Lineitem quantity",),
    "product_name": ("Lineitem name",),
    "unit_price": ("Lineitem price",),
    "line_discount": ("Lineitem discount",),
    "sku": ("Lineitem sku",),
    "brand": ("Vendor",),
    "full_name": ("Billing Name", "Shipping Name"),
    "phone": ("Billing Phone", "Phone", "Shipping Phone"),
    "city": ("Billing City", "Shipping City"),
    "province": ("Billing Province", "Shipping Province"),
    "postcode": ("Billing Zip", "Shipping Zip"),
    "country": ("Billing Country", "Shipping Country"),
    "email_consent": ("Accepts Email Marketing", "Accepts Marketing"),
    "cancelled_at": ("Cancelled at",),
    "shipping": ("Shipping",),
    "tax": ("Taxes",),
    "discount": ("Discount Amount",),
    "discount_code": ("Discount Code",),
    "refunded_amount": ("Refunded Amount",),
}
# Shopify's financial statuses (lower-cased, spaces as "_"), read as the webhooks read them.
FINANCIAL_STATUSES: dict[str, str] = {
    "paid": OrderStatus.PAID,
    "partially_refunded": OrderStatus.PAID,
    "refunded": OrderStatus.RETURNED,
    "voided": OrderStatus.CANCELLED,
    "pending": OrderStatus.PENDING,
    "authorized": OrderStatus.PENDING,
    "partially_paid": OrderStatus.PENDING,
    "expired": OrderStatus.PENDING,
}
ORDERS_SIGNATURE = (
    "Name",
    "Financial Status",
    "Paid at",
    "Fulfillment Status",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem sku",
    "Billing Name",
    "Shipping Method",
)
ORDERS_EXAMPLE = "shopify.csv"
# The columns of a line item: every other column belongs to the order (first row only).
_LINE_ITEM_HEADERS = (
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem compare at price",
    "Lineitem sku",
    "Lineitem requires shipping",
    "Lineitem taxable",
    "Lineitem fulfillment status",
    "Lineitem discount",
    "Vendor",
)
_ORDER_APOSTROPHE_HEADERS = ("Billing Zip", "Shipping Zip", "Billing Phone", "Shipping Phone", "Phone")
_ORDER_PHONE_HEADERS = ("Billing Phone", "Phone", "Shipping Phone")


def prepare_orders(table: RawTable, *, path: Path | None = None) -> RawTable:
    """Carry each order's fields from its first row to its further line-item rows.

    Rows are grouped by Name (else Id); within an order an empty order-level cell takes the
    value above it (a forward fill: Shopify writes an order's rows together), line-item cells
    are left as they are. Zips and phones lose the apostrophe a spreadsheet-safe export puts
    before them; an empty Billing Phone takes the order's Phone, else its Shipping Phone. Same
    rows, same order, same row numbers.
    """
    frame = table.frame
    by_normal = _columns_by_normal(frame.columns)
    key = by_normal.get(_normal("Name")) or by_normal.get(_normal("Id"))
    if key is None or frame.empty:
        return table
    line_items = {_normal(header) for header in _LINE_ITEM_HEADERS}
    carried = [column for column in frame.columns if column != key and _normal(column) not in line_items]
    frame = frame.copy()
    if carried:
        frame[carried] = _forward_fill(frame[carried], frame[key])
    _strip_apostrophes(frame, by_normal, _ORDER_APOSTROPHE_HEADERS)
    _coalesce(frame, by_normal, _ORDER_PHONE_HEADERS)
    return dataclasses.replace(table, frame=frame)


# --- customers ---------------------------------------------------------------------------

CUSTOMERS_LABEL = _("Shopify customers export")
CUSTOMERS_DESCRIPTION = _(
    "The CSV from Shopify admin › Customers › Export (Shopify help centre, “Exporting customers”): "
    "Customer ID (else the email) identifies the customer; Accepts Email Marketing is the consent, "
    "Tags become the customer's tags. Total Spent and Total Orders are Shopify's own figures: the "
    "report shows them as a check, they are not stored as orders."
)
CUSTOMER_ALIASES: dict[str, tuple[str, ...]] = {
    "customer_id": ("Customer ID",),
    "email": ("Email",),
    "first_name": ("First Name",),
    "last_name": ("Last Name",),
    "phone": ("Phone", "Default Address Phone"),
    "city": ("Default Address City", "City"),
    "province": ("Default Address Province Code", "Province Code", "Province"),
    "postcode": ("Default Address Zip", "Zip"),
    "country": ("Default Address Country Code", "Country Code", "Country"),
    "email_consent": ("Accepts Email Marketing", "Accepts Marketing"),
    "tags": ("Tags",),
    "reported_spent": ("Total Spent",),
    "reported_orders": ("Total Orders",),
}
CUSTOMERS_SIGNATURE = ("First Name", "Last Name", "Email", "Total Spent", "Total Orders", "Tax Exempt")
CUSTOMERS_EXAMPLE = "shopify-customers.csv"
_CUSTOMER_APOSTROPHE_HEADERS = ("Customer ID", "Default Address Zip", "Zip", "Default Address Phone", "Phone")
_CUSTOMER_PHONE_HEADERS = ("Phone", "Default Address Phone")


def prepare_customers(table: RawTable, *, path: Path | None = None) -> RawTable:
    """Drop the apostrophe a spreadsheet-safe export puts before ids, zips and phones; an empty
    Phone takes the default address's phone."""
    frame = table.frame.copy()
    by_normal = _columns_by_normal(frame.columns)
    _strip_apostrophes(frame, by_normal, _CUSTOMER_APOSTROPHE_HEADERS)
    _coalesce(frame, by_normal, _CUSTOMER_PHONE_HEADERS)
    return dataclasses.replace(table, frame=frame)


# --- products ----------------------------------------------------------------------------

PRODUCTS_LABEL = _("Shopify products export")
PRODUCTS_DESCRIPTION = _(
    "The CSV from Shopify admin › Products › Export (Shopify help centre, “Using CSV files to import "
    "and export products”; the Handle / Variant SKU / Image Src names and the newer URL handle / SKU / "
    "Product image URL ones): one product per variant, titled “Title – option values”, with the "
    "variant's image or else the product's first image; rows that only add an image are skipped."
)
PRODUCT_ALIASES: dict[str, tuple[str, ...]] = {
    "sku": ("Variant SKU", "SKU"),
    "title": ("Title",),
    "category": ("Type", "Product Category"),
    "brand": ("Vendor",),
    "price": ("Variant Price", "Price"),
    "image_url": ("Variant Image", "Variant image URL", "Image Src", "Product image URL"),
    "tags": ("Tags",),
}
PRODUCTS_SIGNATURE = (
    "Title",
    "Vendor",
    "Option1 Name",
    "Option1 Value",
    "Image Position",
    "Image Alt Text",
    "Gift Card",
    "SEO Title",
)
PRODUCTS_EXAMPLE = "shopify-products.csv"
_HANDLE_HEADERS = ("Handle", "URL handle")
# The product's fields, written on its first row only (both spellings of the file).
_PRODUCT_LEVEL_HEADERS = (
    "Title",
    "Body (HTML)",
    "Description",
    "Vendor",
    "Product Category",
    "Type",
    "Tags",
    "Published",
    "Published on online store",
    "Status",
    "Option1 Name",
    "Option2 Name",
    "Option3 Name",
    "Gift Card",
    "SEO Title",
    "SEO Description",
)
_VARIANT_HEADERS = ("Variant SKU", "SKU", "Variant Price", "Price", "Option1 Value")
_OPTION_HEADERS = (
    ("Option1 Name", "Option1 Value"),
    ("Option2 Name", "Option2 Value"),
    ("Option3 Name", "Option3 Value"),
)
_IMAGE_HEADERS = ("Image Src", "Product image URL")
_VARIANT_IMAGE_HEADERS = ("Variant Image", "Variant image URL")
# A product without options has one variant: option "Title", value "Default Title".
_DEFAULT_OPTION = ("title", "default title")


def prepare_products(table: RawTable, *, path: Path | None = None) -> RawTable:
    """One row per variant, each with its product's fields, its own title and image.

    The product's fields are carried from its first row to the rows of its other variants
    (grouped by Handle). A variant's title is the product's Title, then " – " and its option
    values joined by " / " when the product has options. Its image (in Variant Image, or in
    Image Src when the file has no variant image column) is its own variant image, else the
    product's first Image Src. Rows with no variant (no SKU, price or option value: they only
    add an image) are left out, with their row numbers.
    """
    frame = table.frame
    by_normal = _columns_by_normal(frame.columns)
    handle = _first_present(by_normal, _HANDLE_HEADERS)
    if handle is None or frame.empty:
        return table
    frame = frame.copy()
    groups = frame[handle]
    product_level = [by_normal[n] for n in map(_normal, _PRODUCT_LEVEL_HEADERS) if n in by_normal]
    if product_level:
        frame[product_level] = _forward_fill(frame[product_level], groups)

    image = _first_present(by_normal, _IMAGE_HEADERS)
    variant_image = _first_present(by_normal, _VARIANT_IMAGE_HEADERS)
    if image is not None or variant_image is not None:
        own = frame[variant_image].str.strip() if variant_image is not None else pd.Series("", index=frame.index)
        first = pd.Series("", index=frame.index)
        if image is not None:
            images = frame[image].str.strip()
            first = images.where(images != "").groupby(groups, sort=False).transform("first").fillna("")
        frame[variant_image or image] = own.where(own != "", first)

    title = by_normal.get(_normal("Title"))
    if title is not None:
        values = []
        for name_header, value_header in _OPTION_HEADERS:
            name_column, value_column = by_normal.get(_normal(name_header)), by_normal.get(_normal(value_header))
            if value_column is None:
                continue
            value = frame[value_column].str.strip()
            names = frame[name_column].str.strip().str.lower() if name_column is not None else ""
            default = (names == _DEFAULT_OPTION[0]) & (value.str.lower() == _DEFAULT_OPTION[1])
            values.append(value.where(~default, ""))
        if values:
            options = values[0]
            for value in values[1:]:
                options = options.where(value == "", options.where(options == "", options + " / ") + value)
            frame[title] = frame[title].where(options == "", frame[title].str.strip() + " – " + options)

    variant_columns = [by_normal[n] for n in map(_normal, _VARIANT_HEADERS) if n in by_normal]
    if variant_columns:
        is_variant = (frame[variant_columns].apply(lambda col: col.str.strip()) != "").any(axis=1).to_numpy()
        frame = frame[is_variant].reset_index(drop=True)
        return dataclasses.replace(table, frame=frame, row_numbers=table.row_numbers[is_variant])
    return dataclasses.replace(table, frame=frame)


# --- shared ------------------------------------------------------------------------------


def _normal(header: str) -> str:
    # presets imports this module, so its helper is looked up when a file is read
    from customers.importers.presets import normalize_header

    return normalize_header(header)


def _columns_by_normal(columns) -> dict[str, str]:
    """normalized header -> the file's column (the first, when two normalize alike)."""
    found: dict[str, str] = {}
    for column in columns:
        found.setdefault(_normal(column), column)
    return found


def _first_present(by_normal: dict[str, str], headers: tuple[str, ...]) -> str | None:
    for header in headers:
        column = by_normal.get(_normal(header))
        if column is not None:
            return column
    return None


def _forward_fill(cells: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    """Each empty cell takes the value above it within its group (rows of one order or product)."""
    return cells.where(cells != "").groupby(groups, sort=False).ffill().fillna("")


def _coalesce(frame: pd.DataFrame, by_normal: dict[str, str], headers: tuple[str, ...]) -> None:
    """Where the first of `headers` is empty, the first non-empty of the others (same row)."""
    columns = [by_normal[n] for n in map(_normal, headers) if n in by_normal]
    if len(columns) < 2 or columns[0] != by_normal.get(_normal(headers[0])):
        return
    target = frame[columns[0]]
    for column in columns[1:]:
        target = target.where(target.str.strip() != "", frame[column])
    frame[columns[0]] = target


def _strip_apostrophes(frame: pd.DataFrame, by_normal: dict[str, str], headers: tuple[str, ...]) -> None:
    """Remove the leading apostrophe Shopify writes so spreadsheets keep numbers as text."""
    for header in headers:
        column = by_normal.get(_normal(header))
        if column is not None:
            frame[column] = frame[column].str.replace(r"^'", "", regex=True)
