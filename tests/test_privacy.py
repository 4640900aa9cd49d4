"""A contact's subscription and consent panel, JSON export and erasure."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from outreach.contacts.models import Contact
from outreach.core.database import utcnow
from outreach.subscriptions.audience import mailable_conditions
from outreach.subscriptions.models import (
    ConsentRecord,
    Subscription,
    SubscriptionSession,
    SubscriptionTopic,
    Suppression,
)
from outreach.subscriptions.services import RequestMeta, record_consent
from tests.conftest import login
from tests.factories import make_contact, make_organisation, make_suppression, make_user

T0 = datetime(2026, 7, 1, 8, 30, tzinfo=UTC)  # 10:30 in Geneva (summer time)
IP = "203.0.113.7"
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"


def text(response) -> str:
    return response.get_data(as_text=True)


def contact_form(**changes) -> dict:
    data = {"email": "new@example.org", "first_name": "Nadia", "last_name": "Haddad",
            "organisation_name": "", "type": "ngo", "role_title": "", "language": "fr",
            "country_code": "TN", "countries": [], "topics": "", "status": "active", "notes": ""}
    data.update(changes)
    return data


@pytest.fixture
def subscriber(db_session):
    """A confirmed subscriber with two consent events from the public form."""
    org = make_organisation(db_session, "Ligue des droits")
    contact = make_contact(db_session, "Lea.Martin@example.org", first_name="Léa",
                           last_name="Martin", country="FR", topics=("women",),
                           organisation=org)
    contact.subscription = Subscription(
        status="confirmed",
        confirmed_at=T0 + timedelta(minutes=5),
        all_sessions=False,
        alert_frequency="weekly",
        paused_until=utcnow() + timedelta(weeks=2),
        privacy_notice_version="2026-11",
        topic_links=[SubscriptionTopic(topic="newsletter"),
                     SubscriptionTopic(topic="deadline_alerts")],
        session_links=[SubscriptionSession(session_number=50),
                       SubscriptionSession(session_number=51)],
    )
    meta = RequestMeta(source="form", ip_address=IP, user_agent=UA)
    record_consent(db_session, contact, "subscribe", meta).created_at = T0
    record_consent(db_session, contact, "confirm", meta).created_at = T0 + timedelta(minutes=5)
    db_session.commit()
    return contact


@pytest.fixture
def editor_client(app, db_session):
    user = make_user(db_session, "editor@example.org", role="editor")
    db_session.commit()
    return login(app.test_client(), user)


def consent_log(session) -> list[ConsentRecord]:
    return list(session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)))


# ---- the contact page panel -------------------------------------------------------------------

def test_panel_of_a_contact_added_by_staff(staff_client, db_session):
    contact = make_contact(db_session, "staff.added@example.org")
    db_session.commit()
    page = text(staff_client.get(f"/contacts/{contact.id}"))
    assert "None: added by staff, receives all topics" in page
    assert "Not on the list." in page
    assert f'href="/suppressions/new?contact_id={contact.id}">Suppress this address' in page
    assert "No consent events are recorded" in page


def test_panel_of_a_confirmed_subscriber(staff_client, subscriber):
    page = text(staff_client.get(f"/contacts/{subscriber.id}"))
    assert 'data-subscription="confirmed"' in page
    assert "01 Jul 2026 10:35 (Geneva time)" in page
    assert "Deadline alerts, Newsletter" in page
    assert "50, 51" in page
    assert "Weekly digest" in page
    assert "Paused until" in page
    # The consent log, newest first, in Geneva time, with IP and privacy notice version.
    assert page.index("<td>confirm</td>") < page.index("<td>subscribe</td>")
    assert "<td>01 Jul 2026 10:30</td>" in page
    assert f"<td>{IP}</td>" in page and "<td>2026-11</td>" in page


def test_panel_of_pending_and_unsubscribed_and_suppressed(staff_client, db_session):
    pending = make_contact(db_session, "pending@example.org")
    pending.subscription = Subscription(status="pending")
    gone = make_contact(db_session, "gone@example.org")
    gone.subscription = Subscription(status="unsubscribed", unsubscribed_at=T0)
    entry = make_suppression(db_session, "gone@example.org", "unsubscribed", created_at=T0)
    db_session.commit()
    page = text(staff_client.get(f"/contacts/{pending.id}"))
    assert 'data-subscription="pending"' in page and "receives nothing until then" in page
    page = text(staff_client.get(f"/contacts/{gone.id}"))
    assert 'data-subscription="unsubscribed"' in page
    assert "Suppressed since 01 Jul 2026 10:30 (unsubscribed)" in page
    assert f'href="/suppressions/{entry.id}">See the entry' in page


def test_viewer_sees_the_panel_but_no_privacy_actions(viewer_client, subscriber, db_session):
    page = text(viewer_client.get(f"/contacts/{subscriber.id}"))
    assert "Subscription and consent" in page
    assert "Export data (JSON)" not in page and "Erase contact" not in page
    assert "Suppress this address" not in page
    assert viewer_client.get(f"/contacts/{subscriber.id}/export.json").status_code == 403
    assert viewer_client.get(f"/contacts/{subscriber.id}/erase").status_code == 403
    response = viewer_client.post(f"/contacts/{subscriber.id}/erase", data={"confirmed": "1"})
    assert response.status_code == 403
    assert db_session.scalar(select(func.count(Contact.id))) == 1


# ---- export --------------------------------------------------------------------------------------

def test_export_json_holds_everything_about_the_contact(editor_client, subscriber, db_session):
    make_suppression(db_session, "lea.martin@example.org", "complaint", created_at=T0)
    db_session.commit()
    page = text(editor_client.get(f"/contacts/{subscriber.id}"))
    assert f'href="/contacts/{subscriber.id}/export.json"' in page
    response = editor_client.get(f"/contacts/{subscriber.id}/export.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="contact-{subscriber.id}-')
    data = json.loads(text(response))
    assert data["contact"]["email"] == "Lea.Martin@example.org"
    assert data["contact"]["first_name"] == "Léa"
    assert data["organisation"]["name"] == "Ligue des droits"
    assert data["subscription"]["status"] == "confirmed"
    assert data["subscription"]["topics"] == ["deadline_alerts", "newsletter"]
    assert data["subscription"]["sessions"] == [50, 51]
    assert data["subscription"]["alert_frequency"] == "weekly"
    assert [event["action"] for event in data["consent_log"]] == ["subscribe", "confirm"]
    assert data["consent_log"][0]["ip_address"] == IP
    assert data["consent_log"][0]["user_agent"] == UA
    assert data["suppression"]["reason"] == "complaint"


def test_export_needs_sign_in_and_a_real_contact(client, staff_client):
    response = client.get("/contacts/1/export.json")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert staff_client.get("/contacts/999/export.json").status_code == 404
    assert staff_client.get("/contacts/999/erase").status_code == 404


# ---- erase ---------------------------------------------------------------------------------------

def test_erase_asks_for_confirmation_first(editor_client, subscriber, db_session):
    for response in (
        editor_client.get(f"/contacts/{subscriber.id}/erase"),
        editor_client.post(f"/contacts/{subscriber.id}/erase"),  # no-JS: not yet confirmed
    ):
        assert response.status_code == 200
        page = text(response)
        assert "This cannot be undone" in page
        assert "a SHA-256 hash of the address on the suppression list" in page
        assert "IP addresses and browser details" in page
    assert db_session.scalar(select(func.count(Contact.id))) == 1


def test_erase_removes_personal_data_and_keeps_the_hash_suppressed(
    staff_client, admin_user, subscriber, db_session, tmp_path
):
    digest = subscriber.email_hash
    contact_id = subscriber.id
    response = staff_client.post(f"/contacts/{contact_id}/erase", data={"confirmed": "1"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/contacts"
    assert f"Contact #{contact_id} was erased" in text(staff_client.get("/contacts"))

    db_session.expire_all()
    assert db_session.get(Contact, contact_id) is None
    assert db_session.scalar(select(func.count(Subscription.contact_id))) == 0
    entry = db_session.scalar(select(Suppression))
    assert (entry.email_hash, entry.email, entry.reason) == (digest, None, "erased")
    log = consent_log(db_session)
    assert [record.action for record in log] == ["subscribe", "confirm", "erase"]
    assert all(record.email_hash == digest and record.contact_id is None for record in log)
    assert all(record.ip_address == "" and record.user_agent == "" for record in log)
    assert (log[-1].source, log[-1].staff_user_id) == ("staff", admin_user.id)
    page = text(staff_client.get("/suppressions"))
    assert "(erased contact)" in page and "lea.martin" not in page.casefold()

    # A later import of the same address is reported as suppressed and creates nothing.
    path = tmp_path / "again.csv"
    path.write_text("email,first_name\nLEA.MARTIN@example.org,Léa\n", encoding="utf-8")
    result = staff_client.application.test_cli_runner().invoke(
        args=["contacts", "import", str(path)]
    )
    assert result.output.splitlines() == [
        "created=0 updated=0 rejected=0 unchanged=0 suppressed=1",
        "line 2: LEA.MARTIN@example.org: suppressed (erased)",
    ]
    assert db_session.scalar(select(func.count(Contact.id))) == 0

    # Staff may create it again by hand, but it stays suppressed and is never mailed.
    response = staff_client.post(
        "/contacts/new", data=contact_form(email="lea.martin@example.org"), follow_redirects=True
    )
    assert "This address is on the suppression list (erased): it will receive no mail." in text(
        response
    )
    again = db_session.scalar(select(Contact))
    assert again.email_hash == digest
    assert db_session.scalar(select(func.count(Suppression.id))) == 1
    mailable = select(Contact.id).where(*mailable_conditions("newsletter"))
    assert db_session.scalars(mailable).all() == []
    assert db_session.scalars(select(Contact.id).where(*mailable_conditions(None))).all() == []


def test_erase_keeps_an_existing_entry_without_its_address(editor_client, db_session):
    contact = make_contact(db_session, "gone@example.org")
    make_suppression(db_session, "gone@example.org", "unsubscribed")
    db_session.commit()
    response = editor_client.post(f"/contacts/{contact.id}/erase", data={"confirmed": "1"})
    assert response.status_code == 302
    db_session.expire_all()
    entry = db_session.scalar(select(Suppression))
    assert (entry.email, entry.reason) == (None, "unsubscribed")
    assert db_session.scalar(select(func.count(Contact.id))) == 0


# ---- consent event when staff create a contact -------------------------------------------------

def test_a_contact_created_by_staff_gets_an_import_consent_event(
    app, staff_client, admin_user, db_session
):
    response = staff_client.post(
        "/contacts/new", data=contact_form(email="Nadia@example.org"), follow_redirects=True
    )
    assert "Contact created." in text(response)
    assert "This address is on the suppression list" not in text(response)
    contact = db_session.scalar(select(Contact))
    [record] = consent_log(db_session)
    assert (record.action, record.source, record.staff_user_id) == ("import", "staff",
                                                                    admin_user.id)
    assert (record.contact_id, record.email_hash) == (contact.id, contact.email_hash)
    assert record.privacy_notice_version == app.config["PRIVACY_NOTICE_VERSION"]
    # Editing does not add another.
    staff_client.post(f"/contacts/{contact.id}/edit",
                      data=contact_form(email="Nadia@example.org", first_name="N."))
    assert len(consent_log(db_session)) == 1


def test_erase_scrubs_the_address_from_outbox_and_bounce_records(db_session, subscriber):
    from outreach.campaigns.models import Campaign
    from outreach.delivery.models import Bounce, OutboxMessage
    from outreach.subscriptions.services import erase_contact

    campaign = Campaign(name="June", sender_email="news@example.org", status="sending")
    db_session.add(campaign)
    db_session.flush()
    sent = OutboxMessage(campaign_id=campaign.id, contact_id=subscriber.id,
                         email=subscriber.email, status="sent")
    other = Campaign(name="July", sender_email="news@example.org", status="sending")
    db_session.add(other)
    db_session.flush()
    queued = OutboxMessage(campaign_id=other.id, contact_id=subscriber.id,
                           email=subscriber.email, status="queued")
    bounce = Bounce(email_hash=subscriber.email_hash, email=subscriber.email, kind="soft")
    db_session.add_all([sent, queued, bounce])
    db_session.commit()

    erase_contact(db_session, subscriber, RequestMeta(source="staff"))
    db_session.commit()
    db_session.expire_all()
    rows = db_session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [(row.email, row.contact_id, row.status) for row in rows] == [
        ("", None, "sent"),
        ("", None, "skipped"),
    ]
    assert db_session.scalar(select(Bounce)).email is None
