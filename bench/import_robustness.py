"""Benchmark: the CSV reader on hostile files of 2, 10 and 50 MB (issue 14, point 3).

    .venv/bin/python bench/import_robustness.py [--sizes 2,10,50]

Per size, three generated files go through readers.read_csv_file (unpack, decode, split), the
path every import and preview takes before cleaning:
  uneven rows   a 4-column header and rows of 2 to 7 numeric fields (half the rows too long):
                the case that was quadratic with pandas' on_bad_lines="warn";
  random text   printable ASCII with commas, quotes and newlines at random;
  random bytes  bytes 0-255 at random (no encoding reads them with confidence: refused).
For uneven rows it also times the former reading (pandas on_bad_lines="warn" with its warnings
collected) up to 10 MB, for comparison. Times (one run each) go to docs/benchmarks.md, section
"## Import robustness" (only that section is replaced). No database needed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import platform
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Import robustness"
LIMIT_SECONDS = 30.0
OLD_WAY_MAX_MB = 10

sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from bench.report import write_section  # noqa: E402 (after the path)


def uneven_rows(size: int, rng: random.Random) -> bytes:
    # the first data row fits: with one field too many pandas would take it as an index column
    lines, total = ["a,b,c,d", "1,2,3,4"], 0
    while total < size:
        line = ",".join(str(rng.randrange(100_000)) for _ in range(rng.randint(2, 7)))
        lines.append(line)
        total += len(line) + 1
    return ("\n".join(lines) + "\n").encode()


def random_text(size: int, rng: random.Random) -> bytes:
    alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789 ,,,,;""\n\n'
    return "".join(rng.choices(alphabet, k=size)).encode()


def random_bytes(size: int, rng: random.Random) -> bytes:
    return rng.randbytes(size)


def _timed_read(path: Path) -> tuple[float, str]:
    from customers.importers import readers

    started = time.monotonic()
    try:
        table = readers.read_csv_file(path)
        outcome = f"read: {len(table.frame):,} rows, {len(table.bad_lines):,} too long"
    except readers.FileRejected as exc:
        outcome = "refused: " + (exc.message if len(exc.message) <= 60 else exc.message[:60].rstrip() + "…")
    return time.monotonic() - started, outcome


def _old_way(data: bytes) -> float:
    import pandas as pd

    started = time.monotonic()
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        pd.read_csv(io.BytesIO(data), dtype=str, na_filter=False, skip_blank_lines=False, on_bad_lines="warn")
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="2,10,50", help="File sizes in MB, comma separated.")
    args = parser.parse_args()
    import django

    django.setup()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in (("uneven rows", uneven_rows), ("random text", random_text), ("random bytes", random_bytes)):
            for mb in sizes:
                data = make(mb * 1_000_000, random.Random(mb))
                path = Path(tmp) / "file.csv"
                path.write_bytes(data)
                seconds, outcome = _timed_read(path)
                old = f"{_old_way(data):.2f} s" if name == "uneven rows" and mb <= OLD_WAY_MAX_MB else "—"
                rows.append((name, mb, seconds, old, outcome))
                print(f"{name:13} {mb:3} MB  {seconds:6.2f} s  (before: {old})  {outcome}", flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        SECTION,
        "",
        f"`bench/import_robustness.py`, {dt.date.today()}, {os.cpu_count()} CPUs, load average at start "
        f"{load:.1f}; Python {platform.python_version()}.",
        "`readers.read_csv_file` (decode and split, the path of every import and preview) on generated files, "
        f'one run each; the limit is {LIMIT_SECONDS:.0f} s for any 50 MB file. "Before" is the former '
        'reading (pandas `on_bad_lines="warn"`, its warnings collected), up to 10 MB.',
        "",
        "| file | size | read or refused in | before | outcome |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {name} | {mb} MB | {seconds:.2f} s | {old} | {outcome} |" for name, mb, seconds, old, outcome in rows]
    lines += [
        "",
        "Too-long rows are now found by one pass of the csv module after pandas has read the file with "
        '`on_bad_lines="skip"`; pandas\' "warn" mode gathers its messages in a way that grows with the square of '
        "the number of bad lines. pandas reads the whole file at once (`low_memory=False`): in chunks it kept, "
        "cut short, a too-long line that started a chunk.",
    ]
    write_section(DOC, SECTION, "\n".join(lines) + "\n")
    slow = [row for row in rows if row[2] > LIMIT_SECONDS]
    if slow:
        sys.exit(f"over {LIMIT_SECONDS:.0f} s: {slow}")


if __name__ == "__main__":
    main()
