"""Per-shop DataFrames in the column layout analytics.compute documents (DB -> pandas).

Each loader runs one SQL query built by the ORM (so the shop filter is the ORM's). On
PostgreSQL the rows come as ``COPY (query) TO STDOUT`` CSV read by pandas' C parser; other
databases go through the cursor. For a shop with a million orders and three million lines
that is the difference between minutes and seconds: no Python datetime, Decimal or str
object is made per row.

Order lines are loaded as ids and numbers only and joined in pandas to the orders (customer,
time, status) and products (sku, title, category, brand) already in memory, so the product
texts are shared objects, not one copy per line.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import F, FloatField, Func, QuerySet

from customers.models import Customer, Event, Order, OrderLine, Product, Review
from shops.models import Shop

ORDER_COLUMNS = ["order_id", "customer_id", "placed_at", "total", "status"]
LINE_COLUMNS = [
    "order_id",
    "customer_id",
    "placed_at",
    "product_id",
    "sku",
    "title",
    "category",
    "brand",
    "quantity",
    "unit_price",
    "status",
]


class _EpochSeconds(Func):
    """A timestamp as seconds since 1970 (PostgreSQL): a number is much cheaper to write as
    text and to parse back than a timestamp with its time zone."""

    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()


def _when(field: str):
    """The expression to select a datetime column with: epoch seconds on PostgreSQL (see _utc)."""
    return _EpochSeconds(F(field)) if connection.vendor == "postgresql" else F(field)


def _frame(qs: QuerySet, columns: list[str], dtypes: dict[str, str] | None = None) -> pd.DataFrame:
    """The queryset's rows as a frame with these column names (values_list order).

    ``dtypes`` as for pandas; "object" marks text columns. On PostgreSQL the rows arrive as
    ``COPY (query) TO STDOUT`` CSV read by pandas' C parser: the database formats rows while
    this process reads them, and no Python object is made per value.
    """
    dtypes = dtypes or {}
    sql, params = qs.query.sql_with_params()
    if connection.vendor == "postgresql":
        buffer = io.BytesIO()
        with connection.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
            for block in copy:
                buffer.write(block)
        if not buffer.tell():
            return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "object")) for c in columns})
        buffer.seek(0)
        return pd.read_csv(buffer, header=None, names=columns, dtype=dtypes, keep_default_na=False, na_values=[""])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    frame = pd.DataFrame.from_records(rows, columns=columns)
    return frame.astype({c: t for c, t in dtypes.items() if t != "object"}) if rows else frame


def _utc(frame: pd.DataFrame, *cols: str) -> pd.DataFrame:
    """Columns of datetimes, or of epoch seconds (from _when), as UTC datetimes."""
    for col in cols:
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values.dtype):
            micros = pd.Series(np.round(values.to_numpy(dtype=float) * 1e6), index=values.index).astype("Int64")
            frame[col] = pd.to_datetime(micros, unit="us", utc=True).astype("datetime64[ns, UTC]")
        else:
            frame[col] = pd.to_datetime(values, utc=True, format="ISO8601")
    return frame


def _texts(frame: pd.DataFrame, *cols: str) -> pd.DataFrame:
    for col in cols:
        frame[col] = frame[col].astype(object).where(frame[col].notna(), "")
    return frame


def orders_frame(*, shop: Shop) -> pd.DataFrame:
    """order_id, customer_id (nullable), placed_at (UTC), total (float), status."""
    qs = Order.objects.for_shop(shop).order_by().values_list("id", "customer_id", _when("placed_at"), "total", "status")
    frame = _frame(qs, ORDER_COLUMNS, {"order_id": "int64", "customer_id": "Int64", "status": "object"})
    frame = _utc(frame, "placed_at")
    frame["total"] = frame["total"].astype(float)
    return frame


def products_frame(*, shop: Shop) -> pd.DataFrame:
    """product_id, sku, title, category, brand (texts never null)."""
    cols = ["product_id", "sku", "title", "category", "brand"]
    qs = Product.objects.for_shop(shop).order_by().values_list("id", "sku", "title", "category", "brand")
    frame = _frame(qs, cols, {"product_id": "int64", **dict.fromkeys(cols[1:], "object")})
    return _texts(frame, "sku", "title", "category", "brand")


def lines_frame(
    *, shop: Shop, orders: pd.DataFrame | None = None, products: pd.DataFrame | None = None
) -> pd.DataFrame:
    """order_id, customer_id, placed_at, product_id, sku, title, category, brand, quantity, unit_price, status.

    ``orders`` and ``products`` (from :func:`orders_frame` / :func:`products_frame`) are loaded
    when not given; lines take their customer, time and status from the order and their texts
    from the product.
    """
    orders = orders_frame(shop=shop) if orders is None else orders
    products = products_frame(shop=shop) if products is None else products
    qs = OrderLine.objects.for_shop(shop).order_by().values_list("order_id", "product_id", "quantity", "unit_price")
    frame = _frame(
        qs,
        ["order_id", "product_id", "quantity", "unit_price"],
        {"order_id": "int64", "product_id": "Int64", "quantity": "int64"},
    )
    frame["unit_price"] = frame["unit_price"].astype(float)

    at = pd.Index(orders["order_id"]).get_indexer(frame["order_id"])
    known = at >= 0
    for col in ("customer_id", "placed_at", "status"):
        frame[col] = orders[col].take(np.where(known, at, 0)).reset_index(drop=True).where(known)
    frame["status"] = frame["status"].where(known, "")

    pids = frame["product_id"].to_numpy(dtype="float64", na_value=np.nan)
    at = pd.Index(products["product_id"].astype("float64")).get_indexer(pids)
    for col in ("sku", "title", "category", "brand"):
        values = products[col].to_numpy(dtype=object)
        frame[col] = np.where(at >= 0, values.take(np.maximum(at, 0)) if len(values) else "", "")
    frame["customer_id"] = frame["customer_id"].astype("Int64")
    return frame[LINE_COLUMNS]


def customers_frame(*, shop: Shop) -> pd.DataFrame:
    """customer_id, birth_date, gender, occupation, city, country, created_at."""
    cols = ["customer_id", "birth_date", "gender", "occupation", "city", "country", "created_at"]
    qs = (
        Customer.objects.for_shop(shop)
        .order_by()
        .values_list("id", "birth_date", "gender", "occupation", "city", "country", _when("created_at"))
    )
    frame = _frame(qs, cols, {"customer_id": "int64", **dict.fromkeys(cols[1:6], "object")})
    frame = _utc(frame, "created_at")
    frame["birth_date"] = pd.to_datetime(frame["birth_date"])
    return _texts(frame, "gender", "occupation", "city", "country")


def events_frame(*, shop: Shop) -> pd.DataFrame:
    """customer_id, kind, at, duration_seconds (known customers only)."""
    cols = ["customer_id", "kind", "at", "duration_seconds"]
    qs = (
        Event.objects.for_shop(shop)
        .filter(customer__isnull=False)
        .order_by()
        .values_list("customer_id", "kind", _when("at"), "duration_seconds")
    )
    frame = _utc(_frame(qs, cols, {"customer_id": "int64", "kind": "object"}), "at")
    frame["duration_seconds"] = frame["duration_seconds"].astype(float)
    return frame


def reviews_frame(*, shop: Shop) -> pd.DataFrame:
    """customer_id, product_id, rating, text."""
    cols = ["customer_id", "product_id", "rating", "text"]
    qs = Review.objects.for_shop(shop).order_by().values_list("customer_id", "product_id", "rating", "text")
    return _texts(_frame(qs, cols, {"customer_id": "Int64", "product_id": "int64", "text": "object"}), "text")


def analysis_frames(*, shop: Shop) -> dict[str, pd.DataFrame]:
    """Everything run_pipeline takes, each table read once: orders, lines, customers, events, reviews."""
    orders = orders_frame(shop=shop)
    return {
        "orders": orders,
        "lines": lines_frame(shop=shop, orders=orders, products=products_frame(shop=shop)),
        "customers": customers_frame(shop=shop),
        "events": events_frame(shop=shop),
        "reviews": reviews_frame(shop=shop),
    }
