"""Test sends: [TEST] messages over SMTP, campaign and outbox untouched."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest
from sqlalchemy import func, select

from outreach.campaigns.models import Campaign
from outreach.core.errors import ServiceError
from outreach.delivery.models import OutboxMessage
from outreach.delivery.test_send import send_test
from tests.factories import make_contact, make_organisation
from tests.test_delivery_support import Sink, make_campaign, sending_to

VARIANTS = {
    "en": (
        "News for {{ contact.first_name }}",
        "Dear {{ contact.first_name }} ({{ contact.organisation }})",
    ),
    "fr": ("Nouvelles pour {{ contact.first_name }}", "Chère {{ contact.first_name }}"),
}


@pytest.fixture
def sink():
    server = Sink().start()
    yield server
    server.stop()


def parsed(received):
    return message_from_bytes(received.data, policy=policy.default)


def test_send_test_as_a_chosen_contact(app, db_session, sink):
    org = make_organisation(db_session, "Droits Ici")
    sample = make_contact(
        db_session, "eloise@example.org", first_name="Éloïse", language="fr", organisation=org
    )
    campaign = make_campaign(db_session, status="draft", variants=VARIANTS)
    db_session.commit()
    before = (campaign.status, campaign.updated_at)

    with sending_to(app, sink):
        sent = send_test(db_session, campaign, ["tester@example.org", " Boss@Example.org "], sample)

    assert sent == 2
    assert sorted(m.rcpt_tos[0] for m in sink.received) == [
        "Boss@example.org",
        "tester@example.org",
    ]
    message = parsed(sink.received[0])
    assert message["Subject"] == "[TEST] Nouvelles pour Éloïse"
    assert "Chère Éloïse" in message.get_body(("plain",)).get_content()
    assert message["List-Unsubscribe"] is None
    assert message["List-Unsubscribe-Post"] is None
    assert sink.received[0].mail_from == "bounces@mail.example.org"
    db_session.expire_all()
    campaign = db_session.get(Campaign, campaign.id)
    assert (campaign.status, campaign.updated_at) == before
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_send_test_without_a_contact_uses_a_neutral_recipient(app, db_session, sink):
    campaign = make_campaign(db_session, status="draft", variants=VARIANTS)
    db_session.commit()
    with sending_to(app, sink):
        assert send_test(db_session, campaign, ["tester@example.org"], language="en") == 1
    message = parsed(sink.received[0])
    assert message["Subject"].startswith("[TEST] News for ")
    body = message.get_body(("plain",)).get_content()
    assert "/u/test" in body  # the unsubscribe link unsubscribes nobody


def test_bad_addresses_are_refused_before_anything_is_sent(app, db_session, sink):
    campaign = make_campaign(db_session, status="draft", variants=VARIANTS)
    db_session.commit()
    with sending_to(app, sink):
        with pytest.raises(ServiceError) as error:
            send_test(db_session, campaign, ["ok@example.org", "not an address"])
        assert "not an address" in str(error.value)
        with pytest.raises(ServiceError):
            send_test(db_session, campaign, ["", "  "])
        with pytest.raises(ServiceError):
            send_test(db_session, campaign, [f"t{i}@example.org" for i in range(11)])
    assert sink.received == []


def test_a_refusal_or_an_unreachable_server_is_reported(app, db_session, sink):
    campaign = make_campaign(db_session, status="draft", variants=VARIANTS)
    db_session.commit()
    sink.rcpt_replies["bad@example.org"] = ["550 5.1.1 No such user"]
    with sending_to(app, sink), pytest.raises(ServiceError) as error:
        send_test(db_session, campaign, ["good@example.org", "bad@example.org"])
    assert "Test sent to 1 address(es)" in str(error.value)
    assert "bad@example.org: 550 5.1.1 No such user" in str(error.value)

    with sending_to(app, None), pytest.raises(ServiceError) as error:
        send_test(db_session, campaign, ["good@example.org"])
    assert "could not be reached" in str(error.value)
