from __future__ import annotations

import hashlib
import secrets
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shops.scope import ShopScopeError, current_shop, scope_bypassed

SLUG_VALIDATOR = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    _("Use 1-50 lowercase letters, digits and hyphens, not starting or ending with a hyphen."),
)
CURRENCY_VALIDATOR = RegexValidator(r"^[A-Z]{3}$", _("Use a three-letter ISO 4217 code such as EUR."))


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(tz)s is not a known time zone."), params={"tz": value})


class Shop(models.Model):
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=50, unique=True, validators=[SLUG_VALIDATOR])
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC", validators=[validate_timezone])
    currency = models.CharField(_("currency"), max_length=3, default="EUR", validators=[CURRENCY_VALIDATOR])
    postal_address = models.TextField(
        _("postal address"), blank=True, help_text=_("Printed in the footer of every marketing email.")
    )
    # Identity resolution (ADR 0009): customers are matched by source id, then email, then,
    # when the owner turns it on, by phone number (E.164, national numbers read in phone_region).
    match_by_phone = models.BooleanField(
        _("match customers by phone"),
        default=False,
        help_text=_("Treat two records with the same phone number as the same customer."),
    )
    phone_region = models.CharField(
        _("phone country"),
        max_length=2,
        blank=True,
        default="",
        help_text=_("Two-letter country code (such as GB) for phone numbers written without +country."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("shop")
        verbose_name_plural = _("shops")

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    STAFF = "staff", _("Staff")
    VIEWER = "viewer", _("Viewer")


# What each role may do; a role includes the powers of those below it.
ROLE_RANK = {Role.VIEWER: 1, Role.STAFF: 2, Role.OWNER: 3}


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.STAFF)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "user"], name="membership_unique_shop_user")]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user} @ {self.shop} ({self.role})"

    def has_role(self, role: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(role)]


class Invitation(models.Model):
    """A role in a shop waiting for whoever logs in or signs up with this email address.

    "Add member" always makes one, whether the address has an account or not, so the owner's
    page cannot tell which addresses have accounts. It becomes a Membership when its person
    next logs in (or signs up) with that address.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("email"))  # lower-cased, like usernames
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.STAFF)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "email"], name="invitation_unique_shop_email")]
        indexes = [models.Index(fields=["email"])]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return f"{self.email} @ {self.shop} ({self.role})"


class ShopScopedQuerySet(models.QuerySet):
    def for_shop(self, shop: Shop) -> ShopScopedQuerySet:
        return self.filter(shop=shop)


class ShopScopedManager(models.Manager.from_queryset(ShopScopedQuerySet)):
    """Fail-closed manager: with no shop in scope it raises instead of returning every shop's rows.

    `Model.objects.for_shop(shop)` is the explicit way and always works; anything else
    (`Model.objects.filter(...)`) needs `shops.scope.shop_scope(shop)` around it, which the
    shop gate sets for every shop page and the API for every request.
    """

    def get_queryset(self) -> ShopScopedQuerySet:
        qs = super().get_queryset()
        if scope_bypassed():
            return qs
        shop = current_shop()
        if shop is None:
            raise ShopScopeError(
                f"{self.model.__name__}.objects was queried with no shop in scope; "
                "use .for_shop(shop), shops.scope.shop_scope(shop) or Model.unscoped."
            )
        return qs.filter(shop=shop)

    def for_shop(self, shop: Shop) -> ShopScopedQuerySet:
        return super().get_queryset().filter(shop=shop)


class ShopOwned(models.Model):
    """Abstract base for every row that belongs to one shop."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+", verbose_name=_("shop"))

    objects = ShopScopedManager()
    unscoped = models.Manager()

    class Meta:
        abstract = True
        default_manager_name = "objects"
        base_manager_name = "unscoped"


API_KEY_PREFIX = "sk_"


def hash_api_key(raw_key: str) -> str:
    # Keys are 256 random bits, so a fast hash is safe here (no dictionary to attack).
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKeyQuerySet(ShopScopedQuerySet):
    def active(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiKey(ShopOwned):
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, help_text=_("First characters of the key, to recognise it."))
    hashed_key = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # The day (in the shop's time zone) of the last use written to the audit log.
    last_used_on = models.DateField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ShopScopedManager.from_queryset(ApiKeyQuerySet)()
    unscoped = models.Manager.from_queryset(ApiKeyQuerySet)()

    class Meta(ShopOwned.Meta):
        ordering = ["-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def generate_raw_key() -> str:
        return API_KEY_PREFIX + secrets.token_urlsafe(32)

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class AuditAction(models.TextChoices):
    SIGN_IN = "sign_in", _("Signed in")
    SIGN_IN_FAILED = "sign_in_failed", _("Failed sign-in")
    API_KEY_CREATED = "api_key_created", _("API key created")
    API_KEY_USED = "api_key_used", _("API key used (first use of the day)")
    API_KEY_REVOKED = "api_key_revoked", _("API key revoked")
    IMPORT = "import", _("Import")
    SYNC = "sync", _("Sync")
    EXPORT = "export", _("Export")
    ERASURE = "erasure", _("Erasure")
    MERGE = "merge", _("Merge")
    MERGE_UNDONE = "merge_undone", _("Merge undone")
    CAMPAIGN_SCHEDULED = "campaign_scheduled", _("Campaign scheduled")
    CAMPAIGN_CANCELLED = "campaign_cancelled", _("Campaign cancelled")
    CAMPAIGN_STARTED = "campaign_started", _("Campaign sending started")
    CAMPAIGN_SENT = "campaign_sent", _("Campaign sent")
    SETTINGS_CHANGED = "settings_changed", _("Settings changed")


class AuditEvent(ShopOwned):
    """One thing done in or to a shop, for its owner's audit log (kept AUDIT_RETENTION_DAYS).

    It names people of the shop's team (the user, an API key) and the address they came from,
    never a customer: a target is a type and an id, details are counts, statuses and field
    names. A sign-in is recorded once for every shop the user belongs to.
    """

    action = models.CharField(_("action"), max_length=40, choices=AuditAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("API key")
    )
    target_type = models.CharField(max_length=40, blank=True, default="")
    target_id = models.BigIntegerField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)

    class Meta(ShopOwned.Meta):
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["shop", "-created_at"], name="auditevent_shop_created")]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"{self.get_action_display()} @ {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def detail_items(self) -> list[tuple[str, object]]:
        """The details flattened for display: {"fetched": {"orders": 3}} gives ("fetched.orders", 3)."""
        items: list[tuple[str, object]] = []

        def walk(prefix: str, value: object) -> None:
            if isinstance(value, dict):
                for key, inner in value.items():
                    walk(f"{prefix}.{key}" if prefix else str(key), inner)
            elif isinstance(value, list):
                items.append((prefix, ", ".join(str(v) for v in value)))
            else:
                items.append((prefix, value))

        walk("", self.details or {})
        return items
