"""python manage.py import_csv --shop S --kind orders FILE: import a CSV file into a shop."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers.importers import services
from customers.importers.presets import FIELDS_BY_KIND, KIND_PRESETS
from customers.models import ImportKind
from shops.models import Shop
from shops.scope import shop_scope


class Command(BaseCommand):
    help = (
        "Import orders, customers or products from a CSV file (plain, .gz, .xz, .bz2 or .zip). "
        "Exits with status 1 when the file is rejected; nothing is written then."
    )
    # An import needs models only; skipping the system checks (URLconf, templates) keeps start-up short.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Path of the CSV file.")
        parser.add_argument("--shop", required=True, help="Slug of the shop to import into.")
        parser.add_argument("--kind", choices=[k.value for k in ImportKind], default=ImportKind.ORDERS)
        parser.add_argument(
            "--preset",
            default="generic",
            choices=sorted({key for presets in KIND_PRESETS.values() for key in presets}),
            help="Column layout of the file for --kind (shopify reads its orders, customers and products exports).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Check and count everything, write nothing.")
        parser.add_argument("--allow-partial", action="store_true", help="Import the good rows when some are rejected.")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument(
            "--date-format",
            default="",
            help="How the date columns read: day-first, month-first, iso or a strftime format such as %%d/%%m/%%Y.",
        )
        parser.add_argument("--encoding", default="", help="Text encoding, when detection gets it wrong (e.g. cp1252).")
        parser.add_argument("--delimiter", default="", help="Field delimiter, when detection gets it wrong.")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="FIELD=COLUMN",
            help="Map a field to a column by hand (repeatable); replaces the preset's mapping.",
        )

    def handle(self, *args, **opts) -> None:
        shop = Shop.objects.filter(slug=opts["shop"]).first()
        if shop is None:
            raise CommandError(f"No shop with the slug {opts['shop']!r}.")
        kind = opts["kind"]
        mapping = self._mapping(opts["map"], kind) if opts["map"] else None
        date_formats = {}
        if opts["date_format"]:
            date_formats = {
                name: opts["date_format"] for name, spec in FIELDS_BY_KIND[kind].items() if spec.type == "date"
            }
        delimiter = opts["delimiter"].replace("\\t", "\t")
        with shop_scope(shop):
            report = services.import_file(
                shop=shop,
                path=opts["file"],
                kind=kind,
                preset=opts["preset"],
                mapping=mapping,
                date_formats=date_formats,
                encoding=opts["encoding"],
                delimiter=delimiter,
                allow_partial=opts["allow_partial"],
                dry_run=opts["dry_run"],
                progress=self._progress if opts["verbosity"] > 1 and not opts["json"] else None,
            )
        if opts["json"]:
            self.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        else:
            self._print(report)
        if report.rejected:
            raise CommandError(f"{opts['file']} was rejected; nothing was imported.", returncode=1)

    def _progress(self, stage: str, done: int, total: int) -> None:
        self.stderr.write(f"{stage}: {done}/{total}")

    @staticmethod
    def _mapping(pairs: list[str], kind: str) -> dict[str, str]:
        mapping = {}
        for pair in pairs:
            name, sep, column = pair.partition("=")
            if not sep or name not in FIELDS_BY_KIND[kind]:
                known = ", ".join(FIELDS_BY_KIND[kind])
                raise CommandError(f"--map {pair!r}: use FIELD=COLUMN with a field among: {known}.")
            mapping[name] = column
        return mapping

    def _print(self, report: services.ImportReport) -> None:
        data = report.to_dict()
        style = self.style.ERROR if report.rejected else self.style.SUCCESS
        self.stdout.write(style(f"{report.status}: {report.filename}"))
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
            "order_lines",
            "net_revenue",
            "zero_price_lines",
            "negative_price_lines",
            "seconds",
        ):
            self.stdout.write(f"  {key}: {data[key]}")
        for line in self._changes_lines(report.changes):
            self.stdout.write(f"  {line}")
        for warning in report.warnings:
            self.stdout.write(self.style.WARNING(f"  ! {warning}"))
        for error in report.errors:
            where = f"row {error['row']}" if error["row"] else "file"
            column = f", column {error['column']}" if error["column"] else ""
            self.stdout.write(self.style.ERROR(f"  {where}{column}: {error['message']}"))
        if report.errors_not_shown:
            self.stdout.write(self.style.ERROR(f"  … and {report.errors_not_shown} more errors"))

    @staticmethod
    def _changes_lines(changes: dict[str, dict[str, int]]) -> list[str]:
        """How the file's customers and products were found (ADR 0009) and what became of the rows."""
        found_by = {"customers": "email or phone", "products": "SKU"}
        lines = []
        for kind, counts in changes.items():
            if not counts:
                continue
            parts = []
            if kind in found_by:
                parts += [
                    f"{counts.get('matched', 0)} already known",
                    f"{counts.get('linked', 0)} found by {found_by[kind]} (id linked)",
                ]
            parts += [f"{counts['created']} new", f"{counts['updated']} updated", f"{counts['unchanged']} unchanged"]
            if counts.get("erased"):
                parts.append(f"{counts['erased']} erased (left alone)")
            lines.append(f"{kind}: " + ", ".join(parts))
        return lines
