"""Per-shop DataFrames in the column layout analytics.compute documents (DB -> pandas).

Each loader runs one SQL query built by the ORM (so the shop filter is the ORM's) and
builds the frame straight from the cursor rows, which is several times faster than
model instances for a million orders.
"""

from __future__ import annotations

import pandas as pd
from django.db import connection
from django.db.models import F, QuerySet

from customers.models import Customer, Event, Order, OrderLine, Review
from shops.models import Shop


def _frame(qs: QuerySet, columns: list[str]) -> pd.DataFrame:
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return pd.DataFrame.from_records(rows, columns=columns)


def _utc(frame: pd.DataFrame, *cols: str) -> pd.DataFrame:
    for col in cols:
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def orders_frame(*, shop: Shop) -> pd.DataFrame:
    """order_id, customer_id (nullable), placed_at (UTC), total (float), status."""
    cols = ["order_id", "customer_id", "placed_at", "total", "status"]
    qs = Order.objects.for_shop(shop).order_by().values_list("id", "customer_id", "placed_at", "total", "status")
    frame = _utc(_frame(qs, cols), "placed_at")
    frame["total"] = frame["total"].astype(float)
    frame["customer_id"] = frame["customer_id"].astype("Int64")
    return frame


def lines_frame(*, shop: Shop) -> pd.DataFrame:
    """order_id, customer_id, placed_at, product_id, sku, title, category, brand, quantity, unit_price, status."""
    cols = [
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
    qs = (
        OrderLine.objects.for_shop(shop)
        .order_by()
        .values_list(
            "order_id",
            F("order__customer_id"),
            F("order__placed_at"),
            "product_id",
            F("product__sku"),
            F("product__title"),
            F("product__category"),
            F("product__brand"),
            "quantity",
            "unit_price",
            F("order__status"),
        )
    )
    frame = _utc(_frame(qs, cols), "placed_at")
    frame["unit_price"] = frame["unit_price"].astype(float)
    frame["customer_id"] = frame["customer_id"].astype("Int64")
    frame["product_id"] = frame["product_id"].astype("Int64")
    for col in ("sku", "title", "category", "brand"):
        frame[col] = frame[col].fillna("")
    return frame


def customers_frame(*, shop: Shop) -> pd.DataFrame:
    """customer_id, birth_date, gender, occupation, city, country, created_at."""
    cols = ["customer_id", "birth_date", "gender", "occupation", "city", "country", "created_at"]
    qs = (
        Customer.objects.for_shop(shop)
        .order_by()
        .values_list("id", "birth_date", "gender", "occupation", "city", "country", "created_at")
    )
    frame = _utc(_frame(qs, cols), "created_at")
    frame["birth_date"] = pd.to_datetime(frame["birth_date"])
    return frame


def events_frame(*, shop: Shop) -> pd.DataFrame:
    """customer_id, kind, at, duration_seconds (known customers only)."""
    cols = ["customer_id", "kind", "at", "duration_seconds"]
    qs = (
        Event.objects.for_shop(shop)
        .filter(customer__isnull=False)
        .order_by()
        .values_list("customer_id", "kind", "at", "duration_seconds")
    )
    frame = _utc(_frame(qs, cols), "at")
    frame["duration_seconds"] = frame["duration_seconds"].astype(float)
    return frame


def reviews_frame(*, shop: Shop) -> pd.DataFrame:
    """customer_id, product_id, rating, text."""
    cols = ["customer_id", "product_id", "rating", "text"]
    qs = Review.objects.for_shop(shop).order_by().values_list("customer_id", "product_id", "rating", "text")
    return _frame(qs, cols)
