"""Bounce processing progress: each real run of `flask delivery process-bounces` keeps a record
with its counts, committed batch by batch, and the bounces page shows the latest runs."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from outreach.delivery.bounces import cli as bounces_cli
from outreach.delivery.bounces.sources import MaildirSource
from outreach.delivery.models import BounceRun
from tests.test_bounces import ALL_SAMPLES, DOMAIN, make_maildir, sample_rows


@pytest.fixture
def domain(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_DOMAIN", DOMAIN)


def runs(session) -> list[BounceRun]:
    session.expire_all()
    return list(session.scalars(select(BounceRun).order_by(BounceRun.id)))


def process(app, *args):
    return app.test_cli_runner().invoke(args=["delivery", "process-bounces", *args])


def test_a_run_is_recorded_with_its_counts_and_shown(
    app, db_session, domain, tmp_path, staff_client, monkeypatch
):
    sample_rows(db_session)
    db_session.commit()
    maildir = make_maildir(tmp_path, ALL_SAMPLES)
    seen = []
    real = bounces_cli.record_progress

    def watching(run, tally):
        real(run, tally)
        seen.append(run.messages_done)

    monkeypatch.setattr(bounces_cli, "BATCH", 4)
    monkeypatch.setattr(bounces_cli, "record_progress", watching)
    result = process(app, "--maildir", str(maildir))
    assert result.exit_code == 0, result.output
    assert seen == [4, 8, 11]

    (run,) = runs(db_session)
    assert (run.status, run.sources, run.messages_done) == ("done", "maildir", 11)
    assert run.counts == {
        "processed": 11,
        "hard": 4,
        "soft": 4,
        "complaints": 1,
        "unknown": 1,
        "suppressed": 5,
        "ignored": 1,
    }
    assert run.finished_at is not None

    page = staff_client.get("/bounces").get_data(as_text=True)
    assert "Latest mailbox runs" in page and '<tr data-run-status="done">' in page
    row = page[page.index('<tr data-run-status="done">') :].split("</tr>")[0]
    row = "".join(line.strip() for line in row.splitlines())
    assert "<td>11</td><td>4</td><td>4</td><td>1</td><td>1</td><td>5</td><td>1</td>" in row


def test_a_failed_run_says_why_and_a_dry_run_leaves_no_record(
    app, db_session, tmp_path, staff_client
):
    maildir = make_maildir(tmp_path, ALL_SAMPLES[:1])
    with MaildirSource(maildir):  # another process holds the mailbox
        assert process(app, "--maildir", str(maildir)).exit_code == 1
    (run,) = runs(db_session)
    assert run.status == "failed" and "Another process is reading bounces" in run.error
    page = staff_client.get("/bounces").get_data(as_text=True)
    assert '<tr data-run-status="failed">' in page and "Another process is reading" in page

    assert process(app, "--maildir", str(maildir), "--dry-run").exit_code == 0
    assert db_session.scalar(select(func.count(BounceRun.id))) == 1


def test_no_run_no_table(staff_client):
    assert "Latest mailbox runs" not in staff_client.get("/bounces").get_data(as_text=True)
