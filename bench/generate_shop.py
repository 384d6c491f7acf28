"""Generate a large, deterministic shop straight into PostgreSQL (for bench/analysis.py).

    DATABASE_URL=postgres://... .venv/bin/python bench/generate_shop.py [--slug bench-100k]
        [--customers 100000] [--orders 1000000] [--seed 1] [--as-of 2026-01-01]

Writes customers, products, orders (about 3 lines each), browsing events and reviews of one
shop with PostgreSQL COPY: ids are reserved from each table's sequence, the rows are built as
numpy columns and streamed as tab-separated text, so 100,000 customers and 1,000,000 orders
take well under a minute. The same seed and arguments give the same rows.

The data has the structure the analysis looks for: customers differ in purchase rate,
lifetime (some stop buying), basket size and favourite category; orders follow a weekly and
a yearly rhythm; some products are bought in pairs (bundles); a few wholesale customers buy
in bulk; 5% of orders are guest orders; some orders are cancelled, returned or pending.

Refuses any database other than PostgreSQL, and a shop slug that already exists (deleting a
million orders through the ORM takes longer than generating them: use a fresh database).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

N_PRODUCTS = 2000
N_CATEGORIES = 20
N_BRANDS = 60
DAYS = 730
GUEST_SHARE = 0.05
STATUS_P = {"paid": 0.93, "cancelled": 0.03, "returned": 0.02, "pending": 0.02}
COUNTRIES = np.array(["United Kingdom", "Germany", "France", "Netherlands", "Spain", "Ireland", "Italy", "Sweden"])
COUNTRY_P = np.array([0.55, 0.1, 0.1, 0.06, 0.06, 0.05, 0.05, 0.03])
CITIES = np.array(["London", "Manchester", "Berlin", "Paris", "Amsterdam", "Madrid", "Dublin", "Rome", "Leeds", "Lyon"])
OCCUPATIONS = np.array(["", "engineer", "teacher", "nurse", "student", "designer", "retired", "manager", "chef"])
GENDERS = np.array(["", "female", "male", "other"])
REVIEW_TEXTS = np.array(["Great quality, love it", "Good value", "Arrived late and damaged", "Nice", "Terrible", ""])


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


class Copier:
    """COPY rows of one model from numpy / pandas columns, filling unset fields with their defaults."""

    def __init__(self, connection):
        self.connection = connection
        self.now = dt.datetime.now(dt.UTC)

    def reserve_ids(self, model, n: int) -> np.ndarray:
        table = model._meta.db_table
        with self.connection.cursor() as cur:
            cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            seq = cur.fetchone()[0]
            cur.execute("SELECT nextval(%s)", [seq])
            first = cur.fetchone()[0]
            cur.execute("SELECT setval(%s, %s)", [seq, first + n - 1])
        return np.arange(first, first + n, dtype=np.int64)

    def _default_text(self, field) -> str:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            return self.now.isoformat()
        value = field.get_default()
        if value is None:
            return "\\N"
        if field.get_internal_type() == "JSONField":
            return json.dumps(value)
        if isinstance(value, bool):
            return "t" if value else "f"
        return str(value)

    def copy(self, model, columns: dict[str, object]) -> int:
        frame = pd.DataFrame(columns)
        # the primary key is left to the database unless given
        concrete = [
            f
            for f in model._meta.concrete_fields
            if not (f.primary_key and f.attname not in frame.columns) and not f.generated
        ]
        for field in concrete:
            if field.attname not in frame.columns:
                frame[field.attname] = self._default_text(field)
        fields = {f.attname: f.column for f in concrete}
        frame = frame[list(fields)]
        for name in frame.columns:
            if frame[name].dtype == bool:
                frame[name] = np.where(frame[name], "t", "f")
        quote = self.connection.ops.quote_name
        sql = f"COPY {quote(model._meta.db_table)} ({', '.join(quote(c) for c in fields.values())}) FROM STDIN"
        chunk = 250_000
        started = time.perf_counter()
        with self.connection.cursor() as cur, cur.copy(sql) as copy:
            for start in range(0, len(frame), chunk):
                buf = io.StringIO()
                frame.iloc[start : start + chunk].to_csv(
                    buf, sep="\t", header=False, index=False, na_rep="\\N", date_format="%Y-%m-%d %H:%M:%S%z"
                )
                copy.write(buf.getvalue())
        print(
            f"  {model._meta.db_table}: {len(frame):,} rows in {time.perf_counter() - started:.1f} s", file=sys.stderr
        )
        return len(frame)


def _weights(rng: np.random.Generator, n: int, a: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** a
    w = w[rng.permutation(n)]
    return w / w.sum()


def generate(*, shop, customers: int, orders: int, seed: int, as_of: dt.date) -> dict:
    """Write the shop's rows; returns counts. Deterministic for the same arguments."""
    from django.db import connection, transaction

    from customers.models import Customer, Event, Order, OrderLine, Product, Review

    rng = np.random.default_rng(seed)
    copier = Copier(connection)
    end = dt.datetime.combine(as_of, dt.time(), tzinfo=dt.UTC)
    start = end - dt.timedelta(days=DAYS)
    counts: dict[str, int] = {}

    with transaction.atomic():
        # The rows are consistent by construction: skip the per-row foreign-key triggers, which
        # cost more than the COPY itself (needs a superuser, as on a bench machine).
        with connection.cursor() as cur:
            cur.execute("SET LOCAL session_replication_role = replica")
        # --- products: categories, brands, prices; popularity is heavy-tailed -------------
        product_ids = copier.reserve_ids(Product, N_PRODUCTS)
        category = rng.integers(0, N_CATEGORIES, N_PRODUCTS)
        price_cents = np.round(np.exp(rng.normal(2.6, 0.7, N_PRODUCTS)) * 100).astype(np.int64) + 99
        counts["products"] = copier.copy(
            Product,
            {
                "id": product_ids,
                "shop_id": shop.pk,
                "source": "api",
                "external_id": [f"BP{i:05d}" for i in range(N_PRODUCTS)],
                "sku": [f"SKU-{i:05d}" for i in range(N_PRODUCTS)],
                "title": [f"Product {i} ({c})" for i, c in enumerate(category)],
                "category": [f"Category {c:02d}" for c in category],
                "brand": [f"Brand {b:02d}" for b in rng.integers(0, N_BRANDS, N_PRODUCTS)],
                "price": price_cents / 100,
            },
        )
        popularity = _weights(rng, N_PRODUCTS, 0.9)
        by_category = [np.flatnonzero(category == c) for c in range(N_CATEGORIES)]
        cat_cdfs = [np.cumsum(popularity[idx] / popularity[idx].sum()) for idx in by_category]
        bundle_partner = rng.permutation(N_PRODUCTS)  # product i is often bought with bundle_partner[i]

        # --- customers: signup day, purchase rate, lifetime, favourite category ------------
        customer_ids = copier.reserve_ids(Customer, customers)
        signup_day = np.minimum((rng.beta(1.2, 1.6, customers) * DAYS).astype(int), DAYS - 1)
        rate = rng.gamma(0.8, 1.0, customers)
        wholesale = rng.random(customers) < 0.003
        rate[wholesale] *= 4
        lifetime = rng.exponential(DAYS * 0.6, customers)  # active days after signup, then gone
        last_day = np.minimum(signup_day + lifetime, DAYS - 1).astype(int)
        favourite = rng.integers(0, N_CATEGORIES, customers)
        preferred_hour = rng.choice(np.arange(7, 23), customers)
        birth = pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 365 * 55, customers), unit="D")
        counts["customers"] = copier.copy(
            Customer,
            {
                "id": customer_ids,
                "shop_id": shop.pk,
                "source": "api",
                "external_id": [f"BC{i:07d}" for i in range(customers)],
                "email": [f"customer{i}@bench.example" for i in range(customers)],
                "first_name": "Bench",
                "last_name": [f"Customer{i}" for i in range(customers)],
                "birth_date": np.where(rng.random(customers) < 0.7, birth.strftime("%Y-%m-%d"), None),
                "gender": rng.choice(GENDERS, customers, p=[0.2, 0.4, 0.37, 0.03]),
                "occupation": rng.choice(OCCUPATIONS, customers),
                "city": rng.choice(CITIES, customers),
                "country": rng.choice(COUNTRIES, customers, p=COUNTRY_P),
                "email_consent": rng.random(customers) < 0.6,
                "created_at": (start + pd.to_timedelta(signup_day, unit="D")).strftime("%Y-%m-%d %H:%M:%S+00:00"),
            },
        )

        # --- orders: customers by rate x active span; days by weekly and yearly rhythm ---
        n_guest = int(orders * GUEST_SHARE)
        n_known = orders - n_guest
        span = (last_day - signup_day + 1).astype(float)
        weight = rate * span
        owner = rng.choice(customers, n_known, p=weight / weight.sum())
        owner.sort(kind="stable")
        # every customer with orders buys on their signup day first
        first_of = np.r_[True, owner[1:] != owner[:-1]]
        day = signup_day[owner] + (rng.random(n_known) * span[owner]).astype(int)
        day[first_of] = signup_day[owner[first_of]]
        # weekly / yearly rhythm by thinning: move a share of weekend and summer orders a few days on
        dow = (start + pd.to_timedelta(day, unit="D")).dayofweek.to_numpy()
        shift = (dow >= 5) & (rng.random(n_known) < 0.35)
        day = np.minimum(day + shift * 2, DAYS - 1)
        guest_day = np.sort(rng.integers(0, DAYS, n_guest))
        all_day = np.r_[day, guest_day]
        all_owner = np.r_[owner, np.full(n_guest, -1)]
        hour = np.where(all_owner >= 0, preferred_hour[np.maximum(all_owner, 0)], rng.integers(7, 23, orders))
        hour = np.where(rng.random(orders) < 0.3, rng.integers(0, 24, orders), hour)
        second = hour * 3600 + rng.integers(0, 3600, orders)
        placed = start + pd.to_timedelta(all_day, unit="D") + pd.to_timedelta(second, unit="s")
        status = rng.choice(list(STATUS_P), orders, p=list(STATUS_P.values()))

        # --- lines: 1 + Poisson(2) per order (wholesale more); favourite category first, bundles --
        is_wholesale = (all_owner >= 0) & wholesale[np.maximum(all_owner, 0)]
        n_lines = 1 + rng.poisson(np.where(is_wholesale, 6.0, 2.0))
        order_of_line = np.repeat(np.arange(orders), n_lines)
        n_all = len(order_of_line)
        line_owner = all_owner[order_of_line]
        fav = np.where(line_owner >= 0, favourite[np.maximum(line_owner, 0)], rng.integers(0, N_CATEGORIES, n_all))
        use_fav = rng.random(n_all) < 0.55
        product = rng.choice(N_PRODUCTS, n_all, p=popularity)
        u = rng.random(n_all)
        for c in range(N_CATEGORIES):
            pick = use_fav & (fav == c)
            product[pick] = by_category[c][np.minimum(np.searchsorted(cat_cdfs[c], u[pick]), len(by_category[c]) - 1)]
        # the line after a line is its bundle partner for a third of the lines
        position = np.arange(n_all) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines)
        bundled = (position > 0) & (rng.random(n_all) < 0.35)
        prev = np.r_[0, product[:-1]]
        product = np.where(bundled, bundle_partner[prev], product)
        # one product once per order
        key = order_of_line.astype(np.int64) * N_PRODUCTS + product
        _, keep = np.unique(key, return_index=True)
        keep.sort()
        order_of_line, product = order_of_line[keep], product[keep]
        quantity = np.where(
            is_wholesale[order_of_line], rng.integers(20, 200, len(keep)), 1 + rng.poisson(0.4, len(keep))
        )
        unit_cents = price_cents[product]
        total_cents = np.bincount(order_of_line, weights=quantity * unit_cents, minlength=orders).astype(np.int64)

        order_ids = copier.reserve_ids(Order, orders)
        counts["orders"] = copier.copy(
            Order,
            {
                "id": order_ids,
                "shop_id": shop.pk,
                "source": "api",
                "external_id": [f"BO{i:08d}" for i in range(orders)],
                "customer_id": pd.Series(customer_ids[np.maximum(all_owner, 0)]).astype("Int64").mask(all_owner < 0),
                "placed_at": placed.strftime("%Y-%m-%d %H:%M:%S+00:00"),
                "currency": "GBP",
                "total": total_cents / 100,
                "status": status,
            },
        )
        line_ids = copier.reserve_ids(OrderLine, len(keep))
        counts["lines"] = copier.copy(
            OrderLine,
            {
                "id": line_ids,
                "shop_id": shop.pk,
                "order_id": order_ids[order_of_line],
                "product_id": product_ids[product],
                "quantity": quantity,
                "unit_price": unit_cents / 100,
            },
        )

        # --- browsing events of known customers, and reviews -----------------------------
        n_events = customers * 3
        ev_owner = rng.choice(customers, n_events, p=rate / rate.sum())
        ev_day = np.minimum(
            signup_day[ev_owner] + rng.integers(0, DAYS, n_events) % (span[ev_owner].astype(int)), DAYS - 1
        )
        ev_kind = rng.choice(np.array(["page_view", "search", "add_to_cart"]), n_events, p=[0.75, 0.15, 0.1])
        counts["events"] = copier.copy(
            Event,
            {
                "shop_id": shop.pk,
                "customer_id": customer_ids[ev_owner],
                "kind": ev_kind,
                "at": (
                    start
                    + pd.to_timedelta(ev_day, unit="D")
                    + pd.to_timedelta(rng.integers(0, 86400, n_events), unit="s")
                ).strftime("%Y-%m-%d %H:%M:%S+00:00"),
                "duration_seconds": np.where(ev_kind == "page_view", rng.integers(5, 300, n_events), 0),
                "properties": "{}",
            },
        )
        n_reviews = customers // 5
        rv_line = rng.choice(np.flatnonzero(all_owner[order_of_line] >= 0), n_reviews, replace=False)
        rv_rating = rng.choice(np.arange(1, 6), n_reviews, p=[0.05, 0.05, 0.15, 0.35, 0.4])
        counts["reviews"] = copier.copy(
            Review,
            {
                "shop_id": shop.pk,
                "customer_id": customer_ids[all_owner[order_of_line[rv_line]]],
                "product_id": product_ids[product[rv_line]],
                "rating": rv_rating,
                "text": rng.choice(REVIEW_TEXTS, n_reviews),
                "created_at": (placed[order_of_line[rv_line]] + pd.Timedelta(days=5)).strftime(
                    "%Y-%m-%d %H:%M:%S+00:00"
                ),
            },
        )
    with connection.cursor() as cur:
        for model in (Customer, Product, Order, OrderLine, Event, Review):
            cur.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slug", default="bench-100k")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", default="2026-01-01", type=dt.date.fromisoformat)
    args = parser.parse_args(argv)
    _setup_django()
    from django.db import connection

    from shops.models import Shop

    if connection.vendor != "postgresql":
        parser.error("bench/generate_shop.py writes with PostgreSQL COPY; set DATABASE_URL=postgres://...")
    if Shop.objects.filter(slug=args.slug).exists():
        parser.error(f"shop {args.slug!r} exists; generate into a new slug or a fresh database")
    shop = Shop.objects.create(name=f"Bench {args.slug}", slug=args.slug, timezone="UTC", currency="GBP")
    started = time.perf_counter()
    counts = generate(shop=shop, customers=args.customers, orders=args.orders, seed=args.seed, as_of=args.as_of)
    counts["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps({"shop": args.slug, **counts}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
