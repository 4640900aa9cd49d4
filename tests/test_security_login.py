"""Sign-in throttling: per client address, per account with lockout, no user enumeration."""

from __future__ import annotations

from datetime import timedelta

from outreach.auth.views import LOGIN_FAILED
from outreach.core.database import utcnow
from tests.factories import PASSWORD, make_user


def attempt(client, email, password):
    return client.post("/login", data={"email": email, "password": password})


def test_unknown_address_and_wrong_password_get_the_same_answer(client, admin_user):
    unknown = attempt(client, "nobody@example.org", "whatever-password")
    wrong = attempt(client, admin_user.email, "not-the-password")
    assert unknown.status_code == wrong.status_code == 401
    assert LOGIN_FAILED in unknown.get_data(as_text=True)
    assert LOGIN_FAILED in wrong.get_data(as_text=True)
    # Apart from the address typed (kept in the form), the two pages are identical.
    assert (unknown.get_data(as_text=True).replace("nobody@example.org", "EMAIL")
            == wrong.get_data(as_text=True).replace(admin_user.email, "EMAIL"))


def test_repeated_failures_lock_the_account_then_it_opens_again(app, client, db_session):
    app.config.update(LOGIN_MAX_FAILURES=3, LOGIN_LOCKOUT_SECONDS=600)
    try:
        user = make_user(db_session, "ed@example.org", role="editor")
        db_session.commit()
        for _ in range(3):
            assert attempt(client, user.email, "wrong-password").status_code == 401
        db_session.refresh(user)
        assert user.locked_until is not None and user.locked_until > utcnow()

        locked = attempt(client, user.email, PASSWORD)  # even the right password
        assert locked.status_code == 401
        assert LOGIN_FAILED in locked.get_data(as_text=True)

        user.locked_until = utcnow() - timedelta(seconds=1)
        db_session.commit()
        assert attempt(client, user.email, PASSWORD).status_code == 302
        db_session.refresh(user)
        assert user.failed_logins == 0 and user.locked_until is None
    finally:
        app.config.update(LOGIN_MAX_FAILURES=5, LOGIN_LOCKOUT_SECONDS=900)


def test_a_good_sign_in_resets_the_failure_count(app, client, db_session):
    user = make_user(db_session, "ed@example.org", role="editor")
    db_session.commit()
    for _ in range(4):
        attempt(client, user.email, "wrong-password")
    assert attempt(client, user.email, PASSWORD).status_code == 302
    db_session.refresh(user)
    assert user.failed_logins == 0 and user.locked_until is None


def test_lockout_is_recorded_in_the_audit_log(app, client, db_session):
    from sqlalchemy import select

    from outreach.audit.models import AuditEntry

    user = make_user(db_session, "ed@example.org", role="editor")
    db_session.commit()
    for _ in range(5):
        attempt(client, user.email, "wrong-password")
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "user.locked"))
    assert entry is not None and entry.object_id == str(user.id)


def test_sign_in_attempts_are_rate_limited_per_address(database_url, tmp_path):
    from outreach import create_app
    from outreach.extensions import db, limiter

    limited = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=database_url,
        DEV_MAIL_DIR=str(tmp_path),
        RATELIMIT_ENABLED=True,
        LOGIN_RATE_LIMIT="3 per minute",
    )
    try:
        limiter.reset()
        client = limited.test_client()
        statuses = [attempt(client, "x@example.org", "wrong-password").status_code
                    for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        assert client.get("/login").status_code == 200  # only the POST is limited
        other = client.post("/login", data={"email": "x@example.org", "password": "wrong"},
                            environ_base={"REMOTE_ADDR": "10.0.0.9"})
        assert other.status_code == 401  # another address still gets through
    finally:
        limiter.reset()
        limiter.enabled = False
        with limited.app_context():
            db.engine.dispose()
