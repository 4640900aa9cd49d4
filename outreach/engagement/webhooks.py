"""Bounce and complaint webhooks of SMTP relays: verify the provider's signature, read its events,
and record each through `bounces.services.record_report` (same records and suppression as the
bounce mailbox). Functions flush; the view commits.

- Amazon SES through SNS: the SNS message signature (SignatureVersion 1: SHA1, 2: SHA256) checked
  with the certificate at SigningCertURL, fetched only over https from `sns.<region>.amazonaws.com`
  (kept in `CERTIFICATES`); optionally only from topics in WEBHOOK_SES_TOPIC_ARNS. A
  SubscriptionConfirmation is recorded for staff with its confirmation URL.
- SendGrid: the signed event webhook (ECDSA P-256 over timestamp + body, public key in
  WEBHOOK_SENDGRID_PUBLIC_KEY).
- Postmark: HTTP basic auth with WEBHOOK_POSTMARK_USERNAME / WEBHOOK_POSTMARK_PASSWORD.
- Mailgun: HMAC-SHA256 of timestamp + token with WEBHOOK_MAILGUN_SIGNING_KEY.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import threading
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from flask import current_app
from sqlalchemy.orm import Session

from outreach.delivery.bounces.services import Tally, record_report
from outreach.engagement.models import WebhookNotice

PROVIDERS = ("ses", "sendgrid", "postmark", "mailgun")
SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
CERTIFICATES: dict[str, bytes] = {}  # SigningCertURL -> PEM, fetched once per process
CERT_TIMEOUT = 10
MAX_CERTIFICATES = 20  # SNS rotates its certificate rarely; a flood of URLs is not cached


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The certificate must come from the SNS host itself, not from wherever it redirects."""

    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(_NoRedirect)


class WebhookError(Exception):
    """A request to refuse: `status` 400 (unreadable), 403 (not signed by the provider) or 404
    (this webhook is not configured)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Event:
    kind: str  # hard, soft, complaint
    address: str
    status: str = ""
    diagnostic: str = ""
    message_id: str = ""
    received_at: datetime | None = None
    feedback_type: str = ""


def _setting(name: str) -> str:
    value = current_app.config.get(name) or ""
    if not value:
        raise WebhookError("This webhook is not configured.", 404)
    return value


def _json(body: bytes):
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookError("The body is not JSON.") from None


def _time(value) -> datetime | None:
    """An ISO 8601 string or a Unix timestamp, as an aware datetime (None if neither)."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _status_code(text: str) -> str:
    found = re.search(r"\b([245]\.\d{1,3}\.\d{1,3})\b", text or "")
    return found.group(1) if found else ""


def record_events(session: Session, provider: str, events: list[Event]) -> Tally:
    tally = Tally()
    for event in events:
        if not event.address:
            continue
        record_report(
            session,
            kind=event.kind,
            address=event.address,
            source=provider,
            status=event.status,
            diagnostic=event.diagnostic,
            message_id=event.message_id,
            received_at=event.received_at,
            feedback_type=event.feedback_type,
            tally=tally,
        )
    return tally


# -- Amazon SES through SNS

SNS_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}


def sns_string_to_sign(message: dict) -> bytes:
    fields = SNS_FIELDS.get(message.get("Type", ""))
    if fields is None:
        raise WebhookError("Unknown SNS message type.")
    parts = []
    for name in fields:
        if name in message and message[name] is not None:
            parts.append(f"{name}\n{message[name]}\n")
        elif name != "Subject":
            raise WebhookError(f"The SNS message has no {name}.")
    return "".join(parts).encode()


def sns_certificate(url: str) -> x509.Certificate:
    parts = urlsplit(url or "")
    if parts.scheme != "https" or not SNS_HOST.match(parts.hostname or "") or parts.port:
        raise WebhookError("The signing certificate is not on an Amazon SNS host.", 403)
    if not parts.path.endswith(".pem"):
        raise WebhookError("The signing certificate URL is not a certificate.", 403)
    pem = CERTIFICATES.get(url)
    if pem is None:
        try:
            with OPENER.open(url, timeout=CERT_TIMEOUT) as response:
                pem = response.read(65536)
        except OSError:
            raise WebhookError("The signing certificate could not be fetched.", 403) from None
        if len(CERTIFICATES) < MAX_CERTIFICATES:
            CERTIFICATES[url] = pem
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise WebhookError("The signing certificate cannot be read.", 403) from None


def _allowed_topics() -> list[str]:
    """The SNS topics whose notifications count. Required: AWS signs every topic's messages, an
    attacker's own topic included, so a valid signature alone proves nothing about the sender."""
    topics = [
        arn.strip()
        for arn in (current_app.config.get("WEBHOOK_SES_TOPIC_ARNS") or "").split(",")
        if arn.strip()
    ]
    if not topics:
        raise WebhookError("Set WEBHOOK_SES_TOPIC_ARNS to the SNS topics to accept.", 403)
    return topics


def verify_sns(message: dict) -> None:
    if message.get("TopicArn") not in _allowed_topics():
        raise WebhookError("Notifications from this SNS topic are not accepted.", 403)
    version = str(message.get("SignatureVersion", ""))
    algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(version)
    if algorithm is None:
        raise WebhookError("Unknown SNS signature version.", 403)
    try:
        signature = base64.b64decode(message.get("Signature") or "", validate=True)
    except (binascii.Error, ValueError):
        raise WebhookError("The SNS signature is not base64.", 403) from None
    certificate = sns_certificate(message.get("SigningCertURL", ""))
    try:
        certificate.public_key().verify(
            signature, sns_string_to_sign(message), padding.PKCS1v15(), algorithm
        )
    except (InvalidSignature, TypeError, ValueError):
        raise WebhookError("The SNS signature does not match.", 403) from None


def ses_events(notification: dict) -> list[Event]:
    kind = notification.get("notificationType") or notification.get("eventType") or ""
    mail = notification.get("mail") or {}
    message_id = (mail.get("commonHeaders") or {}).get("messageId", "")
    for header in mail.get("headers") or []:
        if str(header.get("name", "")).lower() == "message-id":
            message_id = header.get("value", "") or message_id
    events = []
    if kind == "Bounce":
        bounce = notification.get("bounce") or {}
        verdict = "hard" if bounce.get("bounceType") == "Permanent" else "soft"
        for recipient in bounce.get("bouncedRecipients") or []:
            diagnostic = recipient.get("diagnosticCode") or bounce.get("bounceSubType", "")
            events.append(
                Event(
                    verdict,
                    recipient.get("emailAddress", ""),
                    status=recipient.get("status") or _status_code(diagnostic),
                    diagnostic=diagnostic,
                    message_id=message_id,
                    received_at=_time(bounce.get("timestamp")),
                )
            )
    elif kind == "Complaint":
        complaint = notification.get("complaint") or {}
        for recipient in complaint.get("complainedRecipients") or []:
            events.append(
                Event(
                    "complaint",
                    recipient.get("emailAddress", ""),
                    diagnostic=complaint.get("complaintFeedbackType") or "complaint",
                    message_id=message_id,
                    received_at=_time(complaint.get("timestamp")),
                    feedback_type=complaint.get("complaintFeedbackType") or "abuse",
                )
            )
    return events


def _sns_url(url: str) -> str:
    """The confirmation URL if it points at an SNS host over https (shown as a link to staff)."""
    parts = urlsplit(url)
    return url if parts.scheme == "https" and SNS_HOST.match(parts.hostname or "") else ""


def handle_ses(session: Session, body: bytes, headers) -> dict:
    if not current_app.config.get("WEBHOOK_SES_ENABLED"):
        raise WebhookError("This webhook is not configured.", 404)
    message = _json(body)
    if not isinstance(message, dict):
        raise WebhookError("The body is not an SNS message.")
    verify_sns(message)
    kind = message["Type"]
    if kind != "Notification":
        session.add(
            WebhookNotice(
                provider="ses",
                kind="subscription" if kind == "SubscriptionConfirmation" else "unsubscribed",
                topic=str(message.get("TopicArn", ""))[:300],
                confirm_url=_sns_url(str(message.get("SubscribeURL", ""))),
                detail=str(message.get("Message", ""))[:2000],
            )
        )
        session.flush()
        return {"notice": kind}
    notification = _json(str(message.get("Message", "")).encode())
    if not isinstance(notification, dict):
        raise WebhookError("The SNS message is not an SES notification.")
    return {"recorded": record_events(session, "ses", ses_events(notification)).processed}


# -- SendGrid


def verify_sendgrid(body: bytes, headers) -> None:
    key_text = _setting("WEBHOOK_SENDGRID_PUBLIC_KEY")
    signature = headers.get("X-Twilio-Email-Event-Webhook-Signature", "")
    timestamp = headers.get("X-Twilio-Email-Event-Webhook-Timestamp", "")
    if not signature or not timestamp:
        raise WebhookError("The request is not signed.", 403)
    try:
        key = serialization.load_der_public_key(base64.b64decode(key_text))
        raw_signature = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise WebhookError("The signature or the configured key cannot be read.", 403) from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise WebhookError("The configured SendGrid key is not an ECDSA key.", 403)
    try:
        key.verify(raw_signature, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise WebhookError("The signature does not match.", 403) from None


def sendgrid_events(items: list) -> list[Event]:
    events = []
    for item in items:
        if not isinstance(item, dict):
            continue
        name = item.get("event")
        if name == "bounce":
            reason = str(item.get("reason", ""))
            status = str(item.get("status", "")) or _status_code(reason)
            blocked = item.get("type") == "blocked" or status.startswith("4")
            kind = "soft" if blocked else "hard"
        elif name == "spamreport":
            kind, reason, status = "complaint", "spam report", ""
        else:
            continue
        events.append(
            Event(
                kind,
                str(item.get("email", "")),
                status=status,
                diagnostic=reason,
                message_id=str(item.get("smtp-id", "")),
                received_at=_time(item.get("timestamp")),
                feedback_type="abuse" if kind == "complaint" else "",
            )
        )
    return events


def handle_sendgrid(session: Session, body: bytes, headers) -> dict:
    verify_sendgrid(body, headers)
    items = _json(body)
    if not isinstance(items, list):
        raise WebhookError("SendGrid posts a list of events.")
    return {"recorded": record_events(session, "sendgrid", sendgrid_events(items)).processed}


# -- Postmark

POSTMARK_HARD = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated", "Blocked"}
POSTMARK_SOFT = {"SoftBounce", "Transient", "DnsError"}


def verify_postmark(headers) -> None:
    username = _setting("WEBHOOK_POSTMARK_USERNAME")
    password = _setting("WEBHOOK_POSTMARK_PASSWORD")
    given = headers.get("Authorization", "")
    expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise WebhookError("Wrong or missing credentials.", 403)


def postmark_events(item: dict) -> list[Event]:
    kind = item.get("Type", "")
    if item.get("RecordType") == "SpamComplaint" or kind == "SpamComplaint":
        verdict = "complaint"
    elif kind in POSTMARK_HARD:
        verdict = "hard"
    elif kind in POSTMARK_SOFT:
        verdict = "soft"
    else:
        return []
    details = str(item.get("Details") or item.get("Description") or kind)
    return [
        Event(
            verdict,
            str(item.get("Email", "")),
            status=_status_code(details),
            diagnostic=details,
            received_at=_time(item.get("BouncedAt")),
            feedback_type="abuse" if verdict == "complaint" else "",
        )
    ]


def handle_postmark(session: Session, body: bytes, headers) -> dict:
    verify_postmark(headers)
    item = _json(body)
    if not isinstance(item, dict):
        raise WebhookError("Postmark posts one record.")
    return {"recorded": record_events(session, "postmark", postmark_events(item)).processed}


# -- Mailgun

MAILGUN_MAX_AGE = 15 * 60  # seconds a signature stays valid
_SEEN_TOKENS: dict[str, float] = {}
_SEEN_LOCK = threading.Lock()


def verify_mailgun(payload: dict) -> None:
    key = _setting("WEBHOOK_MAILGUN_SIGNING_KEY")
    signature = payload.get("signature") or {}
    if not isinstance(signature, dict):
        raise WebhookError("The request is not signed.", 403)
    timestamp, token = str(signature.get("timestamp", "")), str(signature.get("token", ""))
    given = str(signature.get("signature", ""))
    expected = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    if not timestamp or not token or not hmac.compare_digest(given, expected):
        raise WebhookError("The signature does not match.", 403)
    # The signature covers the timestamp and token only, not the event: refuse old or reused ones.
    try:
        age = abs(datetime.now(UTC).timestamp() - float(timestamp))
    except ValueError:
        raise WebhookError("The signature's timestamp is not a number.", 403) from None
    if age > MAILGUN_MAX_AGE:
        raise WebhookError("The signature is too old.", 403)
    if not remember_token(token):
        raise WebhookError("This signature was already used.", 403)


def remember_token(token: str) -> bool:
    """False if `token` was seen within the freshness window (by this process)."""
    now = time.monotonic()
    with _SEEN_LOCK:
        for old, seen_at in list(_SEEN_TOKENS.items()):
            if now - seen_at > MAILGUN_MAX_AGE:
                del _SEEN_TOKENS[old]
        if token in _SEEN_TOKENS:
            return False
        _SEEN_TOKENS[token] = now
        return True


def _smtp_class(code) -> str:
    """ "5.0.0" for an SMTP 5xx reply code (Mailgun's own 6xx codes are not SMTP)."""
    return f"{code // 100}.0.0" if isinstance(code, int) and 400 <= code < 600 else ""


def mailgun_events(data: dict) -> list[Event]:
    name = data.get("event")
    status = data.get("delivery-status") or {}
    if name == "failed":
        kind = "hard" if data.get("severity") == "permanent" else "soft"
    elif name == "complained":
        kind = "complaint"
    else:
        return []
    diagnostic = str(status.get("description") or status.get("message") or data.get("reason", ""))
    code = status.get("code")
    headers = (data.get("message") or {}).get("headers") or {}
    return [
        Event(
            kind,
            str(data.get("recipient", "")),
            status=_status_code(diagnostic) or _smtp_class(code),
            diagnostic=diagnostic or kind,
            message_id=str(headers.get("message-id", "")),
            received_at=_time(data.get("timestamp")),
            feedback_type="abuse" if kind == "complaint" else "",
        )
    ]


def handle_mailgun(session: Session, body: bytes, headers) -> dict:
    payload = _json(body)
    if not isinstance(payload, dict):
        raise WebhookError("Mailgun posts one event.")
    verify_mailgun(payload)
    data = payload.get("event-data")
    if not isinstance(data, dict):
        raise WebhookError("The event has no event-data.")
    return {"recorded": record_events(session, "mailgun", mailgun_events(data)).processed}


HANDLERS = {
    "ses": handle_ses,
    "sendgrid": handle_sendgrid,
    "postmark": handle_postmark,
    "mailgun": handle_mailgun,
}
