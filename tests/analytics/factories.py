"""Factories for analysis results: runs, segments, memberships, rules, forecasts and scores."""

from __future__ import annotations

from decimal import Decimal

import factory

from analytics.models import (
    AnalysisRun,
    AssociationRule,
    CustomerScore,
    Forecast,
    RunStatus,
    Segment,
    SegmentKind,
    SegmentMembership,
)
from tests.factories import CustomerFactory, ShopFactory, ShopOwnedFactory


class AnalysisRunFactory(ShopOwnedFactory):
    class Meta:
        model = AnalysisRun

    shop = factory.SubFactory(ShopFactory)
    status = RunStatus.DONE
    is_current = False
    trigger = "owner"
    summary = factory.LazyFunction(lambda: {"as_of": "2026-03-01T00:00:00+00:00"})


class SegmentFactory(ShopOwnedFactory):
    class Meta:
        model = Segment

    run = factory.SubFactory(AnalysisRunFactory, shop=factory.SelfAttribute("..shop"))
    shop = factory.SubFactory(ShopFactory)
    kind = SegmentKind.RFM
    key = "rfm:champions"
    name = "Champions"
    size = 0


class CustomSegmentFactory(SegmentFactory):
    run = None
    kind = SegmentKind.CUSTOM
    key = factory.Sequence(lambda n: f"custom:{n}")
    name = factory.Sequence(lambda n: f"Custom segment {n}")
    definition = factory.LazyFunction(lambda: {"field": "rfm_group", "cmp": "eq", "value": "Champions"})


class SegmentMembershipFactory(ShopOwnedFactory):
    class Meta:
        model = SegmentMembership

    segment = factory.SubFactory(SegmentFactory)
    shop = factory.SelfAttribute("segment.shop")
    run = factory.SelfAttribute("segment.run")
    customer = factory.SubFactory(CustomerFactory, shop=factory.SelfAttribute("..shop"))
    reason = "R5 F5 M5"


class RuleFactory(ShopOwnedFactory):
    class Meta:
        model = AssociationRule

    run = factory.SubFactory(AnalysisRunFactory, shop=factory.SelfAttribute("..shop"))
    shop = factory.SubFactory(ShopFactory)
    level = "category"
    antecedents = factory.LazyFunction(lambda: ["Coffee"])
    antecedent_labels = factory.LazyFunction(lambda: ["Coffee"])
    consequent = "Mugs"
    consequent_label = "Mugs"
    support = 0.1
    confidence = 0.5
    lift = 2.0
    leverage = 0.05
    conviction = 1.5


class ForecastFactory(ShopOwnedFactory):
    class Meta:
        model = Forecast

    run = factory.SubFactory(AnalysisRunFactory, shop=factory.SelfAttribute("..shop"))
    shop = factory.SubFactory(ShopFactory)
    metric = "revenue"
    freq = "D"
    model_name = "ets_additive_seasonal"
    backtest = factory.LazyFunction(lambda: {"mase": 0.9})
    naive_backtest = factory.LazyFunction(lambda: {"mase": 1.0})
    history = factory.LazyFunction(list)
    points = factory.LazyFunction(list)


class CustomerScoreFactory(ShopOwnedFactory):
    class Meta:
        model = CustomerScore

    run = factory.SubFactory(AnalysisRunFactory, shop=factory.SelfAttribute("..shop"))
    shop = factory.SubFactory(ShopFactory)
    customer = factory.SubFactory(CustomerFactory, shop=factory.SelfAttribute("..shop"))
    frequency = 1
    monetary = Decimal("10.00")
    rfm_group = "Champions"


def current_run(shop) -> AnalysisRun:
    """The shop's current run (made if it has none)."""
    return AnalysisRun.unscoped.filter(shop=shop, is_current=True).first() or AnalysisRunFactory(
        shop=shop, is_current=True
    )
