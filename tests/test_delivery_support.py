"""Shared pieces of the delivery tests: an SMTP server on loopback whose replies are chosen per
recipient, settings for fast sending, and campaign builders. (No tests here.)"""

from __future__ import annotations

import itertools
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from sqlalchemy import select

from outreach.campaigns.models import Campaign, CampaignVariant
from outreach.delivery.models import OutboxMessage
from outreach.segments.models import Segment
from tests.conftest import free_port

FAST = {
    "DELIVERY_RATE": 0,
    "DELIVERY_HOURLY_LIMIT": 0,
    "DELIVERY_RETRY_BASE_SECONDS": 0,
    "DELIVERY_POLL_SECONDS": 0.05,
    "DELIVERY_SMTP_TIMEOUT": 5,
    "PUBLIC_BASE_URL": "https://outreach.example.org",
    "MAIL_DOMAIN": "mail.example.org",
}
_names = itertools.count(1)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class Sink:
    """A real aiosmtpd server. `rcpt_replies[address]` is a list of replies given in turn (the
    last repeats); `default_rcpt` answers every other address; `mail_reply` refuses MAIL FROM."""

    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    smtputf8: bool = False
    pipelining: bool = False  # advertise PIPELINING (RFC 2920): the worker then batches commands
    rcpt_replies: dict[str, list[str]] = field(default_factory=dict)
    default_rcpt: str = "250 OK"
    mail_reply: str | None = None
    data_replies: dict[str, str] = field(default_factory=dict)  # by recipient: refuse the body
    received: list[Received] = field(default_factory=list)
    rcpt_seen: list[str] = field(default_factory=list)
    controller: Controller | None = None

    def start(self) -> Sink:
        sink = self

        class Handler:
            async def handle_MAIL(self, server, session, envelope, address, options):
                if sink.mail_reply:
                    return sink.mail_reply
                envelope.mail_from = address
                envelope.mail_options.extend(options)
                return "250 OK"

            async def handle_RCPT(self, server, session, envelope, address, options):
                sink.rcpt_seen.append(address)
                replies = sink.rcpt_replies.get(address)
                reply = (replies.pop(0) if len(replies) > 1 else replies[0]) if replies else None
                reply = reply or sink.default_rcpt
                if reply.startswith("250"):
                    envelope.rcpt_tos.append(address)
                return reply

            async def handle_DATA(self, server, session, envelope):
                refusal = sink.data_replies.get(envelope.rcpt_tos[0])
                if refusal:
                    return refusal
                sink.received.append(
                    Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
                )
                return f"250 2.0.0 Ok: queued as Q{len(sink.received)}"

        class PipeliningHandler(Handler):
            async def handle_EHLO(self, server, session, envelope, hostname, responses):
                session.host_name = hostname
                return [*responses[:-1], "250-PIPELINING", responses[-1]]

        handler = PipeliningHandler() if self.pipelining else Handler()
        self.controller = Controller(
            handler, hostname=self.host, port=self.port, enable_SMTPUTF8=self.smtputf8
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[Received]:
        return [message for message in self.received if address in message.rcpt_tos]

    def wait_for(self, count: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)


@contextmanager
def settings(app, **values):
    """Change app settings for a block (mail settings re-read by Flask-Mail)."""
    from outreach.extensions import mail

    saved = {key: app.config.get(key) for key in values}
    app.config.update(values)
    mail.init_app(app)
    try:
        yield app
    finally:
        app.config.update(saved)
        mail.init_app(app)


@contextmanager
def sending_to(app, sink: Sink | None, **values):
    """Fast delivery settings, mail pointed at `sink` (or at a closed port when None)."""
    mail = {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": sink.port if sink is not None else free_port(),
        "MAIL_SUPPRESS_SEND": False,
    }
    with settings(app, **{**mail, **FAST, **values}):
        yield


def make_campaign(
    session,
    *,
    status: str = "sending",
    topic: str = "newsletter",
    variants: dict[str, tuple[str, str]] | None = None,
    filters: dict | None = None,
    default_language: str = "en",
    **fields,
) -> Campaign:
    """A campaign sent to one segment (default: everybody), flushed, not committed."""
    segment = Segment(name=f"Segment {next(_names)}", filters=filters or {})
    session.add(segment)
    variants = variants or {
        "en": ("Hello {{ contact.first_name }}", "Dear {{ contact.full_name }},")
    }
    campaign = Campaign(
        name=fields.pop("name", f"Campaign {next(_names)}"),
        topic=topic,
        sender_name=fields.pop("sender_name", "UPR Info"),
        sender_email=fields.pop("sender_email", "news@example.org"),
        status=status,
        default_language=default_language,
        segments=[segment],
        variants=[
            CampaignVariant(language=lang, subject=subject, body_markdown=body)
            for lang, (subject, body) in variants.items()
        ],
        **fields,
    )
    session.add(campaign)
    session.flush()
    return campaign


def outbox_rows(session, campaign_id: int | None = None) -> list[OutboxMessage]:
    session.expire_all()
    statement = select(OutboxMessage).order_by(OutboxMessage.id)
    if campaign_id is not None:
        statement = statement.where(OutboxMessage.campaign_id == campaign_id)
    return list(session.scalars(statement))


def statuses(session, campaign_id: int) -> dict[str, str]:
    return {row.email: row.status for row in outbox_rows(session, campaign_id)}
