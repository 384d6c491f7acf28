"""Column layouts the importer knows: which header means which field, per preset and kind.

A header matches an alias when both agree after lower-casing and dropping everything but
letters and digits ("Billing Email Address" = "billing_email_address"). Aliases are listed
in order of preference: when a file has several matching columns the first alias wins.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from customers.importers.layouts import douyin as douyin_layout
from customers.importers.layouts import shopify as shopify_layout
from customers.importers.layouts import taobao as taobao_layout
from customers.importers.layouts import woocommerce as woocommerce_layout
from customers.importers.layouts import youzan as youzan_layout
from customers.models import ImportKind

if TYPE_CHECKING:
    from customers.importers.readers import RawTable

# Field types the cleaner knows how to read.
TEXT, DATE, MONEY, INTEGER, BOOLEAN, GENDER = "text", "date", "money", "integer", "boolean", "gender"


@dataclass(frozen=True)
class FieldSpec:
    """One thing the importer can read from a column."""

    name: str
    label: str | Promise
    type: str = TEXT
    max_length: int = 0


def _fields(*specs: FieldSpec) -> dict[str, FieldSpec]:
    return {spec.name: spec for spec in specs}


ORDER_FIELDS = _fields(
    FieldSpec("order_id", _("Order number"), max_length=100),
    FieldSpec("ordered_at", _("Order date"), DATE),
    FieldSpec("customer_id", _("Customer id"), max_length=100),
    FieldSpec("email", _("Email"), max_length=254),
    FieldSpec("first_name", _("First name"), max_length=100),
    FieldSpec("last_name", _("Last name"), max_length=100),
    FieldSpec("full_name", _("Full name"), max_length=201),
    FieldSpec("phone", _("Phone"), max_length=40),
    FieldSpec("city", _("City"), max_length=100),
    FieldSpec("country", _("Country"), max_length=100),
    FieldSpec("email_consent", _("Email marketing consent"), BOOLEAN),
    FieldSpec("sku", _("SKU"), max_length=100),
    FieldSpec("product_name", _("Product name"), max_length=300),
    FieldSpec("category", _("Category"), max_length=120),
    FieldSpec("brand", _("Brand"), max_length=120),
    FieldSpec("quantity", _("Quantity"), INTEGER),
    FieldSpec("unit_price", _("Unit price"), MONEY),
    FieldSpec("currency", _("Currency"), max_length=3),
    FieldSpec("status", _("Order status")),
    FieldSpec("financial_status", _("Payment status")),
    FieldSpec("cancelled_at", _("Cancelled at")),
    FieldSpec("order_total", _("Order total"), MONEY),
    # Order-level amounts kept apart from the goods (the first non-empty value of the order's rows).
    FieldSpec("shipping", _("Shipping"), MONEY),
    FieldSpec("tax", _("Tax"), MONEY),
    FieldSpec("discount", _("Discount"), MONEY),
    FieldSpec("discount_code", _("Discount code"), max_length=100),
    FieldSpec("refunded_amount", _("Refunded amount"), MONEY),
    # The discount on the whole line: the line's unit price is what is left, per unit.
    FieldSpec("line_discount", _("Line discount"), MONEY),
    FieldSpec("province", _("Province or state"), max_length=100),
    FieldSpec("postcode", _("Postcode"), max_length=20),
)

CUSTOMER_FIELDS = _fields(
    FieldSpec("customer_id", _("Customer id"), max_length=100),
    FieldSpec("email", _("Email"), max_length=254),
    FieldSpec("first_name", _("First name"), max_length=100),
    FieldSpec("last_name", _("Last name"), max_length=100),
    FieldSpec("full_name", _("Full name"), max_length=201),
    FieldSpec("phone", _("Phone"), max_length=40),
    FieldSpec("birth_date", _("Birth date"), DATE),
    FieldSpec("gender", _("Gender"), GENDER),
    FieldSpec("city", _("City"), max_length=100),
    FieldSpec("country", _("Country"), max_length=100),
    FieldSpec("email_consent", _("Email marketing consent"), BOOLEAN),
    FieldSpec("province", _("Province or state"), max_length=100),
    FieldSpec("postcode", _("Postcode"), max_length=20),
    FieldSpec("tags", _("Tags (comma-separated)")),
    # The platform's own totals per customer: summed in the report as a check, never stored.
    FieldSpec("reported_spent", _("Total spent (the platform's figure)"), MONEY),
    FieldSpec("reported_orders", _("Number of orders (the platform's figure)"), INTEGER),
)

PRODUCT_FIELDS = _fields(
    FieldSpec("sku", _("SKU"), max_length=100),
    FieldSpec("title", _("Title"), max_length=300),
    FieldSpec("category", _("Category"), max_length=120),
    FieldSpec("brand", _("Brand"), max_length=120),
    FieldSpec("price", _("Price"), MONEY),
    FieldSpec("image_url", _("Image URL"), max_length=1000),
    FieldSpec("tags", _("Tags (comma-separated)")),
)

FIELDS_BY_KIND: dict[str, dict[str, FieldSpec]] = {
    ImportKind.ORDERS: ORDER_FIELDS,
    ImportKind.CUSTOMERS: CUSTOMER_FIELDS,
    ImportKind.PRODUCTS: PRODUCT_FIELDS,
}

# Each group: at least one of its fields must be mapped to a column.
REQUIRED_BY_KIND: dict[str, tuple[tuple[str, ...], ...]] = {
    ImportKind.ORDERS: (("order_id",), ("ordered_at",), ("quantity",), ("unit_price",), ("sku", "product_name")),
    ImportKind.CUSTOMERS: (("customer_id", "email"),),
    ImportKind.PRODUCTS: (("sku", "title"),),
}


def required_fields(kind: str) -> set[str]:
    """Every field that appears in a required group of `kind` (for marking them on the page)."""
    return {name for group in REQUIRED_BY_KIND[kind] for name in group}


GENERIC_ORDER_ALIASES: dict[str, tuple[str, ...]] = {
    "order_id": ("order_id", "order", "order_number", "order_no", "invoice", "invoice_no", "订单号", "订单编号"),
    "ordered_at": ("ordered_at", "order_date", "date", "created_at", "placed_at", "下单时间", "订单日期", "日期"),
    "customer_id": ("customer_id", "customer", "client_id", "客户编号", "客户id", "会员id"),
    "email": ("email", "customer_email", "e_mail", "邮箱", "电子邮件"),
    "first_name": ("first_name", "firstname", "given_name", "名"),
    "last_name": ("last_name", "lastname", "surname", "family_name", "姓"),
    "full_name": ("full_name", "name", "customer_name", "姓名", "客户姓名"),
    "phone": ("phone", "telephone", "mobile", "电话", "手机"),
    "city": ("city", "城市"),
    "country": ("country", "国家"),
    "email_consent": ("email_consent", "accepts_marketing", "newsletter"),
    "sku": ("sku", "product_id", "stock_code", "item_sku", "商品编码", "货号"),
    "product_name": ("product_name", "product", "item_name", "title", "description", "商品名称", "商品", "品名"),
    "category": ("category", "product_category", "类别", "分类"),
    "brand": ("brand", "vendor", "品牌"),
    "quantity": ("quantity", "qty", "数量"),
    "unit_price": ("unit_price", "price", "item_price", "单价", "价格"),
    "currency": ("currency", "币种", "货币"),
    "status": ("status", "order_status", "状态", "订单状态"),
    "order_total": ("order_total", "total"),
    "shipping": ("shipping", "shipping_cost"),
    "tax": ("tax", "taxes"),
    "discount": ("discount", "discount_amount"),
    "discount_code": ("discount_code", "coupon_code"),
    "refunded_amount": ("refunded_amount",),
    "line_discount": ("line_discount",),
    "province": ("province",),
    "postcode": ("postcode", "zip", "postal_code"),
}

CUSTOMER_ALIASES: dict[str, tuple[str, ...]] = {
    "customer_id": ("customer_id", "id", "customer", "client_id", "user_id", "客户编号", "客户id", "会员id"),
    "email": ("email", "email_address", "e_mail", "邮箱", "电子邮件"),
    "first_name": ("first_name", "firstname", "given_name", "名"),
    "last_name": ("last_name", "lastname", "surname", "family_name", "姓"),
    "full_name": ("full_name", "name", "姓名"),
    "phone": ("phone", "telephone", "mobile", "default_address_phone", "电话", "手机"),
    "birth_date": ("birth_date", "birthday", "date_of_birth", "dob", "生日", "出生日期"),
    "gender": ("gender", "sex", "性别"),
    "city": ("city", "default_address_city", "城市"),
    "country": ("country", "country_code", "default_address_country_code", "国家"),
    "email_consent": ("email_consent", "accepts_email_marketing", "accepts_marketing", "newsletter", "consent"),
    "province": ("province",),
    "postcode": ("postcode", "zip", "postal_code"),
    "tags": ("tags",),
}

PRODUCT_ALIASES: dict[str, tuple[str, ...]] = {
    "sku": ("sku", "variant_sku", "product_id", "stock_code", "code", "商品编码", "货号"),
    "title": ("title", "product_name", "name", "product", "description", "商品名称", "品名"),
    "category": ("category", "product_category", "type", "类别", "分类"),
    "brand": ("brand", "vendor", "品牌"),
    "price": ("price", "unit_price", "variant_price", "regular_price", "单价", "价格"),
    "image_url": ("image_url", "image"),
    "tags": ("tags",),
}


@dataclass(frozen=True)
class Preset:
    """A known file layout. `aliases` maps field -> accepted headers (preferred first).

    `cancellation_prefix`: an order id starting with it is a return / credit note
    (Online Retail's "C" invoices). `zero_customer_is_guest`: a customer id of 0 means
    no customer (WooCommerce). `encoding`: the text encoding the platform writes, used when
    the file has no byte-order mark ("gb18030" for the Chinese marketplaces; "" = detect).
    `prepare`: reshapes the file as read into one row per line item with the layout's own
    headers before the columns are mapped (carry an order's fields to its further rows, split
    several items in one row, join a second report); it gets the RawTable and the uploaded
    file's path and returns a RawTable whose row_numbers still name the file's rows.
    `signature`: headers that, all present, identify the layout (upload-page recognition).
    `example`: the example file's name in customers/importers/examples/.
    `status_words`: the layout's own status words (lower-cased, spaces as "_") -> OrderStatus,
    read before the shared ones (cleaning.STATUS_WORDS): Shopify's "refunded" is a returned sale.
    """

    key: str
    label: str | Promise
    kind: str
    aliases: dict[str, tuple[str, ...]]
    cancellation_prefix: str = ""
    zero_customer_is_guest: bool = False
    description: str | Promise = ""
    encoding: str = ""
    prepare: Callable[..., RawTable] | None = None
    signature: tuple[str, ...] = ()
    example: str = ""
    status_words: dict[str, str] = field(default_factory=dict)


GENERIC = "generic"
ONLINE_RETAIL = "online-retail"
SHOPIFY = "shopify"
WOOCOMMERCE = "woocommerce"
WOOCOMMERCE_WEBTOFFEE = "woocommerce-webtoffee"
TAOBAO = "taobao"
DOUYIN = "douyin"
YOUZAN = "youzan"
CUSTOM = "custom"

ORDER_PRESETS: dict[str, Preset] = {
    GENERIC: Preset(
        GENERIC,
        _("Generic order lines"),
        ImportKind.ORDERS,
        GENERIC_ORDER_ALIASES,
        description=_(
            "One row per order line: order_id, ordered_at, customer_id, email, first_name, last_name, sku, "
            "product_name, category, brand, quantity, unit_price, currency, status."
        ),
        example="generic-orders.csv",
    ),
    ONLINE_RETAIL: Preset(
        ONLINE_RETAIL,
        _("Online Retail (UCI)"),
        ImportKind.ORDERS,
        {
            "order_id": ("InvoiceNo", "Invoice"),
            "sku": ("StockCode",),
            "product_name": ("Description",),
            "quantity": ("Quantity",),
            "ordered_at": ("InvoiceDate",),
            "unit_price": ("UnitPrice", "Price"),
            "customer_id": ("CustomerID", "Customer ID"),
            "country": ("Country",),
        },
        cancellation_prefix="C",
        description=_(
            "InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country; "
            "an invoice starting with C is a cancellation (stored as a returned order)."
        ),
        signature=("InvoiceNo", "StockCode", "InvoiceDate", "CustomerID"),
        example="online-retail.csv",
    ),
    SHOPIFY: Preset(
        SHOPIFY,
        shopify_layout.ORDERS_LABEL,
        ImportKind.ORDERS,
        shopify_layout.ORDER_ALIASES,
        description=shopify_layout.ORDERS_DESCRIPTION,
        prepare=shopify_layout.prepare_orders,
        signature=shopify_layout.ORDERS_SIGNATURE,
        example=shopify_layout.ORDERS_EXAMPLE,
        status_words=shopify_layout.FINANCIAL_STATUSES,
    ),
    WOOCOMMERCE: Preset(
        WOOCOMMERCE,
        woocommerce_layout.ORDERS_LABEL,
        ImportKind.ORDERS,
        woocommerce_layout.ORDER_ALIASES,
        zero_customer_is_guest=True,
        description=woocommerce_layout.ORDERS_DESCRIPTION,
        prepare=woocommerce_layout.prepare_orders,
        signature=woocommerce_layout.ORDERS_SIGNATURE,
        example=woocommerce_layout.ORDERS_EXAMPLE,
        status_words=woocommerce_layout.ORDER_STATUSES,
    ),
    WOOCOMMERCE_WEBTOFFEE: Preset(
        WOOCOMMERCE_WEBTOFFEE,
        woocommerce_layout.WEBTOFFEE_ORDERS_LABEL,
        ImportKind.ORDERS,
        woocommerce_layout.WEBTOFFEE_ORDER_ALIASES,
        zero_customer_is_guest=True,
        description=woocommerce_layout.WEBTOFFEE_ORDERS_DESCRIPTION,
        prepare=woocommerce_layout.prepare_webtoffee_orders,
        signature=woocommerce_layout.WEBTOFFEE_ORDERS_SIGNATURE,
        example=woocommerce_layout.WEBTOFFEE_ORDERS_EXAMPLE,
        status_words=woocommerce_layout.ORDER_STATUSES,
    ),
    TAOBAO: Preset(
        TAOBAO,
        taobao_layout.LABEL,
        ImportKind.ORDERS,
        taobao_layout.ALIASES,
        description=taobao_layout.DESCRIPTION,
        encoding=taobao_layout.ENCODING,
        prepare=taobao_layout.prepare,
        signature=taobao_layout.SIGNATURE,
        example=taobao_layout.EXAMPLE,
        status_words=taobao_layout.STATUS_WORDS,
    ),
    DOUYIN: Preset(
        DOUYIN,
        douyin_layout.LABEL,
        ImportKind.ORDERS,
        douyin_layout.ALIASES,
        description=douyin_layout.DESCRIPTION,
        encoding=douyin_layout.ENCODING,
        prepare=douyin_layout.prepare,
        signature=douyin_layout.SIGNATURE,
        example=douyin_layout.EXAMPLE,
        status_words=douyin_layout.STATUS_WORDS,
    ),
    YOUZAN: Preset(
        YOUZAN,
        youzan_layout.LABEL,
        ImportKind.ORDERS,
        youzan_layout.ALIASES,
        description=youzan_layout.DESCRIPTION,
        encoding=youzan_layout.ENCODING,
        prepare=youzan_layout.prepare,
        signature=youzan_layout.SIGNATURE,
        example=youzan_layout.EXAMPLE,
        status_words=youzan_layout.STATUS_WORDS,
    ),
}

KIND_PRESETS: dict[str, dict[str, Preset]] = {
    ImportKind.ORDERS: ORDER_PRESETS,
    ImportKind.CUSTOMERS: {
        GENERIC: Preset(
            GENERIC,
            _("Generic customers"),
            ImportKind.CUSTOMERS,
            CUSTOMER_ALIASES,
            description=_(
                "One row per customer: customer_id, email, first_name, last_name, phone, birth_date, gender, "
                "city, country, email_consent."
            ),
            example="generic-customers.csv",
        ),
        SHOPIFY: Preset(
            SHOPIFY,
            shopify_layout.CUSTOMERS_LABEL,
            ImportKind.CUSTOMERS,
            shopify_layout.CUSTOMER_ALIASES,
            description=shopify_layout.CUSTOMERS_DESCRIPTION,
            prepare=shopify_layout.prepare_customers,
            signature=shopify_layout.CUSTOMERS_SIGNATURE,
            example=shopify_layout.CUSTOMERS_EXAMPLE,
        ),
        WOOCOMMERCE: Preset(
            WOOCOMMERCE,
            woocommerce_layout.CUSTOMERS_LABEL,
            ImportKind.CUSTOMERS,
            woocommerce_layout.CUSTOMER_ALIASES,
            description=woocommerce_layout.CUSTOMERS_DESCRIPTION,
            prepare=woocommerce_layout.prepare_customers,
            signature=woocommerce_layout.CUSTOMERS_SIGNATURE,
            example=woocommerce_layout.CUSTOMERS_EXAMPLE,
        ),
    },
    ImportKind.PRODUCTS: {
        GENERIC: Preset(
            GENERIC,
            _("Generic products"),
            ImportKind.PRODUCTS,
            PRODUCT_ALIASES,
            description=_("One row per product: sku, title, category, brand, price."),
            example="generic-products.csv",
        ),
        SHOPIFY: Preset(
            SHOPIFY,
            shopify_layout.PRODUCTS_LABEL,
            ImportKind.PRODUCTS,
            shopify_layout.PRODUCT_ALIASES,
            description=shopify_layout.PRODUCTS_DESCRIPTION,
            prepare=shopify_layout.prepare_products,
            signature=shopify_layout.PRODUCTS_SIGNATURE,
            example=shopify_layout.PRODUCTS_EXAMPLE,
        ),
        WOOCOMMERCE: Preset(
            WOOCOMMERCE,
            woocommerce_layout.PRODUCTS_LABEL,
            ImportKind.PRODUCTS,
            woocommerce_layout.PRODUCT_ALIASES,
            description=woocommerce_layout.PRODUCTS_DESCRIPTION,
            prepare=woocommerce_layout.prepare_products,
            signature=woocommerce_layout.PRODUCTS_SIGNATURE,
            example=woocommerce_layout.PRODUCTS_EXAMPLE,
        ),
    },
}

PRESET_CHOICES = [
    (GENERIC, _("Generic")),
    (ONLINE_RETAIL, _("Online Retail (UCI)")),
    (SHOPIFY, _("Shopify export (orders, customers or products)")),
    (WOOCOMMERCE, _("WooCommerce export (orders, customers or products)")),
    (TAOBAO, taobao_layout.LABEL),
    (DOUYIN, douyin_layout.LABEL),
    (YOUZAN, youzan_layout.LABEL),
    (CUSTOM, _("Custom mapping (choose the columns yourself)")),
]


class UnknownPreset(ValueError):
    """The preset does not exist for this kind of import."""


def get_preset(kind: str, key: str) -> Preset:
    """The preset `key` for `kind`; "custom" starts from the generic aliases.

    Raises UnknownPreset for a preset the kind does not have (shopify for products).
    """
    presets = KIND_PRESETS.get(kind)
    if presets is None:
        raise UnknownPreset(str(_("Unknown kind of import: %(kind)s") % {"kind": kind}))
    if key in ("", CUSTOM):
        key = GENERIC
    if key not in presets:
        raise UnknownPreset(
            str(
                _("The preset “%(preset)s” does not exist for %(kind)s; choose one of: %(choices)s.")
                % {"preset": key, "kind": kind, "choices": ", ".join(presets)}
            )
        )
    return presets[key]


_NOT_ALNUM = re.compile(r"[^0-9a-z\u3400-\u9fff]")


def normalize_header(header: str) -> str:
    """Lower-case letters and digits (and CJK characters) only: "Lineitem SKU" -> "lineitemsku"."""
    return _NOT_ALNUM.sub("", str(header).lower())


@dataclass
class ColumnMapping:
    """field -> column header in the file; `missing` lists the unsatisfied required groups."""

    fields: dict[str, str]
    missing: list[tuple[str, ...]]

    @property
    def complete(self) -> bool:
        return not self.missing


def resolve_mapping(
    columns: list[str], *, kind: str, preset: Preset, custom: dict[str, str] | None = None
) -> ColumnMapping:
    """Map the file's columns to fields: `custom` (field -> column) when given, else the preset's aliases.

    A custom mapping naming a column the file does not have, or a field the kind does not
    know, is ignored for that entry; an empty column name means "not in this file".
    """
    known = FIELDS_BY_KIND[kind]
    mapping: dict[str, str] = {}
    if custom is not None:
        present = set(columns)
        mapping = {f: c for f, c in custom.items() if f in known and c and c in present}
    else:
        by_normal: dict[str, str] = {}
        for column in columns:
            by_normal.setdefault(normalize_header(column), column)
        taken: set[str] = set()
        for field_name, aliases in preset.aliases.items():
            for alias in aliases:
                column = by_normal.get(normalize_header(alias))
                if column is not None and column not in taken:
                    mapping[field_name] = column
                    taken.add(column)
                    break
    missing = [group for group in REQUIRED_BY_KIND[kind] if not any(f in mapping for f in group)]
    return ColumnMapping(fields=mapping, missing=missing)


def describe_missing(missing: list[tuple[str, ...]], *, kind: str, preset: Preset) -> list[str]:
    """One sentence per unsatisfied required group, naming the headers the preset looks for."""
    known = FIELDS_BY_KIND[kind]
    sentences = []
    for group in missing:
        labels = " / ".join(str(known[f].label) for f in group)
        headers = [a for f in group for a in preset.aliases.get(f, ())][:6]
        sentences.append(
            str(
                _("No column for the required field %(field)s (looked for: %(headers)s).")
                % {"field": labels, "headers": ", ".join(headers) or "—"}
            )
        )
    return sentences
