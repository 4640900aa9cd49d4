"""`flask delivery worker | send-due | status` and `flask scheduler`."""

from __future__ import annotations

import logging
import signal

import click
from flask import current_app
from flask.cli import AppGroup

from outreach.core.timezones import to_local
from outreach.delivery.outbox import requeue_stale
from outreach.delivery.scheduler import (
    Scheduler,
    finish_campaigns,
    resume_enqueueing,
    start_due_campaigns,
)
from outreach.delivery.status import delivery_status
from outreach.delivery.worker import run_worker
from outreach.extensions import db
from outreach.ops.metrics import serve as serve_metrics

delivery_cli = AppGroup("delivery", help="Send campaigns: workers, cron sending, queue status.")


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per job run is noise


def _export_metrics(port: int | None) -> None:
    """Serve this process's Prometheus metrics on `port` (default METRICS_PORT; 0: not served)."""
    port = current_app.config["METRICS_PORT"] if port is None else port
    if port:
        serve_metrics(port, current_app.config["METRICS_ADDRESS"])
        logging.getLogger(__name__).info("metrics on port %d", port)


metrics_port_option = click.option(
    "--metrics-port", type=click.IntRange(0, 65535), help="Serve Prometheus metrics on this port."
)


@delivery_cli.command("worker")
@click.option("--name", help="Name shown in `flask delivery status` (default: host-pid).")
@click.option("--batch-size", type=click.IntRange(1, 10_000), help="Rows claimed at a time.")
@metrics_port_option
def worker_command(name: str | None, batch_size: int | None, metrics_port: int | None) -> None:
    """Send queued messages until stopped (SIGTERM/Ctrl-C finish the current message)."""
    _logging()
    _export_metrics(metrics_port)
    app = current_app._get_current_object()
    run_worker(app, name, batch_size=batch_size, handle_signals=True)


@delivery_cli.command("send-due")
@click.option("--batch-size", type=click.IntRange(1, 10_000), help="Rows claimed at a time.")
def send_due_command(batch_size: int | None) -> None:
    """Start due campaigns, send everything due, and exit (for cron, or without a scheduler)."""
    app = current_app._get_current_object()
    session = db.session
    started = start_due_campaigns(session)
    resume_enqueueing(session)
    requeue_stale(session, app.config["DELIVERY_LEASE_SECONDS"])
    session.remove()
    stats = run_worker(app, None, once=True, batch_size=batch_size, handle_signals=True)
    finished = finish_campaigns(db.session)
    click.echo(
        f"started={len(started)} {stats.summary()} "
        f"finished={len(stats.finished_campaigns) + len(finished)}"
        + (f" paused={len(stats.paused_campaigns)}" if stats.paused_campaigns else "")
    )
    if stats.server_unavailable:
        raise SystemExit(1)


@delivery_cli.command("status")
def status_command() -> None:
    """Queue depth per campaign, workers and schedulers seen recently, recent send rate."""
    report = delivery_status(db.session)
    if report.queues:
        click.echo(f"{'campaign':<40} {'status':<10} queued sending   sent failed skipped")
        for line in report.queues:
            c = line.counts
            label = f"#{line.campaign_id} {line.label}" if line.campaign_id else line.label
            click.echo(
                f"{label[:40]:<40} {line.campaign_status:<10} {c['queued']:>6} {c['sending']:>7}"
                f" {c['sent']:>6} {c['failed']:>6} {c['skipped']:>7}"
            )
    else:
        click.echo("No campaign is sending and the queue is empty.")
    click.echo(f"due now: {report.due_now}")
    click.echo(f"sent in the last 5 minutes: {report.sent_recently} ({report.rate:.1f} messages/s)")
    if not report.processes:
        click.echo("No worker or scheduler seen in the last 5 minutes.")
    for process in report.processes:
        click.echo(
            f"{process.role:<9} {process.name:<40} seen {to_local(process.seen_at):%H:%M:%S}"
            f" (Geneva) sent={process.sent_total} {process.note}"
        )


@click.command("scheduler")
@click.option("--name", help="Name shown in `flask delivery status`.")
@click.option("--once", is_flag=True, help="Run every job once (if elected) and exit.")
@metrics_port_option
def scheduler_command(name: str | None, once: bool, metrics_port: int | None) -> None:
    """Run the scheduler: due campaigns, crash recovery, finishing; one leader at a time."""
    _logging()
    if not once:
        _export_metrics(metrics_port)
    scheduler = Scheduler(current_app._get_current_object(), name)
    if once:
        ran = scheduler.run_once()
        click.echo("ran: " + (", ".join(ran) if ran else "nothing (another scheduler leads)"))
        return
    previous = {
        sig: signal.signal(sig, lambda *_: scheduler.shutdown())
        for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        scheduler.start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
