"""Staff page for API tokens: list (own, or all for admins), create (secret shown once), revoke."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from outreach.api import tokens
from outreach.auth.decorators import require_login
from outreach.core.errors import ServiceError
from outreach.extensions import db

bp = Blueprint("api_tokens", __name__)
bp.before_request(require_login)


def _page(secret: str | None = None, error: str | None = None, status: int = 200):
    return render_template(
        "api/tokens.html",
        tokens=tokens.visible_tokens(db.session, current_user),
        secret=secret,
        error=error,
    ), status


@bp.get("/api-tokens")
def index():
    return _page()


@bp.post("/api-tokens")
def create():
    """The new secret is shown on this response only; it is never stored or shown again."""
    try:
        _token, secret = tokens.create_token(db.session, current_user, request.form.get("name", ""))
    except ServiceError as exc:
        db.session.rollback()
        return _page(error=exc.message, status=400)
    db.session.commit()
    return _page(secret=secret)


@bp.route("/api-tokens/<int:token_id>/revoke", methods=["GET", "POST"])
def revoke(token_id: int):
    """A GET, or a POST without `confirmed=1`, asks first."""
    if not (request.method == "POST" and request.form.get("confirmed") == "1"):
        return render_template(
            "contacts/confirm.html",
            title="Revoke API token",
            question="Scripts using this token will be refused from now on. Revoke it?",
            button="Revoke",
            cancel_url=url_for("api_tokens.index"),
        )
    token = tokens.revoke_token(db.session, current_user, token_id)
    db.session.commit()
    flash(f"The token {token.prefix}… is revoked.", "success")
    return redirect(url_for("api_tokens.index"))
