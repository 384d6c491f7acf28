"""Facts about a shop's customers: who they are, what they bought, browsed and said.

A customer or product is one row whatever the source: its identities, (source,
external_id) pairs in CustomerIdentity / ProductIdentity, are how every way in finds it
again (ADR 0009, customers/identity.py). The row's own (source, external_id) is the
identity it was created with. Orders stay keyed by (source, external_id).
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Concat, Upper
from django.utils.translation import gettext_lazy as _

from customers.keys import email_key, phone_key
from shops.models import ShopOwned

MONEY = {"max_digits": 14, "decimal_places": 2}


class Source(models.TextChoices):
    MANUAL = "manual", _("Entered by hand")
    CSV = "csv", _("CSV import")
    API = "api", _("REST API")
    SHOPIFY = "shopify", _("Shopify")
    WOOCOMMERCE = "woocommerce", _("WooCommerce")
    DEMO = "demo", _("Demo data")
    SURVEY = "survey", _("Preference survey")


class Gender(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")
    UNKNOWN = "", _("Unknown")


def _external_id_unique(model_name: str) -> models.UniqueConstraint:
    return models.UniqueConstraint(
        fields=["shop", "source", "external_id"],
        condition=~Q(external_id=""),
        name=f"{model_name}_unique_shop_source_external_id",
    )


def customer_search_q(term: str, *, prefix: str = "") -> Q:
    """Customers whose email or name contains `term` in any case (`prefix`: the path to a customer,
    as "customer__"). One LIKE on the stored, upper-cased search_text; the term is upper-cased by
    the database too, so both sides fold case alike."""
    return Q(**{f"{prefix}search_text__contains": Upper(Value(term))})


class Customer(ShopOwned):
    external_id = models.CharField(_("external id"), max_length=100, blank=True, default="")
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, default=Source.MANUAL)
    email = models.EmailField(_("email"), blank=True, default="")
    first_name = models.CharField(_("first name"), max_length=100, blank=True, default="")
    last_name = models.CharField(_("last name"), max_length=100, blank=True, default="")
    phone = models.CharField(_("phone"), max_length=40, blank=True, default="")
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    gender = models.CharField(_("gender"), max_length=10, choices=Gender.choices, blank=True, default="")
    occupation = models.CharField(_("occupation"), max_length=100, blank=True, default="")
    city = models.CharField(_("city"), max_length=100, blank=True, default="")
    country = models.CharField(_("country"), max_length=100, blank=True, default="")
    tags = models.JSONField(_("tags"), default=list, blank=True)
    email_consent = models.BooleanField(_("email marketing consent"), default=False)
    email_consent_at = models.DateTimeField(_("consent given at"), null=True, blank=True)
    # Zero-party data, given by the customer in the preference survey.
    age_range = models.CharField(_("age range"), max_length=20, blank=True, default="")
    interests = models.JSONField(_("interests"), default=list, blank=True)
    erased_at = models.DateTimeField(_("personal data erased at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # When the source last changed this customer; older updates are ignored on upsert.
    source_updated_at = models.DateTimeField(null=True, blank=True)
    # When each field's stored value was true, as ISO strings ({"email": "2026-...", ...}): the
    # newest value of each field wins, whatever source sent it (ADR 0009).
    field_updated_at = models.JSONField(default=dict, blank=True, editable=False)
    postcode = models.CharField(_("postcode"), max_length=20, blank=True, default="")
    province = models.CharField(_("province or state"), max_length=100, blank=True, default="", db_default="")
    # The keys identities are matched on, written by customers.identity with the fields:
    # the email trimmed and case-folded, the phone in E.164 ("" when it cannot be read).
    email_key = models.CharField(max_length=254, blank=True, default="", editable=False)
    phone_key = models.CharField(max_length=20, blank=True, default="", editable=False)
    # What the customer search looks in, upper-cased once when written: LIKE on one stored column
    # reads a 100,000-customer shop in a third of the time of UPPER() on three (migration 0003).
    search_text = models.GeneratedField(
        expression=Upper(Concat("email", Value(" "), "first_name", Value(" "), "last_name")),
        output_field=models.TextField(),
        db_persist=True,
    )

    class Meta(ShopOwned.Meta):
        constraints = [_external_id_unique("customer")]
        indexes = [
            models.Index(fields=["shop", "email"]),
            models.Index(fields=["shop", "last_name"]),
            models.Index(fields=["shop", "email_key"]),
            models.Index(fields=["shop", "phone_key"]),
        ]
        ordering = ["id"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")

    def __str__(self) -> str:
        return self.full_name or self.email or self.external_id or f"#{self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def save(self, *args, **kwargs):
        """Keep the match keys in step with email and phone (bulk writers set them themselves)."""
        self.email_key = email_key(self.email)
        self.phone_key = phone_key(self.phone, region=self.shop.phone_region if self.shop_id else "")
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"email", "phone"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "email_key", "phone_key"}
        super().save(*args, **kwargs)


class IdentityKind:
    """The sources of an identity that are not a platform: a customer's former email or phone,
    kept when two customers are merged, and the digests an erased customer leaves behind so
    that no source can create them again (ADR 0009)."""

    EMAIL = "email"
    PHONE = "phone"
    ERASED_EMAIL = "erased-email"
    ERASED_PHONE = "erased-phone"


class CustomerIdentity(ShopOwned):
    """One way a source names a customer: (source, external_id), unique within the shop."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="identities", verbose_name=_("customer")
    )
    source = models.CharField(_("source"), max_length=20)
    external_id = models.CharField(_("external id"), max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(ShopOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["shop", "source", "external_id"], name="customer_identity_unique")
        ]
        indexes = [models.Index(fields=["shop", "customer"])]
        ordering = ["id"]
        verbose_name = _("customer identity")
        verbose_name_plural = _("customer identities")

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id}"


class Product(ShopOwned):
    external_id = models.CharField(_("external id"), max_length=100, blank=True, default="")
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, default=Source.MANUAL)
    sku = models.CharField(_("SKU"), max_length=100, blank=True, default="")
    title = models.CharField(_("title"), max_length=300)
    category = models.CharField(_("category"), max_length=120, blank=True, default="")
    brand = models.CharField(_("brand"), max_length=120, blank=True, default="")
    price = models.DecimalField(_("price"), **MONEY, null=True, blank=True)
    image_url = models.URLField(_("image"), max_length=1000, blank=True, default="", db_default="")
    tags = models.JSONField(_("tags"), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    source_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta(ShopOwned.Meta):
        constraints = [_external_id_unique("product")]
        indexes = [models.Index(fields=["shop", "sku"]), models.Index(fields=["shop", "category"])]
        ordering = ["title"]
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self) -> str:
        return self.title


class ProductIdentity(ShopOwned):
    """One way a source names a product: (source, external_id), unique within the shop."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="identities", verbose_name=_("product"))
    source = models.CharField(_("source"), max_length=20)
    external_id = models.CharField(_("external id"), max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(ShopOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["shop", "source", "external_id"], name="product_identity_unique")
        ]
        ordering = ["id"]
        verbose_name = _("product identity")
        verbose_name_plural = _("product identities")

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id}"


class OrderStatus(models.TextChoices):
    PAID = "paid", _("Paid")
    PENDING = "pending", _("Pending")
    CANCELLED = "cancelled", _("Cancelled")
    RETURNED = "returned", _("Returned")


class Order(ShopOwned):
    external_id = models.CharField(_("external id"), max_length=100, blank=True, default="")
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, default=Source.MANUAL)
    customer = models.ForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
        verbose_name=_("customer"),
        help_text=_("Empty for a guest order."),
    )
    placed_at = models.DateTimeField(_("placed at"))
    currency = models.CharField(_("currency"), max_length=3)
    total = models.DecimalField(_("total"), **MONEY, default=Decimal("0"))
    status = models.CharField(_("status"), max_length=10, choices=OrderStatus.choices, default=OrderStatus.PAID)
    # Parts of the total that are not the goods (kept apart from product revenue); the discount
    # is what the lines' prices were reduced by (Shopify's Discount Amount), with its code.
    # Database defaults too: orders are also written by COPY with only the columns a writer knows.
    shipping = models.DecimalField(_("shipping"), **MONEY, default=Decimal("0"), db_default=Decimal("0"))
    tax = models.DecimalField(_("tax"), **MONEY, default=Decimal("0"), db_default=Decimal("0"))
    discount = models.DecimalField(_("discount"), **MONEY, default=Decimal("0"), db_default=Decimal("0"))
    discount_code = models.CharField(_("discount code"), max_length=100, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    source_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta(ShopOwned.Meta):
        constraints = [_external_id_unique("order")]
        indexes = [
            models.Index(fields=["shop", "placed_at"]),
            models.Index(fields=["shop", "customer", "placed_at"]),
        ]
        ordering = ["-placed_at"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")

    def __str__(self) -> str:
        return self.external_id or f"#{self.pk}"

    @property
    def is_guest(self) -> bool:
        return self.customer_id is None


class OrderLine(ShopOwned):
    # Lines are written in bulk (COPY) only by customers.services and customers.importers.writer,
    # in the same transaction as their order, which is locked (or new) while they are written;
    # they are deleted with their order by the ORM's cascade. So the three relations are kept by
    # the code, with no database foreign keys: on the Online Retail import (536,641 lines) the
    # order and product keys cost about 1.8 s each in per-row checks at commit, a quarter of the
    # import (ADR 0003). The line's shop is always its order's shop; (shop, product) leads with shop.
    shop = models.ForeignKey(
        "shops.Shop",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
        verbose_name=_("shop"),
    )
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="lines", db_constraint=False, verbose_name=_("order")
    )
    product = models.ForeignKey(
        Product,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="order_lines",
        db_constraint=False,
        verbose_name=_("product"),
    )
    quantity = models.IntegerField(_("quantity"), help_text=_("Negative for a returned item."))
    unit_price = models.DecimalField(_("unit price"), **MONEY)

    class Meta(ShopOwned.Meta):
        indexes = [models.Index(fields=["shop", "product"])]
        ordering = ["id"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product or '?'}"

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


class EventKind(models.TextChoices):
    PAGE_VIEW = "page_view", _("Page view")
    SEARCH = "search", _("Search")
    ADD_TO_CART = "add_to_cart", _("Added to cart")
    CHECKOUT = "checkout", _("Started checkout")


class Event(ShopOwned):
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="events", verbose_name=_("customer")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=EventKind.choices)
    at = models.DateTimeField(_("at"))
    duration_seconds = models.PositiveIntegerField(_("duration in seconds"), null=True, blank=True)
    properties = models.JSONField(_("properties"), default=dict, blank=True)

    class Meta(ShopOwned.Meta):
        indexes = [models.Index(fields=["shop", "customer", "at"])]
        ordering = ["-at"]
        verbose_name = _("event")
        verbose_name_plural = _("events")


class Review(ShopOwned):
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="reviews", verbose_name=_("customer")
    )
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="reviews", verbose_name=_("product"))
    rating = models.PositiveSmallIntegerField(_("rating"), validators=[MinValueValidator(1), MaxValueValidator(5)])
    text = models.TextField(_("text"), blank=True, default="")
    created_at = models.DateTimeField(_("written at"))

    class Meta(ShopOwned.Meta):
        constraints = [
            models.CheckConstraint(condition=Q(rating__gte=1) & Q(rating__lte=5), name="review_rating_1_to_5")
        ]
        ordering = ["-created_at"]
        verbose_name = _("review")
        verbose_name_plural = _("reviews")


class ImportKind(models.TextChoices):
    ORDERS = "orders", _("Orders")
    CUSTOMERS = "customers", _("Customers")
    PRODUCTS = "products", _("Products")


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Uploaded")
    NEEDS_MAPPING = "needs_mapping", _("Needs column mapping")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Imported")
    REJECTED = "rejected", _("Rejected")
    FAILED = "failed", _("Failed")


class ImportJob(ShopOwned):
    """One uploaded file and what became of it; the report is the import report as JSON."""

    kind = models.CharField(_("kind"), max_length=20, choices=ImportKind.choices, default=ImportKind.ORDERS)
    preset = models.CharField(_("preset"), max_length=30, blank=True, default="")
    filename = models.CharField(_("file name"), max_length=255)
    file_path = models.CharField(max_length=500, help_text="Where the uploaded file is kept until imported.")
    options = models.JSONField(default=dict, blank=True)  # mapping, date formats, allow_partial, dry_run
    status = models.CharField(_("status"), max_length=20, choices=ImportStatus.choices, default=ImportStatus.UPLOADED)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(ShopOwned.Meta):
        ordering = ["-created_at"]
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    @property
    def progress_percent(self) -> int:
        if self.status in {ImportStatus.DONE, ImportStatus.REJECTED}:
            return 100
        if not self.rows_total:
            return 0
        return min(100, int(100 * self.rows_done / self.rows_total))


class Platform(models.TextChoices):
    SHOPIFY = "shopify", _("Shopify")
    WOOCOMMERCE = "woocommerce", _("WooCommerce")


class PlatformConnection(ShopOwned):
    """A link to the shop's store on Shopify or WooCommerce: pull credentials and the webhook secret."""

    platform = models.CharField(_("platform"), max_length=20, choices=Platform.choices)
    store_url = models.URLField(_("store URL"))
    # Shopify: Admin API access token. WooCommerce: "consumer_key:consumer_secret".
    access_token = models.CharField(_("access token"), max_length=300, blank=True, default="")
    webhook_secret = models.CharField(_("webhook secret"), max_length=300, blank=True, default="")
    enabled = models.BooleanField(_("enabled"), default=True)
    orders_cursor = models.DateTimeField(
        null=True, blank=True, help_text="Orders changed after this were not pulled yet."
    )
    customers_cursor = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(_("last sync"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(ShopOwned.Meta):
        constraints = [models.UniqueConstraint(fields=["shop", "platform"], name="connection_unique_shop_platform")]
        verbose_name = _("platform connection")
        verbose_name_plural = _("platform connections")

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.store_url}"


class SyncRun(ShopOwned):
    """One pull from a platform: what was fetched and written, or why it failed."""

    connection = models.ForeignKey(PlatformConnection, on_delete=models.CASCADE, related_name="runs")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta(ShopOwned.Meta):
        ordering = ["-started_at"]


class WebhookStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    PROCESSING = "processing", _("Processing")
    PROCESSED = "processed", _("Processed")
    IGNORED = "ignored", _("Ignored")
    FAILED = "failed", _("Failed")


class WebhookEvent(ShopOwned):
    """A verified delivery from a platform, stored before it is processed (at most once per event id)."""

    platform = models.CharField(max_length=20, choices=Platform.choices)
    event_id = models.CharField(max_length=200)
    topic = models.CharField(max_length=100)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=WebhookStatus.choices, default=WebhookStatus.RECEIVED)
    error = models.TextField(blank=True, default="")

    class Meta(ShopOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["shop", "platform", "event_id"], name="webhook_unique_shop_platform_event")
        ]
        indexes = [models.Index(fields=["shop", "status"])]
        ordering = ["-received_at"]


class IdempotencyRecord(ShopOwned):
    """The first answer to an API request sent with an Idempotency-Key, replayed for repeats."""

    key = models.CharField(max_length=255)
    endpoint = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(ShopOwned.Meta):
        constraints = [models.UniqueConstraint(fields=["shop", "key"], name="idempotency_unique_shop_key")]


class SurveyResponse(ShopOwned):
    """A customer's answers to the shop's public preference survey (zero-party data)."""

    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="surveys")
    email = models.EmailField()
    answers = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(ShopOwned.Meta):
        ordering = ["-created_at"]


class CustomerMerge(ShopOwned):
    """The record of one merge: which customer was folded into which, and all it takes to undo it.

    `merged_customer_id` is the removed row's id (given back on undo). `snapshot` holds the
    removed row's fields, `survivor_before` the survivor's fields the merge changed, `moved`
    the ids of every related row that was re-pointed ({"app.Model.field": [ids]}), `set_aside`
    the related rows that could not move (the survivor had the same one) as serialised rows.
    The personal data in `snapshot` and `set_aside` is cleared when undo is no longer possible.
    """

    survivor = models.ForeignKey(
        Customer, null=True, on_delete=models.SET_NULL, related_name="merges", verbose_name=_("kept customer")
    )
    merged_customer_id = models.BigIntegerField(_("merged customer"))
    reason = models.CharField(_("reason"), max_length=40, blank=True, default="")
    snapshot = models.JSONField(default=dict, blank=True)
    survivor_before = models.JSONField(default=dict, blank=True)
    moved = models.JSONField(default=dict, blank=True)
    set_aside = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("merged at"), auto_now_add=True)
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)

    class Meta(ShopOwned.Meta):
        indexes = [models.Index(fields=["shop", "merged_customer_id"])]
        ordering = ["-created_at"]
        verbose_name = _("customer merge")
        verbose_name_plural = _("customer merges")
