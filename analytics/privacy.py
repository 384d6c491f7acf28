"""What analyses keep about a customer, for erasure and for a privacy data request's export.

Scores and segment memberships are figures derived from the purchase history, which an
erasure keeps (anonymised, ADR 0007 / 0009); what they copied from the person's profile goes:
the demographic features (age, gender, occupation, city, country) and the membership
reasons, which may quote them.
"""

from __future__ import annotations

from typing import Any

from analytics.models import CustomerScore, SegmentMembership
from shops.models import Shop

# The features customer_features copies from the profile (analytics.compute.features).
PERSONAL_FEATURES = ("age", "gender", "occupation", "city", "country")
_BATCH = 500


def derived_personal_data_erase(*, shop: Shop, customer_ids: list[int]) -> dict[str, int]:
    """Blank the personal features of these customers' scores in every run and the reasons of
    their segment memberships; returns how many rows changed."""
    changed: list[CustomerScore] = []
    scores = CustomerScore.objects.for_shop(shop).filter(customer_id__in=customer_ids).only("pk", "features")
    for score in scores.iterator(chunk_size=_BATCH):
        features = score.features if isinstance(score.features, dict) else {}
        if any(features.get(name) is not None for name in PERSONAL_FEATURES):
            score.features = {**features, **dict.fromkeys(PERSONAL_FEATURES)}
            changed.append(score)
    CustomerScore.unscoped.bulk_update(changed, ["features"], batch_size=_BATCH)
    reasons = (
        SegmentMembership.objects.for_shop(shop)
        .filter(customer_id__in=customer_ids)
        .exclude(reason="")
        .update(reason="")
    )
    return {"scores": len(changed), "memberships": reasons}


def customer_analytics_export(*, shop: Shop, customer_ids: list[int]) -> dict[str, Any]:
    """The scores and segment memberships of these customers, every run, as JSON-ready data."""
    scores = CustomerScore.objects.for_shop(shop).filter(customer_id__in=customer_ids).order_by("run_id", "pk")
    memberships = (
        SegmentMembership.objects.for_shop(shop)
        .filter(customer_id__in=customer_ids)
        .order_by("run_id", "pk")
        .values("customer_id", "run_id", "segment__key", "segment__name", "reason")
    )
    return {
        "scores": list(scores.values(*[f.attname for f in CustomerScore._meta.concrete_fields if f.name != "shop"])),
        "segment_memberships": list(memberships),
    }
