"""One persistent SMTP connection per worker, and what each reply means for the outbox row.

Flask-Mail supplies the settings and the connection (`mail.connect()`; its `.host` is the
`smtplib.SMTP`). The transport speaks MAIL / RCPT / DATA itself so that it knows which step a
reply answers and keeps the server's final reply (its queue id) for the row.

Outcomes:
- `sent`: 2xx after DATA.
- `temporary`: a 4xx reply to this message: retry later with backoff.
- `permanent`: a 5xx reply to this message: failed, never retried; `hard_bounce` when the reply
  says the address does not exist (5.1.x, or 550/551/553 without an enhanced status code).
- `blocked`: the server refused our envelope sender (5xx to MAIL FROM): not the recipient's fault,
  so the row is queued again; it counts towards pausing the campaign.
- `unavailable`: no connection, a dropped connection or 421: the server is down or busy; the
  batch goes back to the queue and the worker waits.
- `invalid`: the message cannot be sent to this address at all (e.g. a non-ASCII local part and
  a server without SMTPUTF8).
"""

from __future__ import annotations

import logging
import re
import smtplib
from dataclasses import dataclass

from outreach.delivery.message import BuiltMessage

log = logging.getLogger(__name__)

SENT = "sent"
TEMPORARY = "temporary"
PERMANENT = "permanent"
BLOCKED = "blocked"
UNAVAILABLE = "unavailable"
INVALID = "invalid"

_ENHANCED = re.compile(rb"\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
HARD_BOUNCE_CODES = (550, 551, 553)


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str
    code: int | None = None
    reply: str = ""
    hard_bounce: bool = False

    @property
    def is_rejection(self) -> bool:
        """A reply refusing this message (counts towards pausing the campaign)."""
        return self.kind in (TEMPORARY, PERMANENT, BLOCKED)


def is_hard_bounce(code: int, reply: bytes) -> bool:
    """The address does not exist: enhanced status 5.1.x, else a bare 550, 551 or 553."""
    match = _ENHANCED.match(reply or b"")
    if match:
        return match.group(1) == b"5" and match.group(2) == b"1"
    return code in HARD_BOUNCE_CODES


def _text(code: int | None, reply: bytes | str) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    reply = " ".join(reply.split())
    return f"{code} {reply}".strip() if code is not None else reply


def classify(code: int, reply: bytes, step: str) -> Outcome:
    """The outcome of a non-2xx reply to MAIL, RCPT or DATA."""
    text = _text(code, reply)
    if code == 421:
        return Outcome(UNAVAILABLE, code, text)
    if 400 <= code < 500:
        return Outcome(TEMPORARY, code, text)
    if step == "mail":
        return Outcome(BLOCKED, code, text)
    return Outcome(PERMANENT, code, text, hard_bounce=is_hard_bounce(code, reply))


class SmtpTransport:
    """Sends prebuilt messages over one connection, reconnecting when needed."""

    def __init__(self, *, timeout: float = 60, max_per_connection: int = 1000):
        from outreach.extensions import mail

        self.connection = mail.connect()
        self.suppressed = bool(self.connection.mail.suppress)
        self.timeout = timeout
        self.max_per_connection = max(1, int(max_per_connection or 1))
        self.host: smtplib.SMTP | None = None
        self.sent_on_connection = 0
        self.connections_opened = 0

    # -- connection

    def open(self) -> smtplib.SMTP:
        if self.host is None:
            host = self.connection.configure_host()
            if host.sock is not None:
                host.sock.settimeout(self.timeout)
            host.timeout = self.timeout
            host.ehlo_or_helo_if_needed()
            self.host = host
            self.connection.host = host
            self.sent_on_connection = 0
            self.connections_opened += 1
        return self.host

    def close(self) -> None:
        host, self.host = self.host, None
        self.connection.host = None
        if host is None:
            return
        try:
            host.quit()
        except (smtplib.SMTPException, OSError):
            host.close()

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- sending

    def send(self, message: BuiltMessage) -> Outcome:
        if self.suppressed:
            return Outcome(SENT, None, "not sent: MAIL_SUPPRESS_SEND is on")
        reused = self.host is not None
        try:
            return self._send_once(message)
        except smtplib.SMTPAuthenticationError as exc:
            self.close()
            return Outcome(UNAVAILABLE, exc.smtp_code, _text(exc.smtp_code, exc.smtp_error))
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            if not reused:
                return Outcome(UNAVAILABLE, None, f"SMTP server unavailable: {_describe(exc)}")
            log.info("SMTP connection lost (%s); reconnecting", _describe(exc))
        # A kept-alive connection may have been closed by the server while idle: try once more.
        try:
            return self._send_once(message)
        except smtplib.SMTPAuthenticationError as exc:
            self.close()
            return Outcome(UNAVAILABLE, exc.smtp_code, _text(exc.smtp_code, exc.smtp_error))
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            return Outcome(UNAVAILABLE, None, f"SMTP server unavailable: {_describe(exc)}")

    def _send_once(self, message: BuiltMessage) -> Outcome:
        host = self.open()
        options: list[str] = []
        if message.smtputf8:
            if not host.has_extn("smtputf8"):
                return Outcome(
                    INVALID,
                    None,
                    "The address has a non-ASCII local part and the SMTP server does not "
                    "offer SMTPUTF8.",
                )
            options.append("SMTPUTF8")
        if host.has_extn("pipelining"):
            code, reply = self._pipelined(host, message, options)
            if isinstance(code, Outcome):
                return code
        else:
            code, reply = host.mail(message.envelope_from, options)
            if code != 250:
                return self._refused(code, reply, "mail")
            code, reply = host.rcpt(message.recipient)
            if code not in (250, 251):
                return self._refused(code, reply, "rcpt")
            code, reply = host.docmd("DATA")
            if code != 354:
                return self._refused(code, reply, "data")
            code, reply = _send_body(host, message.data)
        if not 200 <= code < 300:
            return self._refused(code, reply, "data")
        self.sent_on_connection += 1
        if self.sent_on_connection >= self.max_per_connection:
            self.close()
        return Outcome(SENT, code, _text(code, reply))

    def _pipelined(self, host: smtplib.SMTP, message: BuiltMessage, options: list[str]):
        """MAIL, RCPT and DATA in one write (RFC 2920), then the message: two round trips
        instead of four. Returns the final (code, reply), or an Outcome for a refusal."""
        parameters = "".join(f" {option}" for option in options)
        # The addresses come from `encode_address`: no spaces or angle brackets to quote.
        commands = (
            f"MAIL FROM:<{message.envelope_from}>{parameters}\r\n"
            f"RCPT TO:<{message.recipient}>\r\nDATA\r\n"
        )
        host.send(commands.encode("utf-8" if message.smtputf8 else "ascii"))
        replies = [host.getreply() for _ in range(3)]
        (mail_code, mail_reply), (rcpt_code, rcpt_reply), (data_code, data_reply) = replies
        if data_code == 354 and (mail_code != 250 or rcpt_code not in (250, 251)):
            host.send(b".\r\n")  # a server that accepted DATA anyway: send an empty message
            host.getreply()
        if mail_code != 250:
            return self._refused(mail_code, mail_reply, "mail"), b""
        if rcpt_code not in (250, 251):
            return self._refused(rcpt_code, rcpt_reply, "rcpt"), b""
        if data_code != 354:
            return self._refused(data_code, data_reply, "data"), b""
        return _send_body(host, message.data)

    def _refused(self, code: int, reply: bytes, step: str) -> Outcome:
        outcome = classify(code, reply, step)
        if outcome.kind == UNAVAILABLE:
            self.close()
            return outcome
        try:
            self.open().rset()
        except (smtplib.SMTPException, OSError):
            self.close()
        return outcome


def _send_body(host: smtplib.SMTP, data: bytes) -> tuple[int, bytes]:
    """The message after a 354, dot-stuffed, and the server's final reply. Messages from
    `MessageFactory` end every line with CRLF, so stuffing is a plain replace (smtplib runs a
    regular expression over the whole message instead)."""
    if data.startswith(b"."):
        data = b"." + data
    data = data.replace(b"\r\n.", b"\r\n..")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    host.send(data + b".\r\n")
    return host.getreply()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
