"""Security headers, the Content-Security-Policy, and the upload-limit page.

Every page gets a strict policy: scripts and styles only from our own static files, no inline code.
Rendered emails need inline styles; they are served alone, from their own routes, through
`email_frame_response` with a relaxed but sandboxed policy, and shown in a sandboxed iframe.
"""

from __future__ import annotations

from flask import Flask, Response, current_app

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)
EMAIL_CSP = (
    "default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox allow-popups "
    "allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def email_frame_response(html: str, *, private: bool = True) -> Response:
    """A rendered email on its own, for a sandboxed iframe: inline styles allowed, no scripts.
    Staff previews are `private` (never stored); a public page sets its own caching."""
    response = Response(html, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = EMAIL_CSP
    if private:
        response.headers["Cache-Control"] = "private, no-store"
    return response


def add_security_headers(response: Response) -> Response:
    """Set the headers a view did not set itself (a view may relax the policy)."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        seconds = current_app.config.get("HSTS_SECONDS", 31536000)
        response.headers.setdefault("Strict-Transport-Security", f"max-age={seconds}")
    return response


def upload_limit_message() -> str:
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    size = f"{limit / (1024 * 1024):.0f} MB" if limit >= 1024 * 1024 else f"{limit} bytes"
    return f"The upload is too large: at most {size} is accepted. Send a smaller file."


def register(app: Flask) -> None:
    from werkzeug.exceptions import RequestEntityTooLarge

    from outreach.core.errors import error_response

    app.after_request(add_security_headers)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc):
        return error_response(413, "too_large", upload_limit_message())
