"""`flask calendar ...`: operator commands for the UPR calendar."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from outreach.calendar.loader import CalendarDataError, load_calendar
from outreach.extensions import db

calendar_cli = AppGroup("calendar", help="UPR calendar: sessions, States under review, key dates.")


@calendar_cli.command("load")
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def load_command(file: Path | None) -> None:
    """Load the UPR calendar from FILE (default: the shipped data file); safe to repeat.

    Staff-entered dates are kept; missing dates are derived from the usual timing.
    """
    try:
        report = load_calendar(db.session, file)
    except CalendarDataError as error:
        db.session.rollback()
        click.echo(f"calendar: {error.message}", err=True)
        raise SystemExit(1) from None
    db.session.commit()
    click.echo(report.summary())
