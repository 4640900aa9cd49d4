"""The /api/v1 blueprint: bearer-token authentication, role checks and JSON errors.

Every route needs a token unless marked `@public`. Reads are open to every role; writes need a
role that may edit (`User.can_edit`), as in the staff UI.
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from outreach.api.tokens import authenticate
from outreach.auth.models import User
from outreach.contacts.csv_io import CsvFileError
from outreach.core.errors import NotFound, ServiceError
from outreach.extensions import csrf, db, limiter

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

READ_METHODS = ("GET", "HEAD", "OPTIONS")
# Service refusals that are conflicts with the current state rather than bad input.
CONFLICT_CODES = ("duplicate", "locked", "illegal_transition")


class ApiError(ServiceError):
    """A refusal with an HTTP status of its own (400 for malformed input, 401, 403)."""

    def __init__(self, status: int, code: str, message: str, fields: dict | None = None):
        super().__init__(message, fields, code=code)
        self.status = status


def public(view):
    """Mark a route as answering without a token."""
    view.api_public = True
    return view


def current_api_user() -> User:
    return g.api_user


def api_rate_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


def rate_limit_key() -> str:
    """Per token (by a hash of the header, before the token is looked up), else per address."""
    header = request.headers.get("Authorization", "")
    if header:
        return "api-token:" + hashlib.sha256(header.encode("utf-8")).hexdigest()[:32]
    return "api-addr:" + (request.remote_addr or "")


limiter.limit(api_rate_limit, key_func=rate_limit_key)(bp)


def error_json(status: int, code: str, message: str, fields: dict | None = None):
    body = {"error": {"code": code, "message": message, "fields": fields or {}}}
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="outreach"'
    return response


@bp.before_request
def authenticate_request():
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, "api_public", False):
        return None
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return error_json(401, "unauthorized", "Send an API token: Authorization: Bearer <token>.")
    token = authenticate(db.session, secret.strip())
    if token is None:
        db.session.rollback()
        return error_json(401, "unauthorized", "This API token is unknown, revoked or disabled.")
    if db.session.dirty:  # the token's last use, noted at most once a minute
        db.session.commit()
    g.api_token = token
    g.api_user = token.user
    # The token's owner is the request's user for Flask-Login too, so the services' role checks
    # and the audit log see who acts; no session cookie is involved.
    current_app.login_manager._update_request_context_with_user(token.user)
    if request.method not in READ_METHODS and not token.user.can_edit():
        message = f"Your role ({token.user.role}) can read but not change data."
        return error_json(403, "forbidden", message)
    return None


@bp.errorhandler(ServiceError)
def service_error(exc: ServiceError):
    db.session.rollback()
    if isinstance(exc, ApiError):
        status = exc.status
    elif isinstance(exc, NotFound):
        status = 404
    elif exc.code in CONFLICT_CODES:
        status = 409
    else:
        status = 422
    return error_json(status, exc.code, exc.message, exc.fields)


@bp.errorhandler(IntegrityError)
def integrity_error(_exc: IntegrityError):
    """A concurrent request (or a uniqueness rule the checks missed) got there first."""
    db.session.rollback()
    return error_json(409, "conflict", "This conflicts with existing data; reload and retry.")


@bp.errorhandler(CsvFileError)
def csv_error(exc: CsvFileError):
    db.session.rollback()
    return error_json(422, "invalid_file", str(exc), {"file": str(exc)})


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    db.session.rollback()
    code = (exc.name or "error").lower().replace(" ", "_")
    return error_json(exc.code or 400, code, exc.description or exc.name)
