"""Background CSV imports: a job per large upload, run by the scheduler or `flask contacts
run-imports`, with its progress committed as it goes.

A job is claimed with a conditional UPDATE (one winner), then imported in parts of JOB_CHUNK rows
by the same engine as an inline import (`import_contacts` on a `RowBatch`). Like the outbox, these
functions are units of work: each part commits its contacts together with the job's `rows_done`
and report, so a job whose process died (no heartbeat for STALE_AFTER) is taken over and resumes
after the last committed part. A strict job first checks every row and writes nothing if one is
bad; a dry run rolls each part back and keeps only the counts. An email repeated in two parts
counts as created then updated (an inline import counts it once).
"""

from __future__ import annotations

import io
import logging
from datetime import datetime, timedelta
from itertools import islice

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from outreach.contacts.csv_io import ContactCsvReader, CsvFileError
from outreach.contacts.importer import (
    ImportReport,
    RejectedRow,
    RowBatch,
    import_contacts,
    parse_row,
)
from outreach.contacts.models import ImportJob
from outreach.core.database import utcnow
from outreach.delivery.scheduler import register_job

log = logging.getLogger(__name__)

JOB_CHUNK = 1000
STALE_AFTER = timedelta(minutes=10)


def estimate_rows(data: bytes) -> int:
    """Data lines in an uploaded file (quoted line breaks count extra); checks the header first,
    raising `CsvFileError` for a file that cannot be imported at all."""
    ContactCsvReader(io.BytesIO(data)).close()
    return max(0, data.rstrip(b"\r\n").count(b"\n"))


def goes_to_background(data: bytes) -> bool:
    return estimate_rows(data) > current_app.config["IMPORT_BACKGROUND_ROWS"]


def create_job(
    session: Session,
    data: bytes,
    filename: str,
    *,
    dry_run: bool = False,
    strict: bool = False,
    user_id: int | None = None,
) -> ImportJob:
    job = ImportJob(
        filename=filename[:255],
        content=data,
        dry_run=dry_run,
        strict=strict,
        created_by_id=user_id,
    )
    session.add(job)
    session.flush()
    return job


def claim_next(session: Session, now: datetime | None = None) -> ImportJob | None:
    """Take the oldest queued job, or a running one whose process went silent; commits."""
    now = now or utcnow()
    waiting = or_(
        ImportJob.status == "queued",
        (ImportJob.status == "running") & (ImportJob.heartbeat_at < now - STALE_AFTER),
    )
    for job_id in session.scalars(select(ImportJob.id).where(waiting).order_by(ImportJob.id)):
        claimed = session.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, waiting)
            .values(status="running", heartbeat_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.commit()
        if claimed:
            job = session.get(ImportJob, job_id)
            session.refresh(job)
            if job.started_at is None:
                job.started_at = now
                session.commit()
            return job
    return None


def _rows(job: ImportJob) -> ContactCsvReader:
    return ContactCsvReader(io.BytesIO(job.content or b""))


def _strict_rejections(job: ImportJob) -> list[RejectedRow]:
    with _rows(job) as reader:
        return [parsed for parsed in map(parse_row, reader) if isinstance(parsed, RejectedRow)]


def _finish(
    session: Session,
    job: ImportJob,
    status: str,
    report: ImportReport | None = None,
    error: str = "",
) -> None:
    job.status = status
    job.error = error
    if report is not None:
        job.report = report.as_record()
    job.finished_at = job.heartbeat_at = utcnow()
    job.content = None
    session.commit()


def run_job(session: Session, job: ImportJob) -> ImportJob:
    """Import a claimed job's file part by part, committing each part with the progress."""
    job_id = job.id
    try:
        _run(session, job)
    except CsvFileError as exc:
        session.rollback()
        job = session.get(ImportJob, job_id)
        saved = job.rows_done and not job.dry_run
        note = f" The rows before it ({job.rows_done}) were imported." if saved else ""
        _finish(session, job, "failed", error=f"{exc}{note}")
    except Exception:
        session.rollback()
        log.exception("import job %s failed", job_id)
        job = session.get(ImportJob, job_id)
        _finish(
            session,
            job,
            "failed",
            error=f"The import stopped on an unexpected error after {job.rows_done} rows. "
            "Check the file, then import it again: rows already imported are matched by email.",
        )
    return job


def _run(session: Session, job: ImportJob) -> None:
    if job.report:
        report = ImportReport.from_record(job.report)
    else:
        report = ImportReport(dry_run=job.dry_run, strict=job.strict)
    if job.rows_total is None:
        with _rows(job) as reader:
            job.rows_total = sum(1 for _ in reader)
            report.ignored_columns = list(reader.ignored)
        job.report = report.as_record()
        session.commit()
    if job.strict and job.rows_done == 0:
        rejected = _strict_rejections(job)
        if rejected:
            report.rejected = rejected
            _finish(session, job, "done", report)
            return
    with _rows(job) as reader:
        rows = islice(reader, job.rows_done, None)
        while batch := list(islice(rows, JOB_CHUNK)):
            part = import_contacts(
                session,
                RowBatch(batch, reader.ignored),
                dry_run=job.dry_run,
                staff_user_id=job.created_by_id,
            )
            if job.dry_run:
                session.rollback()
            report.add(part)
            job.rows_done += len(batch)
            job.report = report.as_record()
            job.heartbeat_at = utcnow()
            session.commit()
    _finish(session, job, "done", report)


def run_imports(session: Session) -> list[ImportJob]:
    """Run every waiting job, oldest first; returns them finished."""
    done = []
    while (job := claim_next(session)) is not None:
        done.append(run_job(session, job))
    return done


register_job("contacts.imports", run_imports, seconds=5)
