"""Transactional messages (confirmation links): queued on the database session, sent after commit.

A message is never sent for a transaction that rolls back, and the request that queued it has
already committed when the SMTP conversation starts. Campaigns, alerts and digests do not come here:
they go through the delivery engine's outbox.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from outreach.extensions import mail

log = logging.getLogger(__name__)
PENDING_KEY = "outreach.pending_mail"


def queue_after_commit(session: Session, message: EmailMessage) -> None:
    """Send `message` once `session` commits (dropped if it rolls back)."""
    if "Message-ID" not in message:
        message["Message-ID"] = make_msgid(domain=current_app.config["MAIL_DOMAIN"])
    if "Date" not in message:
        message["Date"] = formatdate(localtime=False)
    if "From" not in message:
        message["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    session.info.setdefault(PENDING_KEY, []).append(message)


def send_now(messages: list[EmailMessage]) -> int:
    """Send over one SMTP connection; failures are logged, never raised to the user's request."""
    state = current_app.extensions["mail"]
    if state.suppress:
        return 0
    sent = 0
    try:
        with mail.connect() as connection:
            for message in messages:
                try:
                    connection.host.send_message(message)
                    sent += 1
                except smtplib.SMTPException:
                    log.exception("Could not send %r to %s", message["Subject"], message["To"])
    except (OSError, smtplib.SMTPException):
        log.exception("SMTP unreachable; %d transactional message(s) not sent", len(messages))
    return sent


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    messages = session.info.pop(PENDING_KEY, None)
    if messages:
        send_now(messages)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction) -> None:
    session.info.pop(PENDING_KEY, None)
