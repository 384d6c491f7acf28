"""python manage.py import_csv: options, --json report and exit status."""

from __future__ import annotations

import gzip
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from customers.models import Order, OrderLine

FIXTURES = Path(__file__).parent / "fixtures"
pytestmark = pytest.mark.django_db


def _run(*args: str) -> tuple[str, CommandError | None]:
    out = StringIO()
    try:
        call_command("import_csv", *args, stdout=out, stderr=StringIO())
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def test_json_report_has_the_documented_keys_and_exit_status_zero(shop):
    out, error = _run("--shop", shop.slug, "--kind", "orders", "--json", str(FIXTURES / "generic_orders.csv"))
    assert error is None
    report = json.loads(out)
    for key in (
        "rows_read",
        "rows_imported",
        "rows_rejected",
        "duplicates_dropped",
        "orders",
        "cancelled_orders",
        "returned_orders",
        "guest_orders",
        "customers",
        "products",
        "net_revenue",
        "zero_price_lines",
        "negative_price_lines",
        "errors",
        "warnings",
    ):
        assert key in report
    assert report["net_revenue"] == "18.20" and isinstance(report["net_revenue"], str)
    assert report["orders"] == 5 and report["errors"] == []
    assert Order.objects.for_shop(shop).count() == 5


def test_rejected_file_exits_non_zero_and_lists_errors(shop, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("order_id,ordered_at,sku,quantity,unit_price\n1,2024-01-01,A,two,1\n")
    out, error = _run("--shop", shop.slug, "--json", str(path))
    assert error is not None and error.returncode == 1
    report = json.loads(out)
    assert report["status"] == "rejected"
    assert report["errors"] == [{"row": 2, "column": "quantity", "message": "“two” is not a whole number."}]
    assert not Order.objects.for_shop(shop).exists()


def test_allow_partial_exits_zero_with_the_good_rows(shop, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("order_id,ordered_at,sku,quantity,unit_price\n1,2024-01-01,A,two,1\n2,2024-01-01,A,2,1\n")
    out, error = _run("--shop", shop.slug, "--allow-partial", "--json", str(path))
    assert error is None
    assert json.loads(out)["rows_rejected"] == 1
    assert list(Order.objects.for_shop(shop).values_list("external_id", flat=True)) == ["2"]


def test_dry_run_writes_nothing(shop):
    out, error = _run("--shop", shop.slug, "--dry-run", "--json", str(FIXTURES / "generic_orders.csv"))
    assert error is None and json.loads(out)["status"] == "dry_run"
    assert not OrderLine.objects.for_shop(shop).exists()


def test_date_format_option_settles_ambiguous_dates(shop, tmp_path):
    path = tmp_path / "ambiguous.csv"
    path.write_text("order_id,ordered_at,sku,quantity,unit_price\n1,01/02/2024,A,1,1\n2,03/04/2024,A,1,1\n")
    out, error = _run("--shop", shop.slug, "--json", str(path))
    assert error is not None and "ordered_at" in json.loads(out)["errors"][0]["column"]
    out, error = _run("--shop", shop.slug, "--date-format", "%m/%d/%Y", "--json", str(path))
    assert error is None
    assert Order.objects.for_shop(shop).get(external_id="1").placed_at.day == 2


def test_gzip_file_and_online_retail_preset(shop, tmp_path):
    path = tmp_path / "retail.csv.gz"
    path.write_bytes(gzip.compress((FIXTURES / "online_retail_sample.csv").read_bytes()))
    out, error = _run("--shop", shop.slug, "--preset", "online-retail", "--json", str(path))
    assert error is None
    report = json.loads(out)
    # the C invoice and the bad-debt adjustment (negative total) are both credit notes (ADR 0007)
    assert (report["orders"], report["returned_orders"], report["duplicates_dropped"]) == (7, 2, 1)


def test_map_option_maps_columns_by_hand(shop, tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("Beleg;Datum;Artikel;Menge;Preis\n77;2024-02-01;Tee;3;1,50\n")
    out, error = _run(
        "--shop", shop.slug, "--json", "--map", "order_id=Beleg", "--map", "ordered_at=Datum",
        "--map", "product_name=Artikel", "--map", "quantity=Menge", "--map", "unit_price=Preis", str(path),
    )  # fmt: skip
    assert error is None, out
    assert json.loads(out)["net_revenue"] == "4.50"


def test_text_output_and_unknown_shop(shop):
    out, error = _run("--shop", shop.slug, str(FIXTURES / "generic_orders.csv"))
    assert error is None and "rows_imported: 6" in out
    _out, error = _run("--shop", "nope", str(FIXTURES / "generic_orders.csv"))
    assert error is not None and "nope" in str(error)
