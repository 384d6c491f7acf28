import argparse
import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError

from customers.demo import DemoDataExists, demo_shop_generate
from customers.models import Customer, Order
from shops.models import Shop


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date; use YYYY-MM-DD.")


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive whole number.")
    return number


class Command(BaseCommand):
    help = (
        "Fill a shop with believable demo data: customers, products, orders, browsing events and reviews "
        "(deterministic for a given --seed and --as-of)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--shop", required=True, help="Slug of the shop to fill.")
        parser.add_argument("--customers", type=_positive, default=3000)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--months", type=_positive, default=14, help="Months of orders, ending before --as-of.")
        parser.add_argument(
            "--as-of", type=_date, help="The day the data ends (YYYY-MM-DD); default today in the shop's time zone."
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing if the shop already has customers or orders."
        )

    def handle(self, *args, **opts):
        shop = Shop.objects.filter(slug=opts["shop"]).first()
        if shop is None:
            raise CommandError(f"No shop with the slug {opts['shop']!r}.")
        if opts["if_empty"] and (Customer.objects.for_shop(shop).exists() or Order.objects.for_shop(shop).exists()):
            self.stdout.write(f"Shop {shop.slug} already has customers or orders; no demo data added.")
            return
        started = time.perf_counter()
        try:
            summary = demo_shop_generate(
                shop=shop,
                customers=opts["customers"],
                seed=opts["seed"],
                months=opts["months"],
                as_of=opts["as_of"],
            )
        except DemoDataExists as exc:
            raise CommandError(f"{exc} Use a new shop, or --if-empty to skip shops that have data.")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data for {shop.slug} ({summary.first_day} to {summary.as_of - dt.timedelta(days=1)}): "
                f"{summary.customers} customers, {summary.products} products, {summary.orders} orders, "
                f"{summary.lines} lines, {summary.events} events, {summary.reviews} reviews, "
                f"net revenue {summary.net_revenue:,} {shop.currency} "
                f"(seed {opts['seed']}, {time.perf_counter() - started:.1f} s)."
            )
        )
