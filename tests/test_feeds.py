"""News feeds: polling RSS/Atom from a local HTTP server, failures, the staff pages, digests."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from outreach.alerts.digests import recent_news_items
from outreach.feeds import services
from outreach.feeds.countries import tag_countries
from outreach.feeds.models import FeedItem, FeedSource

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>ONG</title><link>http://example.org/</link>
<item><guid>rss-1</guid><title>Rapport sur la C\xc3\xb4te d'Ivoire</title>
<link>http://example.org/1</link>
<description>&lt;p&gt;La situation en Ha\xc3\xafti &lt;script&gt;alert(1)&lt;/script&gt;
&lt;b&gt;s'am\xc3\xa9liore&lt;/b&gt;&lt;/p&gt;</description>
<pubDate>Tue, 24 Nov 2026 10:00:00 +0100</pubDate></item>
<item><title>Sans guid</title><link>http://example.org/2</link>
<pubDate>Mon, 23 Nov 2026 08:00:00 GMT</pubDate></item>
<item><guid>rss-1</guid><title>Duplicate of the first</title></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>UN</title><id>urn:un</id>
<updated>2026-11-24T12:00:00Z</updated>
<entry><id>urn:un:1</id><title>Review of Brazil</title><link href="http://example.org/a1"/>
<updated>2026-11-24T12:00:00-05:00</updated><summary>Civil society in Brazil.</summary></entry>
</feed>"""

BROKEN = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Broken</title>
<item><guid>b-1</guid><title>Good entry about Kenya</title><link>http://example.org/b1</link></item>
<item><guid>b-2</guid><title>Unclosed & entity</title></channel>"""

HTML = b"<!doctype html><html><head><title>Not a feed</title></head><body><p>Hi</p></body></html>"


class FeedHandler(BaseHTTPRequestHandler):
    hits: dict[str, int] = {}

    def log_message(self, *args):
        pass

    def _send(self, status, body=b"", content_type="application/rss+xml", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        FeedHandler.hits[self.path] = FeedHandler.hits.get(self.path, 0) + 1
        if self.path == "/rss":
            self._send(200, RSS)
        elif self.path == "/atom":
            self._send(200, ATOM, "application/atom+xml")
        elif self.path == "/broken":
            self._send(200, BROKEN)
        elif self.path == "/html":
            self._send(200, HTML, "text/html; charset=utf-8")
        elif self.path == "/error":
            self._send(500, b"oops", "text/plain")
        elif self.path == "/moved":
            self._send(301, b"", "text/plain", headers=[("Location", "/rss")])
        elif self.path == "/conditional":
            if self.headers.get("If-None-Match") == '"v1"':
                self._send(304)
            else:
                self._send(200, RSS, headers=[("ETag", '"v1"')])
        else:
            self._send(404, b"not found", "text/plain")


@pytest.fixture(scope="module")
def feed_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FeedHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def add_source(session, url, name=None, **values) -> FeedSource:
    source = services.create_source(
        session, services.SourceData(url=url, name=name or url.rsplit("/", 1)[-1], **values)
    )
    session.commit()
    return source


def items_of(session, source):
    return session.scalars(
        select(FeedItem).where(FeedItem.source_id == source.id).order_by(FeedItem.guid)
    ).all()


def test_rss_items_are_stored_once_sanitised_dated_utc_and_tagged(db_session, feed_server):
    source = add_source(db_session, f"{feed_server}/rss", language="fr")
    result = services.poll_source(db_session, source)
    db_session.commit()
    assert (result.status, result.new_items) == ("ok", 2)
    items = {item.guid: item for item in items_of(db_session, source)}
    assert set(items) == {"rss-1", "http://example.org/2"}
    first = items["rss-1"]
    assert first.title == "Rapport sur la Côte d'Ivoire"
    assert "<script>" not in first.summary and "alert(1)" not in first.summary
    assert "<b>s'améliore</b>" in first.summary or "<b>s&#39;améliore</b>" in first.summary
    assert first.published_at == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert first.countries == ["CI", "HT"]
    assert items["http://example.org/2"].link == "http://example.org/2"

    again = services.poll_source(db_session, source)
    db_session.commit()
    assert again.new_items == 0
    assert len(items_of(db_session, source)) == 2
    assert source.last_status == "ok" and source.failure_count == 0


def test_atom_entries_are_parsed_with_utc_dates(db_session, feed_server):
    source = add_source(db_session, f"{feed_server}/atom")
    services.poll_source(db_session, source)
    (item,) = items_of(db_session, source)
    assert item.guid == "urn:un:1"
    assert item.link == "http://example.org/a1"
    assert item.published_at == datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
    assert item.countries == ["BR"]


def test_a_malformed_feed_keeps_its_good_entries_and_records_the_problem(db_session, feed_server):
    source = add_source(db_session, f"{feed_server}/broken")
    result = services.poll_source(db_session, source)
    assert result.status == "partial"
    assert "b-1" in {item.guid for item in items_of(db_session, source)}
    assert source.last_status == "partial"
    assert source.last_error.startswith("Malformed feed")
    assert source.failure_count == 0


def test_conditional_get_answers_304_and_stores_nothing(db_session, feed_server):
    source = add_source(db_session, f"{feed_server}/conditional")
    assert services.poll_source(db_session, source).new_items == 2
    assert source.etag == '"v1"'
    result = services.poll_source(db_session, source)
    assert result.status == "not_modified"
    assert source.last_status == "not_modified"
    assert len(items_of(db_session, source)) == 2


@pytest.mark.parametrize(
    ("path", "message"),
    [("/html", "Not an RSS or Atom feed"), ("/error", "HTTP 500"), ("/missing", "HTTP 404")],
)
def test_failures_are_recorded_counted_and_flagged(db_session, feed_server, path, message):
    source = add_source(db_session, f"{feed_server}{path}")
    for attempt in range(1, 6):
        result = services.poll_source(db_session, source)
        assert result.status == "error"
        assert source.failure_count == attempt
        assert source.flagged == (attempt >= 5)
    assert message in source.last_error
    assert source.last_status == "error"
    assert items_of(db_session, source) == []


def test_a_timeout_is_recorded(db_session, monkeypatch):
    monkeypatch.setattr(services, "TIMEOUT_SECONDS", 0.5)
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts, never answers
    try:
        source = add_source(db_session, f"http://127.0.0.1:{listener.getsockname()[1]}/slow")
        result = services.poll_source(db_session, source)
    finally:
        listener.close()
    assert result.status == "error"
    assert "No answer" in source.last_error


def test_poll_due_goes_on_past_a_bad_source_and_respects_the_interval(db_session, feed_server):
    bad = add_source(db_session, f"{feed_server}/error")
    good = add_source(db_session, f"{feed_server}/atom")
    inactive = add_source(db_session, f"{feed_server}/rss", active=False)
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    report = services.poll_due(db_session, now)
    db_session.commit()
    assert report.summary() == "feeds: polled=2 new_items=1 not_modified=0 failed=1"
    assert bad.failure_count == 1 and good.last_status == "ok"
    assert items_of(db_session, inactive) == []
    assert good.next_poll_at == now + timedelta(minutes=60)

    assert services.poll_due(db_session, now + timedelta(minutes=30)).polled == 0
    assert services.poll_due(db_session, now + timedelta(minutes=30), include_all=True).polled == 2


def test_the_cli_prints_a_summary(app, db_session, feed_server):
    add_source(db_session, f"{feed_server}/rss")
    result = app.test_cli_runner().invoke(args=["feeds", "poll"])
    assert result.exit_code == 0, result.output
    assert "feeds: polled=1 new_items=2 not_modified=0 failed=0" in result.output


def test_the_cli_exits_1_when_every_source_failed(app, db_session, feed_server):
    add_source(db_session, f"{feed_server}/error")
    result = app.test_cli_runner().invoke(args=["feeds", "poll"])
    assert result.exit_code == 1
    assert "failed=1" in result.output


def test_the_scheduler_job_is_registered(app):
    from outreach.delivery.scheduler import JOBS

    assert JOBS["feeds"].func is services.poll_job
    assert JOBS["feeds"].seconds == 300


def test_country_tagging_is_accent_and_case_insensitive_on_whole_words():
    assert tag_countries("COTE D'IVOIRE et haiti") == ["CI", "HT"]
    assert tag_countries("Derechos humanos en México y Perú") == ["MX", "PE"]
    assert tag_countries("A woman from Romania") == ["RO"]
    assert tag_countries("No country here") == []


def test_recent_news_items_follow_language_and_countries(db_session, feed_server):
    source = add_source(db_session, f"{feed_server}/rss", language="fr")
    services.poll_source(db_session, source)
    db_session.commit()
    since = datetime(2026, 11, 20, tzinfo=UTC)
    until = datetime(2026, 11, 30, tzinfo=UTC)
    items = recent_news_items(db_session, since, until, "fr")
    assert [item.title for item in items] == ["Rapport sur la Côte d'Ivoire", "Sans guid"]
    tagged, general = items
    assert tagged.source == source.name and tagged.url == "http://example.org/1"
    assert tagged.countries == {"CI", "HT"}
    assert tagged.concerns({"HT"}) and not tagged.concerns({"BR"})
    assert general.concerns({"BR"})  # about no country in particular: for every reader
    assert recent_news_items(db_session, since, until, "en") == []
    assert recent_news_items(db_session, until, until + timedelta(days=7), "fr") == []


# --- Staff pages ----------------------------------------------------------------------------


def test_sources_page_shows_an_empty_state_then_sources(staff_client, db_session):
    page = staff_client.get("/feeds")
    assert page.status_code == 200
    assert "No news sources yet" in page.text
    source = add_source(db_session, "http://127.0.0.1:9/x", name="OHCHR news")
    source.flagged, source.failure_count, source.last_status = True, 5, "error"
    db_session.commit()
    page = staff_client.get("/feeds")
    assert "OHCHR news" in page.text and "failing" in page.text


def test_staff_add_edit_and_deactivate_a_source(staff_client, db_session):
    response = staff_client.post(
        "/feeds/new",
        data={
            "name": "UN News",
            "url": "https://news.un.org/feed/rss",
            "language": "fr",
            "countries": "Haïti, Kenya",
            "topics": "upr, hrc",
            "poll_interval_minutes": "30",
            "active": "y",
        },
    )
    assert response.status_code == 302
    source = db_session.scalar(select(FeedSource))
    assert (source.name, source.language, source.countries) == ("UN News", "fr", ["HT", "KE"])
    assert source.topics == ["upr", "hrc"] and source.poll_interval_minutes == 30

    bad = staff_client.post(
        f"/feeds/{source.id}/edit",
        data={
            "name": "UN",
            "url": "not a url",
            "countries": "Atlantis",
            "poll_interval_minutes": "1",
            "language": "en",
        },
    )
    assert bad.status_code == 400
    assert "Unknown countries: Atlantis" in bad.text
    assert "http:// or https://" in bad.text
    assert 'value="not a url"' in bad.text

    ask = staff_client.post(f"/feeds/{source.id}/deactivate")
    assert ask.status_code == 200 and "Stop polling" in ask.text
    staff_client.post(f"/feeds/{source.id}/deactivate", data={"confirmed": "1"})
    db_session.refresh(source)
    assert source.active is False
    assert staff_client.get("/feeds/999/edit").status_code == 404


def test_duplicate_url_is_a_form_error(staff_client, db_session):
    add_source(db_session, "https://example.org/feed", name="First")
    response = staff_client.post(
        "/feeds/new",
        data={
            "name": "Second",
            "url": "https://example.org/feed",
            "language": "en",
            "poll_interval_minutes": "60",
        },
    )
    assert response.status_code == 400
    assert "Another source has this URL." in response.text
    assert db_session.scalar(select(func.count(FeedSource.id))) == 1


def test_poll_now_and_browse_items_by_source_and_country(staff_client, db_session, feed_server):
    rss = add_source(db_session, f"{feed_server}/rss", name="ONG")
    add_source(db_session, f"{feed_server}/atom", name="UN")
    response = staff_client.post(f"/feeds/{rss.id}/poll", follow_redirects=True)
    assert "2 new item(s)" in response.text
    staff_client.post(f"/feeds/{rss.id + 1}/poll")
    page = staff_client.get("/feeds/items?country=HT")
    assert "Rapport sur la Côte d" in page.text and "Review of Brazil" not in page.text
    page = staff_client.get(f"/feeds/items?source={rss.id + 1}")
    assert "Review of Brazil" in page.text and "Rapport" not in page.text
    page = staff_client.get("/feeds/items?per_page=1")
    assert "Showing 1&ndash;1 of 3" in page.text
    assert "No news items here" in staff_client.get("/feeds/items?country=JP").text


def test_viewers_read_but_cannot_change(viewer_client, db_session):
    source = add_source(db_session, "https://example.org/feed", name="Readable")
    assert "Readable" in viewer_client.get("/feeds").text
    assert viewer_client.post(f"/feeds/{source.id}/poll").status_code == 403
    assert viewer_client.get("/feeds/new").status_code == 403


# --- Redirects, news blocks in campaigns, digests, demo sources ------------------------------


def test_a_redirect_is_followed_and_recorded_on_the_source(db_session, feed_server):
    source = add_source(db_session, f"{feed_server}/moved")
    assert services.poll_source(db_session, source).new_items == 2
    assert source.redirected_to == f"{feed_server}/rss"
    source.url = f"{feed_server}/rss"
    services.poll_source(db_session, source)
    assert source.redirected_to is None


def test_the_sources_page_shows_where_a_source_was_redirected(staff_client, db_session):
    source = add_source(db_session, "https://old.example.org/feed", name="Moved")
    source.redirected_to = "https://new.example.org/feed"
    db_session.commit()
    assert "Redirected to https://new.example.org/feed" in staff_client.get("/feeds").text


def test_news_block_escapes_markdown_and_merge_field_syntax():
    from outreach.feeds.blocks import BlockItem, news_block

    item = BlockItem(
        "Report [draft] {{ contact.email }} <b>*bold*</b>",
        "https://example.org/a (b)",
        "UN {% News %}",
        datetime(2026, 11, 24, 23, 30, tzinfo=UTC),
    )
    block = news_block([item], "fr")
    assert block.startswith("## Actualités\n\n- [Report \\[draft\\] { { contact.email } }")
    assert "&lt;b\\>\\*bold\\*&lt;/b\\>" in block
    assert "(https://example.org/a%20%28b%29)" in block
    assert "UN { % News % }" in block and "25 novembre 2026" in block  # the Geneva day
    assert news_block([], "en") == ""


def draft_campaign(session, **variants):
    from outreach.campaigns.services import CampaignData, create_campaign

    campaign = create_campaign(
        session,
        CampaignData(
            name="November newsletter",
            sender_name="UPR Info",
            sender_email="news@example.org",
            variants=[(lang, f"Subject {lang}", body) for lang, body in variants.items()],
        ),
    )
    session.commit()
    return campaign


def test_staff_insert_chosen_items_into_a_draft_as_a_news_block(
    staff_client, db_session, feed_server
):
    source = add_source(db_session, f"{feed_server}/rss", name="ONG")
    services.poll_source(db_session, source)
    campaign = draft_campaign(db_session, en="Hello {{ contact.first_name }}.", fr="Bonjour.")
    assert (
        f"/feeds/items?campaign={campaign.id}" in staff_client.get(f"/campaigns/{campaign.id}").text
    )
    page = staff_client.get(f"/feeds/items?campaign={campaign.id}&country=HT")
    assert "Insert the checked items" in page.text and "November newsletter" in page.text
    item = db_session.scalar(select(FeedItem).where(FeedItem.guid == "rss-1"))

    response = staff_client.post(
        "/feeds/items/insert", data={"campaign": campaign.id, "item": [item.id]}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/campaigns/{campaign.id}/edit")
    db_session.expire_all()
    en, fr = sorted(campaign.variants, key=lambda v: v.language)
    assert en.body_markdown.startswith("Hello {{ contact.first_name }}.\n\n## News\n\n")
    assert "[Rapport sur la Côte d'Ivoire](http://example.org/1) — ONG, 24 November 2026" in (
        en.body_markdown
    )
    assert "## Actualités" in fr.body_markdown and "24 novembre 2026" in fr.body_markdown
    preview = staff_client.get(f"/campaigns/{campaign.id}/preview?sample=1&language=en")
    assert preview.status_code == 200 and "Rapport sur la Côte d" in preview.text
    assert "http://example.org/1" in preview.text and "cannot" not in preview.text

    nothing = staff_client.post("/feeds/items/insert", data={"campaign": campaign.id})
    assert nothing.status_code == 400 and "Choose at least one news item" in nothing.text


def test_items_cannot_go_into_a_scheduled_campaign_or_for_viewers(
    staff_client, viewer_client, db_session
):
    source = add_source(db_session, "https://example.org/feed", name="ONG")
    item = FeedItem(
        source_id=source.id,
        guid="x",
        title="Kenya news",
        link="https://e.org/x",
        published_at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    db_session.add(item)
    campaign = draft_campaign(db_session, en="Hello.")
    campaign.status = "scheduled"
    db_session.commit()
    refused = staff_client.post(
        "/feeds/items/insert", data={"campaign": campaign.id, "item": [item.id]}
    )
    assert refused.status_code == 400 and "unschedule it first" in refused.text
    assert (
        "Insert the checked items"
        not in staff_client.get(f"/feeds/items?campaign={campaign.id}").text
    )
    assert staff_client.get("/feeds/items?campaign=999").status_code == 404
    assert (
        viewer_client.post(
            "/feeds/items/insert", data={"campaign": campaign.id, "item": [item.id]}
        ).status_code
        == 403
    )


def test_digests_carry_recent_items_about_the_subscriber_countries(app, db_session, feed_server):
    from outreach.alerts.digests import DigestBuilder, DigestWeek
    from tests.test_digests import subscriber

    source = add_source(db_session, f"{feed_server}/rss", language="fr")
    services.poll_source(db_session, source)
    haiti = subscriber(db_session, "ht@example.org", countries=("HT",), language="fr")
    brazil = subscriber(db_session, "br@example.org", countries=("BR",), language="fr")
    db_session.commit()
    week = DigestWeek(
        "2026-W48", datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 27, tzinfo=UTC)
    )
    now = datetime(2026, 11, 27, tzinfo=UTC)

    def news_of(contact, countries):
        content = DigestBuilder(db_session).content_for(contact.id, countries, "fr", week, now)
        return [item.title for item in content.news]

    assert news_of(haiti, ("HT",)) == ["Rapport sur la Côte d'Ivoire", "Sans guid"]
    assert news_of(brazil, ("BR",)) == ["Sans guid"]  # general news only


def test_demo_sources_are_served_by_the_app_and_poll_offline(app, db_session, client):
    from outreach.demo.data import DEMO_FEEDS
    from outreach.demo.services import DemoReport, _ensure_feed_sources

    report = DemoReport()
    _ensure_feed_sources(db_session, report)
    _ensure_feed_sources(db_session, report)
    assert report.feed_sources_created == len(DEMO_FEEDS)
    for source in db_session.scalars(select(FeedSource)):
        path = source.url.split("://", 1)[1].split("/", 1)[1]
        response = client.get(f"/{path}")
        assert response.status_code == 200
        entries, problem = services.parse_feed(response.data, response.content_type)
        assert entries and problem is None
        assert all(entry.published_at is None for entry in entries)  # dated when first polled
