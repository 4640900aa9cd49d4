"""Read one message from the bounce mailbox into a `Report`. Pure: no database, no config.

Order of the checks: an RFC 3464 `message/delivery-status` part (any MTA that follows the
standard: Postfix, Exim 4.9x, Sendmail, Exchange, Gmail...), then an RFC 5965
`message/feedback-report` (spam complaints from feedback loops), then a text bounce recognised by
its sender or subject and read with patterns (classic Exim, qmail, mangled forwards), then an
auto-reply (ignored), then anything left: unreadable, kept with a problem.
"""

from __future__ import annotations

import email
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

# Report kinds.
DSN = "dsn"
COMPLAINT = "complaint"
TEXT = "text"
AUTOREPLY = "autoreply"
IGNORED = "ignored"
UNREADABLE = "unreadable"

# What `classify` says about one recipient of a report.
HARD = "hard"
SOFT = "soft"
DELAYED = "delayed"
IGNORE = "ignore"
UNKNOWN = "unknown"

SUCCESS_ACTIONS = ("delivered", "relayed", "expanded")
# RFC 5965 feedback types that are a recipient's complaint; "not-spam", "auth-failure" (DMARC
# forensic reports) and the like are not.
COMPLAINT_TYPES = ("abuse", "fraud", "virus", "other")
STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
FEEDBACK_TYPES = ("message/feedback-report",)
ORIGINAL_TYPES = (
    "message/rfc822",
    "message/global",
    "text/rfc822-headers",
    "message/rfc822-headers",
    "message/global-headers",
)
MAX_DIAGNOSTIC = 1000
SNIPPET = 400

ADDRESS_RE = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# An RFC 3463 code in a Status field (2.x.x allowed) and in free text (4 or 5, subject 0-7, so a
# version number such as "4.96.2" is not taken for one).
STATUS_FIELD_RE = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})")
TEXT_STATUS_RE = re.compile(r"(?<![\d.])#?([45])\.([0-7])\.(\d{1,3})(?!\d)(?!\.\d)")
SMTP_CODE_RE = re.compile(r"(?<![\w.#])([45][0-5]\d)(?=[ -]|$)", re.M)
MESSAGE_ID_RE = re.compile(r"^[ \t]*Message-ID:[ \t]*(<[^<>\s]+>)", re.I | re.M)
ORIGINAL_MARKER_RE = re.compile(
    r"^[ \t]*(?:-{2,}.*(?:copy of (?:the|your) message|original message|returned message"
    r"|message headers|below this line|undelivered message)"
    r"|original message headers:|content-type:\s*message/rfc822)",
    re.I | re.M,
)
BOUNCE_SENDER_RE = re.compile(
    r"^(?:mailer-daemon|mailer_daemon|mail-daemon|mailerdaemon|postmaster|mdaemon|mail\.delivery)"
    r"(?:@|$)",
    re.I,
)
BOUNCE_SUBJECT_RE = re.compile(
    r"undeliver|delivery (?:status notification|failure|failed|has failed|problem|report)"
    r"|mail delivery (?:failed|failure|system|subsystem)|returned mail|failure notice"
    r"|could not be delivered|non[- ]?delivery|delivery notification|unzustellbar"
    r"|nicht zustellbar|non remis|no se puede entregar|non recapitabile",
    re.I,
)
AUTOREPLY_SUBJECT_RE = re.compile(
    r"^\s*(?:automatic reply|auto(?:matic)?[- ]?(?:reply|response|antwort)|auto:|out of (?:the )?"
    r"office|ooo\b|abwesen|absence|r[ée]ponse automatique|respuesta autom[aá]tica"
    r"|fuera de la oficina|risposta automatica|afwezig|i am away|on leave)",
    re.I,
)
DELAY_TEXT_RE = re.compile(
    r"\bdelayed\b|will (?:continue|keep) (?:trying|retrying)|still being retried"
    r"|not (?:yet )?been delivered yet|has not yet been delivered",
    re.I,
)
# Phrases of bounces without an RFC 3463 code, in the order they are tried, with the code they
# stand for (the class digit comes from the SMTP reply when there is one).
TEXT_PATTERNS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (
        re.compile(
            r"quota|mailbox (?:is )?full|mailbox size limit|over (?:the )?(?:storage )?limit"
            r"|insufficient (?:system )?storage|exceeded (?:the )?(?:storage|mailbox)",
            re.I,
        ),
        "5",
        "2.2",
    ),
    (
        re.compile(r"temporar|try again later|deferred|greylist|graylist|too many connections",
                   re.I),
        "4",
        "0.0",
    ),
    (
        re.compile(
            r"user unknown|unknown user|no such (?:user|mailbox|recipient|address|account)"
            r"|mailbox (?:unavailable|not found)|(?:does not|doesn't|no longer) exists?"
            r"|address (?:not found|rejected)|recipient (?:not found|unknown|rejected)"
            r"|invalid (?:recipient|mailbox|address)|unknown (?:recipient|address|mailbox)"
            r"|user not found|account (?:has been )?(?:disabled|deactivated|closed|suspended)"
            r"|unrouteable address|undeliverable address|not a valid (?:mailbox|recipient)"
            r"|no mailbox here|bad destination mailbox",
            re.I,
        ),
        "5",
        "1.1",
    ),
    (
        re.compile(r"blocked|blacklist|blocklist|\bspam\b|policy|relay(?:ing)? (?:access )?denied",
                   re.I),
        "5",
        "7.1",
    ),
)


@dataclass
class Recipient:
    """One recipient of a report: its address and what happened to it."""

    address: str = ""
    action: str = ""
    status: str = ""
    diagnostic: str = ""
    smtp_code: int | None = None


@dataclass
class Report:
    kind: str
    recipients: list[Recipient] = field(default_factory=list)
    # The original message's Message-ID, as candidates in order of trust.
    message_ids: list[str] = field(default_factory=list)
    # Texts in which a VERP address may be found, in order of trust (headers, then the body).
    verp_sources: list[str] = field(default_factory=list)
    date: datetime | None = None
    own_message_id: str = ""
    subject: str = ""
    sender: str = ""
    feedback_type: str = ""
    problem: str = ""
    snippet: str = ""


def parse_report(raw: bytes) -> Report:
    """Parse one message; never raises (what cannot be read becomes an UNREADABLE report)."""
    if not raw or not raw.strip():
        return Report(UNREADABLE, problem="The message is empty.")
    try:
        msg = email.message_from_bytes(raw, policy=policy.compat32)
        return _parse(msg)
    except Exception as exc:  # a mailbox may hold anything; keep it with the reason
        return Report(
            UNREADABLE,
            problem=f"The message could not be read ({type(exc).__name__}: {exc}).",
            snippet=_clean(raw[:SNIPPET].decode("utf-8", "replace")),
        )


def classify(recipient: Recipient) -> str:
    """HARD, SOFT, DELAYED, IGNORE (a success notice) or UNKNOWN (no usable status)."""
    if recipient.action in SUCCESS_ACTIONS:
        return IGNORE
    if recipient.action == "delayed":
        return DELAYED
    status = recipient.status
    if status.startswith("5."):
        return SOFT if is_repeat_limited(status) else HARD
    if status.startswith("4."):
        return SOFT
    return UNKNOWN


def is_repeat_limited(status: str) -> bool:
    """Permanent codes that say nothing final about the address, so only repeats suppress it.

    X.2.2 mailbox full and X.7.x policy blocks (spam filters, reputation, authentication) as the
    email rules require; also X.2.3 and X.3.4, a message too large, which is about the message.
    """
    return status in ("5.2.2", "5.2.3", "5.3.4") or status.startswith("5.7.")


# --- parsing -------------------------------------------------------------------------------------


def _parse(msg: Message) -> Report:
    subject = _decoded(msg.get("Subject"))
    sender = parseaddr(_decoded(msg.get("From")))[1]
    report = Report(
        UNREADABLE,
        date=_date(msg.get("Date")),
        own_message_id=_message_id(msg.get("Message-ID")),
        subject=subject,
        sender=sender,
    )
    parts = list(_parts(msg))
    original = _original_headers(parts)
    report.message_ids = _reply_ids(msg)
    if original is not None:
        report.message_ids.insert(0, _message_id(original.get("Message-ID")))
    report.verp_sources = _envelope_headers(msg)
    if original is not None:
        report.verp_sources.append(original.get("Return-Path", ""))
    body = _body_text(parts)
    report.snippet = _snippet(subject, body)

    status_part = _first(parts, STATUS_TYPES)
    if status_part is not None and _read_dsn(report, status_part):
        return _finish(report, body)
    feedback_part = _first(parts, FEEDBACK_TYPES)
    if feedback_part is not None:
        _read_feedback(report, feedback_part, original)
        return _finish(report, body)
    looks_like_bounce = bool(
        BOUNCE_SENDER_RE.match(sender) or BOUNCE_SUBJECT_RE.search(subject)
        or msg.get("X-Failed-Recipients")
    )
    if not looks_like_bounce and _is_autoreply(msg, subject):
        report.kind = AUTOREPLY
        return report
    _read_text(report, msg, body, looks_like_bounce)
    return _finish(report, body)


def _finish(report: Report, body: str) -> Report:
    diagnostic_text, original_text = _split_original(body)
    report.message_ids += MESSAGE_ID_RE.findall(original_text or diagnostic_text)
    report.message_ids = [
        mid for mid in dict.fromkeys(report.message_ids) if mid and mid != report.own_message_id
    ]
    report.verp_sources = [text for text in report.verp_sources if text] + [body]
    return report


def _read_dsn(report: Report, part: Message) -> bool:
    """Fill a DSN report; False when the status part holds no recipient (then read as text)."""
    per_message: dict[str, str] = {}
    recipients = []
    for block in _field_blocks(part):
        if {"final-recipient", "original-recipient", "action", "status"} & block.keys():
            recipients.append(_dsn_recipient(block))
        else:
            per_message = {**block, **per_message}
    if not recipients:
        return False
    report.kind = DSN
    report.recipients = recipients
    if per_message.get("x-original-message-id"):
        report.message_ids.append(_message_id(per_message["x-original-message-id"]))
    report.verp_sources.append(per_message.get("x-postfix-sender", ""))
    report.date = report.date or _date(per_message.get("arrival-date"))
    return True


def _dsn_recipient(block: dict[str, str]) -> Recipient:
    address = ""
    for name in ("final-recipient", "x-actual-recipient", "original-recipient"):
        address = _typed_address(block.get(name, ""))
        if address:
            break
    words = block.get("action", "").lower().split()
    diagnostic = re.sub(r"^\s*[\w.-]+\s*;\s*", "", block.get("diagnostic-code", ""))
    status = _status_field(block.get("status", ""))
    in_text = _text_status(diagnostic)
    if in_text and (not status or (status.endswith(".0.0") and in_text[0] == status[0])):
        status = in_text
    smtp_code = _smtp_code(diagnostic)
    if not status and smtp_code:
        status = f"{smtp_code // 100}.0.0"
    return Recipient(
        address=address,
        action=words[0] if words else "",
        status=status,
        diagnostic=_clean(diagnostic or block.get("status", ""))[:MAX_DIAGNOSTIC],
        smtp_code=smtp_code,
    )


def _read_feedback(report: Report, part: Message, original: Message | None) -> None:
    fields = _feedback_fields(part)
    feedback_type = (fields.get("feedback-type") or ["abuse"])[0].strip().lower()
    report.feedback_type = feedback_type
    report.verp_sources[:0] = fields.get("original-mail-from", [])
    report.date = report.date or _date((fields.get("arrival-date") or [None])[0])
    if feedback_type not in COMPLAINT_TYPES:
        report.kind = IGNORED
        report.problem = f"A feedback report of type {feedback_type!r} is not a complaint."
        return
    report.kind = COMPLAINT
    addresses = [_bare(value) for value in fields.get("original-rcpt-to", [])]
    if not any(addresses) and original is not None:
        addresses = [addr for _, addr in getaddresses(original.get_all("To", []))]
    agent = (fields.get("user-agent") or [""])[0].strip()
    diagnostic = f"Spam complaint (Feedback-Type: {feedback_type})"
    if agent:
        diagnostic += f" reported by {agent}"
    source_ip = (fields.get("source-ip") or [""])[0].strip()
    if source_ip:
        diagnostic += f" for a message sent from {source_ip}"
    report.recipients = [
        Recipient(address=addr, diagnostic=diagnostic) for addr in addresses if addr
    ] or [Recipient(diagnostic=diagnostic)]


def _read_text(report: Report, msg: Message, body: str, looks_like_bounce: bool) -> None:
    diagnostic_text, _ = _split_original(body)
    lines = [line.strip() for line in diagnostic_text.splitlines()]
    finding = _scan_text(lines)
    if not looks_like_bounce and not (finding and finding.coded):
        report.kind = UNREADABLE
        report.problem = (
            "Not a delivery status notification, a complaint or a recognisable bounce: "
            "no report part, no bounce sender or subject, no SMTP error code."
        )
        return
    report.kind = TEXT
    excluded = {addr.lower() for _, addr in getaddresses(msg.get_all("To", []))}
    addresses = [
        addr for _, addr in getaddresses(msg.get_all("X-Failed-Recipients", [])) if addr
    ] or _text_addresses(diagnostic_text, lines, finding.index if finding else None, excluded)
    if finding is None:
        report.problem = "No status code or known reason was found in the bounce text."
    report.recipients = [
        Recipient(
            address=addresses[0] if addresses else "",
            action="delayed" if DELAY_TEXT_RE.search(diagnostic_text) else "failed",
            status=finding.status if finding else "",
            diagnostic=finding.line if finding else _clean(diagnostic_text)[:SNIPPET],
            smtp_code=finding.smtp_code if finding else None,
        )
    ]


@dataclass
class _Finding:
    status: str
    line: str
    smtp_code: int | None
    index: int
    coded: bool  # read from an RFC 3463 code or an SMTP reply code, not only from words


def _scan_text(lines: list[str]) -> _Finding | None:
    """The status of a text bounce: the first RFC 3463 code, else the first known phrase."""
    for index, line in enumerate(lines):
        status = _text_status(line)
        if status:
            return _Finding(status, _clean(line)[:MAX_DIAGNOSTIC], _smtp_code(line), index, True)
    for pattern, klass, detail in TEXT_PATTERNS:
        for index, line in enumerate(lines):
            if pattern.search(line):
                code = _smtp_code(line)
                status = f"{code // 100 if code else klass}.{detail}"
                line = _clean(line)[:MAX_DIAGNOSTIC]
                return _Finding(status, line, code, index, coded=code is not None)
    return None


def _text_addresses(
    text: str, lines: list[str], index: int | None, excluded: set[str]
) -> list[str]:
    """The failed address of a text bounce: on the error line, else the nearest line above it."""

    def usable(addr: str) -> bool:
        lowered = addr.lower()
        return not (
            lowered in excluded
            or BOUNCE_SENDER_RE.match(lowered)
            or lowered.split("@")[0].startswith("bounces+")
        )

    if index is not None:
        for entry in reversed(lines[max(0, index - 4): index + 1]):
            found = [addr for addr in ADDRESS_RE.findall(entry) if usable(addr)]
            if found:
                return found[:1]
    for name in ("final-recipient", "original-recipient"):
        match = re.search(rf"^\s*{name}:\s*(.+)$", text, re.I | re.M)
        if match and usable(_typed_address(match.group(1))):
            return [_typed_address(match.group(1))]
    return [addr for addr in ADDRESS_RE.findall(text) if usable(addr)][:1]


def _is_autoreply(msg: Message, subject: str) -> bool:
    if any(msg.get(name) for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder")):
        return True
    if msg.get("Precedence", "").strip().lower() == "auto_reply":
        return True
    if msg.get("Auto-Submitted", "").strip().lower().startswith("auto-replied"):
        return True
    return bool(AUTOREPLY_SUBJECT_RE.search(subject))


# --- MIME helpers --------------------------------------------------------------------------------


def _parts(msg: Message) -> Iterator[Message]:
    """Every part, descending into multiparts but not into attached messages."""
    yield msg
    if msg.get_content_maintype() == "multipart":
        payload = msg.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                if isinstance(sub, Message):
                    yield from _parts(sub)


def _first(parts: list[Message], types: tuple[str, ...]) -> Message | None:
    return next((part for part in parts if part.get_content_type() in types), None)


def _original_headers(parts: list[Message]) -> Message | None:
    part = _first(parts[1:], ORIGINAL_TYPES)
    if part is None:
        return None
    payload = part.get_payload()
    if isinstance(payload, list):
        return payload[0] if payload and isinstance(payload[0], Message) else None
    text = _part_text(part).lstrip()
    return HeaderParser(policy=policy.compat32).parsestr(text) if text else None


def _field_blocks(part: Message) -> list[dict[str, str]]:
    """The blank-line separated field groups of a delivery-status part (first value per name)."""
    payload = part.get_payload()
    if not isinstance(payload, list):
        return _parse_blocks(_part_text(part))
    blocks = []
    for sub in payload:
        if not isinstance(sub, Message):
            continue
        block: dict[str, str] = {}
        for name, value in sub.items():
            block.setdefault(name.lower(), _unfold(value))
        if block:
            blocks.append(block)
        rest = sub.get_payload()
        if isinstance(rest, str) and rest.strip():
            blocks += _parse_blocks(rest)
    return blocks


def _parse_blocks(text: str) -> list[dict[str, str]]:
    blocks = []
    for chunk in re.split(r"\r?\n[ \t]*\r?\n", text):
        block: dict[str, str] = {}
        for name, value in _fields_of(chunk):
            block.setdefault(name, value)
        if block:
            blocks.append(block)
    return blocks


def _fields_of(chunk: str) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for line in chunk.splitlines():
        if line[:1] in (" ", "\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, f"{value} {line.strip()}")
        elif ":" in line:
            name, _, value = line.partition(":")
            fields.append((name.strip().lower(), value.strip()))
    return fields


def _feedback_fields(part: Message) -> dict[str, list[str]]:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        pairs = [(name.lower(), _unfold(value)) for name, value in payload[0].items()]
    else:
        pairs = _fields_of(_part_text(part))
    fields: dict[str, list[str]] = {}
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    return fields


def _part_text(part: Message) -> str:
    data = part.get_payload(decode=True)
    if data is None:
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def _body_text(parts: list[Message]) -> str:
    plain = [_part_text(p) for p in parts if p.get_content_type() == "text/plain"]
    if plain:
        return "\n".join(plain)
    markup = [_part_text(p) for p in parts if p.get_content_type() == "text/html"]
    if markup:
        text = re.sub(r"(?is)<(script|style).*?</\1>|<br\s*/?>|</p>|</div>|</tr>", "\n",
                      "\n".join(markup))
        return html.unescape(re.sub(r"<[^>]+>", " ", text))
    if len(parts) == 1 and parts[0].get_content_maintype() in ("text", "application"):
        return _part_text(parts[0])
    return ""


def _split_original(body: str) -> tuple[str, str]:
    """(the bounce's own words, the copy of the original message that follows them)."""
    marker = ORIGINAL_MARKER_RE.search(body)
    if marker is None:
        return body, ""
    return body[: marker.start()], body[marker.start():]


def _envelope_headers(msg: Message) -> list[str]:
    names = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
    return [_unfold(value) for name in names for value in msg.get_all(name, [])]


def _reply_ids(msg: Message) -> list[str]:
    ids = []
    for name in ("In-Reply-To", "References"):
        for value in msg.get_all(name, []):
            ids += re.findall(r"<[^<>\s]+>", value)
    return ids


# --- small value helpers -------------------------------------------------------------------------


def _unfold(value) -> str:
    return _clean(str(value))


def _clean(text: str) -> str:
    """One line of printable text (NUL and control characters cannot be stored everywhere)."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def _decoded(value) -> str:
    if value is None:
        return ""
    try:
        return _unfold(make_header(decode_header(str(value))))
    except Exception:  # undecodable encoded-words: keep the raw text
        return _unfold(value)


def _message_id(value) -> str:
    if not value:
        return ""
    match = re.search(r"<[^<>\s]+>", str(value))
    if match:
        return match.group(0)
    text = str(value).strip()
    return f"<{text}>" if text and " " not in text else ""


def _date(value) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _typed_address(value: str) -> str:
    """`rfc822; user@example.org` (or `<user@example.org>`, or a bare address) -> the address."""
    text = value.split(";", 1)[1] if ";" in value else value
    return _bare(text)


def _bare(value: str) -> str:
    match = ADDRESS_RE.search(value or "")
    return match.group(0) if match else ""


def _status_field(value: str) -> str:
    match = STATUS_FIELD_RE.search(value or "")
    if not match:
        return ""
    return ".".join(str(int(group)) for group in match.groups())


def _text_status(text: str) -> str:
    match = TEXT_STATUS_RE.search(text or "")
    if not match:
        return ""
    return ".".join(str(int(group)) for group in match.groups())


def _smtp_code(text: str) -> int | None:
    match = SMTP_CODE_RE.search(text or "")
    return int(match.group(1)) if match else None


def _snippet(subject: str, body: str) -> str:
    text = _clean(body)[:SNIPPET]
    return f"Subject: {subject}. {text}".strip() if subject else text
