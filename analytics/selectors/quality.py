"""Good / fair / poor for the quality figures of a run, each with one plain line that says what it measures.

The thresholds are rules of thumb, written here once, and shown to the owner beside the value:

- silhouette (-1..1, higher is better): Kaufman & Rousseeuw's reading, above 0.5 a reasonable
  structure, 0.25..0.5 a weak one, below 0.25 none to speak of;
- Calinski-Harabasz has no scale of its own (it grows with the number of customers), so it is
  rated on the share of the spread between customers the clusters explain,
  ``R2 = CH (k - 1) / (CH (k - 1) + n - k)``: above 50% good, 30..50% fair;
- Davies-Bouldin (0 and up, lower is better): below 1 good, 1..2 fair, above 2 poor;
- MASE (the forecast's backtest error over the in-sample error of repeating the last season):
  below 1 beats that seasonal-naive forecast (good), up to 1.25 about as good (fair), above poor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

from analytics.models import AnalysisRun

GOOD, FAIR, POOR = "good", "fair", "poor"
RATING_LABELS: dict[str, Promise] = {GOOD: gettext_lazy("good"), FAIR: gettext_lazy("fair"), POOR: gettext_lazy("poor")}
RATING_CSS = {GOOD: "low", FAIR: "medium", POOR: "high"}  # the badge colours: green, amber, red

NAMES: dict[str, Promise] = {
    "silhouette": gettext_lazy("Silhouette"),
    "calinski_harabasz": gettext_lazy("Calinski–Harabasz"),
    "davies_bouldin": gettext_lazy("Davies–Bouldin"),
    "mase": gettext_lazy("MASE"),
}
EXPLANATIONS: dict[str, Promise] = {
    "silhouette": gettext_lazy(
        "Silhouette (−1 to 1): how clearly each customer belongs to their own cluster rather than the nearest "
        "other one. Good above 0.5, fair from 0.25 to 0.5, poor below 0.25."
    ),
    "calinski_harabasz": gettext_lazy(
        "Calinski–Harabasz: how far apart the clusters are compared with how spread out each one is; rated on "
        "the share of the differences between customers that the clusters explain. Good above 50%, fair from "
        "30% to 50%, poor below 30%."
    ),
    "davies_bouldin": gettext_lazy(
        "Davies–Bouldin (0 and up): how much each cluster overlaps the one most like it; lower is better. "
        "Good below 1, fair from 1 to 2, poor above 2."
    ),
    "mase": gettext_lazy(
        "MASE: the forecast's typical error divided by that of simply repeating the last season (the "
        "seasonal-naive forecast). Good below 1 (it beats repeating), fair from 1 to 1.25, poor above 1.25."
    ),
    "noise": gettext_lazy(
        "With HDBSCAN, the customers it places in no cluster count as one more group in these figures, so "
        "leaving many customers out lowers them."
    ),
}


@dataclass(frozen=True)
class Rating:
    metric: str
    value: float
    rating: str  # good | fair | poor

    @property
    def name(self) -> str:
        return str(NAMES[self.metric])

    @property
    def label(self) -> str:
        return str(RATING_LABELS[self.rating])

    @property
    def css(self) -> str:
        return RATING_CSS[self.rating]

    @property
    def explanation(self) -> str:
        return str(EXPLANATIONS[self.metric])


def _higher_is_better(value: float, good: float, fair: float) -> str:
    return GOOD if value > good else FAIR if value >= fair else POOR


def _lower_is_better(value: float, good: float, fair: float) -> str:
    return GOOD if value < good else FAIR if value <= fair else POOR


def rate(metric: str, value: float | None) -> Rating | None:
    """The rating of one figure (``explained_share`` for Calinski-Harabasz); None without a value."""
    if value is None:
        return None
    value = float(value)
    if metric == "silhouette":
        return Rating(metric, value, _higher_is_better(value, 0.5, 0.25))
    if metric == "calinski_harabasz":
        return Rating(metric, value, _higher_is_better(value, 0.5, 0.3))
    if metric == "davies_bouldin":
        return Rating(metric, value, _lower_is_better(value, 1.0, 2.0))
    if metric == "mase":
        return Rating(metric, value, _lower_is_better(value, 1.0, 1.25))
    raise ValueError(f"no rating for {metric!r}")


def explained_share(clusters: dict[str, Any]) -> float | None:
    """The share of the spread the clusters explain: stored by newer runs, else derived from
    Calinski-Harabasz, the number of clusters and of customers (a run from before it was stored)."""
    if clusters.get("explained_share") is not None:
        return float(clusters["explained_share"])
    ch, k = clusters.get("calinski_harabasz"), clusters.get("k")
    n = sum(s.get("size", 0) for s in clusters.get("segments") or [])
    if ch is None or not k or k < 2 or not n or n <= k:
        return None
    between = float(ch) * (k - 1)
    return between / (between + n - k)


def run_ratings(run: AnalysisRun) -> dict[str, Rating]:
    """metric -> Rating for the figures the run's summary has (silhouette, calinski_harabasz,
    davies_bouldin, mase)."""
    summary = run.summary or {}
    clusters = summary.get("clusters") or {}
    forecast = summary.get("forecast") or {}
    values = {
        "silhouette": clusters.get("silhouette"),
        "calinski_harabasz": explained_share(clusters) if clusters.get("calinski_harabasz") is not None else None,
        "davies_bouldin": clusters.get("davies_bouldin"),
        "mase": (forecast.get("backtest_error") or {}).get("mase"),
    }
    ratings = {metric: rate(metric, value) for metric, value in values.items()}
    return {metric: r for metric, r in ratings.items() if r is not None}


def explanation_lines() -> list[str]:
    """The plain line of each figure, for the page's "What the quality figures mean"."""
    return [str(EXPLANATIONS[m]) for m in ("silhouette", "calinski_harabasz", "davies_bouldin", "mase", "noise")]
