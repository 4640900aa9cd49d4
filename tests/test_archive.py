"""The public archive of sent campaigns and its Atom feed: no login, no personal data."""

from __future__ import annotations

import types
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from outreach.campaigns import archive_views
from outreach.campaigns.models import Campaign, CampaignVariant
from tests.factories import make_contact

ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
CONTACT_EMAILS = ("amina.real@example.org", "jorge.real@example.org")


@pytest.fixture(autouse=True)
def fresh_render_cache():
    """Ids restart in every test: rendered campaigns must not outlive one."""
    archive_views.clear_render_cache()
    yield
    archive_views.clear_render_cache()


def make_campaign(session, name, subjects: dict[str, str], *, status="sent", public=True,
                  finished_at=None):
    campaign = Campaign(
        name=name, status=status, public=public, sender_name="UPR Info",
        sender_email="news@example.org", default_language=next(iter(subjects)),
        started_at=finished_at, finished_at=finished_at,
    )
    campaign.variants = [
        CampaignVariant(
            language=language,
            subject=subject,
            body_markdown=(
                "Dear {{ contact.first_name or 'colleague' }} ({{ contact.email }}),\n\n"
                f"The **52nd session** opens. {subject} body text."
            ),
        )
        for language, subject in subjects.items()
    ]
    session.add(campaign)
    session.flush()
    return campaign


@pytest.fixture
def archive(db_session):
    for email, first in zip(CONTACT_EMAILS, ("Amina", "Jorge"), strict=True):
        make_contact(db_session, email, first_name=first)
    october = make_campaign(
        db_session, "Internal: October issue",
        {"en": "UPR news October", "fr": "Nouvelles de l'EPU octobre"},
        finished_at=datetime(2026, 10, 1, 8, 0, tzinfo=UTC),
    )
    november = make_campaign(
        db_session, "Internal: November issue", {"en": "UPR news November"},
        finished_at=datetime(2026, 11, 1, 8, 0, tzinfo=UTC),
    )
    private = make_campaign(db_session, "Private", {"en": "Members only"}, public=False,
                            finished_at=datetime(2026, 9, 1, tzinfo=UTC))
    draft = make_campaign(db_session, "Draft", {"en": "Not sent yet"}, status="draft")
    db_session.commit()
    return types.SimpleNamespace(
        october=october, november=november, private=private, draft=draft
    )


def assert_no_personal_data(text: str) -> None:
    for email in CONTACT_EMAILS + ("amina.diallo@example.org",):
        assert email not in text
    assert "Amina" not in text and "Jorge" not in text


# --- Pages ---------------------------------------------------------------------------------------


def test_archive_lists_public_sent_campaigns_newest_first_without_login(client, archive):
    response = client.get("/archive")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.index("UPR news November") < html.index("UPR news October")
    assert "Members only" not in html and "Not sent yet" not in html
    assert "Internal:" not in html  # staff names stay private
    assert f"/archive/{archive.october.id}?lang=fr" in html
    assert "/archive.atom" in html
    assert_no_personal_data(html)


def test_archive_per_language(client, archive):
    html = client.get("/archive?lang=fr").get_data(as_text=True)

    assert "Nouvelles de l&#39;EPU octobre" in html
    assert "UPR news November" not in html and "UPR news October" not in html
    assert '<html lang="fr">' in html
    assert "1 octobre 2026" in html


def test_unknown_language_is_400(client, archive):
    assert client.get("/archive?lang=de").status_code == 400
    assert client.get("/archive.atom?lang=xx").status_code == 400


def test_empty_archive_says_so(client):
    html = client.get("/archive").get_data(as_text=True)

    assert "Nothing here yet" in html


def test_detail_renders_the_campaign_without_personal_data(client, archive):
    response = client.get(f"/archive/{archive.october.id}?lang=fr")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1 class=\"h3 mb-1\">Nouvelles de l&#39;EPU octobre</h1>" in html
    assert f'src="/archive/{archive.october.id}/email?lang=fr"' in html
    assert "sandbox=" in html
    assert "52nd session" in html  # the plain-text version
    assert f"/archive/{archive.october.id}?lang=en" in html
    assert_no_personal_data(html)


def test_detail_falls_back_to_the_default_language(client, archive):
    html = client.get(f"/archive/{archive.november.id}?lang=fr").get_data(as_text=True)

    assert "UPR news November" in html


def test_email_frame_is_the_rendered_message_locked_down(client, archive):
    response = client.get(f"/archive/{archive.october.id}/email")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<strong>52nd session</strong>" in html
    assert "script-src" not in response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert_no_personal_data(html)


@pytest.mark.parametrize("which", ["private", "draft"])
def test_unpublished_campaigns_are_not_found(client, archive, which):
    campaign = getattr(archive, which)

    assert client.get(f"/archive/{campaign.id}").status_code == 404
    assert client.get(f"/archive/{campaign.id}/email").status_code == 404
    assert client.get("/archive/99999").status_code == 404


# --- Atom ----------------------------------------------------------------------------------------


def parse_feed(response) -> ET.Element:
    assert response.status_code == 200
    assert response.content_type.startswith("application/atom+xml")
    return ET.fromstring(response.get_data())


def test_atom_feed_is_valid_and_lists_public_sent_campaigns(client, archive):
    response = client.get("/archive.atom")

    feed = parse_feed(response)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}id").startswith("tag:127.0.0.1,2026-01-01:archive")
    assert feed.findtext(f"{ATOM}updated") == "2026-11-01T08:00:00Z"
    assert feed.find(f"{ATOM}author/{ATOM}name").text
    self_link = feed.find(f"{ATOM}link[@rel='self']").get("href")
    assert self_link == "http://127.0.0.1:5000/archive.atom"
    entries = feed.findall(f"{ATOM}entry")
    assert [entry.findtext(f"{ATOM}title") for entry in entries] == [
        "UPR news November", "UPR news October"
    ]
    first = entries[0]
    assert first.findtext(f"{ATOM}id") == (
        f"tag:127.0.0.1,2026-11-01:campaign:{archive.november.id}:en"
    )
    assert first.findtext(f"{ATOM}updated") == "2026-11-01T08:00:00Z"
    assert first.find(f"{ATOM}link").get("href") == (
        f"http://127.0.0.1:5000/archive/{archive.november.id}?lang=en"
    )
    assert "52nd session" in first.findtext(f"{ATOM}summary")
    assert_no_personal_data(response.get_data(as_text=True))


def test_atom_feed_per_language(client, archive):
    feed = parse_feed(client.get("/archive.atom?lang=fr"))

    entries = feed.findall(f"{ATOM}entry")
    assert feed.get(XML_LANG) == "fr"
    assert [entry.findtext(f"{ATOM}title") for entry in entries] == [
        "Nouvelles de l'EPU octobre"
    ]
    assert entries[0].get(XML_LANG) == "fr"
    assert entries[0].findtext(f"{ATOM}id").endswith(f"campaign:{archive.october.id}:fr")


def test_empty_atom_feed_is_still_valid(client):
    feed = parse_feed(client.get("/archive.atom"))

    assert feed.findall(f"{ATOM}entry") == []
    assert feed.findtext(f"{ATOM}updated")


def test_feed_drops_characters_xml_cannot_carry(client, db_session):
    make_campaign(db_session, "Odd", {"en": "Bell\x07 news"},
                  finished_at=datetime(2026, 11, 2, tzinfo=UTC))
    db_session.commit()

    feed = parse_feed(client.get("/archive.atom"))

    assert feed.find(f"{ATOM}entry/{ATOM}title").text == "Bell news"


def test_summary_is_cut_at_a_word():
    text = "word " * 200

    summary = archive_views.summary_of(text, 23)

    assert summary == "word word word word…"


def test_a_campaign_that_needs_a_real_recipient_does_not_break_the_archive(client, db_session):
    """`contact.countries[0]` works for real recipients, not for the archive's neutral one."""
    broken = make_campaign(db_session, "Per-country news", {"en": "News for your country"},
                           finished_at=datetime(2026, 5, 4, tzinfo=UTC))
    broken.variants[0].body_markdown = "Your country: {{ contact.countries[0] }}"
    make_campaign(db_session, "Session 52", {"en": "Session 52 opens"},
                  finished_at=datetime(2026, 5, 1, tzinfo=UTC))
    db_session.commit()

    listing = client.get("/archive")
    assert listing.status_code == 200
    assert "Session 52 opens" in listing.get_data(as_text=True)
    assert client.get("/archive.atom").status_code == 200
    detail = client.get(f"/archive/{broken.id}")
    assert detail.status_code == 200
    email = client.get(f"/archive/{broken.id}/email").get_data(as_text=True)
    assert "This newsletter cannot be shown in the archive." in email
