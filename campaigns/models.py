"""Campaigns: one message to a segment, sent at most once per customer, measured against a holdout.

A Recipient row is the unit of work and the record of what happened to one customer in one
campaign. Its status moves only forward, always by a conditional UPDATE, so the row itself
is the lock (see docs/adr/0006-campaign-sending.md):

    pending -> claimed -> handing_off -> sent | failed
                  \\-> (lease expired, never handed off) -> pending again
                                \\-> (lease expired during hand-off) -> unknown, never resent
    pending / deferred -> excluded (re-checked at send time)
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from analytics.models import Segment
from customers.keys import email_key, erased_digest
from customers.models import MONEY, Customer, Order
from shops.models import ShopOwned

# How long a deferred (frequency-capped) recipient keeps waiting for the cap to allow a send.
DEFERRAL_WINDOW = dt.timedelta(days=3)
# The frequency cap counts campaign emails in this window.
FREQUENCY_WINDOW = dt.timedelta(days=7)


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    CANCELLED = "cancelled", _("Cancelled")


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")


class OfferType(models.TextChoices):
    PERCENT_OFF = "percent_off", _("Percent off")
    AMOUNT_OFF = "amount_off", _("Amount off")
    FREE_SHIPPING = "free_shipping", _("Free shipping")
    PRODUCT_RECOMMENDATION = "product_recommendation", _("Product recommendation")


class CodeMode(models.TextChoices):
    NONE = "none", _("No discount code")
    SHARED = "shared", _("One code for everyone")
    UNIQUE = "unique", _("A unique code per customer")


class Campaign(ShopOwned):
    name = models.CharField(_("name"), max_length=200)
    # Computed segments belong to one analysis run; the key finds the same segment in the run
    # that is current when sending starts. SET_NULL: an old run may be deleted, the key stays.
    segment = models.ForeignKey(
        Segment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("segment")
    )
    segment_key = models.CharField(max_length=80, blank=True, default="")
    segment_name = models.CharField(max_length=120, blank=True, default="")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    subject_template = models.CharField(_("subject"), max_length=300)
    body_template = models.TextField(_("message"))
    offer_type = models.CharField(
        _("offer"), max_length=30, choices=OfferType.choices, default=OfferType.PRODUCT_RECOMMENDATION
    )
    offer_value = models.DecimalField(_("offer value"), **MONEY, null=True, blank=True)
    code_mode = models.CharField(_("discount code"), max_length=10, choices=CodeMode.choices, default=CodeMode.NONE)
    discount_code = models.CharField(
        _("code or prefix"),
        max_length=40,
        blank=True,
        default="",
        help_text=_("The shop's code when everyone gets the same one, or the prefix of the unique codes."),
    )
    scheduled_at = models.DateTimeField(_("send at"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    holdout_share = models.DecimalField(
        _("holdout share"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.100"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("0.5"))],
        help_text=_("Share of the eligible customers who get nothing, to compare with."),
    )
    holdout_seed = models.BigIntegerField(null=True, blank=True, help_text="Seed of the holdout draw, recorded.")
    frequency_cap = models.PositiveSmallIntegerField(
        _("frequency cap"),
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text=_("At most this many campaign emails per customer in 7 days; others wait."),
    )
    attribution_days = models.PositiveSmallIntegerField(
        _("attribution window (days)"), default=5, validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    last_error = models.TextField(_("problem"), blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    send_window_ends_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    attributed_at = models.DateTimeField(null=True, blank=True)

    class Meta(ShopOwned.Meta):
        indexes = [models.Index(fields=["status", "scheduled_at"]), models.Index(fields=["shop", "status"])]
        ordering = ["-created_at", "-id"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")

    def __str__(self) -> str:
        return self.name

    @property
    def is_editable(self) -> bool:
        return self.status in {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED}

    @property
    def has_started(self) -> bool:
        return self.status in {CampaignStatus.SENDING, CampaignStatus.SENT}

    def clean(self) -> None:
        from campaigns.rendering import TemplateProblem, validate_templates

        errors: dict[str, list] = {}
        try:
            validate_templates(subject=self.subject_template, body=self.body_template)
        except TemplateProblem as exc:
            errors.setdefault(exc.field, []).append(exc.message)
        if self.offer_type not in {OfferType.PERCENT_OFF, OfferType.AMOUNT_OFF}:
            self.offer_value = None  # a value means nothing for free shipping or a recommendation
        elif self.offer_value is None or self.offer_value <= 0:
            errors.setdefault("offer_value", []).append(_("Give the discount, a number above zero."))
        elif self.offer_type == OfferType.PERCENT_OFF and self.offer_value > 100:
            errors.setdefault("offer_value", []).append(_("A percentage is at most 100."))
        if self.code_mode != CodeMode.NONE and not self.discount_code.strip():
            errors.setdefault("discount_code", []).append(_("Give the code, or the prefix of the unique codes."))
        if errors:
            raise ValidationError(errors)


class RecipientStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    HOLDOUT = "holdout", _("Holdout (gets nothing)")
    EXCLUDED = "excluded", _("Excluded")
    DEFERRED = "deferred", _("Deferred by the frequency cap")
    CLAIMED = "claimed", _("Being prepared")
    HANDING_OFF = "handing_off", _("Handing to the mail server")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    UNKNOWN = "unknown", _("Unknown (worker stopped during hand-off)")


# Statuses that still need work; a campaign is finished when none of its rows has one.
OPEN_STATUSES = (
    RecipientStatus.PENDING,
    RecipientStatus.DEFERRED,
    RecipientStatus.CLAIMED,
    RecipientStatus.HANDING_OFF,
)
# A message that may have reached the mail server: counts for the frequency cap, never resent.
MAYBE_SENT_STATUSES = (RecipientStatus.HANDING_OFF, RecipientStatus.SENT, RecipientStatus.UNKNOWN)


class ExclusionReason(models.TextChoices):
    NO_EMAIL = "no_email", _("No email address")
    NO_CONSENT = "no_consent", _("No marketing consent")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    BOUNCED = "bounced", _("Bounced before")
    SUPPRESSED = "suppressed", _("Suppressed")
    FREQUENCY_CAP = "frequency_cap", _("Frequency cap (window ended)")


class Recipient(ShopOwned):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    email = models.EmailField(blank=True, default="")
    status = models.CharField(max_length=12, choices=RecipientStatus.choices, default=RecipientStatus.PENDING)
    reason = models.CharField(max_length=20, choices=ExclusionReason.choices, blank=True, default="")
    claim_token = models.CharField(max_length=32, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=200, blank=True, default="")
    handoff_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=255, blank=True, default="")
    error = models.TextField(blank=True, default="")
    bounced_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    converted_order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revenue = models.DecimalField(**MONEY, default=Decimal("0"))

    class Meta(ShopOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["shop", "campaign", "customer"], name="recipient_unique_campaign_customer")
        ]
        indexes = [
            models.Index(fields=["campaign", "status"]),
            # The frequency cap: this customer's recent campaign emails.
            models.Index(fields=["shop", "customer", "handoff_at"]),
            models.Index(fields=["status", "claimed_at"], condition=Q(status="claimed"), name="recipient_claimed_idx"),
            models.Index(
                fields=["status", "handoff_at"], condition=Q(status="handing_off"), name="recipient_handoff_idx"
            ),
        ]
        ordering = ["id"]
        verbose_name = _("recipient")
        verbose_name_plural = _("recipients")

    def __str__(self) -> str:
        return f"{self.email or self.customer_id} ({self.status})"


class SuppressionReason(models.TextChoices):
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    BOUNCED = "bounced", _("Bounced")
    COMPLAINT = "complaint", _("Spam complaint")
    MANUAL = "manual", _("Added by the shop")


def suppression_digest(*, shop_id: int, email: str) -> str:
    """What a suppressed address is kept as once its person is erased: the one-way digest their
    erased identities use (ADR 0009, 0010), enough to refuse the address if it comes back."""
    key = email_key(email)
    return erased_digest(shop_id=shop_id, key=key) if key else ""


class Suppression(ShopOwned):
    """An address the shop must not email again, whatever the customer row says about consent.

    Every row has the address's digest; an erased person's suppression keeps only that (email
    ""), and still excludes the address (campaigns.selectors.suppression_reasons).
    """

    email = models.EmailField(_("email"), blank=True)  # stored lower-case; "" once its person is erased
    email_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    reason = models.CharField(_("reason"), max_length=20, choices=SuppressionReason.choices)
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(ShopOwned.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "email"], condition=~Q(email=""), name="suppression_unique_shop_email"
            ),
            models.UniqueConstraint(
                fields=["shop", "email_hash"], condition=~Q(email_hash=""), name="suppression_unique_shop_email_hash"
            ),
        ]
        ordering = ["-created_at"]
        verbose_name = _("suppression")
        verbose_name_plural = _("suppressions")

    def __str__(self) -> str:
        return f"{self.email or self.email_hash[:12]} ({self.reason})"

    def save(self, *args, **kwargs):
        self.email = self.email.strip().lower()
        if self.email:
            self.email_hash = suppression_digest(shop_id=self.shop_id, email=self.email)
        super().save(*args, **kwargs)


class TrackingKind(models.TextChoices):
    OPEN = "open", _("Opened")
    CLICK = "click", _("Clicked")


class TrackingEvent(ShopOwned):
    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="tracking_events")
    kind = models.CharField(max_length=10, choices=TrackingKind.choices)
    at = models.DateTimeField()
    url = models.URLField(max_length=2000, blank=True, default="")

    class Meta(ShopOwned.Meta):
        indexes = [models.Index(fields=["recipient", "kind"])]
        ordering = ["-at"]
