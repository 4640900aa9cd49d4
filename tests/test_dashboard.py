"""The staff dashboard: deadlines with States and followers, live campaigns with a progress poll,
recent subscriptions, delivery health, and empty states that say what to do next."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from outreach.alerts.services import ensure_default_rules
from outreach.core.database import utcnow
from outreach.core.timezones import local_today
from outreach.delivery.models import Bounce, BounceRun, OutboxMessage
from tests.factories import make_suppression
from tests.test_alerts_support import make_key_date, make_upr_session, subscriber
from tests.test_campaign_reports import make_campaign, outbox


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def busy(db_session):
    """A deadline in 10 days (Senegal, Mali; two followers), one 40 days out, a campaign half
    sent, one scheduled, a recent unsubscription, a failure, a bounce and a suppression."""
    ensure_default_rules(db_session)
    upr_session = make_upr_session(db_session, 50, ("SN", "ML"))
    soon = make_key_date(db_session, upr_session, local_today() + timedelta(days=10))
    make_key_date(
        db_session, upr_session, local_today() + timedelta(days=40), "pre_session_application"
    )
    amina = subscriber(db_session, "amina@example.org")
    amina.subscription.confirmed_at = utcnow() - timedelta(days=2)
    subscriber(db_session, "moussa@example.org", countries=("ML",))
    gone = subscriber(db_session, "gone@example.org", status="unsubscribed")
    gone.subscription.unsubscribed_at = utcnow() - timedelta(days=1)
    sending = make_campaign(db_session, "March newsletter", enqueued_at=utcnow())
    for n in range(3):
        outbox(db_session, sending, f"s{n}@example.org", status="sent", sent_at=utcnow())
    outbox(db_session, sending, "bad@example.org", status="failed")
    for n in range(4):
        outbox(db_session, sending, f"q{n}@example.org")
    make_campaign(
        db_session,
        "April newsletter",
        status="scheduled",
        scheduled_at=utcnow() + timedelta(days=3),
    )
    make_campaign(db_session, "Old draft", status="draft")
    db_session.add(Bounce(email="bad@example.org", kind="hard"))
    db_session.add(BounceRun(sources="maildir", messages_done=7, status="running"))
    make_suppression(db_session, "bad@example.org", "hard_bounce")
    db_session.commit()
    return {"deadline": soon, "sending": sending}


def test_dashboard_shows_what_needs_attention(staff_client, busy):
    page = text(staff_client.get("/"))
    deadlines = page[page.index('data-dashboard="deadlines"') : page.index("campaigns-heading")]
    assert "Stakeholder submissions deadline" in deadlines
    assert "Pre-session applications" not in deadlines  # 40 days out
    assert "Mali, Senegal" in deadlines
    assert re.search(r"<td data-followers>2</td>", deadlines)
    assert f'href="/alerts/key-dates/{busy["deadline"].id}"' in deadlines
    assert 'href="/sessions/50"' in deadlines

    campaigns = page[page.index("campaigns-heading") : page.index("subscribers-heading")]
    assert "March newsletter" in campaigns and "April newsletter" in campaigns
    assert "Old draft" not in campaigns
    assert campaigns.index("March newsletter") < campaigns.index("April newsletter")
    assert 'value="50"' in campaigns and "4 of 8 messages done" in campaigns
    april = campaigns[campaigns.index("April newsletter") :]
    assert "Not started yet" in april
    assert f'href="/campaigns/{busy["sending"].id}"' in campaigns

    subscribers = page[page.index("subscribers-heading") : page.index("health-heading")]
    assert 'data-count="subscribed">1<' in subscribers  # Amina; Moussa confirmed in January
    assert "amina@example.org" in subscribers and "moussa@example.org" not in subscribers
    assert 'data-count="unsubscribed">1<' in subscribers and "gone@example.org" in subscribers

    health = page[page.index("health-heading") :]
    assert 'data-count="sent">3<' in health
    assert 'data-count="failed">1 (25.0%)<' in health
    assert 'data-count="bounces">1<' in health
    assert re.search(
        r'data-count="suppressed">1\s*<span[^>]*>\(\+1 on the 7 days before; 1 in all', health
    )
    assert 'href="/bounces"' in health and 'href="/suppressions"' in health
    assert "in progress (7 messages read so far)" in health
    assert "dashboard.js" in page


def test_empty_dashboard_says_what_to_do(staff_client):
    page = text(staff_client.get("/"))
    assert "No deadlines in the next 30 days" in page and "Open the sessions" in page
    assert "No campaign scheduled or sending" in page and "Open the campaigns" in page
    assert "No subscription or unsubscription lately" in page and 'href="/en/subscribe"' in page
    assert "Nothing was sent in the last 7 days" in page


def test_campaign_progress_poll(staff_client, busy, db_session):
    campaign = busy["sending"]
    body = staff_client.get(f"/dashboard/campaigns.json?ids={campaign.id},999").get_json()
    assert [c["id"] for c in body["campaigns"]] == [campaign.id]
    first = body["campaigns"][0]
    assert (first["percent"], first["processed"], first["total"], first["live"]) == (50, 4, 8, True)

    for row in campaign_rows(db_session, campaign.id, "queued"):
        row.status = "sent"
    db_session.commit()
    again = staff_client.get(f"/dashboard/campaigns.json?ids={campaign.id}").get_json()
    assert again["campaigns"][0]["percent"] == 100


def campaign_rows(session, campaign_id, status):
    return session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.campaign_id == campaign_id, OutboxMessage.status == status
        )
    ).all()


@pytest.mark.parametrize("ids", ["abc", "1,x", ",".join(str(n) for n in range(60))])
def test_campaign_progress_poll_rejects_bad_ids_as_json(staff_client, ids):
    response = staff_client.get(f"/dashboard/campaigns.json?ids={ids}")
    assert response.status_code == 400
    assert response.get_json()["error"]["message"]


def test_dashboard_needs_login(client):
    assert client.get("/").status_code == 302
    assert client.get("/dashboard/campaigns.json?ids=1").status_code in (302, 401)


def test_viewer_sees_the_dashboard(viewer_client, busy):
    assert "March newsletter" in text(viewer_client.get("/"))
