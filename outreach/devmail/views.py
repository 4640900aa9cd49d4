"""Read the development mail catcher's messages in the browser (development and tests only)."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from outreach.auth.decorators import editor_required, require_login
from outreach.core.pagination import Page, parse_page_args
from outreach.core.security import email_frame_response
from outreach.devmail.store import MailStore

bp = Blueprint("devmail", __name__, url_prefix="/dev/mail")


@bp.before_request
def only_when_enabled():
    if not current_app.config.get("DEV_MAIL_VIEWER"):
        abort(404)
    return require_login()


def store() -> MailStore:
    return MailStore(current_app.config["DEV_MAIL_DIR"])


@bp.get("/")
def index():
    page, per_page = parse_page_args(request.args, 50)
    messages, total = store().list(limit=per_page, offset=(page - 1) * per_page)
    return render_template(
        "devmail/index.html",
        page=Page(items=messages, page=page, per_page=per_page, total=total),
    )


@bp.get("/<key>")
def show(key: str):
    message = store().get(key)
    if message is None:
        abort(404, "No such message; it may have been deleted.")
    return render_template("devmail/show.html", mail=message)


@bp.get("/<key>/html")
def html(key: str):
    """The HTML part alone, for the sandboxed frame of the message page."""
    message = store().get(key)
    body = message.body("html") if message is not None else None
    if not body:
        abort(404, "No such message, or it has no HTML part.")
    return email_frame_response(body)


@bp.get("/<key>/raw")
def raw(key: str):
    data = store().raw(key)
    if data is None:
        abort(404)
    return Response(data, mimetype="text/plain")


@bp.post("/clear")
@editor_required
def clear():
    removed = store().clear()
    flash(f"Deleted {removed} message(s).", "info")
    return redirect(url_for("devmail.index"))
