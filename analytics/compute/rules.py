"""Association rules with a single-item consequent, and next-best offers.

Rules have one item on the right-hand side, as R's ``arules::apriori`` (Christian
Borgelt's Apriori) and ``pyfim``'s ``fim.arules(..., mode='o')`` make them:

- ``support`` is the support of antecedents plus consequent (a fraction of
  baskets); a rule is kept when its support >= ``min_support`` and its
  confidence >= ``min_confidence``;
- rules with an empty antecedent (``{} => item``, confidence = support of the
  item) are generated too, as with arules' default ``minlen=1``; pass
  ``min_len=2`` to leave them out;
- ``max_len`` bounds the number of items in a rule (antecedent + consequent);
  the default is no bound (arules' default is 10).

Two engines (``algorithm``), with the same rules (ADR 0008):

- ``'fpgrowth'`` (default): Borgelt's compiled FP-growth from ``pyfim``, asked for the
  rules directly (``target='r'``, ``mode='o'``), with the counts of each rule, its
  antecedent and its consequent; every measure is computed here from those counts;
- ``'apriori'``: mlxtend's ``apriori()`` on the one-hot basket matrix, rules generated
  here from the frequent itemsets' counts.

Support and confidence are compared on integer basket counts, so a rule with
a confidence of exactly ``min_confidence`` is never lost to float rounding.
On Groceries, ``supp=0.001`` gives 410 rules at ``conf=0.8`` and 5,668 at
``conf=0.5``, the figures published for arules.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd

from ._util import require_columns
from .money import order_amounts

RULE_COLUMNS = ("antecedents", "consequent", "support", "confidence", "lift", "leverage", "conviction", "count")
RULE_ALGORITHMS = ("fpgrowth", "apriori")
# the engine behind each algorithm, reported with a run's rule parameters
RULE_ENGINES = {"fpgrowth": "pyfim (Borgelt, compiled)", "apriori": "mlxtend"}


def unique_pairs(first: pd.Series, second: pd.Series) -> np.ndarray:
    """Positions of the first occurrence of each (first, second) pair, in order.

    Like ``DataFrame.drop_duplicates`` but on integer codes, several times faster on the
    millions of (basket, item) rows of a big shop.
    """
    a, _ = pd.factorize(first, sort=False)
    b, b_values = pd.factorize(second, sort=False)
    key = a.astype(np.int64) * max(len(b_values), 1) + b
    return np.flatnonzero(~pd.Series(key).duplicated().to_numpy())


class _Encoded:
    """Baskets as lists of item codes, keeping only the items frequent enough to be in a rule.

    ``items[code]`` is the item; codes follow the items' text order, so sorting codes sorts
    items the way antecedents are shown. ``n`` counts every basket, also those left with no
    frequent item (they lower every support); ``transactions`` holds only the others.
    """

    def __init__(self, baskets: pd.DataFrame, min_support: float) -> None:
        require_columns(baskets, ("basket_id", "item"), "baskets")
        if not 0 < min_support <= 1:
            raise ValueError("min_support must be in (0, 1]")
        b = baskets[["basket_id", "item"]].dropna()
        basket_codes, basket_values = pd.factorize(b["basket_id"], sort=False)
        item_codes, item_values = pd.factorize(b["item"], sort=False)
        self.n = len(basket_values)
        if self.n == 0:
            raise ValueError("baskets is empty")
        # one sort: (basket, item) pairs given twice count once, and each basket's items end up together
        width = np.int64(len(item_values))
        pairs = np.sort(basket_codes.astype(np.int64) * width + item_codes)  # np.unique hashes: slower here
        pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]]
        basket, item = pairs // width, pairs % width
        self.min_count = max(math.ceil(min_support * self.n - 1e-9), 1)
        baskets_per_item = np.bincount(item, minlength=len(item_values))
        frequent = np.flatnonzero(baskets_per_item >= self.min_count)
        ordered = sorted(frequent.tolist(), key=lambda i: str(item_values[i]))
        self.items: list[Any] = item_values[ordered].tolist()  # Python scalars, not numpy ones
        self.item_counts: list[int] = baskets_per_item[ordered].tolist()
        code = np.full(len(item_values), -1, dtype=np.int64)
        code[ordered] = np.arange(len(ordered))
        keep = code[item] >= 0
        basket, codes = basket[keep], tuple(code[item[keep]].tolist())
        bounds = np.flatnonzero(np.r_[True, basket[1:] != basket[:-1], True]).tolist() if len(basket) else [0]
        # Slices of a tuple are tuples, which the garbage collector stops tracking once it has seen
        # they hold only numbers (lists it would walk through at every full collection); mapping
        # over slices runs the loop in C.
        self.transactions: list[tuple[int, ...]] = list(map(codes.__getitem__, map(slice, bounds[:-1], bounds[1:])))


def _pyfim_rules(enc: _Encoded, min_confidence: float, min_len: int, max_len: int | None) -> list[tuple]:
    """Borgelt's FP-growth: (consequent code, antecedent codes, rule count, antecedent count, consequent count)."""
    import fim

    # {} => item rules straight from the item counts: pyfim would divide by the baskets it was
    # given, not by all of them
    rules: list[tuple] = []
    if min_len <= 1:
        rules = [(code, (), c, enc.n, c) for code, c in enumerate(enc.item_counts)]
    if max_len is not None and max_len < 2:
        return rules
    options: dict[str, Any] = {} if max_len is None else {"zmax": max_len}
    # pyfim 6.28 leaves out every itemset found in all the baskets it is given (a => b when a and b
    # are in every basket): one empty basket more keeps them, and changes no count of a rule with
    # an antecedent. Asked for slightly less confidence than wanted (it only prunes the search):
    # the exact cut is made on counts, in _rules_frame.
    return rules + fim.fpgrowth(
        [*enc.transactions, []],
        target="r",
        supp=-enc.min_count,  # negative: an absolute number of baskets
        conf=max(min_confidence * 100 - 1e-6, 0.0),
        zmin=max(min_len, 2),
        report="abh",
        mode="o",  # a rule's support is that of antecedent and consequent together, as in arules
        **options,
    )


def _apriori_rules(enc: _Encoded, min_confidence: float, min_len: int, max_len: int | None) -> list[tuple]:
    """mlxtend's Apriori for the frequent itemsets; rules (as :func:`_pyfim_rules`) generated from their counts,
    every one of them: the confidence cut is made in :func:`_rules_frame`."""
    from mlxtend.frequent_patterns import apriori

    m = len(enc.transactions)
    onehot = np.zeros((m, len(enc.items)), dtype=bool)
    for row, codes in enumerate(enc.transactions):
        onehot[row, list(codes)] = True
    # mlxtend compares float supports; mine slightly below and filter on counts
    table = apriori(
        pd.DataFrame(onehot, columns=range(len(enc.items))),
        min_support=min(max(enc.min_count - 0.5, 0.5) / m, 1.0),
        max_len=max_len,
    )
    counts = {
        frozenset(itemset): int(round(support * m))
        for support, itemset in zip(table["support"].to_numpy(), table["itemsets"], strict=True)
    }
    counts = {itemset: c for itemset, c in counts.items() if c >= enc.min_count}
    rules = []
    for itemset, c_xy in counts.items():
        if len(itemset) < min_len:
            continue
        for y in itemset:
            x = itemset - {y}
            rules.append((y, tuple(x), c_xy, counts[x] if x else enc.n, counts[frozenset([y])]))
    return rules


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
        Long frame with ``basket_id`` and ``item`` (one row per item in a basket;
        a pair given twice counts once).
    min_support, min_confidence
        Fractions in (0, 1] and [0, 1].
    algorithm
        ``'fpgrowth'`` (default: pyfim's compiled FP-growth) or ``'apriori'``
        (mlxtend); both give the same rules.
    max_len, min_len
        Bounds on the number of items in the whole rule; ``max_len=None`` (default)
        is no bound; ``min_len=1`` (as in arules) includes ``{} => item`` rules.

    Returns
    -------
    DataFrame with ``antecedents`` (tuple of items, in text order), ``consequent``
    (one item), ``support``, ``confidence``, ``lift``, ``leverage``,
    ``conviction`` (inf when confidence is 1) and ``count`` (baskets holding
    the whole rule), sorted by confidence, lift, support (descending) and then
    by the items' text order, so the order is deterministic.

    Raises
    ------
    ValueError
        Missing columns, empty baskets, unknown algorithm, or thresholds out of range.
    """
    if algorithm not in RULE_ALGORITHMS:
        raise ValueError(f"algorithm must be one of {', '.join(RULE_ALGORITHMS)}, got {algorithm!r}")
    if not 0 <= min_confidence <= 1:
        raise ValueError("min_confidence must be in [0, 1]")
    if min_len < 1:
        raise ValueError("min_len must be at least 1")
    if max_len is not None and max_len < 1:
        raise ValueError("max_len must be at least 1")
    enc = _Encoded(baskets, min_support)
    if not enc.items or (max_len is not None and max_len < min_len):
        return pd.DataFrame(columns=list(RULE_COLUMNS))
    mine = _pyfim_rules if algorithm == "fpgrowth" else _apriori_rules
    return _rules_frame(mine(enc, min_confidence, min_len, max_len), enc, min_confidence)


def _rules_frame(rules: list[tuple], enc: _Encoded, min_confidence: float) -> pd.DataFrame:
    """The output frame from (consequent, antecedent codes, rule count, antecedent count, consequent count):
    the rules with a confidence of at least ``min_confidence`` (the one exact cut, on the counts)."""
    if not rules:
        return pd.DataFrame(columns=list(RULE_COLUMNS))
    m = len(rules)

    def column(k: int) -> np.ndarray:  # one field of every rule; much faster than zip(*rules)
        return np.fromiter(map(itemgetter(k), rules), dtype=np.int64, count=m)

    head, c_xy, c_x, c_y = column(0), column(2), column(3), column(4)
    bodies = list(map(itemgetter(1), rules))
    sizes = np.fromiter(map(len, bodies), dtype=np.int64, count=m)
    keep = c_xy / c_x + 1e-12 >= min_confidence
    n = enc.n
    support, confidence, s_x, s_y = c_xy / n, c_xy / c_x, c_x / n, c_y / n
    lift = confidence / s_y
    with np.errstate(divide="ignore", invalid="ignore"):  # confidence 1: inf, chosen below
        conviction = np.where(c_xy < c_x, (1 - s_y) / (1 - confidence), np.inf)

    # antecedent codes sorted within each rule, in one flat array
    row = np.repeat(np.arange(m, dtype=np.int64), sizes)
    flat = np.fromiter(itertools.chain.from_iterable(bodies), dtype=np.int64, count=int(sizes.sum()))
    flat = np.sort(row * len(enc.items) + flat) % len(enc.items)  # rows stay in place, codes sorted within each
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    # to sort rules on their antecedents: a row per rule with code + 1 at each position, 0 past the
    # end (so a prefix comes first)
    padded = np.zeros((m, max(int(sizes.max()), 1)), dtype=np.int32)
    padded[row, np.arange(len(flat)) - np.repeat(starts, sizes)] = flat + 1
    # np.lexsort sorts on its last key first: confidence, lift, support (descending), then the
    # antecedent's items in text order, then the consequent's
    order = np.lexsort([head, *padded.T[::-1], -support, -lift, -confidence])
    order = order[keep[order]]

    items = enc.items
    named = tuple(items[i] for i in flat.tolist())
    antecedents = np.empty(m, dtype=object)
    antecedents[:] = list(map(named.__getitem__, map(slice, starts.tolist(), (starts + sizes).tolist())))
    return pd.DataFrame(
        {
            "antecedents": antecedents[order],
            "consequent": [items[i] for i in head[order].tolist()],
            "support": support[order],
            "confidence": confidence[order],
            "lift": lift[order],
            "leverage": (support - s_x * s_y)[order],
            "conviction": conviction[order],
            "count": c_xy[order],
        }
    )


# ---------------------------------------------------------------------------
# baskets from the standard lines frame
# ---------------------------------------------------------------------------
def purchased_lines(lines: pd.DataFrame, orders: pd.DataFrame | None = None) -> pd.DataFrame:
    """The lines that are purchases: quantity > 0 (not returns) and, with ``orders``
    (``order_id``, ``total``, ``status``), of purchases only as :func:`.money.order_amounts`
    defines them (cancelled, pending and fully returned orders and credit notes are left out)."""
    require_columns(lines, ("order_id", "quantity"), "lines")
    ln = lines[pd.to_numeric(lines["quantity"], errors="coerce") > 0]
    if orders is not None:
        purchase = order_amounts(orders, lines if "unit_price" in lines.columns else None)["purchase"]
        ln = ln[ln["order_id"].isin(orders["order_id"].to_numpy()[purchase.to_numpy(dtype=bool)])]
    return ln


def _baskets_from_lines(lines: pd.DataFrame, item_col: str, orders: pd.DataFrame | None, basket: str) -> pd.DataFrame:
    if basket not in ("order", "customer"):
        raise ValueError("basket must be 'order' or 'customer'")
    key = "order_id" if basket == "order" else "customer_id"
    require_columns(lines, (key, item_col, "quantity", "order_id"), "lines")
    ln = purchased_lines(lines, orders)
    out = ln[[key, item_col]].dropna()
    out = out[out[item_col].ne("").to_numpy(dtype=bool)]  # a blank text (no category) is no item
    out = out.iloc[unique_pairs(out[key], out[item_col])]
    out.columns = ["basket_id", "item"]
    return out.reset_index(drop=True)


def product_baskets(
    lines: pd.DataFrame, orders: pd.DataFrame | None = None, item_col: str = "product_id", basket: str = "order"
) -> pd.DataFrame:
    """Long ``(basket_id, item)`` frame of products bought together.

    Takes the standard lines frame; lines with quantity <= 0 (returns) are
    dropped, and with ``orders`` given only lines of purchases are kept
    (see :func:`purchased_lines`).
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
