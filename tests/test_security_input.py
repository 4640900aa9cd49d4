"""CSRF on every form, header injection refused, user input never rendered unescaped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from outreach.campaigns import services as campaign_services
from outreach.campaigns.models import Campaign
from outreach.contacts.models import Contact
from outreach.core.errors import ServiceError
from outreach.segments.services import create_segment
from tests.factories import make_contact, make_organisation

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
XSS = "<script>alert(1)</script>"


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


# --- CSRF -----------------------------------------------------------------------------------------


def post_forms():
    for path in sorted(TEMPLATES.rglob("*.html")):
        source = path.read_text()
        for match in re.finditer(r"<form\b[^>]*>.*?</form>", source, re.S | re.I):
            if re.search(r'method="post"', match.group(0)[:300], re.I):
                yield path.relative_to(TEMPLATES), match.group(0)


# The public subscribe page is cached for everyone, so its form cannot carry a per-session token:
# its view refuses cross-site POSTs by Origin / Sec-Fetch-Site instead (tests/test_ops_cache.py).
ORIGIN_CHECKED_FORMS = {"public/subscribe.html"}


def test_every_post_form_in_the_templates_carries_a_csrf_token():
    forms = list(post_forms())
    assert len(forms) > 30
    missing = {str(path) for path, form in forms if not re.search(r"csrf|hidden_tag", form)}
    assert missing == ORIGIN_CHECKED_FORMS


def test_the_origin_checked_form_refuses_a_cross_site_post(client, csrf_on):
    response = client.post(
        "/en/subscribe",
        data={"email": "someone@example.org", "privacy": "y"},
        headers={"Origin": "https://attacker.example"},
    )
    assert response.status_code == 400


def test_posts_without_a_token_are_refused(client, staff_client, admin_user, csrf_on):
    refused = client.post("/login", data={"email": admin_user.email,
                                          "password": "correct-horse-battery"})
    assert refused.status_code == 400 and "CSRF" in text(refused)
    assert staff_client.post("/contacts/new", data={"email": "x@example.org"}).status_code == 400
    assert staff_client.post("/users/", data={"email": "x@example.org"}).status_code == 400
    assert staff_client.post("/en/subscribe", data={"email": "x@example.org"}).status_code == 400


def test_posts_with_the_page_token_go_through(client, admin_user, csrf_on):
    page = text(client.get("/login"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"email": admin_user.email, "csrf_token": token,
                                           "password": "correct-horse-battery"})
    assert response.status_code == 302


# --- header injection -----------------------------------------------------------------------------


@pytest.mark.parametrize("field, value", [
    ("en_subject", "Hello\r\nBcc: everyone@example.org"),
    ("sender_name", "UPR Team\nBcc: everyone@example.org"),
    ("sender_email", "news@example.org\r\nBcc: everyone@example.org"),
    ("reply_to", "reply@example.org\nBcc: everyone@example.org"),
])
def test_newlines_in_mail_headers_are_refused(staff_client, db_session, field, value):
    form = {
        "name": "Autumn", "topic": "newsletter", "sender_name": "UPR Team",
        "sender_email": "news@example.org", "reply_to": "", "default_language": "en",
        "session_id": "", "en_include": "y", "en_subject": "News", "en_body": "Hello",
        field: value,
    }
    response = staff_client.post("/campaigns/new", data=form)
    assert response.status_code == 400
    assert "line break" in text(response) or "valid" in text(response).lower()
    assert db_session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_the_campaign_service_refuses_header_injection_too(db_session):
    with pytest.raises(ServiceError, match="line break"):
        campaign_services.create_campaign(db_session, campaign_services.CampaignData(
            name="X", sender_name="A\r\nBcc: b@example.org", sender_email="news@example.org",
            variants=[("en", "Hi", "Hello")]))


def test_newlines_in_contact_and_staff_addresses_are_refused(staff_client, db_session):
    contact = staff_client.post("/contacts/new", data={
        "email": "a@example.org\r\nBcc: b@example.org", "type": "ngo", "language": "en",
        "status": "active"})
    assert contact.status_code == 400
    assert db_session.scalar(select(func.count()).select_from(Contact)) == 0
    user = staff_client.post("/users/", data={
        "email": "c@example.org", "name": "Eve\nBcc: d@example.org", "role": "viewer",
        "password": "long-enough-password"})
    assert user.status_code == 400 and "single line" in text(user)


# --- escaping -------------------------------------------------------------------------------------


def test_contact_fields_are_escaped_on_every_page(staff_client, db_session):
    org = make_organisation(db_session, f"Org {XSS}")
    contact = make_contact(db_session, "ana@example.org", first_name=XSS,
                           last_name='"><img src=x onerror=alert(1)>', organisation=org)
    contact.notes = XSS
    contact.role_title = XSS
    db_session.commit()
    for url in ("/contacts", f"/contacts/{contact.id}", f"/contacts/{contact.id}/edit",
                "/organisations", f"/organisations/{org.id}"):
        page = text(staff_client.get(url))
        assert XSS not in page, url
        assert "<img src=x" not in page, url
        assert "&lt;script&gt;" in page, url


def test_markdown_cannot_smuggle_script_or_handlers(staff_client, db_session):
    make_contact(db_session, "ana@example.org", first_name=XSS)
    segment = create_segment(db_session, "All", {})
    campaign = campaign_services.create_campaign(db_session, campaign_services.CampaignData(
        name=f"Campaign {XSS}", sender_name="UPR", sender_email="news@example.org",
        segment_ids=[segment.id],
        variants=[("en", f"Hi {XSS}", (
            f"Hello {{{{ contact.first_name }}}}\n\n{XSS}\n\n"
            "<img src=x onerror=alert(1)>\n\n[click](javascript:alert(1))\n\n"
            '<a href="https://example.org" onclick="alert(1)">ok</a>'
        ))]))
    db_session.commit()

    page = text(staff_client.get(f"/campaigns/{campaign.id}/preview"))
    assert XSS not in page and "&lt;script&gt;" in page
    frame = text(staff_client.get(f"/campaigns/{campaign.id}/preview/email"))
    lowered = frame.lower()
    assert "<script" not in lowered
    assert "onerror" not in lowered and "onclick" not in lowered
    assert "javascript:" not in lowered
    assert "&lt;script&gt;" in frame  # the merge field is escaped, not dropped
