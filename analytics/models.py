"""Results of an analysis run. A run becomes the shop's current one only when it completes;
a failed run keeps the previous results visible and records why it failed."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from customers.models import MONEY, Customer
from shops.models import ShopOwned


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class AnalysisRun(ShopOwned):
    status = models.CharField(_("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    is_current = models.BooleanField(_("current"), default=False)
    trigger = models.CharField(_("started by"), max_length=20, default="owner")  # owner, import, sync, nightly, command
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    progress = models.PositiveSmallIntegerField(_("progress"), default=0)
    step = models.CharField(_("step"), max_length=40, blank=True, default="")
    timings = models.JSONField(default=dict, blank=True)  # step -> seconds
    summary = models.JSONField(default=dict, blank=True)  # what `analyze --json` prints
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(ShopOwned.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["shop"], condition=Q(is_current=True), name="analysisrun_one_current_per_shop"
            )
        ]
        indexes = [models.Index(fields=["shop", "status"])]
        ordering = ["-created_at"]
        verbose_name = _("analysis run")
        verbose_name_plural = _("analysis runs")

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class SegmentKind(models.TextChoices):
    RFM = "rfm", _("RFM group")
    CLUSTER = "cluster", _("Cluster")
    OUTLIERS = "outliers", _("Outliers")
    CUSTOM = "custom", _("Custom")


class Segment(ShopOwned):
    """A group of customers. Computed segments belong to one run; custom segments have no run
    and a `definition` evaluated against the current run's customer scores."""

    run = models.ForeignKey(AnalysisRun, null=True, blank=True, on_delete=models.CASCADE, related_name="segments")
    kind = models.CharField(_("kind"), max_length=10, choices=SegmentKind.choices)
    key = models.CharField(max_length=80, help_text="Stable across runs, e.g. rfm:champions, cluster:2.")
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True, default="")
    facts = models.JSONField(default=list, blank=True)  # structured parts of the description
    centre = models.JSONField(default=dict, blank=True)  # feature -> value (clusters)
    definition = models.JSONField(default=dict, blank=True)  # custom segments: condition tree
    size = models.PositiveIntegerField(_("customers"), default=0)
    revenue = models.DecimalField(_("revenue"), **MONEY, default=0)
    revenue_share = models.FloatField(_("share of revenue"), default=0.0)
    avg_clv = models.DecimalField(_("average CLV"), **MONEY, null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(ShopOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["shop", "run", "key"], name="segment_unique_shop_run_key"),
        ]
        indexes = [models.Index(fields=["shop", "kind"])]
        ordering = ["kind", "-size"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")

    def __str__(self) -> str:
        return self.name


class SegmentMembership(ShopOwned):
    run = models.ForeignKey(AnalysisRun, on_delete=models.CASCADE, related_name="+")
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="segment_memberships")
    reason = models.CharField(max_length=300, blank=True, default="")

    class Meta(ShopOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["shop", "segment", "customer"], name="membership_unique_segment_customer")
        ]
        indexes = [models.Index(fields=["shop", "customer"]), models.Index(fields=["shop", "run"])]


class RuleLevel(models.TextChoices):
    PRODUCT = "product", _("Product")
    CATEGORY = "category", _("Category")


class AssociationRule(ShopOwned):
    run = models.ForeignKey(AnalysisRun, on_delete=models.CASCADE, related_name="rules")
    segment = models.ForeignKey(Segment, null=True, blank=True, on_delete=models.CASCADE, related_name="rules")
    level = models.CharField(max_length=10, choices=RuleLevel.choices)
    antecedents = models.JSONField()  # list of item keys (product ids as strings, or category names)
    antecedent_labels = models.JSONField(default=list)
    consequent = models.CharField(max_length=200)
    consequent_label = models.CharField(max_length=300, blank=True, default="")
    support = models.FloatField()
    confidence = models.FloatField()
    lift = models.FloatField()
    leverage = models.FloatField()
    conviction = models.FloatField(null=True, blank=True)  # infinite when confidence is 1

    class Meta(ShopOwned.Meta):
        indexes = [models.Index(fields=["shop", "run", "level"])]
        ordering = ["-lift", "-confidence"]


class Forecast(ShopOwned):
    run = models.ForeignKey(AnalysisRun, on_delete=models.CASCADE, related_name="forecasts")
    segment = models.ForeignKey(Segment, null=True, blank=True, on_delete=models.CASCADE, related_name="forecasts")
    metric = models.CharField(max_length=10)  # revenue | orders
    freq = models.CharField(max_length=1)  # D | W
    model_name = models.CharField(max_length=80)
    backtest = models.JSONField(default=dict)  # chosen model's errors
    naive_backtest = models.JSONField(default=dict)  # seasonal-naive errors
    history = models.JSONField(default=list)  # [[date, value], ...] recent actuals
    points = models.JSONField(default=list)  # [{date, mean, lo80, hi80, lo95, hi95}]

    class Meta(ShopOwned.Meta):
        indexes = [models.Index(fields=["shop", "run", "metric", "freq"])]


class CustomerScore(ShopOwned):
    """One customer's profile and predictions in one run."""

    run = models.ForeignKey(AnalysisRun, on_delete=models.CASCADE, related_name="scores")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="scores")
    features = models.JSONField(default=dict)
    recency_days = models.FloatField(null=True)
    frequency = models.PositiveIntegerField(default=0)
    monetary = models.DecimalField(**MONEY, default=0)
    r_score = models.PositiveSmallIntegerField(null=True)
    f_score = models.PositiveSmallIntegerField(null=True)
    m_score = models.PositiveSmallIntegerField(null=True)
    rfm_group = models.CharField(max_length=40, blank=True, default="")
    cluster = models.IntegerField(null=True)  # -1 = outlier
    x = models.FloatField(null=True)
    y = models.FloatField(null=True)
    p_alive = models.FloatField(null=True)
    expected_30 = models.FloatField(null=True)
    expected_90 = models.FloatField(null=True)
    expected_365 = models.FloatField(null=True)
    clv_12m = models.DecimalField(**MONEY, null=True)  # = expected_365 x expected_spend (compute/clv.py)
    expected_spend = models.DecimalField(**MONEY, null=True)  # expected spend per purchase
    next_order_date = models.DateField(null=True)
    churn_risk = models.CharField(max_length=10, blank=True, default="")  # low | medium | high
    top_category = models.CharField(max_length=120, blank=True, default="")
    recommendations = models.JSONField(default=list)  # [{item, label, score, because}]

    class Meta(ShopOwned.Meta):
        constraints = [models.UniqueConstraint(fields=["shop", "run", "customer"], name="score_unique_run_customer")]
        indexes = [models.Index(fields=["shop", "run", "rfm_group"]), models.Index(fields=["shop", "customer"])]

    @property
    def churn_percent(self) -> int | None:
        """The churn risk shown, in whole percent: 100 minus the chance still active (as shown, rounded);
        None when the purchase model gives no chance still active."""
        if self.p_alive is None:
            return None
        return 100 - round(self.p_alive * 100)
