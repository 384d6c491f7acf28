"""CSV import: the entry point import_file() and the upload -> preview -> job flow around it.

import_file() reads, cleans and writes one file for one shop and returns an ImportReport;
it never raises for a bad file (the report says "rejected" and why). Its write is one
transaction: all-or-nothing unless allow_partial, and a dry run rolls it back.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, OperationalError, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from customers.importers import readers, writer
from customers.importers.cleaning import CleanResult, ambiguous_date_message, clean_table, detect_dates
from customers.importers.presets import (
    CUSTOM,
    FIELDS_BY_KIND,
    GENERIC,
    KIND_PRESETS,
    ColumnMapping,
    Preset,
    UnknownPreset,
    describe_missing,
    get_preset,
    resolve_mapping,
)
from customers.importers.readers import FileRejected
from customers.importers.recognition import recognise_layout
from customers.models import ImportJob, ImportKind, ImportStatus, OrderStatus
from customers.signals import data_changed
from shops.models import Shop
from shops.scope import shop_scope

logger = logging.getLogger(__name__)

IMPORTED, DRY_RUN, REJECTED = "imported", "dry_run", "rejected"
# Seconds an import may run; a "running" job older than this (plus a margin) may be claimed again.
IMPORT_TIME_LIMIT = 60 * 20
PROGRESS_EVERY_SECONDS = 1.0
PREVIEW_ROWS = 10

ProgressFn = Callable[[str, int, int], None]


@dataclass
class ImportReport:
    """What an import did, as the command prints it (--json) and the job page shows it.

    status: "imported", "dry_run" (everything checked and counted, nothing kept) or
    "rejected" (nothing written; errors say why). Entity counts are distinct orders,
    customers and products in the imported rows; `changes` says which were created,
    updated or left unchanged and, for customers and products, how they were found
    (writer.MatchedChanges: matched by a known id, linked by email, phone or SKU, erased).
    net_revenue is sales minus returns (paid and returned orders).
    """

    status: str = IMPORTED
    kind: str = ImportKind.ORDERS
    preset: str = ""
    filename: str = ""
    dry_run: bool = False
    allow_partial: bool = False
    encoding: str = ""
    delimiter: str = ""
    mapping: dict[str, str] = field(default_factory=dict)
    date_formats: dict[str, str] = field(default_factory=dict)
    rows_read: int = 0
    rows_imported: int = 0
    rows_rejected: int = 0
    duplicates_dropped: int = 0
    blank_rows: int = 0
    orders: int = 0
    cancelled_orders: int = 0
    returned_orders: int = 0
    pending_orders: int = 0
    guest_orders: int = 0
    customers: int = 0
    products: int = 0
    order_lines: int = 0
    guest_lines: int = 0
    net_revenue: Decimal = Decimal("0.00")
    zero_price_lines: int = 0
    negative_price_lines: int = 0
    negative_quantity_lines: int = 0
    changes: dict[str, dict[str, int]] = field(default_factory=dict)
    lines_written: int = 0
    lines_deleted: int = 0
    errors: list[dict] = field(default_factory=list)
    errors_not_shown: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def rejected(self) -> bool:
        return self.status == REJECTED

    def reject(self, message: str, *, column: str = "") -> ImportReport:
        """Mark the whole file rejected with one error that is not about a single row."""
        self.status = REJECTED
        self.errors.insert(0, {"row": None, "column": column, "message": str(message)})
        return self

    def to_dict(self) -> dict:
        data = asdict(self)
        data["net_revenue"] = str(self.net_revenue)
        data["warnings"] = [str(w) for w in self.warnings]
        return data


class JobProgress:
    """Progress callback that writes ImportJob.rows_done / rows_total a few times, not per row.

    Inside the import's transaction its own writes would only show after the commit, so on
    PostgreSQL it writes through a second connection; on SQLite (one writer at a time) it
    skips the updates made inside the transaction.
    """

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.last = 0.0
        self.stage = ""
        self._side = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage == self.stage and now - self.last < PROGRESS_EVERY_SECONDS and done < total:
            return
        self.stage, self.last = stage, now
        table = ImportJob._meta.db_table
        sql = f"UPDATE {table} SET rows_done = %s, rows_total = %s, report = %s WHERE id = %s"  # noqa: S608
        try:
            if not connection.in_atomic_block:
                ImportJob.unscoped.filter(pk=self.job_id).update(
                    rows_done=done, rows_total=total, report={"stage": stage}
                )
            elif connection.vendor == "postgresql":
                if self._side is None:
                    self._side = connections.create_connection("default")
                    self._side.set_autocommit(True)
                with self._side.cursor() as cursor:
                    cursor.execute(sql, [done, total, json.dumps({"stage": stage}), self.job_id])
        except DatabaseError:  # progress is a nicety; never fail an import over it
            logger.warning("could not record progress of import job %s", self.job_id, exc_info=True)

    def close(self) -> None:
        if self._side is not None:
            self._side.close()
            self._side = None


def _count_report(report: ImportReport, cleaned: CleanResult) -> None:
    report.rows_read = cleaned.rows_read
    report.blank_rows = cleaned.blank_rows
    report.duplicates_dropped = cleaned.duplicates_dropped
    report.rows_rejected = cleaned.rows_rejected
    report.date_formats = cleaned.date_formats
    report.warnings.extend(str(w) for w in cleaned.warnings)
    report.errors.extend(cleaned.errors.as_list())
    report.errors_not_shown = cleaned.errors.not_shown
    for name in ("zero_price_lines", "negative_price_lines", "negative_quantity_lines", "guest_lines"):
        setattr(report, name, cleaned.counters.get(name, 0))


def _fill_entity_counts(report: ImportReport, cleaned: CleanResult) -> None:
    report.rows_imported = report.rows_read - report.duplicates_dropped - report.rows_rejected
    if cleaned.orders is not None:
        status = cleaned.orders["status"]
        report.orders = len(cleaned.orders)
        report.cancelled_orders = int((status == OrderStatus.CANCELLED).sum())
        report.returned_orders = int((status == OrderStatus.RETURNED).sum())
        report.pending_orders = int((status == OrderStatus.PENDING).sum())
        report.guest_orders = int((cleaned.orders["customer_pos"] < 0).sum())
        report.order_lines = len(cleaned.lines)
        report.net_revenue = writer.net_revenue(cleaned.orders)
    if cleaned.customers is not None:
        report.customers = len(cleaned.customers)
    if cleaned.products is not None:
        report.products = len(cleaned.products)


def _write(*, shop: Shop, cleaned: CleanResult, progress: ProgressFn | None) -> writer.WriteResult:
    result = writer.WriteResult()
    if progress:
        progress("writing", 0, len(cleaned.lines) if cleaned.lines is not None else 0)
    customer_ids = product_ids = np.zeros(0, dtype=np.int64)
    if cleaned.customers is not None and len(cleaned.customers):
        customer_ids, result.customers = writer.upsert_customers(shop=shop, customers=cleaned.customers)
    if cleaned.products is not None and len(cleaned.products):
        product_ids, result.products = writer.upsert_products(shop=shop, products=cleaned.products)
    if cleaned.orders is not None and len(cleaned.orders):
        result.orders, result.lines_written, result.lines_deleted = writer.upsert_orders(
            shop=shop,
            orders=cleaned.orders,
            lines=cleaned.lines,
            customer_ids=customer_ids,
            product_ids=product_ids,
            progress=progress,
        )
    return result


def import_file(
    *,
    shop: Shop,
    path: Path | str,
    kind: str = ImportKind.ORDERS,
    preset: str = "generic",
    mapping: dict[str, str] | None = None,
    date_formats: dict[str, str] | None = None,
    encoding: str = "",
    delimiter: str = "",
    allow_partial: bool = False,
    dry_run: bool = False,
    filename: str = "",
    progress: ProgressFn | None = None,
) -> ImportReport:
    """Import one CSV file (plain, gzip / xz / bzip2, or a zip's first CSV) into `shop`; returns the report.

    `mapping` (field -> column) replaces the preset's column names; `date_formats`
    (field -> "day-first" / "month-first" / "iso" / strftime) settles date columns.
    Refuses, writing nothing, a file it cannot read, one without the required columns, one
    with an ambiguous date column, and (unless `allow_partial`) one with any rejected row.
    A dry run does all the work inside a transaction that is rolled back.
    """
    started = time.monotonic()
    report = ImportReport(
        kind=str(kind),
        preset=preset,
        filename=filename or Path(path).name,
        dry_run=dry_run,
        allow_partial=allow_partial,
    )
    try:
        preset_obj = get_preset(kind, preset)
    except UnknownPreset as exc:
        return report.reject(str(exc))
    if progress:
        progress("reading", 0, 0)
    try:
        table = readers.read_csv_file(path, encoding=encoding or preset_obj.encoding, delimiter=delimiter)
        if preset_obj.prepare is not None:
            table = preset_obj.prepare(table, path=Path(path))
    except FileRejected as exc:
        return report.reject(exc.message, column=exc.column)
    report.encoding, report.delimiter = table.encoding, table.delimiter
    report.timings["read"] = round(time.monotonic() - started, 2)
    column_mapping = resolve_mapping(table.columns, kind=kind, preset=preset_obj, custom=mapping)
    report.mapping = dict(column_mapping.fields)
    if not column_mapping.complete:
        report.rows_read = len(table.frame)
        for sentence in describe_missing(column_mapping.missing, kind=kind, preset=preset_obj):
            report.reject(sentence)
        return report
    if progress:
        progress("checking", 0, len(table.frame))
    try:
        cleaned = clean_table(
            table,
            kind=kind,
            preset=preset_obj,
            mapping=column_mapping,
            tz=shop.timezone,
            currency=shop.currency,
            date_formats=date_formats,
        )
    except FileRejected as exc:
        report.rows_read = len(table.frame)
        return report.reject(exc.message, column=exc.column)
    del table
    report.timings["clean"] = round(time.monotonic() - started - report.timings["read"], 2)
    _count_report(report, cleaned)
    if report.rows_rejected and not allow_partial:
        report.status = REJECTED
        report.warnings.insert(
            0,
            _(
                "%(count)d rows were rejected, so nothing was imported. Fix them, or import the other rows "
                "with --allow-partial (the “import the good rows” box on the page)."
            )
            % {"count": report.rows_rejected},
        )
        report.seconds = round(time.monotonic() - started, 2)
        return report
    _fill_entity_counts(report, cleaned)
    if report.rows_imported <= 0:
        report.seconds = round(time.monotonic() - started, 2)
        return report.reject(_("No row of the file could be imported."))
    if report.rows_rejected:
        report.warnings.insert(
            0,
            _("%(count)d rejected rows were left out; the other rows were imported.") % {"count": report.rows_rejected},
        )
    write_started = time.monotonic()
    with transaction.atomic():
        result = _write(shop=shop, cleaned=cleaned, progress=progress)
        if progress:
            # The commit checks every new line's foreign keys: on a big file it takes a while.
            progress("committing", result.lines_written, result.lines_written)
        if dry_run:
            transaction.set_rollback(True)
    report.timings["write"] = round(time.monotonic() - write_started, 2)
    report.changes = {
        "customers": result.customers.as_dict(),
        "products": result.products.as_dict(),
        "orders": result.orders.as_dict(),
    }
    report.lines_written, report.lines_deleted = result.lines_written, result.lines_deleted
    if dry_run:
        report.status = DRY_RUN
    else:
        shop_id = shop.pk
        transaction.on_commit(lambda: data_changed.send(sender=ImportJob, shop_id=shop_id, reason="import"))
    report.seconds = round(time.monotonic() - started, 2)
    return report


# ---------------------------------------------------------------------------------------------
# The page flow: upload -> preview -> job


def upload_path(*, shop: Shop, filename: str) -> Path:
    """Where an upload is kept: MEDIA_ROOT/imports/<shop id>/<uuid>.csv (keeping .gz / .xz / .bz2 / .zip)."""
    suffix = ".csv"
    for ending in (".gz", ".xz", ".bz2", ".zip"):
        if filename.lower().endswith(ending):
            suffix = ".csv" + ending
    return Path(settings.MEDIA_ROOT) / "imports" / str(shop.pk) / f"{uuid.uuid4().hex}{suffix}"


def _store_upload(upload: UploadedFile, path: Path) -> None:
    with path.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)


def _file_layouts(path: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """(header, recognise_layout of it) for the file: read as detected and, when no signature
    matches, in each preset's own encoding. ([], []) for a file whose header cannot be read
    (the preview says why)."""
    encodings = [""] + sorted({p.encoding for kp in KIND_PRESETS.values() for p in kp.values() if p.encoding})
    best: tuple[list[str], list[tuple[str, str]]] = ([], [])
    tried: set[str] = set()
    for encoding in encodings:
        if encoding and encoding in tried:
            continue
        try:
            columns, used = readers.read_header(path, encoding=encoding)
        except FileRejected:
            continue
        except OSError:
            break
        tried.add(used)
        layouts = recognise_layout(columns)
        if layouts and get_preset(*layouts[0]).signature:
            return columns, layouts
        if not best[0]:
            best = (columns, layouts)
    return best


def _signature_score(layouts: list[tuple[str, str]]) -> int:
    """How many signature headers the best recognised layout has (0: no signature matched)."""
    return len(get_preset(*layouts[0]).signature) if layouts else 0


def _store_uploads(uploads: list[UploadedFile], *, shop: Shop) -> tuple[Path, str]:
    """Keep one upload as it is, or two together as one zip whose first file is the main report
    (the one whose header matches the longer preset signature; the given order on a tie), since
    the readers take a zip's first CSV file as the table and a layout's `prepare` finds the other.
    Returns (stored path, job file name: "orders.csv + items.csv" for two)."""
    if len(uploads) == 1:
        upload = uploads[0]
        path = upload_path(shop=shop, filename=upload.name or "")
        path.parent.mkdir(parents=True, exist_ok=True)
        _store_upload(upload, path)
        return path, upload.name or "upload.csv"
    path = upload_path(shop=shop, filename="uploads.zip")
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = []
    try:
        for number, upload in enumerate(uploads):
            part = path.with_name(f"{path.name}.part{number}")
            parts.append(part)
            _store_upload(upload, part)
        scores = [_signature_score(_file_layouts(part)[1]) for part in parts]
        order = sorted(range(len(uploads)), key=lambda i: -scores[i])
        names: list[str] = []
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for i in order:
                name = Path(uploads[i].name or f"upload{i + 1}.csv").name
                if name in names:
                    name = f"{len(names) + 1}-{name}"
                names.append(name)
                archive.write(parts[i], arcname=name)
    finally:
        for part in parts:
            part.unlink(missing_ok=True)
    return path, " + ".join(names)


def import_job_create(
    *,
    shop: Shop,
    user,
    upload: UploadedFile | Sequence[UploadedFile],
    kind: str,
    preset: str,
    allow_partial: bool = False,
    dry_run: bool = False,
) -> ImportJob:
    """Keep the uploaded file (two files: one zip, see _store_uploads), recognise its layout from
    the header and record an ImportJob in status "uploaded" (the rows are not read yet).

    options["layouts"] lists the recognised (kind, preset) pairs, best first. When the owner
    left the generic layout and exactly one preset's signature matches, the job takes that
    layout (options["chosen_layout"] keeps the owner's choice for the preview to offer back),
    unless it is for another kind and the generic layout of the owner's kind reads the file.
    """
    uploads = [upload] if isinstance(upload, UploadedFile) else list(upload)
    path, filename = _store_uploads(uploads, shop=shop)
    columns, layouts = _file_layouts(path)
    options = {
        "allow_partial": allow_partial,
        "dry_run": dry_run,
        "language": translation.get_language() or "",
        "layouts": [list(layout) for layout in layouts],
    }
    signed = [layout for layout in layouts if get_preset(*layout).signature]
    if preset == GENERIC and len(signed) == 1 and signed[0] != (kind, preset):
        new_kind, new_preset = signed[0]
        generic_fits = resolve_mapping(columns, kind=kind, preset=get_preset(kind, GENERIC)).complete
        if new_kind == kind or not generic_fits:
            options["chosen_layout"] = [kind, preset]
            kind, preset = new_kind, new_preset
    return ImportJob.unscoped.create(
        shop=shop,
        kind=kind,
        preset=preset,
        filename=filename[:255],
        file_path=str(path),
        options=options,
        status=ImportStatus.UPLOADED,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )


@dataclass(frozen=True)
class LayoutNote:
    """What the preview says about the recognised layout: `switched` (the job was moved to
    `layout` from the owner's `other`) or a proposal to use `layout`."""

    layout: Preset
    switched: bool = False
    other: Preset | None = None

    @property
    def kind_label(self) -> str:
        return str(ImportKind(self.layout.kind).label)


def import_layout_note(*, job: ImportJob) -> LayoutNote | None:
    """The preview's note on the layout: the automatic switch made at upload (while the job still
    has that layout), else the best recognised layout when the job's own is not among those
    recognised; None when the job's layout is the recognised one or nothing was recognised."""
    options = job.options or {}
    layouts = options.get("layouts")
    if layouts is None:  # a job from before recognition: read the header now
        layouts = _file_layouts(Path(job.file_path))[1]
    layouts = [tuple(layout) for layout in layouts if _known_layout(*layout)]
    current = (job.kind, GENERIC if job.preset in ("", CUSTOM) else job.preset)
    chosen = options.get("chosen_layout")
    if chosen and _known_layout(*chosen) and layouts and layouts[0] == current:
        return LayoutNote(layout=get_preset(*current), switched=True, other=get_preset(*chosen))
    if not layouts or current in layouts:
        return None
    return LayoutNote(layout=get_preset(*layouts[0]))


def _known_layout(kind: str, preset: str) -> bool:
    return preset in KIND_PRESETS.get(kind, {})


def import_job_set_layout(*, job: ImportJob, kind: str, preset: str) -> ImportJob:
    """Read the job's file with another layout: set kind and preset, forget the column mapping
    and date formats chosen for the old one, and go back to "uploaded".

    Refuses (UnknownPreset) a layout that is not registered, and (ValueError) a job that is
    already queued or running.
    """
    if job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        raise ValueError("import job is already queued or running")
    get_preset(kind, preset)
    options = {k: v for k, v in (job.options or {}).items() if k not in ("mapping", "date_formats", "chosen_layout")}
    job.kind, job.preset, job.options, job.status = kind, preset, options, ImportStatus.UPLOADED
    job.save(update_fields=["kind", "preset", "options", "status"])
    return job


EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"


def import_example_file(*, kind: str, preset: str) -> tuple[Path, Preset] | None:
    """(path, preset) of the example file of a registered preset that names one (Preset.example,
    a file in customers/importers/examples/); None for an unknown preset, one without an
    example, or an example that is missing or outside that folder."""
    found = KIND_PRESETS.get(kind, {}).get(preset)
    if found is None or not found.example:
        return None
    path = (EXAMPLES_DIR / found.example).resolve()
    if EXAMPLES_DIR not in path.parents or not path.is_file():
        return None
    return path, found


@dataclass
class Preview:
    """The first rows of a file as the importer reads them, to confirm before importing.

    `problems`: field ("" for the whole file) -> message, for what must be settled first
    (unreadable file, missing required columns, ambiguous date columns).
    """

    encoding: str = ""
    delimiter: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    mapping: ColumnMapping | None = None
    dates: dict[str, readers.DateDetection] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def field_of_column(self) -> dict[str, str]:
        if self.mapping is None:
            return {}
        return {column: name for name, column in self.mapping.fields.items()}


def import_preview(
    *,
    job: ImportJob,
    mapping: dict[str, str] | None = None,
    date_formats: dict[str, str] | None = None,
) -> Preview:
    """Read the job's file for the preview page: encoding, delimiter, first rows, the mapping
    (`mapping`, else the job's saved one, else the preset's) and each date column's format
    (judged on all its values). Never raises for a bad file: see Preview.problems."""
    preview = Preview()
    options = job.options or {}
    try:
        preset = get_preset(job.kind, job.preset)
        data, preview.encoding = readers.utf8_bytes(
            readers.read_file_bytes(job.file_path), encoding=options.get("encoding", "") or preset.encoding
        )
        table = readers.read_table(data, encoding=preview.encoding, nrows=PREVIEW_ROWS)
        if preset.prepare is not None:
            table = preset.prepare(table, path=Path(job.file_path))
    except (FileRejected, UnknownPreset) as exc:
        preview.problems[""] = getattr(exc, "message", str(exc))
        return preview
    except OSError:
        preview.problems[""] = _("The uploaded file is no longer available; upload it again.")
        return preview
    preview.delimiter = table.delimiter
    preview.columns = table.columns
    preview.rows = table.frame.head(PREVIEW_ROWS).to_numpy().tolist()
    if mapping is None:
        mapping = options.get("mapping")
    preview.mapping = resolve_mapping(table.columns, kind=job.kind, preset=preset, custom=mapping)
    for group, sentence in zip(
        preview.mapping.missing, describe_missing(preview.mapping.missing, kind=job.kind, preset=preset), strict=True
    ):
        preview.problems[group[0]] = sentence
    date_columns = [preview.mapping.fields[name] for name in _date_fields(job.kind) if name in preview.mapping.fields]
    if date_columns:
        frame = readers.read_columns(data, delimiter=table.delimiter, columns=date_columns)
        if any(column not in frame.columns for column in date_columns):
            # The dates are in a report the layout's prepare step joined in (a zip's other file).
            frame = table.frame[date_columns]
        formats = date_formats if date_formats is not None else options.get("date_formats", {})
        preview.dates = detect_dates(frame, preview.mapping, job.kind, formats)
        for name, detection in preview.dates.items():
            if detection.needs_choice:
                preview.problems[name] = ambiguous_date_message(preview.mapping.fields[name], detection)
    return preview


def _date_fields(kind: str) -> list[str]:
    return [name for name, spec in FIELDS_BY_KIND[kind].items() if spec.type == "date"]


def import_job_start(
    *,
    job: ImportJob,
    mapping: dict[str, str] | None,
    date_formats: dict[str, str],
    allow_partial: bool,
    dry_run: bool,
) -> ImportJob:
    """Save the confirmed options, mark the job queued and queue the import once this commits.

    Refuses (ValueError) a job that is already queued or running.
    """
    if job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        raise ValueError("import job is already queued or running")
    options = dict(job.options or {})
    options.update(
        {
            "mapping": mapping,
            "date_formats": {k: v for k, v in date_formats.items() if v},
            "allow_partial": allow_partial,
            "dry_run": dry_run,
        }
    )
    job.options = options
    job.status = ImportStatus.QUEUED
    job.rows_done = job.rows_total = 0
    job.report, job.error = {}, ""
    job.started_at = job.finished_at = None
    job.save(
        update_fields=[
            "options",
            "status",
            "rows_done",
            "rows_total",
            "report",
            "error",
            "started_at",
            "finished_at",
        ]
    )
    from customers.importers.tasks import import_job_run as import_job_run_task

    job_id = job.pk
    transaction.on_commit(lambda: import_job_run_task.delay(job_id))
    return job


def import_job_claim(*, job_id: int) -> bool:
    """Take a queued job (or one left "running" by a dead worker) with one conditional UPDATE;
    False when another worker has it or it is finished, so a job never runs twice at once."""
    now = timezone.now()
    stale = now - dt.timedelta(seconds=IMPORT_TIME_LIMIT + 60)
    claimed = (
        ImportJob.unscoped.filter(pk=job_id)
        .filter(Q(status=ImportStatus.QUEUED) | Q(status=ImportStatus.RUNNING, started_at__lt=stale))
        .update(status=ImportStatus.RUNNING, started_at=now, rows_done=0, rows_total=0, report={"stage": "queued"})
    )
    return claimed == 1


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Run a queued import job: claim it, import its file, store the report. None if not claimed.

    The job ends "done" (imported or dry run), "rejected" (the report says why) or "failed"
    (an unexpected error, kept in job.error and raised again). A real import deletes the
    uploaded file afterwards.
    """
    if not import_job_claim(job_id=job_id):
        return None
    job = ImportJob.unscoped.select_related("shop").get(pk=job_id)
    options = job.options or {}
    progress = JobProgress(job.pk)
    try:
        with shop_scope(job.shop), translation.override(options.get("language") or settings.LANGUAGE_CODE):
            report = import_file(
                shop=job.shop,
                path=job.file_path,
                kind=job.kind,
                preset=job.preset,
                mapping=options.get("mapping"),
                date_formats=options.get("date_formats") or {},
                encoding=options.get("encoding", ""),
                allow_partial=bool(options.get("allow_partial")),
                dry_run=bool(options.get("dry_run")),
                filename=job.filename,
                progress=progress,
            )
    except OperationalError:
        # The database went away: put the job back so the task's retry can claim it again.
        ImportJob.unscoped.filter(pk=job.pk, status=ImportStatus.RUNNING).update(status=ImportStatus.QUEUED)
        raise
    except Exception as exc:
        job.status = ImportStatus.FAILED
        job.error = f"{type(exc).__name__}: {exc}"[:2000]
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
        raise
    finally:
        progress.close()
    job.status = ImportStatus.REJECTED if report.rejected else ImportStatus.DONE
    job.report = report.to_dict()
    job.rows_total = report.rows_read
    job.rows_done = report.rows_imported if not report.rejected else 0
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "report", "rows_total", "rows_done", "finished_at"])
    if report.status == IMPORTED:
        Path(job.file_path).unlink(missing_ok=True)
    return job
