"""Click and open tracking: rewritten links in sent messages, the signed redirect, the pixel."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

import pytest
from sqlalchemy import func, select

from outreach.delivery.outbox import enqueue_campaign
from outreach.delivery.worker import run_worker
from outreach.engagement.models import CampaignLink, Click, Open
from outreach.engagement.tokens import TokenSigner
from tests.factories import make_contact
from tests.test_delivery_support import Sink, make_campaign, outbox_rows, sending_to

BODY = (
    "Dear {{ contact.first_name }},\n\n"
    "Read [the report](https://upr.example.net/report?a=1&b=2) and "
    "[the calendar](http://calendar.example.net/).\n\nWrite to [us](mailto:info@example.org)."
)


@pytest.fixture
def sink():
    server = Sink().start()
    yield server
    server.stop()


def send(app, db_session, sink, **fields):
    make_contact(db_session, "ann@example.org", first_name="Ann")
    campaign = make_campaign(db_session, variants={"en": ("News", BODY)}, **fields)
    db_session.commit()
    enqueue_campaign(db_session, campaign)
    with sending_to(app, sink):
        run_worker(app, "w1", once=True)
    (received,) = sink.received
    message = message_from_bytes(received.data, policy=policy.default)
    text, html = (part.get_content() for part in message.iter_parts())
    return campaign.id, text, html


def tracked_links(html: str) -> list[str]:
    return re.findall(r'href="(https://outreach\.example\.org/r/[^"]+)"', html)


def test_links_are_rewritten_and_a_click_redirects_and_is_recorded(app, db_session, sink, client):
    campaign_id, text, html = send(app, db_session, sink)
    links = tracked_links(html)
    assert len(links) == 2
    assert "upr.example.net" not in html and "calendar.example.net" not in html
    assert "mailto:info@example.org" in html
    assert "/u/" in html  # the unsubscribe link is not rewritten
    assert not re.search(r'href="https://outreach\.example\.org/r/[^"]*/u/', html)
    assert links[0] in text  # the text part's link goes through the same redirect
    assert "<img" not in html  # opens are not tracked by default

    response = client.get(links[0].removeprefix("https://outreach.example.org"))
    assert response.status_code == 302
    assert response.headers["Location"] == "https://upr.example.net/report?a=1&b=2"
    (row,) = outbox_rows(db_session, campaign_id)
    clicks = db_session.scalars(select(Click)).all()
    assert [(c.outbox_id, db_session.get(CampaignLink, c.link_id).url) for c in clicks] == [
        (row.id, "https://upr.example.net/report?a=1&b=2")
    ]


def test_tampered_or_forged_tokens_answer_404_and_never_redirect(app, db_session, sink, client):
    campaign_id, _text, html = send(app, db_session, sink)
    token = tracked_links(html)[0].rsplit("/", 1)[1]
    payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    (row,) = outbox_rows(db_session, campaign_id)
    other = make_campaign(db_session)
    foreign = CampaignLink(campaign_id=other.id, url="https://evil.example.com/")
    db_session.add(foreign)
    db_session.commit()
    for bad in (
        f"{payload}.{flipped}",
        payload,
        "garbage",
        "a.b",
        TokenSigner("another-secret").sign(row.id, 1),
        TokenSigner().sign(row.id, foreign.id),  # signed, but a link of another campaign
        TokenSigner().sign(row.id, 9999),
        TokenSigner().sign(row.id),  # the pixel's token is not a link
    ):
        response = client.get(f"/r/{bad}")
        assert response.status_code == 404, bad
        assert "Location" not in response.headers
    assert db_session.scalar(select(func.count()).select_from(Click)) == 0


def test_only_http_links_are_ever_a_target(app, db_session, client):
    campaign = make_campaign(db_session)
    make_contact(db_session, "ann@example.org")
    db_session.commit()
    enqueue_campaign(db_session, campaign)
    (row,) = outbox_rows(db_session, campaign.id)
    link = CampaignLink(campaign_id=campaign.id, url="javascript:alert(1)")
    db_session.add(link)
    db_session.commit()
    assert client.get(f"/r/{TokenSigner().sign(row.id, link.id)}").status_code == 404


def test_open_pixel_when_the_campaign_asks_for_it(app, db_session, sink, client):
    campaign_id, _text, html = send(app, db_session, sink, track_opens=True)
    (pixel,) = re.findall(r'<img src="https://outreach\.example\.org(/o/[^"]+\.gif)"', html)
    response = client.get(pixel)
    assert response.status_code == 200
    assert response.mimetype == "image/gif"
    assert response.headers["Cache-Control"].startswith("no-store")
    (row,) = outbox_rows(db_session, campaign_id)
    assert [o.outbox_id for o in db_session.scalars(select(Open))] == [row.id]
    assert client.get(pixel.replace(".gif", "x.gif")).status_code == 404


def test_tracking_off_for_the_campaign_keeps_the_links(app, db_session, sink):
    _campaign_id, _text, html = send(app, db_session, sink, track_clicks=False)
    assert tracked_links(html) == []
    assert 'href="https://upr.example.net/report?a=1&amp;b=2"' in html


def test_global_switch_turns_tracking_off(app, db_session, sink):
    app.config.update(TRACK_CLICKS=False)
    try:
        _campaign_id, _text, html = send(app, db_session, sink, track_opens=True)
    finally:
        app.config.update(TRACK_CLICKS=True)
    assert tracked_links(html) == []
    assert "/o/" in html  # opens are still on globally and for this campaign


def test_the_campaign_form_sets_the_tracking_toggles(staff_client, db_session):
    from outreach.campaigns.models import Campaign
    from outreach.segments.models import Segment

    page = staff_client.get("/campaigns/new").get_data(as_text=True)
    assert re.search(
        r'<input[^>]*checked[^>]*name="track_clicks"|name="track_clicks"[^>]*checked', page
    )
    assert not re.search(r'name="track_opens"[^>]*checked', page)
    segment = Segment(name="All", filters={})
    db_session.add(segment)
    db_session.commit()
    response = staff_client.post(
        "/campaigns/new",
        data={
            "name": "Tracked",
            "topic": "newsletter",
            "sender_name": "UPR Team",
            "sender_email": "news@example.org",
            "default_language": "en",
            "session_id": "",
            "segment_ids": str(segment.id),
            "en_include": "y",
            "en_subject": "Hi",
            "en_body": "Hello",
            "track_opens": "y",
        },
    )
    assert response.status_code == 302
    campaign = db_session.scalar(select(Campaign))
    assert (campaign.track_clicks, campaign.track_opens) == (False, True)
