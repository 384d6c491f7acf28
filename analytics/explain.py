"""Plain-language words for the analysis results, in every shipped language.

The compute layer writes English sentences (it imports no Django, so no gettext); the pages
rebuild those sentences here from the structured parts the run stores (segment facts,
feature names, RFM group names), so a shop owner reading Chinese reads Chinese.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.formats import number_format
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.compute.clv import CHURN_HIGH_FROM, CHURN_MEDIUM_ABOVE
from analytics.compute.pipeline import NOISE_KEY
from analytics.segments import COMPARISONS, FIELDS


@dataclass(frozen=True)
class GroupText:
    who: Promise  # who is in the group
    action: Promise  # what to do about them


# The standard RFM groups (analytics.compute.rfm.SEGMENTS), as stored in CustomerScore.rfm_group.
RFM_GROUPS: dict[str, GroupText] = {
    "Champions": GroupText(
        gettext_lazy("Bought recently, buy often and spend the most."),
        gettext_lazy("Reward them: early access to new products, a thank-you note, ask for a review."),
    ),
    "Loyal": GroupText(
        gettext_lazy("Buy regularly and spend well; they respond to offers."),
        gettext_lazy("Offer a loyalty programme or a higher-value product they have not tried."),
    ),
    "Potential loyalist": GroupText(
        gettext_lazy("Recent customers who have bought more than once; they could become loyal."),
        gettext_lazy("Recommend related products and offer a membership or subscription."),
    ),
    "New": GroupText(
        gettext_lazy("Bought for the first time very recently."),
        gettext_lazy("Welcome them, help them get started and make the second order easy."),
    ),
    "Promising": GroupText(
        gettext_lazy("Recent buyers who have not spent much yet."),
        gettext_lazy("Build awareness of the range: a small offer on a second category."),
    ),
    "Need attention": GroupText(
        gettext_lazy("Average recency, frequency and spend; they may slip away without a reason to return."),
        gettext_lazy("Send a limited-time offer based on what they bought before."),
    ),
    "About to sleep": GroupText(
        gettext_lazy("Have not bought for a while and did not buy much; likely to drift away."),
        gettext_lazy("Remind them with popular products and a modest discount."),
    ),
    "At risk": GroupText(
        gettext_lazy("Used to buy often and spend well, but not for a long time."),
        gettext_lazy("Win them back with a personal email and a strong offer on what they liked."),
    ),
    "Cannot lose them": GroupText(
        gettext_lazy("Were among your biggest customers, but have not returned for a long time."),
        gettext_lazy("Contact them personally; ask what changed and offer something generous."),
    ),
    "Hibernating": GroupText(
        gettext_lazy("Last bought long ago, rarely and for little."),
        gettext_lazy("Include them in general campaigns only; do not spend much on them."),
    ),
    "Lost": GroupText(
        gettext_lazy("Lowest recency, frequency and spend: they have most likely gone."),
        gettext_lazy("Try one reactivation campaign, then leave them out of regular mailings."),
    ),
}

# The group names as words of the active language (the runs store the English names).
RFM_GROUP_NAMES: dict[str, Promise] = {
    "Champions": gettext_lazy("Champions"),
    "Loyal": gettext_lazy("Loyal"),
    "Potential loyalist": gettext_lazy("Potential loyalist"),
    "New": gettext_lazy("New"),
    "Promising": gettext_lazy("Promising"),
    "Need attention": gettext_lazy("Need attention"),
    "About to sleep": gettext_lazy("About to sleep"),
    "At risk": gettext_lazy("At risk"),
    "Cannot lose them": gettext_lazy("Cannot lose them"),
    "Hibernating": gettext_lazy("Hibernating"),
    "Lost": gettext_lazy("Lost"),
}

OUTLIERS_TEXT = GroupText(
    gettext_lazy(
        "Customers unlike everyone else, for example wholesalers or one very large order; "
        "kept out of the clusters so they do not distort them."
    ),
    gettext_lazy("Look at them one by one: some deserve a personal relationship, some are data errors."),
)
# HDBSCAN's noise (segment key NOISE_KEY): customers in no dense group, stored with the outliers' kind.
NOISE_TEXT = GroupText(
    gettext_lazy("Customers the density-based clustering placed in no group: they sit between the clusters."),
    gettext_lazy("Reach them through the RFM groups, or run the analysis with k-means to place everyone."),
)


def outliers_text(segment: Any) -> GroupText:
    return NOISE_TEXT if segment.key == NOISE_KEY else OUTLIERS_TEXT


CHURN_RISK = {
    "low": gettext_lazy("low"),
    "medium": gettext_lazy("medium"),
    "high": gettext_lazy("high"),
    "": gettext_lazy("unknown"),
}


def _churn_help() -> str:
    """The churn risk's definition, with the bands of compute/clv.py."""
    return _(
        "Churn risk: the chance that they have stopped, 100%% minus the chance still active "
        "(high from %(high)d%%: as likely gone as not; medium above %(medium)d%%; low otherwise)."
    ) % {"high": round(CHURN_HIGH_FROM * 100), "medium": round(CHURN_MEDIUM_ABOVE * 100)}


# One sentence per prediction of the profile (analytics/compute/clv.py derives them all from one
# purchase model, so they cannot contradict each other). Shown as help beside each figure.
PREDICTION_HELP: dict[str, Promise] = {
    "p_alive": gettext_lazy(
        "Chance still active: the model's probability that this customer has not stopped buying from you, "
        "given how often and how recently they bought."
    ),
    "churn": lazy(_churn_help, str)(),  # translated when shown, in the reader's language
    "expected_purchases": gettext_lazy(
        "Expected purchases: how many days with a purchase the model expects from them in the next 12 months, "
        "allowing for the chance that they have stopped."
    ),
    "next_order": gettext_lazy(
        "Expected next order: the date by which they have more likely than not ordered again; "
        "none when that does not happen within the next 12 months."
    ),
    "clv": gettext_lazy(
        "Predicted value: expected purchases in the next 12 months times the expected spend per purchase."
    ),
}

# Why the lifetime-value predictions of a run come from the simpler estimate (CLVResult.fallback).
CLV_FALLBACK: dict[str, Promise] = {
    "degenerate_fit": gettext_lazy(
        "The purchase model did not fit this shop's data (its estimate ran to the edge of what it allows), "
        "so these predictions come from a simpler estimate: each customer's own purchase rate, shrunk towards "
        "the shop's. It cannot tell who has stopped buying, so there is no chance still active or next order."
    ),
    "holdout_no_better": gettext_lazy(
        "The purchase model predicted the last weeks no better than a naive rate, so these predictions come "
        "from a simpler estimate: each customer's own purchase rate, shrunk towards the shop's. It cannot tell "
        "who has stopped buying, so there is no chance still active or next order."
    ),
}

# Profile features shown on the customer page and compared on the segment page.
FEATURE_LABELS: dict[str, Promise] = {
    "recency_days": gettext_lazy("Days since last purchase"),
    "frequency": gettext_lazy("Purchase days"),
    "orders": gettext_lazy("Purchase orders"),
    "monetary": gettext_lazy("Net spend"),
    "gross_sales": gettext_lazy("Gross sales"),
    "returns_value": gettext_lazy("Value returned"),
    "avg_order_value": gettext_lazy("Average order value"),
    "mean_days_between_orders": gettext_lazy("Days between orders"),
    "return_rate": gettext_lazy("Return rate"),
    "tenure_days": gettext_lazy("Days as a customer"),
    "browsing_seconds": gettext_lazy("Time browsing (seconds)"),
    "page_views": gettext_lazy("Page views"),
    "searches": gettext_lazy("Searches"),
    "add_to_carts": gettext_lazy("Added to cart"),
    "top_category": gettext_lazy("Favourite category"),
    "top_category_share": gettext_lazy("Share of spend in favourite category"),
    "top_brand": gettext_lazy("Favourite brand"),
    "top_brand_share": gettext_lazy("Share of spend on favourite brand"),
    "preferred_weekday": gettext_lazy("Preferred weekday"),
    "preferred_hour": gettext_lazy("Preferred hour"),
    "review_sentiment": gettext_lazy("Review sentiment"),
    "reviews": gettext_lazy("Reviews written"),
    "age": gettext_lazy("Age"),
    "gender": gettext_lazy("Gender"),
    "occupation": gettext_lazy("Occupation"),
    "city": gettext_lazy("City"),
    "country": gettext_lazy("Country"),
}
PERSONAL_FEATURES = ("age", "gender", "occupation", "city", "country")
BEHAVIOUR_FEATURES = (
    "recency_days",
    "frequency",
    "orders",
    "monetary",
    "avg_order_value",
    "mean_days_between_orders",
    "return_rate",
    "tenure_days",
    "browsing_seconds",
    "page_views",
    "searches",
    "add_to_carts",
)
PREFERENCE_FEATURES = (
    "top_category",
    "top_category_share",
    "top_brand",
    "top_brand_share",
    "preferred_weekday",
    "preferred_hour",
    "review_sentiment",
    "reviews",
)
# Numeric features a segment is compared on (the ones cluster centres carry).
COMPARED_FEATURES = (
    "recency_days",
    "frequency",
    "monetary",
    "avg_order_value",
    "mean_days_between_orders",
    "return_rate",
    "tenure_days",
    "browsing_seconds",
    "searches",
    "age",
)
MONEY_FEATURES = {"monetary", "gross_sales", "returns_value", "avg_order_value"}
SHARE_FEATURES = {"return_rate", "top_category_share", "top_brand_share"}

WEEKDAYS = (
    gettext_lazy("Monday"),
    gettext_lazy("Tuesday"),
    gettext_lazy("Wednesday"),
    gettext_lazy("Thursday"),
    gettext_lazy("Friday"),
    gettext_lazy("Saturday"),
    gettext_lazy("Sunday"),
)

CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$", "CNY": "¥", "JPY": "¥", "AUD": "A$", "CAD": "C$"}


def format_money(amount: Any, currency: str = "") -> str:
    """1234.5, "GBP" -> "£1,234.50" with the active language's separators (whole units from 10,000)."""
    value = Decimal(str(amount))
    digits = 0 if abs(value) >= 10000 else 2
    text = number_format(round(value, digits), digits, force_grouping=True)
    symbol = CURRENCY_SYMBOLS.get(currency)
    if symbol:
        return f"-{symbol}{text[1:]}" if text.startswith("-") else f"{symbol}{text}"
    return f"{text} {currency}".strip()


def _num(value: float, digits: int = 1) -> str:
    return number_format(round(float(value), digits), digits if abs(float(value)) < 10 else 0, force_grouping=True)


def feature_label(feature: str) -> str:
    return str(FEATURE_LABELS.get(feature, feature.replace("_", " ")))


def rfm_group_name(group: str) -> str:
    return str(RFM_GROUP_NAMES.get(group, group))


def segment_name(segment: Any) -> str:
    """A segment's name in the active language: RFM groups, cluster names ("Lapsed one-time buyers")
    and "Outliers" are translated, custom segments keep the name the owner gave them."""
    kind, name = segment.kind, segment.name
    if kind == "rfm":
        return rfm_group_name(name)
    if kind == "cluster":
        from analytics import explain_clusters

        return explain_clusters.cluster_segment_name(segment)
    if kind == "outliers":
        return _("No clear group") if segment.key == NOISE_KEY else _("Outliers")
    return name


def rfm_text(group: str) -> GroupText | None:
    return RFM_GROUPS.get(group)


def definition_text(definition: dict[str, Any]) -> str:
    """A custom segment's condition tree as a sentence ("RFM group is At risk and …")."""
    if not isinstance(definition, dict):
        return ""
    if "conditions" in definition:
        joiner = _(" and ") if definition.get("op", "and") == "and" else _(" or ")
        parts = []
        for child in definition.get("conditions") or []:
            text = definition_text(child)
            parts.append(f"({text})" if isinstance(child, dict) and "conditions" in child else text)
        return joiner.join(p for p in parts if p)
    spec = FIELDS.get(definition.get("field", ""))
    cmp = COMPARISONS.get(definition.get("cmp", "eq"))
    if spec is None or cmp is None:
        return ""
    value = definition.get("value")
    if spec.kind == "bool":
        value = _("yes") if str(value).lower() in {"true", "1", "yes"} else _("no")
    return f"{spec.label} {cmp[1]} {value}"
