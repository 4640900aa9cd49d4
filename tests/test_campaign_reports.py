"""Progress while sending, per-recipient outcomes, the CSV export and the campaign list."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from outreach.campaigns import reports
from outreach.campaigns.models import Campaign, CampaignVariant
from outreach.core.database import utcnow
from outreach.delivery.models import OutboxMessage


def make_campaign(session, name="March newsletter", status="sending", languages=("en",), **kw):
    campaign = Campaign(name=name, status=status, sender_email="news@example.org", **kw)
    campaign.variants = [
        CampaignVariant(language=code, subject=f"News {code}", body_markdown="Hello")
        for code in languages
    ]
    session.add(campaign)
    session.flush()
    return campaign


def outbox(session, campaign, email, status="queued", **fields):
    row = OutboxMessage(campaign_id=campaign.id, email=email, status=status, **fields)
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def sending(db_session):
    """A campaign half-way: 3 queued (one waiting for a retry), 1 being sent, 4 sent (2 in the
    last minute), 1 failed, 1 skipped."""
    now = utcnow()
    campaign = make_campaign(db_session, started_at=now - timedelta(minutes=10), enqueued_at=now)
    outbox(db_session, campaign, "q1@example.org")
    outbox(db_session, campaign, "q2@example.org")
    outbox(db_session, campaign, "retry@example.org", attempts=1, smtp_code=451,
           smtp_reply="4.7.1 Try again later")
    outbox(db_session, campaign, "busy@example.org", status="sending")
    for number, age in enumerate((5, 20, 300, 400)):
        outbox(db_session, campaign, f"sent{number}@example.org", status="sent", attempts=1,
               smtp_code=250, sent_at=now - timedelta(seconds=age),
               message_id=f"<m{number}@mail.example.org>")
    outbox(db_session, campaign, "nobody@example.org", status="failed", attempts=1,
           smtp_code=550, smtp_reply="=5.1.1 User unknown", language="fr")
    outbox(db_session, campaign, "suppressed@example.org", status="skipped",
           smtp_reply="suppressed")
    db_session.commit()
    return campaign


# --- Progress ------------------------------------------------------------------------------------


def test_progress_counts_rate_and_time_left(db_session, sending):
    progress = reports.progress(db_session, sending)

    assert progress.counts == {"queued": 3, "sending": 1, "sent": 4, "failed": 1, "skipped": 1}
    assert (progress.total, progress.processed, progress.remaining) == (10, 6, 4)
    assert progress.percent == 60
    assert progress.retrying == 1
    assert progress.rate_per_minute == 2
    assert progress.eta_seconds == 120
    assert progress.eta_text == "about 2 min"


def test_time_left_is_unknown_when_nothing_was_sent_lately(db_session, sending):
    later = utcnow() + timedelta(hours=1)

    progress = reports.progress(db_session, sending, now=later)

    assert progress.rate_per_minute == 0
    assert progress.eta_seconds is None and progress.eta_text == "unknown"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "none"), (45, "under a minute"), (600, "about 10 min"), (4000, "about 1 h 07 min")],
)
def test_duration_text(seconds, text):
    assert reports.duration_text(seconds) == text


def test_progress_json(staff_client, sending):
    response = staff_client.get(f"/campaigns/{sending.id}/progress.json")

    data = response.get_json()
    assert response.status_code == 200
    assert data["counts"] == {"queued": 3, "sending": 1, "sent": 4, "failed": 1, "skipped": 1}
    assert (data["total"], data["processed"], data["percent"]) == (10, 6, 60)
    assert (data["rate_per_minute"], data["eta_seconds"]) == (2, 120)
    assert data["status"] == "sending" and data["live"] is True


def test_progress_json_of_a_finished_campaign_is_not_live(staff_client, db_session, sending):
    sending.status = "sent"
    db_session.commit()

    data = staff_client.get(f"/campaigns/{sending.id}/progress.json").get_json()

    assert data["live"] is False and data["rate_per_minute"] == 0


def test_progress_json_needs_a_login_and_a_campaign(client, staff_client, sending):
    assert client.get(f"/campaigns/{sending.id}/progress.json").status_code == 302
    assert staff_client.get("/campaigns/999/progress.json").status_code == 404


def test_panel_shows_progress_and_polls_while_sending(staff_client, sending):
    html = staff_client.get(f"/campaigns/{sending.id}").get_data(as_text=True)

    assert "6 of 10 messages done (60%): 4 sent, 1 failed, 1 skipped; 4 to go." in html
    assert 'aria-live="polite"' in html
    assert 'data-count="queued">3<' in html
    assert "1 queued message will be retried" in html
    assert "about 2 min" in html
    assert f'data-progress-url="/campaigns/{sending.id}/progress.json"' in html
    assert "campaign_progress.js" in html
    assert ">Refresh</a>" in html
    assert 'http-equiv="refresh"' not in html
    # Failures with their SMTP replies.
    assert "nobody@example.org" in html and "5.1.1 User unknown" in html


def test_paused_campaign_shows_why_and_stops_polling(staff_client, db_session, sending):
    sending.status = "paused"
    sending.status_reason = "Paused after 50 consecutive errors: 421 4.3.2 Service not available"
    db_session.commit()

    html = staff_client.get(f"/campaigns/{sending.id}").get_data(as_text=True)

    reason = html.split("data-status-reason", 1)[1].split("</div>", 1)[0]
    assert "Sending is paused" in reason
    assert "Paused after 50 consecutive errors: 421 4.3.2 Service not available" in reason
    assert "data-progress-url" not in html and "campaign_progress.js" not in html


def test_failed_campaign_shows_its_reason(staff_client, db_session, sending):
    sending.status = "failed"
    sending.status_reason = "The message could not be built: layout missing"
    db_session.commit()

    html = staff_client.get(f"/campaigns/{sending.id}").get_data(as_text=True)

    assert "Sending failed" in html
    assert "The message could not be built: layout missing" in html


def test_script_updates_an_aria_live_region_every_three_seconds(app):
    script = (Path(app.static_folder) / "campaign_progress.js").read_text()

    assert "INTERVAL_MS = 3000" in script
    assert "data-progress-summary" in script


# --- Outcomes ------------------------------------------------------------------------------------


def test_recipients_page_lists_outcomes_with_smtp_replies(staff_client, sending):
    response = staff_client.get(f"/campaigns/{sending.id}/recipients")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Showing 1&ndash;10 of 10" in html
    assert "4.7.1 Try again later" in html and "<code>451</code>" in html
    assert '<span class="badge text-bg-light" data-count="failed">1</span>' in html


def test_recipients_search_filter_and_pagination(staff_client, sending):
    searched = staff_client.get(f"/campaigns/{sending.id}/recipients?q=SENT").get_data(True)
    failed = staff_client.get(f"/campaigns/{sending.id}/recipients?status=failed").get_data(True)
    paged = staff_client.get(f"/campaigns/{sending.id}/recipients?per_page=4&page=3")

    assert "Showing 1&ndash;4 of 4" in searched and "q1@example.org" not in searched
    assert "nobody@example.org" in failed and "sent0@example.org" not in failed
    assert "Showing 9&ndash;10 of 10" in paged.get_data(as_text=True)


def test_recipients_search_treats_wildcards_literally(staff_client, sending):
    html = staff_client.get(f"/campaigns/{sending.id}/recipients?q=%25").get_data(as_text=True)

    assert "No recipients match" in html


def test_recipients_unknown_status_is_400(staff_client, sending):
    response = staff_client.get(f"/campaigns/{sending.id}/recipients?status=bounced")

    assert response.status_code == 400
    assert "Unknown status" in response.get_data(as_text=True)


def test_recipients_page_before_sending_says_what_happens(staff_client, db_session):
    campaign = make_campaign(db_session, status="draft")
    db_session.commit()

    html = staff_client.get(f"/campaigns/{campaign.id}/recipients").get_data(as_text=True)

    assert "Recipients appear here once sending starts" in html


def read_csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_csv_export_of_outcomes(staff_client, sending):
    response = staff_client.get(f"/campaigns/{sending.id}/recipients.csv")

    assert response.status_code == 200
    assert response.content_type.startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = read_csv(response)
    assert list(rows[0]) == [
        "email", "language", "status", "attempts", "smtp_code", "smtp_reply", "sent_at",
        "message_id",
    ]
    assert len(rows) == 10
    failed = next(row for row in rows if row["email"] == "nobody@example.org")
    assert failed == {
        "email": "nobody@example.org", "language": "fr", "status": "failed", "attempts": "1",
        "smtp_code": "550", "smtp_reply": "'=5.1.1 User unknown", "sent_at": "",
        "message_id": "",
    }
    sent = next(row for row in rows if row["email"] == "sent0@example.org")
    assert sent["message_id"] == "<m0@mail.example.org>"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00", sent["sent_at"])


def test_csv_export_follows_the_filters(staff_client, sending):
    rows = read_csv(staff_client.get(f"/campaigns/{sending.id}/recipients.csv?status=sent"))

    assert sorted(row["email"] for row in rows) == [f"sent{n}@example.org" for n in range(4)]


def test_csv_time_is_geneva_time_with_offset():
    winter = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)

    assert reports.csv_time(winter) == "2026-01-15T10:00:00+01:00"


def test_viewer_can_read_outcomes(viewer_client, sending):
    assert viewer_client.get(f"/campaigns/{sending.id}/recipients").status_code == 200
    assert viewer_client.get(f"/campaigns/{sending.id}/recipients.csv").status_code == 200


# --- The campaign list ---------------------------------------------------------------------------


def test_list_shows_columns_progress_and_status_counts(staff_client, db_session, sending):
    make_campaign(db_session, name="April newsletter", status="draft", languages=("en", "fr"))
    make_campaign(
        db_session, name="Session 52 invitation", status="scheduled", topic="pre_session",
        scheduled_at=datetime(2030, 1, 10, 8, 0, tzinfo=UTC),
    )
    db_session.commit()

    response = staff_client.get("/campaigns")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert all(name in html for name in ("March newsletter", "April newsletter", "Session 52"))
    assert "EN, FR" in html and "Pre-session" in html
    assert "Scheduled 10 Jan 2030 09:00" in html
    assert ">4 / 10</a>" in html
    assert 'data-count="all">3<' in html and 'data-count="draft">1<' in html


def test_list_status_tab_search_and_pagination(staff_client, db_session):
    for number in range(5):
        make_campaign(db_session, name=f"Newsletter {number}", status="sent")
    make_campaign(db_session, name="Alert 100%", status="draft")
    db_session.commit()

    sent = staff_client.get("/campaigns?status=sent").get_data(as_text=True)
    searched = staff_client.get("/campaigns?q=100%25").get_data(as_text=True)
    paged = staff_client.get("/campaigns?per_page=2&page=3").get_data(as_text=True)

    assert "Newsletter 3" in sent and "Alert 100%" not in sent
    assert "Alert 100%" in searched and "Newsletter 3" not in searched
    assert 'data-count="all">1<' in searched
    assert "Showing 5&ndash;6 of 6" in paged


def test_list_bad_status_is_400(staff_client):
    assert staff_client.get("/campaigns?status=exploded").status_code == 400


def test_empty_list_says_what_to_do(staff_client, viewer_client):
    html = staff_client.get("/campaigns").get_data(as_text=True)
    viewer_html = viewer_client.get("/campaigns").get_data(as_text=True)

    assert "No campaigns yet" in html and "pre-session invitation" in html
    assert "An editor can write a campaign" in viewer_html


def test_list_filtered_to_nothing_offers_to_clear(staff_client, db_session, sending):
    html = staff_client.get("/campaigns?q=zzz").get_data(as_text=True)

    assert "No campaigns match" in html
