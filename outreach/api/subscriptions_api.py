"""POST /subscriptions: the public subscribe form as JSON, with the same double opt-in."""

from __future__ import annotations

from flask import current_app, jsonify, request
from sqlalchemy.exc import IntegrityError

from outreach.api.blueprint import bp, public
from outreach.api.inputs import Fields, json_object
from outreach.extensions import db, limiter
from outreach.mail.transactional import queue_after_commit
from outreach.subscriptions import services
from outreach.subscriptions.emails import confirmation_message

SUBSCRIBE_FIELDS = (
    "email",
    "consent",
    "first_name",
    "last_name",
    "organisation",
    "contact_type",
    "language",
    "countries",
    "all_sessions",
    "session_numbers",
    "topics",
    "alert_frequency",
)
ACCEPTED = {
    "status": "pending",
    "message": "If the address can be subscribed, a confirmation link is on its way to it.",
}


def subscribe_rate_limit() -> str:
    return current_app.config["SUBSCRIBE_RATE_LIMIT"]


def _request(body: dict) -> services.SubscribeRequest:
    fields = Fields(body, SUBSCRIBE_FIELDS)
    defaults = services.Preferences()
    preferences = services.Preferences(
        language=fields.text("language", defaults.language),
        countries=fields.texts("countries", defaults.countries),
        all_sessions=fields.flag("all_sessions", defaults.all_sessions),
        session_numbers=fields.integers("session_numbers", defaults.session_numbers),
        topics=fields.texts("topics", defaults.topics),
        alert_frequency=fields.text("alert_frequency", defaults.alert_frequency),
    )
    result = services.SubscribeRequest(
        email=fields.text("email", required=True, max_length=320),
        preferences=preferences,
        consent=fields.flag("consent", required=True),
        first_name=fields.text("first_name", "", max_length=150),
        last_name=fields.text("last_name", "", max_length=150),
        organisation=fields.text("organisation", "", max_length=300),
        contact_type=fields.text("contact_type", "other"),
    )
    fields.done()
    return result


@bp.post("/subscriptions")
@public
@limiter.limit(subscribe_rate_limit, key_func=lambda: request.remote_addr or "")
def subscribe():
    """The same answer whether the address is new, known or blocked: nothing is disclosed."""
    subscribe_request = _request(json_object())
    meta = services.RequestMeta(
        source="api", ip_address=request.remote_addr or "", user_agent=request.user_agent.string
    )
    try:
        link = services.subscribe(db.session, subscribe_request, meta)
        if link.deliver:
            queue_after_commit(db.session, confirmation_message(link))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # a concurrent request for the same address did it first
    return jsonify(ACCEPTED), 202
