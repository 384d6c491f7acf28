"""Merge the customers already stored twice: the ones arrival matching would now take for one person."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from customers.duplicates import duplicate_groups, duplicate_groups_merge
from customers.merging import MergeReason
from shops.models import Shop
from shops.scope import shop_scope


class Command(BaseCommand):
    help = (
        "Merge a shop's customers that share an email address (a former one kept by a merge counts) "
        "and, when the shop matches by phone or with --include-phone, a phone number. The oldest "
        "customer of each group is kept; each merge can be undone for 30 days on the customer's page."
    )

    def add_arguments(self, parser):
        parser.add_argument("--shop", required=True, help="Slug of the shop.")
        parser.add_argument("--dry-run", action="store_true", help="Report the groups; change nothing.")
        parser.add_argument(
            "--include-phone", action="store_true", help="Also merge by phone number even if the shop does not."
        )

    def handle(self, *args, **opts):
        shop = Shop.objects.filter(slug=opts["shop"]).first()
        if shop is None:
            raise CommandError(f"No shop with the slug {opts['shop']!r}.")
        dry_run = opts["dry_run"]
        with shop_scope(shop):
            groups = duplicate_groups(shop=shop, include_phone=opts["include_phone"])
            by_phone = opts["include_phone"] or shop.match_by_phone
            self.stdout.write(
                f"Shop {shop.slug}: {len(groups)} group(s) of customers sharing an email"
                f"{' or phone' if by_phone else ''}, {sum(len(g.others) for g in groups)} customer(s) to merge."
            )
            if dry_run:
                for group in groups:
                    self.stdout.write(self._line(group, "would keep", "would merge"))
                self.stdout.write("Dry run: nothing was changed.")
                return
            merged = failed = 0
            for group, merges, refusal in duplicate_groups_merge(shop=shop, groups=groups, reason=MergeReason.COMMAND):
                if refusal:
                    failed += 1
                    self.stdout.write(self._line(group, "kept", "NOT merged") + f" ({refusal})")
                else:
                    merged += len(merges)
                    ids = ", ".join(str(m.pk) for m in merges)
                    self.stdout.write(self._line(group, "kept", "merged") + f" (merge records {ids})")
        self.stdout.write(f"Merged {merged} customer(s) in {len(groups) - failed} group(s); {failed} group(s) refused.")

    @staticmethod
    def _line(group, keep: str, merge: str) -> str:
        others = ", ".join(f"#{pk}" for pk in group.others)
        return f"  {keep} #{group.survivor}, {merge} {others}  [{'; '.join(group.keys)}]"
