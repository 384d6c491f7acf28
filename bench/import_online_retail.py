"""Benchmark: import the whole Online Retail file on PostgreSQL, against a raw COPY of the same rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_import .venv/bin/python bench/import_online_retail.py

Per repetition (3 by default, --repetitions N), in the same run and on the same database:
  raw COPY      the file's 541,909 rows (decompressed beforehand) COPYed as 8 text columns
                into a scratch table, committed: the target's yardstick, measured twice, into
                an UNLOGGED table (no write-ahead log: the strictest peer) and into an
                ordinary (logged) table, as every table of the app is;
  import        `manage.py import_csv --preset online-retail` in a fresh process, into a
                scratch shop: wall time and peak RSS (os.wait4); the report's own timings;
  re-import     the same command again (nothing changes);
  lines floor   the imported 536,641 order lines inserted once more into customers_orderline
                (its primary key and three indexes: order, product, shop + product;
                no database foreign keys, see OrderLine)
                and committed, with no app work at all: what the schema alone costs.
The scratch shop and its rows are removed afterwards. Medians go to docs/benchmarks.md,
section "## CSV import" (only that section is replaced). Needs migrations applied.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import lzma
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SHARED_DATA_DIR", ROOT.parent / "shared" / "data")) / "online_retail.csv.xz"
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## CSV import"

sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402 (after the path)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def _run_command(slug: str) -> tuple[float, float, dict]:
    """(wall seconds, peak RSS in MB, JSON report) of one import_csv run in a fresh process."""
    command = [
        sys.executable,
        str(ROOT / "manage.py"),
        "import_csv",
        "--shop",
        slug,
        "--preset",
        "online-retail",
        "--json",
        str(DATA),
    ]
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=errors)
        stdout = process.stdout.read()
        # wait4, not wait(): it gives this child's own peak RSS.
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"import_csv failed ({process.returncode}):\n{errors.read().decode()[-3000:]}")
    return wall, usage.ru_maxrss / 1024, json.loads(stdout)


def _raw_copy(connection, data: bytes, *, logged: bool) -> float:
    table = f"bench_copy_{uuid.uuid4().hex[:8]}"
    kind = "TABLE" if logged else "UNLOGGED TABLE"
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE {kind} {table} (invoice_no text, stock_code text, description text, quantity text, "
            "invoice_date text, unit_price text, customer_id text, country text)"
        )
    connection.commit()
    try:
        started = time.perf_counter()
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
        ):
            copy.write(data)
        connection.commit()
        return time.perf_counter() - started
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {table}")
        connection.commit()


def _lines_floor(connection, shop_id: int) -> float:
    """Insert the shop's order lines a second time into the real table, commit, then remove the copies."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM customers_orderline")
        last_id = cursor.fetchone()[0]
    connection.commit()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO customers_orderline (shop_id, order_id, product_id, quantity, unit_price) "
            "SELECT shop_id, order_id, product_id, quantity, unit_price FROM customers_orderline "
            "WHERE shop_id = %s ORDER BY id",
            [shop_id],
        )
    connection.commit()
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM customers_orderline WHERE shop_id = %s AND id > %s", [shop_id, last_id])
    connection.commit()
    return elapsed


def _remove_shop(connection, shop_id: int) -> None:
    """Delete the scratch shop: its big tables with plain SQL, the rest (analysis runs started by
    the import's data_changed signal, ...) through the ORM's cascade."""
    from django.db import DatabaseError, transaction

    from shops.models import Shop
    from shops.scope import unscoped_access

    with connection.cursor() as cursor:
        for table in (
            "customers_orderline",
            "customers_order",
            "customers_customeridentity",
            "customers_productidentity",
            "customers_customer",
            "customers_product",
        ):
            cursor.execute(f"DELETE FROM {table} WHERE shop_id = %s", [shop_id])  # noqa: S608
    connection.commit()
    try:
        with unscoped_access(), transaction.atomic():
            Shop.objects.filter(pk=shop_id).delete()
    except DatabaseError as exc:  # another app's table is not migrated yet: leave the emptied shop
        print(f"note: scratch shop {shop_id} left in place ({exc.__class__.__name__})", flush=True)


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        match = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu = match.group(1).strip() if match else cpu
    except OSError:
        pass
    memory = ""
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        memory = f", {kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, AttributeError):
        pass
    load = f", load average at start {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return f"{os.cpu_count()} CPUs ({cpu}){memory}{load}; Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="Print the results, leave docs/benchmarks.md alone.")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database (the benchmark compares with COPY).")
    if not DATA.exists():
        raise SystemExit(f"{DATA} not found (the shared data sets sit beside the checkout).")

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from shops.models import Shop

    call_command("migrate", verbosity=0, interactive=False)
    with lzma.open(DATA) as compressed:
        data = compressed.read()
    machine = _machine()
    connection.ensure_connection()
    raw = connection.connection  # the psycopg connection, outside Django's transaction handling
    with raw.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    raw.commit()

    results: dict[str, list[float]] = {
        k: [] for k in ("copy", "copy_logged", "import", "in_process", "rss", "reimport", "floor")
    }
    timings: list[dict] = []
    report: dict = {}
    for repetition in range(args.repetitions):
        results["copy"].append(_raw_copy(raw, data, logged=False))
        results["copy_logged"].append(_raw_copy(raw, data, logged=True))
        slug = f"bench-{uuid.uuid4().hex[:10]}"
        shop = Shop.objects.create(name="Benchmark", slug=slug, timezone="Europe/London", currency="GBP")
        try:
            wall, rss, report = _run_command(slug)
            results["import"].append(wall)
            results["rss"].append(rss)
            results["in_process"].append(report["seconds"])
            timings.append(report["timings"])
            wall_again, _rss, again = _run_command(slug)
            assert again["changes"]["orders"]["created"] == 0 and again["lines_written"] == 0
            results["reimport"].append(wall_again)
            results["floor"].append(_lines_floor(raw, shop.pk))
            print(
                f"run {repetition + 1}: copy {results['copy'][-1]:.2f}s (logged {results['copy_logged'][-1]:.2f}s) "
                f"import {wall:.2f}s (in process {report['seconds']:.2f}s, rss {rss:.0f} MB) "
                f"re-import {wall_again:.2f}s lines floor {results['floor'][-1]:.2f}s timings {report['timings']}",
                flush=True,
            )
        finally:
            _remove_shop(raw, shop.pk)

    median = {k: statistics.median(v) for k, v in results.items()}
    stage = {k: statistics.median(t[k] for t in timings) for k in timings[0]}
    ratio = median["import"] / median["copy"]
    logged_ratio = median["import"] / median["copy_logged"]
    in_process_ratio = median["in_process"] / median["copy"]
    floor_ratio = median["floor"] / median["copy"]
    today = dt.date.today().isoformat()
    text = f"""{SECTION}

`bench/import_online_retail.py`, {today}, PostgreSQL {pg_version}; {machine}.
The whole Online Retail file (541,909 lines, `.csv.xz`) through `manage.py import_csv --preset online-retail`,
each run in a fresh process into an empty scratch shop; medians of {args.repetitions} runs.

| measure | median |
|---|---|
| raw COPY of the 541,909 rows (8 text columns, unlogged table) | {median["copy"]:.2f} s |
| raw COPY of the same rows into an ordinary (logged) table | {median["copy_logged"]:.2f} s |
| import (command wall time: start-up, unpack, parse, clean, write, commit) | {median["import"]:.2f} s |
| — of which the import itself, as its report times it (Django and library start-up excluded) | \
{median["in_process"]:.2f} s |
| — of which read + unpack / clean / write incl. commit (report timings) | \
{stage["read"]:.2f} / {stage["clean"]:.2f} / {stage["write"]:.2f} s |
| peak memory of the import process (RSS) | {median["rss"]:.0f} MB |
| re-import of the same file (nothing changes) | {median["reimport"]:.2f} s |
| lines floor: the 536,641 lines inserted into `customers_orderline` with no app work | {median["floor"]:.2f} s |
| **import / raw COPY (unlogged)** | **{ratio:.1f}x** (target 8x) |
| import / raw COPY (logged) | {logged_ratio:.1f}x |
| import without start-up / raw COPY (unlogged) | {in_process_ratio:.1f}x |
| lines floor / raw COPY | {floor_ratio:.1f}x |

Report of the last run: {report["orders"]:,} orders ({report["returned_orders"]:,} returns), {report["customers"]:,}
customers, {report["products"]:,} products, {report["order_lines"]:,} lines, {report["duplicates_dropped"]:,}
duplicates dropped, net revenue {report["net_revenue"]}.

The lines floor is what the order-line table costs by itself (its primary key and three indexes); the import
cannot be faster than it. The table has no database foreign keys: checked row by row at commit, the order
and product keys cost about 1.8 s each here (docs/adr/0003-csv-import.md).
"""
    print(text)
    if not args.no_write:
        write_section(DOC, SECTION, text)
        print(f"written to {DOC}")


if __name__ == "__main__":
    main()
