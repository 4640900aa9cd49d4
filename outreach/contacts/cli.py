"""`flask contacts import` and `flask contacts export`."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup

from outreach.contacts.csv_io import CsvFileError, write_contacts_csv
from outreach.contacts.importer import ImportReport, import_contacts
from outreach.contacts.queries import SORTS, ContactFilter
from outreach.contacts.validation import FieldError
from outreach.extensions import db

contacts_cli = AppGroup("contacts", help="Import and export contacts.")


def print_report(report: ImportReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    click.echo(report.summary_line())
    for row in report.rejected:
        click.echo(f"line {row.line}: {row.email or '(no email)'}: {row.reason}")
    for row in report.suppressed:
        click.echo(f"line {row.line}: {row.email}: suppressed ({row.reason})")


@contacts_cli.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--dry-run", is_flag=True, help="Check and count, but write nothing.")
@click.option("--strict", is_flag=True, help="Import nothing if any row is bad (exit status 1).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def import_command(file, dry_run: bool, strict: bool, as_json: bool) -> None:
    """Create or update contacts from a CSV FILE ("-" reads standard input).

    UTF-8 (with or without BOM), comma- or semicolon-separated, with a header line naming the
    columns: email (required), first_name, last_name, organisation, type, role_title, language,
    country, countries, topics, status, notes, ecosoc_status, ganhri_accreditation.
    Rows are matched by email; empty cells leave stored values alone. Rows whose address is on
    the suppression list are reported as suppressed and change nothing.
    """
    try:
        report = import_contacts(db.session, file, dry_run=dry_run, strict=strict)
    except CsvFileError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    if report.applied:
        db.session.commit()
    else:
        db.session.rollback()
    print_report(report, as_json)
    if dry_run:
        click.echo("Dry run: nothing was written.", err=True)
    if report.failed_strict:
        click.echo(
            f"Strict mode: nothing was imported because {len(report.rejected)} row(s) are bad.",
            err=True,
        )
        sys.exit(1)


def _many(values: tuple[str, ...]) -> list[str]:
    """Repeated options and comma-separated lists are both accepted."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@contacts_cli.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, allow_dash=True),
                default="-")
@click.option("--type", "types", multiple=True, help="Contact type (repeatable).")
@click.option("--country", "countries", multiple=True, help="Country name or code (repeatable).")
@click.option("--session", "session_number", type=int, help="Works on a State under review in "
              "this UPR session.")
@click.option("--language", "languages", multiple=True, help="en, fr or es (repeatable).")
@click.option("--topic", "topics", multiple=True, help="Topic (repeatable).")
@click.option("--status", "statuses", multiple=True, help="active, inactive or blocklisted.")
@click.option("--sort", type=click.Choice(sorted(SORTS) + [f"-{key}" for key in sorted(SORTS)]),
              default="email", show_default=True, help="Order of the rows ('-' for descending).")
def export_command(file, types, countries, session_number, languages, topics, statuses,
                   sort) -> None:
    """Write contacts as CSV to FILE (default: standard output), in the columns import reads."""
    try:
        contact_filter = ContactFilter.from_dict({
            "types": _many(types),
            "countries": _many(countries),
            "session_under_review": session_number,
            "languages": _many(languages),
            "topics": _many(topics),
            "statuses": _many(statuses),
        })
    except FieldError as exc:
        raise click.BadParameter(str(exc)) from None
    if file == "-":
        write_contacts_csv(db.session, contact_filter, sort, sys.stdout)
        return
    with open(file, "w", encoding="utf-8", newline="") as out:
        count = write_contacts_csv(db.session, contact_filter, sort, out)
    click.echo(f"Exported {count} contact(s) to {file}.", err=True)


@contacts_cli.command("run-imports")
def run_imports_command() -> None:
    """Run the CSV imports uploaded for the background (the scheduler runs them too)."""
    from outreach.contacts.import_jobs import run_imports

    jobs = run_imports(db.session)
    for job in jobs:
        if job.status == "failed":
            click.echo(f"import job {job.id} ({job.filename}): failed: {job.error}")
            continue
        report = ImportReport.from_record(job.report or {})
        click.echo(f"import job {job.id} ({job.filename}): {job.status} {report.summary_line()}")
    if not jobs:
        click.echo("No import waiting.")
