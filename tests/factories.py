from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from customers.models import Customer, CustomerIdentity, Event, Order, OrderLine, Product, ProductIdentity, Review
from shops.models import ApiKey, Membership, Shop, hash_api_key


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    username = factory.SelfAttribute("email")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")


class ShopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shop
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Shop {n}")
    slug = factory.Sequence(lambda n: f"shop-{n}")
    timezone = "Europe/London"
    currency = "GBP"
    postal_address = "1 High Street, London"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    shop = factory.SubFactory(ShopFactory)
    role = "owner"


class ShopOwnedFactory(factory.django.DjangoModelFactory):
    """Creates through Model.unscoped: factories are test set-up, not shop code."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class.unscoped.create(*args, **kwargs)


class ApiKeyFactory(ShopOwnedFactory):
    class Meta:
        model = ApiKey

    class Params:
        raw = factory.Sequence(lambda n: f"sk_test_key_{n:040d}")

    shop = factory.SubFactory(ShopFactory)
    name = "test key"
    prefix = factory.LazyAttribute(lambda o: o.raw[:10])
    hashed_key = factory.LazyAttribute(lambda o: hash_api_key(o.raw))


class CustomerFactory(ShopOwnedFactory):
    class Meta:
        model = Customer
        skip_postgeneration_save = True

    shop = factory.SubFactory(ShopFactory)
    external_id = factory.Sequence(lambda n: f"C{n}")
    source = "api"
    email = factory.Sequence(lambda n: f"customer{n}@example.org")
    first_name = "Ada"
    last_name = factory.Sequence(lambda n: f"Lovelace{n}")

    @factory.post_generation
    def identity(obj, create, extracted, **kwargs):
        """Like every way in, a customer with a source id is known by that identity (ADR 0009)."""
        if create and obj.external_id:
            CustomerIdentity.unscoped.get_or_create(
                shop=obj.shop, source=obj.source, external_id=obj.external_id, defaults={"customer": obj}
            )


class ProductFactory(ShopOwnedFactory):
    class Meta:
        model = Product
        skip_postgeneration_save = True

    shop = factory.SubFactory(ShopFactory)
    external_id = factory.Sequence(lambda n: f"P{n}")
    source = "api"
    sku = factory.Sequence(lambda n: f"SKU-{n}")
    title = factory.Sequence(lambda n: f"Product {n}")
    category = "Coffee"
    brand = "Acme"
    price = Decimal("9.90")

    @factory.post_generation
    def identity(obj, create, extracted, **kwargs):
        if create and obj.external_id:
            ProductIdentity.unscoped.get_or_create(
                shop=obj.shop, source=obj.source, external_id=obj.external_id, defaults={"product": obj}
            )


class OrderFactory(ShopOwnedFactory):
    class Meta:
        model = Order

    shop = factory.SubFactory(ShopFactory)
    external_id = factory.Sequence(lambda n: f"O{n}")
    source = "api"
    customer = None
    placed_at = factory.Sequence(lambda n: dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC) + dt.timedelta(days=n))
    currency = "GBP"
    total = Decimal("19.80")
    status = "paid"


class OrderLineFactory(ShopOwnedFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    shop = factory.SelfAttribute("order.shop")
    product = factory.SubFactory(ProductFactory, shop=factory.SelfAttribute("..shop"))
    quantity = 2
    unit_price = Decimal("9.90")


class EventFactory(ShopOwnedFactory):
    class Meta:
        model = Event

    shop = factory.SubFactory(ShopFactory)
    kind = "page_view"
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    duration_seconds = 30


class ReviewFactory(ShopOwnedFactory):
    class Meta:
        model = Review

    shop = factory.SubFactory(ShopFactory)
    product = factory.SubFactory(ProductFactory, shop=factory.SelfAttribute("..shop"))
    rating = 5
    text = "Lovely"
    created_at = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
