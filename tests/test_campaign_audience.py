"""The audience panel: who would receive a campaign, broken down, sampled, and who is left out."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from outreach.campaigns import reports
from outreach.campaigns.audience import summarise
from outreach.campaigns.models import Campaign, CampaignVariant
from outreach.core.database import utcnow
from outreach.segments.models import Segment
from outreach.subscriptions.models import Subscription, SubscriptionTopic, Suppression
from tests.factories import make_contact


def make_campaign(session, name="March newsletter", segments=(), topic="newsletter", **fields):
    campaign = Campaign(
        name=name, topic=topic, sender_name="UPR Info", sender_email="news@example.org", **fields
    )
    campaign.variants = [CampaignVariant(language="en", subject="News", body_markdown="Hello")]
    campaign.segments = list(segments)
    session.add(campaign)
    session.flush()
    return campaign


def subscribe(session, contact, status="confirmed", topics=("newsletter",), paused_until=None):
    contact.subscription = Subscription(
        status=status,
        paused_until=paused_until,
        topic_links=[SubscriptionTopic(topic=topic) for topic in topics],
    )
    session.flush()


def suppress(session, contact):
    session.add(Suppression(email_hash=contact.email_hash, email=contact.email, reason="staff"))
    session.flush()


@pytest.fixture
def audience(db_session):
    """NGOs and NHRIs: three mailable, seven left out for each reason, one outside the segment."""
    now = utcnow()
    make_contact(db_session, "staff.added@example.org", type="ngo", language="en",
                 first_name="Ada", last_name="Staff")
    subscribe(db_session, make_contact(db_session, "confirmed@example.org", type="nhri",
                                       language="fr", first_name="Cécile"))
    subscribe(db_session, make_contact(db_session, "pause.over@example.org", type="ngo",
                                       language="es"), paused_until=now - timedelta(days=1))
    suppress(db_session, make_contact(db_session, "suppressed@example.org", type="ngo"))
    subscribe(db_session, make_contact(db_session, "pending@example.org", type="ngo"),
              status="pending")
    subscribe(db_session, make_contact(db_session, "paused@example.org", type="nhri"),
              paused_until=now + timedelta(days=30))
    subscribe(db_session, make_contact(db_session, "gone@example.org", type="ngo"),
              status="unsubscribed")
    subscribe(db_session, make_contact(db_session, "alerts.only@example.org", type="ngo"),
              topics=("deadline_alerts",))
    make_contact(db_session, "inactive@example.org", type="ngo", status="inactive")
    suppress(db_session, make_contact(db_session, "blocked@example.org", type="nhri",
                                      status="blocklisted"))
    make_contact(db_session, "journalist@example.org", type="media")
    segment = Segment(name="NGOs and NHRIs", filters={"types": ["ngo", "nhri"]})
    db_session.add(segment)
    campaign = make_campaign(db_session, segments=[segment])
    db_session.commit()
    return campaign


MAILABLE = {"staff.added@example.org", "confirmed@example.org", "pause.over@example.org"}
LEFT_OUT = {
    "suppressed@example.org", "pending@example.org", "paused@example.org", "gone@example.org",
    "alerts.only@example.org", "inactive@example.org", "blocked@example.org",
    "journalist@example.org",
}


def test_report_counts_breaks_down_and_samples_only_mailable_contacts(db_session, audience):
    report = reports.audience_report(db_session, audience)

    assert report.summary.total == 3
    assert report.summary.by_language == {"en": 1, "es": 1, "fr": 1}
    assert report.summary.by_type == {"ngo": 2, "nhri": 1}
    assert {contact.email for contact in report.sample} == MAILABLE
    assert report.in_segments == 10
    assert report.excluded == {"inactive": 2, "suppressed": 1, "unconfirmed": 3, "opted_out": 1}
    assert report.excluded_total + report.summary.total == report.in_segments


def test_the_topic_decides_who_opted_out(db_session, audience):
    audience.topic = "deadline_alert"
    db_session.flush()

    report = reports.audience_report(db_session, audience)

    # The alerts-only subscriber is in; the newsletter-only subscribers opted out of alerts.
    assert {contact.email for contact in report.sample} == {
        "staff.added@example.org", "alerts.only@example.org"
    }
    assert report.excluded["opted_out"] == 2
    assert summarise(db_session, audience).total == 2


def test_sample_is_limited_to_twenty(db_session):
    for number in range(25):
        make_contact(db_session, f"person{number:02d}@example.org")
    segment = Segment(name="Everyone", filters={})
    db_session.add(segment)
    campaign = make_campaign(db_session, segments=[segment])

    report = reports.audience_report(db_session, campaign)

    assert report.summary.total == 25
    assert len(report.sample) == 20


def test_campaign_without_segments_has_no_audience(db_session):
    make_contact(db_session, "someone@example.org")
    campaign = make_campaign(db_session)

    report = reports.audience_report(db_session, campaign)

    assert (report.summary.total, report.in_segments, report.sample) == (0, 0, [])
    assert not report.has_segments


def row_count(html: str, reason: str) -> int:
    match = re.search(rf'data-reason="{reason}"><td>[^<]*</td><td class="text-end">([\d,]+)<', html)
    assert match, f"no row for {reason}"
    return int(match.group(1).replace(",", ""))


def test_panel_shows_count_breakdown_exclusions_and_sample(staff_client, audience):
    response = staff_client.get(f"/campaigns/{audience.id}")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r"data-audience-total>3</span>\s*recipients after exclusions", html)
    assert "of 10 contacts in the segments" in html
    assert "Français" in html and "Español" in html and "NHRI" in html
    for reason, count in {"inactive": 2, "suppressed": 1, "unconfirmed": 3, "opted_out": 1}.items():
        assert row_count(html, reason) == count
    sample = html.split("Sample: the first", 1)[1]
    assert all(email in sample for email in MAILABLE)
    assert not any(email in sample for email in LEFT_OUT)


def test_panel_warns_when_nobody_would_receive_it(staff_client, db_session):
    make_contact(db_session, "inactive@example.org", status="inactive")
    segment = Segment(name="Everyone", filters={})
    db_session.add(segment)
    campaign = make_campaign(db_session, segments=[segment])
    db_session.commit()

    html = staff_client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)

    assert "Nobody would receive this campaign" in html
    assert row_count(html, "inactive") == 1


def test_panel_without_segments_says_what_to_do(staff_client, db_session):
    campaign = make_campaign(db_session)
    db_session.commit()

    html = staff_client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)

    assert "add at least one segment" in html


def test_audience_is_not_shown_once_sending_started(staff_client, db_session, audience):
    audience.status = "sending"
    db_session.commit()

    html = staff_client.get(f"/campaigns/{audience.id}").get_data(as_text=True)

    assert "data-audience" not in html
    assert "Delivery" in html


def test_unknown_campaign_is_404(staff_client):
    assert staff_client.get("/campaigns/999/recipients").status_code == 404
