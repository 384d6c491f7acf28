"""Customer segmentation by clustering the feature table.

Pipeline (all steps deterministic for a given ``random_state``):

1. pick the numeric feature columns (default :data:`DEFAULT_FEATURES` that are
   present), drop those more than half empty or constant, fill the remaining
   gaps with the column median -- except the gap between orders, which a
   one-time buyer does not have: it gets the indicator column
   ``one_time_buyer`` (1 = at most one purchase day) and the gap column is
   standardised over the repeat buyers, one-time buyers sitting at its centre
   (0), so the gap separates repeat buyers only and the indicator says who
   bought once (before, one-time buyers were given the median gap and looked
   like typical repeat buyers);
2. log-transform skewed columns (``sign(x) * log1p(|x|)``): the heavy-tailed
   behaviour columns in :data:`SKEWED_FEATURES` always, any other column when
   its skewness is above 1; then standardise;
3. flag outliers with an IsolationForest (``outlier_fraction`` of customers);
   they are kept out of the clustering and returned as their own list;
4. cluster the rest with k-means, Ward agglomerative clustering or HDBSCAN
   (``sklearn.cluster.HDBSCAN``); with ``k=None`` the number of clusters is the
   one in 2..10 with the best silhouette;
5. report silhouette (on a sample), Calinski-Harabasz, Davies-Bouldin, the
   share of the spread the clusters explain, cluster centres, names and
   descriptions (:mod:`.cluster_names`) and a 2-D PCA projection.

Quality counts every clustered customer: HDBSCAN's noise (customers it puts in
no cluster) is scored as one more group, so a method that leaves most
customers out cannot report a fine silhouette over the few it kept; the score
over the assigned customers only is kept beside it (``silhouette_assigned``),
with ``assigned_share``. Outliers set aside by IsolationForest (1%) are not
scored with any method.

DBSCAN is not offered: HDBSCAN is its replacement (the same density idea over
every radius at once, so no ``eps`` to guess per shop); see ADR 0002.

Clusters are numbered by size, 0 the largest. Label -1 means "in no cluster"
(an outlier or HDBSCAN noise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .cluster_names import (
    ONE_TIME_MAJORITY,
    ClusterFact,
    ClusterName,
    describe_cluster,
    description_text,
    name_clusters,
    one_time_mask,
)

__all__ = ["ClusterFact", "ClusterName", "ClusterResult", "cluster_customers", "prepare_matrix"]

DEFAULT_FEATURES: tuple[str, ...] = (
    "recency_days",
    "frequency",
    "monetary",
    "avg_order_value",
    "mean_days_between_orders",
    "return_rate",
    "tenure_days",
    "browsing_seconds",
    "searches",
    "review_sentiment",
    "age",
)
METHODS = ("kmeans", "agglomerative", "hdbscan")
SILHOUETTE_SAMPLE = 4000
# heavy-tailed in any shop: always log-transformed; other columns only when skewness > 1
SKEWED_FEATURES = frozenset(
    {
        "recency_days",
        "frequency",
        "orders",
        "monetary",
        "gross_sales",
        "avg_order_value",
        "mean_days_between_orders",
        "browsing_seconds",
        "page_views",
        "searches",
        "add_to_carts",
    }
)


@dataclass(frozen=True, eq=False)
class ClusterResult:
    """Outcome of :func:`cluster_customers`.

    - ``labels``: cluster per customer (index = features index), -1 = none
    - ``k``: number of clusters found; ``method``; ``features``: columns used;
      ``log_features``: those log-transformed
    - ``silhouette`` (computed on a sample of at most 4,000 customers),
      ``calinski_harabasz``, ``davies_bouldin`` (NaN with fewer than 2 groups),
      ``explained_share`` (between-group share of the total spread, 0..1; the
      Calinski-Harabasz ratio without its dependence on the number of customers):
      all over every clustered customer, HDBSCAN noise scored as one more group
    - ``assigned_share``: share of the customers scored who are in a cluster (1
      except with HDBSCAN); ``silhouette_assigned``: the silhouette over those only
    - ``k_scores``: silhouette for each k tried (empty when k was given or
      for HDBSCAN)
    - ``centres``: DataFrame, one row per cluster: ``size``, ``share`` and the
      mean of every feature in its own unit (the gap between orders over the
      members who bought again, NaN when at least half bought once;
      ``one_time_buyer`` is the share who bought once)
    - ``names``: {cluster: :class:`ClusterName`}, distinct within the run;
      ``descriptions``: {cluster: English sentences}; ``facts``: {cluster:
      list of :class:`ClusterFact`}
    - ``projection``: DataFrame ``pc1``, ``pc2``, ``cluster`` per customer
    - ``outliers``: customer ids flagged by IsolationForest; ``noise``:
      HDBSCAN noise customer ids
    """

    method: str
    k: int
    labels: pd.Series
    silhouette: float
    calinski_harabasz: float
    davies_bouldin: float
    k_scores: dict[int, float]
    centres: pd.DataFrame
    descriptions: dict[int, str]
    facts: dict[int, list[ClusterFact]]
    projection: pd.DataFrame
    outliers: list[Any]
    noise: list[Any]
    features: list[str]
    log_features: list[str]
    names: dict[int, ClusterName]
    explained_share: float = float("nan")
    assigned_share: float = 1.0
    silhouette_assigned: float = float("nan")


def _signed_log(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


GAP = "mean_days_between_orders"
ONE_TIME = "one_time_buyer"


def prepare_matrix(features: pd.DataFrame, columns: list[str] | None = None) -> tuple[np.ndarray, list[str], list[str]]:
    """Return (standardised matrix, used columns, log-transformed columns).

    With the gap between orders among the columns, ``one_time_buyer`` (0/1) is added
    after it, and the gap is standardised over repeat buyers with one-time buyers at 0.
    """
    if not isinstance(features, pd.DataFrame):
        raise ValueError("features must be a pandas DataFrame")
    if columns is None:
        cols = [c for c in DEFAULT_FEATURES if c in features.columns]
        if not cols:
            raise ValueError("features has none of the default feature columns: " + ", ".join(DEFAULT_FEATURES))
    else:
        missing = [c for c in columns if c not in features.columns]
        if missing:
            raise ValueError(f"features is missing column(s): {', '.join(missing)}")
        cols = list(columns)
    data = features[cols].apply(pd.to_numeric, errors="coerce").astype(float)
    one_time = one_time_mask(features) if GAP in cols else None
    if one_time is not None:
        data.insert(cols.index(GAP) + 1, ONE_TIME, one_time.astype(float).to_numpy())
        cols = list(data.columns)

    def usable(c: str) -> bool:
        values = data[c] if c != GAP else data.loc[~one_time.to_numpy(), c]  # type: ignore[union-attr]
        # the gap needs repeat buyers only (at least 5% of customers), the rest half of everyone
        present = values.notna().sum() / max(len(data), 1)
        return present >= (0.05 if c == GAP else 0.5) and values.nunique(dropna=True) > 1

    keep = [c for c in cols if usable(c)]
    if not keep or keep == [ONE_TIME]:
        raise ValueError("no usable feature column (all are mostly empty or constant)")
    data = data[keep]
    others = [c for c in keep if c != GAP]
    data[others] = data[others].fillna(data[others].median())
    logged = []
    for c in keep:
        if c == ONE_TIME:
            continue
        if c in SKEWED_FEATURES or data[c].skew() > 1:
            data[c] = _signed_log(data[c].to_numpy())
            logged.append(c)
    x = data.to_numpy()
    # nan-aware: the gap's mean and spread are those of the repeat buyers; then one-time buyers
    # (and a repeat buyer without a gap, if any) sit at its centre
    mean, sd = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
    x = (x - mean) / np.where(sd > 0, sd, 1.0)
    x = np.nan_to_num(x, nan=0.0)
    return x, keep, logged


def _fit_labels(
    method: str, x: np.ndarray, k: int, random_state: int, linkage: np.ndarray | None, min_cluster_size: int
) -> np.ndarray:
    if method == "kmeans":
        from sklearn.cluster import KMeans

        return KMeans(n_clusters=k, n_init=10, random_state=random_state).fit_predict(x)
    if method == "agglomerative":
        from scipy.cluster.hierarchy import fcluster

        return fcluster(linkage, t=k, criterion="maxclust") - 1
    from sklearn.cluster import HDBSCAN

    return HDBSCAN(min_cluster_size=min_cluster_size, copy=True).fit_predict(x)


def _nearest(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    d = ((x[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    return d.argmin(axis=1)


def cluster_customers(
    features: pd.DataFrame,
    method: str = "kmeans",
    k: int | None = None,
    random_state: int = 0,
    sample_size: int = 10000,
    columns: list[str] | None = None,
    outlier_fraction: float = 0.01,
    k_range: tuple[int, int] = (2, 10),
    min_cluster_size: int | None = None,
    describe_top: int = 3,
) -> ClusterResult:
    """Cluster customers and explain the clusters.

    Parameters
    ----------
    features
        One row per customer (e.g. from ``customer_features``; keep only
        customers who bought). Needs the numeric ``columns`` (default
        :data:`DEFAULT_FEATURES` that are present); ``top_category`` is used
        in descriptions when present.
    method
        ``'kmeans'``, ``'agglomerative'`` (Ward) or ``'hdbscan'``.
    k
        Number of clusters; None picks the best silhouette in ``k_range``.
        Ignored by HDBSCAN, which finds its own number.
    random_state
        Seed for k-means, IsolationForest, sampling and PCA.
    sample_size
        Agglomerative and HDBSCAN are fitted on at most this many customers
        (5,000 for Ward) and the rest are assigned to the nearest cluster
        centre. k-means chooses ``k`` on at most this many customers and then
        fits the chosen ``k`` on all. Silhouettes (for choosing ``k`` and the
        reported one) use at most 4,000 of them: its cost grows with the
        square of the sample, and 4,000 estimate it to about 0.01.
    outlier_fraction
        Share of customers IsolationForest sets aside (0 disables; applied
        only with at least 50 customers).
    min_cluster_size
        HDBSCAN's minimum cluster size; default ``max(5, n // 50)``.

    Raises
    ------
    ValueError
        Unknown method, missing columns, too few customers (fewer than 10, or
        not more than ``k``), or a bad ``k``.
    """
    from sklearn.decomposition import PCA
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import pairwise_distances, silhouette_score

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if k is not None and k < 2:
        raise ValueError("k must be at least 2")
    if not 0 <= outlier_fraction < 0.5:
        raise ValueError("outlier_fraction must be in [0, 0.5)")
    x_all, used, logged = prepare_matrix(features, columns)
    n = len(x_all)
    if n < 10:
        raise ValueError(f"need at least 10 customers to cluster, got {n}")
    if k is not None and method != "hdbscan" and k >= n:
        raise ValueError(f"k={k} needs more than {k} customers, got {n}")
    rng = np.random.default_rng(random_state)
    ids = features.index

    inlier = np.ones(n, dtype=bool)
    if outlier_fraction > 0 and n >= 50:
        forest = IsolationForest(n_estimators=100, contamination=outlier_fraction, random_state=random_state)
        inlier = forest.fit_predict(x_all) == 1
    x = x_all[inlier]
    n_in = len(x)

    # fit sample
    fit_cap = min(sample_size, 5000) if method == "agglomerative" else sample_size
    fit_idx = np.sort(rng.choice(n_in, fit_cap, replace=False)) if (method != "kmeans" and n_in > fit_cap) else None
    x_fit = x if fit_idx is None else x[fit_idx]
    linkage = None
    if method == "agglomerative":
        from scipy.cluster.hierarchy import linkage as hier_linkage

        linkage = hier_linkage(x_fit, method="ward")
    mcs = min_cluster_size or max(5, n_in // 50)

    # k-means on a big shop: k is chosen on a sample of `sample_size` customers (its silhouettes
    # are computed on a sample anyway), then the chosen k is fitted once on everyone.
    x_sel = x_fit
    if method == "kmeans" and k is None and n_in > sample_size:
        x_sel = x[np.sort(rng.choice(n_in, sample_size, replace=False))]
    sel_n = min(SILHOUETTE_SAMPLE, sample_size, len(x_sel))
    sel_idx = np.sort(rng.choice(len(x_sel), sel_n, replace=False)) if len(x_sel) > sel_n else None
    k_scores: dict[int, float] = {}
    if method == "hdbscan":
        chosen_k = None
    elif k is None:
        lo, hi = k_range
        if lo < 2 or hi < lo:
            raise ValueError("k_range must be (lo, hi) with 2 <= lo <= hi")
        # the silhouettes of every k are over the same sample: its distances are computed once
        distances = pairwise_distances(x_sel if sel_idx is None else x_sel[sel_idx])
        for kk in range(lo, min(hi, len(x_sel) - 1) + 1):
            lab = _fit_labels(method, x_sel, kk, random_state, linkage, mcs)
            ls = lab if sel_idx is None else lab[sel_idx]
            k_scores[kk] = float(silhouette_score(distances, ls, metric="precomputed")) if len(set(ls)) > 1 else -1.0
        del distances
        chosen_k = max(k_scores, key=lambda kk: (k_scores[kk], -kk))
    else:
        chosen_k = k
    lab_fit = _fit_labels(method, x_fit, chosen_k or 0, random_state, linkage, mcs)

    labels_in = lab_fit
    if fit_idx is not None:
        clusters_found = sorted(set(lab_fit) - {-1})
        labels_in = np.full(n_in, -1)
        labels_in[fit_idx] = lab_fit
        rest = np.setdiff1d(np.arange(n_in), fit_idx)
        if clusters_found:
            cents = np.vstack([x_fit[lab_fit == c].mean(axis=0) for c in clusters_found])
            labels_in[rest] = np.asarray(clusters_found)[_nearest(x[rest], cents)]

    # number clusters by size (largest first); ties by first member position
    uniq = [c for c in pd.unique(labels_in) if c != -1]
    sizes = {c: int((labels_in == c).sum()) for c in uniq}
    first_pos = {c: int(np.argmax(labels_in == c)) for c in uniq}
    ordered = sorted(uniq, key=lambda c: (-sizes[c], first_pos[c]))
    remap = {old: new for new, old in enumerate(ordered)}
    labels_in = np.array([remap.get(c, -1) for c in labels_in])
    n_clusters = len(ordered)

    labels = pd.Series(-1, index=ids, name="cluster", dtype=int)
    labels.iloc[np.flatnonzero(inlier)] = labels_in

    sil, ch, db, explained, sil_assigned, assigned_share = _quality(x, labels_in, sample_size, random_state)

    # centres in original units, names and descriptions, compared with the whole shop
    numeric = features[[c for c in used if c != ONE_TIME]].apply(pd.to_numeric, errors="coerce").astype(float)
    one_time = one_time_mask(features) if ONE_TIME in used else None
    if one_time is not None:
        numeric.insert(used.index(ONE_TIME), ONE_TIME, one_time.astype(float).to_numpy())
    z = pd.DataFrame(x_all, index=ids, columns=used)
    z_base = z.mean()
    names = name_clusters(features, labels, n_clusters, one_time)
    rows, descriptions, facts = [], {}, {}
    clustered_ids = ids[labels.to_numpy() != -1]
    for c in range(n_clusters):
        members = ids[labels.to_numpy() == c]
        row = {"cluster": c, "size": len(members), "share": len(members) / max(len(clustered_ids), 1)}
        row.update(numeric.loc[members].mean().to_dict())
        if GAP in row and row.get(ONE_TIME, 0.0) >= ONE_TIME_MAJORITY:
            row[GAP] = float("nan")  # mostly one-time buyers: no gap between orders to speak of
        rows.append(row)
        cluster_facts = describe_cluster(features, members, ids, z.loc[members].mean() - z_base, describe_top, one_time)
        facts[c] = cluster_facts
        descriptions[c] = description_text(cluster_facts)
    centres = pd.DataFrame(rows).set_index("cluster") if rows else pd.DataFrame(columns=["size", "share", *used])

    pca = PCA(n_components=min(2, x.shape[1]), random_state=random_state, svd_solver="full").fit(x)
    coords = pca.transform(x_all)
    if coords.shape[1] == 1:
        coords = np.column_stack([coords[:, 0], np.zeros(n)])
    projection = pd.DataFrame({"pc1": coords[:, 0], "pc2": coords[:, 1], "cluster": labels.to_numpy()}, index=ids)

    in_ids = ids[inlier]
    return ClusterResult(
        method=method,
        k=n_clusters,
        labels=labels,
        silhouette=sil,
        calinski_harabasz=ch,
        davies_bouldin=db,
        k_scores=k_scores,
        centres=centres,
        descriptions=descriptions,
        facts=facts,
        projection=projection,
        outliers=list(ids[~inlier]),
        noise=list(in_ids[labels_in == -1]),
        features=used,
        log_features=logged,
        names=names,
        explained_share=explained,
        assigned_share=assigned_share,
        silhouette_assigned=sil_assigned,
    )


def _quality(
    x: np.ndarray, labels: np.ndarray, sample_size: int, random_state: int
) -> tuple[float, float, float, float, float, float]:
    """(silhouette, Calinski-Harabasz, Davies-Bouldin, explained share, silhouette of the
    assigned only, assigned share) over every scored customer, noise (-1) as one more group.

    Scoring only the customers HDBSCAN assigned reported 0.43 on Online Retail while it left
    two thirds of them out; with noise as a group, spreading customers thinly costs score.
    """
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

    nan = float("nan")
    assigned = labels != -1
    assigned_share = float(assigned.mean()) if len(labels) else nan

    def silhouette(xs: np.ndarray, ls: np.ndarray) -> float:
        ss = min(SILHOUETTE_SAMPLE, sample_size, len(xs))
        return float(silhouette_score(xs, ls, sample_size=ss if ss < len(xs) else None, random_state=random_state))

    if len(set(labels)) < 2:
        return nan, nan, nan, nan, nan, assigned_share
    sil = silhouette(x, labels)
    if assigned.all():
        sil_assigned = sil
    else:
        sil_assigned = silhouette(x[assigned], labels[assigned]) if len(set(labels[assigned])) >= 2 else nan
    ch = float(calinski_harabasz_score(x, labels))
    db = float(davies_bouldin_score(x, labels))
    total = float(((x - x.mean(axis=0)) ** 2).sum())
    within = sum(float(((x[labels == g] - x[labels == g].mean(axis=0)) ** 2).sum()) for g in set(labels))
    explained = 1.0 - within / total if total > 0 else nan
    return sil, ch, db, explained, sil_assigned, assigned_share
