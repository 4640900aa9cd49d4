"""Error pages for people and JSON errors for the API: bad input is a 4xx, never a 500."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from outreach.extensions import db


class ServiceError(Exception):
    """A refusal from the service layer that the user can act on (a 400 or a form error)."""

    def __init__(self, message: str, fields: dict[str, str] | None = None, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.code = code


class NotFound(ServiceError):
    def __init__(self, message: str = "Not found"):
        super().__init__(message, code="not_found")


def wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json"
    )


def error_response(status: int, code: str, message: str, fields: dict | None = None):
    if wants_json():
        body = {"error": {"code": code, "message": message, "fields": fields or {}}}
        return jsonify(body), status
    return render_template("errors/error.html", status=status, message=message), status


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        body, status = error_response(exc.code or 500, code, exc.description or exc.name)
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() == "allow"]  # on a 405
        return body, status, headers

    @app.errorhandler(ServiceError)
    def handle_service(exc: ServiceError):
        db.session.rollback()
        status = 404 if isinstance(exc, NotFound) else 400
        return error_response(status, exc.code, exc.message, exc.fields)

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        db.session.rollback()
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        return error_response(500, "server_error", "Something went wrong on our side.")
