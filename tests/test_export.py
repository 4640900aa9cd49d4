"""CSV export: columns, filters, streaming, the CLI, and export -> import changing nothing."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from outreach.calendar.models import Review, UPRSession
from outreach.contacts import csv_io
from outreach.contacts.csv_io import COLUMNS, write_contacts_csv
from outreach.contacts.importer import import_contacts
from outreach.contacts.models import Contact, ContactCountry, ContactTopic, Organisation
from outreach.contacts.queries import ContactFilter
from tests.factories import make_contact, make_organisation


def export_rows(session, contact_filter=None, sort=None) -> tuple[int, list[dict[str, str]], str]:
    out = io.StringIO(newline="")
    count = write_contacts_csv(session, contact_filter or ContactFilter(), sort, out)
    text = out.getvalue()
    return count, list(csv.DictReader(io.StringIO(text, newline=""))), text


def sample_registry(session) -> None:
    """Contacts using every exported column, including awkward values."""
    hrw = make_organisation(session, "Human Rights Watch", ecosoc_status=True)
    inddh = make_organisation(session, "INDDH Chile", type="nhri", country="CL",
                              ganhri_accreditation="A")
    mission = make_organisation(session, "Permanent Mission of Fiji", type="permanent_mission",
                                country="FJ")
    make_contact(session, "ana@example.org", country="BR", countries=("AR", "CL"),
                 topics=("women", "land-rights"), organisation=hrw, first_name="Ana",
                 last_name="Souza", language="es")
    make_contact(session, "Jöel.Ñúñez@exämple.org", type="nhri", country="CL",
                 organisation=inddh, first_name="Jöel", last_name="Ñúñez", language="es")
    fiji = make_contact(session, "pm.fiji@example.org", type="permanent_mission", country="FJ",
                        organisation=mission, status="inactive", language="en")
    fiji.role_title = "First Secretary, Human Rights"
    fiji.notes = "Met at HRC55;\nprefers \"phone\" calls\n=not a formula"
    make_contact(session, "solo@example.org", type="media", first_name="-dash", last_name="@at",
                 countries=("KE", "UG"))
    make_contact(session, "bare@example.org", type="other")
    session.commit()


def snapshot(session) -> dict:
    contacts = session.execute(
        select(Contact.__table__).order_by(Contact.email_key)
    ).mappings().all()
    return {
        "contacts": [dict(row) for row in contacts],
        "countries": session.execute(
            select(ContactCountry.__table__).order_by(
                ContactCountry.contact_id, ContactCountry.country_code)
        ).all(),
        "topics": session.execute(
            select(ContactTopic.__table__).order_by(ContactTopic.contact_id, ContactTopic.topic)
        ).all(),
        "organisations": [
            dict(row) for row in session.execute(
                select(Organisation.__table__).order_by(Organisation.id)
            ).mappings()
        ],
    }


def test_export_writes_the_import_columns(db_session):
    sample_registry(db_session)
    count, rows, text = export_rows(db_session, sort="email")

    assert text.splitlines()[0] == ",".join(COLUMNS)
    assert count == len(rows) == 5
    ana = rows[0]
    assert ana == {
        "email": "ana@example.org", "first_name": "Ana", "last_name": "Souza",
        "organisation": "Human Rights Watch", "type": "ngo", "role_title": "",
        "language": "es", "country": "BR", "countries": "AR; CL",
        "topics": "land-rights; women", "status": "active", "notes": "",
        "ecosoc_status": "yes", "ganhri_accreditation": "",
    }
    by_email = {row["email"]: row for row in rows}
    assert by_email["Jöel.Ñúñez@exämple.org"]["ganhri_accreditation"] == "A"
    assert by_email["bare@example.org"]["ecosoc_status"] == ""
    assert by_email["solo@example.org"]["countries"] == "KE; UG"


def test_export_filters_and_sorts(db_session):
    sample_registry(db_session)
    _, rows, _ = export_rows(db_session, ContactFilter(countries=["CL"]), sort="-email")
    assert [row["email"] for row in rows] == ["Jöel.Ñúñez@exämple.org", "ana@example.org"]
    count, rows, _ = export_rows(db_session, ContactFilter(statuses=["blocklisted"]))
    assert (count, rows) == (0, [])


def test_cells_that_look_like_formulas_are_neutralised(db_session):
    sample_registry(db_session)
    _, rows, _ = export_rows(db_session)
    solo = next(row for row in rows if row["email"] == "solo@example.org")
    assert (solo["first_name"], solo["last_name"]) == ("'-dash", "'@at")


def test_export_streams_in_batches(db_session, monkeypatch):
    monkeypatch.setattr(csv_io, "EXPORT_BATCH", 2)
    sample_registry(db_session)
    count, rows, _ = export_rows(db_session, sort="email")
    assert count == 5
    assert [row["countries"] for row in rows] == ["AR; CL", "", "", "", "KE; UG"]


@pytest.mark.parametrize("batch", [2, 1000])
def test_export_then_import_changes_nothing(db_session, monkeypatch, batch):
    monkeypatch.setattr(csv_io, "EXPORT_BATCH", batch)
    sample_registry(db_session)
    before = snapshot(db_session)
    _, _, text = export_rows(db_session)

    report = import_contacts(db_session, io.BytesIO(text.encode("utf-8")))
    db_session.commit()

    assert (report.created, report.updated, report.unchanged, report.rejected) == (0, 0, 5, [])
    assert report.organisations_created == 0
    assert snapshot(db_session) == before


def test_export_import_into_an_empty_registry_recreates_it(db_session):
    sample_registry(db_session)
    _, rows_before, text = export_rows(db_session, sort="email")
    for table in (ContactTopic, ContactCountry, Contact, Organisation):
        db_session.execute(table.__table__.delete())
    db_session.commit()

    report = import_contacts(db_session, io.StringIO(text, newline=""))
    db_session.commit()

    assert (report.created, report.rejected) == (5, [])
    _, rows_after, _ = export_rows(db_session, sort="email")
    assert rows_after == rows_before
    fiji = db_session.scalar(select(Contact).where(Contact.email_key == "pm.fiji@example.org"))
    assert fiji.notes == "Met at HRC55;\nprefers \"phone\" calls\n=not a formula"


def test_cli_export_to_a_file_with_filters(app, db_session, tmp_path):
    sample_registry(db_session)
    path = tmp_path / "out.csv"
    result = app.test_cli_runner().invoke(
        args=["contacts", "export", str(path), "--type", "ngo,nhri", "--country", "Chile"]
    )
    assert result.exit_code == 0, result.output
    assert "Exported 2 contact(s)" in result.stderr
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["email"] for row in rows] == ["ana@example.org", "Jöel.Ñúñez@exämple.org"]


def test_cli_export_to_standard_output(app, db_session):
    sample_registry(db_session)
    result = app.test_cli_runner().invoke(
        args=["contacts", "export", "--status", "inactive", "--language", "en"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    assert [row["email"] for row in rows] == ["pm.fiji@example.org"]
    assert rows[0]["notes"].endswith("\n=not a formula")


def test_cli_export_by_session_under_review(app, db_session):
    sample_registry(db_session)
    session = UPRSession(number=50)
    session.reviews = [Review(country_code="KE"), Review(country_code="FJ")]
    db_session.add(session)
    db_session.commit()
    result = app.test_cli_runner().invoke(args=["contacts", "export", "--session", "50"])
    rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    assert [row["email"] for row in rows] == ["pm.fiji@example.org", "solo@example.org"]


def test_cli_export_rejects_unknown_filter_values(app):
    result = app.test_cli_runner().invoke(args=["contacts", "export", "--type", "alien"])
    assert result.exit_code == 2
    assert "unknown type 'alien'" in result.stderr
    result = app.test_cli_runner().invoke(args=["contacts", "export", "--country", "Atlantis"])
    assert result.exit_code == 2
    assert "unknown country 'Atlantis'" in result.stderr


def test_tab_and_carriage_return_starts_are_neutralised_too():
    assert csv_io.safe_cell("\t=1+1") == "'\t=1+1"
    assert csv_io.safe_cell("\r=cmd") == "'\r=cmd"
    assert csv_io.safe_cell("plain") == "plain"
