"""Campaign messages: the owner's templates rendered in a sandbox, per customer.

The owner writes a subject and a plain-text body in Django template syntax with a fixed
set of placeholders ({{ first_name }}, {% for product in recommended_products %} ...).
They are rendered by a separate Engine whose only builtins are campaigns.sandbox (if, for,
a few text filters): no {% load %}, no {% include %}, no access to files or settings, and
the context is plain strings and lists. The rendered text becomes the text/plain part; the
text/html part is that text escaped, with its links passed through the click tracker, plus
the footer (unsubscribe link, the shop's postal address) and the open pixel.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import FilterExpression, NodeList, Variable, VariableNode
from django.template.defaulttags import CommentNode, ForNode, IfNode
from django.template.loader import render_to_string
from django.utils.crypto import salted_hmac
from django.utils.html import escape
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from campaigns.models import Campaign, CodeMode, OfferType

MAX_SUBJECT_CHARS = 300
MAX_BODY_CHARS = 20_000
MAX_LOOP_DEPTH = 2

# Placeholder -> what it holds (shown beside the form).
PLACEHOLDERS = {
    "first_name": gettext_lazy('the customer\'s first name (may be empty: {{ first_name|default:"there" }})'),
    "last_name": gettext_lazy("the customer's last name"),
    "shop_name": gettext_lazy("your shop's name"),
    "favourite_category": gettext_lazy("the category they spend most on"),
    "recommended_products": gettext_lazy("up to 3 product titles picked for them (a list)"),
    "recommended_product": gettext_lazy("the first of those products"),
    "discount_code": gettext_lazy("their discount code"),
    "offer": gettext_lazy("the offer in words, e.g. “15% off”"),
}
LOOP_NAMES = {"forloop"}


class SandboxEngine(Engine):
    default_builtins = ["campaigns.sandbox"]


ENGINE = SandboxEngine(debug=False, autoescape=False, string_if_invalid="", libraries={}, loaders=[])


class TemplateProblem(ValueError):
    """A subject or body that cannot be used; `field` is the model field, `message` says why."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@functools.lru_cache(maxsize=256)
def _compile(source: str):
    return ENGINE.from_string(source)


def _expression_names(expression: FilterExpression) -> set[str]:
    names = set()
    if isinstance(expression.var, Variable) and expression.var.lookups:
        names.add(expression.var.lookups[0])
    for _func, args in expression.filters:
        for is_lookup, arg in args:
            if is_lookup and isinstance(arg, Variable) and arg.lookups:
                names.add(arg.lookups[0])
    return names


def _condition_names(condition) -> set[str]:
    names = set()
    value = getattr(condition, "value", None)
    if isinstance(value, FilterExpression):
        names |= _expression_names(value)
    for part in ("first", "second"):
        child = getattr(condition, part, None)
        if child is not None:
            names |= _condition_names(child)
    return names


def _used_names(nodelist: NodeList, bound: frozenset[str], depth: int, field: str) -> list[str]:
    """Names the template reads that are not placeholders or loop variables, in order of appearance."""
    unknown: list[str] = []

    def check(names: set[str], scope: frozenset[str]) -> None:
        unknown.extend(sorted(n for n in names if n not in PLACEHOLDERS and n not in scope and n not in unknown))

    for node in nodelist:
        if isinstance(node, VariableNode):
            check(_expression_names(node.filter_expression), bound)
        elif isinstance(node, IfNode):
            for condition, branch in node.conditions_nodelists:
                if condition is not None:
                    check(_condition_names(condition), bound)
                unknown += [n for n in _used_names(branch, bound, depth, field) if n not in unknown]
        elif isinstance(node, ForNode):
            check(_expression_names(node.sequence), bound)
            if depth >= MAX_LOOP_DEPTH:
                raise TemplateProblem(field, _("Loops can be nested at most %(n)s deep.") % {"n": MAX_LOOP_DEPTH})
            inner = bound | frozenset(node.loopvars) | LOOP_NAMES
            unknown += [n for n in _used_names(node.nodelist_loop, inner, depth + 1, field) if n not in unknown]
            unknown += [n for n in _used_names(node.nodelist_empty, bound, depth, field) if n not in unknown]
        elif not isinstance(node, CommentNode):
            for attr in node.child_nodelists:
                child = getattr(node, attr, None)
                if child:
                    unknown += [n for n in _used_names(child, bound, depth, field) if n not in unknown]
    return unknown


_FORBIDDEN_TAG = re.compile(r"{%-?\s*(load|include|extends|block|url|csrf_token|debug|now|ssi|templatetag)\b")


def _validate_one(source: str, *, field: str, label: str) -> None:
    forbidden = _FORBIDDEN_TAG.search(source)
    if forbidden:
        raise TemplateProblem(
            field,
            _("%(label)s: “{%% %(tag)s %%}” is not allowed in campaign messages; use placeholders, if and for.")
            % {"label": label, "tag": forbidden.group(1)},
        )
    try:
        template = _compile(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(field, _("%(label)s: %(error)s") % {"label": label, "error": exc}) from None
    unknown = _used_names(template.nodelist, frozenset(), 0, field)
    if unknown:
        raise TemplateProblem(
            field,
            _("%(label)s: unknown placeholder “%(name)s”. Use one of: %(known)s.")
            % {"label": label, "name": unknown[0], "known": ", ".join(sorted(PLACEHOLDERS))},
        )


def validate_templates(*, subject: str, body: str) -> None:
    """Raise TemplateProblem (naming the field and the placeholder) unless both templates are usable."""
    if not subject.strip():
        raise TemplateProblem("subject_template", _("Give a subject."))
    if len(subject) > MAX_SUBJECT_CHARS:
        raise TemplateProblem("subject_template", _("The subject is longer than %(n)s characters.") % {"n": 300})
    if not body.strip():
        raise TemplateProblem("body_template", _("Write the message."))
    if len(body) > MAX_BODY_CHARS:
        raise TemplateProblem("body_template", _("The message is longer than %(n)s characters.") % {"n": 20000})
    _validate_one(subject, field="subject_template", label=_("Subject"))
    _validate_one(body, field="body_template", label=_("Message"))


# --------------------------------------------------------------------------- offers and codes


def _plain_number(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def offer_text(*, campaign: Campaign, currency: str) -> str:
    value = campaign.offer_value
    if campaign.offer_type == OfferType.PERCENT_OFF and value is not None:
        return _("%(value)s%% off") % {"value": _plain_number(value)}
    if campaign.offer_type == OfferType.AMOUNT_OFF and value is not None:
        return _("%(amount)s off") % {"amount": money_text(value, currency)}
    if campaign.offer_type == OfferType.FREE_SHIPPING:
        return _("free shipping")
    return ""


def money_text(value: Decimal, currency: str) -> str:
    try:
        from babel.numbers import format_currency
        from django.utils.translation import get_language, to_locale

        return format_currency(value, currency, locale=to_locale(get_language() or "en"))
    except Exception:  # an unknown locale or currency: the plain form is still right
        return f"{value:.2f} {currency}"


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=")


def _base36(number: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def _code_signature(campaign_id: int, customer_id: int) -> str:
    digest = salted_hmac("campaigns.discount_code", f"{campaign_id}:{customer_id}", algorithm="sha256").digest()
    return _b32(digest)[:5]


def discount_code_for(*, campaign: Campaign, customer_id: int) -> str:
    """The shop's code, or a code unique to this customer: PREFIX-<customer id in base 36><5 signed chars>."""
    if campaign.code_mode == CodeMode.SHARED:
        return campaign.discount_code.strip()
    if campaign.code_mode == CodeMode.UNIQUE:
        prefix = campaign.discount_code.strip().upper()
        return f"{prefix}-{_base36(customer_id)}{_code_signature(campaign.pk or 0, customer_id)}"
    return ""


def discount_code_customer_id(*, campaign: Campaign, code: str) -> int | None:
    """Which customer a unique code was made for, or None for a code this campaign did not make."""
    prefix = campaign.discount_code.strip().upper() + "-"
    code = code.strip().upper()
    if campaign.code_mode != CodeMode.UNIQUE or not code.startswith(prefix) or len(code) <= len(prefix) + 5:
        return None
    body, signature = code[len(prefix) : -5], code[-5:]
    try:
        customer_id = int(body, 36)
    except ValueError:
        return None
    return customer_id if _code_signature(campaign.pk, customer_id) == signature else None


# --------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class Personalisation:
    """What a message knows about one customer; all plain values."""

    customer_id: int
    email: str
    first_name: str = ""
    last_name: str = ""
    favourite_category: str = ""
    recommended_products: tuple[str, ...] = ()


@dataclass(frozen=True)
class MessageLinks:
    unsubscribe_url: str
    open_pixel_url: str
    click_url: Callable[[str], str]


@dataclass
class RenderedMessage:
    subject: str
    text: str
    html: str
    to: str
    headers: dict[str, str] = field(default_factory=dict)
    discount_code: str = ""


def message_context(*, campaign: Campaign, shop_name: str, currency: str, person: Personalisation) -> dict:
    products = list(person.recommended_products[:3])
    return {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "shop_name": shop_name,
        "favourite_category": person.favourite_category,
        "recommended_products": products,
        "recommended_product": products[0] if products else "",
        "discount_code": discount_code_for(campaign=campaign, customer_id=person.customer_id),
        "offer": offer_text(campaign=campaign, currency=currency),
    }


_BLANK_LINES = re.compile(r"\n{3,}")
_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""


def _linked_html(text: str, click_url: Callable[[str], str]) -> str:
    """Escaped text with its http(s) links made clickable through the tracker."""
    out, pos = [], 0
    for match in _URL.finditer(text):
        url = match.group(0)
        stripped = url.rstrip(_TRAILING)
        out.append(escape(text[pos : match.start()]))
        out.append(f'<a href="{escape(click_url(stripped))}">{escape(stripped)}</a>')
        out.append(escape(url[len(stripped) :]))
        pos = match.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def text_to_html(text: str, click_url: Callable[[str], str]) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "\n".join(
        "<p>" + "<br>\n".join(_linked_html(line, click_url) for line in p.split("\n")) + "</p>" for p in paragraphs
    )


def render_message(
    *,
    campaign: Campaign,
    shop_name: str,
    currency: str,
    postal_address: str,
    person: Personalisation,
    links: MessageLinks,
) -> RenderedMessage:
    """Subject, text and HTML of one customer's message. The templates must have passed validate_templates."""
    context = message_context(campaign=campaign, shop_name=shop_name, currency=currency, person=person)
    subject = _compile(campaign.subject_template).render(Context(context, autoescape=False))
    subject = " ".join(subject.split())[:MAX_SUBJECT_CHARS]  # one line: a header cannot hold a newline
    body = _compile(campaign.body_template).render(Context(context, autoescape=False))
    # Tags on lines of their own and empty placeholders leave blank lines behind: keep at most one.
    body = _BLANK_LINES.sub("\n\n", "\n".join(line.rstrip() for line in body.strip().splitlines()))
    text_frame, html_frame = _frames(shop_name, postal_address.strip(), get_language() or "")
    text = _fill(text_frame, body=body, unsubscribe_url=links.unsubscribe_url, open_pixel_url="", subject="")
    html = _fill(
        html_frame,
        body=text_to_html(body, links.click_url),
        unsubscribe_url=escape(links.unsubscribe_url),
        open_pixel_url=escape(links.open_pixel_url),
        subject=escape(subject),
    )
    return RenderedMessage(
        subject=subject, text=text, html=html, to=person.email, discount_code=context["discount_code"]
    )


# The footer templates are rendered once per shop and language with markers where each
# message's own parts go, then filled by string replacement (a template render per message
# costs more than the rest of the message together).
_MARKERS = {name: f"\x00{name}\x00" for name in ("body", "unsubscribe_url", "open_pixel_url", "subject")}


@functools.lru_cache(maxsize=64)
def _frames(shop_name: str, postal_address: str, language: str) -> tuple[str, str]:
    context = {"shop_name": shop_name, "postal_address": postal_address, **_MARKERS}
    text = render_to_string("campaigns/email/message.txt", context)
    html = render_to_string("campaigns/email/message.html", {**context, "body_html": _MARKERS["body"]})
    return text, html


def _fill(frame: str, **parts: str) -> str:
    for name, value in parts.items():
        frame = frame.replace(_MARKERS[name], value)
    return frame
