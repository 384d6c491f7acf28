"""The whole analysis of one shop, from the standard frames to one result bundle.

No Django here either: ``run_pipeline`` takes the frames and parameters and returns an
:class:`AnalysisResult`; the web layer stores it. Each step is timed; a step that cannot
run on this shop's data (too little history for a forecast, too few repeat customers for
BG/NBD) records why in ``notes`` instead of failing the whole run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from . import clusters as clusters_mod
from . import clv as clv_mod
from . import features as features_mod
from . import forecast as forecast_mod
from . import rfm as rfm_mod
from . import rules as rules_mod

STEPS: tuple[str, ...] = ("rfm", "clusters", "rules", "forecast", "clv")
CLUSTER_METHODS = ("kmeans", "agglomerative", "hdbscan")


@dataclass(frozen=True)
class PipelineParams:
    """What the owner (or the command line) can choose for a run."""

    only: tuple[str, ...] = STEPS
    min_support: float | None = None  # None: adapt to the number of baskets
    min_confidence: float = 0.2
    rule_algorithm: str = "fpgrowth"
    rule_max_len: int = 3
    cluster_method: str = "kmeans"
    k: int | None = None
    calibration_end: Any = None  # CLV holdout check: fit up to this date, compare after it
    holdout_days: int = 56
    forecast_horizon_days: int = 28
    forecast_horizon_weeks: int = 12
    segment_forecasts: bool = True
    random_state: int = 0
    # Native threads (BLAS / OpenMP) per run. One: a worker machine runs several runs (and the
    # web server, and the database) at once, and OpenMP threads that spin-wait for a busy core
    # made k-means 5-20x slower in the benchmark than one thread.
    threads: int | None = 1

    def __post_init__(self) -> None:
        unknown = set(self.only) - set(STEPS)
        if unknown:
            raise ValueError(f"unknown analysis step(s): {', '.join(sorted(unknown))}; choose from {', '.join(STEPS)}")
        if self.cluster_method not in CLUSTER_METHODS:
            raise ValueError(f"cluster_method must be one of {', '.join(CLUSTER_METHODS)}")
        if self.min_support is not None and not 0 < self.min_support <= 1:
            raise ValueError("min_support must be in (0, 1]")
        if not 0 <= self.min_confidence <= 1:
            raise ValueError("min_confidence must be in [0, 1]")
        if self.k is not None and not 2 <= self.k <= 20:
            raise ValueError("k must be between 2 and 20")


@dataclass(frozen=True, eq=False)
class ForecastItem:
    segment_key: str | None
    metric: str  # revenue | orders
    freq: str  # D | W
    result: forecast_mod.ForecastResult
    history: pd.Series


@dataclass(eq=False)
class AnalysisResult:
    as_of: pd.Timestamp
    features: pd.DataFrame
    rfm: pd.DataFrame | None = None
    rfm_summary: pd.DataFrame | None = None
    clusters: clusters_mod.ClusterResult | None = None
    rules: dict[str, pd.DataFrame] = field(default_factory=dict)  # level -> rules
    segment_rules: dict[str, pd.DataFrame] = field(default_factory=dict)  # segment key -> category rules
    rule_params: dict[str, Any] = field(default_factory=dict)
    recommendations: pd.DataFrame | None = None
    forecasts: list[ForecastItem] = field(default_factory=list)
    clv: clv_mod.CLVResult | None = None
    clv_validation: clv_mod.HoldoutValidation | None = None
    timings: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def segment_keys(self) -> pd.DataFrame:
        """customer_id -> rfm and cluster segment keys (the ones services store)."""
        out = pd.DataFrame(index=self.features.index)
        if self.rfm is not None:
            out["rfm"] = "rfm:" + self.rfm["segment"].map(slug).reindex(out.index)
        if self.clusters is not None:
            labels = self.clusters.labels.reindex(out.index)
            out["cluster"] = labels.map(
                lambda v: None if pd.isna(v) else ("outliers" if v < 0 else f"cluster:{int(v)}")
            )
        return out


def slug(name: str) -> str:
    return name.lower().replace(" ", "-")


MAX_FREQUENT_ITEMS = 250


def adaptive_min_support(n_baskets: int, item_baskets: pd.Series | None = None) -> float:
    """A support threshold that keeps rules meaningful and mining fast on any shop size.

    An itemset must be in at least 10 baskets (fewer is anecdote) and in at least 1% of
    baskets: below that, mlxtend's pure-Python FP-growth explodes on catalogues of
    thousands of products, and the rules found describe a handful of orders. With
    ``item_baskets`` (baskets per item), the threshold also rises to the support of the
    ``MAX_FREQUENT_ITEMS``-th most bought item: Online Retail has 790 products in 1% of its
    invoices, and FP-growth over all of them takes several seconds for rules about items
    nobody will put in an offer. The rules found are still exactly those at that threshold.
    Never above 5%.
    """
    if n_baskets <= 0:
        return 1.0
    support = max(10 / n_baskets, 0.01)
    if item_baskets is not None and len(item_baskets) > MAX_FREQUENT_ITEMS:
        nth = float(np.sort(item_baskets.to_numpy())[::-1][MAX_FREQUENT_ITEMS - 1])
        support = max(support, nth / n_baskets)
    return float(min(support, 0.05))


def run_pipeline(
    orders: pd.DataFrame,
    lines: pd.DataFrame,
    customers: pd.DataFrame,
    events: pd.DataFrame,
    reviews: pd.DataFrame,
    params: PipelineParams | None = None,
    as_of: Any = None,
    progress: Callable[[str, int], None] | None = None,
) -> AnalysisResult:
    """Run the chosen steps and return everything they produced.

    ``as_of`` defaults to the day after the last order (so a historical data set is
    analysed as of its own end, not as of today). ``progress(step, percent)`` is called
    before each step. Refuses (ValueError) a shop with no purchase orders at all.
    """
    params = params or PipelineParams()
    # threadpoolctl limits only the native libraries already loaded: load OpenMP (scikit-learn)
    # and the BLAS statsmodels uses before limiting them.
    import sklearn
    import sklearn.cluster  # noqa: F401
    import statsmodels.tsa.statespace.sarimax  # noqa: F401

    # working_memory: scikit-learn's chunks of pairwise distances (silhouette) may take 1 GB by
    # default, on top of a big shop's frames; 128 MB costs no time.
    with threadpool_limits(limits=params.threads), sklearn.config_context(working_memory=128):
        return _run_pipeline(orders, lines, customers, events, reviews, params, as_of, progress)


def _run_pipeline(
    orders: pd.DataFrame,
    lines: pd.DataFrame,
    customers: pd.DataFrame,
    events: pd.DataFrame,
    reviews: pd.DataFrame,
    params: PipelineParams,
    as_of: Any,
    progress: Callable[[str, int], None] | None,
) -> AnalysisResult:
    report = progress or (lambda step, pct: None)
    timings: dict[str, float] = {}

    purchases = orders[orders["status"].isin(["paid", "returned"])]
    if purchases.empty:
        raise ValueError("the shop has no paid orders yet; import orders first")
    placed = pd.to_datetime(orders["placed_at"], utc=True)
    as_of_ts = (
        pd.Timestamp(as_of).tz_localize("UTC")
        if as_of is not None and pd.Timestamp(as_of).tzinfo is None
        else pd.Timestamp(as_of)
        if as_of is not None
        else (placed.max().floor("D") + pd.Timedelta(days=1))
    )

    report("features", 5)
    t0 = time.perf_counter()
    feats = features_mod.customer_features(orders, lines, customers, events, reviews, as_of=as_of_ts)
    timings["features"] = time.perf_counter() - t0
    result = AnalysisResult(as_of=as_of_ts, features=feats, timings=timings)
    buyers = feats[feats["frequency"] > 0]

    if "rfm" in params.only:
        report("rfm", 15)
        t0 = time.perf_counter()
        result.rfm = rfm_mod.rfm_scores(buyers)
        result.rfm_summary = rfm_mod.rfm_summary(result.rfm)
        timings["rfm"] = time.perf_counter() - t0

    if "clusters" in params.only:
        report("clusters", 25)
        t0 = time.perf_counter()
        if len(buyers) >= 20:
            result.clusters = clusters_mod.cluster_customers(
                buyers, method=params.cluster_method, k=params.k, random_state=params.random_state
            )
        else:
            result.notes["clusters"] = f"only {len(buyers)} customers have bought; clustering needs at least 20"
        timings["clusters"] = time.perf_counter() - t0

    if "clv" in params.only:
        report("clv", 45)
        t0 = time.perf_counter()
        _run_clv(result, purchases, params, as_of_ts)
        timings["clv"] = time.perf_counter() - t0

    if "rules" in params.only:
        report("rules", 60)
        t0 = time.perf_counter()
        _run_rules(result, lines, orders, params)
        timings["rules"] = time.perf_counter() - t0

    if "forecast" in params.only:
        report("forecast", 80)
        t0 = time.perf_counter()
        _run_forecasts(result, purchases, params)
        timings["forecast"] = time.perf_counter() - t0

    report("saving", 95)
    return result


def _run_clv(result: AnalysisResult, purchases: pd.DataFrame, params: PipelineParams, as_of: pd.Timestamp) -> None:
    tx = purchases[purchases["customer_id"].notna()].copy()
    tx["value"] = np.where(tx["status"] == "returned", 0.0, tx["total"].astype(float))
    calibration_end = as_of - pd.Timedelta(days=1)
    summary = clv_mod.summary_from_transactions(
        tx, "customer_id", "placed_at", "value", calibration_end=calibration_end, freq="D"
    )
    result.clv = clv_mod.clv_analysis(summary, as_of=as_of)
    if not result.clv.ok:
        result.notes["clv"] = result.clv.reason
        return
    # Validation the owner can see: fit on all but the last weeks, compare with what happened.
    cal_end = (
        pd.Timestamp(params.calibration_end)
        if params.calibration_end is not None
        else calibration_end - pd.Timedelta(days=params.holdout_days)
    )
    if cal_end.tzinfo is None:
        cal_end = cal_end.tz_localize("UTC")
    try:
        cal = clv_mod.summary_from_transactions(
            tx, "customer_id", "placed_at", "value", calibration_end=cal_end, observation_end=calibration_end, freq="D"
        )
        fitted = clv_mod.fit_bgnbd(cal["frequency"], cal["recency"], cal["T"], time_unit="days")
        if fitted.converged:
            result.clv_validation = clv_mod.holdout_validation(cal, fitted)
        else:
            result.notes["clv_validation"] = "the calibration fit did not converge"
    except ValueError as exc:
        result.notes["clv_validation"] = str(exc)


def _run_rules(result: AnalysisResult, lines: pd.DataFrame, orders: pd.DataFrame, params: PipelineParams) -> None:
    # All orders count, guest orders included: what is bought together does not depend on who.
    bought = rules_mod.purchased_lines(lines, orders)  # once for both levels
    category = rules_mod.category_baskets(bought)
    # categorical: mined again per segment below, and codes are much cheaper to group than texts
    category["item"] = category["item"].astype("category")
    levels = {"product": rules_mod.product_baskets(bought), "category": category}
    used: dict[str, Any] = {"min_confidence": params.min_confidence, "algorithm": params.rule_algorithm}
    for level, baskets in levels.items():
        n_baskets = baskets["basket_id"].nunique() if not baskets.empty else 0
        if n_baskets == 0:
            result.rules[level] = pd.DataFrame()
            continue
        support = params.min_support or adaptive_min_support(n_baskets, baskets["item"].value_counts(sort=False))
        used[f"{level}_min_support"] = support
        used[f"{level}_baskets"] = int(n_baskets)
        result.rules[level] = rules_mod.association_rules_for(
            baskets,
            min_support=support,
            min_confidence=params.min_confidence,
            algorithm=params.rule_algorithm,
            max_len=params.rule_max_len,
            min_len=2,
        )
    result.rule_params = used

    # Per segment: category rules over the orders of the segment's members.
    keys = result.segment_keys()
    cat = levels["category"]
    if not cat.empty and len(keys.columns):
        order_customer = orders.set_index("order_id")["customer_id"]
        cat = cat.assign(customer_id=cat["basket_id"].map(order_customer))
        for column in keys.columns:
            codes, names = pd.factorize(keys[column], sort=True)  # group on integer codes, not texts
            segment_of = cat["customer_id"].map(pd.Series(codes, index=keys.index)).fillna(-1).astype(int)
            for code, seg_baskets in cat[["basket_id", "item"]].groupby(segment_of.to_numpy(), sort=True):
                if code < 0:
                    continue
                key = names[code]
                n = seg_baskets["basket_id"].nunique()
                if n < 30:
                    continue
                support = params.min_support or adaptive_min_support(n)
                result.segment_rules[key] = rules_mod.association_rules_for(
                    seg_baskets, min_support=support, min_confidence=params.min_confidence, max_len=2, min_len=2
                )

    # Next best offers per customer from product rules, excluding what they already have.
    product_rules = result.rules.get("product")
    if product_rules is not None and not product_rules.empty:
        bought = lines[(lines["quantity"] > 0) & lines["customer_id"].notna() & lines["product_id"].notna()]
        items = bought[["customer_id", "product_id"]]
        items = items.iloc[rules_mod.unique_pairs(items["customer_id"], items["product_id"])]
        items = items.rename(columns={"product_id": "item"})
        items["customer_id"] = items["customer_id"].astype("int64")
        result.recommendations = rules_mod.next_best_offers(product_rules, items, top_n=5)


def _run_forecasts(result: AnalysisResult, purchases: pd.DataFrame, params: PipelineParams) -> None:
    # Summed per calendar day first: the forecasts only ever see daily or weekly totals, and
    # regularising a million order timestamps per series took longer than the models.
    day = pd.to_datetime(purchases["placed_at"], utc=True).dt.tz_convert(None).dt.floor("D")
    values = pd.DataFrame({"revenue": purchases["total"].astype(float).to_numpy(), "orders": 1.0}, index=day.index)
    daily = values.groupby(day.to_numpy()).sum()
    for metric in ("revenue", "orders"):
        for freq, horizon in (("D", params.forecast_horizon_days), ("W", params.forecast_horizon_weeks)):
            _forecast_one(result, None, metric, freq, horizon, daily[metric])
    if not params.segment_forecasts:
        return
    keys = result.segment_keys()
    if "cluster" not in keys.columns:
        return
    customer_key = keys["cluster"]
    segment = purchases["customer_id"].map(customer_key).to_numpy()
    by_segment = values["revenue"].groupby([segment, day.to_numpy()]).sum()
    present = set(by_segment.index.get_level_values(0))
    empty = pd.Series(dtype=float, index=pd.DatetimeIndex([]))
    for key in sorted(k for k in customer_key.dropna().unique()):
        series = by_segment.loc[key] if key in present else empty
        _forecast_one(result, key, "revenue", "W", params.forecast_horizon_weeks, series, quick=True)


def _forecast_one(
    result: AnalysisResult,
    segment_key: str | None,
    metric: str,
    freq: str,
    horizon: int,
    series: pd.Series,
    quick: bool = False,
) -> None:
    label = f"{segment_key or 'shop'}:{metric}:{freq}"
    if series.empty:
        result.notes[f"forecast {label}"] = "no orders"
        return
    try:
        fc = forecast_mod.forecast_series(series, horizon=horizon, freq=freq, quick=quick)
    except ValueError as exc:
        result.notes[f"forecast {label}"] = str(exc)
        return
    history = forecast_mod.prepare_series(series, freq)
    result.forecasts.append(ForecastItem(segment_key, metric, freq, fc, history.iloc[-(horizon * 4) :]))


def summarise(result: AnalysisResult, top_rules: int = 10) -> dict[str, Any]:
    """The JSON summary that `analyze --json` prints and the run stores."""
    out: dict[str, Any] = {"as_of": result.as_of.isoformat(), "customers": int(len(result.features))}
    if result.rfm_summary is not None:
        out["rfm"] = {
            "groups": [
                {
                    "name": row.segment,
                    "size": int(row.size),
                    "share_of_customers": _num(row.share_of_customers),
                    "share_of_revenue": _num(row.share_of_revenue),
                }
                for row in result.rfm_summary.itertuples()
            ]
        }
    if result.clusters is not None:
        c = result.clusters
        out["clusters"] = {
            "method": c.method,
            "k": int(c.k),
            "silhouette": _num(c.silhouette),
            "calinski_harabasz": _num(c.calinski_harabasz),
            "davies_bouldin": _num(c.davies_bouldin),
            "outliers": len(c.outliers),
            "segments": [
                {
                    "name": f"Cluster {int(label) + 1}",
                    "size": int(row["size"]),
                    "description": c.descriptions.get(label, ""),
                }
                for label, row in c.centres.iterrows()
            ],
        }
    elif "clusters" in result.notes:
        out["clusters"] = {"skipped": result.notes["clusters"]}
    if result.rules:
        out["rules"] = {
            "count": {level: int(len(df)) for level, df in result.rules.items()},
            "params": result.rule_params,
            "top_rules": _top_rules(result.rules.get("product"), top_rules),
            "top_category_rules": _top_rules(result.rules.get("category"), top_rules),
        }
    if result.forecasts or any(k.startswith("forecast") for k in result.notes):
        shop_rev = next(
            (f for f in result.forecasts if f.segment_key is None and f.metric == "revenue" and f.freq == "D"), None
        )
        out["forecast"] = {
            "model": shop_rev.result.model if shop_rev else None,
            "backtest_error": _errors(shop_rev.result, naive=False) if shop_rev else None,
            "seasonal_naive_error": _errors(shop_rev.result, naive=True) if shop_rev else None,
            "series": [f"{f.segment_key or 'shop'}:{f.metric}:{f.freq}" for f in result.forecasts],
            "notes": {k: v for k, v in result.notes.items() if k.startswith("forecast")},
        }
    if result.clv is not None:
        clv = result.clv
        block: dict[str, Any] = {"ok": clv.ok, "reason": clv.reason, "time_unit": clv.time_unit}
        if clv.bgnbd is not None:
            block["bgnbd"] = {"r": clv.bgnbd.r, "alpha": clv.bgnbd.alpha, "a": clv.bgnbd.a, "b": clv.bgnbd.b}
        if clv.gamma_gamma is not None:
            gg = clv.gamma_gamma
            block["gamma_gamma"] = {"p": gg.p, "q": gg.q, "v": gg.v}
        block["customers_scored"] = int(len(clv.customers)) if clv.customers is not None else 0
        if result.clv_validation is not None:
            v = result.clv_validation
            block["holdout"] = {
                "days": v.duration,
                "customers": v.customers,
                "predicted_purchases": round(v.predicted_total, 1),
                "actual_purchases": round(v.actual_total, 1),
            }
        out["clv"] = block
    out["timings"] = {k: round(v, 3) for k, v in result.timings.items()}
    if result.notes:
        out["notes"] = result.notes
    return out


def _num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if not np.isfinite(f) else round(f, 4)


def _errors(fc: forecast_mod.ForecastResult, naive: bool) -> dict[str, float | None]:
    if naive:
        return {"mae": _num(fc.naive_mae), "mase": _num(fc.naive_mase), "smape": _num(fc.naive_smape)}
    return {"mae": _num(fc.mae), "mase": _num(fc.mase), "smape": _num(fc.smape), "mape": _num(fc.mape)}


def _top_rules(rules: pd.DataFrame | None, n: int) -> list[dict[str, Any]]:
    if rules is None or rules.empty:
        return []
    top = rules.sort_values(["lift", "confidence"], ascending=False).head(n)
    return [
        {
            "antecedents": [str(a) for a in row.antecedents],
            "consequent": str(row.consequent),
            "support": _num(row.support),
            "confidence": _num(row.confidence),
            "lift": _num(row.lift),
        }
        for row in top.itertuples()
    ]


def iter_rule_rows(rules: pd.DataFrame) -> Iterable[tuple]:
    """(antecedents, consequent, support, confidence, lift, leverage, conviction) with infinities as None."""
    for row in rules.itertuples():
        conviction = float(row.conviction)
        yield (
            list(row.antecedents),
            row.consequent,
            float(row.support),
            float(row.confidence),
            float(row.lift),
            float(row.leverage),
            conviction if np.isfinite(conviction) else None,
        )
