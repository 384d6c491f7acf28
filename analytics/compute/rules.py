"""Association rules with a single-item consequent, and next-best offers.

Frequent itemsets come from mlxtend (FP-growth or Apriori); rules are then
generated here with one item on the right-hand side, the way R's
``arules::apriori`` (Christian Borgelt's Apriori) and ``pyfim``'s
``fim.arules(..., mode='o')`` do:

- ``support`` is the support of antecedents plus consequent (a fraction of
  baskets); a rule is kept when its support >= ``min_support`` and its
  confidence >= ``min_confidence``;
- rules with an empty antecedent (``{} => item``, confidence = support of the
  item) are generated too, as with arules' default ``minlen=1``; pass
  ``min_len=2`` to leave them out;
- ``max_len`` bounds the number of items in a rule (antecedent + consequent);
  arules' default is 10, ours is no limit.

Support and confidence are compared on integer basket counts, so a rule with
a confidence of exactly ``min_confidence`` is never lost to float rounding.
On Groceries, ``supp=0.001`` gives 410 rules at ``conf=0.8`` and 5,668 at
``conf=0.5``, the figures published for arules.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd

from ._util import require_columns

RULE_COLUMNS = ("antecedents", "consequent", "support", "confidence", "lift", "leverage", "conviction", "count")


def _one_hot(baskets: pd.DataFrame) -> pd.DataFrame:
    b = baskets[["basket_id", "item"]].dropna().drop_duplicates()
    basket_codes, _ = pd.factorize(b["basket_id"], sort=False)
    items = sorted(b["item"].unique(), key=lambda v: (str(type(v)), v))
    item_pos = {item: i for i, item in enumerate(items)}
    n_baskets = int(basket_codes.max()) + 1 if len(basket_codes) else 0
    cols = b["item"].map(item_pos).to_numpy()
    if n_baskets * len(items) <= 50_000_000:
        mat = np.zeros((n_baskets, len(items)), dtype=bool)
        mat[basket_codes, cols] = True
        return pd.DataFrame(mat, columns=items)
    from scipy import sparse

    mat = sparse.csr_matrix((np.ones(len(cols), dtype=bool), (basket_codes, cols)), shape=(n_baskets, len(items)))
    return pd.DataFrame.sparse.from_spmatrix(mat, columns=items)


def frequent_itemsets(
    baskets: pd.DataFrame,
    min_support: float,
    algorithm: str = "fpgrowth",
    max_len: int | None = None,
) -> tuple[dict[frozenset, int], int]:
    """Frequent itemsets of a long ``(basket_id, item)`` frame.

    Returns ``(counts, n_baskets)`` where ``counts`` maps each frequent itemset
    (frozenset of items) to the number of baskets holding it. Duplicate
    (basket, item) rows count once.
    """
    from mlxtend.frequent_patterns import apriori, fpgrowth

    require_columns(baskets, ("basket_id", "item"), "baskets")
    if not 0 < min_support <= 1:
        raise ValueError("min_support must be in (0, 1]")
    if algorithm not in ("fpgrowth", "apriori"):
        raise ValueError(f"algorithm must be 'fpgrowth' or 'apriori', got {algorithm!r}")
    if max_len is not None and max_len < 1:
        raise ValueError("max_len must be at least 1")
    onehot = _one_hot(baskets)
    n = len(onehot)
    if n == 0:
        raise ValueError("baskets is empty")
    # mlxtend compares float supports; mine slightly below and filter on counts
    min_count = math.ceil(min_support * n - 1e-9)
    func = fpgrowth if algorithm == "fpgrowth" else apriori
    found = func(onehot, min_support=max(min_count - 0.5, 0.5) / n, use_colnames=True, max_len=max_len)
    counts: dict[frozenset, int] = {}
    for support, itemset in zip(found["support"].to_numpy(), found["itemsets"], strict=True):
        c = int(round(support * n))
        if c >= min_count:
            counts[frozenset(itemset)] = c
    return counts, n


def association_rules_for(
    baskets: pd.DataFrame,
    min_support: float,
    min_confidence: float,
    algorithm: str = "fpgrowth",
    max_len: int | None = None,
    min_len: int = 1,
) -> pd.DataFrame:
    """Rules ``antecedents => consequent`` with exactly one consequent item.

    Parameters
    ----------
    baskets
        Long frame with ``basket_id`` and ``item`` (one row per item in a basket).
    min_support, min_confidence
        Fractions in (0, 1] and [0, 1].
    algorithm
        ``'fpgrowth'`` (default, fast) or ``'apriori'``; both give the same rules.
    max_len, min_len
        Bounds on the number of items in the whole rule; ``min_len=1`` (as in
        arules) includes ``{} => item`` rules.

    Returns
    -------
    DataFrame with ``antecedents`` (tuple of items, sorted), ``consequent``
    (one item), ``support``, ``confidence``, ``lift``, ``leverage``,
    ``conviction`` (inf when confidence is 1) and ``count`` (baskets holding
    the whole rule), sorted by confidence, lift, support (descending) and then
    by the text of the items, so the order is deterministic.

    Raises
    ------
    ValueError
        Missing columns, empty baskets, or thresholds out of range.
    """
    if not 0 <= min_confidence <= 1:
        raise ValueError("min_confidence must be in [0, 1]")
    if min_len < 1:
        raise ValueError("min_len must be at least 1")
    counts, n = frequent_itemsets(baskets, min_support, algorithm, max_len)
    rows = []
    eps = 1e-12
    for itemset, c_xy in counts.items():
        if len(itemset) < min_len:
            continue
        for y in itemset:
            x = itemset - {y}
            c_x = counts[x] if x else n
            conf = c_xy / c_x
            if conf + eps < min_confidence:
                continue
            s_y = counts[frozenset([y])] / n
            s_xy = c_xy / n
            s_x = c_x / n
            rows.append(
                (
                    tuple(sorted(x, key=str)),
                    y,
                    s_xy,
                    conf,
                    conf / s_y,
                    s_xy - s_x * s_y,
                    (1 - s_y) / (1 - conf) if conf < 1 else math.inf,
                    c_xy,
                )
            )
    out = pd.DataFrame(rows, columns=list(RULE_COLUMNS))
    if out.empty:
        return out
    out["_key"] = out["antecedents"].map(lambda t: "\x1f".join(map(str, t))) + "\x1e" + out["consequent"].astype(str)
    out = out.sort_values(["confidence", "lift", "support", "_key"], ascending=[False, False, False, True])
    return out.drop(columns="_key").reset_index(drop=True)


# ---------------------------------------------------------------------------
# baskets from the standard lines frame
# ---------------------------------------------------------------------------
def _baskets_from_lines(lines: pd.DataFrame, item_col: str, orders: pd.DataFrame | None, basket: str) -> pd.DataFrame:
    if basket not in ("order", "customer"):
        raise ValueError("basket must be 'order' or 'customer'")
    key = "order_id" if basket == "order" else "customer_id"
    require_columns(lines, (key, item_col, "quantity", "order_id"), "lines")
    ln = lines[pd.to_numeric(lines["quantity"], errors="coerce") > 0]
    if orders is not None:
        require_columns(orders, ("order_id", "status"), "orders")
        ok = orders.loc[orders["status"].astype("string").str.lower().isin(["paid"]), "order_id"]
        ln = ln[ln["order_id"].isin(ok)]
    out = ln[[key, item_col]].dropna().drop_duplicates()
    out.columns = ["basket_id", "item"]
    return out.reset_index(drop=True)


def product_baskets(
    lines: pd.DataFrame, orders: pd.DataFrame | None = None, item_col: str = "product_id", basket: str = "order"
) -> pd.DataFrame:
    """Long ``(basket_id, item)`` frame of products bought together.

    Takes the standard lines frame; lines with quantity <= 0 (returns) are
    dropped, and with ``orders`` given only lines of ``paid`` orders are kept.
    ``basket='order'`` makes one basket per order, ``'customer'`` one per
    customer (for shops where repeat purchases matter more than single carts).
    """
    return _baskets_from_lines(lines, item_col, orders, basket)


def category_baskets(lines: pd.DataFrame, orders: pd.DataFrame | None = None, basket: str = "order") -> pd.DataFrame:
    """Like :func:`product_baskets` with the product ``category`` as the item."""
    return _baskets_from_lines(lines, "category", orders, basket)


# ---------------------------------------------------------------------------
# next best offers
# ---------------------------------------------------------------------------
def _customer_item_sets(customer_items: Any) -> dict[Any, set]:
    if isinstance(customer_items, pd.DataFrame):
        require_columns(customer_items, ("customer_id", "item"), "customer_items")
        data = customer_items[["customer_id", "item"]].dropna()
        return {cid: set(items) for cid, items in data.groupby("customer_id", sort=True)["item"]}
    if isinstance(customer_items, dict):
        return {cid: set(items) for cid, items in customer_items.items()}
    raise ValueError("customer_items must be a dict {customer_id: items} or a DataFrame(customer_id, item)")


def next_best_offers(rules: pd.DataFrame, customer_items: Any, top_n: int = 5) -> pd.DataFrame:
    """Recommend items a customer does not have yet, from association rules.

    A rule applies to a customer who holds all its antecedents and not its
    consequent. Each candidate item is scored by the highest confidence of the
    rules recommending it (ties: higher lift, then higher support);
    ``because`` is that rule's antecedent tuple (empty for ``{} => item``).

    Parameters
    ----------
    rules
        Output of :func:`association_rules_for`.
    customer_items
        ``{customer_id: iterable of items}`` or a DataFrame with
        ``customer_id`` and ``item``.
    top_n
        Offers per customer (>= 1).

    Returns
    -------
    DataFrame ``customer_id``, ``item``, ``score``, ``lift``, ``because``,
    ``rank`` (1 = best), best first within each customer.
    """
    require_columns(rules, ("antecedents", "consequent", "confidence", "lift", "support"), "rules")
    if top_n < 1:
        raise ValueError("top_n must be at least 1")
    customers = _customer_item_sets(customer_items)
    columns = ["customer_id", "item", "score", "lift", "because", "rank"]
    if rules.empty or not customers:
        return pd.DataFrame(columns=columns)
    ants = [frozenset(a) for a in rules["antecedents"]]
    cons = rules["consequent"].tolist()
    conf = rules["confidence"].to_numpy(dtype=float)
    lift = rules["lift"].to_numpy(dtype=float)
    supp = rules["support"].to_numpy(dtype=float)
    order = sorted(range(len(cons)), key=lambda i: (-conf[i], -lift[i], -supp[i], i))
    rank_of = {i: pos for pos, i in enumerate(order)}
    by_item: dict[Any, list[int]] = defaultdict(list)
    empty_rules = []
    for i, a in enumerate(ants):
        if a:
            for item in a:
                by_item[item].append(i)
        else:
            empty_rules.append(i)
    sizes = np.array([len(a) for a in ants])

    rows = []
    for cid, items in customers.items():
        hits: dict[int, int] = defaultdict(int)
        for item in items:
            for i in by_item.get(item, ()):
                hits[i] += 1
        applicable = [i for i, h in hits.items() if h == sizes[i]] + empty_rules
        applicable.sort(key=rank_of.__getitem__)
        seen: set = set()
        for i in applicable:
            item = cons[i]
            if item in items or item in seen:
                continue
            seen.add(item)
            rows.append((cid, item, conf[i], lift[i], tuple(sorted(ants[i], key=str)), len(seen)))
            if len(seen) >= top_n:
                break
    return pd.DataFrame(rows, columns=columns)
