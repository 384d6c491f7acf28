"""Writes of the analytics app: start a run, execute it, store its results, custom segments."""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import math
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.db.models import Avg, Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics import frames
from analytics.compute import clv as clv_mod
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
from analytics.segments import current_run, custom_segment_scores, definition_to_q
from customers.models import Product
from shops.models import Shop

logger = logging.getLogger(__name__)
CENT = Decimal("0.01")
BATCH = 5000
COPY_CHUNK = 10_000
# The worker's hard time limit for one run; a run still "running" after it (plus a margin) lost its worker.
RUN_TIME_LIMIT = 30 * 60
STALE_RUNNING = dt.timedelta(seconds=RUN_TIME_LIMIT + 5 * 60)
STALE_QUEUED = dt.timedelta(hours=6)
CHURN_FROM_RFM = {
    "Lost": "high",
    "Hibernating": "high",
    "At risk": "high",
    "Cannot lose them": "high",
    "About to sleep": "medium",
    "Need attention": "medium",
}


# --------------------------------------------------------------------------- runs


def analysis_run_create(
    *, shop: Shop, params: dict | None = None, trigger: str = "owner", created_by=None
) -> AnalysisRun:
    """A queued run with validated parameters (ValueError names a bad one)."""
    params = dict(params or {})
    pipeline_params(params)  # validate now, so a bad request never reaches the worker
    return AnalysisRun.objects.for_shop(shop).create(shop=shop, params=params, trigger=trigger, created_by=created_by)


def analysis_run_request(
    *, shop: Shop, params: dict | None = None, trigger: str = "owner", created_by=None
) -> tuple[AnalysisRun, bool]:
    """Create a run and queue it after commit, unless one is already queued or running.

    Returns (run, created). A data change while a run is waiting does not add another: requests
    of one shop are serialised on the shop's row, so two at once cannot both create a run.
    Runs whose worker was lost are marked failed first, so they cannot block the shop for ever.
    """
    from analytics import tasks

    with transaction.atomic():
        Shop.objects.select_for_update().filter(pk=shop.pk).first()
        analysis_runs_fail_stale(shop=shop)
        pending = AnalysisRun.objects.for_shop(shop).filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).first()
        if pending is not None:
            return pending, False
        run = analysis_run_create(shop=shop, params=params, trigger=trigger, created_by=created_by)
        transaction.on_commit(lambda: tasks.run_analysis.delay(run.pk))
    return run, True


def analysis_runs_fail_stale(*, shop: Shop) -> int:
    """Mark failed the runs whose worker died (running past the time limit) or whose message was lost."""
    now = timezone.now()
    runs = AnalysisRun.objects.for_shop(shop)
    lost = runs.filter(status=RunStatus.RUNNING, started_at__lt=now - STALE_RUNNING).update(
        status=RunStatus.FAILED, error=_("The worker stopped before the run finished."), finished_at=now
    )
    never = runs.filter(status=RunStatus.QUEUED, created_at__lt=now - STALE_QUEUED).update(
        status=RunStatus.FAILED, error=_("No worker picked the run up."), finished_at=now
    )
    return lost + never


def pipeline_params(params: dict[str, Any]) -> pipeline.PipelineParams:
    """The pipeline's parameters from a run's stored params; ValueError names a bad one."""
    only = params.get("only") or pipeline.STEPS
    if isinstance(only, str):
        only = [s.strip() for s in only.split(",") if s.strip()]
    calibration_end = params.get("calibration_end")
    if calibration_end not in (None, ""):
        try:
            calibration_end = pd.Timestamp(calibration_end)
        except (TypeError, ValueError):
            raise ValueError(f"calibration_end {calibration_end!r} is not a date (use YYYY-MM-DD)") from None
    else:
        calibration_end = None

    def number(name: str, kind: type, default: Any = None) -> Any:
        value = params.get(name, default)
        if value is None:
            return None
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number, not {value!r}") from None

    # the purchase model only when one was chosen: PipelineParams holds the default
    chosen = {"clv_model": params["clv_model"]} if params.get("clv_model") else {}
    return pipeline.PipelineParams(
        only=tuple(only),
        min_support=number("min_support", float),
        min_confidence=number("min_confidence", float, 0.2),
        rule_algorithm=params.get("rule_algorithm", "fpgrowth"),
        rule_max_len=number("rule_max_len", int),
        cluster_method=params.get("cluster_method", "kmeans"),
        k=number("k", int),
        calibration_end=calibration_end,
        **chosen,
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
        data = frames.analysis_frames(shop=shop)
        timings["load"] = time.perf_counter() - t0
        params = pipeline_params(run.params)
        result = pipeline.run_pipeline(**data, params=params, progress=progress)
        timings.update(result.timings)
        del data  # the frames are big; the result keeps what the store needs
        t0 = time.perf_counter()
        summary = pipeline.summarise(result)
        skipped = frames.analysis_rows_skipped(shop=shop)
        if skipped:
            summary["skipped"] = skipped
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # A run can always be computed again: its commit need not wait for the disk
                # (a crash of the database server may lose it, never corrupt it).
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit = off")
            _store(run=run, result=result)
            custom_segments_refresh(shop=shop, run=run)
            AnalysisRun.unscoped.filter(shop=shop, is_current=True).update(is_current=False)
            AnalysisRun.unscoped.filter(pk=run.pk).update(
                status=RunStatus.DONE,
                is_current=True,
                progress=100,
                step="done",
                summary=summary,
                finished_at=timezone.now(),
            )
        if connection.vendor == "postgresql":
            _refresh_statistics()
        # "save" includes the commit, where PostgreSQL checks the deferred foreign keys of every row
        timings["save"] = time.perf_counter() - t0
        summary["timings"] = {k: round(v, 3) for k, v in timings.items()}
        AnalysisRun.unscoped.filter(pk=run.pk).update(summary=summary, timings=summary["timings"])
    except Exception as exc:  # the reason goes to the owner; the previous results stay current
        logger.exception("analysis run %s failed", run.pk)
        AnalysisRun.unscoped.filter(pk=run.pk).update(
            status=RunStatus.FAILED,
            error=_reason(exc),
            finished_at=timezone.now(),
            timings={k: round(v, 3) for k, v in timings.items()},
        )
    run.refresh_from_db()
    return run


def _refresh_statistics() -> None:
    """After a run is stored: fresh planner statistics for the tables the pages read, so the
    run's rows are found through their indexes at once instead of after autovacuum (a segment's
    member count on a 100,000-customer shop: 183 ms before, 2 ms after), and the visibility map
    set, so the customer list reads the scores' covering index only. VACUUM cannot run inside a
    transaction; there (tests) the statistics alone are refreshed."""
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in (CustomerScore, SegmentMembership))
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}" if connection.in_atomic_block else f"VACUUM (ANALYZE) {tables}")


def _reason(exc: Exception) -> str:
    text = str(exc) or exc.__class__.__name__
    return text[:2000]


# --------------------------------------------------------------------------- storing a run


def _money(value: Any) -> Decimal | None:
    if value is None:
        return None
    f = float(value)
    if not math.isfinite(f):
        return None
    return Decimal(str(round(f, 2))).quantize(CENT)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        f = float(value)
        return round(f, 4) if math.isfinite(f) else None
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return None if pd.isna(value) else value.isoformat()
    if value is None or isinstance(value, str):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _floats(values: pd.Series) -> list[float | None]:
    """Python floats, None for NaN / inf (for the database)."""
    v = values.astype(float)
    return v.astype(object).where(np.isfinite(v.to_numpy()), None).tolist()


def _ints(values: pd.Series) -> pd.arrays.IntegerArray:
    """Nullable integers (a list of ints and None would become floats in a frame)."""
    return pd.array(values.astype(float).round(), dtype="Int64")


def _moneys(values: pd.Series) -> list[Decimal | None]:
    v = values.astype(float).to_numpy()
    ok = np.isfinite(v)
    text = np.char.mod("%.2f", np.where(ok, v, 0.0))
    return [Decimal(t) if good else None for t, good in zip(text.tolist(), ok.tolist(), strict=True)]


def _json_lines(frame: pd.DataFrame) -> list[str]:
    """One JSON object per row (NaN as null, floats to 4 decimals), built by pandas in C."""
    if frame.empty:
        return []
    text = frame.to_json(orient="records", lines=True, double_precision=4, date_format="iso", force_ascii=False)
    return text.rstrip("\n").split("\n")


def _insert_rows(model, rows: pd.DataFrame, json_fields: Sequence[str] = ()) -> int:
    """Insert a frame of plain values (columns named by field, JSON fields as JSON text).

    PostgreSQL gets one COPY of CSV that pandas writes in C, several times faster than
    bulk_create (or a COPY row by row) for the 100,000s of scores and memberships of a big
    shop; other databases get bulk_create. Missing values (None / NaN) are stored as NULL.
    """
    if rows.empty:
        return 0
    fields = list(rows.columns)
    if connection.vendor == "postgresql":
        meta = model._meta
        quote = connection.ops.quote_name
        columns = [quote(meta.get_field(f).column) for f in fields]
        nullable = [c for f, c in zip(fields, columns, strict=True) if meta.get_field(f).null]
        # every text is quoted, so a quoted empty text is "" and only an unquoted empty one is NULL;
        # FORCE_NULL reads the quoted empty value of a nullable column as NULL too
        options = "FORMAT csv" + (f", FORCE_NULL ({', '.join(nullable)})" if nullable else "")
        sql = f"COPY {quote(meta.db_table)} ({', '.join(columns)}) FROM STDIN WITH ({options})"
        from psycopg.copy import QueuedLibpqWriter

        # the queued writer sends each chunk from a thread of its own: the database stores one
        # chunk while this process formats the next
        with connection.cursor() as cursor, cursor.copy(sql, writer=QueuedLibpqWriter(cursor.cursor)) as copy:
            for start in range(0, len(rows), COPY_CHUNK):
                chunk = rows.iloc[start : start + COPY_CHUNK]
                copy.write(chunk.to_csv(index=False, header=False, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n"))
        return len(rows)
    objects = []
    for values in rows.astype(object).where(rows.notna(), None).to_dict("records"):
        for name in json_fields:
            values[name] = json.loads(values[name])
        objects.append(model(**values))
    model.unscoped.bulk_create(objects, batch_size=BATCH)
    return len(objects)


def _store(*, run: AnalysisRun, result: pipeline.AnalysisResult) -> None:
    feats = result.features
    keys = result.segment_keys()
    clv = result.clv.customers if result.clv is not None and result.clv.ok else None
    titles = dict(Product.objects.for_shop(run.shop).values_list("id", "title"))

    segment_by_key = _store_segments(run=run, result=result, keys=keys, clv=clv)
    _store_memberships(run=run, result=result, keys=keys, segment_by_key=segment_by_key)
    _store_rules(run=run, result=result, titles=titles, segment_by_key=segment_by_key)
    _store_forecasts(run=run, result=result, segment_by_key=segment_by_key)
    _store_scores(run=run, result=result, feats=feats, clv=clv, titles=titles)


NOISE_DESCRIPTION = "Customers HDBSCAN placed in no cluster: they sit between the groups, not in a dense one."


def _store_segments(*, run: AnalysisRun, result, keys: pd.DataFrame, clv: pd.DataFrame | None) -> dict[str, Segment]:
    spend = result.features["monetary"].astype(float)
    total_spend = float(spend[spend > 0].sum()) or 1.0
    clv_by_customer = clv["clv"] if clv is not None else None
    segments: dict[str, Segment] = {}

    def add_segment(key: str, kind: str, name: str, members: pd.Index, description: str = "", **extra) -> None:
        revenue = float(spend.reindex(members).sum())
        avg_clv = float(clv_by_customer.reindex(members).mean()) if clv_by_customer is not None else None
        segments[key] = Segment(
            shop=run.shop,
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
            if key == pipeline.OUTLIERS_KEY:
                add_segment(
                    key,
                    SegmentKind.OUTLIERS,
                    "Outliers",
                    members,
                    description="Customers unlike the rest (for example wholesalers); kept out of the clusters.",
                )
                continue
            if key == pipeline.NOISE_KEY:
                add_segment(key, SegmentKind.OUTLIERS, "No clear group", members, description=NOISE_DESCRIPTION)
                continue
            label = int(key.split(":")[1])
            centre = c.centres.loc[label].to_dict() if label in c.centres.index else {}
            name = c.names[label]
            # English name and description for the API, exports and campaigns; the name's keys
            # (first entry of facts) and the facts let the pages say both in the active language
            add_segment(
                key,
                SegmentKind.CLUSTER,
                name.text,
                members,
                description=c.descriptions.get(label, ""),
                facts=[{"kind": "name", **name.as_dict()}]
                + [
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
    return segments


def membership_reasons(result: pipeline.AnalysisResult, column: str, customer_ids: pd.Index) -> pd.Series:
    """Why each customer is in their rfm / cluster segment, as stored on the membership."""
    if column == "rfm" and result.rfm is not None:
        r = result.rfm.reindex(customer_ids)
        return (
            "R"
            + r["r"].astype(int).astype(str)
            + " F"
            + r["f"].astype(int).astype(str)
            + " M"
            + r["m"].astype(int).astype(str)
        )
    if column == "cluster" and result.clusters is not None:
        labels = result.clusters.labels.reindex(customer_ids).astype(int)
        texts = {label: text[:300] for label, text in result.clusters.descriptions.items()}
        texts[-1] = "unusual buying pattern (outlier)"
        reasons = labels.map(texts).fillna("")
        reasons[reasons.index.isin(result.clusters.noise)] = "in no dense group (HDBSCAN noise)"
        return reasons
    return pd.Series("", index=customer_ids)


def _store_memberships(*, run: AnalysisRun, result, keys: pd.DataFrame, segment_by_key: dict[str, Segment]) -> None:
    segment_ids = pd.Series({key: s.pk for key, s in segment_by_key.items()}, dtype="float64")
    parts = []
    for column in keys.columns:
        col = keys[column].dropna()
        seg = col.map(segment_ids).dropna()
        if seg.empty:
            continue
        reasons = membership_reasons(result, column, seg.index)
        parts.append(pd.DataFrame({"segment_id": seg.astype("int64"), "reason": reasons}))
    if not parts:
        return
    table = pd.concat(parts)
    rows = pd.DataFrame(
        {
            "shop_id": run.shop_id,
            "run_id": run.pk,
            "segment_id": table["segment_id"].to_numpy(),
            "customer_id": table.index.to_numpy(dtype="int64"),
            "reason": table["reason"].to_numpy(),
        }
    )
    _insert_rows(SegmentMembership, rows)


def _product_label(titles: dict[int, str], item: Any) -> str:
    try:
        return titles.get(int(item), str(item))
    except (TypeError, ValueError):
        return str(item)


def _store_rules(*, run: AnalysisRun, result, titles: dict[int, str], segment_by_key: dict[str, Segment]) -> None:
    def label(level: str, item: Any) -> str:
        return _product_label(titles, item) if level == RuleLevel.PRODUCT else str(item)

    def rule(level: str, segment: Segment | None, values: tuple) -> AssociationRule:
        ants, cons, sup, conf, lift, lev, conv = values
        return AssociationRule(
            shop=run.shop,
            run=run,
            segment=segment,
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

    rows = [rule(level, None, v) for level, rules in result.rules.items() for v in pipeline.iter_rule_rows(rules)]
    for key, rules in result.segment_rules.items():
        segment = segment_by_key.get(key)
        if segment is not None:
            rows += [rule(RuleLevel.CATEGORY, segment, v) for v in pipeline.iter_rule_rows(rules)]
    AssociationRule.unscoped.bulk_create(rows, batch_size=BATCH)


def _store_forecasts(*, run: AnalysisRun, result, segment_by_key: dict[str, Segment]) -> None:
    rows = []
    for item in result.forecasts:
        fc = item.result
        points = [
            {"date": idx.date().isoformat(), **{k: _jsonable(max(0.0, float(v))) for k, v in row.items()}}
            for idx, row in fc.forecast.iterrows()
        ]
        if fc.in_progress is not None:
            # The period the data ends inside of comes first, flagged: its actual so far and the
            # forecast of the whole period (the history holds complete periods only).
            p = fc.in_progress
            points.insert(
                0,
                {
                    "date": p.period.date().isoformat(),
                    **{k: _jsonable(max(0.0, float(v))) for k, v in p.forecast.items()},
                    "partial": True,
                    "so_far": _jsonable(p.so_far),
                    "covered": _jsonable(p.covered),
                },
            )
        rows.append(
            Forecast(
                shop=run.shop,
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
    Forecast.unscoped.bulk_create(rows)


def _recommendations_json(result, titles: dict[int, str]) -> dict[int, str]:
    recs = result.recommendations
    if recs is None or recs.empty:
        return {}
    title_of = {item: _product_label(titles, item) for item in pd.unique(recs["item"])}
    because_of = {b: [_product_label(titles, x) for x in b] for b in pd.unique(recs["because"])}
    out: dict[int, list] = {}
    for cid, item, score, because in zip(
        recs["customer_id"].tolist(),
        recs["item"].tolist(),
        recs["score"].tolist(),
        recs["because"].tolist(),
        strict=True,
    ):
        out.setdefault(int(cid), []).append(
            {"product_id": int(item), "title": title_of[item], "score": round(score, 4), "because": because_of[because]}
        )
    return {cid: json.dumps(items, ensure_ascii=False) for cid, items in out.items()}


def _store_scores(*, run: AnalysisRun, result, feats: pd.DataFrame, clv: pd.DataFrame | None, titles) -> None:
    """One CustomerScore per customer, built column by column (no per-row pandas lookups)."""
    ids = feats.index
    n = len(ids)
    none = [None] * n
    rfm = result.rfm.reindex(ids) if result.rfm is not None else None
    c = clv.reindex(ids) if clv is not None else None
    clusters = result.clusters
    xy = clusters.projection.reindex(ids) if clusters is not None else None

    rfm_group = rfm["segment"].fillna("").astype(str) if rfm is not None else pd.Series("", index=ids)
    p_alive = c["p_alive"] if c is not None else pd.Series(np.nan, index=ids)
    if c is not None:
        next_date = pd.to_datetime(c["next_order_date"])
        plausible = next_date.notna() & (next_date.dt.year < 2200)
        next_dates = next_date.dt.date.astype(object).where(plausible, None).tolist()
    else:
        next_dates = none
    risk = churn_risks(p_alive=p_alive, rfm_group=rfm_group)
    top = feats["top_category"]
    top_category = top.where(top.notna(), "").astype(str).str.slice(0, 120).tolist()
    recs = _recommendations_json(result, titles)

    columns = {
        "shop_id": [run.shop_id] * n,
        "run_id": [run.pk] * n,
        "customer_id": [int(i) for i in ids],
        "features": _json_lines(feats.reset_index(drop=True)),
        "recency_days": _floats(feats["recency_days"]),
        "frequency": [int(v) for v in feats["frequency"].fillna(0).tolist()],
        "monetary": [m if m is not None else Decimal("0") for m in _moneys(feats["monetary"])],
        "r_score": _ints(rfm["r"]) if rfm is not None else none,
        "f_score": _ints(rfm["f"]) if rfm is not None else none,
        "m_score": _ints(rfm["m"]) if rfm is not None else none,
        "rfm_group": rfm_group.tolist(),
        "cluster": _ints(clusters.labels.reindex(ids)) if clusters is not None else none,
        "x": _floats(xy["pc1"]) if xy is not None else none,
        "y": _floats(xy["pc2"]) if xy is not None else none,
        "p_alive": _floats(p_alive),
        "expected_30": _floats(c["expected_purchases_30d"]) if c is not None else none,
        "expected_90": _floats(c["expected_purchases_90d"]) if c is not None else none,
        "expected_365": _floats(c["expected_purchases_365d"]) if c is not None else none,
        "clv_12m": _moneys(c["clv"]) if c is not None else none,
        "expected_spend": _moneys(c["expected_average_value"]) if c is not None else none,
        "next_order_date": next_dates,
        "churn_risk": risk.tolist(),
        "top_category": top_category,
        "recommendations": [recs.get(int(i), "[]") for i in ids],
    }
    _insert_rows(CustomerScore, pd.DataFrame(columns), json_fields=["features", "recommendations"])


def churn_risks(*, p_alive: pd.Series, rfm_group: pd.Series) -> pd.Series:
    """low / medium / high per customer from the churn risk ``1 - p_alive`` (the purchase model's
    chance still active; bands in ``compute/clv.py``), or from the RFM group where there is no
    ``p_alive`` (the fallback model cannot tell who has stopped)."""
    p = p_alive.astype(float).to_numpy()
    from_rfm = rfm_group.map(CHURN_FROM_RFM).fillna("low").where(rfm_group != "", "").to_numpy()
    return pd.Series(np.where(np.isnan(p), from_rfm, clv_mod.churn_band(p)), index=p_alive.index)


def churn_risk_explanation(score: CustomerScore) -> str:
    """One line on why the customer's churn risk is what it is."""
    if not score.churn_risk:
        return _("No purchase yet, so no churn risk.")
    if score.p_alive is not None:
        line = _("Churn risk %(churn)d%% = 100%% minus a %(percent)d%% chance of still being active") % {
            "churn": score.churn_percent,
            "percent": round(score.p_alive * 100),
        }
        if score.recency_days is not None:
            line += _("; last order %(days)d days ago") % {"days": round(score.recency_days)}
        gap = (score.features or {}).get("mean_days_between_orders")
        if gap:
            line += _(", usually every %(days)d days") % {"days": round(gap)}
        return line + "."
    return _(
        "No chance-still-active estimate for this shop (too little repeat buying, or the simpler estimate "
        "is in use); rated from the RFM group “%(group)s”."
    ) % {"group": score.rfm_group}


# --------------------------------------------------------------------------- segments


def custom_segment_create(*, shop: Shop, name: str, definition: dict, created_by=None) -> Segment:
    """A custom segment; DefinitionError (a ValueError) names the bad node of the definition."""
    definition_to_q(definition)
    segment = Segment.objects.for_shop(shop).create(
        shop=shop,
        run=None,
        kind=SegmentKind.CUSTOM,
        key=f"custom:{timezone.now().strftime('%Y%m%d%H%M%S%f')}",
        name=name,
        definition=definition,
        created_by=created_by,
    )
    run = current_run(shop=shop)
    if run is not None:
        custom_segments_refresh(shop=shop, run=run, segments=[segment])
    return segment


def custom_segment_delete(*, shop: Shop, segment: Segment) -> None:
    """Delete a custom segment; refuses (ValueError) a computed one, which belongs to its run."""
    if segment.shop_id != shop.pk:
        raise ValueError("the segment belongs to another shop")
    if segment.kind != SegmentKind.CUSTOM:
        raise ValueError(_("Computed segments belong to an analysis run and cannot be deleted."))
    segment.delete()


def custom_segment_stats(*, shop: Shop, segment: Segment, run: AnalysisRun | None = None) -> dict[str, Any]:
    """size, revenue, revenue_share and avg_clv of a custom segment in a run (default: the current one).

    Revenue and its share are computed as for computed segments: the members' net spend over
    the run's total positive spend.
    """
    run = run or current_run(shop=shop)
    if run is None:
        return {"size": 0, "revenue": Decimal("0"), "revenue_share": 0.0, "avg_clv": None}
    scores = custom_segment_scores(shop=shop, definition=segment.definition, run=run)
    agg = scores.aggregate(size=Count("pk"), revenue=Sum("monetary"), avg_clv=Avg("clv_12m"))
    total = (
        CustomerScore.objects.for_shop(shop).filter(run=run, monetary__gt=0).aggregate(total=Sum("monetary"))["total"]
    )
    revenue = agg["revenue"] or Decimal("0")
    return {
        "size": agg["size"],
        "revenue": _money(revenue),
        "revenue_share": float(revenue / total) if total else 0.0,
        "avg_clv": _money(agg["avg_clv"]) if agg["avg_clv"] is not None else None,
    }


def custom_segments_refresh(*, shop: Shop, run: AnalysisRun, segments: Iterable[Segment] | None = None) -> None:
    """Store each custom segment's size and value as of `run` (so lists need no live count)."""
    todo = segments if segments is not None else Segment.objects.for_shop(shop).filter(kind=SegmentKind.CUSTOM)
    for segment in todo:
        stats = custom_segment_stats(shop=shop, segment=segment, run=run)
        Segment.objects.for_shop(shop).filter(pk=segment.pk).update(**stats)
        for name, value in stats.items():
            setattr(segment, name, value)


def _previous_done_run(*, shop: Shop, run: AnalysisRun) -> AnalysisRun | None:
    """The last completed run created before `run` (ties on created_at broken by id)."""
    earlier = Q(created_at__lt=run.created_at) | Q(created_at=run.created_at, pk__lt=run.pk)
    return (
        AnalysisRun.objects.for_shop(shop).filter(earlier, status=RunStatus.DONE).order_by("-created_at", "-pk").first()
    )


def _member_ids(*, shop: Shop, segment: Segment | None, run: AnalysisRun, custom: Segment | None = None) -> set[int]:
    if custom is not None:
        return set(
            custom_segment_scores(shop=shop, definition=custom.definition, run=run).values_list(
                "customer_id", flat=True
            )
        )
    if segment is None:
        return set()
    return set(SegmentMembership.objects.for_shop(shop).filter(segment=segment).values_list("customer_id", flat=True))


def segment_membership_changes(*, shop: Shop, segment: Segment, run: AnalysisRun | None = None) -> dict[str, Any]:
    """Who joined and who left a segment between a run and the completed run before it.

    Computed segments are matched across runs by key (``rfm:at-risk``, ``cluster:2``); the
    segment's own run is compared with the previous completed run (failed runs are skipped),
    and a key the previous run did not have means everybody joined. A custom segment's
    definition is evaluated on both runs' scores; ``run`` defaults to the current run.
    Returns ``{"run", "previous_run", "joined", "left"}`` (run ids and sorted customer ids);
    with no previous run there is nothing to compare and both lists are empty.
    """
    empty = {"run": None, "previous_run": None, "joined": [], "left": []}
    if segment.shop_id != shop.pk:
        return empty
    if segment.kind == SegmentKind.CUSTOM:
        run = run or current_run(shop=shop)
    else:
        run = AnalysisRun.objects.for_shop(shop).filter(pk=segment.run_id).first()
    if run is None:
        return empty
    previous = _previous_done_run(shop=shop, run=run)
    if previous is None:
        return {**empty, "run": run.pk}
    if segment.kind == SegmentKind.CUSTOM:
        now = _member_ids(shop=shop, segment=None, run=run, custom=segment)
        before = _member_ids(shop=shop, segment=None, run=previous, custom=segment)
    else:
        earlier = Segment.objects.for_shop(shop).filter(run=previous, key=segment.key).first()
        now = _member_ids(shop=shop, segment=segment, run=run)
        before = _member_ids(shop=shop, segment=earlier, run=previous)
    return {"run": run.pk, "previous_run": previous.pk, "joined": sorted(now - before), "left": sorted(before - now)}
