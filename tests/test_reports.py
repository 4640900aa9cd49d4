"""The reports page (deliveries per day, subscribers by language and type) and the chart of
contacts per State on a session's page."""

from __future__ import annotations

from datetime import timedelta

from outreach.core.database import utcnow
from outreach.core.timezones import to_local
from tests.factories import make_contact
from tests.test_alerts_support import make_upr_session, subscriber
from tests.test_campaign_reports import make_campaign, outbox


def text(response) -> str:
    return response.get_data(as_text=True)


def day_label(moment) -> str:
    local = to_local(moment).date()
    return f"{local.day} {local:%b}"


def test_reports_page_charts_deliveries_and_subscribers(staff_client, db_session):
    now = utcnow()
    campaign = make_campaign(db_session, status="sent")
    for n in range(3):
        outbox(db_session, campaign, f"s{n}@example.org", status="sent", updated_at=now)
    outbox(db_session, campaign, "f@example.org", status="failed", updated_at=now)
    outbox(
        db_session,
        campaign,
        "old@example.org",
        status="sent",
        updated_at=now - timedelta(days=2),
    )
    subscriber(db_session, "en1@example.org")
    subscriber(db_session, "fr1@example.org", language="fr")
    fr2 = subscriber(db_session, "fr2@example.org", language="fr")
    fr2.subscription.confirmed_at = now - timedelta(days=3)
    left = subscriber(db_session, "left@example.org", language="fr")
    left.subscription.unsubscribed_at = now - timedelta(days=10)
    db_session.commit()

    response = staff_client.get("/reports")
    assert response.status_code == 200
    page = text(response)
    assert page.count("<svg") == 3 and page.count("Show the data as a table") == 3
    assert "<title" in page and 'role="img"' in page
    assert f"{day_label(now)}, Sent: 3" in page and f"{day_label(now)}, Failed: 1" in page
    assert f'<th scope="row">{day_label(now)}</th><td>3</td><td>1</td><td>0</td><td>4</td>' in page
    two_days = day_label(now - timedelta(days=2))
    assert f'<th scope="row">{two_days}</th><td>1</td><td>0</td><td>0</td><td>1</td>' in page

    # Subscribers by language at the last week's end: English 1, French 2 (one left).
    assert f"{day_label(now)}, English: 1" in page
    assert f"{day_label(now)}, Français: 2" in page
    # Two weeks ago: fr2 had not yet confirmed, `left` was still subscribed.
    assert f"{day_label(now - timedelta(weeks=2))}, Français: 2" in page
    assert "NGO" in page  # by contact type


def test_reports_page_empty_states(staff_client):
    page = text(staff_client.get("/reports"))
    assert "<svg" not in page
    assert "No message was sent in this period. Schedule a campaign" in page
    assert "No confirmed subscriber yet. Share the public subscription page" in page


def test_session_page_charts_contacts_per_state(staff_client, db_session):
    make_upr_session(db_session, 50, ("SN", "ML", "FR"))
    make_contact(db_session, "a@example.org", country="SN")
    make_contact(db_session, "b@example.org", country="ML", countries=("SN",))
    make_contact(db_session, "c@example.org", country="SN", status="inactive")
    db_session.commit()
    page = text(staff_client.get("/sessions/50"))
    assert "Active contacts per State under review in session 50" in page
    assert "SN, Contacts: 2" in page and "ML, Contacts: 1" in page and "FR, Contacts: 0" in page
    assert '<th scope="row">FR</th><td>0</td>' in page


def test_reports_in_the_navigation(staff_client):
    assert 'href="/reports"' in text(staff_client.get("/"))
