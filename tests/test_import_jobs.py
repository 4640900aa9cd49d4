"""Large CSV uploads import in the background: a job page with progress, a JSON poll, the same
report at the end, `flask contacts run-imports` and the scheduler job."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from outreach.contacts import import_jobs
from outreach.contacts.models import Contact, ImportJob
from outreach.core.database import utcnow
from outreach.delivery.scheduler import JOBS

DATA = Path(__file__).parent / "data"
MIXED = (DATA / "contacts_mixed.csv").read_bytes()  # 9 rows: 3 good, 6 rejected


@pytest.fixture
def background(app, monkeypatch):
    """Every upload of more than 2 rows goes to the background, imported 2 rows at a time."""
    monkeypatch.setitem(app.config, "IMPORT_BACKGROUND_ROWS", 2)
    monkeypatch.setattr(import_jobs, "JOB_CHUNK", 2)


def upload(client, content: bytes, filename: str = "contacts.csv", **flags):
    data = {"file": (io.BytesIO(content), filename)}
    data.update({flag: "y" for flag, on in flags.items() if on})
    return client.post("/contacts/import", data=data, content_type="multipart/form-data")


def contact_count(session) -> int:
    return session.scalar(select(func.count(Contact.id)))


def text(response) -> str:
    return response.get_data(as_text=True)


def run_imports(app) -> str:
    result = app.test_cli_runner().invoke(args=["contacts", "run-imports"])
    assert result.exit_code == 0, result.output
    return result.output


def test_large_upload_runs_in_the_background_and_ends_with_the_report(
    app, staff_client, db_session, background
):
    response = upload(staff_client, MIXED, "mixed.csv")
    assert response.status_code == 302
    job_url = response.headers["Location"]
    job_id = int(job_url.rsplit("/", 1)[1])
    assert contact_count(db_session) == 0

    page = text(staff_client.get(job_url))
    assert "Upload received: the import has been queued." in page
    assert "Upload received" not in text(staff_client.get(job_url))  # flashed once
    assert "Importing" in page and "mixed.csv" in page and "Waiting to start." in page
    assert '<progress id="import-progress"' in page and 'value="0"' in page
    assert f'data-import-progress-url="/contacts/import/jobs/{job_id}.json"' in page
    assert "import_progress.js" in page
    poll = staff_client.get(f"{job_url}.json").get_json()
    assert (poll["status"], poll["percent"], poll["finished"]) == ("queued", 0, False)

    assert run_imports(app).strip() == (
        f"import job {job_id} (mixed.csv): done "
        "created=3 updated=0 rejected=6 unchanged=0 suppressed=0"
    )
    poll = staff_client.get(f"{job_url}.json").get_json()
    assert (poll["status"], poll["rows_done"], poll["rows_total"]) == ("done", 9, 9)
    assert (poll["percent"], poll["finished"]) == (100, True)

    report = text(staff_client.get(job_url))
    assert "<h1" in report and "Import report" in report and "The import is saved." in report
    assert 'data-count="created">3<' in report and 'data-count="rejected">6<' in report
    assert (
        "<td>8</td><td>bad.country@example.org</td><td>unknown country &#39;Atlantis&#39;</td>"
    ) in report
    assert contact_count(db_session) == 3
    job = db_session.get(ImportJob, job_id)
    assert job.content is None  # the file is not kept once imported
    assert run_imports(app).strip() == "No import waiting."


def test_progress_is_committed_part_by_part(app, db_session, background, monkeypatch):
    job = import_jobs.create_job(db_session, MIXED, "mixed.csv")
    db_session.commit()
    seen = []
    real = import_jobs.import_contacts

    def watching(session, rows, **options):
        seen.append(session.scalar(select(ImportJob.rows_done).where(ImportJob.id == job.id)))
        return real(session, rows, **options)

    monkeypatch.setattr(import_jobs, "import_contacts", watching)
    import_jobs.run_imports(db_session)
    assert seen == [0, 2, 4, 6, 8]


def test_small_upload_stays_inline(staff_client, db_session, background, app):
    small = b"email,first_name\none@example.org,One\ntwo@example.org,Two\n"
    response = upload(staff_client, small)
    assert response.status_code == 200 and "Import report" in text(response)
    assert contact_count(db_session) == 2
    assert db_session.scalar(select(func.count(ImportJob.id))) == 0


def test_background_dry_run_and_strict_write_nothing(app, staff_client, db_session, background):
    dry = upload(staff_client, MIXED, dry_run=True)
    page = text(staff_client.get(dry.headers["Location"]))
    assert "as a dry run (nothing is saved)" in page
    strict = upload(staff_client, MIXED, strict=True)
    run_imports(app)
    assert contact_count(db_session) == 0

    dry_report = text(staff_client.get(dry.headers["Location"]))
    assert "Dry run: nothing was saved." in dry_report
    assert 'data-count="created">3<' in dry_report
    strict_report = text(staff_client.get(strict.headers["Location"]))
    assert "Strict mode: nothing was imported because 6 rows have errors" in strict_report
    assert 'data-count="created">0<' in strict_report


def test_a_file_broken_further_down_fails_with_a_reason(app, staff_client, db_session, background):
    content = b"email\na@example.org\nb@example.org\nc@example.org\n\xff\xfe@example.org\n"
    job_url = upload(staff_client, content, "broken.csv").headers["Location"]
    run_imports(app)
    page = text(staff_client.get(job_url))
    assert "The import failed:" in page and "Line 5" in page
    assert 'href="/contacts/import"' in page
    assert staff_client.get(f"{job_url}.json").get_json()["status"] == "failed"
    assert contact_count(db_session) == 0


def test_a_file_without_email_column_is_refused_at_upload(staff_client, db_session, background):
    response = upload(staff_client, b"name\na\nb\nc\nd\n")
    assert response.status_code == 400
    assert "no email column" in text(response)
    assert db_session.scalar(select(func.count(ImportJob.id))) == 0


def test_a_job_whose_process_died_is_taken_over(db_session):
    stale = import_jobs.create_job(db_session, MIXED, "stale.csv")
    busy = import_jobs.create_job(db_session, MIXED, "busy.csv")
    for job, age in ((stale, timedelta(minutes=30)), (busy, timedelta(minutes=1))):
        job.status, job.heartbeat_at = "running", utcnow() - age
    db_session.commit()
    claimed = import_jobs.claim_next(db_session)
    assert claimed.id == stale.id and claimed.status == "running"
    assert import_jobs.claim_next(db_session) is None


def test_the_scheduler_runs_imports(db_session, background):
    job = import_jobs.create_job(db_session, MIXED, "mixed.csv")
    db_session.commit()
    JOBS["contacts.imports"].func(db_session)
    db_session.expire_all()
    assert db_session.get(ImportJob, job.id).status == "done"
    assert contact_count(db_session) == 3


def test_job_pages_need_an_editor_and_answer_json_errors(viewer_client, staff_client, db_session):
    job = import_jobs.create_job(db_session, MIXED, "mixed.csv")
    db_session.commit()
    assert viewer_client.get(f"/contacts/import/jobs/{job.id}").status_code == 403
    missing = staff_client.get("/contacts/import/jobs/999.json")
    assert missing.status_code == 404 and missing.get_json()["error"]["message"]
    assert staff_client.get("/contacts/import/jobs/999").status_code == 404
