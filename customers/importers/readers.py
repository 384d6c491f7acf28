"""Reading a CSV file into strings, and reading the strings: encodings, delimiters, money, dates.

Nothing here knows about Django models or shops. Every reader works on whole columns
(pandas), deciding things per column where a single value cannot decide (day-first or
month-first dates, decimal comma or decimal point) and parsing each distinct value once.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import csv
import datetime as dt
import gzip
import io
import lzma
import re
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import charset_normalizer
import numpy as np
import pandas as pd
from django.utils.translation import gettext as _

# A file larger than this once decompressed is refused (a small .xz can unpack to anything).
MAX_UNCOMPRESSED_BYTES = 1_500_000_000
# Encodings considered after the byte-order marks: UTF-8 (read strictly first), then Chinese
# Excel's GB18030 (a superset of GBK) and Windows Western European, between which
# charset-normalizer chooses (see decode_file).
FALLBACK_ENCODINGS = ("utf-8", "gb18030", "cp1252")
# A file that is UTF-8 but for fewer than this share of its bytes is read as UTF-8, those
# bytes replaced (and counted in the report), when most of its other non-ASCII text is UTF-8.
MAX_STRAY_UTF8_SHARE = 0.001
# charset-normalizer's "chaos" (share of the text that looks garbled, 0..1): a best guess above
# this is too weak, and the owner is asked to choose the encoding.
MAX_ENCODING_CHAOS = 0.1
DELIMITERS = (",", ";", "\t", "|")
CENT = Decimal("0.01")
# Money columns are Decimal(14, 2); one more digit would not fit.
MAX_ABS_CENTS = 10**14 - 1


class FileRejected(Exception):
    """The file as a whole cannot be read; the message says why in words for the shop owner."""

    def __init__(self, message: str, *, column: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.column = column


# ---------------------------------------------------------------------------------------------
# Bytes and text


CSV_ENDINGS = (".csv", ".txt", ".tsv")


def zip_csv_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The CSV files of a zip in the archive's order, leaving out folders and the "__MACOSX/"
    and "._name" shadows a Mac adds. A zip holding a single file counts it as CSV whatever
    its name (a file exported as "orders" without an ending)."""
    files = [
        info
        for info in archive.infolist()
        if not info.is_dir()
        and not info.filename.startswith("__MACOSX/")
        and not info.filename.rsplit("/", 1)[-1].startswith("._")
    ]
    if len(files) == 1:
        return files
    return [info for info in files if info.filename.lower().endswith(CSV_ENDINGS)]


@contextlib.contextmanager
def _open_unpacked(path: Path) -> Iterator[io.BufferedIOBase]:
    """A binary stream of the file's content, unpacked when it is gzip, xz, bzip2 or zip (its
    first CSV file). The compression is recognised from the first bytes, not the name."""
    with path.open("rb") as fh:
        head = fh.read(6)
    if head.startswith(b"\x1f\x8b"):
        opener = gzip.open
    elif head.startswith(b"\xfd7zXZ\x00"):
        opener = lzma.open
    elif head.startswith(b"BZh"):
        opener = bz2.open
    elif head.startswith(b"PK\x03\x04"):
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise FileRejected(_("The compressed file is damaged: %(error)s") % {"error": exc})
        with archive:
            members = zip_csv_members(archive)
            if not members:
                raise FileRejected(_("The zip file holds no CSV file."))
            with archive.open(members[0]) as stream:
                yield stream
        return
    else:
        opener = open
    with opener(path, "rb") as stream:
        yield stream


def _read_unpacked(path: Path, size: int) -> bytes:
    with _open_unpacked(path) as stream:
        try:
            return stream.read(size)
        except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile) as exc:
            raise FileRejected(_("The compressed file is damaged: %(error)s") % {"error": exc})


def read_file_bytes(path: Path | str) -> bytes:
    """The file's bytes, decompressed when it is gzip, xz or bzip2; for a zip, its first CSV file
    (an upload of two files is kept as one zip, the main report first: see
    services.import_job_create; a layout's `prepare` opens the zip itself for the other one).

    Refuses (FileRejected) a zip without a CSV file, a damaged archive and anything over
    MAX_UNCOMPRESSED_BYTES once unpacked.
    """
    data = _read_unpacked(Path(path), MAX_UNCOMPRESSED_BYTES + 1)
    if len(data) > MAX_UNCOMPRESSED_BYTES:
        raise FileRejected(
            _("The file is larger than %(mb)d MB once unpacked.") % {"mb": MAX_UNCOMPRESSED_BYTES // 10**6}
        )
    return data


HEADER_SAMPLE_BYTES = 64 * 1024


def read_header(path: Path | str, *, encoding: str = "") -> tuple[list[str], str]:
    """(header columns, encoding found) from the first bytes of the file, unpacked as
    read_file_bytes does but without reading the whole file: for recognising its layout.

    A full sample is cut after its last complete line so that no character is split.
    Refuses (FileRejected) what read_file_bytes, decode_text and read_table refuse.
    """
    head = _read_unpacked(Path(path), HEADER_SAMPLE_BYTES)
    if len(head) == HEADER_SAMPLE_BYTES:
        newline = {b"\xff\xfe": b"\n\x00", b"\xfe\xff": b"\x00\n"}.get(head[:2], b"\n")
        end = head.rfind(newline)
        if end > 0:
            head = head[: end + len(newline)]
    data, used = utf8_bytes(head, encoding=encoding)
    return read_table(data, encoding=used, nrows=1).columns, used


@dataclass(frozen=True)
class Decoded:
    """A file's text, the encoding it was read with and how many characters were replaced
    (bytes that were not UTF-8 in a file read as UTF-8)."""

    text: str
    encoding: str
    replaced: int = 0


def _stray_utf8(data: bytes) -> Decoded | None:
    """The file read as UTF-8 with its few stray bytes replaced, or None when it is not such a file
    (more than MAX_STRAY_UTF8_SHARE of its bytes invalid, or no more valid non-ASCII characters
    than replaced ones: a Western European file with a few accents is not UTF-8)."""
    text = data.decode("utf-8", errors="replace")
    replaced = text.count("\ufffd") - data.count("\ufffd".encode())
    non_ascii = len(text) - len(text.encode("ascii", "ignore")) - replaced
    if replaced > len(data) * MAX_STRAY_UTF8_SHARE or non_ascii <= replaced:
        return None
    return Decoded(text, "utf-8", replaced)


def _guessed(data: bytes) -> Decoded:
    """charset-normalizer's best reading among FALLBACK_ENCODINGS other than UTF-8; refuses
    (FileRejected) when none reads the file or the best one looks garbled (MAX_ENCODING_CHAOS)."""
    candidates = [name for name in FALLBACK_ENCODINGS if name != "utf-8"]
    best = charset_normalizer.from_bytes(data, cp_isolation=candidates).best()
    if best is None or best.chaos > MAX_ENCODING_CHAOS:
        raise FileRejected(
            _(
                "The file's text encoding could not be recognised with confidence (tried %(names)s). "
                "Save it as UTF-8 and upload it again, or give its encoding with --encoding on the import_csv "
                "command."
            )
            % {"names": ", ".join(FALLBACK_ENCODINGS)}
        )
    name = codecs.lookup(best.encoding).name
    try:
        return Decoded(data.decode(name), name)
    except UnicodeDecodeError as exc:  # charset-normalizer judges on samples; the whole file decides
        raise FileRejected(_("The file cannot be read as %(encoding)s: %(error)s") % {"encoding": name, "error": exc})


def decode_file(data: bytes, *, encoding: str = "") -> Decoded:
    """The file's bytes as text.

    With `encoding` given it is used as is (strictly). Otherwise a byte-order mark decides
    (UTF-8 or UTF-16); without one, valid UTF-8 is UTF-8; UTF-8 but for a few stray bytes is
    UTF-8 with those replaced (see _stray_utf8); anything else is charset-normalizer's best
    reading among GB18030 and Windows-1252. Refuses (FileRejected) bytes that the encoding
    given does not read and a weak guess (the message asks for the encoding).
    """
    if encoding:
        try:
            return Decoded(data.decode(encoding), encoding)
        except (LookupError, UnicodeDecodeError) as exc:
            raise FileRejected(
                _("The file cannot be read as %(encoding)s: %(error)s") % {"encoding": encoding, "error": exc}
            )
    if data.startswith(b"\xef\xbb\xbf"):
        name = "utf-8-sig"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        name = "utf-16"
    else:
        try:
            return Decoded(data.decode("utf-8"), "utf-8")
        except UnicodeDecodeError:
            return _stray_utf8(data) or _guessed(data)
    try:
        return Decoded(data.decode(name), name)
    except UnicodeDecodeError as exc:
        raise FileRejected(_("The file cannot be read as %(encoding)s: %(error)s") % {"encoding": name, "error": exc})


def decode_text(data: bytes, *, encoding: str = "") -> tuple[str, str]:
    """(text, encoding name) for the file's bytes: decode_file without the count of replaced characters."""
    decoded = decode_file(data, encoding=encoding)
    return decoded.text, decoded.encoding


def _utf8(data: bytes, *, encoding: str = "") -> tuple[bytes, Decoded]:
    decoded = decode_file(data, encoding=encoding)
    if decoded.encoding in ("utf-8", "utf8") and not decoded.replaced:
        return data, decoded
    if decoded.encoding == "utf-8-sig":
        return data[3:], decoded
    return decoded.text.encode("utf-8"), decoded


def utf8_bytes(data: bytes, *, encoding: str = "") -> tuple[bytes, str]:
    """(UTF-8 bytes without a byte-order mark, encoding name found) for the file's bytes.

    Same rules as decode_file; a valid UTF-8 file is only checked, not copied, since pandas
    reads UTF-8 bytes faster than Python text.
    """
    utf8, decoded = _utf8(data, encoding=encoding)
    return utf8, decoded.encoding


def replaced_note(replaced: int) -> str:
    """The report's warning about characters replaced while reading the file."""
    return _("%(count)d characters of the file were not valid UTF-8 and were replaced by “�”; check those values.") % {
        "count": replaced
    }


def sniff_delimiter(text: str) -> str:
    """The field delimiter among comma, semicolon, tab and bar, judged on the first 50 lines.

    The winner splits the header into the most fields and splits the lines below it into
    that same number most often. A single-column file gets a comma.
    """
    # Each line is cut short: a field longer than the csv module's limit must not stop the sniffing.
    sample_lines = [line[:10_000] for line in text[:200_000].splitlines()[:50]]
    if not sample_lines:
        return ","
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        try:
            rows = list(csv.reader(sample_lines, delimiter=delimiter))
        except csv.Error:
            continue
        if not rows:
            continue
        width = len(rows[0])
        if width < 2:
            continue
        agreeing = sum(1 for row in rows[1:] if len(row) == width)
        score = (agreeing, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


@dataclass
class RawTable:
    """The file's records as strings: `frame` has one str column per header, `row_numbers`
    the spreadsheet row of each record (the header is row 1). `bad_lines` are
    (row, message) for records pandas could not split into the header's columns. `notes`
    are what a layout's prepare step says about the file as read (shown as warnings)."""

    frame: pd.DataFrame
    row_numbers: np.ndarray
    encoding: str
    delimiter: str
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    has_nul: bool = False

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)


# pandas' C parser ends a field at a NUL; read_table puts this character (a Unicode noncharacter)
# in its place so that the cleaner can refuse the row instead of storing a silently cut value.
NUL_MARK = "\uffff"
# A field longer than this many characters is refused (no column of ours keeps a tenth of it).
MAX_FIELD_CHARS = 1_000_000
csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARS + 1))


def _field_too_long(row: int, column: str) -> FileRejected:
    limit = f"{MAX_FIELD_CHARS:,}"
    if not column:
        return FileRejected(
            _("Row %(row)d: a field is longer than %(limit)s characters; check the file’s quoting.")
            % {"row": row, "limit": limit}
        )
    return FileRejected(
        _("Row %(row)d, column “%(column)s”: a field is longer than %(limit)s characters; check the file’s quoting.")
        % {"row": row, "column": column, "limit": limit},
        column=column,
    )


def _header_names(data: bytes | str, *, delimiter: str) -> list[str]:
    """The header's column names as pandas would name them: an empty one "Unnamed: <i>", a
    repeated one "name.1", "name.2". Refuses (FileRejected) a file without a header."""
    head = data[:HEADER_SAMPLE_BYTES]
    text = head.decode("utf-8", errors="ignore") if isinstance(head, bytes) else head
    try:
        header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
    except csv.Error as exc:
        raise FileRejected(_("The file is not a readable CSV file: %(error)s") % {"error": exc})
    if not any(name.strip() for name in header):
        raise FileRejected(_("The file's first line is not a header (the names of the columns)."))
    names: list[str] = []
    seen: set[str] = set()
    for i, name in enumerate(header):
        name = name or f"Unnamed: {i}"
        unique, n = name, 0
        while unique in seen:
            n += 1
            unique = f"{name}.{n}"
        seen.add(unique)
        names.append(unique)
    return names


def _long_records(
    data: bytes | str, *, delimiter: str, width: int, kept: int | None
) -> tuple[list[tuple[int, str]], int | None, int]:
    """([(row, message)] of the records with more fields than the header's `width`, the row of the
    first field longer than MAX_FIELD_CHARS or None, the number of other records). Rows count
    records (the header is row 1); with `kept` the pass stops once that many records of the right length were seen.

    One pass of the csv module, linear in the file's size: pandas' own "warn" mode collects its
    messages in a way that takes quadratic time when many lines are too long (issue 14).
    """
    if isinstance(data, bytes):
        source: io.TextIOBase = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="")
    else:
        source = io.StringIO(data, newline="")
    found: list[tuple[int, str]] = []
    seen, row_number = 0, 1  # row_number: the record being read
    reader = csv.reader(source, delimiter=delimiter)
    try:
        next(reader, None)
        row_number = 2
        for record in reader:
            if len(record) > width:
                found.append((row_number, f"Expected {width} fields, saw {len(record)}"))
            else:
                seen += 1
                if kept is not None and seen >= kept:
                    break
            row_number += 1
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            return found, row_number, seen
        raise FileRejected(_("The file is not a readable CSV file: %(error)s") % {"error": exc})
    return found, None, seen


def read_table(
    data: bytes | str, *, encoding: str = "utf-8", delimiter: str = "", nrows: int | None = None
) -> RawTable:
    """Split UTF-8 bytes (or text) into a RawTable of strings (no type guessing: every cell is str).

    Blank lines stay as empty records so row numbers match a spreadsheet; a record with
    more fields than the header is left out and listed in bad_lines; a NUL becomes NUL_MARK
    (has_nul, for the cleaner to refuse the row). Time is linear in the size for any content.
    Refuses (FileRejected) a file with no header, unreadable quoting or a field longer than
    MAX_FIELD_CHARS (naming its row and column). `encoding` is only recorded.
    """
    head = data[:200_000]
    head_text = head.decode("utf-8", errors="ignore") if isinstance(head, bytes) else head
    if not head_text.strip():
        raise FileRejected(_("The file is empty."))
    delimiter = delimiter or sniff_delimiter(head_text)
    has_nul = (b"\x00" if isinstance(data, bytes) else "\x00") in data
    if has_nul:
        data = data.replace(b"\x00", NUL_MARK.encode()) if isinstance(data, bytes) else data.replace("\x00", NUL_MARK)
    source = io.BytesIO(data) if isinstance(data, bytes) else io.StringIO(data)
    names = _header_names(data, delimiter=delimiter)
    try:
        # The header is read as a record of `names`: with header=0, pandas takes a first data
        # row with one field too many as the index and shifts every column of the file.
        frame = pd.read_csv(
            source,
            sep=delimiter,
            header=None,
            names=names,
            dtype=str,
            na_filter=False,
            keep_default_na=False,
            skip_blank_lines=False,
            on_bad_lines="skip",
            engine="c",
            # in chunks (low_memory), pandas 2.3 keeps a too-long line that starts a chunk, cut short
            low_memory=False,
            encoding="utf-8",
            nrows=nrows + 1 if nrows is not None else None,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise FileRejected(_("The file is not a readable CSV file: %(error)s") % {"error": exc})
    frame = frame.iloc[1:].reset_index(drop=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    bad_lines, long_field_row, good_records = _long_records(
        data, delimiter=delimiter, width=len(frame.columns), kept=len(frame) if nrows is not None else None
    )
    if long_field_row is not None:
        position = long_field_row - 2 - len(bad_lines)
        row = frame.iloc[position] if 0 <= position < len(frame) else pd.Series(dtype=object)
        columns = [column for column, value in row.items() if len(value) > MAX_FIELD_CHARS]
        raise _field_too_long(long_field_row, columns[0] if columns else "")
    if nrows is None and good_records != len(frame):
        # pandas and the csv module split the file differently: its row numbers would be wrong
        raise FileRejected(_("The file's rows cannot be told apart reliably (check its quotes); save it again as CSV."))
    skipped = np.array([n for n, _msg in bad_lines], dtype=np.int64)
    all_rows = np.arange(2, 2 + len(frame) + len(skipped), dtype=np.int64)
    row_numbers = np.setdiff1d(all_rows, skipped, assume_unique=True) if len(skipped) else all_rows
    return RawTable(
        frame=frame,
        row_numbers=row_numbers,
        encoding=encoding,
        delimiter=delimiter,
        bad_lines=bad_lines,
        has_nul=has_nul,
    )


def read_columns(data: bytes, *, delimiter: str, columns: list[str]) -> pd.DataFrame:
    """Only `columns` of the whole file (UTF-8 bytes), as strings: for judging date formats on a preview."""
    if not columns:
        return pd.DataFrame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = pd.read_csv(
            io.BytesIO(data),
            sep=delimiter,
            dtype=str,
            na_filter=False,
            keep_default_na=False,
            on_bad_lines="skip",
            encoding="utf-8",
            usecols=lambda c: str(c).strip() in columns,
        )
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def read_csv_file(path: Path | str, *, encoding: str = "", delimiter: str = "", nrows: int | None = None) -> RawTable:
    """read_file_bytes + utf8_bytes + read_table: the whole path from a file to its strings."""
    data, decoded = _utf8(read_file_bytes(path), encoding=encoding)
    table = read_table(data, encoding=decoded.encoding, delimiter=delimiter, nrows=nrows)
    if decoded.replaced:
        table.notes.append(replaced_note(decoded.replaced))
    return table


# ---------------------------------------------------------------------------------------------
# Money

_CURRENCY_TOKEN = re.compile(
    r"^(?:[A-Z]{3}|RMB|CN¥|US\$|HK\$|A\$|C\$|NZ\$|kr\.?|zł|Kč|Ft|元|[$€£¥₩₹₽¢฿₺₫])\s*|\s*(?:[A-Z]{3}|RMB|kr\.?|zł|Kč|Ft|元|[$€£¥₩₹₽¢฿₺₫])$"
)
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009'’]")
_NUMBER_SHAPE = re.compile(r"^(?:\d[\d.,]*|[.,]\d+)$")
_COMMA_DECIMAL = re.compile(r"^[\d.]*,(?:\d{1,2}|\d{4,})$")


def _strip_currency(value: str) -> str:
    previous = None
    while previous != value:
        previous = value
        value = _CURRENCY_TOKEN.sub("", value).strip()
    return value


def money_uses_decimal_comma(values: Sequence[str]) -> bool:
    """True when some value can only be read with a decimal comma ("2,5", "1.234,50").

    That settles the ambiguous values of the same column ("1.234" is then one thousand
    two hundred and thirty-four, "1,234" one point two three four).
    """
    for raw in values:
        body = _SPACES.sub("", _strip_currency(str(raw).strip()).strip("()+-−"))
        if "," in body and "." in body:
            if body.rfind(",") > body.rfind("."):
                return True
        elif body.count(",") == 1 and _COMMA_DECIMAL.match(body):
            return True
    return False


def parse_money(raw: str, *, decimal_comma: bool = False) -> Decimal | None:
    """A money string as Decimal; None for an empty cell.

    Reads "$1,234.50", "1.234,50 €", "£3.20", "1 234,50", "(2.00)", "-2.00", "2.00-",
    "EUR 9,99", "1'234.50". A lone separator followed by three digits is a thousands
    separator unless `decimal_comma` is False and it is a point (then "1.234" is 1.234).
    Raises ValueError for anything else ("abc", "1.2.3,4,5", "12-3").
    """
    value = str(raw).strip()
    if not value:
        return None
    negative = False
    value = _strip_currency(value)
    if value.startswith("(") and value.endswith(")"):
        negative, value = True, value[1:-1].strip()
    value = _strip_currency(value)
    if value[:1] in {"-", "−"}:
        negative, value = not negative, value[1:]
    elif value[:1] == "+":
        value = value[1:]
    elif value[-1:] in {"-", "−"}:
        negative, value = not negative, value[:-1]
    value = _SPACES.sub("", _strip_currency(value.strip()))
    if not _NUMBER_SHAPE.match(value):
        raise ValueError(value)
    commas, points = value.count(","), value.count(".")
    if commas and points:
        decimal_sep = "," if value.rfind(",") > value.rfind(".") else "."
        thousands = "." if decimal_sep == "," else ","
        if value.count(decimal_sep) > 1:
            raise ValueError(value)
    elif commas or points:
        sep = "," if commas else "."
        count = commas or points
        digits_after = len(value) - value.rfind(sep) - 1
        if count > 1:
            decimal_sep, thousands = "", sep
        elif digits_after == 3 and value.rfind(sep) > 0:
            is_decimal = (sep == "," and decimal_comma) or (sep == "." and not decimal_comma)
            decimal_sep, thousands = (sep, "") if is_decimal else ("", sep)
        else:
            decimal_sep, thousands = sep, ""
    else:
        decimal_sep, thousands = "", ""
    if thousands:
        whole = value.split(decimal_sep)[0] if decimal_sep else value
        groups = whole.split(thousands)
        if not groups[0] or len(groups[0]) > 3 or any(len(g) != 3 for g in groups[1:]):
            raise ValueError(value)
        value = value.replace(thousands, "")
    if decimal_sep and decimal_sep != ".":
        value = value.replace(decimal_sep, ".")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(value)
    return -amount if negative else amount


@dataclass
class MoneyColumn:
    """A parsed money column: cents (0 where empty or bad) and masks. `rounded` marks values
    with more than two decimals (rounded half-up to the cent, as the database keeps cents);
    `zero` and `negative` are about the amount as written (0.001 is not zero)."""

    cents: np.ndarray
    empty: np.ndarray
    bad: np.ndarray
    zero: np.ndarray
    negative: np.ndarray
    rounded: np.ndarray

    def take(self, codes: np.ndarray) -> MoneyColumn:
        """Per-row arrays from per-distinct-value arrays."""
        return MoneyColumn(*(getattr(self, f)[codes] for f in ("cents", "empty", "bad", "zero", "negative", "rounded")))


def parse_money_column(values: Sequence[str] | np.ndarray | pd.Series) -> MoneyColumn:
    """Parse money strings once per distinct value (see parse_money); the decimal comma is
    decided for the whole column. Values too large for the database are marked bad."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), sort=False, use_na_sentinel=False)
    decimal_comma = money_uses_decimal_comma(uniques)
    n = len(uniques)
    cents_of = np.zeros(n, dtype=np.int64)
    empty, bad, rounded, zero, negative = (np.zeros(n, dtype=bool) for _i in range(5))
    for i, raw in enumerate(uniques):
        try:
            amount = parse_money(raw, decimal_comma=decimal_comma)
        except ValueError:
            bad[i] = True
            continue
        if amount is None:
            empty[i] = True
            continue
        cents = amount.quantize(CENT, rounding=ROUND_HALF_UP)
        if abs(cents) * 100 > MAX_ABS_CENTS:
            bad[i] = True
            continue
        rounded[i] = cents != amount
        zero[i] = amount == 0
        negative[i] = amount < 0
        cents_of[i] = int(cents * 100)
    return MoneyColumn(cents_of, empty, bad, zero, negative, rounded).take(codes)


def cents_to_decimal(cents: int) -> Decimal:
    """Integer cents as a Decimal with two places."""
    return (Decimal(int(cents)) / 100).quantize(CENT)


def cents_to_strings(cents: np.ndarray) -> np.ndarray:
    """Integer cents as "-12.34" strings (object array), formatting each distinct amount once."""
    codes, uniques = pd.factorize(np.asarray(cents, dtype=np.int64), sort=False)
    texts = np.array(
        [("-" if c < 0 else "") + f"{abs(c) // 100}.{abs(c) % 100:02d}" for c in uniques.tolist()], dtype=object
    )
    return texts[codes]


# ---------------------------------------------------------------------------------------------
# Whole numbers

_INTEGER = re.compile(r"^[+-]?\d{1,9}(?:\.0*)?$")


def parse_integer_column(values: Sequence[str] | np.ndarray | pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(numbers, empty mask, bad mask) for a column of whole numbers such as quantities.

    "6", "-2", "+3", "6.0" are read (surrounding spaces ignored); "1.5", "abc" and more
    than nine digits are bad.
    """
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), sort=False, use_na_sentinel=False)
    numbers = np.zeros(len(uniques), dtype=np.int64)
    empty = np.zeros(len(uniques), dtype=bool)
    bad = np.zeros(len(uniques), dtype=bool)
    for i, raw in enumerate(uniques):
        raw = raw.strip()
        if raw == "":
            empty[i] = True
        elif _INTEGER.match(raw):
            numbers[i] = int(raw.split(".")[0])
        else:
            bad[i] = True
    return numbers[codes], empty[codes], bad[codes]


# ---------------------------------------------------------------------------------------------
# Dates

DATE_ISO = "iso"
DATE_DAY_FIRST = "day-first"
DATE_MONTH_FIRST = "month-first"
DATE_AMBIGUOUS = "ambiguous"
DATE_INCONSISTENT = "inconsistent"
DATE_UNKNOWN = "unknown"
# Ways the page offers to read an ambiguous column (the key is stored in the job's options).
DATE_ORDER_CHOICES = (DATE_DAY_FIRST, DATE_MONTH_FIRST)

_TIME = (
    r"(?:(?:\s+|T|,\s*)(?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?:[:.](?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?"
    r"\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?)?"
    r"\s*(?P<tz>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?"
)
_NUMERIC_DATE = re.compile(r"^(?P<a>\d{1,4})[/.\-](?P<b>\d{1,2})[/.\-](?P<c>\d{1,4})" + _TIME + r"$")
_COMPACT_DATE = re.compile(r"^(?P<a>\d{4})(?P<b>\d{2})(?P<c>\d{2})" + _TIME + r"$")
_HAS_LETTERS = re.compile(r"[A-Za-z\u00c0-\u024f]{3}")


@dataclass(frozen=True)
class DateDetection:
    """How a date column reads: order in {iso, day-first, month-first, ambiguous,
    inconsistent, unknown, format}; `examples` are a few values that show why."""

    order: str
    fmt: str = ""
    examples: tuple[str, ...] = ()

    @property
    def needs_choice(self) -> bool:
        return self.order in {DATE_AMBIGUOUS, DATE_INCONSISTENT}

    @property
    def label(self) -> str:
        labels = {
            DATE_ISO: _("year first (ISO, e.g. 2024-03-31)"),
            DATE_DAY_FIRST: _("day first (e.g. 31/03/2024)"),
            DATE_MONTH_FIRST: _("month first (e.g. 03/31/2024)"),
            DATE_AMBIGUOUS: _("ambiguous: could be day first or month first"),
            DATE_INCONSISTENT: _("inconsistent: some values are day first, others month first"),
            DATE_UNKNOWN: _("no dates recognised"),
            "format": _("format %(fmt)s") % {"fmt": self.fmt},
        }
        return str(labels.get(self.order, self.order))


def _extract(uniques: pd.Series) -> pd.DataFrame:
    parts = uniques.str.extract(_NUMERIC_DATE)
    compact = uniques.str.extract(_COMPACT_DATE)
    missing = parts["a"].isna() & compact["a"].notna()
    parts.loc[missing] = compact.loc[missing]
    return parts


def detect_date_order(values: pd.Series | Sequence[str], *, fmt: str = "") -> DateDetection:
    """Decide how a date column is written, looking at every distinct non-empty value.

    A value whose first number is over 12 makes the column day-first, one whose second
    number is over 12 makes it month-first; values with the year first are ISO. A column
    whose every numeric value could be either (first and second number both <= 12 and
    different) is ambiguous and needs a choice; one with both kinds is inconsistent.
    An explicit strftime `fmt` wins over detection.
    """
    if fmt:
        return DateDetection("format", fmt=fmt)
    uniques = pd.Series(pd.unique(pd.Series(values, dtype=object).astype(str).str.strip()), dtype=object)
    uniques = uniques[uniques != ""].reset_index(drop=True)
    if uniques.empty:
        return DateDetection(DATE_UNKNOWN)
    parts = _extract(uniques)
    matched = parts["a"].notna()
    if not matched.any():
        if uniques.str.contains(_HAS_LETTERS).any():
            return DateDetection(DATE_ISO, examples=tuple(uniques.head(3)))  # month names: unambiguous
        return DateDetection(DATE_UNKNOWN, examples=tuple(uniques.head(3)))
    parts = parts[matched]
    year_first = parts["a"].str.len() == 4
    day_month = parts[~year_first]
    if day_month.empty:
        return DateDetection(DATE_ISO)
    first = day_month["a"].astype(int)
    second = day_month["b"].astype(int)
    day_first_evidence = first > 12
    month_first_evidence = second > 12
    if day_first_evidence.any() and month_first_evidence.any():
        examples = (
            uniques[day_month.index[day_first_evidence.to_numpy()][0]],
            uniques[day_month.index[month_first_evidence.to_numpy()][0]],
        )
        return DateDetection(DATE_INCONSISTENT, examples=tuple(examples))
    if day_first_evidence.any():
        return DateDetection(DATE_DAY_FIRST)
    if month_first_evidence.any():
        return DateDetection(DATE_MONTH_FIRST)
    if (first == second).all():
        return DateDetection(DATE_DAY_FIRST)  # 01/01, 02/02, ...: both readings agree
    example_idx = day_month.index[(first != second).to_numpy()][:3]
    return DateDetection(DATE_AMBIGUOUS, examples=tuple(uniques[example_idx]))


@dataclass
class ParsedDates:
    """Per row: the wall-clock time (datetime64, NaT where empty or bad), the UTC offset in
    minutes when the value carried one (NaN otherwise), and empty / bad masks."""

    wall: np.ndarray
    offset_minutes: np.ndarray
    empty: np.ndarray
    bad: np.ndarray

    def take(self, codes: np.ndarray) -> ParsedDates:
        """Per-row arrays from per-distinct-value arrays."""
        return ParsedDates(self.wall[codes], self.offset_minutes[codes], self.empty[codes], self.bad[codes])


def _offset_minutes(tz: pd.Series) -> pd.Series:
    tz = tz.fillna("")
    result = pd.Series(np.nan, index=tz.index)
    utc = tz.isin(["Z", "UTC", "GMT"])
    result[utc] = 0.0
    signed = tz.str.match(r"^[+-]")
    if signed.any():
        digits = tz[signed].str.replace(":", "", regex=False)
        hours = digits.str[1:3].astype(int)
        minutes = digits.str[3:5].replace("", "0").astype(int)
        sign = np.where(digits.str[0] == "-", -1, 1)
        result[signed] = sign * (hours * 60 + minutes)
    return result


def _parse_unique_dates(uniques: pd.Series, detection: DateDetection) -> tuple[pd.Series, pd.Series]:
    """(wall-clock datetimes, offset minutes) for distinct non-empty strings; NaT = unreadable."""
    if detection.order == "format":
        parsed = pd.to_datetime(uniques, format=detection.fmt, errors="coerce")
        offsets = pd.Series(np.nan, index=uniques.index)
        if getattr(parsed.dt, "tz", None) is not None:
            offsets[:] = 0.0
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        return parsed, offsets
    parts = _extract(uniques)
    year_first = parts["a"].str.len() == 4
    a = pd.to_numeric(parts["a"], errors="coerce")
    b = pd.to_numeric(parts["b"], errors="coerce")
    c = pd.to_numeric(parts["c"], errors="coerce")
    month_first = detection.order == DATE_MONTH_FIRST
    year = c.where(~year_first, a)
    if month_first:
        month = b.where(year_first, a)
        day = c.where(year_first, b)
    else:
        month = b
        day = c.where(year_first, a)
    short_year = (~year_first) & (parts["c"].str.len() == 2)
    year = year.where(~short_year, np.where(year < 70, year + 2000, year + 1900))
    bad_year_shape = (~year_first) & ~parts["c"].str.len().isin([2, 4])
    hour = pd.to_numeric(parts["hour"], errors="coerce").fillna(0)
    ampm = parts["ampm"].fillna("").str.lower().str.replace(".", "", regex=False)
    hour = hour.where(~((ampm == "am") & (hour == 12)), 0)
    hour = hour.where(~((ampm == "pm") & (hour < 12)), hour + 12)
    frame = pd.DataFrame(
        {
            "year": year,
            "month": month,
            "day": day,
            "hour": hour,
            "minute": pd.to_numeric(parts["minute"], errors="coerce").fillna(0),
            "second": pd.to_numeric(parts["second"], errors="coerce").fillna(0),
        }
    )
    ok = frame[["year", "month", "day"]].notna().all(axis=1) & ~bad_year_shape
    parsed = pd.Series(pd.NaT, index=uniques.index, dtype="datetime64[ns]")
    if ok.any():
        parsed[ok] = pd.to_datetime(frame[ok].astype("int64"), errors="coerce")
    fraction = parts["fraction"].fillna("")
    has_fraction = ok & (fraction != "")
    if has_fraction.any():
        micros = fraction[has_fraction].str.ljust(6, "0").str[:6].astype(int)
        parsed[has_fraction] = parsed[has_fraction] + pd.to_timedelta(micros, unit="us")
    offsets = _offset_minutes(parts["tz"])
    # Values with a month name ("9 Dec 2011", "Dec 9, 2011 8:26 AM"): unambiguous, read one by one.
    texty = parts["a"].isna() & uniques.str.contains(_HAS_LETTERS)
    for idx in uniques.index[texty.to_numpy()]:
        try:
            value = pd.Timestamp(uniques[idx])
        except (ValueError, OverflowError):
            continue
        if value.tzinfo is not None:
            offsets[idx] = 0.0
            value = value.tz_convert("UTC").tz_localize(None)
        parsed[idx] = value
    return parsed, offsets


def parse_date_column(values: Sequence[str] | np.ndarray | pd.Series, detection: DateDetection) -> ParsedDates:
    """Parse a column of date strings the way `detection` says, each distinct value once.

    Refuses nothing itself: empty cells and unreadable values (31/02/2024, "soon") come
    back in the masks for the caller to report. An ambiguous detection reads day-first;
    the caller must have refused such a column before.
    """
    stripped = pd.Series(np.asarray(values, dtype=object), dtype=object).str.strip()
    codes, uniques = pd.factorize(stripped, sort=False, use_na_sentinel=False)
    unique_series = pd.Series(uniques, dtype=object)
    non_empty = unique_series != ""
    wall = pd.Series(pd.NaT, index=unique_series.index, dtype="datetime64[ns]")
    offsets = pd.Series(np.nan, index=unique_series.index)
    if non_empty.any():
        parsed, parsed_offsets = _parse_unique_dates(unique_series[non_empty], detection)
        wall[non_empty] = parsed
        offsets[non_empty] = parsed_offsets
    unique_empty = (~non_empty).to_numpy()
    unique_bad = (non_empty & wall.isna()).to_numpy()
    return ParsedDates(
        wall=wall.to_numpy()[codes],
        offset_minutes=offsets.to_numpy()[codes],
        empty=unique_empty[codes],
        bad=unique_bad[codes],
    )


def dates_to_utc(parsed: ParsedDates, tz: dt.tzinfo | str) -> np.ndarray:
    """UTC datetime64 per row: values with an offset are shifted by it, naive values are
    taken as wall-clock time in `tz` (the shop's time zone). In a repeated autumn hour the
    first (summer-time) reading wins; a time skipped in spring moves forward to a real one."""
    wall = pd.DatetimeIndex(parsed.wall)
    naive = np.isnan(parsed.offset_minutes)
    result = np.full(len(wall), np.datetime64("NaT"), dtype="datetime64[ns]")
    if naive.any():
        local = wall[naive]
        codes, uniques = pd.factorize(local)
        uniques = pd.DatetimeIndex(uniques)
        localized = uniques.tz_localize(
            str(tz), ambiguous=np.ones(len(uniques), dtype=bool), nonexistent="shift_forward"
        ).tz_convert("UTC")
        values = localized.tz_localize(None).to_numpy()
        out = np.full(len(local), np.datetime64("NaT"), dtype="datetime64[ns]")
        valid = codes >= 0
        out[valid] = values[codes[valid]]
        result[naive] = out
    aware = ~naive
    if aware.any():
        shift = pd.to_timedelta(parsed.offset_minutes[aware], unit="min").to_numpy()
        result[aware] = wall[aware].to_numpy() - shift
    return result
