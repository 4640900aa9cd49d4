"""Staff accounts admin: list, create with a role, change role, deactivate; own password."""

from __future__ import annotations

import pytest
from flask_login import login_user

from outreach.auth.models import User
from outreach.auth.permissions import PermissionDenied
from outreach.auth.services import change_role, create_user, set_active
from outreach.core.errors import ServiceError
from tests.conftest import login
from tests.factories import PASSWORD, make_user


def text(response) -> str:
    return response.get_data(as_text=True)


def test_admin_lists_and_creates_staff(staff_client, db_session):
    make_user(db_session, "ed@example.org", role="editor")
    db_session.commit()
    page = text(staff_client.get("/users/"))
    assert "admin@example.org" in page and "ed@example.org" in page

    response = staff_client.post("/users/", data={
        "email": "New.Person@Example.org", "name": "New Person", "role": "editor",
        "password": "a-long-enough-password",
    })
    assert response.status_code == 302
    user = db_session.query(User).filter_by(email="New.Person@example.org").one()
    assert user.role == "editor" and user.name == "New Person"
    assert login(staff_client.application.test_client(), user, "a-long-enough-password")


def test_create_shows_what_to_fix(staff_client):
    response = staff_client.post("/users/", data={
        "email": "admin@example.org", "role": "viewer", "password": "short",
    })
    assert response.status_code == 400
    page = text(response)
    assert "at least 10 characters" in page.lower()
    taken = staff_client.post("/users/", data={
        "email": "admin@example.org", "role": "viewer", "password": "long-enough-password",
    })
    assert taken.status_code == 400 and "already exists" in text(taken)


def test_change_role_and_deactivate(staff_client, db_session):
    user = make_user(db_session, "ed@example.org", role="editor")
    db_session.commit()
    assert staff_client.post(f"/users/{user.id}/role", data={"role": "viewer"}).status_code == 302
    db_session.refresh(user)
    assert user.role == "viewer"

    assert staff_client.post(f"/users/{user.id}/deactivate").status_code == 302
    db_session.refresh(user)
    assert not user.active
    refused = staff_client.application.test_client().post(
        "/login", data={"email": "ed@example.org", "password": PASSWORD})
    assert refused.status_code == 401

    assert staff_client.post(f"/users/{user.id}/reactivate").status_code == 302
    db_session.refresh(user)
    assert user.active


def test_the_last_admin_cannot_be_demoted_or_deactivated(staff_client, db_session, admin_user):
    demoted = staff_client.post(f"/users/{admin_user.id}/role", data={"role": "editor"})
    assert demoted.status_code == 400
    assert "last active admin" in text(demoted)
    deactivated = staff_client.post(f"/users/{admin_user.id}/deactivate")
    assert deactivated.status_code == 400
    db_session.refresh(admin_user)
    assert admin_user.role == "admin" and admin_user.active

    other = make_user(db_session, "second@example.org", role="admin")
    db_session.commit()
    assert staff_client.post(f"/users/{other.id}/deactivate").status_code == 302
    with pytest.raises(ServiceError):
        change_role(db_session, admin_user, "viewer")


def test_users_admin_is_for_admins_only(app, db_session):
    editor = make_user(db_session, "ed@example.org", role="editor")
    viewer = make_user(db_session, "vi@example.org", role="viewer")
    db_session.commit()
    client = login(app.test_client(), editor)
    assert client.get("/users/").status_code == 403
    assert client.post("/users/", data={"email": "x@example.org", "role": "admin",
                                        "password": "long-enough-password"}).status_code == 403
    assert client.post(f"/users/{viewer.id}/role", data={"role": "admin"}).status_code == 403
    db_session.refresh(viewer)
    assert viewer.role == "viewer"


def test_services_refuse_a_non_admin_even_without_the_view(app, db_session):
    editor = make_user(db_session, "ed@example.org", role="editor")
    viewer = make_user(db_session, "vi@example.org", role="viewer")
    db_session.commit()
    with app.test_request_context():
        login_user(editor)
        with pytest.raises(PermissionDenied):
            create_user(db_session, "x@example.org", "long-enough-password", role="admin")
        with pytest.raises(PermissionDenied):
            change_role(db_session, viewer, "admin")
        with pytest.raises(PermissionDenied):
            set_active(db_session, viewer, False)
    assert viewer.role == "viewer" and viewer.active


def test_change_own_password(app, db_session):
    user = make_user(db_session, "vi@example.org", role="viewer")
    db_session.commit()
    client = login(app.test_client(), user)
    assert client.get("/account/password").status_code == 200
    wrong = client.post("/account/password", data={
        "current_password": "not-it", "new_password": "brand-new-password",
        "confirm": "brand-new-password"})
    assert wrong.status_code == 400 and "not your current password" in text(wrong)
    mismatch = client.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "brand-new-password",
        "confirm": "another-password"})
    assert mismatch.status_code == 400 and "differ" in text(mismatch)
    short = client.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "short", "confirm": "short"})
    assert short.status_code == 400 and "10 characters" in text(short)

    done = client.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "brand-new-password",
        "confirm": "brand-new-password"})
    assert done.status_code == 302
    assert login(app.test_client(), user, "brand-new-password")
    old = app.test_client().post("/login", data={"email": user.email, "password": PASSWORD})
    assert old.status_code == 401


def test_changing_the_password_ends_the_other_sessions(app, db_session):
    user = make_user(db_session, "ed@example.org", role="editor")
    db_session.commit()
    elsewhere = app.test_client()
    elsewhere.post("/login", data={"email": user.email, "password": PASSWORD, "remember": "y"})
    here = login(app.test_client(), user)
    assert elsewhere.get("/contacts").status_code == 200
    done = here.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "brand-new-password",
        "confirm": "brand-new-password"})
    assert done.status_code == 302
    assert here.get("/contacts").status_code == 200
    stale = elsewhere.get("/contacts")
    assert stale.status_code == 302 and "/login" in stale.headers["Location"]


def test_password_page_needs_a_sign_in(client):
    response = client.get("/account/password")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
