"""`flask delivery status` for an operator: which scheduler leads, which workers run, the queue."""

from __future__ import annotations

from outreach.delivery.outbox import enqueue_campaign
from outreach.delivery.scheduler import Scheduler
from outreach.delivery.worker import run_worker
from tests.factories import make_contact
from tests.test_delivery_support import Sink, make_campaign, sending_to


def status(app) -> str:
    result = app.test_cli_runner().invoke(args=["delivery", "status"])
    assert result.exit_code == 0, result.output
    return result.output


def line_of(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if name in line)


def test_status_names_the_leading_and_the_standby_scheduler(app, db_session):
    leader, standby = Scheduler(app, "sched-a", interval=5), Scheduler(app, "sched-b", interval=5)
    try:
        assert leader.elect() is True
        assert standby.elect() is False
        output = status(app)
    finally:
        standby.leadership.release()
        leader.leadership.release()

    assert line_of(output, "sched-a").split()[0] == "scheduler"
    assert line_of(output, "sched-a").endswith("leader")
    assert line_of(output, "sched-b").endswith("standby")


def test_status_after_a_worker_ran_shows_it_and_the_campaign_done(app, db_session):
    for i in range(3):
        make_contact(db_session, f"s{i}@example.org")
    campaign = make_campaign(db_session, name="Status check")
    db_session.commit()
    enqueue_campaign(db_session, campaign)
    db_session.commit()
    assert "due now: 3" in status(app)

    sink = Sink().start()
    try:
        with sending_to(app, sink):
            run_worker(app, "status-worker", once=True)
    finally:
        sink.stop()
    output = status(app)

    assert "due now: 0" in output
    assert "sent in the last 5 minutes: 3" in output
    worker = line_of(output, "status-worker")
    assert worker.split()[0] == "worker"
    assert "sent=3" in worker
