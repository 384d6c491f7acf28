"""Reads for the analysis page: past runs with their timing, parameters and quality figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from analytics.models import AnalysisRun
from analytics.selectors.quality import run_ratings
from shops.models import Shop

STEP_ORDER = ("load", "features", "rfm", "clusters", "clv", "rules", "forecast", "save")


def run_list(*, shop: Shop) -> QuerySet[AnalysisRun]:
    return AnalysisRun.objects.for_shop(shop).select_related("created_by").order_by("-created_at")


def run_get(*, shop: Shop, run_id: int) -> AnalysisRun | None:
    return AnalysisRun.objects.for_shop(shop).filter(pk=run_id).first()


@dataclass(frozen=True)
class RunQuality:
    """The figures that say how much to trust a run, from its stored summary."""

    method: str | None
    k: int | None
    silhouette: float | None
    calinski_harabasz: float | None
    davies_bouldin: float | None
    forecast_model: str | None
    forecast_mase: float | None
    naive_mase: float | None
    forecast_smape: float | None
    naive_smape: float | None
    rules: dict[str, int]
    customers: int | None
    notes: dict[str, str]
    rule_params: dict[str, Any] = field(default_factory=dict)  # what the rules were mined with

    @property
    def rule_min_support(self) -> float | None:
        """The support the product rules were mined at (the category rules' when there were no products)."""
        p = self.rule_params
        return p.get("product_min_support", p.get("category_min_support"))

    @property
    def forecast_beats_naive(self) -> bool | None:
        if self.forecast_mase is None or self.naive_mase is None:
            return None
        return self.forecast_mase < self.naive_mase


def run_quality(run: AnalysisRun) -> RunQuality:
    s = run.summary or {}
    clusters = s.get("clusters") or {}
    forecast = s.get("forecast") or {}
    model_error = forecast.get("backtest_error") or {}
    naive_error = forecast.get("seasonal_naive_error") or {}
    return RunQuality(
        method=clusters.get("method"),
        k=clusters.get("k"),
        silhouette=clusters.get("silhouette"),
        calinski_harabasz=clusters.get("calinski_harabasz"),
        davies_bouldin=clusters.get("davies_bouldin"),
        forecast_model=forecast.get("model"),
        forecast_mase=model_error.get("mase"),
        naive_mase=naive_error.get("mase"),
        forecast_smape=model_error.get("smape"),
        naive_smape=naive_error.get("smape"),
        rules=(s.get("rules") or {}).get("count") or {},
        rule_params=(s.get("rules") or {}).get("params") or {},
        customers=s.get("customers"),
        notes=s.get("notes") or {},
    )


def run_timings(run: AnalysisRun) -> list[dict[str, Any]]:
    """Seconds per step in pipeline order, with each step's share of the total for a small bar."""
    timings = run.timings or {}
    total = sum(v for v in timings.values() if isinstance(v, (int, float))) or 1.0
    names = [n for n in STEP_ORDER if n in timings] + sorted(n for n in timings if n not in STEP_ORDER)
    return [{"step": n, "seconds": timings[n], "share": round(100 * timings[n] / total, 1)} for n in names]


CLV_MODEL_NAMES = {"mbgnbd": "MBG/NBD", "bgnbd": "BG/NBD", "nbd": "NBD"}


def run_clv_model(run: AnalysisRun) -> str | None:
    """The purchase model a run's lifetime-value predictions come from (``mbgnbd``, ``bgnbd``, or
    ``nbd`` after a fallback), or None when the run has none."""
    return ((run.summary or {}).get("clv") or {}).get("model") or None


def clv_check(run: AnalysisRun) -> dict[str, Any] | None:
    """The lifetime-value holdout check of a run, for the analysis page: the purchase model's
    per-customer error on the holdout purchases beside the two baselines (each customer's own
    past rate; predicting nothing) and the fallback, and whether the model earns its place.
    None when the run has no check (no CLV step, or too little history)."""
    clv = (run.summary or {}).get("clv") or {}
    holdout = clv.get("holdout") or {}
    errors = holdout.get("errors") or {}
    if not errors:
        return None
    fit = holdout.get("fit") or {}
    model_name = CLV_MODEL_NAMES.get(fit.get("model", ""), fit.get("model", ""))
    labels = {
        "model": _("%(model)s model") % {"model": model_name},
        "fallback": _("simpler estimate (NBD)"),
        "own_rate": _("each customer's own past rate"),
        "nothing": _("predicting no purchase"),
    }
    rows = [
        {"key": key, "label": labels[key], **errors[key]}
        for key in ("model", "fallback", "own_rate", "nothing")
        if key in errors
    ]
    verdict = holdout.get("verdict", "")
    used = run_clv_model(run) or ""
    return {
        "calibration_end": holdout.get("calibration_end"),
        "observation_end": holdout.get("observation_end"),
        "days": holdout.get("days"),
        "customers": holdout.get("customers"),
        "actual": holdout.get("actual_purchases"),
        "rows": rows,
        "earns_its_place": verdict == "model_earns_its_place",
        "verdict": verdict,
        "used": CLV_MODEL_NAMES.get(used, used),
        "fallback": clv.get("fallback", ""),
    }


def run_rows(runs: list[AnalysisRun]) -> list[dict[str, Any]]:
    """What the analysis page shows of each run: its quality figures and their ratings, the
    clusters' own figures, the time per step and the lifetime value check."""
    return [
        {
            "run": r,
            "quality": run_quality(r),
            "ratings": run_ratings(r),
            "clusters": (r.summary or {}).get("clusters") or {},
            "timings": run_timings(r),
            "clv": clv_check(r),
        }
        for r in runs
    ]
