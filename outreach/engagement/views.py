"""Public tracking endpoints: the click redirect and the open pixel."""

from __future__ import annotations

import base64

from flask import Blueprint, Response, abort, redirect

from outreach.engagement import services
from outreach.extensions import db

bp = Blueprint("engagement", __name__)

# A transparent 1x1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@bp.route("/r/<token>")
def click(token: str):
    url = services.click_target(db.session, token)
    if url is None:
        abort(404)
    db.session.commit()
    response = redirect(url, code=302)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/o/<token>.gif")
def pixel(token: str):
    if not services.record_open(db.session, token):
        abort(404)
    db.session.commit()
    return Response(PIXEL, mimetype="image/gif", headers={"Cache-Control": "no-store, max-age=0"})
