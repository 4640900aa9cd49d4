"""The audit log records who changed what and when; only admins read it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from outreach.audit.models import AuditEntry
from outreach.auth.models import User
from outreach.contacts.models import Contact
from outreach.core.database import utcnow
from outreach.subscriptions.models import Suppression
from tests.conftest import login
from tests.factories import make_contact, make_suppression, make_user

CONTACT = {
    "email": "new@example.org", "first_name": "Nadia", "last_name": "Haddad",
    "organisation_name": "", "type": "ngo", "role_title": "", "language": "fr",
    "country_code": "TN", "countries": [], "topics": "", "status": "active", "notes": "",
}


def entries(db_session, action=None) -> list[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    return list(db_session.scalars(stmt))


def text(response) -> str:
    return response.get_data(as_text=True)


def test_contact_changes_are_recorded_with_who_and_what(staff_client, db_session, admin_user):
    assert staff_client.post("/contacts/new", data=CONTACT).status_code == 302
    contact = db_session.scalar(select(Contact))
    edited = dict(CONTACT, first_name="Nadine", language="en")
    assert staff_client.post(f"/contacts/{contact.id}/edit", data=edited).status_code == 302
    staff_client.post(f"/contacts/{contact.id}/deactivate", data={"confirmed": "1"})

    created, updated, status = (entries(db_session, a)[0] for a in (
        "contact.create", "contact.update", "contact.status"))
    assert created.actor_id == admin_user.id and created.actor_email == "admin@example.org"
    assert (created.object_type, created.object_id) == ("contact", str(contact.id))
    assert updated.changes == {"first_name": ["Nadia", "Nadine"], "language": ["fr", "en"]}
    assert status.changes == {"status": ["active", "inactive"]}


def test_unchanged_save_records_nothing(staff_client, db_session):
    staff_client.post("/contacts/new", data=CONTACT)
    contact = db_session.scalar(select(Contact))
    staff_client.post(f"/contacts/{contact.id}/edit", data=CONTACT)
    assert entries(db_session, "contact.update") == []


def test_campaign_calendar_suppression_and_user_changes_are_recorded(staff_client, db_session):
    staff_client.post("/sessions/new", data={
        "number": "60", "cycle_number": "5", "wg_start": "2030-11-04", "wg_end": "2030-11-15",
        "location": "Geneva", "status": "projected", "notes": "", "derive_dates": "y",
    })
    staff_client.post("/sessions/60/states/add", data={"country": "FR"})
    staff_client.post("/suppressions/new",
                      data={"one-email": "stop@example.org", "one-note": "asked"})
    entry = db_session.scalar(select(Suppression))
    staff_client.post(f"/suppressions/{entry.id}/remove", data={"confirmed": "1"})
    staff_client.post("/users/", data={"email": "ed@example.org", "role": "editor",
                                       "password": "long-enough-password"})
    editor = db_session.scalar(select(User).where(User.email == "ed@example.org"))
    staff_client.post(f"/users/{editor.id}/role", data={"role": "viewer"})

    actions = [e.action for e in entries(db_session)]
    for action in ("session.create", "review.add", "suppression.add", "suppression.remove",
                   "user.create", "user.role"):
        assert action in actions, actions
    role = entries(db_session, "user.role")[0]
    assert role.changes == {"role": ["editor", "viewer"]}
    added = entries(db_session, "review.add")[0]
    assert added.summary == "Added France to session 60"


def test_campaign_lifecycle_is_recorded(db_session):
    from outreach.campaigns import services

    campaign = services.create_campaign(db_session, services.CampaignData(
        name="Autumn", sender_name="UPR", sender_email="news@example.org",
        variants=[("en", "Hi", "Hello")]))
    services.delete_campaign(db_session, campaign)
    created, deleted = entries(db_session)
    assert (created.action, deleted.action) == ("campaign.create", "campaign.delete")
    assert created.actor_id is None and created.actor_label == "system"


def test_erasing_a_contact_blanks_what_the_log_said_about_them(staff_client, db_session):
    staff_client.post("/contacts/new", data=CONTACT)
    contact = db_session.scalar(select(Contact))
    staff_client.post(f"/contacts/{contact.id}/erase", data={"confirmed": "1"})
    about = [e for e in entries(db_session) if e.object_type == "contact"]
    assert [e.action for e in about] == ["contact.create", "contact.erase"]
    assert all("new@example.org" not in e.summary for e in about)


def test_audit_page_filters_and_pages(staff_client, db_session, app):
    make_contact(db_session, "a@example.org")
    make_suppression(db_session, "b@example.org")
    db_session.commit()
    from outreach.audit.services import record

    old = record(db_session, "contact.update", "contact", 1, "Old change to <b>one</b>")
    old.created_at = utcnow() - timedelta(days=40)
    for n in range(60):
        record(db_session, "contact.create", "contact", n + 2, f"Created c{n}@example.org")
    record(db_session, "suppression.add", "suppression", 7, "Suppressed b@example.org",
           actor=db_session.scalar(select(User)))
    db_session.commit()

    page = text(staff_client.get("/audit/"))
    assert "Showing 1&ndash;50 of 62" in page
    assert "&lt;b&gt;one&lt;/b&gt;" not in page  # the oldest is on page 2
    second = text(staff_client.get("/audit/?page=2"))
    assert "&lt;b&gt;one&lt;/b&gt;" in second and "<b>one</b>" not in second

    only = text(staff_client.get("/audit/?action=suppression.add"))
    assert "Suppressed b@example.org" in only and "Created c1@" not in only
    by_actor = text(staff_client.get("/audit/?actor=admin@"))
    assert "Suppressed b@example.org" in by_actor and "Created c1@" not in by_actor
    since = (utcnow() - timedelta(days=1)).date().isoformat()
    recent = text(staff_client.get(f"/audit/?since={since}&object_type=contact&per_page=100"))
    assert "Created c1@" in recent and "one</b>" not in recent
    by_object = text(staff_client.get("/audit/?object_type=contact&object_id=5"))
    assert "Created c3@example.org" in by_object and "Created c4@" not in by_object

    bad = staff_client.get("/audit/?since=yesterday")
    assert bad.status_code == 400 and "Use a date like" in text(bad)


def test_audit_page_is_for_admins_only(app, db_session, client):
    editor = make_user(db_session, "ed@example.org", role="editor")
    db_session.commit()
    assert login(app.test_client(), editor).get("/audit/").status_code == 403
    assert client.get("/audit/").status_code == 302


def test_segment_changes_are_recorded(db_session):
    from outreach.segments.services import create_segment, delete_segment, update_segment

    segment = create_segment(db_session, "NGOs", {"types": ["ngo"]})
    update_segment(db_session, segment, name="NGOs and NHRIs", filters={"types": ["ngo", "nhri"]})
    delete_segment(db_session, segment)
    created, updated, deleted = entries(db_session)
    assert (created.action, updated.action, deleted.action) == (
        "segment.create", "segment.update", "segment.delete")
    assert updated.changes["name"] == ["NGOs", "NGOs and NHRIs"]
    assert updated.changes["filters"][1]["types"] == ["ngo", "nhri"]


def test_audit_page_shows_old_and_new_values(staff_client, db_session):
    from outreach.segments.services import create_segment, update_segment

    segment = create_segment(db_session, "NGOs", {"types": ["ngo"]})
    update_segment(db_session, segment, name="NHRIs")
    db_session.commit()
    page = text(staff_client.get("/audit/"))
    assert "NGOs → NHRIs" in page
    assert "segment.create" in page and "&#39;types&#39;: [&#39;ngo&#39;]" in page
