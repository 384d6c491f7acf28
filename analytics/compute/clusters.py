"""Customer segmentation by clustering the feature table.

Pipeline (all steps deterministic for a given ``random_state``):

1. pick the numeric feature columns (default :data:`DEFAULT_FEATURES` that are
   present), drop those more than half empty or constant, fill the remaining
   gaps with the column median;
2. log-transform skewed columns (``sign(x) * log1p(|x|)``): the heavy-tailed
   behaviour columns in :data:`SKEWED_FEATURES` always, any other column when
   its skewness is above 1; then standardise;
3. flag outliers with an IsolationForest (``outlier_fraction`` of customers);
   they are kept out of the clustering and returned as their own list;
4. cluster the rest with k-means, Ward agglomerative clustering or HDBSCAN
   (``sklearn.cluster.HDBSCAN``); with ``k=None`` the number of clusters is the
   one in 2..10 with the best silhouette;
5. report silhouette (on a sample), Calinski-Harabasz, Davies-Bouldin, cluster
   centres, plain-language descriptions and a 2-D PCA projection.

Clusters are numbered by size, 0 the largest. Label -1 means "in no cluster"
(an outlier or HDBSCAN noise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

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

# how each feature is put into words: "ratio" (x times the average) or "value"
_FACT_KIND = {
    "recency_days": "value",
    "mean_days_between_orders": "value",
    "return_rate": "value",
    "review_sentiment": "value",
    "age": "value",
    "top_category_share": "value",
    "top_brand_share": "value",
}


@dataclass(frozen=True)
class ClusterFact:
    """One fact about a cluster, for the web layer to translate.

    ``kind`` is ``"ratio"`` (``value`` = cluster mean / overall mean),
    ``"value"`` (``value`` = the cluster's median in the feature's own unit)
    or ``"category"`` (``value`` = the most common category of the cluster).
    ``direction`` is ``"high"`` or ``"low"`` compared to the average customer.
    ``text`` is an English rendering.
    """

    feature: str
    kind: str
    value: float | str
    direction: str
    text: str


@dataclass(frozen=True, eq=False)
class ClusterResult:
    """Outcome of :func:`cluster_customers`.

    - ``labels``: cluster per customer (index = features index), -1 = none
    - ``k``: number of clusters found; ``method``; ``features``: columns used;
      ``log_features``: those log-transformed
    - ``silhouette`` (computed on a sample of at most 4,000 customers),
      ``calinski_harabasz``, ``davies_bouldin`` (NaN with fewer than 2 clusters)
    - ``k_scores``: silhouette for each k tried (empty when k was given or
      for HDBSCAN)
    - ``centres``: DataFrame, one row per cluster: ``size``, ``share`` and the
      mean of every feature in its own unit
    - ``descriptions``: {cluster: English sentence}; ``facts``: {cluster:
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


def _signed_log(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


def prepare_matrix(features: pd.DataFrame, columns: list[str] | None = None) -> tuple[np.ndarray, list[str], list[str]]:
    """Return (standardised matrix, used columns, log-transformed columns)."""
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
    keep = [c for c in cols if data[c].notna().mean() >= 0.5 and data[c].nunique(dropna=True) > 1]
    if not keep:
        raise ValueError("no usable feature column (all are mostly empty or constant)")
    data = data[keep].fillna(data[keep].median())
    logged = []
    for c in keep:
        if c in SKEWED_FEATURES or data[c].skew() > 1:
            data[c] = _signed_log(data[c].to_numpy())
            logged.append(c)
    x = data.to_numpy()
    sd = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
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


def _fmt(value: float) -> str:
    return f"{value:.1f}" if abs(value) < 10 else f"{value:.0f}"


def _fact_text(feature: str, kind: str, value: float | str) -> str:
    if kind == "category":
        return f"mostly {value}"
    v = float(value)
    if kind == "ratio":
        phrases = {
            "monetary": "spend {v}x the average",
            "frequency": "buy {v}x as often as the average",
            "orders": "place {v}x as many orders as the average",
            "avg_order_value": "orders {v}x the average size",
            "tenure_days": "customers {v}x as long as the average",
            "browsing_seconds": "browse {v}x as long as the average",
            "searches": "search {v}x as often as the average",
        }
        phrase = phrases.get(feature, feature.replace("_", " ") + " {v}x the average")
        return phrase.format(v=f"{v:.1f}")
    if feature == "mean_days_between_orders":
        return f"buy every {_fmt(v)} days"
    if feature == "recency_days":
        return f"last bought {_fmt(v)} days ago"
    if feature == "return_rate":
        return f"return {v * 100:.0f}% of what they buy"
    if feature == "review_sentiment":
        return "review positively" if v > 0.2 else ("review negatively" if v < -0.2 else "review neutrally")
    if feature == "age":
        return f"aged about {v:.0f}"
    if feature.endswith("_share"):
        return f"{feature.replace('_', ' ')} {v * 100:.0f}%"
    return f"{feature.replace('_', ' ')} {_fmt(v)}"


def _describe(
    features: pd.DataFrame,
    members: pd.Index,
    everyone: pd.Index,
    z_centre: pd.Series,
    top: int,
) -> list[ClusterFact]:
    facts: list[ClusterFact] = []
    order = z_centre.abs().sort_values(ascending=False, kind="stable").index
    for feature in order[:top]:
        if abs(z_centre[feature]) < 0.25:
            break
        direction = "high" if z_centre[feature] > 0 else "low"
        col = pd.to_numeric(features[feature], errors="coerce")
        kind = _FACT_KIND.get(feature, "ratio")
        overall = col.loc[everyone].mean()
        if kind == "ratio" and not (np.isfinite(overall) and overall > 0):
            kind = "value"
        if kind == "ratio":
            value: float | str = float(col.loc[members].mean() / overall)
        else:
            value = float(col.loc[members].median())
            if not np.isfinite(value):
                continue
        facts.append(ClusterFact(feature, kind, value, direction, _fact_text(feature, kind, value)))
    if "top_category" in features.columns:
        cats = features.loc[members, "top_category"].dropna()
        if len(cats) and len(members):
            counts = cats.astype(str).value_counts()
            best = sorted(counts[counts == counts.max()].index)[0]
            if counts[best] / len(members) >= 0.4:
                facts.append(ClusterFact("top_category", "category", best, "high", _fact_text("", "category", best)))
    return facts


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
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, pairwise_distances, silhouette_score

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

    clustered = labels_in != -1
    xc, lc = x[clustered], labels_in[clustered]
    if n_clusters >= 2:
        ss = min(SILHOUETTE_SAMPLE, sample_size, len(xc))
        sil = float(silhouette_score(xc, lc, sample_size=ss if ss < len(xc) else None, random_state=random_state))
        ch = float(calinski_harabasz_score(xc, lc))
        db = float(davies_bouldin_score(xc, lc))
    else:
        sil = ch = db = float("nan")

    # centres in original units and descriptions
    numeric = features[used].apply(pd.to_numeric, errors="coerce").astype(float)
    everyone = ids[labels.to_numpy() != -1]
    z = pd.DataFrame(x_all, index=ids, columns=used)
    z_base = z.loc[everyone].mean()
    rows, descriptions, facts = [], {}, {}
    for c in range(n_clusters):
        members = ids[labels.to_numpy() == c]
        row = {"cluster": c, "size": len(members), "share": len(members) / max(len(everyone), 1)}
        row.update(numeric.loc[members].mean().to_dict())
        rows.append(row)
        cluster_facts = _describe(features, members, everyone, z.loc[members].mean() - z_base, describe_top)
        facts[c] = cluster_facts
        descriptions[c] = ", ".join(f.text for f in cluster_facts) or "close to the average customer"
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
    )
