"""`flask delivery process-bounces`: read the bounce mailbox once and act on what it holds."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from outreach.delivery.bounces.services import (
    Tally,
    finish_run,
    process_message,
    record_progress,
    start_run,
)
from outreach.delivery.bounces.sources import (
    ImapSource,
    MaildirSource,
    SourceError,
    batches,
)
from outreach.extensions import db

BATCH = 100


def process_sources(sources: Iterable, *, dry_run: bool = False) -> Tally:
    """Process every unprocessed message of `sources` (also usable from a scheduler job).

    Commits after each batch of BATCH messages, then marks that batch processed at the source,
    so a crash loses nothing and re-reads at most one batch (which the duplicate check absorbs).
    A dry run commits and marks nothing. Raises SourceError when a mailbox cannot be read.
    A real run keeps a `BounceRun` row whose counts are committed with each batch.
    """
    tally = Tally()
    sources = list(sources)
    run = None if dry_run else start_run(db.session, [source.name for source in sources])
    try:
        for source in sources:
            with source:
                for batch in batches(source.items(), BATCH):
                    for item in batch:
                        process_message(db.session, item.data, source=source.name, tally=tally)
                    if not dry_run:
                        record_progress(run, tally)
                        db.session.commit()
                        source.mark_processed(batch)
    except SourceError as exc:
        db.session.rollback()
        if run is not None:
            finish_run(db.session, run, tally, error=str(exc))
        if tally.processed:
            exc.args = (f"{exc} (committed before the error: {tally.line()})",)
        raise
    except Exception:
        db.session.rollback()
        if run is not None:
            finish_run(db.session, run, tally, error="Stopped on an unexpected error.")
        raise
    finally:
        if dry_run:
            db.session.rollback()
    if run is not None:
        finish_run(db.session, run, tally)
    return tally


@click.command("process-bounces")
@click.option(
    "--maildir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Maildir folder to read (default: BOUNCE_MAILDIR).",
)
@click.option("--imap", is_flag=True, help="Read the IMAP mailbox set by BOUNCE_IMAP_*.")
@click.option(
    "--dry-run", is_flag=True, help="Parse, match and count, but change nothing anywhere."
)
@with_appcontext
def process_bounces_command(maildir: Path | None, imap: bool, dry_run: bool) -> None:
    """Read delivery status notifications and complaints, record them, suppress addresses.

    Prints processed=N hard=H soft=S complaints=C unknown=U suppressed=X ignored=I.
    Processed messages are moved to the Maildir's ".Processed" folder, or flagged \\Seen by IMAP.
    """
    config = current_app.config
    path = maildir or (None if imap else config.get("BOUNCE_MAILDIR"))
    if not (path or imap):
        raise click.UsageError("Give --maildir PATH or --imap, or set BOUNCE_MAILDIR.")
    try:
        sources = ([MaildirSource(path)] if path else []) + (
            [ImapSource.from_config(config)] if imap else []
        )
        tally = process_sources(sources, dry_run=dry_run)
    except SourceError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(tally.line())
    if dry_run:
        click.echo("Dry run: nothing was recorded, suppressed or marked as processed.")
