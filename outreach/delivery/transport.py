"""One persistent SMTP connection per worker, and what each reply means for the outbox row.

Flask-Mail supplies the settings and the connection (`mail.connect()`; its `.host` is the
`smtplib.SMTP`). The transport speaks MAIL / RCPT / DATA itself so that it knows which step a
reply answers and keeps the server's final reply (its queue id) for the row. `send` waits for each
message's outcome; `submit` and `flush` (the worker's) pipeline across messages on a server that
offers PIPELINING: one round trip per message instead of two.

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
        self.in_flight: tuple[object, BuiltMessage] | None = None  # body sent, reply unread

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
        """End the connection (a message still in flight gets no outcome: `flush` first)."""
        host, self.host = self.host, None
        self.in_flight = None
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
        return self._sent(code, reply)

    # -- sending a stream of messages (pipelined across messages)

    def submit(self, message: BuiltMessage, tag: object) -> list[tuple[object, Outcome]]:
        """Send `message` without waiting for the server's final reply to it; returns the
        outcomes known so far as (tag, outcome), in the order submitted.

        On a server offering PIPELINING (RFC 2920) this message's MAIL, RCPT and DATA follow the
        previous message's body before any reply is read, so the server takes in one message
        while the worker builds the next: one round trip per message. Elsewhere, and for an
        SMTPUTF8 message, this is `send`. `flush` collects the last reply.
        """
        if self.suppressed or message.smtputf8:
            return [*self.flush(), (tag, self.send(message))]
        try:
            host = self.open()
            if not host.has_extn("pipelining"):
                return [*self.flush(), (tag, self.send(message))]
            self._write_envelope(host, message, [])
        except (smtplib.SMTPException, OSError):
            return [*self._resend_in_flight(), (tag, self.send(message))]
        done = self.flush()
        if self.host is not host:  # the connection ended with the previous message
            return [*done, (tag, self.send(message))]
        try:
            outcome = self._envelope_replies(host)
            if outcome is not None:
                return [*done, (tag, outcome)]
            _write_body(host, message.data)
        except (smtplib.SMTPException, OSError):
            self.close()
            return [*done, (tag, self.send(message))]  # reconnects once, as `send` does
        self.in_flight = (tag, message)
        if self.sent_on_connection + 1 >= self.max_per_connection:
            done += self.flush()
        return done

    def flush(self) -> list[tuple[object, Outcome]]:
        """The outcome of the message still waiting for its final reply, if any."""
        if self.in_flight is None:
            return []
        tag, message = self.in_flight
        try:
            code, reply = self.host.getreply()
        except (smtplib.SMTPException, OSError):
            return self._resend_in_flight()
        self.in_flight = None
        if not 200 <= code < 300:  # the transaction is over: no RSET (commands may follow)
            outcome = classify(code, reply, "data")
            if outcome.kind == UNAVAILABLE:
                self.close()
            return [(tag, outcome)]
        return [(tag, self._sent(code, reply))]

    def _resend_in_flight(self) -> list[tuple[object, Outcome]]:
        """The connection failed with a body sent and its reply unread: send that message
        again on a new connection, as `send` does with a connection lost mid-message."""
        in_flight, self.in_flight = self.in_flight, None
        self.close()
        if in_flight is None:
            return []
        tag, message = in_flight
        return [(tag, self.send(message))]

    def _sent(self, code: int, reply: bytes) -> Outcome:
        self.sent_on_connection += 1
        if self.sent_on_connection >= self.max_per_connection:
            self.close()
        return Outcome(SENT, code, _text(code, reply))

    @staticmethod
    def _write_envelope(host: smtplib.SMTP, message: BuiltMessage, options: list[str]) -> None:
        parameters = "".join(f" {option}" for option in options)
        # The addresses come from `encode_address`: no spaces or angle brackets to quote.
        commands = (
            f"MAIL FROM:<{message.envelope_from}>{parameters}\r\n"
            f"RCPT TO:<{message.recipient}>\r\nDATA\r\n"
        )
        host.send(commands.encode("utf-8" if message.smtputf8 else "ascii"))

    def _envelope_replies(self, host: smtplib.SMTP) -> Outcome | None:
        """Read the replies to a pipelined MAIL, RCPT and DATA: None when the server waits for
        the body, else the outcome of the refusal."""
        replies = [host.getreply() for _ in range(3)]
        (mail_code, mail_reply), (rcpt_code, rcpt_reply), (data_code, data_reply) = replies
        if data_code == 354 and (mail_code != 250 or rcpt_code not in (250, 251)):
            host.send(b".\r\n")  # a server that accepted DATA anyway: send an empty message
            host.getreply()
        if mail_code != 250:
            return self._refused(mail_code, mail_reply, "mail")
        if rcpt_code not in (250, 251):
            return self._refused(rcpt_code, rcpt_reply, "rcpt")
        if data_code != 354:
            return self._refused(data_code, data_reply, "data")
        return None

    def _pipelined(self, host: smtplib.SMTP, message: BuiltMessage, options: list[str]):
        """MAIL, RCPT and DATA in one write (RFC 2920), then the message: two round trips
        instead of four. Returns the final (code, reply), or an Outcome for a refusal."""
        self._write_envelope(host, message, options)
        outcome = self._envelope_replies(host)
        if outcome is not None:
            return outcome, b""
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


def _write_body(host: smtplib.SMTP, data: bytes) -> None:
    """The message after a 354, dot-stuffed and ended. Messages from `MessageFactory` end every
    line with CRLF, so stuffing is a plain replace (smtplib runs a regular expression over the
    whole message instead)."""
    if data.startswith(b"."):
        data = b"." + data
    data = data.replace(b"\r\n.", b"\r\n..")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    host.send(data + b".\r\n")


def _send_body(host: smtplib.SMTP, data: bytes) -> tuple[int, bytes]:
    """The message after a 354, and the server's final reply."""
    _write_body(host, data)
    return host.getreply()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
