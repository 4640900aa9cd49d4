"""The scheduler (jobs, leader election) and the delivery commands."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from outreach.campaigns.models import Campaign
from outreach.core.database import is_postgresql, utcnow
from outreach.delivery import scheduler as sched
from outreach.delivery.models import OutboxMessage, SchedulerLock, WorkerHeartbeat
from outreach.delivery.outbox import _insert_batch, claim_batch, enqueue_campaign
from outreach.delivery.scheduler import Leadership, Scheduler, register_job
from outreach.extensions import db
from tests.factories import make_contact
from tests.test_delivery_support import Sink, make_campaign, outbox_rows, sending_to, statuses


def campaign_of(session, campaign_id: int) -> Campaign:
    session.expire_all()
    return session.get(Campaign, campaign_id)


def people(session, count: int = 3):
    return [make_contact(session, f"p{i}@example.org", first_name=f"P{i}") for i in range(count)]


@pytest.fixture
def sink():
    server = Sink().start()
    yield server
    server.stop()


def test_run_once_starts_due_campaigns_and_leaves_future_ones(app, db_session):
    people(db_session)
    due = make_campaign(
        db_session, status="scheduled", scheduled_at=utcnow() - timedelta(minutes=1)
    )
    later = make_campaign(
        db_session, status="scheduled", scheduled_at=utcnow() + timedelta(hours=1)
    )
    db_session.commit()

    ran = Scheduler(app, "s1").run_once()

    assert {"campaigns.start", "campaigns.finish", "outbox.requeue-stale"} <= set(ran)
    assert campaign_of(db_session, due.id).status == "sending"
    assert campaign_of(db_session, due.id).enqueued_at is not None
    assert len(outbox_rows(db_session, due.id)) == 3
    assert campaign_of(db_session, later.id).status == "scheduled"
    assert outbox_rows(db_session, later.id) == []
    assert db_session.get(WorkerHeartbeat, "s1").role == "scheduler"


def test_enqueueing_interrupted_by_a_crash_is_finished(app, db_session):
    people(db_session, 5)
    campaign = make_campaign(db_session, status="sending", started_at=utcnow())
    db_session.commit()
    _insert_batch(db_session, campaign, 0, 2, utcnow())  # the crash came after one batch
    db_session.commit()

    assert sched.resume_enqueueing(db_session) == [campaign.id]
    assert len(outbox_rows(db_session, campaign.id)) == 5
    assert campaign_of(db_session, campaign.id).enqueued_at is not None
    assert sched.resume_enqueueing(db_session) == []


def test_finish_marks_sent_only_when_nothing_is_left(app, db_session):
    people(db_session, 2)
    campaign = make_campaign(db_session)
    db_session.commit()
    enqueue_campaign(db_session, campaign)
    rows = claim_batch(db_session, "w", 1)
    assert sched.finish_campaigns(db_session) == []
    db_session.execute(OutboxMessage.__table__.update().values(status="sent"))
    db_session.commit()
    assert rows and sched.finish_campaigns(db_session) == [campaign.id]
    assert campaign_of(db_session, campaign.id).status == "sent"
    assert campaign_of(db_session, campaign.id).finished_at is not None


def test_only_one_scheduler_leads_and_a_standby_takes_over(app):
    first = Leadership(app, "first", lease_seconds=30)
    second = Leadership(app, "second", lease_seconds=30)
    try:
        assert first.elect() is True
        assert second.elect() is False
        assert first.elect() is True  # renewing keeps it
        first.release()  # the leader stops (or its process dies: the lock goes with it)
        assert second.elect() is True
        assert first.elect() is False
    finally:
        first.release()
        second.release()


def test_an_expired_lease_is_taken_over(app, db_session):
    if is_postgresql(db.engine):
        pytest.skip("PostgreSQL uses an advisory lock, released when the holder's session ends")
    first = Leadership(app, "first", lease_seconds=0.2)
    second = Leadership(app, "second", lease_seconds=30)
    assert first.elect() is True
    assert second.elect() is False
    time.sleep(0.3)  # the first stopped renewing (hung or killed)
    assert second.elect() is True
    assert db_session.get(SchedulerLock, "scheduler").holder == "second"
    second.release()


def test_a_dead_leaders_advisory_lock_is_released(app):
    if not is_postgresql(db.engine):
        pytest.skip("SQLite uses a lease row")
    first = Leadership(app, "first", lease_seconds=30)
    second = Leadership(app, "second", lease_seconds=30)
    assert first.elect() is True
    first.connection.invalidate()  # the connection drops as if the process were killed
    first.connection = None
    assert second.elect() is True
    second.release()


def test_a_standby_runs_no_job(app, db_session):
    people(db_session)
    campaign = make_campaign(db_session, status="scheduled", scheduled_at=utcnow())
    db_session.commit()
    leader = Leadership(app, "leader", lease_seconds=30)
    assert leader.elect()
    try:
        assert Scheduler(app, "standby").run_once() == []
        assert campaign_of(db_session, campaign.id).status == "scheduled"
    finally:
        leader.release()


def test_registered_jobs_run_and_a_failing_one_is_rolled_back(app, db_session):
    calls = []

    @register_job("test.ok", seconds=60)
    def ok(session):
        calls.append("ok")

    def broken(session):
        session.add(WorkerHeartbeat(name="half-done"))
        session.flush()
        raise RuntimeError("boom")

    register_job("test.broken", broken, seconds=60)
    try:
        ran = Scheduler(app, "s1").run_once()
    finally:
        sched.JOBS.pop("test.ok")
        sched.JOBS.pop("test.broken")
    assert "test.ok" in ran and "test.broken" not in ran
    assert calls == ["ok"]
    assert db_session.get(WorkerHeartbeat, "half-done") is None


def test_send_due_command_sends_a_scheduled_campaign(app, db_session, sink):
    people(db_session)
    campaign = make_campaign(db_session, status="scheduled", scheduled_at=utcnow())
    db_session.commit()
    campaign_id = campaign.id

    with sending_to(app, sink):
        result = app.test_cli_runner().invoke(args=["delivery", "send-due"])

    assert result.exit_code == 0, result.output
    assert "started=1 sent=3 failed=0 skipped=0" in result.output
    assert "finished=1" in result.output
    assert len(sink.received) == 3
    assert campaign_of(db_session, campaign_id).status == "sent"
    assert set(statuses(db_session, campaign_id).values()) == {"sent"}


def test_send_due_command_with_the_server_down_exits_1_and_keeps_everything(app, db_session):
    people(db_session)
    campaign = make_campaign(db_session, status="scheduled", scheduled_at=utcnow())
    db_session.commit()
    campaign_id = campaign.id

    with sending_to(app, None):
        result = app.test_cli_runner().invoke(args=["delivery", "send-due"])

    assert result.exit_code == 1
    assert "SMTP server unavailable" in result.output
    assert set(statuses(db_session, campaign_id).values()) == {"queued"}
    assert campaign_of(db_session, campaign_id).status == "sending"


def test_status_command_shows_queues_processes_and_rate(app, db_session, sink):
    people(db_session, 4)
    campaign = make_campaign(db_session, name="November newsletter")
    db_session.commit()
    enqueue_campaign(db_session, campaign)
    claim_batch(db_session, "w-busy", 1)
    db_session.execute(
        OutboxMessage.__table__.update()
        .where(OutboxMessage.status == "queued", OutboxMessage.id <= 3)
        .values(status="sent", sent_at=utcnow())
    )
    db_session.add(WorkerHeartbeat(name="w-busy", role="worker", seen_at=utcnow(), sent_total=2))
    db_session.add(WorkerHeartbeat(name="w-old", seen_at=utcnow() - timedelta(hours=1)))
    db_session.commit()

    result = app.test_cli_runner().invoke(args=["delivery", "status"])

    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "November newsletter" in line)
    assert line.split()[-6:] == ["sending", "1", "1", "2", "0", "0"]
    assert "due now: 1" in result.output
    assert "sent in the last 5 minutes: 2 (0.0 messages/s)" in result.output
    assert "w-busy" in result.output and "w-old" not in result.output


def test_scheduler_once_command(app, db_session):
    people(db_session)
    campaign = make_campaign(db_session, status="scheduled", scheduled_at=utcnow())
    db_session.commit()
    result = app.test_cli_runner().invoke(args=["scheduler", "--once"])
    assert result.exit_code == 0, result.output
    assert "campaigns.start" in result.output
    assert campaign_of(db_session, campaign.id).status == "sending"
    count = db_session.scalar(select(func.count()).select_from(OutboxMessage))
    assert count == 3
