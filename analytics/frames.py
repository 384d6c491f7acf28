"""Per-shop DataFrames in the column layout analytics.compute documents (DB -> pandas).

Each loader runs one SQL query built by the ORM (so the shop filter is the ORM's). A result
row per table row costs more in the driver than anything else (three million order lines
are three million trips through psycopg's Python code), so on PostgreSQL the database writes
the rows as CSV text, many thousand lines per result row, and pandas' C parser reads them:
no Python datetime, Decimal or str object is made per value, and datetimes travel as epoch
seconds. Other databases go through the cursor.

:func:`analysis_frames` loads everything a run needs; on PostgreSQL it runs the queries at
once on their own connections (the database does the work, this process mostly waits), so
the biggest table sets the time, not the sum of them all.

Order lines are loaded as ids and numbers only and joined in pandas to the orders (customer,
time, status) and products (sku, title, category, brand); the product texts of a line are
categorical (codes into the shop's products' texts), not a copy per line.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import connection, connections
from django.db.models import F, FloatField, Func, Q, QuerySet

from customers.models import Customer, Event, Order, OrderLine, Product, Review
from shops import bounds
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
CHUNK_ROWS = 50_000


class _EpochSeconds(Func):
    """A timestamp as seconds since 1970 (PostgreSQL): a number is much cheaper to write as
    text and to parse back than a timestamp with its time zone."""

    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()


def _when(field: str):
    """The expression to select a datetime column with: epoch seconds on PostgreSQL (see _utc)."""
    return _EpochSeconds(F(field)) if connection.vendor == "postgresql" else F(field)


@dataclass(frozen=True)
class _Query:
    """One loader's query: values_list queryset, column names, pandas dtypes ("object" = text)."""

    qs: QuerySet
    columns: list[str]
    dtypes: dict[str, str]


def _csv_sql(sql: str, columns: list[str], dtypes: dict[str, str]) -> str:
    """Wrap a query so that it returns its rows as CSV text, ``CHUNK_ROWS`` lines per result row.

    Text columns are quoted CSV-style, so commas, quotes and newlines in them survive; NULL
    is an unquoted empty field.
    """
    names = [f"c{i}" for i in range(len(columns))]
    cells = []
    for name, column in zip(names, columns, strict=True):
        if dtypes.get(column) == "object":
            cells.append(
                f"""CASE WHEN {name} IS NULL THEN '' ELSE '"' || replace({name}::text, '"', '""') || '"' END"""
            )
        else:
            cells.append(f"COALESCE({name}::text, '')")
    line = " || ',' || ".join(cells)
    return (
        f"SELECT string_agg(line, E'\\n') FROM (SELECT {line} AS line, "  # noqa: S608 (no user text)
        f"(row_number() OVER ()) / {CHUNK_ROWS} AS chunk FROM ({sql}) AS t({', '.join(names)})) AS s GROUP BY chunk"
    )


def _fetch(query: _Query) -> str | list[tuple]:
    """The query's rows: CSV text on PostgreSQL, tuples elsewhere."""
    sql, params = query.qs.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_csv_sql(sql, query.columns, query.dtypes), params)
            return "\n".join(chunk for (chunk,) in cursor.fetchall())
        cursor.execute(sql, params)
        return cursor.fetchall()


def _parse(query: _Query, fetched: str | list[tuple]) -> pd.DataFrame:
    dtypes = query.dtypes
    if isinstance(fetched, str):
        if not fetched:
            return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "object")) for c in query.columns})
        # nullable integers are read as floats (NaN) and converted: much faster than "Int64" in the parser
        read = {c: ("float64" if t == "Int64" else t) for c, t in dtypes.items()}
        frame = pd.read_csv(
            io.StringIO(fetched), header=None, names=query.columns, dtype=read, keep_default_na=False, na_values=[""]
        )
        return frame.astype({c: "Int64" for c, t in dtypes.items() if t == "Int64"})
    frame = pd.DataFrame.from_records(fetched, columns=query.columns)
    return frame.astype({c: t for c, t in dtypes.items() if t != "object"}) if fetched else frame


def _frame(query: _Query) -> pd.DataFrame:
    return _parse(query, _fetch(query))


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


# --------------------------------------------------------------------------- the tables


def _in_range(field: str) -> Q:
    """Rows whose `field` the analysis can use: within shops.bounds (1970-01-01 .. tomorrow).
    Every way in refuses other times; rows stored before that, or typed into the admin, are left
    out (analysis_rows_skipped counts and names them) instead of stopping the whole analysis."""
    return Q(**{f"{field}__gte": bounds.EARLIEST, f"{field}__lte": bounds.latest()})


def analysis_rows_skipped(*, shop: Shop, examples: int = 5) -> dict[str, dict]:
    """{"orders": {"count": n, "ids": [...]}, "events": ...}: the rows the analysis left out, and why."""
    skipped = {}
    for name, queryset, field in (
        ("orders", Order.objects.for_shop(shop), "placed_at"),
        ("events", Event.objects.for_shop(shop).filter(customer__isnull=False), "at"),
    ):
        outside = queryset.exclude(_in_range(field))
        count = outside.count()
        if count:
            ids = list(outside.order_by("pk").values_list("pk", flat=True)[:examples])
            skipped[name] = {"count": count, "ids": ids}
    return skipped


def _orders_query(shop: Shop) -> _Query:
    qs = (
        Order.objects.for_shop(shop)
        .filter(_in_range("placed_at"))
        .order_by()
        .values_list("id", "customer_id", _when("placed_at"), "total", "status")
    )
    return _Query(qs, ORDER_COLUMNS, {"order_id": "int64", "customer_id": "Int64", "status": "object"})


def _orders_finish(frame: pd.DataFrame) -> pd.DataFrame:
    frame = _utc(frame, "placed_at")
    frame["total"] = frame["total"].astype(float)
    return frame


def _products_query(shop: Shop) -> _Query:
    cols = ["product_id", "sku", "title", "category", "brand"]
    qs = Product.objects.for_shop(shop).order_by().values_list("id", "sku", "title", "category", "brand")
    return _Query(qs, cols, {"product_id": "int64", **dict.fromkeys(cols[1:], "object")})


def _products_finish(frame: pd.DataFrame) -> pd.DataFrame:
    return _texts(frame, "sku", "title", "category", "brand")


def _lines_query(shop: Shop) -> _Query:
    qs = OrderLine.objects.for_shop(shop).order_by().values_list("order_id", "product_id", "quantity", "unit_price")
    cols = ["order_id", "product_id", "quantity", "unit_price"]
    return _Query(qs, cols, {"order_id": "int64", "product_id": "Int64", "quantity": "int64"})


def _lines_finish(frame: pd.DataFrame, orders: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    frame["unit_price"] = frame["unit_price"].astype(float)
    at = pd.Index(orders["order_id"]).get_indexer(frame["order_id"])
    known = at >= 0
    if not known.all():  # lines of orders the analysis left out (see _in_range) go with them
        frame, at = frame[known].reset_index(drop=True), at[known]
        known = at >= 0
    for col in ("customer_id", "placed_at", "status"):
        frame[col] = orders[col].take(np.where(known, at, 0)).reset_index(drop=True).where(known)
    frame["status"] = frame["status"].where(known, "")

    pids = frame["product_id"].to_numpy(dtype="float64", na_value=np.nan)
    at = pd.Index(products["product_id"].astype("float64")).get_indexer(pids)
    for col in ("sku", "title", "category", "brand"):
        # categorical: codes into the product's texts (no per-line copy, and cheap to group by)
        codes, texts = pd.factorize(pd.concat([products[col], pd.Series([""])], ignore_index=True))
        blank = codes[-1]
        frame[col] = pd.Categorical.from_codes(np.where(at >= 0, codes[np.maximum(at, 0)], blank), categories=texts)
    frame["customer_id"] = frame["customer_id"].astype("Int64")
    return frame[LINE_COLUMNS]


def _customers_query(shop: Shop) -> _Query:
    cols = ["customer_id", "birth_date", "gender", "occupation", "city", "country", "created_at"]
    qs = (
        Customer.objects.for_shop(shop)
        .order_by()
        .values_list("id", "birth_date", "gender", "occupation", "city", "country", _when("created_at"))
    )
    return _Query(qs, cols, {"customer_id": "int64", **dict.fromkeys(cols[1:6], "object")})


def _customers_finish(frame: pd.DataFrame) -> pd.DataFrame:
    frame = _utc(frame, "created_at")
    # a birth date pandas cannot hold (typed into the admin) is unknown, not a stop
    frame["birth_date"] = pd.to_datetime(frame["birth_date"], errors="coerce")
    return _texts(frame, "gender", "occupation", "city", "country")


def _events_query(shop: Shop) -> _Query:
    qs = (
        Event.objects.for_shop(shop)
        .filter(_in_range("at"), customer__isnull=False)
        .order_by()
        .values_list("customer_id", "kind", _when("at"), "duration_seconds")
    )
    return _Query(qs, ["customer_id", "kind", "at", "duration_seconds"], {"customer_id": "int64", "kind": "object"})


def _events_finish(frame: pd.DataFrame) -> pd.DataFrame:
    frame = _utc(frame, "at")
    frame["duration_seconds"] = frame["duration_seconds"].astype(float)
    return frame


def _reviews_query(shop: Shop) -> _Query:
    qs = Review.objects.for_shop(shop).order_by().values_list("customer_id", "product_id", "rating", "text")
    cols = ["customer_id", "product_id", "rating", "text"]
    return _Query(qs, cols, {"customer_id": "Int64", "product_id": "int64", "text": "object"})


def _reviews_finish(frame: pd.DataFrame) -> pd.DataFrame:
    return _texts(frame, "text")


def orders_frame(*, shop: Shop) -> pd.DataFrame:
    """order_id, customer_id (nullable), placed_at (UTC), total (float), status."""
    return _orders_finish(_frame(_orders_query(shop)))


def products_frame(*, shop: Shop) -> pd.DataFrame:
    """product_id, sku, title, category, brand (texts never null)."""
    return _products_finish(_frame(_products_query(shop)))


def lines_frame(
    *, shop: Shop, orders: pd.DataFrame | None = None, products: pd.DataFrame | None = None
) -> pd.DataFrame:
    """order_id, customer_id, placed_at, product_id, sku, title, category, brand, quantity, unit_price, status.

    ``orders`` and ``products`` (from :func:`orders_frame` / :func:`products_frame`) are loaded
    when not given; lines take their customer, time and status from the order and their texts
    (categorical) from the product.
    """
    orders = orders_frame(shop=shop) if orders is None else orders
    products = products_frame(shop=shop) if products is None else products
    return _lines_finish(_frame(_lines_query(shop)), orders, products)


def customers_frame(*, shop: Shop) -> pd.DataFrame:
    """customer_id, birth_date, gender, occupation, city, country, created_at."""
    return _customers_finish(_frame(_customers_query(shop)))


def events_frame(*, shop: Shop) -> pd.DataFrame:
    """customer_id, kind, at, duration_seconds (known customers only)."""
    return _events_finish(_frame(_events_query(shop)))


def reviews_frame(*, shop: Shop) -> pd.DataFrame:
    """customer_id, product_id, rating, text."""
    return _reviews_finish(_frame(_reviews_query(shop)))


def _read_on_own_connection(query: _Query) -> pd.DataFrame:
    try:
        return _frame(query)
    finally:
        connections.close_all()  # this thread's connections; the caller's are its own


LINE_PARTS = 2  # the order lines, by far the biggest table, are read as this many queries at once


def analysis_frames(*, shop: Shop) -> dict[str, pd.DataFrame]:
    """Everything run_pipeline takes, each table read once: orders, lines, customers, events, reviews.

    On PostgreSQL, outside a transaction, the queries run at once on connections of their own
    (committed data, as separate queries would see anyway), the order lines split in
    ``LINE_PARTS`` by id, and each is parsed in its thread (pandas' parser lets go of the GIL).
    Inside a transaction (tests) other connections would not see its rows, so they run one
    after the other.
    """
    queries = {
        "orders": _orders_query(shop),
        "products": _products_query(shop),
        "customers": _customers_query(shop),
        "events": _events_query(shop),
        "reviews": _reviews_query(shop),
    }
    lines = _lines_query(shop)
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        for part in range(LINE_PARTS):
            qs = lines.qs.alias(_part=F("id") % LINE_PARTS).filter(_part=part)
            queries[f"lines{part}"] = _Query(qs, lines.columns, lines.dtypes)
        with ThreadPoolExecutor(max_workers=len(queries)) as pool:
            futures = {name: pool.submit(_read_on_own_connection, q) for name, q in queries.items()}
            raw = {name: future.result() for name, future in futures.items()}
        raw["lines"] = pd.concat([raw.pop(f"lines{part}") for part in range(LINE_PARTS)], ignore_index=True)
    else:
        raw = {name: _frame(q) for name, q in {**queries, "lines": lines}.items()}
    orders = _orders_finish(raw["orders"])
    return {
        "orders": orders,
        "lines": _lines_finish(raw["lines"], orders, _products_finish(raw["products"])),
        "customers": _customers_finish(raw["customers"]),
        "events": _events_finish(raw["events"]),
        "reviews": _reviews_finish(raw["reviews"]),
    }
