"""Scale-out on PostgreSQL: one campaign sent by 1, 2 and 4 worker processes, with failures.

A campaign to N recipients (default 100,000; the data and the message of bench/delivery.py) is
started by a real `flask scheduler` and sent by real `flask delivery worker` processes
(FLASK_CONFIG=production, no throttle) to a local SMTP sink: Postfix's `smtp-sink -v` (each
message's envelope sender `bounces+<outbox id>@...` is read from its log), or an aiosmtpd sink in
another process when smtp-sink is missing. One clean run per worker count, then a
run with failures at the largest count: the scheduler is killed (SIGKILL) once a quarter is sent
and restarted three seconds later, and one worker is killed (SIGKILL) half-way and not restarted:
its batch returns to the queue after the lease (DELIVERY_LEASE_SECONDS, 30 s here, so that run's
time includes up to 30 s of waiting) and is sent by the others.

Reported per run: messages, seconds (first row claimed to last row final), messages/s, lost (rows
of the campaign the sink never received, or not sent) and duplicates (extra copies received).
Goals: 0 lost; duplicates <= one batch per killed worker.

    python bench/scale.py [--recipients 100000] [--workers 1,2,4] [--batch-size 500]
                          [--sink auto|smtp-sink|aiosmtpd] [--no-failures]

Scratch database `bench_scale_<pid>` next to DATABASE_URL_TEST, dropped afterwards.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.delivery import (  # noqa: E402
    BODY_EN,
    BODY_FR,
    FLASK,
    SUBJECTS,
    Sink,
    free_port,
    generate_contacts,
    start_sink,
    stop_processes,
    worker_env,
)
from outreach import create_app  # noqa: E402
from outreach.calendar.loader import load_calendar  # noqa: E402
from outreach.calendar.models import UPRSession  # noqa: E402
from outreach.campaigns import lifecycle  # noqa: E402
from outreach.campaigns.models import Campaign, CampaignVariant  # noqa: E402
from outreach.delivery.models import OutboxMessage  # noqa: E402
from outreach.extensions import db  # noqa: E402
from outreach.segments.models import Segment  # noqa: E402

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DATABASE = f"bench_scale_{os.getpid()}"
LEASE_SECONDS = 30
ENVELOPE_ID = re.compile(rb"bounces\+(\d+)@")
RUN_TIMEOUT = 3600.0


# -- the sink


def received(sink: Sink) -> collections.Counter:
    """How many times each outbox id was received (smtp-sink: MAIL FROM seen)."""
    counts: collections.Counter = collections.Counter()
    with sink.log.open("rb") as lines:
        for line in lines:
            if sink.kind == "smtp-sink" and b"mail from:" not in line.lower():
                continue
            if (match := ENVELOPE_ID.search(line)) is not None:
                counts[int(match.group(1))] += 1
    return counts


# -- data


def scratch_database() -> tuple[str, object]:
    base = make_url(os.environ.get("DATABASE_URL_TEST") or PG_DEFAULT)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    return base.set(database=DATABASE).render_as_string(hide_password=False), admin


def populate(app, recipients: int) -> None:
    with app.app_context():
        db.create_all()
        load_calendar(db.session)
        db.session.commit()
        with db.engine.begin() as conn:
            generate_contacts(conn, recipients)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
        db.session.remove()


def schedule_campaign(app, label: str) -> int:
    """A campaign to everybody, scheduled for now: the scheduler process starts it."""
    with app.app_context():
        session = db.session
        upcoming = session.scalar(
            select(UPRSession)
            .where(UPRSession.wg_start >= date.today())
            .order_by(UPRSession.wg_start)
            .limit(1)
        ) or session.scalar(select(UPRSession).order_by(UPRSession.number.desc()).limit(1))
        campaign = Campaign(
            name=f"Scale {label}",
            topic="newsletter",
            sender_name="UPR Info",
            sender_email="news@example.org",
            default_language="en",
            session_id=upcoming.id,
            segments=[Segment(name=f"Everybody {label}", filters={})],
            variants=[
                CampaignVariant(language="en", subject=SUBJECTS["en"], body_markdown=BODY_EN),
                CampaignVariant(language="fr", subject=SUBJECTS["fr"], body_markdown=BODY_FR),
            ],
        )
        session.add(campaign)
        session.flush()
        lifecycle.send_now(session, campaign)
        session.commit()
        campaign_id = campaign.id
        session.remove()
    return campaign_id


# -- one run


@dataclass
class Run:
    workers: int
    messages: int = 0
    seconds: float = 0.0
    lost: int = 0
    duplicates: int = 0
    killed_batch: int = 0
    events: list[str] = field(default_factory=list)
    per_worker: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def spawn(command: list[str], env: dict, logs: contextlib.ExitStack) -> subprocess.Popen:
    output = logs.enter_context(tempfile.TemporaryFile())  # noqa: SIM115  (closed by `logs`)
    return subprocess.Popen(
        [str(FLASK), "--app", "wsgi", *command],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )


def run(app, url: str, workers: int, chaos: bool, args, audience: int) -> Run:
    result = Run(workers)
    label = f"{workers}w{'-chaos' if chaos else ''}"
    campaign_id = schedule_campaign(app, label)
    env = worker_env(url, 0, args.batch_size)
    env.update(DELIVERY_LEASE_SECONDS=str(LEASE_SECONDS), DELIVERY_SCHEDULER_SECONDS="2")
    engine = create_engine(url)
    of_campaign = OutboxMessage.campaign_id == campaign_id
    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as logs:
        sink = start_sink(args.sink, free_port(), Path(scratch) / "sink.log")
        env["MAIL_PORT"] = str(sink.port)
        processes: list[subprocess.Popen] = []
        try:
            scheduler = spawn(["scheduler", "--name", "s1"], env, logs)
            processes.append(scheduler)
            named = {}
            for number in range(1, workers + 1):
                named[f"w{number}"] = spawn(
                    ["delivery", "worker", "--name", f"w{number}"], env, logs
                )
                processes.append(named[f"w{number}"])
            started = finished = None
            scheduler_killed_at = None
            worker_killed = False
            deadline = time.monotonic() + RUN_TIMEOUT
            while finished is None:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{label}: not finished after {RUN_TIMEOUT:.0f} s")
                time.sleep(0.2)
                with engine.connect() as conn:
                    counts = dict(
                        conn.execute(
                            select(OutboxMessage.status, func.count())
                            .where(of_campaign)
                            .group_by(OutboxMessage.status)
                        ).all()
                    )
                    status = conn.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
                    sent = counts.get("sent", 0)
                    if started is None and sum(counts.values()) - counts.get("queued", 0):
                        started = time.perf_counter()
                    if started and status == "sent" and sum(counts.values()) >= audience:
                        finished = time.perf_counter()
                    if not chaos:
                        continue
                    if scheduler_killed_at is None and sent >= audience // 4:
                        scheduler.kill()
                        scheduler_killed_at = time.monotonic()
                        result.events.append(f"scheduler killed at {sent:,} sent")
                    elif (
                        scheduler_killed_at is not None
                        and scheduler.poll() is not None
                        and scheduler is processes[0]
                        and time.monotonic() - scheduler_killed_at >= 3
                    ):
                        scheduler = spawn(["scheduler", "--name", "s2"], env, logs)
                        processes[0] = scheduler
                        result.events.append(f"scheduler restarted at {sent:,} sent")
                    if not worker_killed and sent >= audience // 2:
                        victim = f"w{workers}"
                        result.killed_batch = conn.scalar(
                            select(func.count()).where(
                                of_campaign,
                                OutboxMessage.claimed_by == victim,
                                OutboxMessage.status == "sending",
                            )
                        )
                        named[victim].kill()
                        worker_killed = True
                        result.events.append(
                            f"worker {victim} killed at {sent:,} sent, "
                            f"holding {result.killed_batch} rows"
                        )
                for name, process in named.items():
                    if process.poll() is not None and not (chaos and name == f"w{workers}"):
                        raise SystemExit(f"{label}: worker {name} exited on its own")
            result.seconds = finished - started
        finally:
            stop_processes([*processes, sink.process])
        copies = received(sink)
    with engine.connect() as conn:
        rows = conn.execute(
            select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.claimed_by).where(
                of_campaign
            )
        ).all()
    engine.dispose()
    result.messages = sum(1 for row in rows if row.status == "sent")
    result.lost = sum(1 for row in rows if row.status != "sent" or copies[row.id] == 0)
    result.lost += audience - len(rows)
    result.duplicates = sum(max(0, copies[row.id] - 1) for row in rows)
    result.per_worker = dict(
        sorted(collections.Counter(row.claimed_by for row in rows if row.status == "sent").items())
    )
    return result


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--sink", choices=("auto", "smtp-sink", "aiosmtpd"), default="auto")
    parser.add_argument("--no-failures", action="store_true", help="skip the run with kills")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    url, admin = scratch_database()
    print(
        f"bench/scale.py: {args.recipients:,} recipients, workers {counts}, batch "
        f"{args.batch_size}, {os.cpu_count()} CPUs, load average {load()}, database {DATABASE}"
    )
    runs: list[Run] = []
    try:
        app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
        started = time.perf_counter()
        populate(app, args.recipients)
        print(f"  contacts inserted in {time.perf_counter() - started:.0f} s")
        plan = [(workers, False) for workers in counts]
        if not args.no_failures:
            plan.append((max(counts), True))
        for workers, chaos in plan:
            outcome = run(app, url, workers, chaos, args, args.recipients)
            runs.append(outcome)
            print(
                f"  {workers} worker(s){' with failures' if chaos else ''}: "
                f"{outcome.messages:,} sent in {outcome.seconds:.1f} s = {outcome.rate:.0f}/s; "
                f"lost {outcome.lost}, duplicates {outcome.duplicates}; load {load()}"
            )
            for event in outcome.events:
                print(f"    {event}")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        admin.dispose()
    print(
        f"{'workers':>7} {'messages':>9} {'seconds':>8} {'msg/s':>7} {'vs 1':>5} "
        f"{'lost':>5} {'dup':>5}  per worker"
    )
    base = runs[0].rate if runs else 0
    ok = True
    for outcome in runs:
        ratio = f"{outcome.rate / base:.2f}" if base else "-"
        shares = " ".join(f"{name}={count}" for name, count in outcome.per_worker.items())
        name = f"{outcome.workers}{' + failures' if outcome.events else ''}"
        print(
            f"{name:>16} {outcome.messages:>9,} {outcome.seconds:>8.1f} "
            f"{outcome.rate:>7.0f} {ratio:>5} {outcome.lost:>5} {outcome.duplicates:>5}  {shares}"
        )
        allowed = args.batch_size if outcome.events else 0
        ok = ok and outcome.lost == 0 and outcome.duplicates <= allowed
    print(
        "goal: 0 lost, duplicates <= one batch per killed worker: " + ("met" if ok else "NOT met")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
