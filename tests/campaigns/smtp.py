"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1, a free port) that keeps what it receives."""

from __future__ import annotations

import asyncio
import contextlib
import email
import logging
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def to(self) -> str:
        return self.rcpt_tos[0]

    def part(self, content_type: str) -> str:
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return part.get_content()
        return ""


class CapturingHandler:
    def __init__(self):
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.delay = 0.0  # seconds per message, to widen the hand-off window
        self.refuse: set[str] = set()  # addresses answered with 550

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted"

    def messages(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def count_by_recipient(self) -> Counter:
        return Counter(rcpt.lower() for m in self.messages() for rcpt in m.rcpt_tos)

    def clear(self) -> None:
        with self.lock:
            self.received.clear()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[CapturingHandler, int]]:
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
    handler = CapturingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
