"""POST /subscriptions: public, double opt-in exactly like the form, rate limited."""
# ruff: noqa: F811  (the API fixtures are imported from tests.api_support)

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlalchemy import select

from outreach.contacts.models import Contact
from outreach.subscriptions.models import ConsentRecord
from tests.api_support import ApiClient, anonymous_api, assert_error  # noqa: F401  (fixtures)
from tests.factories import make_suppression

BODY = {
    "email": "amina.diallo@example.org",
    "consent": True,
    "first_name": "Amina",
    "organisation": "Droits Togo",
    "contact_type": "ngo",
    "language": "fr",
    "countries": ["TG"],
    "topics": ["newsletter"],
}


def test_subscribe_sends_the_confirmation_and_the_link_confirms(
    anonymous_api, client, db_session, mail_server
):
    response = anonymous_api.post("/subscriptions", json=BODY)
    assert response.status_code == 202, response.get_data(as_text=True)
    assert response.get_json()["status"] == "pending"
    contact = db_session.scalar(select(Contact).where(Contact.email == BODY["email"]))
    assert contact.subscription.status == "pending" and contact.language == "fr"
    record = db_session.scalar(select(ConsentRecord).where(ConsentRecord.action == "subscribe"))
    assert record.source == "api"

    (message,) = mail_server.wait_for(1)
    assert message["To"] == BODY["email"] and message["Content-Language"] == "fr"
    text = message.get_body(("plain",)).get_content()
    path = urlsplit(re.search(r"https?://\S+/confirm/\S+", text).group(0)).path
    assert client.post(path).status_code in (200, 302)
    db_session.expire_all()
    assert db_session.get(Contact, contact.id).subscription.status == "confirmed"


def test_known_and_blocked_addresses_get_the_same_answer(anonymous_api, db_session, mail_server):
    first = anonymous_api.post("/subscriptions", json=BODY)
    again = anonymous_api.post("/subscriptions", json=BODY)
    make_suppression(db_session, "blocked@example.org", reason="complaint")
    db_session.commit()
    blocked = anonymous_api.post("/subscriptions", json={**BODY, "email": "blocked@example.org"})
    assert first.get_json() == again.get_json() == blocked.get_json()
    assert {first.status_code, again.status_code, blocked.status_code} == {202}
    assert [m["To"] for m in mail_server.wait_for(2)] == [BODY["email"], BODY["email"]]


def test_bad_input_is_refused_with_fields(anonymous_api, db_session):
    error = assert_error(
        anonymous_api.post(
            "/subscriptions",
            json={**BODY, "consent": False, "email": "nope", "topics": ["gossip"]},
        ),
        422,
    )
    assert {"consent", "email", "topics"} <= set(error["fields"])
    assert_error(anonymous_api.post("/subscriptions", json={"email": BODY["email"]}), 400)
    assert_error(anonymous_api.post("/subscriptions", json={**BODY, "website": "x"}), 400)
    assert db_session.scalar(select(Contact)) is None


def test_subscribe_is_rate_limited_per_address(database_url, tmp_path):
    from outreach import create_app
    from outreach.extensions import db, limiter

    limited = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=database_url,
        DEV_MAIL_DIR=str(tmp_path),
        RATELIMIT_ENABLED=True,
        SUBSCRIBE_RATE_LIMIT="2 per hour",
    )
    try:
        limiter.reset()
        client = ApiClient(limited.test_client(), None)
        bad = {**BODY, "consent": False}
        statuses = [client.post("/subscriptions", json=bad).status_code for _ in range(3)]
        assert statuses == [422, 422, 429]
        assert_error(client.post("/subscriptions", json=bad), 429)
    finally:
        limiter.reset()
        limiter.enabled = False
        with limited.app_context():
            db.engine.dispose()
