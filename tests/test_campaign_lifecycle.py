"""Schedule, send now, unschedule, pause, resume and cancel through the staff pages."""

from __future__ import annotations

import sys
import types
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from outreach.campaigns.models import Campaign, CampaignVariant
from outreach.core.database import utcnow
from outreach.core.errors import ServiceError
from outreach.delivery.models import OutboxMessage
from outreach.segments.models import Segment
from tests.factories import make_contact


@pytest.fixture(autouse=True)
def validation(monkeypatch):
    """The real `validate_campaign` when it exists; until then one that accepts everything."""
    try:
        from outreach.campaigns import validation as module
    except ImportError:
        module = types.ModuleType("outreach.campaigns.validation")
        module.validate_campaign = lambda session, campaign: None
        monkeypatch.setitem(sys.modules, "outreach.campaigns.validation", module)
    return module


@pytest.fixture
def campaign(db_session):
    """A complete draft to two NGOs."""
    make_contact(db_session, "ana@example.org", type="ngo", first_name="Ana")
    make_contact(db_session, "ben@example.org", type="ngo", first_name="Ben")
    segment = Segment(name="NGOs", filters={"types": ["ngo"]})
    db_session.add(segment)
    campaign = Campaign(
        name="March newsletter", topic="newsletter", sender_name="UPR Info",
        sender_email="news@example.org", reply_to="team@example.org", default_language="en",
    )
    campaign.variants = [
        CampaignVariant(language="en", subject="UPR news", body_markdown="Dear all,\n\nNews."),
    ]
    campaign.segments = [segment]
    db_session.add(campaign)
    db_session.commit()
    return campaign


def reload(db_session, campaign) -> Campaign:
    db_session.expire_all()
    return db_session.get(Campaign, campaign.id)


def set_status(db_session, campaign, status, **fields):
    campaign.status = status
    for name, value in fields.items():
        setattr(campaign, name, value)
    db_session.commit()


def spring_forward_day() -> date:
    """The next last Sunday of March: Geneva goes from UTC+1 to UTC+2 at 02:00 that night."""
    day = date(utcnow().year + 1, 3, 31)
    while day.weekday() != 6:
        day -= timedelta(days=1)
    return day


def post_schedule(client, campaign, day: date, at: str, **extra):
    data = {"date": day.isoformat(), "time": at, **extra}
    return client.post(f"/campaigns/{campaign.id}/schedule", data=data)


# --- Schedule ------------------------------------------------------------------------------------


def test_schedule_takes_geneva_time_across_daylight_saving(staff_client, db_session, campaign):
    dst = spring_forward_day()

    before = post_schedule(staff_client, campaign, dst - timedelta(days=1), "10:00")

    assert before.status_code == 302
    stored = reload(db_session, campaign)
    assert stored.status == "scheduled"
    assert stored.scheduled_at == datetime.combine(dst - timedelta(days=1), datetime.min.time(),
                                                   UTC).replace(hour=9)

    after = post_schedule(staff_client, campaign, dst + timedelta(days=1), "10:00")

    assert after.status_code == 302
    stored = reload(db_session, campaign)
    assert stored.status == "scheduled"
    assert stored.scheduled_at == datetime.combine(dst + timedelta(days=1), datetime.min.time(),
                                                   UTC).replace(hour=8)
    page = staff_client.get(after.headers["Location"]).get_data(as_text=True)
    assert f"is scheduled for {(dst + timedelta(days=1)):%d %b %Y} 10:00 (Geneva time)" in page


def test_a_time_skipped_by_the_clock_change_is_refused(staff_client, db_session, campaign):
    response = post_schedule(staff_client, campaign, spring_forward_day(), "02:30")

    assert response.status_code == 400
    assert "02:30 does not exist" in response.get_data(as_text=True)
    assert reload(db_session, campaign).status == "draft"


def test_past_time_is_refused_with_the_services_message(staff_client, db_session, campaign):
    yesterday = date.today() - timedelta(days=1)

    response = post_schedule(staff_client, campaign, yesterday, "09:15")

    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f"{yesterday:%d %b %Y} 09:15 (Geneva) is in the past; choose a later time." in html
    assert f'value="{yesterday.isoformat()}"' in html  # what was typed is kept
    stored = reload(db_session, campaign)
    assert (stored.status, stored.scheduled_at) == ("draft", None)


def test_missing_date_and_time_are_form_errors(staff_client, db_session, campaign):
    response = staff_client.post(f"/campaigns/{campaign.id}/schedule", data={"time": "nonsense"})

    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Enter the date." in html
    assert reload(db_session, campaign).status == "draft"


def test_schedule_page_shows_the_form_in_geneva_time(staff_client, db_session, campaign):
    set_status(db_session, campaign, "scheduled",
               scheduled_at=datetime(2030, 7, 1, 7, 30, tzinfo=UTC))

    html = staff_client.get(f"/campaigns/{campaign.id}/schedule").get_data(as_text=True)

    assert 'value="2030-07-01"' in html and 'value="09:30"' in html
    assert "Change the time" in html


def test_validation_refusals_are_listed(staff_client, db_session, campaign, validation,
                                       monkeypatch):
    def refuse(session, campaign):
        raise ServiceError(
            "This campaign cannot be sent yet.",
            {"fr.subject": "French: the subject is empty.",
             "audience": ["Nobody would receive it."]},
        )

    monkeypatch.setattr(validation, "validate_campaign", refuse)
    tomorrow = date.today() + timedelta(days=2)

    scheduled = post_schedule(staff_client, campaign, tomorrow, "09:00")
    sent = staff_client.post(f"/campaigns/{campaign.id}/send-now", data={"confirmed": "1"})

    for response in (scheduled, sent):
        html = response.get_data(as_text=True)
        assert response.status_code == 400
        assert "This campaign cannot be sent yet." in html
        assert "<li>French: the subject is empty.</li>" in html
        assert "<li>Nobody would receive it.</li>" in html
    assert reload(db_session, campaign).status == "draft"


# --- Other moves ---------------------------------------------------------------------------------


def test_send_now_asks_first_then_schedules_for_now(staff_client, db_session, campaign):
    question = staff_client.post(f"/campaigns/{campaign.id}/send-now")
    assert question.status_code == 200
    assert "Yes, send now" in question.get_data(as_text=True)
    assert "<strong>2</strong>" in question.get_data(as_text=True)
    assert reload(db_session, campaign).status == "draft"

    response = staff_client.post(
        f"/campaigns/{campaign.id}/send-now", data={"confirmed": "1", "next": "/campaigns"}
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/campaigns"
    stored = reload(db_session, campaign)
    assert stored.status == "scheduled"
    assert abs(stored.scheduled_at - utcnow()) < timedelta(minutes=1)


def test_send_now_replaces_a_later_schedule(staff_client, db_session, campaign):
    set_status(db_session, campaign, "scheduled", scheduled_at=utcnow() + timedelta(days=3))

    staff_client.post(f"/campaigns/{campaign.id}/send-now", data={"confirmed": "1"})

    stored = reload(db_session, campaign)
    assert stored.status == "scheduled"
    assert abs(stored.scheduled_at - utcnow()) < timedelta(minutes=1)


def test_next_must_be_a_local_path(staff_client, db_session, campaign):
    response = staff_client.post(
        f"/campaigns/{campaign.id}/send-now",
        data={"confirmed": "1", "next": "//evil.example/phish"},
    )

    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]


def test_unschedule_returns_to_draft(staff_client, db_session, campaign):
    set_status(db_session, campaign, "scheduled", scheduled_at=utcnow() + timedelta(days=3))

    response = staff_client.post(f"/campaigns/{campaign.id}/unschedule")

    assert response.status_code == 302
    stored = reload(db_session, campaign)
    assert (stored.status, stored.scheduled_at) == ("draft", None)


def test_pause_and_resume_a_sending_campaign(staff_client, db_session, campaign):
    set_status(db_session, campaign, "sending", started_at=utcnow())

    paused = staff_client.post(f"/campaigns/{campaign.id}/pause", follow_redirects=True)

    stored = reload(db_session, campaign)
    assert (stored.status, stored.status_reason) == ("paused", "Paused by staff")
    assert "Sending is paused" in paused.get_data(as_text=True)

    staff_client.post(f"/campaigns/{campaign.id}/resume")

    assert reload(db_session, campaign).status == "sending"


def add_rows(db_session, campaign, statuses):
    for number, status in enumerate(statuses):
        db_session.add(OutboxMessage(
            campaign_id=campaign.id, email=f"r{number}@example.org", status=status,
            sent_at=utcnow() if status == "sent" else None,
        ))
    db_session.commit()


def test_cancel_asks_first_then_skips_queued_messages(staff_client, db_session, campaign):
    set_status(db_session, campaign, "paused", started_at=utcnow())
    add_rows(db_session, campaign, ["sent", "sent", "queued", "queued", "queued", "failed"])

    question = staff_client.get(f"/campaigns/{campaign.id}/cancel")
    html = question.get_data(as_text=True)
    assert question.status_code == 200
    assert "the 3 messages still queued will be skipped" in html
    assert "Yes, cancel the campaign" in html
    unconfirmed = staff_client.post(f"/campaigns/{campaign.id}/cancel")
    assert unconfirmed.status_code == 200
    assert reload(db_session, campaign).status == "paused"

    response = staff_client.post(f"/campaigns/{campaign.id}/cancel", data={"confirmed": "1"})

    assert response.status_code == 302
    stored = reload(db_session, campaign)
    assert stored.status == "cancelled" and stored.finished_at is not None
    statuses = db_session.scalars(
        select(OutboxMessage.status).where(OutboxMessage.campaign_id == campaign.id)
    ).all()
    assert sorted(statuses) == ["failed", "sent", "sent", "skipped", "skipped", "skipped"]


@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        ("draft", "pause", "A draft campaign cannot be paused."),
        ("draft", "resume", "A draft campaign cannot be resumed; only a paused campaign can."),
        ("sent", "unschedule", "A sent campaign cannot be returned to draft."),
        ("sending", "unschedule", "A sending campaign cannot be returned to draft."),
    ],
)
def test_illegal_transitions_are_refused_with_a_message(
    staff_client, db_session, campaign, status, action, message
):
    set_status(db_session, campaign, status)

    response = staff_client.post(f"/campaigns/{campaign.id}/{action}")

    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert reload(db_session, campaign).status == status


@pytest.mark.parametrize("status", ["sent", "cancelled", "sending"])
def test_finished_or_running_campaigns_cannot_be_scheduled_sent_or_cancelled(
    staff_client, db_session, campaign, status
):
    set_status(db_session, campaign, status)
    future = date.today() + timedelta(days=5)

    scheduled = post_schedule(staff_client, campaign, future, "09:00")
    sent = staff_client.post(f"/campaigns/{campaign.id}/send-now", data={"confirmed": "1"})
    cancelled = staff_client.post(f"/campaigns/{campaign.id}/cancel", data={"confirmed": "1"})

    assert [r.status_code for r in (scheduled, sent, cancelled)] == [400] * 3
    question = staff_client.get(f"/campaigns/{campaign.id}/send-now").get_data(as_text=True)
    assert f"A {status} campaign cannot be sent." in question and "Yes, send now" not in question
    assert f"A {status} campaign cannot be scheduled." in scheduled.get_data(as_text=True)
    assert f"A {status} campaign cannot be cancelled." in cancelled.get_data(as_text=True)
    assert reload(db_session, campaign).status == status


# --- Buttons and permissions ----------------------------------------------------------------------


def panel(client, campaign) -> str:
    response = client.get(f"/campaigns/{campaign.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_buttons_follow_the_state_machine(staff_client, db_session, campaign):
    html = panel(staff_client, campaign)
    assert "Schedule</button>" in html and "Send now" in html and "Cancel campaign" in html
    assert "Pause sending" not in html and "Unschedule" not in html

    set_status(db_session, campaign, "scheduled", scheduled_at=utcnow() + timedelta(days=2))
    html = panel(staff_client, campaign)
    assert "Change the time" in html and "Unschedule" in html and "Send now" in html

    set_status(db_session, campaign, "sending", started_at=utcnow())
    html = panel(staff_client, campaign)
    assert "Pause sending" in html
    assert "Schedule</button>" not in html and "Cancel campaign" not in html

    set_status(db_session, campaign, "paused", status_reason="Paused by staff")
    html = panel(staff_client, campaign)
    assert "Resume sending" in html and "Cancel campaign" in html
    assert "Pause sending" not in html

    set_status(db_session, campaign, "sent", finished_at=utcnow())
    html = panel(staff_client, campaign)
    assert not any(label in html for label in ("Pause", "Resume", "Schedule</button>", "Cancel"))


def test_viewer_sees_no_buttons_and_cannot_change_anything(viewer_client, db_session, campaign):
    html = panel(viewer_client, campaign)
    assert "Schedule</button>" not in html and "Send now" not in html
    assert "Only editors can" in html

    future = date.today() + timedelta(days=5)
    responses = [
        post_schedule(viewer_client, campaign, future, "09:00"),
        viewer_client.post(f"/campaigns/{campaign.id}/send-now", data={"confirmed": "1"}),
        viewer_client.get(f"/campaigns/{campaign.id}/cancel"),
        viewer_client.post(f"/campaigns/{campaign.id}/cancel", data={"confirmed": "1"}),
    ]
    set_status(db_session, campaign, "sending")
    responses.append(viewer_client.post(f"/campaigns/{campaign.id}/pause"))

    assert [r.status_code for r in responses] == [403] * 5
    assert reload(db_session, campaign).status == "sending"


def test_anonymous_visitors_are_sent_to_the_login_page(client, campaign):
    response = client.post(f"/campaigns/{campaign.id}/pause")

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_unknown_campaign_is_404(staff_client):
    assert staff_client.post("/campaigns/4242/pause").status_code == 404
    assert staff_client.get("/campaigns/4242/schedule").status_code == 404
