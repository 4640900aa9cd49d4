"""`flask alerts run`, and the scheduler's hourly "alerts" job.

Both queue the alerts due today (Geneva) or earlier; the worker sends them. Running more often
than daily is harmless: what was queued once is recorded and never queued again.
"""

from __future__ import annotations

import logging

import click
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from outreach.alerts.services import ensure_default_rules, run_alerts
from outreach.delivery.scheduler import register_job
from outreach.extensions import db

log = logging.getLogger(__name__)

alerts_cli = AppGroup("alerts", help="Deadline alerts and weekly digests.")

ALERTS_JOB_SECONDS = 3600


# --- Deadline alerts ------------------------------------------------------------------------------


@alerts_cli.command("run")
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Run for this Geneva day (YYYY-MM-DD) instead of today.",
)
@click.option("--dry-run", is_flag=True, help="Count what would be queued; write nothing.")
def run_command(day, dry_run: bool) -> None:
    """Queue today's deadline alerts: one email per recipient listing all their due deadlines.

    Alerts missed on earlier days are caught up, except for deadlines already past."""
    session = db.session
    ensure_default_rules(session)
    report = run_alerts(session, day.date() if day else None, dry_run=dry_run)
    if not dry_run:
        session.commit()
    click.echo(report.summary())


def run_alerts_job(session: Session) -> None:
    """The scheduler's job: idempotent, so each run queues only what is newly due."""
    if ensure_default_rules(session):
        session.commit()
    report = run_alerts(session)
    if report.recipients or report.skipped_past:
        log.info(report.summary())


register_job("alerts", run_alerts_job, seconds=ALERTS_JOB_SECONDS)
