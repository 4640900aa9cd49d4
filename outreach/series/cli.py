"""`flask series draft [--now ISO]`: draft the due editions of every series (what the scheduler's
"series" job does every five minutes), for cron or by hand."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from outreach.alerts.digest_cli import parse_now
from outreach.core.timezones import local_to_utc
from outreach.extensions import db
from outreach.series.services import draft_due_editions

series_cli = AppGroup("series", help="Recurring newsletter series.")


@series_cli.command("draft")
@click.option(
    "--now",
    callback=parse_now,
    metavar="ISO",
    help="Run as if it were this moment (without an offset: Geneva time).",
)
def draft_command(now: datetime | None) -> None:
    """Draft the editions whose time has come; editions already drafted are left alone."""
    report = draft_due_editions(db.session, local_to_utc(now) if now else None)
    db.session.commit()
    click.echo(report.summary())
