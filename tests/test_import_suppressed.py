"""CSV import and the suppression list; consent events of imported contacts."""

from __future__ import annotations

import io
import json
from pathlib import Path

from sqlalchemy import func, select

from outreach.contacts import importer
from outreach.contacts.importer import import_contacts
from outreach.contacts.models import Contact, Organisation
from outreach.subscriptions.models import ConsentRecord
from tests.factories import make_contact, make_suppression

CSV = (
    "email,first_name,status,organisation\n"
    "new.one@example.org,New,,Open Society\n"           # line 2: created
    "Gone@Example.org,Back,active,Ghost Org\n"          # line 3: suppressed, existing contact
    "blocked@example.org,Blocked,,Ghost Org\n"          # line 4: suppressed, no contact
    "kept@example.org,Kept again,,\n"                   # line 5: updated
    "not-an-address,Bad,,\n"                            # line 6: rejected
    "BLOCKED@example.org,Twice,,\n"                     # line 7: suppressed again
)


def write(tmp_path: Path, content: str = CSV) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text(content, encoding="utf-8")
    return path


def setup_registry(session):
    gone = make_contact(session, "gone@example.org", first_name="Gone", status="inactive")
    make_contact(session, "kept@example.org", first_name="Kept")
    make_suppression(session, "gone@example.org", "unsubscribed")
    make_suppression(session, "blocked@example.org", "staff")
    session.commit()
    return gone


def cli(app, *args):
    return app.test_cli_runner().invoke(args=["contacts", "import", *args])


def count(session, column) -> int:
    return session.scalar(select(func.count(column)))


def test_suppressed_rows_are_reported_and_change_nothing(app, db_session, tmp_path):
    gone = setup_registry(db_session)
    report = import_contacts(db_session, write(tmp_path))
    db_session.commit()
    assert (report.created, report.updated, report.unchanged) == (1, 1, 0)
    assert [(r.line, r.email, r.reason) for r in report.suppressed] == [
        (3, "Gone@example.org", "unsubscribed"),
        (4, "blocked@example.org", "staff"),
        (7, "BLOCKED@example.org", "staff"),
    ]
    assert [r.line for r in report.rejected] == [6]
    db_session.expire_all()
    gone = db_session.get(Contact, gone.id)
    assert (gone.first_name, gone.status, gone.organisation) == ("Gone", "inactive", None)
    assert db_session.scalar(select(Contact).where(Contact.email_key == "blocked@example.org")) \
        is None
    assert count(db_session, Contact.id) == 3
    # Organisations named only by suppressed rows are not created.
    assert set(db_session.scalars(select(Organisation.name))) == {"Open Society"}


def test_suppression_is_checked_in_every_chunk(app, db_session, tmp_path, monkeypatch):
    setup_registry(db_session)
    monkeypatch.setattr(importer, "CHUNK_SIZE", 1)
    report = import_contacts(db_session, write(tmp_path))
    db_session.commit()
    assert [r.line for r in report.suppressed] == [3, 4, 7]
    assert (report.created, report.updated) == (1, 1)


def test_cli_text_lists_suppressed_rows(app, db_session, tmp_path):
    setup_registry(db_session)
    result = cli(app, str(write(tmp_path)))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "created=1 updated=1 rejected=1 unchanged=0 suppressed=3"
    assert lines[2:] == [
        "line 3: Gone@example.org: suppressed (unsubscribed)",
        "line 4: blocked@example.org: suppressed (staff)",
        "line 7: BLOCKED@example.org: suppressed (staff)",
    ]


def test_cli_json_lists_suppressed_rows_after_rejected(app, db_session, tmp_path):
    setup_registry(db_session)
    result = cli(app, "--json", "--dry-run", str(write(tmp_path)))
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert list(data) == ["created", "updated", "rejected", "suppressed", "unchanged"]
    assert data["suppressed"][0] == {
        "line": 3, "email": "Gone@example.org", "reason": "unsubscribed"
    }
    assert len(data["suppressed"]) == 3
    assert count(db_session, Contact.id) == 2  # dry run


def test_strict_import_is_not_failed_by_suppressed_rows(app, db_session, tmp_path):
    setup_registry(db_session)
    path = write(tmp_path, "email\nblocked@example.org\nfresh@example.org\n")
    result = cli(app, "--strict", str(path))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == (
        "created=1 updated=0 rejected=0 unchanged=0 suppressed=1"
    )


def test_upload_page_shows_suppressed_rows(staff_client, db_session):
    setup_registry(db_session)
    response = staff_client.post(
        "/contacts/import",
        data={"file": (io.BytesIO(CSV.encode()), "contacts.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'data-count="suppressed">3<' in page
    assert "<h2 class=\"h5\">Suppressed rows</h2>" in page
    assert "<td>3</td><td>Gone@example.org</td><td>Unsubscribed</td>" in page
    assert "<td>4</td><td>blocked@example.org</td><td>Added by staff</td>" in page


# ---- consent events -------------------------------------------------------------------------

def test_each_imported_contact_gets_one_import_consent_event(app, db_session, tmp_path):
    setup_registry(db_session)
    path = write(tmp_path, "email\na@example.org\nb@example.org\nkept@example.org\n")
    import_contacts(db_session, path)
    db_session.commit()
    records = db_session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)).all()
    contacts = {c.id: c for c in db_session.scalars(
        select(Contact).where(Contact.email_key.in_(["a@example.org", "b@example.org"]))
    )}
    assert sorted(record.contact_id for record in records) == sorted(contacts)
    for record in records:
        assert (record.action, record.source, record.staff_user_id) == ("import", "import", None)
        assert record.email_hash == contacts[record.contact_id].email_hash
        assert record.privacy_notice_version == app.config["PRIVACY_NOTICE_VERSION"]
        assert (record.ip_address, record.user_agent, record.details) == ("", "", {})
    # Importing again creates no contact and so no event.
    import_contacts(db_session, path)
    db_session.commit()
    assert count(db_session, ConsentRecord.id) == 2


def test_uploaded_contacts_record_the_staff_member(staff_client, admin_user, db_session):
    staff_client.post(
        "/contacts/import",
        data={"file": (io.BytesIO(b"email\nup@example.org\n"), "c.csv")},
        content_type="multipart/form-data",
    )
    record = db_session.scalar(select(ConsentRecord))
    assert (record.action, record.source, record.staff_user_id) == ("import", "import",
                                                                    admin_user.id)


def test_a_dry_run_writes_no_consent_event(app, db_session, tmp_path):
    result = cli(app, "--dry-run", str(write(tmp_path, "email\na@example.org\n")))
    assert result.exit_code == 0
    assert count(db_session, ConsentRecord.id) == 0


def test_a_failed_strict_import_reports_no_suppressed_rows(app, db_session, tmp_path):
    setup_registry(db_session)
    result = cli(app, "--strict", "--json", str(write(tmp_path)))
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert (data["created"], data["updated"], data["suppressed"]) == (0, 0, [])
    assert len(data["rejected"]) == 1
