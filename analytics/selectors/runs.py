"""Reads for the analysis page: past runs with their timing, parameters and quality figures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from analytics.models import AnalysisRun
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
    holdout_days: float | None
    holdout_predicted: float | None
    holdout_actual: float | None
    rules: dict[str, int]
    customers: int | None
    notes: dict[str, str]

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
    holdout = (s.get("clv") or {}).get("holdout") or {}
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
        holdout_days=holdout.get("days"),
        holdout_predicted=holdout.get("predicted_purchases"),
        holdout_actual=holdout.get("actual_purchases"),
        rules=(s.get("rules") or {}).get("count") or {},
        customers=s.get("customers"),
        notes=s.get("notes") or {},
    )


def run_timings(run: AnalysisRun) -> list[dict[str, Any]]:
    """Seconds per step in pipeline order, with each step's share of the total for a small bar."""
    timings = run.timings or {}
    total = sum(v for v in timings.values() if isinstance(v, (int, float))) or 1.0
    names = [n for n in STEP_ORDER if n in timings] + sorted(n for n in timings if n not in STEP_ORDER)
    return [{"step": n, "seconds": timings[n], "share": round(100 * timings[n] / total, 1)} for n in names]
