"""Writes of the analytics app: start a run, execute it, store its results, custom segments."""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from analytics import frames
from analytics.compute import pipeline
from analytics.models import (
    AnalysisRun,
    AssociationRule,
    CustomerScore,
    Forecast,
    RuleLevel,
    RunStatus,
    Segment,
    SegmentKind,
    SegmentMembership,
)
from customers.models import Product
from shops.models import Shop

logger = logging.getLogger(__name__)
CENT = Decimal("0.01")
BATCH = 5000


def analysis_run_create(
    *, shop: Shop, params: dict | None = None, trigger: str = "owner", created_by=None
) -> AnalysisRun:
    """A queued run with validated parameters (ValueError names a bad one)."""
    params = dict(params or {})
    pipeline_params(params)  # validate now, so a bad request never reaches the worker
    return AnalysisRun.objects.for_shop(shop).create(shop=shop, params=params, trigger=trigger, created_by=created_by)


def analysis_run_request(*, shop: Shop, params: dict | None = None, trigger: str = "owner", created_by=None):
    """Create a run and queue it after commit, unless one is already queued or running.

    Returns (run, created). A data change while a run is waiting does not add another.
    """
    from analytics import tasks

    pending = AnalysisRun.objects.for_shop(shop).filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).first()
    if pending is not None:
        return pending, False
    run = analysis_run_create(shop=shop, params=params, trigger=trigger, created_by=created_by)
    transaction.on_commit(lambda: tasks.run_analysis.delay(run.pk))
    return run, True


def pipeline_params(params: dict[str, Any]) -> pipeline.PipelineParams:
    only = params.get("only") or pipeline.STEPS
    if isinstance(only, str):
        only = [s.strip() for s in only.split(",") if s.strip()]
    return pipeline.PipelineParams(
        only=tuple(only),
        min_support=params.get("min_support"),
        min_confidence=params.get("min_confidence", 0.2),
        rule_algorithm=params.get("rule_algorithm", "fpgrowth"),
        cluster_method=params.get("cluster_method", "kmeans"),
        k=params.get("k"),
        calibration_end=params.get("calibration_end"),
    )


def analysis_run_claim(*, run_id: int) -> AnalysisRun | None:
    """Claim a queued run for this worker (conditional UPDATE); None if someone else has it."""
    claimed = AnalysisRun.unscoped.filter(pk=run_id, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=timezone.now(), progress=1, step="loading"
    )
    if not claimed:
        return None
    return AnalysisRun.unscoped.select_related("shop").get(pk=run_id)


def analysis_run_execute(*, run: AnalysisRun) -> AnalysisRun:
    """Load the shop's data, run the pipeline, store everything, then make the run current.

    On any error the run is marked failed with the reason and the previous current run stays.
    """
    shop = run.shop
    timings: dict[str, float] = {}

    def progress(step: str, percent: int) -> None:
        AnalysisRun.unscoped.filter(pk=run.pk).update(step=step, progress=percent)

    try:
        t0 = time.perf_counter()
        data = {
            "orders": frames.orders_frame(shop=shop),
            "lines": frames.lines_frame(shop=shop),
            "customers": frames.customers_frame(shop=shop),
            "events": frames.events_frame(shop=shop),
            "reviews": frames.reviews_frame(shop=shop),
        }
        timings["load"] = time.perf_counter() - t0
        params = pipeline_params(run.params)
        result = pipeline.run_pipeline(**data, params=params, progress=progress)
        timings.update(result.timings)
        t0 = time.perf_counter()
        summary = pipeline.summarise(result)
        with transaction.atomic():
            _store(run=run, result=result, lines=data["lines"], orders=data["orders"])
            timings["save"] = time.perf_counter() - t0
            summary["timings"] = {k: round(v, 3) for k, v in timings.items()}
            AnalysisRun.unscoped.filter(shop=shop, is_current=True).update(is_current=False)
            AnalysisRun.unscoped.filter(pk=run.pk).update(
                status=RunStatus.DONE,
                is_current=True,
                progress=100,
                step="done",
                summary=summary,
                timings=summary["timings"],
                finished_at=timezone.now(),
            )
    except Exception as exc:  # the reason goes to the owner; the previous results stay current
        logger.exception("analysis run %s failed", run.pk)
        AnalysisRun.unscoped.filter(pk=run.pk).update(
            status=RunStatus.FAILED, error=_reason(exc), finished_at=timezone.now(), timings=timings
        )
    run.refresh_from_db()
    return run


def _reason(exc: Exception) -> str:
    text = str(exc) or exc.__class__.__name__
    return text[:2000]


def _money(value: Any) -> Decimal | None:
    if value is None:
        return None
    f = float(value)
    if not math.isfinite(f):
        return None
    return Decimal(str(round(f, 2))).quantize(CENT)


def _float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        f = float(value)
        return round(f, 4) if math.isfinite(f) else None
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return None if pd.isna(value) else value.isoformat()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _store(*, run: AnalysisRun, result: pipeline.AnalysisResult, lines: pd.DataFrame, orders: pd.DataFrame) -> None:
    shop = run.shop
    feats = result.features
    customer_ids = [int(c) for c in feats.index]
    keys = result.segment_keys()
    clv = result.clv.customers if result.clv is not None and result.clv.ok else None
    projection = result.clusters.projection if result.clusters is not None else None

    # --- segments ---------------------------------------------------------------------------
    spend = feats["monetary"].astype(float)
    total_spend = float(spend[spend > 0].sum()) or 1.0
    clv_by_customer = clv["clv"] if clv is not None else None
    segments: dict[str, Segment] = {}

    def add_segment(key: str, kind: str, name: str, members: pd.Index, description: str = "", **extra) -> None:
        revenue = float(spend.reindex(members).sum())
        avg_clv = float(clv_by_customer.reindex(members).mean()) if clv_by_customer is not None else None
        segments[key] = Segment(
            shop=shop,
            run=run,
            kind=kind,
            key=key,
            name=name,
            description=description,
            size=len(members),
            revenue=_money(revenue),
            revenue_share=revenue / total_spend,
            avg_clv=_money(avg_clv) if avg_clv is not None else None,
            **extra,
        )

    if "rfm" in keys.columns:
        for key, members in keys.groupby("rfm").groups.items():
            name = result.rfm.loc[members[0], "segment"]
            add_segment(key, SegmentKind.RFM, name, members, facts=[{"kind": "rfm", "group": name}])
    if "cluster" in keys.columns and result.clusters is not None:
        c = result.clusters
        for key, members in keys.groupby("cluster").groups.items():
            if key == "outliers":
                add_segment(
                    key,
                    SegmentKind.OUTLIERS,
                    "Outliers",
                    members,
                    description="Customers unlike the rest (for example wholesalers); kept out of the clusters.",
                )
                continue
            label = int(key.split(":")[1])
            centre = c.centres.loc[label].to_dict() if label in c.centres.index else {}
            add_segment(
                key,
                SegmentKind.CLUSTER,
                f"Cluster {label + 1}",
                members,
                description=c.descriptions.get(label, ""),
                facts=[
                    {
                        "feature": f.feature,
                        "kind": f.kind,
                        "value": _jsonable(f.value),
                        "direction": f.direction,
                        "text": f.text,
                    }
                    for f in c.facts.get(label, [])
                ],
                centre={k: _jsonable(v) for k, v in centre.items()},
            )
    Segment.unscoped.bulk_create(segments.values())
    segment_by_key = {s.key: s for s in segments.values()}

    # --- memberships with reasons -----------------------------------------------------------
    memberships = []
    for column in keys.columns:
        for customer_id, key in keys[column].dropna().items():
            segment = segment_by_key.get(key)
            if segment is None:
                continue
            memberships.append(
                SegmentMembership(
                    shop=shop,
                    run=run,
                    segment=segment,
                    customer_id=int(customer_id),
                    reason=_membership_reason(result, int(customer_id), column),
                )
            )
    SegmentMembership.unscoped.bulk_create(memberships, batch_size=BATCH)

    # --- rules --------------------------------------------------------------------------------
    titles = dict(Product.objects.for_shop(shop).values_list("id", "title"))

    def label(level: str, item: Any) -> str:
        if level == RuleLevel.PRODUCT:
            try:
                return titles.get(int(item), str(item))
            except (TypeError, ValueError):
                return str(item)
        return str(item)

    rule_rows = []
    for level, rules in result.rules.items():
        for ants, cons, sup, conf, lift, lev, conv in pipeline.iter_rule_rows(rules):
            rule_rows.append(
                AssociationRule(
                    shop=shop,
                    run=run,
                    level=level,
                    antecedents=[str(a) for a in ants],
                    antecedent_labels=[label(level, a) for a in ants],
                    consequent=str(cons),
                    consequent_label=label(level, cons),
                    support=sup,
                    confidence=conf,
                    lift=lift,
                    leverage=lev,
                    conviction=conv,
                )
            )
    for key, rules in result.segment_rules.items():
        segment = segment_by_key.get(key)
        if segment is None:
            continue
        for ants, cons, sup, conf, lift, lev, conv in pipeline.iter_rule_rows(rules):
            rule_rows.append(
                AssociationRule(
                    shop=shop,
                    run=run,
                    segment=segment,
                    level=RuleLevel.CATEGORY,
                    antecedents=[str(a) for a in ants],
                    antecedent_labels=[str(a) for a in ants],
                    consequent=str(cons),
                    consequent_label=str(cons),
                    support=sup,
                    confidence=conf,
                    lift=lift,
                    leverage=lev,
                    conviction=conv,
                )
            )
    AssociationRule.unscoped.bulk_create(rule_rows, batch_size=BATCH)

    # --- forecasts ---------------------------------------------------------------------------
    forecast_rows = []
    for item in result.forecasts:
        fc = item.result
        points = [
            {"date": idx.date().isoformat(), **{k: _jsonable(max(0.0, float(v))) for k, v in row.items()}}
            for idx, row in fc.forecast.iterrows()
        ]
        forecast_rows.append(
            Forecast(
                shop=shop,
                run=run,
                segment=segment_by_key.get(item.segment_key) if item.segment_key else None,
                metric=item.metric,
                freq=item.freq,
                model_name=fc.model,
                backtest={
                    "mae": _jsonable(fc.mae),
                    "mase": _jsonable(fc.mase),
                    "smape": _jsonable(fc.smape),
                    "mape": _jsonable(fc.mape),
                    "folds": fc.folds,
                },
                naive_backtest={
                    "mae": _jsonable(fc.naive_mae),
                    "mase": _jsonable(fc.naive_mase),
                    "smape": _jsonable(fc.naive_smape),
                },
                history=[[idx.date().isoformat(), _jsonable(v)] for idx, v in item.history.items()],
                points=points,
            )
        )
    Forecast.unscoped.bulk_create(forecast_rows)

    # --- customer scores ----------------------------------------------------------------------
    recs: dict[int, list] = {}
    if result.recommendations is not None and not result.recommendations.empty:
        for row in result.recommendations.itertuples():
            recs.setdefault(int(row.customer_id), []).append(
                {
                    "product_id": int(row.item),
                    "title": label(RuleLevel.PRODUCT, row.item),
                    "score": round(float(row.score), 4),
                    "because": [label(RuleLevel.PRODUCT, b) for b in row.because],
                }
            )
    rfm = result.rfm
    feature_cols = [c for c in feats.columns]
    scores = []
    for customer_id in customer_ids:
        f = feats.loc[customer_id]
        profile = {col: _jsonable(f[col]) for col in feature_cols}
        r = rfm.loc[customer_id] if rfm is not None and customer_id in rfm.index else None
        c = clv.loc[customer_id] if clv is not None and customer_id in clv.index else None
        cluster = None
        if result.clusters is not None and customer_id in result.clusters.labels.index:
            cluster = int(result.clusters.labels.loc[customer_id])
        xy = projection.loc[customer_id] if projection is not None and customer_id in projection.index else None
        p_alive = _float(c["p_alive"]) if c is not None else None
        scores.append(
            CustomerScore(
                shop=shop,
                run=run,
                customer_id=customer_id,
                features=profile,
                recency_days=_float(f["recency_days"]),
                frequency=int(f["frequency"] or 0),
                monetary=_money(f["monetary"]) or Decimal("0"),
                r_score=int(r["r"]) if r is not None else None,
                f_score=int(r["f"]) if r is not None else None,
                m_score=int(r["m"]) if r is not None else None,
                rfm_group=str(r["segment"]) if r is not None else "",
                cluster=cluster,
                x=_float(xy["pc1"]) if xy is not None else None,
                y=_float(xy["pc2"]) if xy is not None else None,
                p_alive=p_alive,
                expected_30=_float(c["expected_purchases_30d"]) if c is not None else None,
                expected_90=_float(c["expected_purchases_90d"]) if c is not None else None,
                expected_365=_float(c["expected_purchases_365d"]) if c is not None else None,
                clv_12m=_money(c["clv"]) if c is not None else None,
                next_order_date=(
                    c["next_order_date"].date()
                    if c is not None and not pd.isna(c["next_order_date"]) and c["next_order_date"].year < 2200
                    else None
                ),
                churn_risk=churn_risk(p_alive=p_alive, rfm_group=str(r["segment"]) if r is not None else ""),
                top_category=str(f.get("top_category") or "") if not pd.isna(f.get("top_category")) else "",
                recommendations=recs.get(customer_id, []),
            )
        )
    CustomerScore.unscoped.bulk_create(scores, batch_size=BATCH)


def churn_risk(*, p_alive: float | None, rfm_group: str) -> str:
    """low / medium / high from the BG/NBD probability, or from the RFM group when no model fits."""
    if p_alive is not None:
        if p_alive < 0.3:
            return "high"
        if p_alive < 0.6:
            return "medium"
        return "low"
    if rfm_group in {"Lost", "Hibernating", "At risk", "Cannot lose them"}:
        return "high"
    if rfm_group in {"About to sleep", "Need attention"}:
        return "medium"
    return "low" if rfm_group else ""


def _membership_reason(result: pipeline.AnalysisResult, customer_id: int, column: str) -> str:
    if column == "rfm" and result.rfm is not None:
        r = result.rfm.loc[customer_id]
        return f"R{int(r['r'])} F{int(r['f'])} M{int(r['m'])}"
    if column == "cluster" and result.clusters is not None:
        label = int(result.clusters.labels.loc[customer_id])
        if label < 0:
            return "unusual buying pattern (outlier)"
        return result.clusters.descriptions.get(label, "")[:300]
    return ""


def segment_membership_changes(*, shop: Shop, segment: Segment) -> dict[str, list[int]]:
    """Who joined and who left a computed segment between the previous run and this one (by segment key)."""
    if segment.run_id is None:
        return {"joined": [], "left": []}
    previous = (
        Segment.objects.for_shop(shop)
        .filter(key=segment.key, run__status=RunStatus.DONE, run__created_at__lt=segment.run.created_at)
        .order_by("-run__created_at")
        .first()
    )
    now = set(SegmentMembership.objects.for_shop(shop).filter(segment=segment).values_list("customer_id", flat=True))
    before = (
        set(SegmentMembership.objects.for_shop(shop).filter(segment=previous).values_list("customer_id", flat=True))
        if previous
        else set()
    )
    return {"joined": sorted(now - before), "left": sorted(before - now)}


def run_progress_bump(*, run: AnalysisRun, step: str, percent: int) -> None:
    AnalysisRun.unscoped.filter(pk=run.pk, progress__lt=percent).update(step=step, progress=F("progress") * 0 + percent)
