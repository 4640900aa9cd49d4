"""Security headers, the strict Content-Security-Policy, cookies, upload limit, SECRET_KEY."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from outreach.core.security import CSP
from tests.factories import make_contact

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
PAGE_TEMPLATES = [p for p in TEMPLATES.rglob("*.html") if "emails" not in p.parts]


def test_every_page_gets_the_strict_policy_and_the_usual_headers(staff_client, client):
    for response in (staff_client.get("/contacts"), client.get("/en/subscribe"),
                     client.get("/login"), client.get("/no-such-page")):
        csp = response.headers["Content-Security-Policy"]
        assert csp == CSP
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert "script-src 'self'" in csp and "style-src 'self'" in csp
        assert "frame-ancestors 'self'" in csp and "object-src 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "camera=()" in response.headers["Permissions-Policy"]
        assert "Strict-Transport-Security" not in response.headers  # plain HTTP in tests


@pytest.mark.parametrize("path", PAGE_TEMPLATES, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_have_no_inline_script_style_or_handler(path):
    source = path.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", source), "inline <script>"
    assert not re.search(r"\sstyle=", source), "style attribute"
    assert not re.search(r"<style", source), "<style> element"
    assert not re.search(r"\son[a-z]+\s*=", source), "on*= event handler"
    assert "srcdoc=" not in source  # a srcdoc frame inherits the page's policy


def test_destructive_forms_ask_through_confirm_js(staff_client, db_session):
    contact = make_contact(db_session, "ana@example.org")
    db_session.commit()
    page = staff_client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert "/static/confirm.js" in page
    assert 'data-confirm="Deactivate this contact?' in page
    script = staff_client.get("/static/confirm.js").get_data(as_text=True)
    assert "data-confirm" in script and 'namedItem("confirmed")' in script


def test_email_previews_are_served_alone_with_a_sandboxed_policy(staff_client):
    from outreach.core.security import EMAIL_CSP, email_frame_response

    response = email_frame_response('<p style="color: red">Hi</p>')
    assert response.headers["Content-Security-Policy"] == EMAIL_CSP
    assert "style-src 'unsafe-inline'" in EMAIL_CSP and "script-src" not in EMAIL_CSP
    assert "default-src 'none'" in EMAIL_CSP and "sandbox" in EMAIL_CSP


def test_session_and_remember_cookies_are_httponly_and_samesite(client, admin_user):
    response = client.post("/login", data={
        "email": admin_user.email, "password": "correct-horse-battery", "remember": "y"})
    cookies = response.headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith("session="))
    remember = next(c for c in cookies if c.startswith("remember_token="))
    for cookie in (session, remember):
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def _production_env(monkeypatch, **values):
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://outreach.example.org")
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_the_app_refuses_to_start_without_secret_key_in_production(monkeypatch):
    from outreach import create_app

    _production_env(monkeypatch)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")


def test_production_cookies_are_secure_and_hsts_is_sent(monkeypatch):
    from outreach import create_app
    from outreach.extensions import db, limiter

    _production_env(monkeypatch, SECRET_KEY="a-real-secret-for-this-test-only")
    app = create_app("production")
    try:
        assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
        assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["REMEMBER_COOKIE_HTTPONLY"]
        response = app.test_client().get("/static/confirm.js")
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        limiter.enabled = False  # the shared limiter, as the testing config leaves it
        with app.app_context():
            db.engine.dispose()


def test_uploads_over_the_limit_get_a_clear_413(app, staff_client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        big = {"confirmed": "1", "filler": "x" * 4096}
        response = staff_client.post("/suppressions/bulk", data=big)
        assert response.status_code == 413
        page = response.get_data(as_text=True)
        assert "too large" in page and "1024 bytes" in page
        imported = staff_client.post("/contacts/import", data=big)
        assert imported.status_code == 413 and "upload limit" in imported.get_data(as_text=True)
        api = staff_client.post("/suppressions/bulk", data=big,
                                headers={"Accept": "application/json"})
        assert api.status_code == 413 and api.json["error"]["code"] == "too_large"
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 20 * 1024 * 1024
