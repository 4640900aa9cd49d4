"""POST /webhooks/<provider>: bounce and complaint events from SMTP relays (JSON answers)."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, jsonify, request

from outreach.engagement.webhooks import HANDLERS, WebhookError
from outreach.extensions import csrf, db

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)
MAX_BODY = 1024 * 1024


@bp.route("/webhooks/<provider>", methods=["POST"])
@csrf.exempt
def receive(provider: str):
    handler = HANDLERS.get(provider)
    if handler is None:
        abort(404)
    body = request.get_data(cache=False)[: MAX_BODY + 1]
    if len(body) > MAX_BODY:
        return jsonify(error="The body is too large."), 413
    try:
        result = handler(db.session, body, request.headers)
    except WebhookError as exc:
        db.session.rollback()
        if exc.status == 403:
            log.warning("webhook %s refused: %s", provider, exc.message)
        return jsonify(error=exc.message), exc.status
    db.session.commit()
    return jsonify(result)
