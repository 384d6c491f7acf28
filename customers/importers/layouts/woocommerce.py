"""WooCommerce: the files its owners export, read as the exporters write them.

WooCommerce itself exports products only (Products › Export); orders and customers come from
export plugins. Each layout here is taken from the exporter's own code:

- products: WooCommerce's built-in exporter (WC_Product_CSV_Exporter; "Product CSV Importer &
  Exporter" in WooCommerce's documentation, columns as in its "Product CSV Import Schema"):
  one row per product, variations as rows of Type "variation" whose Parent is the parent's
  SKU or "id:<ID>"; list cells joined with ", " (a comma inside a value escaped as "\\,"),
  categories as "Parent > Child"; a text starting with = + - @ gets a leading apostrophe.
- orders, one row per line item: "Advanced Order Export For WooCommerce" (AlgolPlus,
  woo-order-export-lite) with its default fields; the order's fields repeat on its further
  rows unless "populate other columns" is off, and an order with more coupons than products
  gets rows holding only a coupon. Item Cost is the line total after discounts, without tax,
  per unit; "Quantity (- Refund)" is the quantity less the refunded quantity.
- orders, one row per order: WebToffee "Order Export & Order Import for WooCommerce", each
  item in a line_item_<n> cell "name:…|product_id:…|sku:…|quantity:…|total:…|sub_total:…|…"
  (total: the line after discounts, without tax); with its "line items in separate rows"
  option the items come as item_name, item_sku, item_quantity, item_total columns instead.
- customers: WebToffee "Import Export WordPress Users and WooCommerce Customers": a user per
  row (ID, customer_id, user_login, user_email, first_name, last_name, …, billing_*,
  shipping_*); guest buyers, when included, have no ID and the billing details only.

The prepare functions reshape these into one row per line item (or per product, per customer)
before the columns are mapped; the rows they keep still name the file's rows.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.importers.readers import CENT, RawTable, parse_money
from customers.models import OrderStatus

# ---------------------------------------------------------------------------------------------
# Statuses: WooCommerce's order statuses (the slugs WebToffee writes, the labels AlgolPlus
# writes: "Pending payment", "On hold"), lower-cased with spaces as "_" and "wc-" dropped, as the
# cleaner compares them. A refunded order is a sale refunded in full: "returned" (ADR 0007).

ORDER_STATUSES: dict[str, str] = {
    "completed": OrderStatus.PAID,
    "processing": OrderStatus.PAID,
    "on-hold": OrderStatus.PENDING,
    "on_hold": OrderStatus.PENDING,
    "pending": OrderStatus.PENDING,
    "pending_payment": OrderStatus.PENDING,
    "checkout-draft": OrderStatus.PENDING,
    "draft": OrderStatus.PENDING,
    "cancelled": OrderStatus.CANCELLED,
    "failed": OrderStatus.CANCELLED,
    "refunded": OrderStatus.RETURNED,
}

# ---------------------------------------------------------------------------------------------
# Orders, one row per line item (Advanced Order Export For WooCommerce and exports like it)

ORDERS_LABEL = _("WooCommerce orders export (one row per item)")
ORDERS_EXAMPLE = "woocommerce.csv"
ORDER_ALIASES: dict[str, tuple[str, ...]] = {
    "order_id": ("Order ID", "order_id", "Order Number", "order_number", "Order"),
    "ordered_at": ("Order Date", "order_date", "Date", "date_created", "Paid Date"),
    "status": ("Order Status", "status", "Status"),
    "customer_id": ("Customer User ID", "Customer ID", "customer_id", "customer_user", "Customer User"),
    "email": (
        "Email (Billing)",
        "Billing Email Address",
        "Billing Email",
        "billing_email",
        "Customer User Email",
        "Customer Email",
        "customer_email",
    ),
    "first_name": ("First Name (Billing)", "Billing First Name", "billing_first_name"),
    "last_name": ("Last Name (Billing)", "Billing Last Name", "billing_last_name"),
    "phone": ("Phone (Billing)", "Billing Phone", "billing_phone"),
    "city": ("City (Billing)", "Billing City", "billing_city"),
    "country": ("Country Code (Billing)", "Billing Country", "billing_country"),
    "province": ("State Code (Billing)", "Billing State", "billing_state"),
    "postcode": ("Postcode (Billing)", "Billing Postcode", "billing_postcode"),
    "sku": ("SKU", "Item SKU", "item_sku", "Product SKU"),
    "product_name": ("Item Name", "item_name", "Product Name", "Product", "Item"),
    "category": ("Category", "Product Categories", "Item Category"),
    # "Quantity" (as sold) when the export has it; the plugin's default is the quantity less refunds
    "quantity": ("Quantity", "Item Quantity", "item_quantity", "Qty", "Quantity (- Refund)"),
    "unit_price": ("Item Cost", "item_cost", "Item Price", "Cost", "Product Price", "Price"),
    "currency": ("Currency", "Order Currency", "order_currency"),
    "order_total": ("Order Total Amount", "Order Total", "order_total"),
    "shipping": ("Order Shipping Amount", "Shipping Total", "shipping_total"),
    "tax": ("Order Total Tax Amount", "Tax Total", "tax_total"),
    "discount": ("Cart Discount Amount", "Discount Total", "discount_total", "cart_discount"),
    "discount_code": ("Coupon Code", "Coupons", "coupon_code"),
    "refunded_amount": ("Order Refund Amount", "Refunded Total", "refunded_total"),
}

# The default fields of Advanced Order Export For WooCommerce, for recognising its files.
ORDERS_SIGNATURE = (
    "Order Number",
    "Order Status",
    "Order Date",
    "First Name (Billing)",
    "Email (Billing)",
    "Item Name",
    "Item Cost",
    "Order Total Amount",
)

ORDERS_DESCRIPTION = _(
    "An orders export with one row per line item: the default fields of the plugin “Advanced Order "
    "Export For WooCommerce” (AlgolPlus: Order Number, Order Status, Order Date, … Email (Billing), "
    "SKU, Item Name, Quantity (- Refund), Item Cost, Coupon Code, Order Shipping Amount, Order Refund "
    "Amount, Order Total Amount), or exports like it. Rows without the order number continue the "
    "order above; a customer id of 0 is a guest, known by the billing email; refunded orders are "
    "returned and the Order Refund Amount of a partly refunded order is taken off its revenue."
)

_ORDER_KEYS = ("Order Number", "Order ID", "order_number", "order_id", "Order")
_ORDER_DATES = ("Order Date", "order_date", "Date", "date_created", "Paid Date")
_ITEM_FIELDS = (
    "SKU",
    "Item SKU",
    "Item Name",
    "Product Name",
    "Quantity",
    "Quantity (- Refund)",
    "Item Quantity",
    "Item Cost",
)
_COUPON_CODES = ("Coupon Code",)


def prepare_orders(table: RawTable, *, path: Path) -> RawTable:
    """One row per line item, each naming its order: a row without the order number continues
    the order above (its number and date are carried down); rows holding only a coupon (an
    order with more coupons than products) give their code to the order and are left out, so
    the order's Coupon Code lists all its codes ("SAVE10, FREESHIP")."""
    frame = table.frame
    key_cols = _columns_present(frame, _ORDER_KEYS)
    if not key_cols:
        return table
    frame = frame.copy()
    order_col = key_cols[0]
    filled = frame.ne("").any(axis=1).to_numpy()
    orphan = frame[key_cols].eq("").all(axis=1).to_numpy() & filled
    if orphan.any():
        for column in key_cols + _columns_present(frame, _ORDER_DATES):
            values = frame[column].where(frame[column] != "").ffill().fillna("")
            frame.loc[orphan, column] = values[orphan]
    keep = np.ones(len(frame), dtype=bool)
    coupon_col = _column(frame, _COUPON_CODES)
    item_cols = _columns_present(frame, _ITEM_FIELDS)
    if coupon_col is not None and item_cols:
        _gather_codes(frame, order_col, coupon_col)
        no_item = frame[item_cols].eq("").all(axis=1).to_numpy()
        keep &= ~(no_item & frame[coupon_col].ne("").to_numpy() & frame[order_col].ne("").to_numpy())
    return _table(table, frame, np.flatnonzero(keep))


def _gather_codes(frame: pd.DataFrame, order_col: str, coupon_col: str) -> None:
    """Every row of an order with several coupon codes gets them all, in file order, joined."""
    coded = frame[frame[coupon_col] != ""]
    several = coded.groupby(order_col, sort=False)[coupon_col].nunique()
    several = several[several > 1]
    if several.empty:
        return
    joined = (
        coded[coded[order_col].isin(several.index)]
        .groupby(order_col, sort=False)[coupon_col]
        .agg(lambda codes: ", ".join(dict.fromkeys(codes)))
    )
    rows = frame[order_col].isin(joined.index)
    frame.loc[rows, coupon_col] = frame.loc[rows, order_col].map(joined)


# ---------------------------------------------------------------------------------------------
# Orders, one row per order (WebToffee Order Export & Order Import for WooCommerce)

WEBTOFFEE_ORDERS_LABEL = _("WooCommerce orders export (WebToffee, one row per order)")
WEBTOFFEE_ORDERS_EXAMPLE = "woocommerce-orders-one-row.csv"
WEBTOFFEE_ORDER_ALIASES: dict[str, tuple[str, ...]] = {
    # the order number as the shop shows it (a sequential-numbers plugin may make it differ from the id)
    "order_id": ("order_number", "order_id"),
    "ordered_at": ("order_date", "paid_date"),
    "status": ("status",),
    "customer_id": ("customer_user", "customer_id"),
    "email": ("billing_email", "customer_email"),
    "first_name": ("billing_first_name", "shipping_first_name"),
    "last_name": ("billing_last_name", "shipping_last_name"),
    "phone": ("billing_phone", "shipping_phone"),
    "city": ("billing_city", "shipping_city"),
    "country": ("billing_country", "shipping_country"),
    "province": ("billing_state", "shipping_state"),
    "postcode": ("billing_postcode", "shipping_postcode"),
    "sku": ("item_sku",),
    "product_name": ("item_name",),
    "quantity": ("item_quantity",),
    "unit_price": ("item_price",),
    "currency": ("order_currency",),
    "order_total": ("order_total",),
    "shipping": ("shipping_total",),
    "tax": ("tax_total",),
    "discount": ("discount_total", "cart_discount"),
    "discount_code": ("coupon_code",),
    "refunded_amount": ("refunded_total",),
}

WEBTOFFEE_ORDERS_SIGNATURE = ("order_number", "order_date", "status", "order_total", "billing_email", "wt_import_key")

WEBTOFFEE_ORDERS_DESCRIPTION = _(
    "The orders export of the plugin “Order Export & Order Import for WooCommerce” (WebToffee): one row "
    "per order (order_id, order_number, order_date, status, shipping_total, tax_total, discount_total, "
    "order_total, order_currency, customer_user, billing_*, coupon_items, refund_items, …) with each "
    "item in a column line_item_1, line_item_2, … (“name:…|sku:…|quantity:…|total:…”), or with its "
    "items in separate rows. A customer_user of 0 is a guest, known by the billing email; refunded "
    "orders are returned and the refund_items of a partly refunded order are taken off its revenue."
)

_LINE_ITEM = re.compile(r"^line_item_(\d+)$")
# The keys WebToffee writes in a line_item_<n> cell (and "meta:<key>" for the item's meta data).
_ITEM_KEYS = frozenset(
    {"name", "product_id", "sku", "quantity", "total", "sub_total", "tax", "tax_data", "refunded", "_variation_id"}
)
# cell key -> the column WebToffee itself writes with its "line items in separate rows" option
_ITEM_COLUMNS = {
    "product_id": "item_product_id",
    "name": "item_name",
    "sku": "item_sku",
    "quantity": "item_quantity",
    "sub_total": "item_subtotal",
    "total": "item_total",
    "refunded": "item_refunded",
}


def prepare_webtoffee_orders(table: RawTable, *, path: Path) -> RawTable:
    """One row per line item from WebToffee's one row per order.

    Each non-empty line_item_<n> cell becomes a row with the order's columns and the item as
    item_product_id, item_name, item_sku, item_quantity, item_subtotal, item_total and
    item_refunded (the columns WebToffee writes for items in separate rows), plus line_item
    (which cell it came from). Added for both forms: item_price, the unit price (item_total /
    item_quantity, to the cent); coupon_code, the codes of coupon_items; refunded_total, the sum
    of refund_items (older versions of the plugin write refunded_total themselves). An order
    without items is left out: it sold nothing.
    """
    frame = table.frame
    numbered = sorted(
        ((int(m.group(1)), c) for c in frame.columns if (m := _LINE_ITEM.match(c))), key=lambda pair: pair[0]
    )
    rows = table.row_numbers
    if numbered:
        item_cols = [c for _n, c in numbered]
        cells = frame[item_cols].to_numpy(dtype=object)
        position, which = np.nonzero(cells != "")  # row-major: an order's items stay in cell order
        items = [_line_item_fields(text) for text in cells[position, which]]
        frame = frame.drop(columns=item_cols).iloc[position].reset_index(drop=True)
        frame["line_item"] = np.asarray(item_cols, dtype=object)[which]
        for key, column in _ITEM_COLUMNS.items():
            frame[column] = [item.get(key, "") for item in items]
        rows = rows[position]
    else:
        frame = frame.copy()
    if "item_total" in frame.columns and "item_quantity" in frame.columns:
        frame["item_price"] = [
            _unit_price(total, quantity)
            for total, quantity in zip(frame["item_total"], frame["item_quantity"], strict=True)
        ]
    if "coupon_items" in frame.columns and "coupon_code" not in frame.columns:
        frame["coupon_code"] = frame["coupon_items"].map(_coupon_codes)
    if "refund_items" in frame.columns and "refunded_total" not in frame.columns:
        frame["refunded_total"] = frame["refund_items"].map(_refunded_total)
    return RawTable(
        frame=frame, row_numbers=rows, encoding=table.encoding, delimiter=table.delimiter, bad_lines=table.bad_lines
    )


def _line_item_fields(text: str) -> dict[str, str]:
    """ "name:Album|product_id:19|sku:woo-album|quantity:1|total:15.00|…" as {key: value}. A part
    that starts with no key WebToffee writes belongs to the value before it (a name with "|")."""
    fields: dict[str, str] = {}
    key = ""
    for part in text.split("|"):
        name, sep, value = part.partition(":")
        if sep and (name in _ITEM_KEYS or name == "meta"):
            key = name
            fields[key] = value.strip() if key != "meta" else ""
        elif key and key != "meta":
            fields[key] += "|" + part
    return fields


def _unit_price(total: str, quantity: str) -> str:
    """The line total per unit, to the cent (as WooCommerce's own item price, rounded); "" when
    either cannot be read (the cleaner then names the row)."""
    try:
        amount, count = parse_money(total), int(str(quantity).strip())
    except ValueError:
        return ""
    if amount is None or count == 0:
        return ""
    return str((amount / count).quantize(CENT, rounding=ROUND_HALF_UP))


def _coupon_codes(cell: str) -> str:
    """ "code:SAVE10|amount:10.00;code:FREESHIP|amount:0.00" -> "SAVE10, FREESHIP"."""
    codes = []
    for coupon in cell.split(";"):
        for part in coupon.split("|"):
            name, sep, value = part.partition(":")
            if sep and name.strip() == "code" and value.strip():
                codes.append(value.strip())
    return ", ".join(dict.fromkeys(codes))


def _refunded_total(cell: str) -> str:
    """The sum of "amount:5.00|reason:…|date:…;amount:…" ("" without refunds or when unreadable)."""
    total, seen = Decimal(0), False
    for refund in cell.split(";"):
        for part in refund.split("|"):
            name, sep, value = part.partition(":")
            if sep and name.strip() == "amount":
                try:
                    amount = parse_money(value)
                except ValueError:
                    return ""
                if amount is not None:
                    total, seen = total + abs(amount), True
    return str(total.quantize(CENT)) if seen else ""


# ---------------------------------------------------------------------------------------------
# Products (WooCommerce › Products › Export)

PRODUCTS_LABEL = _("WooCommerce products export")
PRODUCTS_EXAMPLE = "woocommerce-products.csv"
PRODUCT_ALIASES: dict[str, tuple[str, ...]] = {
    "sku": ("SKU",),
    "title": ("Name",),
    "category": ("Category",),
    "price": ("Price",),
    "image_url": ("Image",),
    "tags": ("Tags",),
}

PRODUCTS_SIGNATURE = ("Type", "SKU", "Name", "Published", "Visibility in catalog", "Regular price", "Parent")

PRODUCTS_DESCRIPTION = _(
    "WooCommerce’s own product export (Products › Export): ID, Type, SKU, Name, Published, …, Sale "
    "price, Regular price, Categories, Tags, Images, Parent, …. One product per row with a SKU; a "
    "variation (Type “variation”) is a product of its own and takes its parent’s categories, tags, "
    "image and SKU where it has none; the parent rows of variable products and grouped products are "
    "not sold themselves and are left out. Price: the sale price while the sale is on, else the "
    "regular price; category: the most specific level of the first category (“Clothing > Shirts” "
    "gives Shirts); image: the first of the images."
)

# The exporter's headers this module reads (compared as presets.normalize_header compares them).
_PRODUCT_HEADERS = (
    "ID", "Type", "SKU", "Name", "Sale price", "Regular price", "Date sale price starts", "Date sale price ends",
    "Categories", "Tags", "Images", "Parent",
)  # fmt: skip
_LIST_SPLIT = re.compile(r"(?<!\\),\s*")
_FORMULA_GUARD = re.compile(r"^'(?=[=+\-@])")


def prepare_products(table: RawTable, *, path: Path) -> RawTable:
    """One row per sellable product, with three columns added for the cleaner: Price (the sale
    price while the sale is on, else the regular price), Category (the last level of the first
    of Categories) and Image (the first of Images). Variations fill their empty Categories,
    Tags, Images and SKU from their parent row; variable parents that have variation rows and
    grouped products are left out."""
    frame = table.frame.copy()
    columns = {name: column for name in _PRODUCT_HEADERS if (column := _column(frame, (name,))) is not None}
    for name in ("SKU", "Name"):
        if name in columns:
            frame[columns[name]] = frame[columns[name]].str.replace(_FORMULA_GUARD, "", regex=True)
    n = len(frame)
    kind = (
        frame[columns["Type"]].str.split(",").str[0].str.strip().str.lower()
        if "Type" in columns
        else pd.Series([""] * n, index=frame.index)
    )
    variation = kind.eq("variation").to_numpy()
    parent = _parent_positions(frame, columns, variation)
    has_parent = parent >= 0
    for name in ("Categories", "Tags", "Images", "SKU"):
        if name not in columns:
            continue
        values = frame[columns[name]].to_numpy(dtype=object).copy()
        inherit = has_parent & (values == "")
        values[inherit] = values[parent[inherit]]
        frame[columns[name]] = values
    referenced = np.zeros(n, dtype=bool)
    referenced[parent[has_parent]] = True
    container = (kind.eq("variable").to_numpy() & referenced) | kind.eq("grouped").to_numpy()

    frame["Price"] = _current_price(frame, columns)
    if "Categories" in columns:
        first = frame[columns["Categories"]].map(_first_of_list)
        frame["Category"] = first.str.split(" > ").str[-1].str.strip()
    if "Images" in columns:
        frame["Image"] = frame[columns["Images"]].map(_first_of_list)
    return _table(table, frame, np.flatnonzero(~container))


def _parent_positions(frame: pd.DataFrame, columns: dict[str, str], variation: np.ndarray) -> np.ndarray:
    """Per row the position of its parent row (-1: none): a variation's Parent is the parent's
    SKU, or "id:<ID>" when the parent has no SKU."""
    parent = np.full(len(frame), -1, dtype=np.int64)
    if "Parent" not in columns or not variation.any():
        return parent
    by_ref: dict[str, int] = {}
    if "SKU" in columns:
        for pos, sku in enumerate(frame[columns["SKU"]]):
            if sku:
                by_ref.setdefault(sku, pos)
    if "ID" in columns:
        for pos, ident in enumerate(frame[columns["ID"]]):
            if ident:
                by_ref.setdefault(f"id:{ident.strip()}", pos)
    refs = frame[columns["Parent"]].to_numpy(dtype=object)
    for pos in np.flatnonzero(variation):
        parent[pos] = by_ref.get(str(refs[pos]).strip(), -1)
    return parent


def _current_price(frame: pd.DataFrame, columns: dict[str, str]) -> pd.Series:
    """The sale price where it is set and its sale dates (when given) hold today, else the
    regular price. The dates are compared by day, as WooCommerce schedules sales."""
    empty = pd.Series([""] * len(frame), index=frame.index)
    sale = frame[columns["Sale price"]] if "Sale price" in columns else empty
    regular = frame[columns["Regular price"]] if "Regular price" in columns else empty
    today = timezone.localdate().isoformat()
    on = sale.ne("")
    if "Date sale price starts" in columns:
        starts = frame[columns["Date sale price starts"]].str.slice(0, 10)
        on &= starts.eq("") | starts.le(today)
    if "Date sale price ends" in columns:
        ends = frame[columns["Date sale price ends"]].str.slice(0, 10)
        on &= ends.eq("") | ends.ge(today)
    return regular.where(~on, sale)


def _first_of_list(cell: str) -> str:
    """The first value of an exporter list cell ("a, b\\, c" -> "a"), its escaped commas restored."""
    if not cell:
        return ""
    return _LIST_SPLIT.split(cell.strip(), maxsplit=1)[0].replace("\\,", ",").strip()


# ---------------------------------------------------------------------------------------------
# Customers (WebToffee Import Export WordPress Users and WooCommerce Customers)

CUSTOMERS_LABEL = _("WooCommerce customers export (WebToffee)")
CUSTOMERS_EXAMPLE = "woocommerce-customers.csv"
CUSTOMER_ALIASES: dict[str, tuple[str, ...]] = {
    "customer_id": ("customer_id", "ID"),
    "email": ("user_email", "billing_email"),
    "first_name": ("first_name", "billing_first_name"),
    "last_name": ("last_name", "billing_last_name"),
    "phone": ("billing_phone", "shipping_phone"),
    "city": ("billing_city", "shipping_city"),
    "province": ("billing_state", "shipping_state"),
    "postcode": ("billing_postcode", "shipping_postcode"),
    "country": ("billing_country", "shipping_country"),
    # WooCommerce's own figures (paid orders' totals, number of orders): checked, not stored
    "reported_spent": ("total_spent",),
    "reported_orders": ("orders",),
}

CUSTOMERS_SIGNATURE = ("user_login", "user_email", "user_registered", "roles", "billing_email")

CUSTOMERS_DESCRIPTION = _(
    "The users export of the plugin “Import Export WordPress Users and WooCommerce Customers” "
    "(WebToffee): ID, customer_id, user_login, user_email, first_name, last_name, …, billing_first_name, "
    "billing_last_name, billing_email, billing_phone, billing_city, billing_state, billing_postcode, "
    "billing_country, …. A customer is known by the WooCommerce user id (the customer id of their "
    "orders) and the email; the billing name and email stand in where the account has none (guest "
    "buyers)."
)

# (column, the column that stands in where it is empty)
_CUSTOMER_FALLBACKS = (
    ("first_name", "billing_first_name"),
    ("last_name", "billing_last_name"),
    ("user_email", "billing_email"),
)


def prepare_customers(table: RawTable, *, path: Path) -> RawTable:
    """The account's first name, last name and email, or the billing ones where the account has
    none (guest buyers have only billing details)."""
    frame = table.frame
    pairs = [(a, b) for a, b in _CUSTOMER_FALLBACKS if a in frame.columns and b in frame.columns]
    if not pairs:
        return table
    frame = frame.copy()
    for column, fallback in pairs:
        frame[column] = frame[column].where(frame[column] != "", frame[fallback])
    return _table(table, frame, np.arange(len(frame)))


# ---------------------------------------------------------------------------------------------
# Helpers


def _columns_present(frame: pd.DataFrame, names: tuple[str, ...]) -> list[str]:
    """The file's columns for `names`, in that order, those it has."""
    found = []
    for name in names:
        column = _column(frame, (name,))
        if column is not None and column not in found:
            found.append(column)
    return found


def _column(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    """The file's column for the first of `names` it has (compared as headers are), else None."""
    from customers.importers.presets import normalize_header  # presets imports this module

    by_normal: dict[str, str] = {}
    for column in frame.columns:
        by_normal.setdefault(normalize_header(column), column)
    for name in names:
        column = by_normal.get(normalize_header(name))
        if column is not None:
            return column
    return None


def _table(table: RawTable, frame: pd.DataFrame, keep: np.ndarray) -> RawTable:
    """`frame`'s rows at positions `keep`, still named by the file's row numbers."""
    return RawTable(
        frame=frame.iloc[keep].reset_index(drop=True),
        row_numbers=table.row_numbers[keep],
        encoding=table.encoding,
        delimiter=table.delimiter,
        bad_lines=table.bad_lines,
    )
