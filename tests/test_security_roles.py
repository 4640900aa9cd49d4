"""Roles are enforced by the services, not only by the views that hide buttons."""

from __future__ import annotations

import pytest
from flask_login import login_user
from sqlalchemy import func, select

from outreach.auth.permissions import PermissionDenied, ensure_role, has_role
from outreach.calendar import services as calendar_services
from outreach.campaigns import lifecycle
from outreach.campaigns import services as campaign_services
from outreach.contacts import services as contact_services
from outreach.contacts.importer import import_contacts
from outreach.contacts.models import Contact
from outreach.segments.services import create_segment
from outreach.subscriptions import staff_services
from outreach.subscriptions.models import Suppression
from outreach.subscriptions.services import unsuppress
from tests.conftest import login
from tests.factories import make_contact, make_suppression, make_user


@pytest.fixture
def people(db_session):
    users = {role: make_user(db_session, f"{role}@example.org", role=role)
             for role in ("admin", "editor", "viewer")}
    db_session.commit()
    return users


def test_roles_are_ordered_and_inactive_users_hold_none(people):
    assert has_role(people["admin"], "editor") and has_role(people["editor"], "editor")
    assert not has_role(people["viewer"], "editor") and not has_role(None, "viewer")
    people["admin"].active = False
    with pytest.raises(PermissionDenied):
        ensure_role(people["admin"], "viewer")


def test_a_viewer_cannot_change_anything_through_the_services(app, db_session, people):
    contact = make_contact(db_session, "ana@example.org")
    campaign = campaign_services.create_campaign(db_session, campaign_services.CampaignData(
        name="Autumn", sender_name="UPR", sender_email="news@example.org",
        variants=[("en", "Hi", "Hello")]))
    db_session.commit()
    data = contact_services.ContactData(email="new@example.org")
    refused = [
        lambda: contact_services.create_contact(db_session, data),
        lambda: contact_services.update_contact(db_session, contact, data),
        lambda: contact_services.set_contact_status(db_session, contact, "inactive"),
        lambda: campaign_services.delete_campaign(db_session, campaign),
        lambda: lifecycle.cancel(db_session, campaign),
        lambda: calendar_services.create_session(
            db_session, calendar_services.SessionData(number=70)),
        lambda: staff_services.add_suppression(db_session, "x@example.org", people["viewer"]),
        lambda: import_contacts(db_session, [{"email": "imp@example.org"}]),
        lambda: create_segment(db_session, "NGOs", {"types": ["ngo"]}),
    ]
    with app.test_request_context():
        login_user(people["viewer"])
        for call in refused:
            with pytest.raises(PermissionDenied):
                call()
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(Contact)) == 1
    assert contact.status == "active"


def test_an_anonymous_request_is_refused_too(app, db_session):
    with app.test_request_context(), pytest.raises(PermissionDenied):
        contact_services.create_contact(db_session, contact_services.ContactData(
            email="new@example.org"))


def test_an_editor_may_edit_but_not_remove_suppressions(app, db_session, people):
    entry = make_suppression(db_session, "gone@example.org")
    db_session.commit()
    with app.test_request_context():
        login_user(people["editor"])
        contact_services.create_contact(db_session, contact_services.ContactData(
            email="new@example.org"))
        with pytest.raises(PermissionDenied):
            unsuppress(db_session, entry, people["editor"])
        unsuppress(db_session, entry, people["admin"])
    assert db_session.scalar(select(func.count()).select_from(Suppression)) == 0


def test_denials_answer_403_pages_and_json(app, db_session, people):
    entry = make_suppression(db_session, "gone@example.org")
    db_session.commit()
    editor = login(app.test_client(), people["editor"])
    page = editor.post(f"/suppressions/{entry.id}/remove", data={"confirmed": "1"})
    assert page.status_code == 403
    viewer = login(app.test_client(), people["viewer"])
    api = viewer.post("/contacts/new", data={"email": "x@example.org"},
                      headers={"Accept": "application/json"})
    assert api.status_code == 403 and api.json["error"]["code"] == "forbidden"


def test_commands_run_as_the_operator(db_session):
    contact = contact_services.create_contact(db_session, contact_services.ContactData(
        email="cli@example.org"))
    assert contact.id
