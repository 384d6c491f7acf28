from django import template
from django.template.defaultfilters import floatformat

register = template.Library()


@register.filter
def percent(value, digits: int = 1) -> str:
    """0.1234 -> "12.3%"; "—" for None. Signed values keep their sign ("+1.5 pp" is for the caller)."""
    if value is None or value == "":
        return "—"
    return f"{floatformat(float(value) * 100, digits)}%"
