from django.core.management.base import BaseCommand, CommandError

from shops import services
from shops.models import Shop


class Command(BaseCommand):
    help = "Create an API key for a shop and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("--shop", required=True, help="The shop's slug.")
        parser.add_argument("--name", default="command line")

    def handle(self, *args, **opts):
        shop = Shop.objects.filter(slug=opts["shop"]).first()
        if shop is None:
            raise CommandError(f"No shop has the slug {opts['shop']!r}.")
        issued = services.api_key_create(shop=shop, name=opts["name"])
        self.stderr.write(f"API key for {shop.slug}; it is shown only now:")
        self.stdout.write(issued.raw_key)
