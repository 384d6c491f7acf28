"""From a table of strings to clean, typed frames ready to write, with every problem counted.

Pure pandas / numpy: no database. The steps, in order: blank lines skipped, exact duplicate
lines dropped, each field read (rows that cannot be read are rejected with row, column and
reason), then order lines grouped into orders, customers and products. The rules for
cancellations, returns, guests and odd prices are in docs/adr/0003-csv-import.md.

Speed: every column is a columns.Col (distinct values plus one integer code per row), so
half a million order lines with a few thousand distinct invoices, products and customers
clean in a few seconds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from customers.importers import readers
from customers.importers.columns import Col, decode, first_per_group, groups_of
from customers.importers.presets import DATE, FIELDS_BY_KIND, ColumnMapping, Preset
from customers.importers.readers import FileRejected, RawTable
from customers.models import Gender, ImportKind, OrderStatus
from shops import bounds

MAX_ERRORS = 1000
# Order-level amounts read like the order total: the first non-empty value of the order's rows.
ORDER_AMOUNTS = ("shipping", "tax", "discount", "refunded_amount")

# Words for an order's state in the files we read (Shopify financial status, WooCommerce
# status with or without "wc-", generic files, Chinese exports), lower-cased, spaces as "_".
STATUS_WORDS: dict[str, str] = {}
for _status, _words in {
    OrderStatus.PAID: (
        "paid completed complete processing fulfilled shipped delivered partially_paid partially_refunded "
        "success succeeded closed done 已付款 已完成 已发货 已支付"
    ),
    OrderStatus.PENDING: (
        "pending on-hold on_hold onhold authorized unpaid draft checkout-draft open pending_payment 待付款"
    ),
    OrderStatus.CANCELLED: "cancelled canceled refunded voided void failed trash expired 已取消 已退款 已关闭",
    OrderStatus.RETURNED: "returned return credit credit_note 已退货",
}.items():
    for _word in _words.split():
        STATUS_WORDS[_word] = str(_status)

TRUE_WORDS = {"1", "true", "yes", "y", "t", "subscribed", "opted_in", "是", "同意"}
FALSE_WORDS = {"0", "false", "no", "n", "f", "unsubscribed", "not_subscribed", "opted_out", "否", "不同意"}
GENDER_WORDS = {
    "f": Gender.FEMALE, "female": Gender.FEMALE, "w": Gender.FEMALE, "woman": Gender.FEMALE, "女": Gender.FEMALE,
    "m": Gender.MALE, "male": Gender.MALE, "man": Gender.MALE, "男": Gender.MALE,
    "o": Gender.OTHER, "other": Gender.OTHER, "x": Gender.OTHER, "diverse": Gender.OTHER, "其他": Gender.OTHER,
    "": Gender.UNKNOWN, "u": Gender.UNKNOWN, "unknown": Gender.UNKNOWN, "未知": Gender.UNKNOWN,
}  # fmt: skip
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
_FLOAT_ID = re.compile(r"^(\d+)\.0+$")
_WHITESPACE = re.compile(r"\s+")


# ---------------------------------------------------------------------------------------------
# Errors and results


@dataclass
class RowErrors:
    """Rejected rows: a mask over the working rows, the first MAX_ERRORS messages, and the total."""

    rejected: np.ndarray
    items: list[tuple[int | None, str, str]] = field(default_factory=list)
    total: int = 0

    def add(self, mask: np.ndarray, rows: np.ndarray, column: str, message: Callable[[int], str] | str) -> None:
        """Reject the rows in `mask`; `message` is a text or a function of the row's position."""
        positions = np.flatnonzero(mask)
        if not len(positions):
            return
        self.rejected |= mask
        self.total += len(positions)
        for pos in positions[:MAX_ERRORS]:
            text = message(int(pos)) if callable(message) else message
            self.items.append((int(rows[pos]), column, str(text)))

    def as_list(self) -> list[dict]:
        """The first MAX_ERRORS errors by row, as {row, column, message} (row None: the whole file)."""
        ordered = sorted(self.items, key=lambda item: (item[0] is not None, item[0] or 0))[:MAX_ERRORS]
        return [{"row": row, "column": column, "message": message} for row, column, message in ordered]

    @property
    def not_shown(self) -> int:
        return max(0, self.total - MAX_ERRORS)


@dataclass
class CleanResult:
    """What the cleaner made of a file. Frames are None for the parts the kind does not have.

    orders:    external_id, placed_at (UTC datetime64), customer_pos (-1: guest), currency,
               status, total_cents, lines_cents (the goods sold), returned_lines_cents (the
               negative lines, refunds included), and when the file has them shipping_cents,
               tax_cents, discount_cents (nullable: NA where the order states none), discount_code
    lines:     order_pos, product_pos (-1: no product, a refund), quantity, cents (positions
               index the frames above)
    customers: external_id and the customer attributes the file has (tags as written)
    products:  external_id, sku, title, category, brand, image_url, tags as the file has them
               (and price_cents when the file has prices)
    """

    kind: str
    rows_read: int = 0
    blank_rows: int = 0
    bad_lines: int = 0
    duplicates_dropped: int = 0
    errors: RowErrors | None = None
    warnings: list[str] = field(default_factory=list)
    date_formats: dict[str, str] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    orders: pd.DataFrame | None = None
    lines: pd.DataFrame | None = None
    customers: pd.DataFrame | None = None
    products: pd.DataFrame | None = None

    @property
    def rows_rejected(self) -> int:
        return (int(self.errors.rejected.sum()) if self.errors is not None else 0) + self.bad_lines


def _date_override(value: str) -> readers.DateDetection | None:
    if not value:
        return None
    if value in (readers.DATE_DAY_FIRST, readers.DATE_MONTH_FIRST, readers.DATE_ISO):
        return readers.DateDetection(value)
    return readers.DateDetection("format", fmt=value)


def detect_dates(
    frame: pd.DataFrame, mapping: ColumnMapping, kind: str, date_formats: dict[str, str]
) -> dict[str, readers.DateDetection]:
    """field -> how its column reads, for every mapped date field; `date_formats` (field ->
    "day-first" / "month-first" / "iso" / strftime format) overrides detection."""
    detections = {}
    for name, spec in FIELDS_BY_KIND[kind].items():
        if spec.type != DATE or name not in mapping.fields:
            continue
        override = _date_override(date_formats.get(name, ""))
        detections[name] = override or readers.detect_date_order(pd.unique(frame[mapping.fields[name]]))
    return detections


def ambiguous_date_message(column: str, detection: readers.DateDetection) -> str:
    """The sentence that asks the user to choose how a date column reads."""
    examples = ", ".join(detection.examples[:3])
    if detection.order == readers.DATE_INCONSISTENT:
        return _(
            "The dates in column “%(column)s” mix day-first and month-first values (e.g. %(examples)s); "
            "fix the file or choose the format with --date-format (e.g. %%d/%%m/%%Y) or on the preview page."
        ) % {"column": column, "examples": examples}
    return _(
        "Every date in column “%(column)s” could be day-first or month-first (e.g. %(examples)s); "
        "choose the format with --date-format (e.g. day-first, month-first or %%d/%%m/%%Y %%H:%%M) "
        "or on the preview page."
    ) % {"column": column, "examples": examples}


def _lines_frame(
    order_pos: np.ndarray,
    product_pos: np.ndarray,
    quantity: np.ndarray,
    cents: np.ndarray,
    remainder: np.ndarray,
    refund_cents: np.ndarray,
) -> pd.DataFrame:
    """The order lines: one per row; a row whose discounted price leaves `remainder` odd cents is
    two lines (quantity - remainder at the price, remainder at a cent more); each order with a
    refund gets a line of -1 at the refunded amount with no product (product_pos -1)."""
    parts = [(order_pos, product_pos, quantity - remainder, cents)]
    split = np.flatnonzero(remainder > 0)
    if len(split):
        parts.append((order_pos[split], product_pos[split], remainder[split], cents[split] + 1))
    refunded = np.flatnonzero(refund_cents > 0)
    if len(refunded):
        none = np.full(len(refunded), -1, dtype=np.int64)
        parts.append((refunded, none, none, refund_cents[refunded]))
    columns = ("order_pos", "product_pos", "quantity", "cents")
    if len(parts) == 1:
        return pd.DataFrame(dict(zip(columns, parts[0], strict=True)))
    return pd.DataFrame({name: np.concatenate([part[i] for part in parts]) for i, name in enumerate(columns)})


def _name_keys(names: pd.Series) -> pd.Series:
    """ "name:" + the lower-cased name with single spaces (hashed past 100 characters); "" for no name."""
    keys = "name:" + names.str.lower().str.replace(_WHITESPACE, " ", regex=True)
    long = keys.str.len() > 100
    keys[long] = keys[long].map(lambda v: "name:" + hashlib.sha1(v.encode()).hexdigest())  # noqa: S324
    return keys.where(names != "", "")


# ---------------------------------------------------------------------------------------------
# The cleaner


class _Cleaner:
    """Shared state of one cleaning pass; the public entry point is clean_table()."""

    def __init__(
        self,
        table: RawTable,
        *,
        kind: str,
        preset: Preset,
        mapping: ColumnMapping,
        tz: str,
        currency: str,
        date_formats: dict[str, str],
    ) -> None:
        self.kind = kind
        self.preset = preset
        self.mapping = mapping.fields
        self.tz = tz
        self.currency = currency
        self.date_formats = date_formats
        self.result = CleanResult(kind=kind)
        self.truncated = 0
        frame = table.frame
        raw = {column: Col.of(frame[column]) for column in frame.columns} if len(frame.columns) else {}
        n = len(frame)
        blank = np.ones(n, dtype=bool)
        for col in raw.values():
            blank &= col.empty()
        codes = np.column_stack([col.codes for col in raw.values()]) if raw else np.zeros((n, 0))
        duplicated = pd.DataFrame(codes).duplicated(keep="first").to_numpy() & ~blank
        keep = np.flatnonzero(~blank & ~duplicated)
        self.result.blank_rows = int(blank.sum())
        self.result.bad_lines = len(table.bad_lines)
        self.result.rows_read = n - self.result.blank_rows + len(table.bad_lines)
        self.result.duplicates_dropped = int(duplicated.sum())
        self.rows = table.row_numbers[keep]
        self.n = len(keep)
        self.raw = {column: col.take(keep) for column, col in raw.items()}
        self.errors = RowErrors(rejected=np.zeros(self.n, dtype=bool))
        self.result.errors = self.errors
        for row, message in table.bad_lines:
            detail = _("The row has more fields than the header: %(detail)s") % {"detail": message}
            self.errors.items.append((row, "", detail))
            self.errors.total += 1
        self.result.warnings.extend(str(note) for note in table.notes)
        if table.has_nul:  # a NUL cannot be stored; refused, never silently cut (issue 14)
            for column, col in self.raw.items():
                self.errors.add(
                    col.mask(lambda u: u.str.contains(readers.NUL_MARK, regex=False)),
                    self.rows,
                    column,
                    _("The cell holds a NUL character, which cannot be stored; remove it from the file."),
                )
        self._fields: dict[str, Col] = {}

    # --- one field ------------------------------------------------------------------------------

    def has(self, name: str) -> bool:
        return name in self.mapping

    def column(self, name: str) -> str:
        return self.mapping.get(name, "")

    def field(self, name: str) -> Col:
        """The field's column with spaces stripped (all empty when the field is not mapped)."""
        if name not in self._fields:
            if name in self.mapping:
                self._fields[name] = self.raw[self.mapping[name]].map(lambda u: u.str.strip())
            else:
                self._fields[name] = Col.constant("", self.n)
        return self._fields[name]

    def reject(self, mask: np.ndarray, name: str, message: Callable[[int], str] | str) -> None:
        self.errors.add(mask, self.rows, self.column(name), message)

    def require(self, name: str) -> None:
        if self.has(name):
            self.reject(self.field(name).empty(), name, _("This field is required but empty."))

    def text(self, name: str, *, strict_length: bool = False) -> Col:
        """Stripped text; longer than the field allows is rejected (`strict_length`, for ids) or cut."""
        col = self.field(name)
        limit = FIELDS_BY_KIND[self.kind][name].max_length
        if limit and self.has(name):
            too_long = col.mask(lambda u: u.str.len() > limit)
            if too_long.any():
                if strict_length:
                    self.reject(too_long, name, _("Longer than %(limit)d characters.") % {"limit": limit})
                else:
                    self.truncated += int(too_long.sum())
                    col = col.map(lambda u: u.str.slice(0, limit))
        return col

    def integer(self, name: str) -> np.ndarray:
        col = self.field(name)
        numbers, _empty, bad = readers.parse_integer_column(col.uniques)
        self.reject(bad[col.codes], name, lambda p: _("“%(value)s” is not a whole number.") % {"value": col.value(p)})
        return numbers[col.codes]

    def money(self, name: str) -> readers.MoneyColumn:
        col = self.field(name)
        parsed = readers.parse_money_column(col.uniques).take(col.codes)
        self.reject(parsed.bad, name, lambda p: _("“%(value)s” is not an amount of money.") % {"value": col.value(p)})
        rounded = int(parsed.rounded.sum())
        if rounded:
            self.result.warnings.append(
                _("%(count)d values in column “%(column)s” had more than two decimals and were rounded to the cent.")
                % {"count": rounded, "column": self.column(name)}
            )
        return parsed

    def dates(self, name: str, *, wall_clock: bool = False) -> np.ndarray:
        """UTC datetime64 per row (NaT where empty or bad); with `wall_clock` the time as written
        (for calendar dates such as birthdays). Refuses the file when the column is ambiguous."""
        col = self.field(name)
        column = self.column(name)
        detection = _date_override(self.date_formats.get(name, "")) or readers.detect_date_order(col.uniques)
        if detection.needs_choice:
            raise FileRejected(ambiguous_date_message(column, detection), column=column)
        self.result.date_formats[column] = str(detection.label)
        parsed = readers.parse_date_column(col.uniques, detection)
        self.reject(
            parsed.bad[col.codes],
            name,
            lambda p: (
                _("“%(value)s” is not a date (read as %(how)s).") % {"value": col.value(p), "how": detection.label}
            ),
        )
        per_value = parsed.wall if wall_clock else readers.dates_to_utc(parsed, self.tz)
        if not wall_clock:  # shops.bounds: a business date lies between 1970 and tomorrow
            earliest = np.datetime64(bounds.EARLIEST.replace(tzinfo=None))
            latest = np.datetime64(bounds.latest().astimezone(dt.UTC).replace(tzinfo=None))
            known = ~np.isnat(per_value)
            outside = np.zeros(len(per_value), dtype=bool)
            outside[known] = (per_value[known] < earliest) | (per_value[known] > latest)
            self.reject(
                outside[col.codes],
                name,
                lambda p: _("“%(value)s” is not between 1970-01-01 and tomorrow.") % {"value": col.value(p)},
            )
        return per_value[col.codes]

    def boolean(self, name: str) -> np.ndarray:
        """Per row 1 (yes), 0 (no) or -1 (empty); other words are rejected."""
        col = self.field(name).map(lambda u: u.str.lower())
        known = col.mask(lambda u: u.isin(TRUE_WORDS | FALSE_WORDS) | (u == ""))
        self.reject(~known, name, lambda p: _("“%(value)s” is not yes or no.") % {"value": col.value(p)})
        per_value = np.array([1 if v in TRUE_WORDS else (0 if v in FALSE_WORDS else -1) for v in col.uniques])
        return per_value[col.codes]

    def emails(self) -> Col:
        col = self.text("email", strict_length=True).map(lambda u: u.str.lower())
        bad = col.mask(lambda u: (u != "") & ~u.str.match(EMAIL))
        self.reject(bad, "email", lambda p: _("“%(value)s” is not an email address.") % {"value": col.value(p)})
        return col

    def customer_keys(self) -> tuple[Col, Col]:
        """(emails, customer key): the customer id ("17850.0" -> "17850"), else the email."""
        ids = self.text("customer_id", strict_length=True).map(lambda u: u.str.replace(_FLOAT_ID, r"\1", regex=True))
        if self.preset.zero_customer_is_guest:
            ids = ids.map(lambda u: u.where(u != "0", ""))
        emails = self.emails() if self.has("email") else self.field("email")
        if not self.has("email"):
            return emails, ids
        if not self.has("customer_id"):
            return emails, emails
        return emails, ids.coalesce(emails)

    def names(self) -> tuple[Col, Col]:
        """(first, last) names; a full name fills them where both are empty (split at the first space)."""
        first, last = self.text("first_name"), self.text("last_name")
        if not self.has("full_name"):
            return first, last
        full = self.field("full_name").map(lambda u: u.str.replace(_WHITESPACE, " ", regex=True))
        given = full.map(lambda u: u.str.split(" ", n=1).str[0].fillna("").str.slice(0, 100))
        family = full.map(lambda u: u.str.split(" ", n=1).str[1].fillna("").str.slice(0, 100))
        use_full = first.empty() & last.empty()
        if use_full.all():
            return given, family
        return (
            Col.of(np.where(use_full, given.values(), first.values())),
            Col.of(np.where(use_full, family.values(), last.values())),
        )

    def row_status(self, name: str) -> Col:
        """OrderStatus per row from a status column ("" where empty); unknown words are rejected."""
        if not self.has(name):
            return Col.constant("", self.n)
        original = self.field(name)
        words = original.map(lambda u: u.str.lower().str.replace(r"^wc-", "", regex=True).str.replace(" ", "_"))
        known_words = STATUS_WORDS | self.preset.status_words if self.preset.status_words else STATUS_WORDS
        unknown = words.mask(lambda u: u.map(known_words).isna() & (u != ""))
        self.reject(
            unknown,
            name,
            lambda p: (
                _("“%(value)s” is not an order status this importer knows (paid, pending, cancelled, returned, …).")
                % {"value": original.value(p)}
            ),
        )
        return words.map(lambda u: u.map(known_words).fillna(""))

    # --- orders ---------------------------------------------------------------------------------

    def clean_orders(self) -> None:
        for name in ("order_id", "ordered_at", "quantity", "unit_price"):
            self.require(name)
        order = self.text("order_id", strict_length=True)
        sku = self.text("sku", strict_length=True)
        product_name = self.text("product_name")
        self.errors.add(
            sku.empty() & product_name.empty(),
            self.rows,
            self.column("sku") or self.column("product_name"),
            _("A SKU or a product name is needed."),
        )
        quantity = self.integer("quantity")
        price = self.money("unit_price")
        placed_at = self.dates("ordered_at")
        emails, customer = self.customer_keys()
        first, last = self.names()
        currency = self.text("currency").map(lambda u: u.str.upper())
        bad_currency = currency.mask(lambda u: (u != "") & ~u.str.match(CURRENCY))
        self.reject(bad_currency, "currency", _("A currency is a three-letter code such as EUR."))
        status, financial = self.row_status("status"), self.row_status("financial_status")
        order_total = self.money("order_total") if self.has("order_total") else None
        consent = self.boolean("email_consent") if self.has("email_consent") else None
        amounts = {name: self.money(name) for name in ORDER_AMOUNTS if self.has(name)}
        if not self.has("sku"):
            product = product_name.map(_name_keys)
        elif not self.has("product_name"):
            product = sku
        else:
            product = sku.coalesce(product_name.map(_name_keys))
        cents, remainder = self.discounted_prices(quantity, price.cents)

        self._check_money_signs(order, quantity, cents, order_total)
        if "refunded_amount" in amounts:
            self._check_refunds(order, amounts["refunded_amount"], order_total)

        good = np.flatnonzero(~self.errors.rejected)
        if not len(good):
            return
        quantity, cents, remainder, placed_at = quantity[good], cents[good], remainder[good], placed_at[good]
        counters = self.result.counters
        counters["zero_price_lines"] = int(price.zero[good].sum())
        counters["negative_price_lines"] = int(price.negative[good].sum())
        counters["negative_quantity_lines"] = int((quantity < 0).sum())
        customer = customer.take(good)
        counters["guest_lines"] = int(customer.empty().sum())

        order = order.take(good)
        order_pos, order_codes = groups_of(order.codes)
        n_orders = len(order_codes)
        customer_pos, customers = self._customers(
            customer,
            placed_at,
            {
                "email": emails,
                "first_name": first,
                "last_name": last,
                "phone": self.text("phone"),
                "city": self.text("city"),
                "country": self.text("country"),
                "province": self.text("province"),
                "postcode": self.text("postcode"),
            },
            good,
            consent[good] if consent is not None else None,
        )
        product_pos, products = self._products(product.take(good), sku.take(good), product_name.take(good), good)

        # Order level: the first non-empty value of the order's rows (Shopify fills them on the first row only).
        frame = pd.DataFrame({"order": order_pos, "placed": placed_at.view(np.int64), "quantity": quantity})
        frame["amount"] = quantity * cents + remainder
        grouped = frame.groupby("order", sort=True)
        placed_min = grouped["placed"].min().to_numpy()
        placed_max = grouped["placed"].max().to_numpy()
        lines_cents = grouped["amount"].sum().to_numpy()
        all_negative = grouped["quantity"].max().to_numpy() < 0

        def first_of(col: Col) -> np.ndarray:
            col = col.take(good)
            return decode(col, first_per_group(order_pos, n_orders, col.codes, col.code_of("")))

        def first_amount(money: readers.MoneyColumn) -> tuple[np.ndarray, np.ndarray]:
            """(cents, stated) per order: the first amount on the order's rows, 0 and False for none."""
            stated = first_of(Col.of(np.where(money.empty | money.bad, "", money.cents.astype(str))))
            present = stated != ""
            return pd.to_numeric(np.where(present, stated, "0")).astype(np.int64), present

        with_customer = customer_pos >= 0
        order_customer = first_per_group(order_pos[with_customer], n_orders, customer_pos[with_customer], -1)
        several_customers = int(
            (pd.Series(customer_pos[with_customer]).groupby(order_pos[with_customer]).nunique() > 1).sum()
        )
        order_status = first_of(status)
        order_status = np.where(order_status == "", first_of(financial), order_status)
        order_status = np.where(order_status == "", str(OrderStatus.PAID), order_status)
        external_ids = order.uniques[order_codes]
        if self.preset.cancellation_prefix:
            credit_note = pd.Series(external_ids, dtype=object).str.startswith(self.preset.cancellation_prefix)
            order_status = np.where(credit_note.to_numpy(), str(OrderStatus.RETURNED), order_status)
        # ADR 0007: a sale's total is what it sold (its negative lines are partial refunds); an
        # order of returns only is a credit note, with a negative total and status "returned"
        sold_cents = frame.assign(amount=np.maximum(frame["amount"], 0)).groupby("order", sort=True)["amount"].sum()
        sold_cents = sold_cents.to_numpy()
        back_cents = lines_cents - sold_cents  # <= 0: the negative lines
        lines_cents = np.where(sold_cents > 0, sold_cents, lines_cents)
        order_status = np.where(
            (order_status == str(OrderStatus.PAID)) & all_negative, str(OrderStatus.RETURNED), order_status
        )
        if self.has("cancelled_at"):
            order_status = np.where(
                first_of(self.field("cancelled_at")) != "", str(OrderStatus.CANCELLED), order_status
            )
        order_currency = first_of(currency)
        order_currency = np.where(order_currency == "", self.currency, order_currency)
        total_cents = lines_cents
        if order_total is not None:
            stated_total, stated = first_amount(order_total)
            total_cents = np.where(stated, stated_total, lines_cents)
        order_status = np.where(
            (order_status == str(OrderStatus.PAID)) & (np.asarray(total_cents) < 0),
            str(OrderStatus.RETURNED),
            order_status,
        )
        # ADR 0007: a refunded amount on a sale is a negative line worth exactly that much, with no
        # product (the file does not say which goods came back); a sale refunded in full is returned.
        refund_cents = np.zeros(n_orders, dtype=np.int64)
        if "refunded_amount" in amounts:
            refunded, _stated = first_amount(amounts["refunded_amount"])
            refund_cents = np.where(order_status == str(OrderStatus.PAID), refunded, 0)
            whole = (refund_cents > 0) & (refund_cents >= np.asarray(total_cents))
            order_status = np.where(whole, str(OrderStatus.RETURNED), order_status)
            refund_cents = np.where(whole, 0, refund_cents)
        extra_columns: dict[str, object] = {}
        for name in ("shipping", "tax", "discount"):
            if name in amounts:
                value, present = first_amount(amounts[name])
                extra_columns[f"{name}_cents"] = pd.array(np.where(present, value, 0), dtype="Int64")
                extra_columns[f"{name}_cents"][~present] = pd.NA
        if self.has("discount_code"):
            extra_columns["discount_code"] = first_of(self.text("discount_code"))

        self.result.orders = pd.DataFrame(
            {
                "external_id": external_ids,
                "placed_at": placed_min.view("datetime64[ns]"),
                "customer_pos": order_customer,
                "currency": order_currency,
                "status": order_status,
                "total_cents": np.asarray(total_cents, dtype=np.int64),
                "lines_cents": lines_cents,
                "returned_lines_cents": -back_cents + refund_cents,
            }
            | extra_columns
        )
        self.result.customers = customers
        self.result.products = products
        self.result.lines = _lines_frame(order_pos, product_pos, quantity, cents, remainder, refund_cents)
        self._order_warnings(
            int((placed_min != placed_max).sum()), several_customers, self._unrefunded_orders(order_pos, good)
        )

    def discounted_prices(self, quantity: np.ndarray, cents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(unit price, remainder) per row after the line's discount (Shopify's Lineitem discount).

        The discount is on the whole line: the line is worth quantity x price - discount, and its
        unit price is that divided by the quantity, in whole cents rounded down; `remainder`
        units (fewer than the quantity) cost one cent more, so the line's cents add up exactly
        (the lines frame splits such a line in two). Without a discount column: the prices as
        written, no remainder. A negative discount, or one worth more than the line, is rejected.
        """
        remainder = np.zeros(len(cents), dtype=np.int64)
        if not self.has("line_discount"):
            return cents, remainder
        discount = self.money("line_discount")
        off = np.where(discount.empty | discount.bad, 0, discount.cents)
        self.reject(off < 0, "line_discount", _("A line discount cannot be negative."))
        value = quantity.astype(np.int64) * cents - off
        applies = (off > 0) & (quantity > 0)
        self.reject(
            applies & (value < 0),
            "line_discount",
            lambda p: (
                _("The line discount (%(discount)s) is more than the line is worth (%(value)s).")
                % {
                    "discount": readers.cents_to_decimal(int(off[p])),
                    "value": readers.cents_to_decimal(int(value[p] + off[p])),
                }
            ),
        )
        applies &= value >= 0
        divisor = np.where(applies, quantity, 1)
        per_unit = np.where(applies, np.floor_divide(value, divisor), cents)
        remainder[applies] = (value - per_unit * divisor)[applies]
        return per_unit, remainder

    def _check_refunds(
        self, order: Col, refunded: readers.MoneyColumn, order_total: readers.MoneyColumn | None
    ) -> None:
        """Reject the rows of orders whose refunded amount is negative or more than the order's total
        (ADR 0007: what goes back is never worth more than the sale)."""
        amount = np.where(refunded.empty | refunded.bad, 0, refunded.cents)
        self.reject(amount < 0, "refunded_amount", _("A refunded amount cannot be negative."))
        if order_total is None:
            return
        total = np.where(order_total.empty | order_total.bad, -1, order_total.cents)
        per_order = pd.DataFrame({"order": order.codes, "back": amount, "total": total}).groupby("order").max()
        too_much = per_order.index[(per_order["total"] >= 0) & (per_order["back"] > per_order["total"])]
        self.reject(
            np.isin(order.codes, too_much),
            "refunded_amount",
            _("The refunded amount is more than the order's total."),
        )

    def _unrefunded_orders(self, order_pos: np.ndarray, good: np.ndarray) -> int:
        """Orders marked partially refunded whose refund the file does not give (no refunded amount column)."""
        if not self.has("financial_status") or self.has("refunded_amount"):
            return 0
        words = self.field("financial_status").map(lambda u: u.str.lower().str.replace(" ", "_")).take(good)
        return len(np.unique(order_pos[words.mask(lambda u: u == "partially_refunded")]))

    def _check_money_signs(
        self, order: Col, quantity: np.ndarray, cents: np.ndarray, order_total: readers.MoneyColumn | None
    ) -> None:
        """Reject the rows of orders that cannot be read one way under ADR 0007.

        A credit note (id with the preset's cancellation prefix) must only take goods back; the
        returned lines of a sale must not be worth more than the sale (record such returns as
        a credit note of their own).
        """
        ok = np.flatnonzero(~self.errors.rejected)
        if not len(ok):
            return
        amount = quantity[ok].astype(np.int64) * cents[ok].astype(np.int64)
        codes = order.codes[ok]
        frame = pd.DataFrame({"order": codes, "sold": np.maximum(amount, 0), "back": np.maximum(-amount, 0)})
        per_order = frame.groupby("order")[["sold", "back"]].sum()
        if order_total is not None:
            stated = pd.Series(np.where(order_total.empty | order_total.bad, -1, order_total.cents)[ok]).groupby(codes)
            cap = stated.max().reindex(per_order.index)
            per_order["sold"] = np.where(cap >= 0, cap, per_order["sold"])
        too_much = per_order.index[(per_order["sold"] > 0) & (per_order["back"] > per_order["sold"])]
        mask = np.zeros(len(self.errors.rejected), dtype=bool)
        mask[ok[np.isin(codes, too_much)]] = True
        self.reject(
            mask,
            "order_id",
            _(
                "This order returns goods worth more than it sold; record the return as a credit note "
                "(an order of its own with negative quantities)."
            ),
        )
        prefix = self.preset.cancellation_prefix
        if prefix:
            credit = pd.Series(order.uniques, dtype=object).str.startswith(prefix).to_numpy()[codes]
            mask = np.zeros(len(self.errors.rejected), dtype=bool)
            mask[ok[credit & (quantity[ok] > 0) & (cents[ok] > 0)]] = True
            self.reject(
                mask,
                "quantity",
                _("A credit note (order id starting with %(prefix)s) takes goods back: the quantity must be negative.")
                % {"prefix": prefix},
            )

    def _customers(
        self,
        key: Col,
        placed_at: np.ndarray,
        attributes: dict[str, Col],
        good: np.ndarray,
        consent: np.ndarray | None,
    ) -> tuple[np.ndarray, pd.DataFrame]:
        """(customer position per good row, -1 for guests; the customers frame). Attributes come
        from the customer's most recent order (a customer who moved has the new country)."""
        with_key = np.flatnonzero(~key.empty())
        position = np.full(len(key), -1, dtype=np.int64)
        groups, codes = groups_of(key.codes[with_key])
        position[with_key] = groups
        n = len(codes)
        data: dict[str, np.ndarray] = {"external_id": key.uniques[codes]}
        by_time = with_key[np.argsort(placed_at[with_key], kind="stable")]
        for name, col in attributes.items():
            if not (self.has(name) or (name in ("first_name", "last_name") and self.has("full_name"))):
                continue
            col = col.take(good)
            last = first_per_group(position[by_time], n, col.codes[by_time], col.code_of(""), last=True)
            data[name] = decode(col, last)
        if consent is not None:
            last = first_per_group(position[by_time], n, consent[by_time], -1, last=True)
            data["email_consent"] = np.where(last < 0, None, last == 1)
        return position, pd.DataFrame(data)

    def _products(self, key: Col, sku: Col, name: Col, good: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
        """(product position per good row; the products frame). The title is the name used most
        often for the product (ties: alphabetical first), else the SKU."""
        position, codes = groups_of(key.codes)
        n = len(codes)
        data: dict[str, np.ndarray] = {"external_id": key.uniques[codes]}
        data["sku"] = decode(sku, first_per_group(position, n, sku.codes, sku.code_of("")))
        titles = np.full(n, "", dtype=object)
        named = np.flatnonzero(~name.empty())
        if len(named):
            pairs = pd.DataFrame({"product": position[named], "name": name.codes[named]})
            counts = pairs.value_counts().rename("n").reset_index()
            name_rank = np.empty(len(name.uniques), dtype=np.int64)
            name_rank[np.argsort(name.uniques.astype(str), kind="stable")] = np.arange(len(name.uniques))
            counts["rank"] = name_rank[counts["name"].to_numpy()]
            best = counts.sort_values(["product", "n", "rank"], ascending=[True, False, True]).drop_duplicates(
                "product"
            )
            titles[best["product"].to_numpy()] = name.uniques[best["name"].to_numpy()]
        data["title"] = np.where(titles == "", data["sku"], titles)
        for attribute in ("category", "brand"):
            if self.has(attribute):
                col = self.text(attribute).take(good)
                data[attribute] = decode(col, first_per_group(position, n, col.codes, col.code_of("")))
        return position, pd.DataFrame(data)

    def _order_warnings(self, several_dates: int, several_customers: int, unrefunded: int) -> None:
        counters, warnings = self.result.counters, self.result.warnings
        if several_dates:
            warnings.append(
                _("%(count)d orders have lines with different dates; the earliest is the order's date.")
                % {"count": several_dates}
            )
        if several_customers:
            warnings.append(
                _("%(count)d orders have lines from more than one customer; the first customer was used.")
                % {"count": several_customers}
            )
        if unrefunded:
            warnings.append(
                _("%(count)d orders are partially refunded; the refunds are not subtracted from revenue.")
                % {"count": unrefunded}
            )
        if counters.get("zero_price_lines"):
            warnings.append(
                _("%(count)d lines have a price of zero; they are kept and count as no revenue.")
                % {"count": counters["zero_price_lines"]}
            )
        if counters.get("negative_price_lines"):
            warnings.append(
                _(
                    "%(count)d lines have a negative price (e.g. bad-debt adjustments); "
                    "they are kept and reduce revenue."
                )
                % {"count": counters["negative_price_lines"]}
            )

    # --- customers and products files -----------------------------------------------------------

    def _last_row_per_key(self, key: Col, what: str) -> np.ndarray:
        """Positions of the rows kept: per key the last good row; warns about repeated keys."""
        good = np.flatnonzero(~self.errors.rejected)
        groups, _codes = groups_of(key.codes[good])
        reversed_first = np.unique(groups[::-1], return_index=True)[1]
        keep = np.sort(good[len(good) - 1 - reversed_first])
        repeated = len(good) - len(keep)
        if repeated:
            self.result.warnings.append(
                _("%(count)d %(what)s appear on more than one row; the last row wins.")
                % {"count": repeated, "what": what}
            )
        return keep

    def clean_customers(self) -> None:
        emails, key = self.customer_keys()
        self.errors.add(
            key.empty(),
            self.rows,
            self.column("customer_id") or self.column("email"),
            _("A customer id or an email is needed."),
        )
        first, last = self.names()
        data: dict[str, np.ndarray] = {}
        if self.has("email"):
            data["email"] = emails.values()
        if self.has("first_name") or self.has("full_name"):
            data["first_name"] = first.values()
        if self.has("last_name") or self.has("full_name"):
            data["last_name"] = last.values()
        for name in ("phone", "city", "country", "province", "postcode", "tags"):
            if self.has(name):
                data[name] = self.text(name).values()
        reported = self._reported_totals()
        if self.has("birth_date"):
            dates = pd.Series(self.dates("birth_date", wall_clock=True))
            data["birth_date"] = np.where(dates.notna(), dates.dt.date, None)
        if self.has("gender"):
            words = self.field("gender").map(lambda u: u.str.lower())
            unknown = words.mask(lambda u: u.map(GENDER_WORDS).isna())
            self.reject(
                unknown,
                "gender",
                lambda p: (
                    _("“%(value)s” is not a gender this importer knows (female, male, other).")
                    % {"value": words.value(p)}
                ),
            )
            data["gender"] = words.map(lambda u: u.map(GENDER_WORDS).fillna("").astype(str)).values()
        if self.has("email_consent"):
            consent = self.boolean("email_consent")
            data["email_consent"] = np.where(consent < 0, None, consent == 1)
        keep = self._last_row_per_key(key, _("customers"))
        frame = pd.DataFrame({"external_id": key.values()[keep]} | {k: v[keep] for k, v in data.items()})
        self.result.customers = frame.reset_index(drop=True)
        if reported is not None:
            spent, orders = reported
            self.result.warnings.append(
                _(
                    "The file says these %(customers)s customers spent %(spent)s in %(orders)s orders "
                    "(its columns “%(spent_column)s” and “%(orders_column)s”): a figure to check against, "
                    "not imported as orders."
                )
                % {
                    "customers": number_format(len(keep), force_grouping=True),
                    "spent": number_format(readers.cents_to_decimal(int(spent[keep].sum())), 2, force_grouping=True),
                    "orders": number_format(int(orders[keep].sum()), force_grouping=True),
                    "spent_column": self.column("reported_spent"),
                    "orders_column": self.column("reported_orders"),
                }
            )

    def _reported_totals(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(cents, orders) per row of the platform's own totals per customer (Shopify's Total Spent
        and Total Orders), when the file has both; they are a check for the report, never stored."""
        if not (self.has("reported_spent") and self.has("reported_orders")):
            return None
        spent = self.money("reported_spent")
        return np.where(spent.empty | spent.bad, 0, spent.cents), self.integer("reported_orders")

    def clean_products(self) -> None:
        sku = self.text("sku", strict_length=True)
        title = self.text("title")
        key = sku.coalesce(title.map(_name_keys)) if self.has("title") else sku
        self.errors.add(
            key.empty(), self.rows, self.column("sku") or self.column("title"), _("A SKU or a title is needed.")
        )
        data: dict[str, np.ndarray] = {"sku": sku.values(), "title": title.coalesce(sku).values()}
        for name in ("category", "brand", "image_url", "tags"):
            if self.has(name):
                data[name] = self.text(name).values()
        if self.has("price"):
            price = self.money("price")
            data["price_cents"] = np.where(price.empty, None, price.cents)
        keep = self._last_row_per_key(key, _("products"))
        frame = pd.DataFrame({"external_id": key.values()[keep]} | {k: v[keep] for k, v in data.items()})
        self.result.products = frame.reset_index(drop=True)

    def run(self) -> CleanResult:
        if not self.n:
            raise FileRejected(_("The file has no data rows."))
        {
            ImportKind.ORDERS: self.clean_orders,
            ImportKind.CUSTOMERS: self.clean_customers,
            ImportKind.PRODUCTS: self.clean_products,
        }[self.kind]()
        if self.truncated:
            self.result.warnings.append(
                _("%(count)d values were longer than their field allows and were shortened.")
                % {"count": self.truncated}
            )
        return self.result


def clean_table(
    table: RawTable,
    *,
    kind: str,
    preset: Preset,
    mapping: ColumnMapping,
    tz: str,
    currency: str,
    date_formats: dict[str, str] | None = None,
) -> CleanResult:
    """Clean a whole table for `kind` with a complete `mapping`.

    Naive times are taken in time zone `tz`; orders without a currency get `currency`.
    `date_formats` (field -> day-first / month-first / iso / strftime) overrides detection.
    Raises FileRejected for problems of the whole file (no data rows, an ambiguous date
    column); problem rows are listed in result.errors and left out of the frames.
    """
    return _Cleaner(
        table, kind=kind, preset=preset, mapping=mapping, tz=tz, currency=currency, date_formats=date_formats or {}
    ).run()
