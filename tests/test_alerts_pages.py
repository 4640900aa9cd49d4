"""Staff pages of the deadline alerts (upcoming alerts, followers, rules, history, notices), the
contact page's alert history, `flask alerts run` and the scheduler job."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from outreach.alerts.cli import ALERTS_JOB_SECONDS, run_alerts_job
from outreach.alerts.models import AlertRule
from outreach.alerts.services import ensure_default_rules, run_alerts
from outreach.core.timezones import local_date_at, local_today
from outreach.delivery.models import OutboxMessage
from outreach.delivery.scheduler import JOBS
from tests.test_alerts_support import (
    DEADLINE,
    alert_rows,
    make_key_date,
    make_upr_session,
    subscriber,
)


@pytest.fixture
def calendar(db_session):
    """Session 50 (Senegal, Mali) with a submission deadline in 10 days and two followers."""
    ensure_default_rules(db_session)
    upr_session = make_upr_session(db_session, 50, ("SN", "ML"))
    key_date = make_key_date(db_session, upr_session, local_today() + timedelta(days=10))
    subscriber(db_session, "amina@example.org", first_name="Amina")
    subscriber(db_session, "moussa@example.org", countries=("ML",), first_name="Moussa")
    subscriber(db_session, "weekly@example.org", frequency="weekly")
    db_session.commit()
    return key_date


def text(response) -> str:
    return response.get_data(as_text=True)


def test_alerts_page_shows_upcoming_alerts_followers_rules(staff_client, calendar):
    response = staff_client.get("/alerts")
    assert response.status_code == 200
    page = text(response)
    assert "Upcoming alerts: the next 30 days" in page
    alert_day = local_today() + timedelta(days=3)  # the 7-day alert
    assert alert_day.strftime("%a %d %b") in page
    assert f"/alerts/key-dates/{calendar.id}?days_before=7" in page
    assert "catch-up" in page  # the 14-day alert, missed: goes out at the next run
    assert "Next deadlines and their followers" in page
    assert "Stakeholder submissions deadline" in page
    assert f'<a href="/alerts/key-dates/{calendar.id}">2</a>' in page  # two followers
    assert "Pre-session applications deadline" in page and "Add the rule" in page
    assert "No alerts in the last 30 days" in page


def test_empty_alerts_page_says_what_to_do(staff_client, db_session):
    page = text(staff_client.get("/alerts"))
    assert "No alerts in the next 30 days" in page and "Open the sessions" in page
    assert "No deadlines in the next 60 days" in page


def test_who_will_be_alerted(staff_client, calendar, db_session):
    page = text(staff_client.get(f"/alerts/key-dates/{calendar.id}?days_before=7"))
    assert "Who the alert 7 days before will reach" in page
    assert "amina@example.org" in page and "moussa@example.org" in page
    assert "weekly@example.org" not in page
    run_alerts(db_session)
    db_session.commit()
    page = text(staff_client.get(f"/alerts/key-dates/{calendar.id}?days_before=14"))
    assert "Nobody is left to alert 14 days before" in page
    page = text(staff_client.get(f"/alerts/key-dates/{calendar.id}"))
    assert 'Followers <small class="text-body-secondary">(2)</small>' in page
    assert "14 d: queued" in page and "30 d: recorded" in page  # replaced by the 14-day one
    assert "2 queued" in page  # the history of this key date
    assert staff_client.get("/alerts/key-dates/999").status_code == 404
    assert staff_client.get(f"/alerts/key-dates/{calendar.id}?days_before=x").status_code == 200


def test_history_lists_alerts_by_day_with_email_status(staff_client, calendar, db_session):
    run_alerts(db_session)
    db_session.commit()
    alert_rows(db_session)[0].status = "sent"
    db_session.commit()
    page = text(staff_client.get("/alerts?days=7"))
    assert "Alerts sent" in page and "Last 7 days" in page
    assert local_today().strftime("%a %d %b %Y") in page
    assert "1 queued" in page and "1 sent" in page
    assert "2 recorded" in page  # the 30-day alerts, replaced by the 14-day one


def test_editors_manage_rules(staff_client, db_session, calendar):
    response = staff_client.post("/alerts/rules", data={"kind": "wg_review", "days_before": "3"})
    assert response.status_code == 302
    rule = db_session.scalars(select(AlertRule).where(AlertRule.kind == "wg_review")).one()
    assert (rule.days_before, rule.active) == (3, True)
    rule_id = rule.id

    bad = staff_client.post("/alerts/rules", data={"kind": "wg_review", "days_before": "400"})
    assert bad.status_code == 400
    assert "Give a number of days from 0 to 365." in text(bad)
    assert 'value="400"' in text(bad)
    duplicate = staff_client.post("/alerts/rules", data={"kind": "wg_review", "days_before": "3"})
    assert duplicate.status_code == 400 and "There is already an alert 3 days before" in text(
        duplicate
    )

    assert staff_client.post(f"/alerts/rules/{rule_id}/toggle").status_code == 302
    db_session.expire_all()
    assert db_session.get(AlertRule, rule_id).active is False

    confirm = staff_client.post(f"/alerts/rules/{rule_id}/delete")
    assert confirm.status_code == 200 and "Remove the alert 3 days before" in text(confirm)
    assert db_session.get(AlertRule, rule_id) is not None
    done = staff_client.post(f"/alerts/rules/{rule_id}/delete", data={"confirmed": "1"})
    assert done.status_code == 302
    db_session.expire_all()
    assert db_session.get(AlertRule, rule_id) is None
    assert staff_client.post("/alerts/rules/999/toggle").status_code == 404


def test_viewers_read_but_cannot_change(viewer_client, db_session, calendar):
    page = text(viewer_client.get("/alerts"))
    assert "Upcoming alerts" in page and "Add the rule" not in page
    rule = db_session.scalars(select(AlertRule)).first()
    assert (
        viewer_client.post(
            "/alerts/rules", data={"kind": "wg_review", "days_before": "3"}
        ).status_code
        == 403
    )
    assert viewer_client.post(f"/alerts/rules/{rule.id}/toggle").status_code == 403
    assert (
        viewer_client.post(f"/alerts/rules/{rule.id}/delete", data={"confirmed": "1"}).status_code
        == 403
    )
    assert (
        viewer_client.post(
            f"/alerts/key-dates/{calendar.id}/notify", data={"confirmed": "1"}
        ).status_code
        == 403
    )
    assert viewer_client.get(f"/alerts/key-dates/{calendar.id}").status_code == 200


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get("/alerts")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_deadline_moved_notify_button(staff_client, db_session, calendar):
    run_alerts(db_session)
    db_session.commit()
    for row in alert_rows(db_session):
        row.status = "sent"
    calendar.starts_at = local_date_at(local_today() + timedelta(days=12), DEADLINE)
    db_session.commit()

    page = text(staff_client.get("/alerts"))
    assert "Deadline moved: notify 2 people" in page
    confirm = staff_client.post(f"/alerts/key-dates/{calendar.id}/notify")
    assert confirm.status_code == 200 and "Tell 2 people that this deadline moved?" in text(confirm)
    assert (
        db_session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "notice")).all() == []
    )

    done = staff_client.post(f"/alerts/key-dates/{calendar.id}/notify", data={"confirmed": "1"})
    assert done.status_code == 302
    notices = db_session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "notice")).all()
    assert sorted(n.email for n in notices) == ["amina@example.org", "moussa@example.org"]
    follow = staff_client.get(done.headers["Location"])
    assert "Queued 2 “deadline changed” notices" in text(follow)
    assert "Deadline moved: notify" not in text(staff_client.get("/alerts"))
    again = staff_client.post(f"/alerts/key-dates/{calendar.id}/notify", data={"confirmed": "1"})
    assert again.status_code == 302
    assert (
        len(db_session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "notice")).all())
        == 2
    )


def test_contact_page_shows_the_alert_history(staff_client, db_session, calendar):
    page = text(staff_client.get("/contacts/1"))
    assert "Deadline alerts" in page and "No deadline alert sent to this contact yet." in page
    run_alerts(db_session)
    db_session.commit()
    page = text(staff_client.get("/contacts/1"))
    assert "Stakeholder submissions deadline</a>, session 50" in page
    assert "14 days before" in page and "queued" in page
    assert "recorded (a closer alert was sent)" in page


def test_nav_and_home_link_to_alerts(staff_client, calendar):
    home = text(staff_client.get("/"))
    assert 'href="/alerts"' in home and 'href="/alerts#followers"' in home


def test_flask_alerts_run(app, db_session, calendar):
    runner = app.test_cli_runner()
    day = (local_today() + timedelta(days=3)).isoformat()
    dry = runner.invoke(args=["alerts", "run", "--date", day, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.output.startswith("alerts: recipients=2 alerts=2 skipped_past=0")
    assert alert_rows(db_session) == []

    done = runner.invoke(args=["alerts", "run"])
    assert done.exit_code == 0, done.output
    assert done.output.strip() == "alerts: recipients=2 alerts=2 skipped_past=0"
    assert len(alert_rows(db_session)) == 2
    again = runner.invoke(args=["alerts", "run"])
    assert again.output.strip() == "alerts: recipients=0 alerts=0 skipped_past=0"

    bad = runner.invoke(args=["alerts", "run", "--date", "30/11/2026"])
    assert bad.exit_code == 2 and "'30/11/2026' does not match the format" in bad.output


def test_the_scheduler_runs_alerts_every_hour(app, db_session):
    assert JOBS["alerts"].func is run_alerts_job
    assert JOBS["alerts"].seconds == ALERTS_JOB_SECONDS == 3600
    upr_session = make_upr_session(db_session, 50, ("SN",))
    make_key_date(db_session, upr_session, local_today() + timedelta(days=1))
    subscriber(db_session, "amina@example.org")
    db_session.commit()
    run_alerts_job(db_session)  # also adds the default rules
    db_session.commit()
    assert db_session.scalars(select(AlertRule)).all()
    assert [row.payload["key_dates"][0][1] for row in alert_rows(db_session)] == [1]
