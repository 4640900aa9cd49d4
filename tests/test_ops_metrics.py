"""`/metrics`: sent and failed counters, send latency, queue depth, scheduler runs."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from outreach.delivery.outbox import enqueue_campaign
from outreach.delivery.scheduler import ScheduledJob, Scheduler
from outreach.delivery.worker import run_worker
from tests.factories import make_contact
from tests.test_delivery_support import Sink, make_campaign, sending_to


@pytest.fixture
def sink():
    server = Sink(rcpt_replies={"refused@example.org": ["550 5.1.1 No such user"]}).start()
    yield server
    server.stop()


def scrape(client) -> dict[tuple, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    values = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def value(values, name, **labels) -> float:
    return values.get((name, tuple(sorted(labels.items()))), 0.0)


def test_queue_depth_counts_queued_rows(app, db_session, client):
    for i in range(3):
        make_contact(db_session, f"q{i}@example.org")
    campaign = make_campaign(db_session)
    db_session.commit()
    enqueue_campaign(db_session, campaign)
    db_session.commit()

    values = scrape(client)

    assert value(values, "outreach_queue_depth", status="queued", kind="campaign") == 3
    assert value(values, "outreach_queue_depth", status="sending", kind="campaign") == 0


def test_worker_counts_sent_and_failed_and_times_sends(app, db_session, client, sink):
    make_contact(db_session, "ok1@example.org")
    make_contact(db_session, "ok2@example.org")
    make_contact(db_session, "refused@example.org")
    campaign = make_campaign(db_session)
    db_session.commit()
    enqueue_campaign(db_session, campaign)
    db_session.commit()
    before = scrape(client)

    with sending_to(app, sink):
        run_worker(app, "metrics-worker", once=True)
    after = scrape(client)

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("outreach_messages_sent_total", kind="campaign") == 2
    assert grew("outreach_messages_failed_total", kind="campaign") == 1
    assert grew("outreach_send_seconds_count") == 3
    assert value(after, "outreach_queue_depth", status="queued", kind="campaign") == 0


def test_scheduler_runs_are_counted_by_job_and_outcome(app, client):
    scheduler = Scheduler(app, "metrics-scheduler", interval=1)
    scheduler.leadership.is_leader = True

    def broken(session):
        raise RuntimeError("boom")

    before = scrape(client)
    scheduler.run_job(ScheduledJob("ops.test-ok", lambda session: None, 10))
    scheduler.run_job(ScheduledJob("ops.test-broken", broken, 10))
    after = scrape(client)

    name = "outreach_scheduler_runs_total"
    assert (
        value(after, name, job="ops.test-ok", outcome="ok")
        - value(before, name, job="ops.test-ok", outcome="ok")
        == 1
    )
    assert (
        value(after, name, job="ops.test-broken", outcome="failed")
        - value(before, name, job="ops.test-broken", outcome="failed")
        == 1
    )


def test_metrics_can_be_turned_off(app, client):
    app.config["METRICS_ENABLED"] = False
    try:
        assert client.get("/metrics").status_code == 404
    finally:
        app.config["METRICS_ENABLED"] = True


def test_worker_command_serves_metrics_on_its_port(app, monkeypatch):
    from outreach.delivery import cli

    served = []
    monkeypatch.setattr(cli, "serve_metrics", lambda port, address: served.append((port, address)))
    monkeypatch.setattr(cli, "run_worker", lambda *args, **kwargs: None)
    result = app.test_cli_runner().invoke(args=["delivery", "worker", "--metrics-port", "9105"])
    assert result.exit_code == 0, result.output
    assert served == [(9105, "127.0.0.1")]


def test_sent_counter_is_looked_up_once_per_kind_and_still_counts():
    from types import SimpleNamespace

    from outreach.ops import metrics
    from outreach.ops.delivery import _sent_counter, record_outcome

    assert _sent_counter("digest") is _sent_counter("digest")
    assert _sent_counter("digest") is metrics.MESSAGES_SENT.labels("digest")
    before = metrics.MESSAGES_SENT.labels("digest")._value.get()
    row = SimpleNamespace(campaign_id=None, id=7, kind="digest")
    record_outcome(row, SimpleNamespace(status="sent"))
    assert metrics.MESSAGES_SENT.labels("digest")._value.get() == before + 1
