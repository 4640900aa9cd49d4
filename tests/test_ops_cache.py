"""The public page cache stays correct: per language, GET only, no token baked into the form."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from outreach.campaigns import archive_views
from outreach.contacts.models import Contact
from outreach.extensions import cache
from tests.test_archive import make_campaign
from tests.test_subscription_flow import form


@pytest.fixture
def caching(app):
    """A real per-process cache, with CSRF protection on as in production."""
    saved = {key: app.config[key] for key in ("CACHE_TYPE", "WTF_CSRF_ENABLED")}
    app.config.update(CACHE_TYPE="SimpleCache", WTF_CSRF_ENABLED=True)
    cache.init_app(app)
    archive_views.clear_render_cache()
    yield app
    cache.clear()
    archive_views.clear_render_cache()
    app.config.update(saved)
    cache.init_app(app)


def contacts(db_session) -> int:
    return db_session.scalar(select(func.count(Contact.id)))


def test_subscribe_page_is_served_from_the_cache_per_language(client, caching):
    caching.config["ORGANISATION_NAME"] = "First Name Org"
    first = client.get("/en/subscribe")
    caching.config["ORGANISATION_NAME"] = "Renamed Org"
    try:
        again = client.get("/en/subscribe")
        french = client.get("/fr/subscribe")
    finally:
        caching.config["ORGANISATION_NAME"] = "Outreach"

    assert first.status_code == again.status_code == 200
    assert again.get_data() == first.get_data()
    assert "First Name Org" in again.get_data(as_text=True)
    assert '<html lang="fr">' in french.get_data(as_text=True)
    assert "Renamed Org" in french.get_data(as_text=True)


def test_cached_form_has_no_session_token_and_sets_no_cookie(client, caching):
    page = client.get("/en/subscribe")
    assert 'name="csrf_token"' not in page.get_data(as_text=True)
    assert "Set-Cookie" not in page.headers


def test_a_visitor_without_session_can_post_the_cached_form(app, client, caching, db_session):
    client.get("/en/subscribe")  # cached by someone else
    visitor = app.test_client()
    response = visitor.post("/en/subscribe", data=form(), headers={"Origin": "http://localhost"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/en/subscribe/check-email")
    assert contacts(db_session) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_a_post_from_another_site_is_refused(client, caching, db_session, headers):
    response = client.post("/en/subscribe", data=form(), headers=headers)
    assert response.status_code == 400
    assert contacts(db_session) == 0


def test_the_public_base_url_is_an_accepted_origin(client, caching, db_session):
    origin = caching.config["PUBLIC_BASE_URL"]
    response = client.post("/en/subscribe", data=form(), headers={"Origin": origin})
    assert response.status_code == 302
    assert contacts(db_session) == 1


def test_a_post_is_never_answered_from_the_cache(client, caching, db_session):
    client.get("/en/subscribe")
    response = client.post("/en/subscribe", data=form(email=""))
    assert response.status_code == 400
    assert "Enter your email address." in response.get_data(as_text=True)


def test_a_waiting_flash_message_bypasses_the_cache(client, caching):
    client.get("/en/subscribe")
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "Only for this visitor")]
    page = client.get("/en/subscribe")
    assert "Only for this visitor" in page.get_data(as_text=True)
    assert "Only for this visitor" not in client.get("/en/subscribe").get_data(as_text=True)


def test_archive_is_cached_per_requested_and_browser_language(client, caching, db_session):
    make_campaign(db_session, "Bilingual", {"en": "October news", "fr": "Nouvelles d'octobre"})
    db_session.commit()

    english = client.get("/archive", headers={"Accept-Language": "en"})
    french = client.get("/archive", headers={"Accept-Language": "fr"})
    french_arg = client.get("/archive?lang=fr", headers={"Accept-Language": "en"})

    assert '<html lang="en">' in english.get_data(as_text=True)
    assert '<html lang="fr">' in french.get_data(as_text=True)
    assert '<html lang="fr">' in french_arg.get_data(as_text=True)
    assert "Nouvelles d'octobre" in french_arg.get_data(as_text=True).replace("&#39;", "'")
    # Shared caches downstream must keep one copy per browser language, but one per URL with ?lang=.
    assert "accept-language" in french.headers.get("Vary", "").lower()
    assert "accept-language" not in french_arg.headers.get("Vary", "").lower()


def test_archive_not_found_is_not_cached(client, caching, db_session):
    assert client.get("/archive/1").status_code == 404
    campaign = make_campaign(db_session, "Late", {"en": "Late news"})
    db_session.commit()
    assert client.get(f"/archive/{campaign.id}").status_code == 200
