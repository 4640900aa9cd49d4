"""Provider webhooks with their documented sample payloads: signatures checked, bounces recorded
and suppression applied as for the bounce mailbox."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from outreach.delivery.models import Bounce, OutboxMessage
from outreach.engagement import webhooks
from outreach.engagement.models import WebhookNotice
from outreach.subscriptions.models import Suppression
from tests.factories import make_contact
from tests.test_delivery_support import make_campaign

CERT_URL = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem"
TOPIC = "arn:aws:sns:us-west-2:123456789012:MyTopic"


def sent_row(db_session, email: str, message_id: str | None = None) -> OutboxMessage:
    contact = make_contact(db_session, email)
    campaign = make_campaign(db_session)
    row = OutboxMessage(
        campaign_id=campaign.id,
        contact_id=contact.id,
        email=email,
        status="sent",
        message_id=message_id,
    )
    db_session.add(row)
    db_session.commit()
    return row


def bounces(db_session) -> list[Bounce]:
    db_session.expire_all()
    return list(db_session.scalars(select(Bounce).order_by(Bounce.id)))


def suppression(db_session, email: str) -> str | None:
    db_session.expire_all()
    return db_session.scalar(select(Suppression.reason).where(Suppression.email == email))


# -- Amazon SES through SNS


@pytest.fixture
def sns_key(app):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    webhooks.CERTIFICATES[CERT_URL] = certificate.public_bytes(serialization.Encoding.PEM)
    app.config.update(WEBHOOK_SES_ENABLED=True, WEBHOOK_SES_TOPIC_ARNS=TOPIC)
    yield key
    webhooks.CERTIFICATES.pop(CERT_URL, None)
    app.config.update(WEBHOOK_SES_ENABLED=False, WEBHOOK_SES_TOPIC_ARNS="")


def sns_message(key, kind: str, message: str, version: str = "1", **extra) -> dict:
    envelope = {
        "Type": kind,
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "TopicArn": TOPIC,
        "Message": message,
        "Timestamp": "2012-04-26T20:45:04.751Z",
        "SignatureVersion": version,
        "SigningCertURL": CERT_URL,
        **extra,
    }
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    signed = key.sign(webhooks.sns_string_to_sign(envelope), padding.PKCS1v15(), algorithm)
    envelope["Signature"] = base64.b64encode(signed).decode()
    return envelope


SES_MAIL = {
    "timestamp": "2016-01-27T14:59:38.237Z",
    "source": "john@example.com",
    "messageId": "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
    "destination": ["recipient@example.com"],
    "headersTruncated": False,
    "commonHeaders": {
        "from": ["John Doe <john@example.com>"],
        "date": "Wed, 27 Jan 2016 14:05:45 +0000",
        "to": ["Jane Doe <recipient@example.com>"],
        "messageId": "custom-message-ID",
        "subject": "Hello",
    },
}
SES_BOUNCE = {
    "notificationType": "Bounce",
    "bounce": {
        "feedbackId": "000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000",
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "emailAddress": "recipient@example.com",
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown",
            }
        ],
        "timestamp": "2016-01-27T14:59:38.237Z",
        "remoteMtaIp": "127.0.2.0",
        "reportingMTA": "dsn; a27-23.smtp-out.us-west-2.amazonses.com",
    },
    "mail": SES_MAIL,
}
SES_COMPLAINT = {
    "notificationType": "Complaint",
    "complaint": {
        "userAgent": "AnyCompany Feedback Loop (V0.01)",
        "complainedRecipients": [{"emailAddress": "recipient@example.com"}],
        "complaintFeedbackType": "abuse",
        "arrivalDate": "2016-01-27T14:59:38.237Z",
        "timestamp": "2016-01-27T14:59:38.237Z",
        "feedbackId": "000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000",
    },
    "mail": SES_MAIL,
}


@pytest.mark.parametrize("version", ["1", "2"])
def test_ses_bounce_is_matched_by_message_id_and_suppresses(client, db_session, sns_key, version):
    row = sent_row(db_session, "recipient@example.com", "<custom-message-ID>")
    body = sns_message(sns_key, "Notification", json.dumps(SES_BOUNCE), version)
    response = client.post("/webhooks/ses", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    (bounce,) = bounces(db_session)
    assert (bounce.kind, bounce.source, bounce.status_code, bounce.outbox_id) == (
        "hard",
        "ses",
        "5.1.1",
        row.id,
    )
    assert db_session.get(OutboxMessage, row.id).status == "failed"
    assert suppression(db_session, "recipient@example.com") == "hard_bounce"
    # The same notification again (SNS retries) records nothing new.
    assert client.post("/webhooks/ses", json=body).status_code == 200
    assert len(bounces(db_session)) == 1


def test_ses_complaint_suppresses_at_once(client, db_session, sns_key):
    sent_row(db_session, "recipient@example.com", "<custom-message-ID>")
    body = sns_message(sns_key, "Notification", json.dumps(SES_COMPLAINT))
    assert client.post("/webhooks/ses", json=body).status_code == 200
    assert [b.kind for b in bounces(db_session)] == ["complaint"]
    assert suppression(db_session, "recipient@example.com") == "complaint"


def test_ses_refuses_a_tampered_message_or_a_foreign_certificate(client, db_session, sns_key):
    sent_row(db_session, "recipient@example.com", "<custom-message-ID>")
    body = sns_message(sns_key, "Notification", json.dumps(SES_BOUNCE))
    tampered = {**body, "Message": json.dumps(SES_COMPLAINT)}
    assert client.post("/webhooks/ses", json=tampered).status_code == 403
    for url in (
        "https://sns.us-west-2.amazonaws.com.evil.example/cert.pem",
        "http://sns.us-west-2.amazonaws.com/cert.pem",
        "https://evil.example/sns.us-west-2.amazonaws.com/cert.pem",
    ):
        response = client.post("/webhooks/ses", json={**body, "SigningCertURL": url})
        assert response.status_code == 403
        assert "Amazon SNS host" in response.get_json()["error"]
    assert bounces(db_session) == []
    assert suppression(db_session, "recipient@example.com") is None


def test_ses_topic_allow_list(client, app, db_session, sns_key):
    app.config.update(WEBHOOK_SES_TOPIC_ARNS="arn:aws:sns:eu-west-1:1:other")
    body = sns_message(sns_key, "Notification", json.dumps(SES_BOUNCE))
    assert client.post("/webhooks/ses", json=body).status_code == 403


def test_ses_without_a_topic_list_accepts_nothing(client, app, db_session, sns_key):
    """AWS signs every topic's messages, an attacker's own included: the list is required."""
    app.config.update(WEBHOOK_SES_TOPIC_ARNS="")
    body = sns_message(sns_key, "Notification", json.dumps(SES_BOUNCE))
    response = client.post("/webhooks/ses", json=body)
    assert response.status_code == 403
    assert "WEBHOOK_SES_TOPIC_ARNS" in response.get_json()["error"]
    assert bounces(db_session) == []


def test_sns_subscription_confirmation_is_shown_to_staff(client, staff_client, db_session, sns_key):
    subscribe = (
        "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription"
        f"&TopicArn={TOPIC}&Token=2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92"
    )
    body = sns_message(
        sns_key,
        "SubscriptionConfirmation",
        f"You have chosen to subscribe to the topic {TOPIC}.\nTo confirm the subscription, "
        "visit the SubscribeURL included in this message.",
        Token="2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92",
        SubscribeURL=subscribe,
    )
    assert client.post("/webhooks/ses", json=body).status_code == 200
    (notice,) = db_session.scalars(select(WebhookNotice))
    assert (notice.provider, notice.topic, notice.confirm_url) == ("ses", TOPIC, subscribe)
    page = staff_client.get("/webhooks/notices").get_data(as_text=True)
    assert TOPIC in page and "Action=ConfirmSubscription" in page


def test_ses_is_refused_until_enabled(client):
    assert client.post("/webhooks/ses", json={}).status_code == 404


# -- SendGrid

SENDGRID_EVENTS = [
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "bounce",
        "category": "cat facts",
        "sg_event_id": "6g4ZI7SA-xmRDv57GoPIPw==",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "reason": "500 unknown recipient",
        "status": "5.0.0",
        "type": "bounce",
    },
    {
        "email": "other@test.com",
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce94.dfd.64b469@ismtpd-555>",
        "event": "spamreport",
        "category": "cat facts",
        "sg_event_id": "37nvH5QBz858KGVYCM4uOA==",
        "sg_message_id": "14c5d75ce94.dfd.64b469.filter0001.16648.5515E0B88.0",
    },
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "event": "delivered",
        "sg_event_id": "rWVYmVk90MjZJ9iohOBa3w==",
        "response": "250 OK",
    },
]


@pytest.fixture
def sendgrid_key(app):
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    app.config.update(WEBHOOK_SENDGRID_PUBLIC_KEY=base64.b64encode(public).decode())
    yield key
    app.config.update(WEBHOOK_SENDGRID_PUBLIC_KEY="")


def sendgrid_headers(key, body: bytes, timestamp: str = "1513299600") -> dict:
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }


def test_sendgrid_signed_events(client, db_session, sendgrid_key):
    bounced = sent_row(db_session, "example@test.com", "<14c5d75ce93.dfd.64b469@ismtpd-555>")
    sent_row(db_session, "other@test.com")
    body = json.dumps(SENDGRID_EVENTS).encode()
    response = client.post(
        "/webhooks/sendgrid", data=body, headers=sendgrid_headers(sendgrid_key, body)
    )
    assert response.status_code == 200
    assert response.get_json() == {"recorded": 2}
    kinds = {(b.email, b.kind, b.outbox_id is not None) for b in bounces(db_session)}
    assert kinds == {("example@test.com", "hard", True), ("other@test.com", "complaint", True)}
    assert bounces(db_session)[0].outbox_id == bounced.id
    assert suppression(db_session, "example@test.com") == "hard_bounce"
    assert suppression(db_session, "other@test.com") == "complaint"


def test_sendgrid_refuses_a_bad_signature(client, db_session, sendgrid_key):
    body = json.dumps(SENDGRID_EVENTS).encode()
    headers = sendgrid_headers(sendgrid_key, body)
    headers["X-Twilio-Email-Event-Webhook-Timestamp"] = "1513299601"  # not what was signed
    assert client.post("/webhooks/sendgrid", data=body, headers=headers).status_code == 403
    other = ec.generate_private_key(ec.SECP256R1())
    assert (
        client.post(
            "/webhooks/sendgrid", data=body, headers=sendgrid_headers(other, body)
        ).status_code
        == 403
    )
    assert client.post("/webhooks/sendgrid", data=body).status_code == 403
    assert bounces(db_session) == []


# -- Postmark

POSTMARK_BOUNCE = {
    "RecordType": "Bounce",
    "MessageStream": "outbound",
    "ID": 4323372036854775807,
    "Type": "HardBounce",
    "TypeCode": 1,
    "Name": "Hard bounce",
    "Tag": "Invitation",
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "Metadata": {"a_key": "a_value", "b_key": "b_value"},
    "ServerID": 23,
    "Description": "The server was unable to deliver your message (ex: unknown user, mailbox "
    "not found).",
    "Details": "Test bounce details",
    "Email": "john@example.com",
    "From": "sender@example.com",
    "BouncedAt": "2019-11-05T16:33:54.9070259Z",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": True,
    "Subject": "Test subject",
    "Content": "<Full dump of bounce>",
}
POSTMARK_COMPLAINT = {
    **POSTMARK_BOUNCE,
    "RecordType": "SpamComplaint",
    "ID": 42,
    "Type": "SpamComplaint",
    "TypeCode": 512,
    "Name": "Spam complaint",
    "Description": "",
    "Details": "Test spam complaint details",
    "Email": "jane@example.com",
}


@pytest.fixture
def postmark(app):
    app.config.update(WEBHOOK_POSTMARK_USERNAME="postmark", WEBHOOK_POSTMARK_PASSWORD="s3cret")
    yield {"Authorization": "Basic " + base64.b64encode(b"postmark:s3cret").decode()}
    app.config.update(WEBHOOK_POSTMARK_USERNAME="", WEBHOOK_POSTMARK_PASSWORD="")


def test_postmark_bounce_and_complaint_with_basic_auth(client, db_session, postmark):
    john = sent_row(db_session, "john@example.com")
    sent_row(db_session, "jane@example.com")
    for record in (POSTMARK_BOUNCE, POSTMARK_COMPLAINT):
        assert client.post("/webhooks/postmark", json=record, headers=postmark).status_code == 200
    recorded = bounces(db_session)
    assert [(b.email, b.kind, b.source) for b in recorded] == [
        ("john@example.com", "hard", "postmark"),
        ("jane@example.com", "complaint", "postmark"),
    ]
    assert recorded[0].outbox_id == john.id  # matched by the address: the latest row sent to it
    assert suppression(db_session, "john@example.com") == "hard_bounce"
    assert suppression(db_session, "jane@example.com") == "complaint"


def test_postmark_refuses_wrong_credentials_and_is_off_when_unset(client, app, db_session):
    assert client.post("/webhooks/postmark", json=POSTMARK_BOUNCE).status_code == 404
    app.config.update(WEBHOOK_POSTMARK_USERNAME="postmark", WEBHOOK_POSTMARK_PASSWORD="s3cret")
    try:
        wrong = {"Authorization": "Basic " + base64.b64encode(b"postmark:guess").decode()}
        response = client.post("/webhooks/postmark", json=POSTMARK_BOUNCE, headers=wrong)
    finally:
        app.config.update(WEBHOOK_POSTMARK_USERNAME="", WEBHOOK_POSTMARK_PASSWORD="")
    assert response.status_code == 403
    assert response.get_json() == {"error": "Wrong or missing credentials."}


# -- Mailgun

MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"


def mailgun(event_data: dict, key: str = MAILGUN_KEY, timestamp=None, token=None) -> dict:
    timestamp = timestamp or str(int(time.time()))
    token = token or secrets.token_hex(25)
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event_data,
    }


MAILGUN_FAILED = {
    "event": "failed",
    "id": "G9Bn5sl1TC6nu79C8C0bwg",
    "timestamp": 1521233195.375624,
    "log-level": "error",
    "severity": "permanent",
    "reason": "suppress-bounce",
    "envelope": {"sender": "bob@example.org", "transport": "smtp", "targets": "alice@example.com"},
    "delivery-status": {
        "attempt-no": 1,
        "message": "",
        "code": 605,
        "description": "Not delivering to previously bounced address",
        "session-seconds": 0.0,
    },
    "message": {
        "headers": {
            "to": "Alice <alice@example.com>",
            "message-id": "20130503182626.18666.16540@example.org",
            "from": "Bob <bob@example.org>",
            "subject": "Test permanent_fail webhook",
        },
        "attachments": [],
        "size": 111,
    },
    "recipient": "alice@example.com",
    "recipient-domain": "example.com",
}
MAILGUN_COMPLAINED = {
    "event": "complained",
    "id": "-Agny091SquKnsrW2NEKUA",
    "timestamp": 1521233123.501324,
    "log-level": "warn",
    "envelope": {"sending-ip": "173.193.210.33"},
    "message": {
        "headers": {
            "to": "Alice <alice@example.com>",
            "message-id": "20110215055645.25246.63817@example.org",
            "from": "Bob <bob@example.org>",
            "subject": "Test complained webhook",
        },
        "attachments": [],
        "size": 111,
    },
    "recipient": "carol@example.com",
}


def test_mailgun_signed_events(client, app, db_session):
    app.config.update(WEBHOOK_MAILGUN_SIGNING_KEY=MAILGUN_KEY)
    try:
        alice = sent_row(
            db_session, "alice@example.com", "<20130503182626.18666.16540@example.org>"
        )
        sent_row(db_session, "carol@example.com")
        assert client.post("/webhooks/mailgun", json=mailgun(MAILGUN_FAILED)).status_code == 200
        assert client.post("/webhooks/mailgun", json=mailgun(MAILGUN_COMPLAINED)).status_code == 200
        forged = mailgun(MAILGUN_FAILED, key="another-key")
        assert client.post("/webhooks/mailgun", json=forged).status_code == 403
        assert client.post("/webhooks/mailgun", data="not json").status_code == 400
    finally:
        app.config.update(WEBHOOK_MAILGUN_SIGNING_KEY="")
    recorded = bounces(db_session)
    assert [(b.email, b.kind, b.outbox_id) for b in recorded] == [
        ("alice@example.com", "hard", alice.id),
        ("carol@example.com", "complaint", recorded[1].outbox_id),
    ]
    assert suppression(db_session, "alice@example.com") == "hard_bounce"
    assert suppression(db_session, "carol@example.com") == "complaint"


def test_mailgun_refuses_old_and_reused_signatures(client, app, db_session):
    """Mailgun signs the timestamp and token, not the event: a captured signature must not carry
    another event."""
    app.config.update(WEBHOOK_MAILGUN_SIGNING_KEY=MAILGUN_KEY)
    try:
        sent_row(db_session, "carol@example.com")
        stale = mailgun(MAILGUN_COMPLAINED, timestamp=str(int(time.time()) - 3600))
        assert client.post("/webhooks/mailgun", json=stale).status_code == 403
        first = mailgun(MAILGUN_FAILED)
        assert client.post("/webhooks/mailgun", json=first).status_code == 200
        replayed = {**first, "event-data": MAILGUN_COMPLAINED}
        response = client.post("/webhooks/mailgun", json=replayed)
        assert response.status_code == 403 and "already used" in response.get_json()["error"]
    finally:
        app.config.update(WEBHOOK_MAILGUN_SIGNING_KEY="")
    assert suppression(db_session, "carol@example.com") is None


def test_unknown_provider_is_404(client):
    assert client.post("/webhooks/sparkpost", json={}).status_code == 404
