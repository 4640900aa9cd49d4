"""The CSV upload page: the same engine as `flask contacts import`."""

from __future__ import annotations

import io

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import BooleanField

from outreach.auth.decorators import editor_required, require_login
from outreach.contacts import import_jobs
from outreach.contacts.csv_io import COLUMNS, CsvFileError
from outreach.contacts.importer import ImportReport, import_contacts
from outreach.contacts.models import ImportJob
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
    data = upload_file.read()
    try:
        if import_jobs.goes_to_background(data):
            job = import_jobs.create_job(
                db.session,
                data,
                upload_file.filename or "",
                dry_run=form.dry_run.data,
                strict=form.strict.data,
                user_id=current_user.id,
            )
            db.session.commit()
            flash("Upload received: the import has been queued.", "info")
            return redirect(url_for("imports.job", job_id=job.id))
        report = import_contacts(
            db.session,
            io.BytesIO(data),
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
    return _report_page(report, upload_file.filename)


def _report_page(report: ImportReport, filename: str | None):
    return render_template(
        "imports/report.html",
        report=report,
        filename=filename,
        rejected=report.rejected[:REJECTED_SHOWN],
        suppressed=report.suppressed[:REJECTED_SHOWN],
    )


def _job_or_404(job_id: int) -> ImportJob:
    job = db.session.get(ImportJob, job_id)
    if job is None:
        abort(404, "No such import.")
    return job


@bp.get("/contacts/import/jobs/<int:job_id>")
@editor_required
def job(job_id: int):
    """A background import: its progress while it runs, then its report."""
    import_job = _job_or_404(job_id)
    if import_job.status == "done":
        return _report_page(ImportReport.from_record(import_job.report or {}), import_job.filename)
    return render_template("imports/job.html", job=import_job)


@bp.get("/contacts/import/jobs/<int:job_id>.json")
@editor_required
def job_json(job_id: int):
    import_job = db.session.get(ImportJob, job_id)
    if import_job is None:
        body = {"error": {"code": "not_found", "message": "No such import.", "fields": {}}}
        return jsonify(body), 404
    response = jsonify(
        {
            "id": import_job.id,
            "status": import_job.status,
            "rows_done": import_job.rows_done,
            "rows_total": import_job.rows_total,
            "percent": import_job.percent,
            "finished": import_job.finished,
            "error": import_job.error,
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_exc):
    message = (
        f"The file is larger than the {_max_upload()} upload limit. Split it into smaller files, "
        'or ask an operator to run "flask contacts import" on the server.'
    )
    return _render_form(ImportForm(formdata=None), 413, error=message)
