"""Sending a started campaign in chunks, each message at most once.

One chunk: claim up to N pending rows with a conditional UPDATE (a claim token), check
consent, suppression and the frequency cap again, render, then for each row

    UPDATE ... SET status='handing_off' WHERE id=? AND claim_token=? AND status='claimed'
    SMTP hand-off (Django's email backend, one connection per chunk)
    UPDATE ... SET status='sent'        WHERE id=? AND claim_token=?

Each commits before the next step (the "sent" of one message and the "handing_off" of the
next are one statement), so the database always knows whether a message may have left. A
row whose hand-off was recorded is never handed off again: if the worker dies, the due-scan
marks it `unknown` after the lease. A row still `claimed` never reached the server and is
safe to give back. See ADR 0006.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import smtplib
import socket
import time
import uuid
from dataclasses import dataclass
from email.utils import formataddr, make_msgid, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import selectors, services, tracking
from campaigns.models import Campaign, CampaignStatus, Recipient, RecipientStatus, SuppressionReason
from campaigns.rendering import Personalisation, RenderedMessage, render_message
from customers.models import Customer
from shops.models import Shop
from shops.scope import shop_scope

logger = logging.getLogger(__name__)

# How long one send_chunk task keeps claiming chunks before it hands over to a new task.
TASK_BUDGET_SECONDS = 240


class MailServerUnavailable(Exception):
    """The mail server could not be reached before anything was handed off; the task retries later."""


@dataclass
class ChunkReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    excluded: int = 0
    deferred: int = 0
    lost: int = 0  # claims taken over by the lease recovery before hand-off

    def add(self, other: ChunkReport) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def from_address(shop: Shop) -> str:
    """The shop's name with the installation's sending address."""
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or "no-reply@localhost"
    return formataddr((shop.name, address))


class CampaignEmail(EmailMultiAlternatives):
    """A multipart message with its MIME boundary chosen up front.

    The standard library otherwise picks one and compiles a regular expression per message to
    check the body does not contain it (~0.5 ms each); 128 random bits cannot collide with the body.
    """

    def message(self, *args, **kwargs):
        msg = super().message(*args, **kwargs)
        if msg.is_multipart():
            msg.set_boundary(f"=_{uuid.uuid4().hex}")
        return msg


def email_message(*, shop: Shop, rendered: RenderedMessage, message_id: str, connection=None) -> EmailMultiAlternatives:
    message = CampaignEmail(
        subject=rendered.subject,
        body=rendered.text,
        from_email=from_address(shop),
        to=[rendered.to],
        headers={"Message-ID": message_id, **rendered.headers},
        connection=connection,
    )
    message.attach_alternative(rendered.html, "text/html")
    return message


def message_for(
    *, shop: Shop, campaign: Campaign, person: Personalisation, recipient_id: int, customer_id: int
) -> RenderedMessage:
    """A campaign message with its signed links and unsubscribe headers (ids 0 for previews and tests)."""
    links = tracking.message_links(
        shop_id=shop.pk, campaign_id=campaign.pk, customer_id=customer_id, recipient_id=recipient_id
    )
    rendered = render_message(
        campaign=campaign,
        shop_name=shop.name,
        currency=shop.currency,
        postal_address=shop.postal_address,
        person=person,
        links=links,
    )
    rendered.headers = tracking.unsubscribe_headers(unsubscribe_url=links.unsubscribe_url)
    return rendered


# --------------------------------------------------------------------------- claiming


def recipients_claim(*, campaign_id: int, limit: int, token: str, worker: str, now: dt.datetime) -> list[Recipient]:
    """Claim up to `limit` pending rows of the campaign for this worker; returns them with their customers.

    PostgreSQL: one UPDATE over `SELECT ... FOR UPDATE SKIP LOCKED`, so concurrent workers take
    different rows without waiting. Elsewhere (SQLite, which has one writer at a time): the
    same conditional UPDATE over the first pending ids.
    """
    table = Recipient._meta.db_table
    if db_connection.vendor == "postgresql":
        with db_connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET status = %s, claim_token = %s, claimed_at = %s, claimed_by = %s "  # noqa: S608
                f"WHERE id IN (SELECT id FROM {table} WHERE campaign_id = %s AND status = %s "
                "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)",
                [RecipientStatus.CLAIMED, token, now, worker, campaign_id, RecipientStatus.PENDING, limit],
            )
    else:
        ids = list(
            Recipient.unscoped.filter(campaign_id=campaign_id, status=RecipientStatus.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            Recipient.unscoped.filter(pk__in=ids, status=RecipientStatus.PENDING).update(
                status=RecipientStatus.CLAIMED, claim_token=token, claimed_at=now, claimed_by=worker
            )
    return list(
        Recipient.unscoped.filter(campaign_id=campaign_id, claim_token=token, status=RecipientStatus.CLAIMED)
        .select_related("customer")
        .order_by("pk")
    )


def _mine(recipient_ids: list[int], token: str, status: str = RecipientStatus.CLAIMED):
    return Recipient.unscoped.filter(pk__in=recipient_ids, claim_token=token, status=status)


def claims_release(*, recipient_ids: list[int], token: str) -> int:
    """Give back claimed rows that were never handed off."""
    return _mine(recipient_ids, token).update(
        status=RecipientStatus.PENDING, claim_token="", claimed_at=None, claimed_by=""
    )


# --------------------------------------------------------------------------- one chunk


def _recheck(*, shop: Shop, campaign: Campaign, rows: list[Recipient], token: str, now: dt.datetime, report):
    """Consent, suppression and the frequency cap, as they are now. Returns the rows still to send."""
    suppressed = selectors.suppression_reasons(shop=shop, emails=[r.customer.email for r in rows])
    by_reason: dict[str, list[int]] = {}
    keep = []
    for row in rows:
        c = row.customer
        reason = selectors.exclusion_reason(
            email=c.email,
            email_consent=c.email_consent,
            erased_at=c.erased_at,
            suppressed=suppressed,
            shop_id=shop.pk,
        )
        if reason:
            by_reason.setdefault(reason, []).append(row.pk)
        else:
            keep.append(row)
    for reason, ids in by_reason.items():
        report.excluded += _mine(ids, token).update(status=RecipientStatus.EXCLUDED, reason=reason)
    counts = selectors.recent_campaign_emails(
        shop=shop, now=now, customer_ids=[r.customer_id for r in keep], exclude_campaign_id=campaign.pk
    )
    capped = [r.pk for r in keep if counts.get(r.customer_id, 0) >= campaign.frequency_cap]
    if capped:
        report.deferred += _mine(capped, token).update(
            status=RecipientStatus.DEFERRED, claim_token="", claimed_at=None, claimed_by=""
        )
    capped_set = set(capped)
    return [r for r in keep if r.pk not in capped_set]


def _refused_permanently(exc: smtplib.SMTPException) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _msg in exc.recipients.values())
    return getattr(exc, "smtp_code", 0) >= 500


def _send_rows(*, shop: Shop, campaign: Campaign, rows: list[Recipient], token: str, report: ChunkReport) -> None:
    people = selectors.personalisations(shop=shop, customers=[r.customer for r in rows])
    domain = tracking.mail_domain()
    prepared = []
    for row in rows:
        rendered = message_for(
            shop=shop,
            campaign=campaign,
            person=people[row.customer_id],
            recipient_id=row.pk,
            customer_id=row.customer_id,
        )
        message_id = make_msgid(idstring=f"c{campaign.pk}r{row.pk}", domain=domain)
        prepared.append((row, rendered, message_id))

    connection = get_connection(fail_silently=False)
    try:
        connection.open()
    except (OSError, smtplib.SMTPException) as exc:
        claims_release(recipient_ids=[r.pk for r in rows], token=token)
        raise MailServerUnavailable(str(exc)) from exc
    accepted = None  # (row id, time) of the last message the server accepted, not yet recorded as sent
    try:
        for index, (row, rendered, message_id) in enumerate(prepared):
            message = email_message(shop=shop, rendered=rendered, message_id=message_id, connection=connection)
            # Record the hand-off before it happens (and the previous message's acceptance, in the
            # same commit): from here on this row is never sent again.
            confirmed, handed = _record(token=token, accepted=accepted, hand_off=(row.pk, message_id, rendered.to))
            report.sent += confirmed
            accepted = None
            if not handed:
                report.lost += 1
                continue
            try:
                connection.send_messages([message])
            except smtplib.SMTPException as exc:
                if isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
                    # The server said no: nothing was accepted, so nothing can arrive twice.
                    report.failed += _mine([row.pk], token, RecipientStatus.HANDING_OFF).update(
                        status=RecipientStatus.FAILED, error=str(exc)[:1000]
                    )
                    if _refused_permanently(exc) and isinstance(exc, smtplib.SMTPRecipientsRefused):
                        tracking.suppression_add(
                            shop_id=shop.pk,
                            email=rendered.to,
                            reason=SuppressionReason.BOUNCED,
                            campaign_id=campaign.pk,
                        )
                    continue
                _hand_off_broke(row, token, exc, prepared[index + 1 :], report)
                raise MailServerUnavailable(str(exc)) from exc
            except BaseException as exc:  # timeouts, a lost connection, the task's time limit
                _hand_off_broke(row, token, exc, prepared[index + 1 :], report)
                if isinstance(exc, OSError):
                    raise MailServerUnavailable(str(exc)) from exc
                raise
            accepted = (row.pk, timezone.now())
    finally:
        if accepted is not None:
            report.sent += _record(token=token, accepted=accepted, hand_off=None)[0]
        try:
            connection.close()
        except Exception:  # closing a broken connection may fail again; the outcome is recorded
            logger.debug("closing the mail connection failed", exc_info=True)


def _record(*, token: str, accepted: tuple | None, hand_off: tuple | None) -> tuple[int, bool]:
    """One commit per message: the previous message accepted (-> sent) and the next one handing off.

    Returns (rows confirmed as sent, whether the hand-off was recorded). The hand-off is only
    recorded for a row this claim still holds in `claimed`; a kill between the SMTP answer and
    this commit leaves that one message in handing_off (-> unknown), never resent. Both changes
    are one UPDATE ... RETURNING where the database has it (one round trip per message).
    """
    if accepted is not None and hand_off is not None and db_connection.features.can_return_columns_from_insert:
        return _record_in_one_statement(token=token, accepted=accepted, hand_off=hand_off)
    confirmed, handed = 0, False
    with transaction.atomic():
        if accepted is not None:
            row_id, at = accepted
            confirmed = Recipient.unscoped.filter(
                pk=row_id, claim_token=token, status__in=[RecipientStatus.HANDING_OFF, RecipientStatus.UNKNOWN]
            ).update(status=RecipientStatus.SENT, sent_at=at)
        if hand_off is not None:
            row_id, message_id, to = hand_off
            handed = bool(
                _mine([row_id], token).update(
                    status=RecipientStatus.HANDING_OFF, handoff_at=timezone.now(), message_id=message_id, email=to
                )
            )
    return confirmed, handed


def _record_in_one_statement(*, token: str, accepted: tuple, hand_off: tuple) -> tuple[int, bool]:
    done_id, done_at = accepted
    next_id, message_id, to = hand_off
    adapt = db_connection.ops.adapt_datetimefield_value
    sent, handing_off, unknown, claimed = (
        RecipientStatus.SENT,
        RecipientStatus.HANDING_OFF,
        RecipientStatus.UNKNOWN,
        RecipientStatus.CLAIMED,
    )
    table = Recipient._meta.db_table
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET "  # noqa: S608 - the table name is ours, every value is a parameter
            "status = CASE WHEN id = %s THEN %s ELSE %s END, "
            "handoff_at = CASE WHEN id = %s THEN %s ELSE handoff_at END, "
            "message_id = CASE WHEN id = %s THEN %s ELSE message_id END, "
            "email = CASE WHEN id = %s THEN %s ELSE email END, "
            "sent_at = CASE WHEN id = %s THEN %s ELSE sent_at END "
            "WHERE claim_token = %s AND ((id = %s AND status = %s) OR (id = %s AND status IN (%s, %s))) "
            "RETURNING id",
            [
                next_id, handing_off, sent,
                next_id, adapt(timezone.now()),
                next_id, message_id,
                next_id, to,
                done_id, adapt(done_at),
                token, next_id, claimed, done_id, handing_off, unknown,
            ],
        )  # fmt: skip
        ids = {row[0] for row in cursor.fetchall()}
    return int(done_id in ids), next_id in ids


def _hand_off_broke(row: Recipient, token: str, exc: BaseException, rest: list, report: ChunkReport) -> None:
    """The hand-off of `row` ended without an answer: it may have been delivered, so it is unknown.

    The rows after it were never handed off and go back to pending.
    """
    report.unknown += _mine([row.pk], token, RecipientStatus.HANDING_OFF).update(
        status=RecipientStatus.UNKNOWN, error=f"hand-off interrupted: {exc!r}"[:1000]
    )
    logger.warning("campaign %s recipient %s: hand-off interrupted (%r), marked unknown", row.campaign_id, row.pk, exc)
    claims_release(recipient_ids=[r.pk for r, _m, _i in rest], token=token)


def recipients_send_chunk(
    *, campaign_id: int, worker: str = "", limit: int | None = None, now: dt.datetime | None = None
) -> ChunkReport:
    """Claim and send one chunk of a sending campaign. Does nothing for a campaign that is not sending.

    Raises MailServerUnavailable (claims given back) when the mail server cannot be reached.
    """
    report = ChunkReport()
    campaign = Campaign.unscoped.select_related("shop").filter(pk=campaign_id).first()
    if campaign is None or campaign.status != CampaignStatus.SENDING:
        return report
    shop = campaign.shop
    if not shop.postal_address.strip():
        message = _("Sending paused: add your shop's postal address in Settings and sending resumes.")
        Campaign.unscoped.filter(pk=campaign_id).update(last_error=message)
        return report
    token = uuid.uuid4().hex
    now = now or timezone.now()
    with shop_scope(shop):
        rows = recipients_claim(
            campaign_id=campaign_id,
            limit=limit or services.chunk_size(),
            token=token,
            worker=worker or _worker_name(),
            now=now,
        )
        report.claimed = len(rows)
        if not rows:
            return report
        rows = _recheck(shop=shop, campaign=campaign, rows=rows, token=token, now=now, report=report)
        if rows:
            _send_rows(shop=shop, campaign=campaign, rows=rows, token=token, report=report)
    return report


def campaign_send(
    *, campaign_id: int, worker: str = "", budget_seconds: float = TASK_BUDGET_SECONDS
) -> tuple[ChunkReport, bool]:
    """Send chunks until none is pending or the time budget is spent.

    Returns the total and whether pending rows are left (the caller queues a new task).
    """
    total = ChunkReport()
    deadline = time.monotonic() + budget_seconds
    while True:
        report = recipients_send_chunk(campaign_id=campaign_id, worker=worker)
        total.add(report)
        if report.claimed == 0:
            services.campaign_finish_if_done(campaign_id=campaign_id)
            return total, False
        if time.monotonic() > deadline:
            more = Recipient.unscoped.filter(campaign_id=campaign_id, status=RecipientStatus.PENDING).exists()
            return total, more


# --------------------------------------------------------------------------- preview and test send


def campaign_preview(*, shop: Shop, campaign: Campaign, customer: Customer) -> RenderedMessage:
    """The message `customer` would get (links work but record nothing)."""
    person = selectors.personalisations(shop=shop, customers=[customer])[customer.pk]
    return message_for(shop=shop, campaign=campaign, person=person, recipient_id=0, customer_id=0)


def campaign_test_send(*, shop: Shop, campaign: Campaign, customer: Customer, to: str) -> RenderedMessage:
    """Send `customer`'s message to `to` (the owner), marked as a test; no recipient row, no cap."""
    rendered = campaign_preview(shop=shop, campaign=campaign, customer=customer)
    rendered.subject = _("[Test] %(subject)s") % {"subject": rendered.subject}
    rendered.to = to
    message_id = make_msgid(idstring=f"c{campaign.pk}test", domain=tracking.mail_domain())
    email_message(shop=shop, rendered=rendered, message_id=message_id).send(fail_silently=False)
    return rendered
