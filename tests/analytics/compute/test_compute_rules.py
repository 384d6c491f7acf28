from __future__ import annotations

import math

import pandas as pd
import pytest

from analytics.compute.rules import (
    association_rules_for,
    category_baskets,
    next_best_offers,
    product_baskets,
)


def _long(baskets: list[list[str]]) -> pd.DataFrame:
    return pd.DataFrame([(i, item) for i, b in enumerate(baskets) for item in b], columns=["basket_id", "item"])


TOY = _long(
    [
        ["bread", "milk"],
        ["bread", "butter", "milk"],
        ["bread", "butter"],
        ["milk", "coffee"],
        ["bread", "butter", "milk", "coffee"],
    ]
)


def test_toy_rules_by_hand() -> None:
    rules = association_rules_for(TOY, min_support=0.4, min_confidence=0.7)
    by_rule = {(r.antecedents, r.consequent): r for r in rules.itertuples()}
    # bread in 4 of 5 baskets, butter in 3, both in 3: butter => bread has confidence 1
    r = by_rule[(("butter",), "bread")]
    assert r.support == pytest.approx(0.6)
    assert r.confidence == pytest.approx(1.0)
    assert r.lift == pytest.approx(1.0 / 0.8)
    assert r.leverage == pytest.approx(0.6 - 0.6 * 0.8)
    assert math.isinf(r.conviction)
    # bread => butter: 3/4 = 0.75 >= 0.7
    assert by_rule[(("bread",), "butter")].confidence == pytest.approx(0.75)
    # {} => bread (support 0.8 >= confidence 0.7), like arules with minlen=1
    assert by_rule[((), "bread")].confidence == pytest.approx(0.8)
    assert all(isinstance(c, str) for c in rules["consequent"])  # one item on the right
    assert ((), "bread") not in {
        (r.antecedents, r.consequent) for r in association_rules_for(TOY, 0.4, 0.7, min_len=2).itertuples()
    }
    # sorted by confidence, deterministic
    assert rules["confidence"].is_monotonic_decreasing
    pd.testing.assert_frame_equal(rules, association_rules_for(TOY, 0.4, 0.7))


def test_confidence_exactly_at_threshold_is_kept() -> None:
    # a in 5 baskets, a and b in 4: a => b has confidence exactly 0.8 (computed on counts)
    baskets = _long([["a", "b"]] * 4 + [["a"]])
    rules = {(r.antecedents, r.consequent) for r in association_rules_for(baskets, 0.1, 0.8, min_len=2).itertuples()}
    assert rules == {(("a",), "b"), (("b",), "a")}
    rules = {(r.antecedents, r.consequent) for r in association_rules_for(baskets, 0.1, 0.81, min_len=2).itertuples()}
    assert rules == {(("b",), "a")}


def test_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="baskets is missing required column.*item"):
        association_rules_for(TOY.rename(columns={"item": "product"}), 0.1, 0.5)
    with pytest.raises(ValueError, match="min_support"):
        association_rules_for(TOY, 0.0, 0.5)
    with pytest.raises(ValueError, match="min_confidence"):
        association_rules_for(TOY, 0.1, 1.5)
    with pytest.raises(ValueError, match="algorithm"):
        association_rules_for(TOY, 0.1, 0.5, algorithm="eclat")
    with pytest.raises(ValueError, match="customer_items"):
        next_best_offers(association_rules_for(TOY, 0.2, 0.5), ["bread"])


def test_next_best_offers() -> None:
    rules = association_rules_for(TOY, 0.2, 0.5, min_len=2)
    offers = next_best_offers(rules, {"ann": ["butter"], "bob": ["bread", "butter", "milk", "coffee"]}, top_n=2)
    ann = offers[offers["customer_id"] == "ann"]
    assert ann["item"].iloc[0] == "bread"  # butter => bread, confidence 1
    assert ann["because"].iloc[0] == ("butter",)
    assert "butter" not in set(ann["item"])  # never offer what the customer has
    assert len(ann) <= 2 and ann["rank"].tolist() == list(range(1, len(ann) + 1))
    assert "bob" not in set(offers["customer_id"])  # bob has everything
    frame = pd.DataFrame({"customer_id": ["ann"], "item": ["butter"]})
    pd.testing.assert_frame_equal(ann.reset_index(drop=True), next_best_offers(rules, frame, top_n=2))


def test_baskets_from_lines_keep_purchases_only() -> None:
    # the frames the selectors build: product ids are integers, texts are categorical with
    # "" for a product without a category; the money convention of ADR 0007 for the orders
    lines = pd.DataFrame(
        {
            "order_id": [1, 1, 1, 2, 3, 4, 5, 6, 6],
            "customer_id": [10, 10, 10, 20, 20, 20, 30, 30, 30],
            "product_id": [101, 102, 103, 101, 102, 101, 101, 104, 101],
            "category": pd.Categorical(
                ["Coffee", "Coffee", "Tea", "Coffee", "Coffee", "Coffee", "Coffee", "", "Coffee"]
            ),
            "quantity": [1, 2, -1, 1, 1, -1, 1, 1, -1],
            "unit_price": [5.0, 4.0, 3.0, 5.0, 4.0, 5.0, 5.0, 2.0, 5.0],
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": [1, 2, 3, 4, 5, 6],
            # 3 cancelled, 4 a credit note, 5 a sale returned in full; 6 a sale partly refunded
            "status": ["paid", "paid", "cancelled", "returned", "returned", "paid"],
            "total": [13.0, 5.0, 4.0, -5.0, 5.0, 7.0],
        }
    )
    pb = product_baskets(lines, orders)
    assert sorted(map(tuple, pb.to_numpy().tolist())) == [(1, 101), (1, 102), (2, 101), (6, 104)]
    cb = category_baskets(lines, orders)  # product 104 has no category: no item
    assert sorted(map(tuple, cb.to_numpy().tolist())) == [(1, "Coffee"), (2, "Coffee")]
    cb = category_baskets(lines, basket="customer")
    assert sorted(map(tuple, cb.to_numpy().tolist())) == [(10, "Coffee"), (20, "Coffee"), (30, "Coffee")]
    with pytest.raises(ValueError, match="quantity"):
        product_baskets(lines.drop(columns="quantity"))
    with pytest.raises(ValueError, match="total"):
        product_baskets(lines, orders.drop(columns="total"))


def test_empty_antecedent_counts_every_basket() -> None:
    # 10 baskets, "a" in 6; the other 4 hold only rare items, below the support threshold
    baskets = _long([["a", "b"]] * 3 + [["a"]] * 3 + [["x"], ["y"], ["z"], ["w"]])
    rules = association_rules_for(baskets, 0.3, 0.5)
    by_rule = {(r.antecedents, r.consequent): r for r in rules.itertuples()}
    assert by_rule[((), "a")].confidence == pytest.approx(0.6)  # 6 of 10, not 6 of the 6 mined
    assert by_rule[((), "a")].count == 6
    assert ((), "b") not in by_rule  # 3 of 10 < 0.5
    assert by_rule[(("b",), "a")].lift == pytest.approx(1 / 0.6)


def test_max_len_bounds_the_whole_rule() -> None:
    baskets = _long([["a", "b", "c", "d"]] * 4 + [["a", "b"]] * 2)
    unlimited = association_rules_for(baskets, 0.5, 0.5, min_len=2)
    assert unlimited["antecedents"].map(len).max() == 3  # {a, b, c} => d: no limit by default
    # a and b are in every basket: pyfim alone would leave a => b out
    assert {(("a",), "b"), (("b",), "a")} <= {(r.antecedents, r.consequent) for r in unlimited.itertuples()}
    for algorithm in ("fpgrowth", "apriori"):
        two = association_rules_for(baskets, 0.5, 0.5, algorithm=algorithm, max_len=2, min_len=2)
        assert set(two["antecedents"].map(len)) == {1}
        pd.testing.assert_frame_equal(
            two, unlimited[unlimited["antecedents"].map(len) == 1].reset_index(drop=True), check_dtype=False
        )
    assert association_rules_for(baskets, 0.5, 0.5, max_len=1, min_len=2).empty
    with pytest.raises(ValueError, match="max_len"):
        association_rules_for(baskets, 0.5, 0.5, max_len=0)


def test_order_does_not_depend_on_the_order_of_the_rows() -> None:
    rows = TOY.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(association_rules_for(rows, 0.2, 0.3), association_rules_for(TOY, 0.2, 0.3))
    # integer items (product ids) stay integers: the services store them as text, offers look them up
    ints = TOY.assign(item=TOY["item"].map({"bread": 11, "milk": 7, "butter": 30, "coffee": 2}))
    rules = association_rules_for(ints, 0.4, 0.7, min_len=2)
    assert rules["consequent"].map(type).eq(int).all()
    assert {(r.antecedents, r.consequent) for r in rules.itertuples()} >= {((30,), 11)}


# --- Groceries: agree with R arules ------------------------------------------------------


def test_groceries_shape(groceries_baskets: pd.DataFrame) -> None:
    assert groceries_baskets["basket_id"].nunique() == 9835
    assert groceries_baskets["item"].nunique() == 169


@pytest.mark.parametrize(("confidence", "published"), [(0.8, 410), (0.5, 5668)])
def test_groceries_rule_counts_match_arules(groceries_baskets: pd.DataFrame, confidence: float, published: int) -> None:
    # Counts printed by R arules (Hahsler et al.; Borgelt's Apriori) for its Groceries data,
    # as quoted in the arules documentation and the many tutorials built on it:
    # apriori(Groceries, parameter = list(supp = 0.001, conf = 0.8)) -> "set of 410 rules";
    # apriori(Groceries, parameter = list(supp = 0.001, conf = 0.5)) -> "set of 5668 rules".
    # pyfim 6.28 (Borgelt's own code, mode='o') gives the same two counts.
    rules = association_rules_for(groceries_baskets, min_support=0.001, min_confidence=confidence)
    assert len(rules) == published
    assert (rules["support"] >= 0.001).all() and (rules["confidence"] >= confidence).all()


def test_groceries_apriori_equals_fpgrowth(groceries_baskets: pd.DataFrame) -> None:
    a = association_rules_for(groceries_baskets, 0.005, 0.3, algorithm="apriori")
    f = association_rules_for(groceries_baskets, 0.005, 0.3, algorithm="fpgrowth")
    assert len(a) > 100
    pd.testing.assert_frame_equal(a, f)


@pytest.mark.parametrize("algorithm", ["fpgrowth", "apriori"])
def test_groceries_rules_equal_pyfim(groceries_baskets: pd.DataFrame, algorithm: str) -> None:
    """Every rule (not just the count) against Borgelt's own code, called directly; apriori
    (mlxtend's itemsets, our rule generation) is an engine independent of pyfim."""
    fim = pytest.importorskip("fim", reason="pyfim is not installed")
    transactions = groceries_baskets.groupby("basket_id")["item"].apply(list).tolist()
    # pyfim: supp and conf in percent; mode 'o' = arules' support definition (body and head)
    theirs = fim.arules(transactions, supp=0.1, conf=50, mode="o", report="scl")
    expected = {(frozenset(body), head): values for head, body, *values in theirs}
    assert len(expected) == 5668
    ours = association_rules_for(groceries_baskets, 0.001, 0.5, algorithm=algorithm)
    got = {(frozenset(r.antecedents), r.consequent): (r.support, r.confidence, r.lift) for r in ours.itertuples()}
    assert got.keys() == expected.keys()
    for key, (supp, conf, lift) in expected.items():
        assert got[key] == pytest.approx((supp, conf, lift), rel=1e-9)


def test_groceries_measures_equal_mlxtend(groceries_baskets: pd.DataFrame) -> None:
    """Lift, leverage and conviction against mlxtend's own association_rules (single consequents)."""
    from mlxtend.frequent_patterns import association_rules, fpgrowth
    from mlxtend.preprocessing import TransactionEncoder

    transactions = groceries_baskets.groupby("basket_id")["item"].apply(list).tolist()
    encoder = TransactionEncoder()
    onehot = pd.DataFrame(encoder.fit_transform(transactions), columns=encoder.columns_)
    theirs = association_rules(fpgrowth(onehot, min_support=0.005, use_colnames=True), min_threshold=0.3)
    theirs = theirs[theirs["consequents"].map(len) == 1]
    ours = association_rules_for(groceries_baskets, 0.005, 0.3, min_len=2)
    assert len(ours) == len(theirs) > 100
    by_rule = {(frozenset(r.antecedents), r.consequent): r for r in ours.itertuples()}
    for row in theirs.itertuples():
        mine = by_rule[(frozenset(row.antecedents), next(iter(row.consequents)))]
        assert (mine.support, mine.confidence, mine.lift, mine.leverage) == pytest.approx(
            (row.support, row.confidence, row.lift, row.leverage), rel=1e-9
        )
        assert mine.conviction == pytest.approx(row.conviction, rel=1e-9) or math.isinf(mine.conviction)
