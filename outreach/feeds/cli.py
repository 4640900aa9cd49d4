"""`flask feeds poll [--all]`: fetch the due news feed sources (or every active one).

Exits with status 1 when every source polled failed, so cron can tell a dead network apart."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from outreach.extensions import db
from outreach.feeds.services import poll_due

feeds_cli = AppGroup("feeds", help="News feed sources.")


@feeds_cli.command("poll")
@click.option("--all", "include_all", is_flag=True, help="Poll every active source, due or not.")
def poll_command(include_all: bool) -> None:
    """Fetch the sources that are due and store their new items."""
    report = poll_due(db.session, include_all=include_all)
    db.session.commit()
    click.echo(report.summary())
    if report.polled and report.failed == report.polled:
        raise SystemExit(1)
