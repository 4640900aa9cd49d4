"""Deadline alerts: rules, who is alerted on which Geneva day (across daylight saving), one email
per recipient per run, idempotent and race-safe runs, catch-up, moved deadlines."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.alerts.models import AlertRecord, AlertRule
from outreach.alerts.services import (
    AlertRunReport,
    _record_batch,
    add_rule,
    delete_rule,
    due_alerts,
    ensure_default_rules,
    list_rules,
    moved_deadlines,
    run_alerts,
    send_change_notices,
    set_rule_active,
)
from outreach.core.errors import ServiceError
from outreach.core.timezones import local_date_at
from outreach.delivery.models import OutboxMessage
from outreach.extensions import db
from tests.factories import make_contact, make_suppression
from tests.test_alerts_support import (
    DEADLINE,
    alert_rows,
    frozen,
    geneva,
    make_key_date,
    make_upr_session,
    records,
    subscriber,
)

DEADLINE_KINDS = ("stakeholder_submission", "pre_session_application", "pre_session_statement")


@pytest.fixture
def rules(db_session):
    ensure_default_rules(db_session)
    db_session.commit()


def payloads(session) -> dict[str, list[list[int]]]:
    return {row.email: row.payload["key_dates"] for row in alert_rows(session)}


# --- Rules ----------------------------------------------------------------------------------------


def test_default_rules_are_added_once(app, db_session):
    assert ensure_default_rules(db_session) == 12
    db_session.commit()
    assert ensure_default_rules(db_session) == 0
    rules = list_rules(db_session)
    assert {(r.kind, r.days_before) for r in rules} == {
        (kind, days) for kind in DEADLINE_KINDS for days in (30, 14, 7, 1)
    }
    assert all(rule.active for rule in rules)
    assert [(r.kind, r.days_before) for r in rules[:4]] == [
        ("stakeholder_submission", days) for days in (30, 14, 7, 1)
    ]


def test_rules_are_checked(app, db_session, rules):
    for kind, days, field in (
        ("stakeholder_submission", 7, "days_before"),  # already there
        ("birthday", 3, "kind"),
        ("wg_review", 366, "days_before"),
        ("wg_review", -1, "days_before"),
        ("wg_review", None, "days_before"),
    ):
        with pytest.raises(ServiceError) as refused:
            add_rule(db_session, kind, days)
        assert field in refused.value.fields
    rule = add_rule(db_session, "wg_review", 0)
    assert (rule.kind, rule.days_before, rule.active) == ("wg_review", 0, True)
    set_rule_active(db_session, rule, False)
    assert rule.active is False


def test_the_last_rule_cannot_be_removed(app, db_session, rules):
    *others, last = list_rules(db_session)
    for rule in others:
        delete_rule(db_session, rule)
    with pytest.raises(ServiceError, match="switch it off"):
        delete_rule(db_session, last)
    assert db_session.scalars(select(AlertRule)).all() == [last]


# --- When -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deadline", "expected"),
    [
        # Clocks go forward on Sunday 29 March 2026: the 7-day alert is on the other side.
        (
            date(2026, 4, 2),
            {
                30: date(2026, 3, 3),
                14: date(2026, 3, 19),
                7: date(2026, 3, 26),
                1: date(2026, 4, 1),
            },
        ),
        # Clocks go back on Sunday 25 October 2026, the day of the 1-day alert.
        (
            date(2026, 10, 26),
            {
                30: date(2026, 9, 26),
                14: date(2026, 10, 12),
                7: date(2026, 10, 19),
                1: date(2026, 10, 25),
            },
        ),
    ],
)
def test_alerts_go_out_on_their_geneva_day_across_daylight_saving(
    app, db_session, rules, deadline, expected
):
    upr_session = make_upr_session(db_session, 50)
    key_date = make_key_date(db_session, upr_session, deadline)
    # An all-day event starts at 00:00 Geneva: a UTC day would put its alert a day early.
    add_rule(db_session, "pre_session", 7)
    pre_session = make_key_date(db_session, upr_session, deadline, "pre_session", at=time(0))
    subscriber(db_session, "amina@example.org")
    db_session.commit()
    assert key_date.starts_at.astimezone(UTC).hour == (10 if deadline.month == 4 else 11)

    fired: dict[tuple[int, int], date] = {}
    day = deadline - timedelta(days=32)
    while day <= deadline:
        # Just before and just after Geneva midnight: only the latter may send that day's alert.
        for hour, minute in ((0, 1), (23, 59)):
            before = records(db_session)
            with frozen(geneva(day.year, day.month, day.day, hour, minute)):
                report = run_alerts(db_session)
            for _, key_date_id, days_before in records(db_session) - before:
                fired[(key_date_id, days_before)] = day
            assert report.recipients <= 1
        day += timedelta(days=1)

    assert fired == {
        **{(key_date.id, days): day for days, day in expected.items()},
        (pre_session.id, 7): expected[7],
    }
    assert [row.payload["key_dates"] for row in alert_rows(db_session)] == [
        [[key_date.id, 30]],
        [[key_date.id, 14]],
        [[pre_session.id, 7], [key_date.id, 7]],
        [[key_date.id, 1]],
    ]


def test_one_email_per_recipient_lists_all_their_due_deadlines(app, db_session, rules):
    s50 = make_upr_session(db_session, 50, ("SN", "ML"))
    s51 = make_upr_session(db_session, 51, ("FR",))
    submissions = make_key_date(db_session, s50, date(2026, 4, 2))
    applications = make_key_date(
        db_session, s50, date(2026, 4, 2), "pre_session_application", at=time(11, 0)
    )
    french = make_key_date(db_session, s51, date(2026, 4, 2))
    amina = subscriber(db_session, "amina@example.org", countries=("SN",))
    subscriber(db_session, "marc@example.org", countries=("ML", "FR"), language="fr")
    db_session.commit()

    with frozen(geneva(2026, 3, 26, 6)):
        report = run_alerts(db_session)

    assert (report.recipients, report.alerts) == (2, 5)
    rows = alert_rows(db_session)
    assert [(row.email, row.language, row.status) for row in rows] == [
        ("amina@example.org", "en", "queued"),
        ("marc@example.org", "fr", "queued"),
    ]
    # Soonest first: applications close at 11:00, the two submissions at 12:00.
    assert payloads(db_session) == {
        "amina@example.org": [[applications.id, 7], [submissions.id, 7]],
        "marc@example.org": [[applications.id, 7], [submissions.id, 7], [french.id, 7]],
    }
    # The missed 30- and 14-day alerts are recorded too, without an email of their own.
    amina_records = db_session.scalars(
        select(AlertRecord).where(AlertRecord.contact_id == amina.id)
    ).all()
    assert {(r.key_date_id, r.days_before, r.outbox_id) for r in amina_records} == {
        (kd, days, rows[0].id if days == 7 else None)
        for kd in (submissions.id, applications.id)
        for days in (30, 14, 7)
    }
    assert {r.deadline_at for r in amina_records if r.key_date_id == submissions.id} == {
        submissions.starts_at
    }


def test_a_second_run_queues_nothing_new(app, db_session, rules):
    upr_session = make_upr_session(db_session, 50)
    make_key_date(db_session, upr_session, date(2026, 4, 2))
    subscriber(db_session, "amina@example.org")
    db_session.commit()
    with frozen(geneva(2026, 3, 26, 0, 30)):
        first = run_alerts(db_session)
    with frozen(geneva(2026, 3, 26, 23, 0)):
        again = run_alerts(db_session)
    assert (first.recipients, first.alerts) == (1, 1)
    assert (again.recipients, again.alerts, again.records) == (0, 0, 0)
    assert len(alert_rows(db_session)) == 1


def test_two_runs_at_once_never_alert_twice(app, db_session, rules):
    upr_session = make_upr_session(db_session, 50)
    key_date = make_key_date(db_session, upr_session, date(2026, 4, 2))
    for n in range(6):
        subscriber(db_session, f"person{n}@example.org")
    db_session.commit()
    today = date(2026, 3, 26)

    with frozen(geneva(2026, 3, 26, 1)):
        # Another session read the due alerts before this run wrote anything...
        other = Session(db.engine)
        stale = due_alerts(other, today)
        assert len([alert for alert in stale if alert.send]) == 6
        run_alerts(db_session, batch_size=4)
        # ...and writes them afterwards: every insert loses, nothing is queued twice.
        late = AlertRunReport(today)
        _record_batch(other, stale, late)
        other.commit()
        other.close()
    assert (late.recipients, late.records) == (0, 0)

    # Two runs in two threads at the same moment.
    key_date.starts_at = local_date_at(date(2026, 4, 3), DEADLINE)  # a fresh 7-day alert
    db_session.execute(AlertRecord.__table__.delete())
    db_session.commit()
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def run():
        with app.app_context():
            try:
                barrier.wait()
                reports.append(run_alerts(db.session, batch_size=2))
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    with frozen(geneva(2026, 3, 27, 1)):
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert errors == []
    assert sum(report.recipients for report in reports) == 6
    emails = [row.email for row in alert_rows(db_session) if row.id > 6]
    assert sorted(emails) == sorted(f"person{n}@example.org" for n in range(6))


def test_a_missed_day_catches_up_with_the_closest_alert_only(app, db_session, rules):
    upr_session = make_upr_session(db_session, 50)
    key_date = make_key_date(db_session, upr_session, date(2026, 4, 2))
    amina = subscriber(db_session, "amina@example.org")
    db_session.commit()

    with frozen(geneva(2026, 3, 28, 9)):  # first run in weeks: 30, 14 and 7 days are all due
        report = run_alerts(db_session)
    assert (report.recipients, report.alerts) == (1, 1)
    assert payloads(db_session) == {"amina@example.org": [[key_date.id, 7]]}
    assert records(db_session) == {(amina.id, key_date.id, days) for days in (30, 14, 7)}

    with frozen(geneva(2026, 3, 31, 9)):
        assert run_alerts(db_session).recipients == 0
    with frozen(geneva(2026, 4, 2, 9)):  # missed 1 April: still before the deadline at 12:00
        assert run_alerts(db_session).alerts == 1
    assert [row.payload["key_dates"] for row in alert_rows(db_session)] == [
        [[key_date.id, 7]],
        [[key_date.id, 1]],
    ]


def test_an_offset_larger_than_one_already_sent_is_recorded_not_sent(app, db_session, rules):
    upr_session = make_upr_session(db_session, 50)
    key_date = make_key_date(db_session, upr_session, date(2026, 4, 2))
    amina = subscriber(db_session, "amina@example.org")
    db_session.commit()
    with frozen(geneva(2026, 3, 26, 9)):
        run_alerts(db_session)
    add_rule(db_session, "stakeholder_submission", 10)  # due on 23 March: already past
    db_session.commit()
    with frozen(geneva(2026, 3, 27, 9)):
        report = run_alerts(db_session)
    assert (report.recipients, report.records) == (0, 1)
    assert (amina.id, key_date.id, 10) in records(db_session)


def test_past_deadlines_are_never_alerted(app, db_session, rules):
    upr_session = make_upr_session(db_session, 50)
    make_key_date(db_session, upr_session, date(2026, 3, 20))
    subscriber(db_session, "amina@example.org")
    db_session.commit()
    with frozen(geneva(2026, 3, 20, 12, 30)):  # closed half an hour ago, never alerted
        report = run_alerts(db_session)
        again = run_alerts(db_session, date(2026, 3, 19))  # a run for a past day: still no
    assert (report.recipients, report.skipped_past) == (0, 1)
    assert again.recipients == 0
    assert alert_rows(db_session) == [] and records(db_session) == set()


def test_a_dry_run_counts_without_writing(app, db_session, rules):
    upr_session = make_upr_session(db_session, 50)
    make_key_date(db_session, upr_session, date(2026, 4, 2))
    subscriber(db_session, "amina@example.org")
    db_session.commit()
    with frozen(geneva(2026, 3, 20, 9)):
        # A preview of a later day: what 26 March will send.
        report = run_alerts(db_session, date(2026, 3, 26), dry_run=True)
    assert (report.recipients, report.alerts, report.dry_run) == (1, 1, True)
    assert alert_rows(db_session) == [] and records(db_session) == set()


# --- Who ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "choices",
    [
        {"status": "pending"},
        {"status": "unsubscribed"},
        {"paused_until": datetime(2026, 4, 30, tzinfo=UTC)},
        {"frequency": "weekly"},
        {"frequency": "none"},
        {"topics": ("newsletter", "digest")},
        {"countries": ("FR",)},
        {"all_sessions": False, "sessions": (49, 51)},
        {"contact_status": "inactive"},
    ],
    ids=lambda choices: "-".join(f"{k}={v}" for k, v in choices.items()),
)
def test_who_gets_no_alert(app, db_session, rules, choices):
    upr_session = make_upr_session(db_session, 50, ("SN", "ML"))
    make_key_date(db_session, upr_session, date(2026, 4, 2))
    subscriber(db_session, "control@example.org")
    subscriber(db_session, "other@example.org", **choices)
    db_session.commit()
    with frozen(geneva(2026, 3, 26, 9)):
        run_alerts(db_session)
    assert list(payloads(db_session)) == ["control@example.org"]


def test_suppressed_and_staff_added_contacts_get_no_alert(app, db_session, rules):
    upr_session = make_upr_session(db_session, 50)
    make_key_date(db_session, upr_session, date(2026, 4, 2))
    subscriber(db_session, "control@example.org")
    subscriber(db_session, "blocked@example.org")
    make_suppression(db_session, "Blocked@Example.org", "complaint")
    make_contact(db_session, "staff-added@example.org", country="SN")  # no subscription
    db_session.commit()
    with frozen(geneva(2026, 3, 26, 9)):
        run_alerts(db_session)
    assert list(payloads(db_session)) == ["control@example.org"]


def test_followers_of_a_session_or_of_a_state_with_its_own_date(app, db_session, rules):
    upr_session = make_upr_session(db_session, 50, ("SN", "ML"))
    session_wide = make_key_date(db_session, upr_session, date(2026, 4, 2))
    # Mali has its own submission date, which replaces the session's for Mali.
    mali = make_key_date(db_session, upr_session, date(2026, 4, 3), state="ML")
    subscriber(db_session, "sn@example.org", countries=("SN",), all_sessions=False, sessions=(50,))
    subscriber(
        db_session,
        "ml@example.org",
        countries=("ML",),
        paused_until=datetime(2026, 3, 1, tzinfo=UTC),
    )  # pause over
    subscriber(db_session, "both@example.org", countries=("FR", "ML", "SN"))
    db_session.commit()
    with frozen(geneva(2026, 3, 27, 9)):
        run_alerts(db_session)
    assert payloads(db_session) == {
        "sn@example.org": [[session_wide.id, 7]],
        "ml@example.org": [[mali.id, 7]],
        "both@example.org": [[session_wide.id, 7], [mali.id, 7]],
    }


# --- Moved deadlines ------------------------------------------------------------------------------


def test_a_moved_deadline_moves_pending_alerts_and_notices_go_to_those_alerted(
    app, db_session, rules
):
    upr_session = make_upr_session(db_session, 50)
    key_date = make_key_date(db_session, upr_session, date(2026, 4, 2))
    amina = subscriber(db_session, "amina@example.org")
    subscriber(db_session, "bruno@example.org")
    db_session.commit()
    old = key_date.starts_at
    with frozen(geneva(2026, 3, 3, 9)):
        run_alerts(db_session)  # the 30-day alerts
    sent, still_queued = alert_rows(db_session)
    sent.status = "sent"
    db_session.commit()

    # Staff bring the deadline forward by three days.
    key_date.starts_at = local_date_at(date(2026, 3, 30), DEADLINE)
    db_session.commit()
    moved = moved_deadlines(db_session)
    # Bruno's alert has not gone yet: it will show the new date, so only Amina needs a notice.
    assert [(m.key_date.id, m.people, m.announced) for m in moved] == [(key_date.id, 1, [old])]

    # Alerts still to come follow the new date: the 7-day alert is now due on 23 March.
    with frozen(geneva(2026, 3, 22, 9)):
        assert run_alerts(db_session).alerts == 2  # the 14-day one (due 16 March), caught up
    with frozen(geneva(2026, 3, 23, 9)):
        report = run_alerts(db_session)
    assert (report.recipients, report.alerts) == (2, 2)
    assert all(
        row.payload["key_dates"] == [[key_date.id, 7]] for row in alert_rows(db_session)[-2:]
    )

    assert send_change_notices(db_session, key_date) == 1
    db_session.commit()
    notice = db_session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "notice")).one()
    assert (notice.email, notice.contact_id, notice.status) == (
        "amina@example.org",
        amina.id,
        "queued",
    )
    assert notice.payload == {"key_date_id": key_date.id, "old": old.isoformat()}
    thirty = db_session.scalars(
        select(AlertRecord).where(AlertRecord.contact_id == amina.id, AlertRecord.days_before == 30)
    ).one()
    assert (thirty.change_notice_outbox_id, thirty.deadline_at) == (notice.id, key_date.starts_at)
    assert moved_deadlines(db_session) == []
    assert send_change_notices(db_session, key_date) == 0
