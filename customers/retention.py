"""Copies of personal data kept outside the customer rows: the stored webhook payloads, the
uploaded import files, the API answers kept for Idempotency-Key replays, import and sync
reports. They go with the person when a customer is erased (customers_erase calls
personal_traces_erase), and whatever anyone's, after the retention period
(settings.DATA_RETENTION_DAYS; stored_data_expire, run daily by beat and by
`manage.py expire_stored_data`).

An uploaded CSV file cannot be redacted cheaply, nor does it need to be: once its import is
done, rejected or failed, the job's report is what is kept. So on erasure every file of the
shop's uploads that mentions the person (see customers.redaction.text_mentions; a file that
cannot be read counts) is deleted, except the file of an import queued or running at that
moment: that import meets the erased customer and writes nothing about them, a real import
deletes its file when it ends, and a dry run's file goes with the retention period.
"""

from __future__ import annotations

import bz2
import codecs
import datetime as dt
import gzip
import lzma
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.utils import timezone

from customers.importers.readers import FALLBACK_ENCODINGS, MAX_UNCOMPRESSED_BYTES
from customers.importers.services import upload_path
from customers.models import (
    Customer,
    CustomerIdentity,
    CustomerMerge,
    IdempotencyRecord,
    IdentityKind,
    ImportJob,
    ImportStatus,
    Platform,
    PlatformConnection,
    SyncRun,
    WebhookEvent,
)
from customers.redaction import PersonMarks, json_redact, payload_redact, text_mentions, text_redact
from shops.models import Shop

# An upload nobody started importing is kept this long (its preview may still be open).
ABANDONED_UPLOAD_AGE = dt.timedelta(days=1)
_BUSY = (ImportStatus.QUEUED, ImportStatus.RUNNING)
_NOT_STARTED = (ImportStatus.UPLOADED, ImportStatus.NEEDS_MAPPING)
_READ_BLOCK = 1 << 20
_BATCH = 500


def retention_days() -> int:
    return int(getattr(settings, "DATA_RETENTION_DAYS", 30))


# --------------------------------------------------------------------------- who


def person_marks(*, shop: Shop, customer_ids: list[int]) -> PersonMarks:
    """What identifies these customers, read before they are blanked: their emails and phones,
    current and former (identities, merge records), full names and platform customer ids."""
    platforms = set(Platform.values)
    emails: list[str] = []
    phones: list[str] = []
    names: list[str] = []
    platform_ids: list[tuple[str, str]] = []
    rows = Customer.objects.for_shop(shop).filter(pk__in=customer_ids)
    for email, phone, first, last, source, external_id in rows.values_list(
        "email", "phone", "first_name", "last_name", "source", "external_id"
    ):
        emails.append(email)
        phones.append(phone)
        names.append(f"{first} {last}")
        if source in platforms:
            platform_ids.append((source, external_id))
    identities = CustomerIdentity.objects.for_shop(shop).filter(customer_id__in=customer_ids)
    for source, external_id in identities.values_list("source", "external_id"):
        if source == IdentityKind.EMAIL or "@" in external_id:
            emails.append(external_id)
        elif source == IdentityKind.PHONE:
            phones.append(external_id)
        elif source in platforms:
            platform_ids.append((source, external_id))
    merges = CustomerMerge.objects.for_shop(shop).filter(survivor_id__in=customer_ids)
    for snapshot in merges.values_list("snapshot", flat=True):
        fields = (snapshot or {}).get("fields") or {}
        emails.append(fields.get("email") or "")
        phones.append(fields.get("phone") or "")
        names.append(f"{fields.get('first_name') or ''} {fields.get('last_name') or ''}")
    return PersonMarks.build(
        emails=emails, phones=phones, names=names, platform_ids=platform_ids, region=shop.phone_region
    )


# --------------------------------------------------------------------------- erasure


def personal_traces_erase(*, shop: Shop, marks: PersonMarks) -> dict[str, int]:
    """Remove what the shop's stored payloads, API answers, reports and uploaded files hold
    about the people `marks` identifies; returns how many of each were changed or deleted.
    Runs inside the erasure's transaction (the files are deleted at once: they are not needed
    whatever the transaction ends in)."""
    if not marks:
        return {}
    import_jobs = _json_field_redact(ImportJob, shop, marks, ["report"], texts=["error", "filename"])
    ImportJob.objects.for_shop(shop).filter(filename="").update(filename="—")  # a file named after them
    return {
        "webhook_events": webhook_payloads_redact(shop=shop, marks=marks),
        "idempotency_records": _json_field_redact(IdempotencyRecord, shop, marks, ["response_body"]),
        "import_jobs": import_jobs,
        "sync_runs": _json_field_redact(SyncRun, shop, marks, ["report"], texts=["error"]),
        "connections": _json_field_redact(PlatformConnection, shop, marks, [], texts=["last_error"]),
        "import_files": import_files_erase(shop=shop, marks=marks),
    }


def _customer_record_topics(platform: str) -> frozenset[str]:
    from customers.integrations.services import platform_module  # integrations imports this module

    return platform_module(platform).CUSTOMER_RECORD_TOPICS


def webhook_payloads_redact(*, shop: Shop, marks: PersonMarks) -> int:
    """Redact every stored payload of the shop that names or mentions them (see
    customers.redaction.payload_redact); returns how many events changed. Each payload is read:
    a database text search would miss an address or name spelled differently."""
    events = WebhookEvent.objects.for_shop(shop).only("pk", "platform", "topic", "payload", "error").order_by("pk")
    changed: list[WebhookEvent] = []
    total = 0
    for event in events.iterator(chunk_size=_BATCH):
        record = event.topic in _customer_record_topics(event.platform)
        payload, touched = payload_redact(event.payload, marks, source=event.platform, customer_record=record)
        error = text_redact(event.error, marks)
        if touched or error != event.error:
            event.payload, event.error = payload, error
            changed.append(event)
        if len(changed) >= _BATCH:
            total += _save(WebhookEvent, changed, ["payload", "error"])
    return total + _save(WebhookEvent, changed, ["payload", "error"])


def _save(model: type, rows: list, fields: list[str]) -> int:
    model.unscoped.bulk_update(rows, fields, batch_size=_BATCH)
    count = len(rows)
    rows.clear()
    return count


def _json_field_redact(model: type, shop: Shop, marks: PersonMarks, fields: list[str], texts: list[str] = ()) -> int:
    """Blank the texts that mention them in these JSON and text fields of the shop's rows."""
    rows = model.objects.for_shop(shop).only("pk", *fields, *texts).order_by("pk")
    changed: list = []
    total = 0
    for row in rows.iterator(chunk_size=_BATCH):
        touched = False
        for name in fields:
            value, redacted = json_redact(getattr(row, name), marks)
            if redacted:
                setattr(row, name, value)
                touched = True
        for name in texts:
            value = text_redact(getattr(row, name), marks)
            if value != getattr(row, name):
                setattr(row, name, value)
                touched = True
        if touched:
            changed.append(row)
        if len(changed) >= _BATCH:
            total += _save(model, changed, [*fields, *texts])
    return total + _save(model, changed, [*fields, *texts])


def webhook_payloads_clear(*, shop: Shop, platform: str) -> int:
    """Empty every stored payload the shop received from `platform` (Shopify's shop/redact),
    keeping each event's id, topic and status (redeliveries are still recognised); returns how many."""
    return _payloads_empty(WebhookEvent.objects.for_shop(shop).filter(platform=platform))


# --------------------------------------------------------------------------- files


def _shop_upload_folder(shop: Shop) -> Path:
    return upload_path(shop=shop, filename="upload.csv").parent


def _busy_files(shop_filter: dict[str, Any]) -> set[Path]:
    paths = ImportJob.unscoped.filter(**shop_filter, status__in=_BUSY).values_list("file_path", flat=True)
    return {Path(p).resolve() for p in paths if p}


def _upload_files(shop: Shop) -> list[Path]:
    """The shop's upload folder's files, and any job's file kept elsewhere (MEDIA_ROOT moved)."""
    folder = _shop_upload_folder(shop)
    found = {p.resolve() for p in folder.iterdir() if p.is_file()} if folder.is_dir() else set()
    for path in ImportJob.objects.for_shop(shop).values_list("file_path", flat=True):
        if path and Path(path).is_file():
            found.add(Path(path).resolve())
    return sorted(found)


def import_files_erase(*, shop: Shop, marks: PersonMarks) -> int:
    """Delete the shop's uploaded files that mention them (those of queued or running imports
    excepted); returns how many. The import jobs keep their reports."""
    busy = _busy_files({"shop": shop})
    deleted = 0
    for path in _upload_files(shop):
        if path not in busy and file_mentions(path, marks):
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted


@contextmanager
def _opened(path: Path, magic: bytes) -> Iterator[IO[bytes]]:
    opener = {b"\x1f\x8b": gzip.open, b"\xfd7zXZ": lzma.open, b"BZh": bz2.open}
    for start, open_compressed in opener.items():
        if magic.startswith(start):
            with open_compressed(path, "rb") as stream:
                yield stream
            return
    with path.open("rb") as stream:
        yield stream


def _unpacked_streams(path: Path) -> Iterator[IO[bytes]]:
    """Each file an upload holds, unpacked: every member of a zip, a gzip / xz / bzip2 file's
    content, or the file itself (by its first bytes, whatever its name says)."""
    with path.open("rb") as head:
        magic = head.read(6)
    if magic.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    with archive.open(info) as member:
                        yield member
        return
    with _opened(path, magic) as stream:
        yield stream


def _encoding_of(head: bytes) -> str:
    """The encoding the importer would read these first bytes in (a byte-order mark, else the
    first of its fallbacks that reads them; a character cut at the end does not count)."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    for name in FALLBACK_ENCODINGS:
        for cut in range(4):
            try:
                head[: len(head) - cut].decode(name)
            except UnicodeDecodeError:
                continue
            return name
    return "latin-1"


def _stream_mentions(stream: IO[bytes], marks: PersonMarks) -> bool:
    data = stream.read(_READ_BLOCK)
    decoder = codecs.getincrementaldecoder(_encoding_of(data))(errors="replace")
    carry, read = "", 0
    while data:
        read += len(data)
        if read > MAX_UNCOMPRESSED_BYTES:
            return True  # the importer refuses it; it is of no use and cannot be checked cheaply
        text = carry + decoder.decode(data)
        cut = text.rfind("\n")
        block, carry = (text[:cut], text[cut + 1 :]) if cut >= 0 else ("", text)
        if text_mentions(block, marks):
            return True
        data = stream.read(_READ_BLOCK)
    return text_mentions(carry + decoder.decode(b"", final=True), marks)


def file_mentions(path: Path, marks: PersonMarks) -> bool:
    """Whether an uploaded file (CSV, or zip / gzip / xz / bzip2 of CSV) mentions them; a file
    that cannot be read counts as mentioning them (it could not be imported either)."""
    try:
        return any(_stream_mentions(stream, marks) for stream in _unpacked_streams(path))
    except FileNotFoundError:
        return False
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile, RuntimeError):
        return True


# --------------------------------------------------------------------------- retention


@dataclass
class RetentionReport:
    payloads_emptied: int = 0
    files_deleted: int = 0
    idempotency_records_deleted: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _delete_topics() -> frozenset[str]:
    from customers.integrations.services import PLATFORM_MODULES  # integrations imports this module

    return frozenset().union(*(module.ORDER_DELETE_TOPICS for module in PLATFORM_MODULES.values()))


def _payloads_empty(events) -> int:
    """Empty these events' payloads and errors. An order delete keeps the order's id, all its
    payload is (a late update of the order must not bring it back: see _deleted_later)."""
    delete_topics = _delete_topics()
    kept = 0
    for event in events.filter(topic__in=delete_topics).only("pk", "payload", "error").iterator(chunk_size=_BATCH):
        payload = event.payload if isinstance(event.payload, dict) else {}
        minimal = {"id": payload["id"]} if "id" in payload else {}
        if payload != minimal or event.error:
            WebhookEvent.unscoped.filter(pk=event.pk).update(payload=minimal, error="")
            kept += 1
    emptied = events.exclude(topic__in=delete_topics).exclude(payload={}, error="").update(payload={}, error="")
    return kept + emptied


def _files_expire(*, shop: Shop, now: dt.datetime, cutoff: dt.datetime) -> int:
    """Delete the shop's uploaded files older than the retention period, and the files of
    uploads never started after ABANDONED_UPLOAD_AGE; never a queued or running import's."""
    busy = _busy_files({"shop": shop})
    abandoned = ImportJob.unscoped.filter(
        shop=shop, status__in=_NOT_STARTED, created_at__lt=now - ABANDONED_UPLOAD_AGE
    ).values_list("file_path", flat=True)
    abandoned_paths = {Path(p).resolve() for p in abandoned if p}
    deleted = 0
    for path in _upload_files(shop):
        if path in busy:
            continue
        try:
            modified = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
        except FileNotFoundError:
            continue
        if modified < cutoff or path in abandoned_paths:
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted


def stored_data_expire(*, now: dt.datetime | None = None, days: int | None = None) -> RetentionReport:
    """Delete, in every shop, what is kept past the retention period (`days`, else
    settings.DATA_RETENTION_DAYS): webhook payloads (the event rows stay, for recognising
    redeliveries), uploaded files, API answers kept for Idempotency-Key replays. Idempotent."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=retention_days() if days is None else days)
    report = RetentionReport()
    report.payloads_emptied = _payloads_empty(WebhookEvent.unscoped.filter(received_at__lt=cutoff))
    report.idempotency_records_deleted = IdempotencyRecord.unscoped.filter(created_at__lt=cutoff).delete()[0]
    shops = list(Shop.objects.order_by("pk"))
    for shop in shops:
        report.files_deleted += _files_expire(shop=shop, now=now, cutoff=cutoff)
    report.files_deleted += _deleted_shops_files_delete(live={_shop_upload_folder(s).resolve() for s in shops})
    return report


def _deleted_shops_files_delete(*, live: set[Path]) -> int:
    """Delete the uploads left in the folders of shops that no longer exist (deleting a shop
    deletes its import jobs, not their files)."""
    root = _shop_upload_folder(Shop(pk=0)).parent  # the importer's folder of every shop's folder
    if not root.is_dir():
        return 0
    deleted = 0
    for folder in root.iterdir():
        if folder.is_dir() and folder.resolve() not in live:
            for path in folder.iterdir():
                if path.is_file():
                    path.unlink(missing_ok=True)
                    deleted += 1
    return deleted
