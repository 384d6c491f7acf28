"""Issue 14 on the CSV side: dates within bounds, NULs refused, encodings chosen with confidence,
uneven rows and huge fields read or refused cleanly, through the command and the preview page."""

from __future__ import annotations

import datetime as dt
import json
import random
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from customers.importers import readers
from customers.importers.services import EXAMPLES_DIR
from customers.models import Customer, ImportJob, Order

pytestmark = pytest.mark.django_db

HEADER = "order_id,ordered_at,customer_id,first_name,last_name,city,sku,quantity,unit_price\n"


def _command(shop, path: Path, *args: str) -> tuple[dict, CommandError | None]:
    out = StringIO()
    error = None
    try:
        call_command("import_csv", "--shop", shop.slug, "--json", *args, str(path), stdout=out, stderr=StringIO())
    except CommandError as exc:
        error = exc
    return json.loads(out.getvalue()), error


def _file(tmp_path: Path, data: bytes, name: str = "orders.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- dates ----------------------------------------------------------------------------------


def test_order_dates_before_1970_or_after_tomorrow_are_rejected_naming_row_and_column(shop, tmp_path):
    future = (timezone.now() + dt.timedelta(days=3)).strftime("%Y-%m-%d")
    text = HEADER + f"1,2024-01-02,C1,A,B,X,S1,1,2.00\n2,1969-12-31,C1,A,B,X,S1,1,2.00\n3,{future},C1,A,B,X,S1,1,2.00\n"
    report, error = _command(shop, _file(tmp_path, text.encode()))
    assert error is not None and report["status"] == "rejected"
    assert {(e["row"], e["column"]) for e in report["errors"]} == {(3, "ordered_at"), (4, "ordered_at")}
    assert "1969-12-31" in report["errors"][0]["message"]
    assert not Order.objects.for_shop(shop).exists()


def test_an_order_dated_today_is_imported(shop, tmp_path):
    today = timezone.now().strftime("%Y-%m-%d")
    report, error = _command(shop, _file(tmp_path, (HEADER + f"1,{today},C1,A,B,X,S1,1,2.00\n").encode()))
    assert error is None and report["status"] == "imported"


# --- NUL ------------------------------------------------------------------------------------


def test_a_nul_in_a_cell_is_a_row_error_not_a_cut_value(shop, tmp_path):
    data = (HEADER + "1,2024-01-02,C1,Ada,Love,X,S1,1,2.00\n2,2024-01-02,C2,Jo\x00hn,Doe,X,S2,1,2.00\n").encode()
    report, error = _command(shop, _file(tmp_path, data))
    assert error is not None
    assert [(e["row"], e["column"]) for e in report["errors"]] == [(3, "first_name")]
    assert "NUL" in report["errors"][0]["message"]
    report, error = _command(shop, _file(tmp_path, data), "--allow-partial")
    assert error is None
    assert sorted(Customer.objects.for_shop(shop).values_list("first_name", flat=True)) == ["Ada"]


# --- encodings ------------------------------------------------------------------------------


def test_a_windows_1252_file_is_read_as_cp1252_not_gb18030(shop, tmp_path):
    # every byte pair of these names is also valid GB18030 ("J黵gen M黮ler"): the guess must not be
    text = HEADER + "1,2024-01-02,C1,Jürgen,Müller,Crème Straße,S1,1,2.00\n"
    assert text.encode("cp1252").decode("gb18030")
    report, error = _command(shop, _file(tmp_path, text.encode("cp1252")))
    assert error is None and report["encoding"] == "cp1252"
    customer = Customer.objects.for_shop(shop).get()
    assert (customer.first_name, customer.last_name, customer.city) == ("Jürgen", "Müller", "Crème Straße")


def test_a_utf8_file_with_one_stray_byte_is_read_as_utf8_and_the_replacement_reported(shop, tmp_path):
    rows = "".join(f"{n},2024-01-02,C{n},José,Müller,Zürich,S1,1,2.00\n" for n in range(1, 300))
    data = (HEADER + rows).encode() + b"900,2024-01-02,C900,Jos\xe9,M,Z,S1,1,2.00\n"
    report, error = _command(shop, _file(tmp_path, data))
    assert error is None and report["encoding"] == "utf-8"
    assert any("1 characters" in warning and "UTF-8" in warning for warning in report["warnings"])
    assert Customer.objects.for_shop(shop).filter(first_name="José").count() == 299
    assert Customer.objects.for_shop(shop).get(external_id="C900").first_name == "Jos\ufffd"


def test_gbk_files_are_still_read_as_gb18030_without_an_encoding_from_the_preset(tmp_path):
    table = readers.read_csv_file(EXAMPLES_DIR / "taobao-orders.csv")
    assert table.encoding == "gb18030"
    assert table.columns[0] == "订单编号"
    short = _file(tmp_path, "order_id,product_name,quantity\n1,绿茶,2\n2,咖啡豆 张三,1\n".encode("gb18030"))
    assert readers.read_csv_file(short).frame["product_name"].tolist() == ["绿茶", "咖啡豆 张三"]


def test_bytes_no_encoding_reads_with_confidence_are_refused_asking_for_the_encoding(shop, tmp_path):
    rng = random.Random(14)
    data = HEADER.encode() + bytes(rng.randrange(128, 256) for _ in range(20_000))
    path = _file(tmp_path, data)
    report, error = _command(shop, path)
    assert error is not None
    assert "--encoding" in report["errors"][0]["message"]
    report, _error = _command(shop, path, "--encoding", "latin-1")
    assert report["encoding"] == "latin-1"


# --- uneven rows and huge fields ------------------------------------------------------------


def test_rows_with_more_fields_than_the_header_are_numbered_as_records(tmp_path):
    text = 'a,b\n1,2\n3,4,5\n"6\nsix",7\n8,9,10,11\n12,13\n'
    table = readers.read_csv_file(_file(tmp_path, text.encode()))
    assert [row for row, _message in table.bad_lines] == [3, 5]
    assert table.row_numbers.tolist() == [2, 4, 6]
    assert table.frame["a"].tolist() == ["1", "6\nsix", "12"]


def _huge_field_file() -> bytes:
    return (
        (HEADER + "1,2024-01-02,C1,A,B,X,S1,1,2.00\n2,2024-01-02,C2,A,").encode() + b"x" * 10_000_000 + b",X,S1,1,2\n"
    )


def test_a_10_mb_field_is_refused_naming_row_and_column_by_the_command(shop, tmp_path):
    report, error = _command(shop, _file(tmp_path, _huge_field_file()))
    assert error is not None and report["status"] == "rejected"
    assert report["errors"][0]["column"] == "last_name"
    assert "Row 3" in report["errors"][0]["message"]


def test_a_10_mb_field_is_refused_on_the_preview_page_without_an_error_500(owner_client, shop, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    upload = SimpleUploadedFile("huge.csv", _huge_field_file(), content_type="text/csv")
    response = owner_client.post(reverse("import_upload"), {"kind": "orders", "preset": "generic", "file": upload})
    assert response.status_code == 302
    job = ImportJob.objects.for_shop(shop).get()
    response = owner_client.get(reverse("import_preview", args=[job.pk]))
    assert response.status_code == 200
    assert "Row 3, column “last_name”" in response.content.decode()


def test_a_first_data_row_with_one_field_too_many_does_not_shift_the_columns(tmp_path):
    table = readers.read_csv_file(_file(tmp_path, b"a,b\n1,2,3\n4,5\n"))
    assert table.frame.to_dict("list") == {"a": ["4"], "b": ["5"]}
    assert [row for row, _message in table.bad_lines] == [2]
    assert table.row_numbers.tolist() == [3]


def test_too_long_lines_at_pandas_chunk_boundaries_are_all_reported(tmp_path):
    # pandas reads in chunks of 2**17 lines and used to keep, cut short, a too-long line starting one
    lines = ["a,b"] + [("1,2,3" if n % 2 else "1,2") for n in range(300_000)]
    table = readers.read_csv_file(_file(tmp_path, ("\n".join(lines) + "\n").encode()))
    assert len(table.frame) == 150_000 and len(table.bad_lines) == 150_000
    assert set(table.frame["a"]) == {"1"} and set(table.frame["b"]) == {"2"}
