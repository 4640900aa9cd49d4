"""The CSV upload page: the same engine as `flask contacts import`."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import BooleanField

from outreach.auth.decorators import editor_required, require_login
from outreach.contacts.csv_io import COLUMNS, CsvFileError
from outreach.contacts.importer import import_contacts
from outreach.extensions import db

bp = Blueprint("imports", __name__)
bp.before_request(require_login)

REJECTED_SHOWN = 1000


class ImportForm(FlaskForm):
    file = FileField(
        "CSV file",
        render_kw={"accept": ".csv,text/csv"},
        validators=[
            FileRequired("Choose a CSV file to import."),
            FileAllowed(["csv", "txt"], "Choose a .csv file (a spreadsheet saved as CSV UTF-8)."),
        ],
    )
    dry_run = BooleanField("Dry run: check the file and show what would change, saving nothing")
    strict = BooleanField("Strict: import nothing if any row has an error")


def _max_upload() -> str:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if not limit:
        return ""
    return f"{limit / 1024 / 1024:.0f} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"


def _render_form(form: ImportForm, status: int = 200, error: str | None = None):
    return render_template(
        "imports/upload.html", form=form, columns=COLUMNS, max_upload=_max_upload(), error=error
    ), status


@bp.route("/contacts/import", methods=["GET", "POST"])
@editor_required
def upload():
    form = ImportForm()
    if not form.validate_on_submit():
        return _render_form(form, 400 if form.is_submitted() else 200)
    upload_file = form.file.data
    try:
        report = import_contacts(
            db.session,
            upload_file.stream,
            dry_run=form.dry_run.data,
            strict=form.strict.data,
            staff_user_id=current_user.id,
        )
    except CsvFileError as exc:
        db.session.rollback()
        form.file.errors.append(str(exc))
        return _render_form(form, 400)
    if report.applied:
        db.session.commit()
    else:
        db.session.rollback()
    return render_template(
        "imports/report.html",
        report=report,
        filename=upload_file.filename,
        rejected=report.rejected[:REJECTED_SHOWN],
        suppressed=report.suppressed[:REJECTED_SHOWN],
    )


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_exc):
    message = (
        f"The file is larger than the {_max_upload()} upload limit. Split it into smaller files, "
        "or ask an operator to run \"flask contacts import\" on the server."
    )
    return _render_form(ImportForm(formdata=None), 413, error=message)
