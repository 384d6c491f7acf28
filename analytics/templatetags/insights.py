"""Template filters and tags of the owner's pages: money, percentages, changes, translated names, query strings."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from analytics import explain

register = template.Library()


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


@register.filter
def money(value: Any, currency: str = "") -> str:
    """1234.5, "GBP" -> "£1,234.50" with the active language's separators; "—" for no value."""
    amount = _decimal(value)
    return "—" if amount is None else explain.format_money(amount, currency)


@register.filter
def number(value: Any, digits: int = 0) -> str:
    amount = _decimal(value)
    if amount is None:
        return "—"
    return number_format(round(amount, int(digits)), int(digits), force_grouping=True)


@register.filter
def num_auto(value: Any) -> str:
    """A number with one decimal, or none when it is whole (38.0 -> "38", 12.46 -> "12.5")."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    digits = 0 if amount == amount.to_integral_value() else 1
    return number_format(round(amount, digits), digits, force_grouping=True)


@register.filter
def pct(value: Any, digits: int = 0) -> str:
    """0.4567 -> "46%" (a share given as a fraction)."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    return number_format(round(amount * 100, int(digits)), int(digits), force_grouping=True) + "%"


@register.filter
def width_class(value: Any, whole: Any = 1) -> str:
    """The CSS class that draws `value` out of `whole` as a bar: 0.42 -> "w-42", (37, 100) -> "w-37".

    The pages' Content-Security-Policy forbids style attributes, so a bar's width is one of the
    101 classes w-0 ... w-100 of app.css (whole percents), clamped to that range.
    """
    amount, total = _decimal(value), _decimal(whole)
    if amount is None or not total:
        return "w-0"
    return f"w-{min(max(int(round(amount * 100 / total)), 0), 100)}"


@register.filter
def signed_pct(value: Any, digits: int = 0) -> str:
    """0.12 -> "+12%", -0.05 -> "−5%"."""
    amount = _decimal(value)
    if amount is None:
        return ""
    text = number_format(round(abs(amount) * 100, int(digits)), int(digits), force_grouping=True)
    return ("+" if amount >= 0 else "−") + text + "%"


@register.filter
def signed(value: Any) -> str:
    amount = _decimal(value)
    if amount is None:
        return ""
    text = number_format(abs(amount), 0, force_grouping=True)
    return ("+" if amount >= 0 else "−") + text


@register.filter
def segment_name(segment: Any) -> str:
    return explain.segment_name(segment) if segment is not None else ""


@register.filter
def rfm_name(group: str) -> str:
    return explain.rfm_group_name(group) if group else "—"


@register.filter
def churn_label(risk: str) -> str:
    return str(explain.CHURN_RISK.get(risk or "", risk))


@register.filter
def step_label(step: str) -> str:
    labels = {
        "loading": _("loading data"),
        "load": _("loading data"),
        "features": _("customer profiles"),
        "rfm": _("RFM groups"),
        "clusters": _("clusters"),
        "clv": _("lifetime value"),
        "rules": _("association rules"),
        "forecast": _("forecasts"),
        "saving": _("saving results"),
        "save": _("saving results"),
        "done": _("done"),
    }
    return labels.get(step, step)


@register.filter
def trigger_label(trigger: str) -> str:
    labels = {
        "owner": _("by hand"),
        "import": _("after an import"),
        "sync": _("after a sync"),
        "nightly": _("nightly"),
        "command": _("command line"),
        "demo": _("after demo data"),
    }
    return labels.get(trigger, trigger)


@register.simple_tag(takes_context=True)
def query(context: dict, **changes: Any) -> str:
    """The current query string with some parameters changed ("" removes one); starts with "?"."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.inclusion_tag("partials/change.html")
def change(kpi: Any) -> dict[str, Any]:
    """The arrow and text for a figure's change against the previous period."""
    return {"kpi": kpi}
