"""`flask alerts digest [--now ISO] [--dry-run]`: queue this week's digests (what the scheduler's
"digests" job does every 15 minutes), for cron or by hand."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext

from outreach.alerts.digests import run_digests
from outreach.core.timezones import to_local
from outreach.extensions import db


def parse_now(_ctx, _param, value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date and time, e.g. 2026-11-23T08:00 (Geneva time) "
            "or 2026-11-23T07:00+00:00"
        ) from None


@click.command("digest")
@click.option(
    "--now",
    callback=parse_now,
    metavar="ISO",
    help="Run as if it were this moment (without an offset: Geneva time).",
)
@click.option("--dry-run", is_flag=True, help="Count what would be queued; write nothing.")
@with_appcontext
def digest_command(now: datetime | None, dry_run: bool) -> None:
    """Queue the weekly digests once this week's digest time (DIGEST_WEEKDAY at DIGEST_TIME,
    Geneva) has passed; subscribers who already have this week's digest are left alone."""
    try:
        report = run_digests(db.session, now, dry_run=dry_run)
    except ValueError as exc:  # DIGEST_WEEKDAY or DIGEST_TIME not understood
        raise click.ClickException(str(exc)) from None
    click.echo(report.summary())
    if not report.due:
        moment = to_local(report.moment)
        click.echo(
            f"Not due yet: the digest of {report.period} goes out from "
            f"{moment:%A %d %B %Y, %H:%M} Geneva time."
        )
    elif dry_run:
        click.echo(f"Dry run for {report.period}: nothing was written.")
