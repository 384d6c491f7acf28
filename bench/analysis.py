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

from bench.report import write_section  # noqa: E402 (after the path)

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
    load_avg = os.getloadavg()[0]
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
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0].split()[0]
    return {
        "slug": slug,
        "postgres": postgres,
        "load_avg": load_avg,
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


NOTES = """What the time goes to, and what was done about it (profiled with py-spy on this data):

- load: one query per table, the rows formatted as CSV text by PostgreSQL in chunks of
  50,000 lines (`string_agg`) and parsed by pandas in C, the six queries at once on their own
  connections; timestamps travel as epoch seconds; order lines are joined to orders and
  products in pandas, their texts categorical. (Row-per-message COPY cost 3.7 s of Python for
  the 3 million lines alone.)
- features: vectorised pandas; 3 million lines are filtered once, on the columns used.
- clusters: one thread for BLAS/OpenMP (threads spinning on a shared 2-core machine made
  k-means 5-20x slower); k is chosen on a 10,000-customer sample and the chosen k is fitted
  on everyone; every silhouette (for the 9 values of k, and the reported one) on one
  4,000-customer sample whose distances are computed once; scikit-learn's working memory
  capped at 128 MB (its 1 GB default chunks were the memory peak).
- clv: BG/NBD and Gamma-Gamma by BFGS with analytic gradients, the likelihood per distinct
  (x, t_x, T) and per distinct value of each (the gamma functions of 100,000 customers take
  hundreds of distinct x); the mean log-likelihood per customer, so the tolerances do not
  depend on the shop's size (on the sum, Gamma-Gamma never met its tolerance and ran for
  eight minutes to report "did not converge"). The published CDNOW values are unchanged.
- rules: Borgelt's compiled FP-growth (pyfim) asked for the rules with their counts, the
  measures computed from the counts in numpy; no length limit and the default support of 1%
  (ADR 0008; "Association rules" below compares the mining with pyfim and mlxtend); category
  baskets are categorical and grouped per segment once.
- forecast: the series are summed per day once; SARIMA with the variance concentrated out and
  each backtest fold starting from the previous fold's fit; segment series try ETS only.
- save: scores and memberships built column by column and written with COPY (CSV written by
  pandas, sent by a queued writer while the next chunk is formatted); the commit, which checks
  the deferred foreign keys of 300,000 rows, does not wait for the disk (a run can be redone).
"""


def _report(results: dict[str, list[dict]], runs: int, setup: dict) -> str:
    today = dt.date.today().isoformat()
    first = next(iter(results.values()))[0]
    lines = [
        SECTION,
        "",
        f"`bench/analysis.py`, {today}: the whole analysis as `manage.py analyze` runs it (load the shop's "
        "frames, compute every step, store the run, make it current) in a fresh process per run, on "
        f"PostgreSQL {first.get('postgres', '?')}, {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores. The machine is shared with other work (load average at the start of each run "
        "is listed): wall time is noisy, CPU time (this process, and the PostgreSQL backend) much less so. "
        f"Medians of {runs} runs; peak memory is the largest maxrss of a run's process, Django and the "
        "libraries included.",
        "",
    ]
    if setup:
        parts = ", ".join(f"{k.removesuffix('_seconds').replace('_', ' ')} {v:.1f} s" for k, v in setup.items())
        lines += [f"Set-up (not timed in the table): {parts}.", ""]
    header = "| Shop | wall s | CPU s (app + db) | " + " | ".join(STEPS) + " | peak MB | target |"
    lines += [header, "|" + " --- |" * (len(STEPS) + 5)]
    for slug, rows in results.items():
        wall = statistics.median(r["wall"] for r in rows)
        cpu = statistics.median(r["cpu"] for r in rows)
        db_cpu = statistics.median(r["db_cpu"] for r in rows)
        steps = [statistics.median(r["timings"].get(s, 0.0) for r in rows) for s in STEPS]
        peak = max(r["peak_mb"] for r in rows)
        limit_s, limit_mb = TARGETS.get(slug, (None, None))
        target = f"< {limit_s:.0f} s" + (f", < {limit_mb / 1024:.0f} GB" if limit_mb else "") if limit_s else ""
        ok = (limit_s is None or wall < limit_s) and (limit_mb is None or peak < limit_mb)
        lines.append(
            f"| {slug} ({rows[0]['customers']:,} customers) | {wall:.1f} | {cpu:.1f} + {db_cpu:.1f} | "
            + " | ".join(f"{s:.1f}" for s in steps)
            + f" | {peak:,.0f} | {target} {'met' if ok else 'MISSED'} |"
        )
    lines.append("")
    for slug, rows in results.items():
        r = rows[0]
        each = ", ".join(f"{x['wall']:.1f} s (load {x['load_avg']:.1f})" for x in rows)
        lines.append(
            f"- {slug}: {each}; k = {r['k']}, rules {r['rules']}, daily revenue model {r['forecast_model']}, "
            f"CLV fitted: {r['clv_ok']}."
        )
    lines += ["", NOTES]
    return "\n".join(lines) + "\n"


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
    setup: dict = {}
    try:
        if not args.use_existing:
            setup = _prepare(args.database_url)
            print(json.dumps(setup), file=sys.stderr)
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
    report = _report(results, args.runs, {k: round(v, 1) for k, v in setup.items()})
    print(report)
    if args.write:
        write_section(Path(args.write), SECTION, report)


if __name__ == "__main__":
    main()
