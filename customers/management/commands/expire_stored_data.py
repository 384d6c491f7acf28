"""Delete what is kept past the retention period now, instead of waiting for the nightly task."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from customers.retention import retention_days, stored_data_expire


class Command(BaseCommand):
    help = (
        "Empty the stored webhook payloads and delete the uploaded import files and idempotency "
        "answers older than DATA_RETENTION_DAYS (or --days), in every shop; uploads never "
        "imported go after a day. The nightly task `customers.expire_stored_data` does the same."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help="Keep this many days instead of the setting.")

    def handle(self, *args, **opts):
        days = opts["days"] if opts["days"] is not None else retention_days()
        if days < 1:
            raise CommandError("--days must be at least 1.")
        report = stored_data_expire(days=days)
        self.stdout.write(
            f"Kept {days} day(s): emptied {report.payloads_emptied} webhook payload(s), deleted "
            f"{report.files_deleted} uploaded file(s) and {report.idempotency_records_deleted} idempotency answer(s)."
        )
