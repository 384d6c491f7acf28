"""Benchmark: the whole analysis of a large generated shop and of Online Retail, on PostgreSQL.

    .venv/bin/python bench/analysis.py [--runs 3] [--database-url postgres://postgres@127.0.0.1:5432/bench_analysis]
                                       [--use-existing] [--keep-db] [--skip-online-retail] [--write docs/benchmarks.md]

Unless --use-existing, creates the scratch database (dropping it first), migrates it, generates
the shop `bench-100k` (bench/generate_shop.py: 100,000 customers, 1,000,000 orders, about 3
lines each) and imports Online Retail into the shop `online-retail` with
`manage.py import_csv --preset online-retail` (when ../shared/data has it).

Each run is `manage.py analyze`'s path (create, claim, execute one AnalysisRun) in a fresh
process, so each has its own peak memory (getrusage maxrss of that process, Django included).
Reports the wall time of the run and the run's own split per step (load, features, rfm,
clusters, clv, rules, forecast, save), medians over --runs, and the largest peak. Writes the
"## Analysis" section of docs/benchmarks.md (other sections are left alone) and drops the
database unless --keep-db. Targets: 100k / 1M under 60 s with peak memory under 2 GB on 2
cores; Online Retail under 15 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("SHARED_DATA_DIR", ROOT.parent / "shared" / "data")) / "online_retail.csv.xz"
SECTION = "## Analysis"
STEPS = ("load", "features", "rfm", "clusters", "clv", "rules", "forecast", "save")
BIG = "bench-100k"
RETAIL = "online-retail"
TARGETS = {BIG: (60.0, 2048.0), RETAIL: (15.0, None)}


def _psql(admin_url: str, sql: str) -> None:
    parts = urlsplit(admin_url)
    subprocess.run(
        ["psql", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432), "-U", parts.username or "postgres",
         "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql],
        check=True,
    )  # fmt: skip


def _manage(*args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, check=True)


def run_once(slug: str) -> dict:
    """One analysis run in this process: wall seconds, the run's step timings, peak RSS in MB."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection

    from analytics import services
    from analytics.models import RunStatus
    from shops.models import Shop
    from shops.scope import shop_scope

    shop = Shop.objects.get(slug=slug)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    with shop_scope(shop):
        db_cpu, cpu = _backend_cpu(backend), time.process_time()
        started = time.perf_counter()
        run = services.analysis_run_create(shop=shop, trigger="command")
        run = services.analysis_run_claim(run_id=run.pk)
        run = services.analysis_run_execute(run=run)
        wall = time.perf_counter() - started
        cpu, db_cpu = time.process_time() - cpu, _backend_cpu(backend) - db_cpu
    if run.status != RunStatus.DONE:
        raise SystemExit(f"the run failed: {run.error}")
    summary = run.summary
    return {
        "slug": slug,
        "wall": wall,
        "cpu": cpu,
        "db_cpu": db_cpu,
        "timings": run.timings,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "customers": summary.get("customers"),
        "k": summary.get("clusters", {}).get("k"),
        "rules": summary.get("rules", {}).get("count"),
        "forecast_model": summary.get("forecast", {}).get("model"),
        "clv_ok": summary.get("clv", {}).get("ok"),
    }


def _backend_cpu(pid: int) -> float:
    """CPU seconds used so far by a process of this machine (the run's PostgreSQL backend)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _child(slug: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--once", slug], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _prepare(database_url: str) -> dict:
    db_name = urlsplit(database_url).path.lstrip("/")
    _psql(database_url, f"DROP DATABASE IF EXISTS {db_name}")
    _psql(database_url, f"CREATE DATABASE {db_name}")
    _manage("migrate", "--noinput", "-v", "0")
    setup: dict = {}
    started = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "bench" / "generate_shop.py"), "--slug", BIG], cwd=ROOT, check=True)
    setup["generate_seconds"] = time.perf_counter() - started
    if DATA.is_file():
        _manage("create_shop", "--slug", RETAIL, "--name", "Online Retail", "--timezone", "Europe/London",
                "--currency", "GBP", "--owner", "bench@example.org", "--password", "bench-only-password")  # fmt: skip
        started = time.perf_counter()
        _manage("import_csv", "--shop", RETAIL, "--preset", "online-retail", "--json", str(DATA))
        setup["import_seconds"] = time.perf_counter() - started
    return setup


def _report(results: dict[str, list[dict]], runs: int, load: tuple[float, float]) -> str:
    today = dt.date.today().isoformat()
    lines = [
        SECTION,
        "",
        f"`bench/analysis.py`, {today}: the whole analysis (`manage.py analyze`'s path: load the shop's frames, "
        "compute every step, store the run) in a fresh process per run, on PostgreSQL "
        f"({platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, shared and noisy: "
        f"load average {load[0]:.1f} before, {load[1]:.1f} after). Medians of {runs} runs; peak memory is the "
        "largest maxrss of the run's process (Django and the libraries included).",
        "",
    ]
    header = "| Shop | wall s | " + " | ".join(STEPS) + " | peak MB | target |"
    lines += [header, "|" + " --- |" * (len(STEPS) + 4)]
    for slug, rows in results.items():
        wall = statistics.median(r["wall"] for r in rows)
        steps = [statistics.median(r["timings"].get(s, 0.0) for r in rows) for s in STEPS]
        peak = max(r["peak_mb"] for r in rows)
        limit_s, limit_mb = TARGETS.get(slug, (None, None))
        target = f"< {limit_s:.0f} s" + (f", < {limit_mb / 1024:.0f} GB" if limit_mb else "") if limit_s else ""
        ok = (limit_s is None or wall < limit_s) and (limit_mb is None or peak < limit_mb)
        lines.append(
            f"| {slug} ({rows[0]['customers']:,} customers) | {wall:.1f} | "
            + " | ".join(f"{s:.1f}" for s in steps)
            + f" | {peak:,.0f} | {target} {'met' if ok else 'MISSED'} |"
        )
    lines.append("")
    for slug, rows in results.items():
        r = rows[0]
        walls = ", ".join(f"{x['wall']:.1f}" for x in rows)
        lines.append(
            f"- {slug}: runs {walls} s; k = {r['k']}, rules {r['rules']}, daily revenue model {r['forecast_model']}, "
            f"CLV fitted: {r['clv_ok']}."
        )
    return "\n".join(lines) + "\n"


def _write_section(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_analysis")
    parser.add_argument("--use-existing", action="store_true", help="The database already holds the shops.")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--skip-online-retail", action="store_true")
    parser.add_argument("--only-shop", help="Benchmark this shop slug only.")
    parser.add_argument("--write", default=str(ROOT / "docs" / "benchmarks.md"), help="'' to only print")
    parser.add_argument("--once", metavar="SLUG", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.once:
        print(json.dumps(run_once(args.once)))
        return
    db_name = urlsplit(args.database_url).path.lstrip("/")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", db_name):
        sys.exit("use a plain database name")
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["ANALYTICS_AUTORUN"] = "false"  # the import must not start a run of its own
    load_before = os.getloadavg()[0]
    try:
        if not args.use_existing:
            print(json.dumps(_prepare(args.database_url)), file=sys.stderr)
        slugs = [args.only_shop] if args.only_shop else [BIG] + ([] if args.skip_online_retail else [RETAIL])
        results: dict[str, list[dict]] = {}
        for slug in slugs:
            for _ in range(args.runs):
                row = _child(slug)
                print(json.dumps(row), file=sys.stderr)
                results.setdefault(slug, []).append(row)
    finally:
        if not args.keep_db and not args.use_existing:
            _psql(args.database_url, f"DROP DATABASE IF EXISTS {db_name}")
    report = _report(results, args.runs, (load_before, os.getloadavg()[0]))
    print(report)
    if args.write:
        _write_section(Path(args.write), report)


if __name__ == "__main__":
    main()
