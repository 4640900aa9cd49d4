"""Find the outbox row a bounce is about.

In order of trust: the original message's Message-ID (stored on the outbox row exactly as sent,
angle brackets included), then the VERP envelope sender `bounces+<outbox id>@MAIL_DOMAIN` found in
the bounce's envelope headers, the original's Return-Path or the text, then the recipient's
address (the latest outbox row sent to it).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.contacts.models import Contact
from outreach.contacts.validation import email_key, hash_email_key
from outreach.delivery.bounces.parse import Recipient, Report
from outreach.delivery.message import AddressError, ascii_domain
from outreach.delivery.models import OutboxMessage

VERP_RE = re.compile(r"\bbounces\+(\d{1,18})@([A-Za-z0-9.-]+)", re.I)
BY_MESSAGE_ID = "message-id"
BY_VERP = "VERP address"
BY_ADDRESS = "address"


@dataclass
class Candidates:
    """What the whole report points at, looked up once for all its recipients."""

    by_message_id: OutboxMessage | None
    by_verp: OutboxMessage | None
    message_ids: list[str]
    verp_ids: list[int]


@dataclass
class Match:
    outbox: OutboxMessage | None
    how: str = ""


def verp_ids(texts: list[str], mail_domain: str) -> list[int]:
    """Outbox ids of the VERP addresses on our domain in `texts`, first seen first."""
    domains = {mail_domain.strip().rstrip(".").lower()}
    with contextlib.suppress(AddressError):
        domains.add(ascii_domain(mail_domain).lower())
    ids: list[int] = []
    for text in texts:
        for number, domain in VERP_RE.findall(text or ""):
            if domain.rstrip(".").lower() in domains and int(number) not in ids:
                ids.append(int(number))
    return ids


def candidates(session: Session, report: Report, mail_domain: str) -> Candidates:
    by_message_id = None
    if report.message_ids:
        forms = {mid: mid for mid in report.message_ids}
        forms.update({mid.strip("<>"): mid for mid in report.message_ids})
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.message_id.in_(list(forms)))
        ).all()
        by_original = {forms[row.message_id]: row for row in rows}
        by_message_id = next(
            (by_original[mid] for mid in report.message_ids if mid in by_original), None
        )
    ids = verp_ids(report.verp_sources, mail_domain)
    by_verp = None
    for outbox_id in ids:
        by_verp = session.get(OutboxMessage, outbox_id)
        if by_verp is not None:
            break
    return Candidates(by_message_id, by_verp, report.message_ids, ids)


def match_recipient(
    session: Session, found: Candidates, recipient: Recipient, *, only_recipient: bool
) -> Match:
    """The outbox row for one recipient of the report.

    A report about several recipients (rare: Outreach sends one recipient per message) uses the
    Message-ID or VERP row only for the recipient whose address it was sent to.
    """
    for row, how in ((found.by_message_id, BY_MESSAGE_ID), (found.by_verp, BY_VERP)):
        if row is not None and (
            only_recipient or not recipient.address or same_address(row.email, recipient.address)
        ):
            return Match(row, how)
    if recipient.address:
        row = latest_for_address(session, recipient.address)
        if row is not None:
            return Match(row, BY_ADDRESS)
    return Match(None)


def latest_for_address(session: Session, address: str) -> OutboxMessage | None:
    """The newest outbox row sent to `address`: through its contact first (indexed), else by
    the address kept on the row (a contact that changed address or was erased)."""
    key = email_key(address)
    contact_ids = select(Contact.id).where(Contact.email_hash == hash_email_key(key))
    newest = (OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    row = session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.contact_id.in_(contact_ids))
        .order_by(*newest)
        .limit(1)
    )
    if row is not None and email_key(row.email) == key:
        return row
    return session.scalar(
        select(OutboxMessage)
        .where(func.lower(OutboxMessage.email) == address.strip().lower())
        .order_by(*newest)
        .limit(1)
    )


def same_address(first: str, second: str) -> bool:
    return email_key(first) == email_key(second)


def unmatched_reason(found: Candidates, recipient: Recipient, mail_domain: str) -> str:
    """Why nothing matched, naming what was tried."""
    tried = []
    if found.message_ids:
        tried.append(f"no outbox row has Message-ID {', '.join(found.message_ids[:3])}")
    else:
        tried.append("the original Message-ID is not in the report")
    if found.verp_ids:
        tried.append(
            "no outbox row has the id of "
            + ", ".join(f"bounces+{n}@{mail_domain}" for n in found.verp_ids[:3])
        )
    else:
        tried.append(f"no VERP address (bounces+ID@{mail_domain}) was found")
    if recipient.address:
        tried.append(f"nothing was sent to {recipient.address}")
    else:
        tried.append("no recipient address could be read")
    return "Not matched to a message we sent: " + "; ".join(tried) + "."
