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


def test_baskets_from_lines() -> None:
    lines = pd.DataFrame(
        {
            "order_id": ["o1", "o1", "o1", "o2", "o3"],
            "customer_id": ["c1", "c1", "c1", "c2", "c2"],
            "product_id": ["p1", "p2", "p3", "p1", "p2"],
            "category": ["Coffee", "Coffee", "Tea", "Coffee", "Coffee"],
            "quantity": [1, 2, -1, 1, 1],
        }
    )
    orders = pd.DataFrame({"order_id": ["o1", "o2", "o3"], "status": ["paid", "paid", "cancelled"]})
    pb = product_baskets(lines, orders)
    assert sorted(map(tuple, pb.to_numpy())) == [("o1", "p1"), ("o1", "p2"), ("o2", "p1")]
    cb = category_baskets(lines, basket="customer")
    assert sorted(map(tuple, cb.to_numpy())) == [("c1", "Coffee"), ("c2", "Coffee")]
    with pytest.raises(ValueError, match="quantity"):
        product_baskets(lines.drop(columns="quantity"))


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


def test_groceries_rules_equal_pyfim(groceries_baskets: pd.DataFrame) -> None:
    """Cross-check every rule (not just the count) against Borgelt's own code."""
    fim = pytest.importorskip("fim", reason="pyfim is not installed (only needed for this cross-check)")
    transactions = groceries_baskets.groupby("basket_id")["item"].apply(list).tolist()
    # pyfim: supp and conf in percent; mode 'o' = arules' support definition (body and head)
    theirs = fim.arules(transactions, supp=0.1, conf=50, mode="o", report="sc")
    expected = {(frozenset(body), head): (supp, conf) for head, body, supp, conf in theirs}
    ours = association_rules_for(groceries_baskets, 0.001, 0.5)
    got = {(frozenset(r.antecedents), r.consequent): (r.support, r.confidence) for r in ours.itertuples()}
    assert got.keys() == expected.keys()
    for key, (supp, conf) in expected.items():
        assert got[key][0] == pytest.approx(supp, abs=1e-12)
        assert got[key][1] == pytest.approx(conf, abs=1e-12)
