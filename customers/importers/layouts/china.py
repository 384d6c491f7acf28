"""What the Chinese marketplaces' order exports (Taobao / Tmall, Douyin, Youzan) have in common.

- Cells guarded against Excel: ="6543210987654321" (Taobao), a leading tab inside the quotes
  ("\t6917926768823643751", Douyin) or a leading apostrophe ('13812345678), so that long
  numbers stay text. The guard is dropped; "-" (Douyin's "nothing here") becomes empty.
- Personal data protected by the platform: masked phones and names (138****1234, 张**),
  encrypted ones (##密文, $$…$$), virtual numbers that expire (17012345678-1234). None of them
  names a person, so they are emptied: a masked phone is not an identity (ADR 0009).
- The delivery address in one cell ("浙江省 杭州市 西湖区 文三路100号(310000)"), split
  into province, city and postcode.
- A second report: the seller downloads the orders and their items as two files; both come
  as one zip (the upload page stores two files that way, or the seller zips them), and the
  layout's prepare step finds each report by its header, whichever comes first.

The platform modules (taobao, douyin, youzan) hold their own headers and status words.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from django.utils.translation import gettext as _

from customers.importers import readers
from customers.importers.readers import FileRejected, RawTable
from customers.models import OrderStatus

_GUARD = re.compile(r'^=\s*"(.*)"$', re.DOTALL)
# An 11-digit mainland mobile, optionally with +86 / 86 in front: the only phones kept.
_MOBILE = re.compile(r"^(?:\+?86[\s-]?)?(1\d{10})$")
# Marks of a value the platform hid: asterisks (half or full width), encrypted blobs.
_HIDDEN = re.compile(r"[*＊]|^##|^\$\$|密文")
_POSTCODE = re.compile(r"[（(]\s*(\d{6})\s*[)）]\s*$")
_SPACES = re.compile(r"[\s\u3000]+")
# Provinces written without spaces ("浙江省杭州市西湖区…"): the province, then the city.
_PROVINCE = re.compile(r"^(.+?(?:省|自治区|特别行政区)|北京市?|天津市?|上海市?|重庆市?)")
_CITY = re.compile(r"^(.+?(?:自治州|地区|盟|市|县))")
_MUNICIPALITIES = ("北京", "天津", "上海", "重庆")


def normal(header: str) -> str:
    """The header as presets.normalize_header compares it (imported when called: presets
    imports the layout modules)."""
    from customers.importers.presets import normalize_header

    return normalize_header(header)


def columns_by_normal(columns: Iterable[str]) -> dict[str, str]:
    """normalized header -> the file's column (the first, when two normalize alike)."""
    found: dict[str, str] = {}
    for column in columns:
        found.setdefault(normal(column), column)
    return found


def column_of(frame: pd.DataFrame, *headers: str) -> str | None:
    """The frame's column for the first of `headers` it has (compared normalized), else None."""
    by_normal = columns_by_normal(frame.columns)
    for header in headers:
        column = by_normal.get(normal(header))
        if column is not None:
            return column
    return None


def has_headers(frame: pd.DataFrame, headers: Iterable[str]) -> bool:
    """True when every one of `headers` is a column of the frame (compared normalized)."""
    present = set(columns_by_normal(frame.columns))
    return all(normal(header) in present for header in headers)


def unguard(frame: pd.DataFrame, *, dash_is_empty: bool = False) -> pd.DataFrame:
    """A copy with every cell stripped of the Excel text guards (="…", a leading tab or
    apostrophe) and of surrounding spaces; with `dash_is_empty`, a lone "-" becomes "".
    Each distinct value of a column is cleaned once."""
    frame = frame.copy()
    for column in frame.columns:
        codes, uniques = pd.factorize(frame[column], sort=False)
        values = pd.Series(uniques, dtype=object).astype(str).str.strip()
        values = values.str.replace(_GUARD, r"\1", regex=True).str.strip().str.lstrip("'\t").str.strip()
        if dash_is_empty:
            values = values.where(values != "-", "")
        cleaned = values.to_numpy(dtype=object)
        frame[column] = cleaned[codes] if len(codes) else frame[column]
    return frame


def clear_phones(values: pd.Series, *, virtual: pd.Series | None = None) -> pd.Series:
    """Mobile numbers as 11 digits (spaces, dashes and +86 dropped); "" for masked, encrypted and
    virtual numbers (one with an extension, or flagged in `virtual`) and anything that is not a
    mainland mobile number."""
    digits = values.str.replace(r"[\s-]", "", regex=True)
    matched = digits.str.extract(_MOBILE, expand=False).fillna("")
    matched = matched.where(~values.str.contains(_HIDDEN), "")
    if virtual is not None:
        matched = matched.where(virtual.str.strip() == "", "")
    return matched


def clear_names(values: pd.Series) -> pd.Series:
    """Names as written; "" for masked or encrypted ones (张**, ##密文)."""
    return values.where(~values.str.contains(_HIDDEN), "")


def clear_ids(values: pd.Series) -> pd.Series:
    """Buyer account names as written; "" for masked ones (t**3 names nobody: many buyers
    share the same masked form, so it must not join them into one customer)."""
    return values.where(~values.str.contains(_HIDDEN), "")


def read_people(
    frame: pd.DataFrame,
    *,
    buyer: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    virtual: str | None = None,
) -> list[str]:
    """Empty, in place, what names nobody: a masked buyer account (`buyer`: such rows become
    guest orders), a masked name, a phone that is not a mobile number in clear (`virtual`: a
    column whose value marks the phone as a virtual number). Returns the notes for the report."""
    notes: list[str] = []
    if buyer is not None:
        cleared = clear_ids(frame[buyer])
        masked = int(((frame[buyer] != "") & (cleared == "")).sum())
        frame[buyer] = cleared
        if masked:
            notes.append(
                _(
                    "%(count)d rows give the buyer (%(column)s) only in a masked form, which names nobody: "
                    "their orders were imported without a customer."
                )
                % {"count": masked, "column": buyer}
            )
    if name is not None:
        frame[name] = clear_names(frame[name])
    if phone is not None:
        cleared = clear_phones(frame[phone], virtual=frame[virtual] if virtual is not None else None)
        hidden = int(((frame[phone] != "") & (cleared == "")).sum())
        frame[phone] = cleared
        if hidden:
            notes.append(
                _(
                    "%(count)d phone numbers (%(column)s) were masked, encrypted or virtual numbers and were not "
                    "kept: they cannot identify a customer."
                )
                % {"count": hidden, "column": phone}
            )
    return notes


def join_items(
    orders: pd.DataFrame,
    items: pd.DataFrame,
    *,
    key: str,
    item_report: str,
    exclude: tuple[str, ...] = (),
    fallback: tuple[tuple[str, str], ...] = (),
    drop: tuple[str, ...] = (),
) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """(rows, position of each row's order in `orders`, notes) for an order report and its item
    report, both with the `key` column (the order number).

    Every item gets its order's columns (an item column whose header the order report has too,
    or is in `exclude`, is left out: the order's own value wins). An order the item report
    lacks keeps one row whose item columns are filled from its own (`fallback`: (item header,
    order header) pairs). Items of no order are left out. Rows follow the order report; the
    `drop` columns are removed at the end. `item_report` names the item report in the notes.
    """
    notes: list[str] = []
    order_key = column_of(orders, key)
    item_key = column_of(items, key)
    left_out = {normal(column) for column in orders.columns} | {normal(header) for header in exclude}
    item_columns = [column for column in items.columns if column != item_key and normal(column) not in left_out]
    numbered = orders.assign(__position=np.arange(len(orders)))
    part = items[[item_key, *item_columns]].rename(columns={item_key: "__order"})
    joined = numbered.merge(part, left_on=order_key, right_on="__order", how="inner", sort=False)
    joined = joined.drop(columns=["__order"])

    lacking = numbered[~orders[order_key].isin(items[item_key]).to_numpy()].copy()
    if len(lacking):
        notes.append(
            _(
                "%(count)d orders are not in the item report (%(report)s); each was imported as one line "
                "from the order report."
            )
            % {"count": len(lacking), "report": item_report}
        )
        for column in item_columns:
            lacking[column] = ""
        for item_header, order_header in fallback:
            item_column = column_of(items[item_columns], item_header) if item_columns else None
            order_column = column_of(orders, order_header)
            if item_column is not None and order_column is not None:
                lacking[item_column] = lacking[order_column]
    orphans = int((~items[item_key].isin(orders[order_key])).sum())
    if orphans:
        notes.append(
            _(
                "%(count)d rows of the item report (%(report)s) belong to no order of the order report "
                "and were left out."
            )
            % {"count": orphans, "report": item_report}
        )
    rows = pd.concat([joined, lacking], ignore_index=True).sort_values("__position", kind="stable")
    positions = rows["__position"].to_numpy()
    rows = rows.drop(columns=["__position", *[c for c in drop if c in rows.columns]]).reset_index(drop=True)
    return rows, positions, notes


def split_addresses(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(province, city, postcode) of one-cell addresses such as "浙江省 杭州市 西湖区 文三路
    100号 (310000)": the first two space-separated parts, or, without spaces, the province
    and city read from their suffixes (省 / 自治区 / 市 …); the postcode in brackets at the end
    ("000000", Taobao's "none", is left out). Each distinct address is read once."""
    codes, uniques = pd.factorize(values.fillna(""), sort=False)
    provinces, cities, postcodes = [], [], []
    for address in uniques:
        postcode = ""
        match = _POSTCODE.search(address)
        if match:
            postcode = "" if match.group(1) == "000000" else match.group(1)
            address = address[: match.start()]
        parts = _SPACES.split(address.strip())
        province = city = ""
        if len(parts) >= 2:
            province, city = parts[0], parts[1]
        elif parts and parts[0]:
            found = _PROVINCE.match(parts[0])
            if found:
                province = found.group(1)
                if province.rstrip("市") in _MUNICIPALITIES:
                    city = province.rstrip("市") + "市"  # the city is the province
                else:
                    city_found = _CITY.match(parts[0][found.end() :])
                    city = city_found.group(1) if city_found else ""
        provinces.append(province[:100])
        cities.append(city[:100])
        postcodes.append(postcode)
    index = values.index

    def per_row(items: list[str]) -> pd.Series:
        array = pd.Series(items, dtype=object).to_numpy(dtype=object)
        return pd.Series(array[codes] if len(codes) else [], index=index, dtype=object)

    return per_row(provinces), per_row(cities), per_row(postcodes)


CLOSED_AFTER_PAYMENT = "交易关闭（已退款）"


def settle_statuses(
    orders: pd.DataFrame,
    *,
    status: str,
    words: pd.Series,
    closed_words: list[str],
    paid_at: str | None,
    amount: str | None,
    refund: str | None,
    status_words: dict[str, str],
) -> None:
    """What the Chinese marketplaces' order reports share (ADR 0007): a closed order that had been
    paid becomes CLOSED_AFTER_PAYMENT (a sale refunded in full: returned); a refund counts on sales
    only, never more than was paid (a refund of everything makes the sale returned in the cleaner);
    an order nobody paid has no paid amount, so that its total is the value of its goods."""
    paid = pd.Series(False, index=orders.index)
    if amount is not None:
        paid |= cents(orders[amount]) > 0
    if paid_at is not None:
        paid |= orders[paid_at] != ""
    closed = words.isin(closed_words)
    orders[status] = words.where(~(closed & paid), CLOSED_AFTER_PAYMENT)
    if amount is not None:
        orders[amount] = orders[amount].where(paid, "")
    if refund is not None:
        sale = orders[status].map(status_words) == str(OrderStatus.PAID)
        orders[refund] = orders[refund].where(sale, "")
        if amount is not None:
            over = sale & (cents(orders[refund]) > cents(orders[amount]))
            orders[refund] = orders[refund].where(~over, orders[amount])


def cents(values: pd.Series) -> pd.Series:
    """Amounts in whole cents (0 where empty or unreadable: the cleaner reports such cells)."""
    parsed = readers.parse_money_column(values.to_numpy(dtype=object))
    return pd.Series(parsed.cents, index=values.index, dtype="int64")


def cents_text(amounts: pd.Series) -> pd.Series:
    """Cents written as "12.30" (what the cleaner reads back)."""
    return pd.Series(readers.cents_to_strings(amounts.to_numpy(dtype="int64")), index=amounts.index, dtype=object)


def average_cents(totals: pd.Series, counts: pd.Series) -> pd.Series:
    """totals ÷ counts per row in cents, rounded half up (a count below 1 counts as 1)."""
    count = counts.clip(lower=1).astype("int64")
    return (2 * totals.astype("int64") + count) // (2 * count)


def zip_tables(path: Path | None, *, encoding: str, skip_first: bool = False) -> list[RawTable]:
    """Every CSV file of the zip at `path` read as a table (in the archive's order; with
    `skip_first`, all but the first, which the readers have read already), each in its own
    encoding as detected (else `encoding`); [] when `path` is not a zip."""
    if path is None:
        return []
    try:
        with Path(path).open("rb") as fh:
            if fh.read(4) != b"PK\x03\x04":
                return []
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile):
        return []
    tables = []
    with archive:
        members = readers.zip_csv_members(archive)
        for info in members[1:] if skip_first else members:
            if info.file_size > readers.MAX_UNCOMPRESSED_BYTES:
                raise FileRejected(
                    _("The file is larger than %(mb)d MB once unpacked.")
                    % {"mb": readers.MAX_UNCOMPRESSED_BYTES // 10**6}
                )
            try:
                data = archive.read(info)
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                raise FileRejected(_("The compressed file is damaged: %(error)s") % {"error": exc})
            try:
                # Each file as detected: the two reports may not share an encoding (one re-saved).
                utf8, used = readers.utf8_bytes(data)
            except FileRejected:
                utf8, used = readers.utf8_bytes(data, encoding=encoding)
            tables.append(readers.read_table(utf8, encoding=used))
    return tables


def find_reports(
    table: RawTable, path: Path | None, *, main: tuple[str, ...], second: tuple[str, ...]
) -> tuple[RawTable | None, RawTable | None]:
    """(main report, second report) among the table as read (a zip's first CSV file) and the
    zip's other files, each recognised by its headers (`main`, `second`), whichever comes
    first; None for a report that is not there."""
    if has_headers(table.frame, main):
        others = zip_tables(path, encoding=table.encoding, skip_first=True)
        found = next((t for t in others if has_headers(t.frame, second) and not has_headers(t.frame, main)), None)
        return table, found
    if has_headers(table.frame, second):
        others = zip_tables(path, encoding=table.encoding, skip_first=True)
        return next((t for t in others if has_headers(t.frame, main)), None), table
    return None, None


def quantities(values: pd.Series) -> pd.Series:
    """Whole numbers (0 where empty or unreadable)."""
    return pd.to_numeric(values.str.strip(), errors="coerce").fillna(0).astype("int64")
