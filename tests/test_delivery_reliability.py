"""The delivery engine as it runs in production: real `flask delivery worker` and `flask scheduler`
processes, configured only through environment variables, on a database made for the test, sending
a campaign of a few hundred recipients to a real SMTP server on loopback that can be stopped,
restarted, and told to refuse chosen addresses.

Each test prints its numbers (delivered, duplicates, lost...) to the terminal, even without `-s`
(not under xdist, which swallows them) and puts them in its assertion messages; it is aborted after
HARD_LIMIT seconds and kills its processes however it ends. Marked `slow`: about 80 s in all.
"""

from __future__ import annotations

import signal
import time

import pytest

from tests.reliability.campaign import (
    build_campaign,
    campaign_state,
    database_kind,
    local_app,
    open_rows,
    outbox_row,
    postgres_wanted,
    recipient_address,
    row_locks,
    rows_in_status,
    scheduler_notes,
    scratch_database,
    start_campaign,
    suppressed_addresses,
    tally,
    waiting_backends,
)
from tests.reliability.processes import ProcessGroup, delivery_environment, wait_until
from tests.reliability.smtp_sink import RecordingSink

pytestmark = pytest.mark.slow

HARD_LIMIT = 75  # seconds; each test normally takes 10-30
RECIPIENTS = 300
BATCH = 20
LEASE = 3
DATABASES = ["sqlite", "postgresql"] if postgres_wanted() else ["sqlite"]
# Several workers share a campaign only on PostgreSQL (FOR UPDATE SKIP LOCKED).
postgresql_only = pytest.mark.parametrize(
    "database",
    [
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(not postgres_wanted(), reason="PostgreSQL not reachable"),
        )
    ],
    indirect=True,
)


@pytest.fixture(autouse=True)
def hard_timeout():
    """Abort a test that hangs; its `finally` blocks still kill the processes."""

    def expire(_signum, _frame):
        raise TimeoutError(f"reliability test still running after {HARD_LIMIT} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, HARD_LIMIT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(params=DATABASES)
def database(request, tmp_path):
    with scratch_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def app(database):
    with local_app(database) as application:
        yield application


@pytest.fixture
def sink():
    server = RecordingSink().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def processes(tmp_path, database, sink):
    env = delivery_environment(
        database, sink.port, DELIVERY_BATCH_SIZE=BATCH, DELIVERY_LEASE_SECONDS=LEASE
    )
    with ProcessGroup(tmp_path, env) as group:
        yield group


def everyone(count: int = RECIPIENTS) -> set[str]:
    return {recipient_address(number) for number in range(1, count + 1)}


def report(capsys, app, title: str, result) -> str:
    line = (
        f"[reliability, {database_kind(app.config['SQLALCHEMY_DATABASE_URI'])}] {title}: {result}"
    )
    with capsys.disabled():
        print(f"\n{line}")
    return line


def wait_for_status(app, campaign_id: int, status: str, timeout: float) -> bool:
    return wait_until(lambda: campaign_state(app, campaign_id)[0] == status, timeout, 0.25)


def test_a_worker_killed_mid_campaign_loses_nothing_and_repeats_at_most_one_batch(
    app, sink, processes, capsys
):
    campaign_id = build_campaign(app, RECIPIENTS)
    assert start_campaign(app) == [campaign_id]

    first = processes.worker("w1", DELIVERY_RATE=100)
    # Kill in the middle of the fourth batch: some of its messages are out, its rows not updated.
    assert sink.wait_for(3 * BATCH + BATCH // 2, timeout=30), processes.logs()
    first.kill()
    time.sleep(0.3)  # a message whose DATA was complete still arrives
    before_kill = sink.snapshot()
    held = rows_in_status(app, campaign_id, "sending")
    resent = [d for d in before_kill if d.outbox_id in held]  # out, but not recorded as sent
    assert 0 < len(before_kill) < RECIPIENTS, "the campaign ended before the kill"

    time.sleep(LEASE + 0.5)  # the replacement starts once the dead worker's lease has expired
    second = processes.worker("w2", DELIVERY_RATE=0)
    finished = wait_for_status(app, campaign_id, "sent", timeout=40)
    second.terminate()

    result = tally(app, campaign_id, sink.snapshot(), everyone())
    line = report(
        capsys,
        app,
        "kill -9 mid-campaign",
        f"received before the kill={len(before_kill)}, rows held by the dead worker={len(held)}, "
        f"of which already received={len(resent)}; {result}",
    )
    assert finished, f"{line}\n{processes.logs()}"
    assert result.lost == 0 and result.unexpected == 0, line
    # Exactly the messages of the held batch that had gone out are sent again: at most a batch.
    assert result.duplicates == len(resent) <= BATCH, line
    assert len(held) <= BATCH, line
    assert result.rows == {"sent": RECIPIENTS}, line
    assert result.sent_rows_without_delivery == 0, line
    assert second.process.returncode == 0, processes.logs()


def test_smtp_server_down_for_a_while_everything_is_delivered_when_it_is_back(
    app, sink, processes, capsys
):
    campaign_id = build_campaign(app, RECIPIENTS)
    start_campaign(app)

    worker = processes.worker("w1", DELIVERY_RATE=100)
    assert sink.wait_for(3 * BATCH + BATCH // 2, timeout=30), processes.logs()  # mid-batch
    sink.stop()
    down_at = sink.count
    time.sleep(4)
    status_during, rows_during = campaign_state(app, campaign_id)
    alive_during = worker.running()
    sink.start()  # same port
    finished = wait_for_status(app, campaign_id, "sent", timeout=40)
    worker.terminate()

    result = tally(app, campaign_id, sink.snapshot(), everyone())
    line = report(
        capsys,
        app,
        "SMTP server down 4 s",
        f"received before the outage={down_at}, during it: campaign={status_during!r} "
        f"rows={rows_during}; {result}",
    )
    assert alive_during and status_during == "sending", f"{line}\n{processes.logs()}"
    assert "unavailable" in worker.log(100_000).lower(), processes.logs()  # it did notice
    assert finished, f"{line}\n{processes.logs()}"
    assert result.lost == 0 and result.unexpected == 0, line
    # A message accepted just as the connection dropped never got its reply: it may go twice.
    assert result.duplicates <= 1, line
    assert result.rows == {"sent": RECIPIENTS}, line
    assert result.campaign_status == "sent", line


def test_two_schedulers_at_once_send_the_campaign_once(app, sink, processes, capsys):
    campaign_id = build_campaign(app, RECIPIENTS, send_in=3)
    assert campaign_state(app, campaign_id)[0] == "scheduled"

    processes.scheduler("s1")
    processes.scheduler("s2")
    processes.worker("w1")
    finished = wait_for_status(app, campaign_id, "sent", timeout=45)
    time.sleep(1)  # a second enqueue or send would show up now
    result = tally(app, campaign_id, sink.snapshot(), everyone())
    roles = scheduler_notes(app)
    logs = processes.logs()
    processes.stop_all()

    line = report(capsys, app, "two schedulers", str(result))
    assert finished, f"{line}\n{logs}"
    assert result.rows_total == RECIPIENTS, line
    assert result.lost == 0 and result.duplicates == 0 and result.unexpected == 0, line
    assert result.rows == {"sent": RECIPIENTS}, line
    assert sorted(roles.values()) == ["leader", "standby"], f"{roles}\n{logs}"  # both ran


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "no-pipelining"])
def test_550_fails_and_suppresses_451_is_retried_and_delivered(
    app, sink, processes, capsys, pipelining
):
    sink.pipelining = pipelining  # the worker sends MAIL, RCPT and DATA at once when offered
    unknown, greylisted = recipient_address(7), recipient_address(11)
    sink.set_replies(unknown, "550 5.1.1 <r0007@example.org>: Recipient address rejected")
    sink.set_replies(greylisted, "451 4.7.1 Greylisted, try again later", "250 OK")
    campaign_id = build_campaign(app, RECIPIENTS)
    start_campaign(app)

    processes.worker("w1")
    finished = wait_for_status(app, campaign_id, "sent", timeout=40)
    result = tally(app, campaign_id, sink.snapshot(), everyone() - {unknown})
    failed_row, retried_row = outbox_row(app, unknown), outbox_row(app, greylisted)
    suppressed = suppressed_addresses(app)
    refusals = [address for address, _reply in sink.refused]

    line = report(
        capsys,
        app,
        f"550 and 451 ({'with' if pipelining else 'without'} PIPELINING)",
        f"{result}; refusals={refusals}; {unknown}: {failed_row.status} {failed_row.smtp_reply!r}; "
        f"{greylisted}: {retried_row.status} after {retried_row.attempts} attempts",
    )
    assert finished, f"{line}\n{processes.logs()}"
    assert (failed_row.status, failed_row.smtp_code, failed_row.attempts) == ("failed", 550, 1)
    assert suppressed == {unknown: "hard_bounce"}, line
    assert unknown not in result.per_recipient and refusals.count(unknown) == 1, line
    assert (retried_row.status, retried_row.attempts, retried_row.smtp_code) == ("sent", 2, 250)
    assert refusals.count(greylisted) == 1 and result.per_recipient[greylisted] == 1, line
    assert result.lost == 0 and result.duplicates == 0, line
    assert result.rows == {"sent": RECIPIENTS - 1, "failed": 1}, line


@postgresql_only
def test_two_workers_share_a_campaign_without_duplicates_on_postgresql(
    app, sink, processes, capsys
):
    recipients = 400
    campaign_id = build_campaign(app, recipients)
    start_campaign(app)

    processes.worker("w1", DELIVERY_RATE=100)
    processes.worker("w2", DELIVERY_RATE=100)
    finished = wait_for_status(app, campaign_id, "sent", timeout=40)
    result = tally(app, campaign_id, sink.snapshot(), everyone(recipients))
    processes.stop_all()

    line = report(capsys, app, "two workers on PostgreSQL", str(result))
    assert finished, f"{line}\n{processes.logs()}"
    assert result.lost == 0 and result.duplicates == 0 and result.unexpected == 0, line
    assert result.rows == {"sent": recipients}, line
    assert set(result.claimed_by) == {"w1", "w2"}, line
    assert min(result.claimed_by.values()) >= BATCH, line


@postgresql_only
def test_two_workers_finishing_together_still_mark_the_campaign_sent(app, sink, processes, capsys):
    """Each worker claims one batch. The test locks the last row of each batch, so both workers
    wait in the middle of recording their outcomes; it then lets both go at once. Each must see
    the other's rows (if only once committed), and one of them must mark the campaign sent: no
    scheduler runs here to do it for them."""
    per_worker = 100
    campaign_id = build_campaign(app, 2 * per_worker)
    start_campaign(app)
    ids = sorted(rows_in_status(app, campaign_id, "queued"))
    last_rows = [ids[per_worker - 1], ids[-1]]  # the last row of each worker's batch
    sink.hold_at(1, parties=2)  # both have claimed their batch before either goes on

    processes.worker("w1", DELIVERY_BATCH_SIZE=per_worker, DELIVERY_RATE=200)
    processes.worker("w2", DELIVERY_BATCH_SIZE=per_worker, DELIVERY_RATE=200)
    with row_locks(app, last_rows) as locks:
        assert wait_until(lambda: sink.met_at(1), timeout=30), processes.logs()
        locks.take()
        blocked = wait_until(lambda: waiting_backends(app) >= 2, timeout=20)
    all_final = wait_until(lambda: open_rows(app, campaign_id) == 0, timeout=20, interval=0.25)
    marked = wait_for_status(app, campaign_id, "sent", timeout=10)
    result = tally(app, campaign_id, sink.snapshot(), everyone(2 * per_worker))
    processes.stop_all()

    line = report(
        capsys,
        app,
        "two workers finishing together",
        f"both waited on the locked rows={blocked}, marked sent by the workers={marked}; {result}",
    )
    assert blocked and all_final, f"{line}\n{processes.logs()}"
    assert result.claimed_by == {"w1": per_worker, "w2": per_worker}, line  # one batch each
    assert result.lost == 0 and result.duplicates == 0, line
    assert marked, (
        f"every row is final but the campaign is still {result.campaign_status!r}: {line}"
    )
