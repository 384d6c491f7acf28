"""Reading files: compression, encodings, delimiters, money, whole numbers and dates."""

from __future__ import annotations

import bz2
import gzip
import lzma
import zipfile
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from customers.importers import readers
from customers.importers.readers import FileRejected

CSV = "order_id,product_name,quantity\n1,Tea,2\n2,Café,1\n"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("$1,234.50", Decimal("1234.50")),
        ("1.234,50 €", Decimal("1234.50")),
        ("£3.20", Decimal("3.20")),
        ("1 234,50", Decimal("1234.50")),
        ("1\u00a0234,50", Decimal("1234.50")),
        ("EUR 9,99", Decimal("9.99")),
        ("€ 0,99", Decimal("0.99")),
        ("1'234.50", Decimal("1234.50")),
        ("2,5", Decimal("2.5")),
        ("-2.55", Decimal("-2.55")),
        ("(2.55)", Decimal("-2.55")),
        ("2.55-", Decimal("-2.55")),
        ("-$1.00", Decimal("-1.00")),
        ("$-1.00", Decimal("-1.00")),
        ("1,234", Decimal("1234")),
        ("1.234.567", Decimal("1234567")),
        ("0.001", Decimal("0.001")),
        ("12 元", Decimal("12")),
        ("CN¥12.00", Decimal("12.00")),
        ("", None),
    ],
)
def test_parse_money_reads_common_formats(raw, expected):
    assert readers.parse_money(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "1.2.3,4", "12-3", "1,23,4", "$", "1e5"])
def test_parse_money_refuses_garbage(raw):
    with pytest.raises(ValueError):
        readers.parse_money(raw)


def test_money_column_decides_decimal_comma_for_the_whole_column():
    column = readers.parse_money_column(["1.234", "2,50"])
    assert column.cents.tolist() == [123400, 250]
    assert readers.parse_money_column(["1.234", "2.50"]).cents.tolist() == [123, 250]


def test_money_column_flags_rounding_zero_negative_and_bad():
    column = readers.parse_money_column(["0.001", "0", "-3", "x", ""])
    assert column.cents.tolist() == [0, 0, -300, 0, 0]
    assert column.rounded.tolist() == [True, False, False, False, False]
    assert column.zero.tolist() == [False, True, False, False, False]
    assert column.negative.tolist() == [False, False, True, False, False]
    assert column.bad.tolist() == [False, False, False, True, False]
    assert column.empty.tolist() == [False, False, False, False, True]


def test_integer_column():
    numbers, empty, bad = readers.parse_integer_column(["6", " -2 ", "+3", "6.0", "1.5", "", "abc"])
    assert numbers[:4].tolist() == [6, -2, 3, 6]
    assert empty.tolist() == [False, False, False, False, False, True, False]
    assert bad.tolist() == [False, False, False, False, True, False, True]


@pytest.mark.parametrize(
    ("values", "order"),
    [
        (["31/12/2024 08:26", "01/02/2024"], readers.DATE_DAY_FIRST),
        (["12/31/2024 1:05 PM", "03/04/2024"], readers.DATE_MONTH_FIRST),
        (["2010-12-01 08:26:00", "2024-01-05T10:12:13Z"], readers.DATE_ISO),
        (["2024-01-05 10:12:13 -0500"], readers.DATE_ISO),
        (["20240105"], readers.DATE_ISO),
        (["9 Dec 2011"], readers.DATE_ISO),
        (["01/02/2024", "03/04/2024"], readers.DATE_AMBIGUOUS),
        (["31/01/2024", "01/31/2024"], readers.DATE_INCONSISTENT),
        (["01/01/2024", "02/02/2024"], readers.DATE_DAY_FIRST),
    ],
)
def test_date_order_is_decided_per_column_from_all_values(values, order):
    assert readers.detect_date_order(values).order == order


def test_ambiguous_dates_name_examples():
    detection = readers.detect_date_order(["01/02/2024", "03/04/2024", "01/02/2024"])
    assert detection.needs_choice
    assert "01/02/2024" in detection.examples


def test_parse_dates_day_first_month_first_and_offsets():
    day_first = readers.parse_date_column(["05/03/2024 14:30", "31/02/2024"], readers.DateDetection("day-first"))
    assert str(day_first.wall[0]) == "2024-03-05T14:30:00.000000000"
    assert day_first.bad.tolist() == [False, True]
    month_first = readers.parse_date_column(["05/03/24 2:30 pm"], readers.DateDetection("month-first"))
    assert str(month_first.wall[0]) == "2024-05-03T14:30:00.000000000"
    iso = readers.parse_date_column(["2024-01-05 10:12:13 -0500"], readers.DateDetection("iso"))
    assert iso.offset_minutes[0] == -300
    utc = readers.dates_to_utc(iso, "Europe/London")
    assert str(utc[0]) == "2024-01-05T15:12:13.000000000"


def test_explicit_date_format():
    parsed = readers.parse_date_column(["05.03.2024"], readers.DateDetection("format", fmt="%d.%m.%Y"))
    assert str(parsed.wall[0]) == "2024-03-05T00:00:00.000000000"


def test_naive_times_are_read_in_the_shops_time_zone():
    parsed = readers.parse_date_column(
        ["2024-07-01 12:00", "2024-01-15 12:00"], readers.DateDetection(readers.DATE_ISO)
    )
    utc = readers.dates_to_utc(parsed, "Europe/London")
    assert [str(v) for v in utc.astype("datetime64[m]")] == ["2024-07-01T11:00", "2024-01-15T12:00"]
    assert pd.isna(readers.dates_to_utc(readers.parse_date_column([""], readers.DateDetection("iso")), "UTC")[0])


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("utf-8", CSV.encode("utf-8")),
        ("utf-8-sig", CSV.encode("utf-8-sig")),
        ("utf-16", CSV.encode("utf-16")),
        ("gb18030", "order_id,product_name,quantity\n1,绿茶,2\n2,咖啡豆 张三,1\n".encode("gb18030")),
        ("cp1252", CSV.encode("cp1252")),
    ],
)
def test_encodings_are_recognised(tmp_path, encoding, data):
    path = tmp_path / "orders.csv"
    path.write_bytes(data)
    table = readers.read_csv_file(path)
    assert table.encoding == encoding
    assert table.columns == ["order_id", "product_name", "quantity"]
    decoded = data.decode(encoding).lstrip("\ufeff").splitlines()
    assert table.frame["product_name"].tolist() == [line.split(",")[1] for line in decoded[1:]]


def test_gbk_file_with_chinese_names_reads_correctly(tmp_path):
    path = tmp_path / "客户.csv"
    path.write_bytes("客户编号,姓名,城市\n1,张伟,北京\n2,王芳,上海\n".encode("gbk"))
    table = readers.read_csv_file(path)
    assert table.encoding == "gb18030"
    assert table.frame["姓名"].tolist() == ["张伟", "王芳"]


@pytest.mark.parametrize(("delimiter", "name"), [(",", "comma"), (";", "semicolon"), ("\t", "tab"), ("|", "bar")])
def test_delimiter_is_sniffed(tmp_path, delimiter, name):
    path = tmp_path / f"{name}.csv"
    path.write_text(CSV.replace(",", delimiter), encoding="utf-8")
    table = readers.read_csv_file(path)
    assert table.delimiter == delimiter
    assert table.frame["quantity"].tolist() == ["2", "1"]


def test_semicolon_file_with_decimal_commas_is_not_split_on_commas(tmp_path):
    path = tmp_path / "de.csv"
    path.write_text("order_id;unit_price;quantity\n1;1,50;2\n2;2,75;1\n", encoding="utf-8")
    assert readers.read_csv_file(path).frame["unit_price"].tolist() == ["1,50", "2,75"]


@pytest.mark.parametrize("compression", ["gz", "xz", "bz2", "zip"])
def test_compressed_files_are_unpacked(tmp_path, compression):
    path = tmp_path / f"orders.csv.{compression}"
    data = CSV.encode()
    if compression == "gz":
        path.write_bytes(gzip.compress(data))
    elif compression == "xz":
        path.write_bytes(lzma.compress(data))
    elif compression == "bz2":
        path.write_bytes(bz2.compress(data))
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("orders.csv", data)
    assert readers.read_csv_file(path).frame["order_id"].tolist() == ["1", "2"]


def test_zip_with_two_files_reads_its_first_csv(tmp_path):
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__MACOSX/._a.csv", b"\x00\x05\x16\x07")
        archive.writestr("notes.pdf", b"%PDF-1.4")
        archive.writestr("a.csv", CSV)
        archive.writestr("b.csv", "order_id\n9\n")
    assert readers.read_file_bytes(path) == CSV.encode()
    assert readers.read_header(path) == (["order_id", "product_name", "quantity"], "utf-8")


def test_zip_without_a_csv_file_is_refused(tmp_path):
    path = tmp_path / "none.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.pdf", b"%PDF-1.4")
        archive.writestr("b.pdf", b"%PDF-1.4")
    with pytest.raises(FileRejected, match="no CSV file"):
        readers.read_file_bytes(path)


def test_rows_are_numbered_like_a_spreadsheet_and_long_rows_are_reported(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n\n3,4,5\n6,7\n", encoding="utf-8")
    table = readers.read_csv_file(path)
    assert table.bad_lines and table.bad_lines[0][0] == 4
    assert table.row_numbers.tolist() == [2, 3, 5]
    assert table.frame["a"].tolist() == ["1", "", "6"]


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(FileRejected):
        readers.read_csv_file(path)


def test_cents_to_strings():
    assert readers.cents_to_strings(np.array([0, -5, 123456, -100, 7])).tolist() == [
        "0.00",
        "-0.05",
        "1234.56",
        "-1.00",
        "0.07",
    ]
