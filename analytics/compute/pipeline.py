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
from . import money as money_mod
from . import rfm as rfm_mod
from . import rules as rules_mod
from ._util import timestamp_utc_naive

STEPS: tuple[str, ...] = ("rfm", "clusters", "rules", "forecast", "clv")
CLUSTER_METHODS = ("kmeans", "agglomerative", "hdbscan")


@dataclass(frozen=True)
class PipelineParams:
    """What the owner (or the command line) can choose for a run."""

    only: tuple[str, ...] = STEPS
    min_support: float | None = None  # None: adapt to the number of baskets
    min_confidence: float = 0.2
    rule_algorithm: str = "fpgrowth"  # fpgrowth (pyfim, compiled) | apriori (mlxtend); same rules
    rule_max_len: int | None = None  # items per rule (antecedents + consequent); None: no limit
    cluster_method: str = "kmeans"
    k: int | None = None
    calibration_end: Any = None  # CLV holdout check: fit up to this date, compare after it
    holdout_days: int = 56
    clv_model: str = "mbgnbd"  # purchase model of lifetime value: mbgnbd | bgnbd (see compute/clv.py)
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
        if self.rule_algorithm not in rules_mod.RULE_ALGORITHMS:
            raise ValueError(f"rule_algorithm must be one of {', '.join(rules_mod.RULE_ALGORITHMS)}")
        if self.rule_max_len is not None and self.rule_max_len < 2:
            raise ValueError("rule_max_len must be at least 2 (an item on each side)")
        if self.k is not None and not 2 <= self.k <= 20:
            raise ValueError("k must be between 2 and 20")
        if self.clv_model not in clv_mod.PURCHASE_MODELS:
            raise ValueError(f"clv_model must be one of {', '.join(clv_mod.PURCHASE_MODELS)}")


@dataclass(frozen=True, eq=False)
class ForecastItem:
    segment_key: str | None
    metric: str  # revenue | orders
    freq: str  # D | W
    result: forecast_mod.ForecastResult
    history: pd.Series

    @staticmethod
    def label_for(segment_key: str | None, metric: str, freq: str) -> str:
        """``<segment key or shop>:<metric>:<freq>``: a forecast's name in notes and the summary."""
        return f"{segment_key or 'shop'}:{metric}:{freq}"

    @property
    def label(self) -> str:
        return self.label_for(self.segment_key, self.metric, self.freq)


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
    clv_check: clv_mod.CalibrationCheck | None = None  # the holdout check of lifetime value
    timings: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def segment_keys(self) -> pd.DataFrame:
        """customer_id -> rfm and cluster segment keys (the ones services store): ``rfm:<group>``,
        ``cluster:<n>``, ``outliers`` (IsolationForest) and ``noise`` (in no HDBSCAN cluster)."""
        out = pd.DataFrame(index=self.features.index)
        if self.rfm is not None:
            out["rfm"] = "rfm:" + self.rfm["segment"].map(slug).reindex(out.index)
        if self.clusters is not None:
            labels = self.clusters.labels.reindex(out.index)
            out["cluster"] = labels.map(
                lambda v: None if pd.isna(v) else (OUTLIERS_KEY if v < 0 else f"cluster:{int(v)}")
            )
            # HDBSCAN's noise is no cluster, but not unusual customers either: a group of its own
            out.loc[out.index.isin(self.clusters.noise), "cluster"] = NOISE_KEY
        return out


# Segment keys of the customers in no cluster: IsolationForest's outliers, and HDBSCAN's noise
# (customers in no dense group, not unusual ones); both are stored with the outliers' kind.
OUTLIERS_KEY = "outliers"
NOISE_KEY = "noise"


def slug(name: str) -> str:
    return name.lower().replace(" ", "-")


def adaptive_min_support(n_baskets: int) -> float:
    """The default support threshold: a combination must be in 1% of the baskets and in at
    least 10 of them (fewer is an anecdote, not a habit), but never more than 5% of them
    (a shop with under 200 orders still gets its rules). Depends on the number of baskets
    only: it never rises to hide rare products' strong rules (ADR 0008).
    """
    if n_baskets <= 0:
        return 1.0
    return float(min(max(10 / n_baskets, 0.01), 0.05))


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

    # What every order moved, read once for every step (ADR 0007; the steps take these columns as they are)
    orders = orders.join(money_mod.order_amounts(orders, lines))
    if not orders["purchase"].any():
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
        _run_clv(result, orders, lines, params, as_of_ts)
        timings["clv"] = time.perf_counter() - t0

    if "rules" in params.only:
        report("rules", 60)
        t0 = time.perf_counter()
        _run_rules(result, lines, orders, params)
        timings["rules"] = time.perf_counter() - t0

    if "forecast" in params.only:
        report("forecast", 80)
        t0 = time.perf_counter()
        # The data ends just after the last order (or at an as_of given for "now"): the day and
        # week it falls in are in progress, left out of training (see compute/forecast.py). Just
        # after: the end is exclusive, and a last order at midnight must not lose its whole day.
        data_end = as_of_ts if as_of is not None else placed.max() + pd.Timedelta(1, "us")
        _run_forecasts(result, orders, lines, params, data_start=placed.min(), data_end=data_end)
        timings["forecast"] = time.perf_counter() - t0

    report("saving", 95)
    return result


def _run_clv(
    result: AnalysisResult, orders: pd.DataFrame, lines: pd.DataFrame, params: PipelineParams, as_of: pd.Timestamp
) -> None:
    """Lifetime value from real purchases only (money.order_amounts: paid, not refunded in full),
    each worth what the customer kept of it (credit notes taken off the latest earlier sales);
    cancellations, credit notes, full returns and cancelled sales are no purchase days.

    First the holdout check (fit up to ``calibration_end``, compare with what happened after),
    whose verdict may send the predictions to the fallback model; then the fit on all the data.
    """
    amounts = money_mod.order_amounts(orders, lines)
    keep = amounts["purchase"].to_numpy(dtype=bool) & orders["customer_id"].notna().to_numpy()
    tx = orders.loc[keep, ["customer_id", "placed_at"]].assign(value=amounts.loc[keep, "kept"].to_numpy(dtype=float))
    calibration_end = as_of - pd.Timedelta(days=1)
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
        if int((cal["frequency"] > 0).sum()) < clv_mod.MIN_REPEAT_CUSTOMERS:
            raise ValueError(
                f"fewer than {clv_mod.MIN_REPEAT_CUSTOMERS} customers with a repeat purchase before the holdout period"
            )
        result.clv_check = clv_mod.calibration_check(cal, model=params.clv_model)
    except ValueError as exc:
        result.notes["clv_holdout"] = str(exc)
    check = result.clv_check
    summary = clv_mod.summary_from_transactions(
        tx, "customer_id", "placed_at", "value", calibration_end=calibration_end, freq="D"
    )
    result.clv = clv_mod.clv_analysis(
        summary,
        as_of=as_of,
        model=params.clv_model,
        fallback=check.fallback if check else "",
        fallback_detail=check.fallback_detail if check else "",
    )
    if not result.clv.ok:
        result.notes["clv"] = result.clv.reason


def _run_rules(result: AnalysisResult, lines: pd.DataFrame, orders: pd.DataFrame, params: PipelineParams) -> None:
    # All orders count, guest orders included: what is bought together does not depend on who.
    bought = rules_mod.purchased_lines(lines, orders)  # once for both levels
    category = rules_mod.category_baskets(bought)
    # categorical: mined again per segment below, and codes are much cheaper to group than texts
    category["item"] = category["item"].astype("category")
    levels = {"product": rules_mod.product_baskets(bought), "category": category}
    used: dict[str, Any] = {
        "min_confidence": params.min_confidence,
        "algorithm": params.rule_algorithm,
        "engine": rules_mod.RULE_ENGINES[params.rule_algorithm],
        "max_len": params.rule_max_len,  # None: no limit
        "min_support_source": "given" if params.min_support else "adaptive",
    }

    def mine(baskets: pd.DataFrame, support: float) -> pd.DataFrame:
        """The shop's and each segment's rules, mined alike (algorithm, confidence, length)."""
        return rules_mod.association_rules_for(
            baskets,
            min_support=support,
            min_confidence=params.min_confidence,
            algorithm=params.rule_algorithm,
            max_len=params.rule_max_len,
            min_len=2,
        )

    for level, baskets in levels.items():
        n_baskets = baskets["basket_id"].nunique() if not baskets.empty else 0
        if n_baskets == 0:
            result.rules[level] = pd.DataFrame()
            continue
        support = params.min_support or adaptive_min_support(n_baskets)
        used[f"{level}_min_support"] = support
        used[f"{level}_baskets"] = int(n_baskets)
        result.rules[level] = mine(baskets, support)
    result.rule_params = used

    # Per segment: category rules over the orders of the segment's members, mined like the shop's
    # (same algorithm and length limit; the adaptive support follows the segment's basket count).
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
                used.setdefault("segment_min_support", {})[key] = support
                result.segment_rules[key] = mine(seg_baskets, support)

    # Next best offers per customer from product rules, excluding what they already have.
    product_rules = result.rules.get("product")
    if product_rules is not None and not product_rules.empty:
        bought = lines[(lines["quantity"] > 0) & lines["customer_id"].notna() & lines["product_id"].notna()]
        items = bought[["customer_id", "product_id"]]
        items = items.iloc[rules_mod.unique_pairs(items["customer_id"], items["product_id"])]
        items = items.rename(columns={"product_id": "item"})
        items["customer_id"] = items["customer_id"].astype("int64")
        result.recommendations = rules_mod.next_best_offers(product_rules, items, top_n=5)


def _run_forecasts(
    result: AnalysisResult,
    orders: pd.DataFrame,
    lines: pd.DataFrame,
    params: PipelineParams,
    *,
    data_start: pd.Timestamp,
    data_end: pd.Timestamp,
) -> None:
    """Revenue (net: a credit note counts, negative, on the day the money went back) and
    purchases per day and week, for the shop and (weekly revenue) for each cluster."""
    amounts = money_mod.order_amounts(orders, lines)
    moved = (amounts["net"] != 0).to_numpy() | amounts["purchase"].to_numpy()
    orders, amounts = orders[moved], amounts[moved]
    # Summed per calendar day (UTC) first: the forecasts only ever see daily or weekly totals, and
    # regularising a million order timestamps per series took longer than the models.
    day = pd.to_datetime(orders["placed_at"], utc=True).dt.tz_convert(None).dt.floor("D")
    values = pd.DataFrame(
        {"revenue": amounts["net"].to_numpy(dtype=float), "orders": amounts["purchase"].to_numpy(dtype=float)},
        index=day.index,
    )
    # a day with an order is covered from its start; the day of the last order is not covered to its end
    bounds = {
        "data_start": timestamp_utc_naive(data_start, "data_start").floor("D"),
        "data_end": timestamp_utc_naive(data_end, "data_end"),
    }
    daily = values.groupby(day.to_numpy()).sum()
    for metric in ("revenue", "orders"):
        for freq, horizon in (("D", params.forecast_horizon_days), ("W", params.forecast_horizon_weeks)):
            _forecast_one(result, None, metric, freq, horizon, daily[metric], **bounds)
    if not params.segment_forecasts:
        return
    keys = result.segment_keys()
    if "cluster" not in keys.columns:
        return
    customer_key = keys["cluster"]
    segment = orders["customer_id"].map(customer_key).to_numpy()
    by_segment = values["revenue"].groupby([segment, day.to_numpy()]).sum()
    present = set(by_segment.index.get_level_values(0))
    empty = pd.Series(dtype=float, index=pd.DatetimeIndex([]))
    for key in sorted(k for k in customer_key.dropna().unique()):
        series = by_segment.loc[key] if key in present else empty
        _forecast_one(result, key, "revenue", "W", params.forecast_horizon_weeks, series, quick=True, **bounds)


def _forecast_one(
    result: AnalysisResult,
    segment_key: str | None,
    metric: str,
    freq: str,
    horizon: int,
    series: pd.Series,
    quick: bool = False,
    data_start: pd.Timestamp | None = None,
    data_end: pd.Timestamp | None = None,
) -> None:
    label = ForecastItem.label_for(segment_key, metric, freq)
    if series.empty:
        result.notes[f"forecast {label}"] = "no orders"
        return
    try:
        fc = forecast_mod.forecast_series(
            series, horizon=horizon, freq=freq, quick=quick, data_start=data_start, data_end=data_end
        )
    except ValueError as exc:
        result.notes[f"forecast {label}"] = str(exc)
        return
    result.forecasts.append(ForecastItem(segment_key, metric, freq, fc, fc.history.iloc[-(horizon * 4) :]))


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
            # quality counts every clustered customer (HDBSCAN noise as one more group);
            # the share assigned to a cluster and the silhouette over those alone beside it
            "explained_share": _num(c.explained_share),
            "assigned_share": _num(c.assigned_share),
            "silhouette_assigned": _num(c.silhouette_assigned),
            "customers_scored": int(len(c.labels) - len(c.outliers)),
            "outliers": len(c.outliers),
            "noise": len(c.noise),
            "segments": [
                {
                    "key": f"cluster:{int(label)}",
                    "name": c.names[int(label)].text,
                    "name_key": c.names[int(label)].as_dict(),
                    "size": int(row["size"]),
                    "one_time_share": _num(row.get("one_time_buyer")),
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
        periods = {f.label: _forecast_periods(f) for f in result.forecasts}
        out["forecast"] = {
            "model": shop_rev.result.model if shop_rev else None,
            "backtest_error": _errors(shop_rev.result, naive=False) if shop_rev else None,
            "seasonal_naive_error": _errors(shop_rev.result, naive=True) if shop_rev else None,
            "series": list(periods),
            "periods": periods,
            "notes": {k: v for k, v in result.notes.items() if k.startswith("forecast")},
        }
    if result.clv is not None:
        out["clv"] = _clv_block(result.clv, result.clv_check)
    out["timings"] = {k: round(v, 3) for k, v in result.timings.items()}
    if result.notes:
        out["notes"] = result.notes
    return out


def _fit_block(
    fit: clv_mod.BGNBDParams | clv_mod.NBDParams | None, degenerate: str | None = None
) -> dict[str, Any] | None:
    """A purchase model's fit; ``degenerate`` is its :func:`clv_mod.degenerate_reason` when already known."""
    if fit is None:
        return None
    block: dict[str, Any] = {"model": fit.model, "time_unit": fit.time_unit, "r": fit.r, "alpha": fit.alpha}
    if isinstance(fit, clv_mod.BGNBDParams):
        if degenerate is None:
            degenerate = clv_mod.degenerate_reason(fit)
        block.update(a=fit.a, b=fit.b, degenerate=degenerate)
    block["log_likelihood"] = round(fit.log_likelihood, 2)
    return block


def _clv_block(clv: clv_mod.CLVResult, check: clv_mod.CalibrationCheck | None) -> dict[str, Any]:
    """Lifetime value in the summary: the model the predictions come from (``model``: the
    requested dropout model, or ``nbd`` after a ``fallback``), its fit on all the data, and the
    ``holdout`` check: the model fitted up to ``calibration_end`` (``holdout.fit``), its
    per-customer errors on the purchases after it beside the two baselines (``own_rate``:
    each customer's own past rate; ``nothing``) and the fallback NBD, and the verdict."""
    block: dict[str, Any] = {
        "ok": clv.ok,
        "reason": clv.reason,
        "time_unit": clv.time_unit,
        "model": clv.model,
        "fallback": clv.fallback,
        "fallback_detail": clv.fallback_detail,
        "fit": _fit_block(clv.fit),
        "nbd": _fit_block(clv.nbd),
        "spend_model": clv.spend_model,
    }
    if clv.gamma_gamma is not None:
        gg = clv.gamma_gamma
        block["gamma_gamma"] = {"p": gg.p, "q": gg.q, "v": gg.v}
    block["customers_scored"] = int(len(clv.customers)) if clv.customers is not None else 0
    if check is not None:
        v = check.validation or check.fallback_validation
        holdout: dict[str, Any] = {
            "calibration_end": check.calibration_end.date().isoformat(),
            "observation_end": check.observation_end.date().isoformat(),
            "fit": _fit_block(check.fit, check.degenerate),
            "verdict": check.fallback or "model_earns_its_place",
        }
        if v is not None:
            days = v.duration * clv_mod.days_per_unit(v.time_unit)
            holdout.update(days=round(days, 1), customers=v.customers, actual_purchases=round(v.actual_total, 1))
            errors = {}
            if check.validation is not None:
                errors["model"] = check.validation.errors["model"]
            if check.fallback_validation is not None:
                errors["fallback"] = check.fallback_validation.errors["model"]
            errors["own_rate"] = v.errors["own_rate"]
            errors["nothing"] = v.errors["nothing"]
            holdout["errors"] = {
                name: {"mae": _num(e.mae), "rmse": _num(e.rmse), "predicted_purchases": round(e.predicted_total, 1)}
                for name, e in errors.items()
            }
        block["holdout"] = holdout
    return block


def _num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if not np.isfinite(f) else round(f, 4)


def _forecast_periods(item: ForecastItem) -> dict[str, Any]:
    """Which periods a forecast learnt from and which partial ones it left out (the period in
    progress with its actual so far and its whole-period forecast; a partial first period)."""
    fc = item.result
    history = fc.history
    out: dict[str, Any] = {
        "trained_from": history.index[0].date().isoformat() if len(history) else None,
        "trained_through": history.index[-1].date().isoformat() if len(history) else None,
        "complete_periods": int(len(history)),
        "first_partial_left_out": fc.first_partial.date().isoformat() if fc.first_partial is not None else None,
        "in_progress": None,
    }
    p = fc.in_progress
    if p is not None:
        out["in_progress"] = {
            "period": p.period.date().isoformat(),
            # the pipeline's days and weeks are counted in UTC
            "start": p.start.tz_localize("UTC").isoformat(),
            "end": p.end.tz_localize("UTC").isoformat(),
            "data_end": p.data_end.tz_localize("UTC").isoformat(),
            "covered": _num(p.covered),
            "so_far": _num(p.so_far),
            "forecast_whole_period": _num(p.forecast.get("mean")),
            "left_out_of_training": True,
        }
    return out


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
