from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from shops import services
from shops.models import Membership, Role, Shop


class Command(BaseCommand):
    help = "Create a shop and its owner account (or make an existing account its owner)."

    def add_arguments(self, parser):
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner", required=True, help="Owner's email; the account is created if it is new.")
        parser.add_argument("--password", help="Needed when the owner account is new.")
        parser.add_argument("--timezone", default="UTC")
        parser.add_argument("--currency", default="EUR")
        parser.add_argument("--postal-address", default="")
        parser.add_argument("--if-missing", action="store_true", help="Do nothing if the shop already exists.")

    def handle(self, *args, **opts):
        User = get_user_model()
        if Shop.objects.filter(slug=opts["slug"]).exists():
            if opts["if_missing"]:
                self.stdout.write(f"Shop {opts['slug']} already exists; nothing to do.")
                return
            raise CommandError(f"A shop with the slug {opts['slug']!r} already exists; choose another slug.")
        email = opts["owner"].strip().lower()
        try:
            with transaction.atomic():
                user = User.objects.filter(username=email).first()
                if user is None:
                    if not opts["password"]:
                        raise CommandError(f"{email} has no account yet; give --password to create it.")
                    user = services.user_create(email=email, password=opts["password"])
                shop = services.shop_create(
                    name=opts["name"],
                    slug=opts["slug"],
                    owner=user,
                    timezone_name=opts["timezone"],
                    currency=opts["currency"],
                    postal_address=opts["postal_address"],
                )
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        assert Membership.objects.filter(shop=shop, user=user, role=Role.OWNER).exists()
        self.stdout.write(self.style.SUCCESS(f"Created shop {shop.slug} ({shop.name}) owned by {email}."))
