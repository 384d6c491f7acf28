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

import itertools
import math
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from ._util import require_columns

RULE_COLUMNS = ("antecedents", "consequent", "support", "confidence", "lift", "leverage", "conviction", "count")


def unique_pairs(first: pd.Series, second: pd.Series) -> np.ndarray:
    """Positions of the first occurrence of each (first, second) pair, in order.

    Like ``DataFrame.drop_duplicates`` but on integer codes, several times faster on the
    millions of (basket, item) rows of a big shop.
    """
    a, _ = pd.factorize(first, sort=False)
    b, b_values = pd.factorize(second, sort=False)
    key = a.astype(np.int64) * max(len(b_values), 1) + b
    return np.flatnonzero(~pd.Series(key).duplicated().to_numpy())


def _distinct_baskets(matrix: sparse.csr_matrix) -> tuple[list[list[int]], list[int]]:
    """The distinct non-empty rows of a basket matrix (as item positions) and how often each occurs.

    Each row is encoded as bits in 64-bit words (one word per 64 items), so finding the
    distinct rows is one sort of integers however many baskets there are.
    """
    coo = matrix.tocoo()
    words = (matrix.shape[1] + 63) // 64
    keys = np.zeros((matrix.shape[0], words), dtype=np.uint64)
    bits = np.left_shift(np.uint64(1), (coo.col % 64).astype(np.uint64))
    np.add.at(keys, (coo.row, coo.col // 64), bits)  # distinct items of a basket: the sum is the OR
    keys = keys[keys.any(axis=1)]
    if keys.shape[0] == 0:
        return [], []
    if words == 1:  # a 1-D sort is much faster than np.unique(axis=0)
        distinct, multiplicity = np.unique(keys[:, 0], return_counts=True)
        distinct = distinct[:, None]
    else:
        distinct, multiplicity = np.unique(keys, axis=0, return_counts=True)
    shifts = np.arange(64, dtype=np.uint64)
    present = ((distinct[:, :, None] >> shifts) & np.uint64(1)).astype(bool).reshape(len(distinct), -1)
    row_of, item_of = np.nonzero(present)
    starts = np.searchsorted(row_of, np.arange(len(distinct)))
    return [part.tolist() for part in np.split(item_of, starts[1:])], multiplicity.tolist()


def _fpgrowth_counts(matrix: sparse.csr_matrix, min_count: int, max_len: int | None) -> dict[tuple, int]:
    """mlxtend's FP-growth (its FP-tree and mining step) over the distinct baskets, each inserted
    once with its multiplicity.

    mlxtend's ``fpgrowth()`` inserts one basket at a time in a Python loop, which takes longer
    than everything else for a shop with a million orders; the distinct baskets of frequent items
    are a few thousand, and the tree (so every count) is the same. Returns {item positions: count}.
    """
    from mlxtend.frequent_patterns import fpcommon

    rows, multiplicity = _distinct_baskets(matrix)
    if not rows:
        return {}
    support = np.asarray(matrix.sum(axis=0)).ravel()
    # insert most frequent items first, as mlxtend does (ties: lower position first)
    order = np.lexsort((np.arange(len(support)), support))
    rank = {int(item): i for i, item in enumerate(order)}
    tree = fpcommon.FPTree(rank)
    for row, count in zip(rows, multiplicity, strict=True):
        tree.insert_itemset(sorted(row, key=rank.__getitem__, reverse=True), count)
    return {tuple(itemset): int(c) for c, itemset in _fpg_mine(tree, min_count, max_len) if c >= min_count}


def _fpg_mine(tree: Any, min_count: int, max_len: int | None) -> Iterator[tuple[int, list]]:
    """mlxtend's ``fpgrowth.fpg_step`` (0.25), yielding (count, item positions), with one change:
    a conditional tree is built only if its itemsets can still be short enough.

    mlxtend also builds the conditional trees of the last level, whose itemsets would all be
    longer than ``max_len`` and are never yielded; with ``max_len=3`` on baskets of twenty
    items that last level is most of the work.
    """
    items = tree.nodes.keys()
    depth = len(tree.cond_items)
    if tree.is_path():
        # a single path: every remaining itemset is a combination of its items
        size_remain = (max_len - depth + 1) if max_len else len(items) + 1
        for i in range(1, size_remain):
            for itemset in itertools.combinations(items, i):
                yield min(tree.nodes[j][0].count for j in itemset), tree.cond_items + list(itemset)
        return
    if not max_len or max_len > depth:
        for item in items:
            yield sum(node.count for node in tree.nodes[item]), tree.cond_items + [item]
    if not max_len or max_len > depth + 1:
        for item in items:
            yield from _fpg_mine(tree.conditional_tree(item, min_count), min_count, max_len)


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

    Items below the support threshold cannot be in a frequent itemset, so they are left
    out before mining (baskets holding none of the frequent items still count in
    ``n_baskets``). FP-growth mines the distinct baskets with their multiplicities (see
    :func:`_fpgrowth_counts`); Apriori is mlxtend's ``apriori()`` on the one-hot matrix.
    Both give the same counts.
    """
    from mlxtend.frequent_patterns import apriori

    require_columns(baskets, ("basket_id", "item"), "baskets")
    if not 0 < min_support <= 1:
        raise ValueError("min_support must be in (0, 1]")
    if algorithm not in ("fpgrowth", "apriori"):
        raise ValueError(f"algorithm must be 'fpgrowth' or 'apriori', got {algorithm!r}")
    if max_len is not None and max_len < 1:
        raise ValueError("max_len must be at least 1")
    b = baskets[["basket_id", "item"]].dropna()
    basket_codes, basket_values = pd.factorize(b["basket_id"], sort=False)
    item_codes, item_values = pd.factorize(b["item"], sort=False)
    n = len(basket_values)
    if n == 0:
        raise ValueError("baskets is empty")
    # a boolean matrix: a (basket, item) pair given twice is one True, so no de-duplication pass
    everything = sparse.csr_matrix(
        (np.ones(len(item_codes), dtype=bool), (basket_codes, item_codes)), shape=(n, len(item_values)), dtype=bool
    )
    min_count = math.ceil(min_support * n - 1e-9)
    item_counts = np.asarray(everything.sum(axis=0)).ravel()
    frequent = np.flatnonzero(item_counts >= min_count)
    if not len(frequent):
        return {}, n
    frequent = sorted(frequent.tolist(), key=lambda i: (str(type(item_values[i])), item_values[i]))
    items = [item_values[i] for i in frequent]
    matrix = everything[:, frequent]
    if algorithm == "fpgrowth":
        found = _fpgrowth_counts(matrix, min_count, max_len)
    else:
        rows = matrix[np.asarray(matrix.sum(axis=1)).ravel() > 0]
        onehot = pd.DataFrame(rows.toarray(), columns=range(len(items)))
        m = len(onehot)
        # mlxtend compares float supports; mine slightly below and filter on counts
        table = apriori(onehot, min_support=min(max(min_count - 0.5, 0.5) / m, 1.0), max_len=max_len)
        found = {
            tuple(itemset): int(round(support * m))
            for support, itemset in zip(table["support"].to_numpy(), table["itemsets"], strict=True)
        }
    return {frozenset(items[i] for i in key): c for key, c in found.items() if c >= min_count}, n


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
def purchased_lines(lines: pd.DataFrame, orders: pd.DataFrame | None = None) -> pd.DataFrame:
    """The lines that are purchases: quantity > 0 (not returns) and, with ``orders``, of
    ``paid`` orders only (cancelled, pending and fully returned orders are left out)."""
    require_columns(lines, ("order_id", "quantity"), "lines")
    ln = lines[pd.to_numeric(lines["quantity"], errors="coerce") > 0]
    if orders is not None:
        require_columns(orders, ("order_id", "status"), "orders")
        paid = orders["status"].astype(object).str.lower().eq("paid").to_numpy(dtype=bool)
        ln = ln[ln["order_id"].isin(orders["order_id"].to_numpy()[paid])]
    return ln


def _baskets_from_lines(lines: pd.DataFrame, item_col: str, orders: pd.DataFrame | None, basket: str) -> pd.DataFrame:
    if basket not in ("order", "customer"):
        raise ValueError("basket must be 'order' or 'customer'")
    key = "order_id" if basket == "order" else "customer_id"
    require_columns(lines, (key, item_col, "quantity", "order_id"), "lines")
    ln = purchased_lines(lines, orders)
    out = ln[[key, item_col]].dropna()
    out = out.iloc[unique_pairs(out[key], out[item_col])]
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
def _customer_item_sets(customer_items: Any, relevant: set | None = None, keep_empty: bool = True) -> dict[Any, set]:
    """{customer: set of items}, customers in id order; with ``relevant``, only those items are
    kept (customers left with none keep an empty set, or are left out without ``keep_empty``)."""
    if isinstance(customer_items, pd.DataFrame):
        require_columns(customer_items, ("customer_id", "item"), "customer_items")
        data = customer_items[["customer_id", "item"]].dropna()
        everyone = np.sort(pd.unique(data["customer_id"])) if keep_empty else None
        if relevant is not None:
            data = data[data["item"].isin(relevant)]
        data = data.sort_values("customer_id", kind="stable")
        ids = data["customer_id"].to_numpy()
        items = data["item"].to_numpy(dtype=object)
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.array([], dtype=int)
        found = dict(zip(ids[starts].tolist(), (set(part) for part in np.split(items, starts[1:])), strict=False))
        return found if everyone is None else {cid: found.get(cid, set()) for cid in everyone.tolist()}
    if isinstance(customer_items, dict):
        return {cid: set(items) if relevant is None else set(items) & relevant for cid, items in customer_items.items()}
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
    columns = ["customer_id", "item", "score", "lift", "because", "rank"]
    if rules.empty:
        _customer_item_sets(customer_items)  # still refuse bad input
        return pd.DataFrame(columns=columns)
    ants = [frozenset(a) for a in rules["antecedents"]]
    cons = rules["consequent"].tolist()
    # Only items in some rule can make a rule apply or block its consequent; without
    # {} => item rules, a customer holding none of them gets no offer and is skipped.
    customers = _customer_item_sets(customer_items, relevant=set().union(*ants, cons), keep_empty=not all(ants))
    if not customers:
        return pd.DataFrame(columns=columns)
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
