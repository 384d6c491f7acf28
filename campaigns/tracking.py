"""Signed links in campaign messages: unsubscribe, open pixel, click redirect.

Every token is `<payload>.<signature>` made with django.core.signing and a salt per
purpose, so a token of one kind is worthless as another. Payloads are ids in base 36;
the signature is a SHA-256 HMAC cut to 22 characters (132 bits), which keeps
`unsubscribe+<token>@domain` inside the 64 characters an address's local part may have.

    unsubscribe  [shop, customer, campaign]     /u/<token>/            (never expires)
    open         [recipient]                    /t/o/<token>.gif
    click        [recipient, hash of the URL]   /t/c/<token>/?u=<url>  (only that URL)

Recipient id 0 marks a preview or test send: links work but record nothing, and the
unsubscribe page unsubscribes nobody.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
from dataclasses import dataclass
from email.utils import parseaddr
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Recipient, Suppression, SuppressionReason, TrackingEvent, TrackingKind, suppression_digest
from campaigns.rendering import MessageLinks
from customers.models import Customer

UNSUBSCRIBE_SALT = "campaigns.unsubscribe"
OPEN_SALT = "campaigns.open"
CLICK_SALT = "campaigns.click"
SIGNATURE_CHARS = 22


class _ShortSigner(signing.Signer):
    def signature(self, value, key=None):
        return super().signature(value, key)[:SIGNATURE_CHARS]


def _signer(salt: str) -> signing.Signer:
    return _ShortSigner(salt=salt, sep=".", algorithm="sha256")


def _pack(*numbers: int) -> str:
    return "-".join(_b36(n) for n in numbers)


def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def _unpack(value: str, count: int) -> list[int] | None:
    parts = value.split("-")
    if len(parts) != count:
        return None
    try:
        return [int(p, 36) for p in parts]
    except ValueError:
        return None


def _url_hash(url: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(url.encode()).digest()[:12]).decode()


def _unsign(token: str, salt: str) -> str | None:
    try:
        return _signer(salt).unsign(token)
    except signing.BadSignature:
        return None


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class UnsubscribeToken:
    shop_id: int
    customer_id: int
    campaign_id: int

    @property
    def is_test(self) -> bool:
        return self.customer_id == 0


def unsubscribe_token(*, shop_id: int, customer_id: int, campaign_id: int) -> str:
    return _signer(UNSUBSCRIBE_SALT).sign(_pack(shop_id, customer_id, campaign_id))


def unsubscribe_token_read(token: str) -> UnsubscribeToken | None:
    value = _unsign(token, UNSUBSCRIBE_SALT)
    numbers = _unpack(value, 3) if value else None
    return UnsubscribeToken(*numbers) if numbers else None


def open_token(*, recipient_id: int) -> str:
    return _signer(OPEN_SALT).sign(_pack(recipient_id))


def open_token_read(token: str) -> int | None:
    value = _unsign(token, OPEN_SALT)
    numbers = _unpack(value, 1) if value else None
    return numbers[0] if numbers else None


def click_token(*, recipient_id: int, url: str) -> str:
    return _signer(CLICK_SALT).sign(f"{_b36(recipient_id)}-{_url_hash(url)}")


def click_token_read(token: str, url: str) -> int | None:
    """The recipient id, if the token was made for exactly this http(s) URL; else None."""
    value = _unsign(token, CLICK_SALT)
    if not value or "-" not in value:
        return None
    rid, url_hash = value.split("-", 1)
    if url_hash != _url_hash(url) or urlsplit(url).scheme.lower() not in {"http", "https"}:
        return None
    try:
        return int(rid, 36)
    except ValueError:
        return None


# --------------------------------------------------------------------------- links in a message


def mail_domain() -> str:
    return _domain_of(settings.DEFAULT_FROM_EMAIL)


@functools.lru_cache(maxsize=8)
def _domain_of(from_email: str) -> str:
    address = parseaddr(from_email)[1]
    return address.rsplit("@", 1)[-1] if "@" in address else "localhost"


def unsubscribe_mailto(token: str) -> str:
    """mailto: for List-Unsubscribe; the mailbox is CAMPAIGNS_UNSUBSCRIBE_MAILBOX or unsubscribe@<from domain>."""
    mailbox = getattr(settings, "CAMPAIGNS_UNSUBSCRIBE_MAILBOX", "") or f"unsubscribe@{mail_domain()}"
    local, _, domain = mailbox.partition("@")
    return f"mailto:{local}+{token}@{domain}?subject=unsubscribe"


@functools.lru_cache(maxsize=8)
def _link_bases(site_url: str) -> tuple[str, str, str]:
    """Absolute unsubscribe, open and click URLs with TOKEN in place of the token (reverse() once)."""
    return tuple(
        site_url + reverse(name, args=["TOKEN"]) for name in ("campaign_unsubscribe", "campaign_open", "campaign_click")
    )


def message_links(*, shop_id: int, campaign_id: int, customer_id: int, recipient_id: int) -> MessageLinks:
    """Links for one message; recipient_id 0 (and customer_id 0) for previews and test sends."""
    unsubscribe_base, open_base, click_base = _link_bases(settings.SITE_URL)

    def click_url(url: str) -> str:
        return (
            click_base.replace("TOKEN", click_token(recipient_id=recipient_id, url=url)) + "?u=" + quote(url, safe="")
        )

    token = unsubscribe_token(shop_id=shop_id, customer_id=customer_id, campaign_id=campaign_id)
    return MessageLinks(
        unsubscribe_url=unsubscribe_base.replace("TOKEN", token),
        open_pixel_url=open_base.replace("TOKEN", open_token(recipient_id=recipient_id)),
        click_url=click_url,
    )


def unsubscribe_headers(*, unsubscribe_url: str) -> dict[str, str]:
    """RFC 2369 / RFC 8058 headers for a message's unsubscribe link: the https link, a mailto with
    the same token, and one-click POST."""
    token = unsubscribe_url.rstrip("/").rsplit("/", 1)[-1]
    return {
        "List-Unsubscribe": f"<{unsubscribe_url}>, <{unsubscribe_mailto(token)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


# --------------------------------------------------------------------------- recording


def open_record(*, recipient_id: int, now: dt.datetime | None = None) -> bool:
    """Record an open; the first one sets opened_at. False for a preview (id 0) or an unknown recipient."""
    if recipient_id == 0:
        return False
    now = now or timezone.now()
    recipient = Recipient.unscoped.filter(pk=recipient_id).only("pk", "shop_id").first()
    if recipient is None:
        return False
    Recipient.unscoped.filter(pk=recipient_id, opened_at__isnull=True).update(opened_at=now)
    TrackingEvent.unscoped.create(shop_id=recipient.shop_id, recipient_id=recipient_id, kind=TrackingKind.OPEN, at=now)
    return True


def click_record(*, recipient_id: int, url: str, now: dt.datetime | None = None) -> bool:
    """Record a click (which implies an open); the first one sets clicked_at."""
    if recipient_id == 0:
        return False
    now = now or timezone.now()
    recipient = Recipient.unscoped.filter(pk=recipient_id).only("pk", "shop_id").first()
    if recipient is None:
        return False
    Recipient.unscoped.filter(pk=recipient_id, clicked_at__isnull=True).update(clicked_at=now)
    Recipient.unscoped.filter(pk=recipient_id, opened_at__isnull=True).update(opened_at=now)
    TrackingEvent.unscoped.create(
        shop_id=recipient.shop_id, recipient_id=recipient_id, kind=TrackingKind.CLICK, at=now, url=url[:2000]
    )
    return True


def suppression_add(*, shop_id: int, email: str, reason: str, campaign_id: int | None = None) -> bool:
    """Suppress an address for the shop; True if it was new. An existing suppression keeps its first reason."""
    email = email.strip().lower()
    if not email:
        return False
    digest = suppression_digest(shop_id=shop_id, email=email)
    if Suppression.unscoped.filter(Q(email=email) | Q(email_hash=digest), shop_id=shop_id).exists():
        return False  # suppressed already, maybe as the digest an erased person's address is kept as
    try:
        with transaction.atomic():
            Suppression.unscoped.create(shop_id=shop_id, email=email, reason=reason, campaign_id=campaign_id)
    except IntegrityError:  # the same address, suppressed concurrently
        return False
    return True


def unsubscribe_apply(token: UnsubscribeToken) -> int:
    """Suppress the address the campaign was sent to and the customer's current one; returns how many were new."""
    if token.is_test:
        return 0
    customer = Customer.unscoped.filter(shop_id=token.shop_id, pk=token.customer_id).only("email").first()
    addresses = set()
    if customer is not None and customer.email:
        addresses.add(customer.email)
    sent_to = (
        Recipient.unscoped.filter(shop_id=token.shop_id, campaign_id=token.campaign_id, customer_id=token.customer_id)
        .values_list("email", flat=True)
        .first()
    )
    if sent_to:
        addresses.add(sent_to)
    campaign_id = token.campaign_id if sent_to is not None else None  # only a campaign of this shop
    return sum(
        suppression_add(shop_id=token.shop_id, email=a, reason=SuppressionReason.UNSUBSCRIBED, campaign_id=campaign_id)
        for a in addresses
    )


def bounce_record(*, shop_id: int, message_id: str, now: dt.datetime | None = None) -> bool:
    """A bounce report (DSN) for a message we sent, found by its Message-ID: the recipient counts as
    bounced (not delivered) and the address is suppressed. False for a Message-ID we did not send."""
    row = Recipient.unscoped.filter(shop_id=shop_id, message_id=message_id.strip()).first()
    if row is None:
        return False
    Recipient.unscoped.filter(pk=row.pk, bounced_at__isnull=True).update(bounced_at=now or timezone.now())
    suppression_add(shop_id=shop_id, email=row.email, reason=SuppressionReason.BOUNCED, campaign_id=row.campaign_id)
    return True
