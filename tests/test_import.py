"""CSV import: file formats, upserts, rejected rows, strict and dry runs, CLI and upload page."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from outreach.contacts import importer
from outreach.contacts.csv_io import CsvFileError
from outreach.contacts.importer import import_contacts
from outreach.contacts.models import Contact, ContactCountry, Organisation
from outreach.contacts.validation import organisation_key
from tests.conftest import login
from tests.factories import make_contact, make_organisation, make_user

DATA = Path(__file__).parent / "data"


def run_import(session, source, **options):
    report = import_contacts(session, source, **options)
    if report.applied:
        session.commit()
    else:
        session.rollback()
    return report


def get_contact(session, email: str) -> Contact | None:
    return session.scalar(select(Contact).where(Contact.email_key == email.casefold()))


def contact_count(session) -> int:
    return session.scalar(select(func.count(Contact.id)))


def write_csv(tmp_path: Path, text: str, name: str = "contacts.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def cli(app, *args):
    return app.test_cli_runner().invoke(args=["contacts", *args])


# ---- file formats ---------------------------------------------------------------------------

def test_bom_semicolons_and_french_header_names(db_session):
    report = run_import(db_session, DATA / "contacts_bom_semicolon.csv")

    assert (report.created, report.updated, report.rejected) == (3, 0, [])
    amina = get_contact(db_session, "amina.diallo@example.org")
    assert (amina.first_name, amina.last_name, amina.role_title) == ("Amina", "Diallo", "Director")
    assert amina.organisation.name == "Ligue des droits humains"
    assert (amina.type, amina.language, amina.country_code) == ("ngo", "fr", "SN")
    assert amina.all_countries == ["ML", "NE", "SN"]
    assert amina.countries == ["ML", "NE"]
    assert amina.topics == ["children", "women-s-rights"]
    pedro = get_contact(db_session, "pedro.ruiz@example.org")
    assert (pedro.type, pedro.country_code, pedro.language) == ("nhri", "MX", "es")
    assert pedro.organisation.name == "Comisión Nacional de Derechos Humanos"
    smith = get_contact(db_session, "j.smith@example.org")
    assert (smith.type, smith.country_code, smith.organisation) == ("other", "GB", None)


def test_header_names_are_case_insensitive_and_tolerant(db_session, tmp_path):
    path = write_csv(
        tmp_path,
        "EMAIL,First Name,last-name,ORGANISATION,Contact Type,Primary Country,Countries,"
        "Language,Tags,Title,Status,Notes,ECOSOC,GANHRI,Favourite colour\n"
        "ana@example.org,Ana,Silva,Conectas,NGO,Brazil,PT;AO,Portuguese?,x,Lawyer,,,,,\n",
    )
    report = run_import(db_session, path)
    assert report.rejected[0].reason == "unknown language 'Portuguese?' (use en, fr or es)"

    path.write_text(path.read_text().replace("Portuguese?", "es"))
    report = run_import(db_session, path)
    assert report.created == 1
    assert report.ignored_columns == ["Favourite colour"]
    ana = get_contact(db_session, "ana@example.org")
    assert (ana.last_name, ana.role_title, ana.language) == ("Silva", "Lawyer", "es")
    assert ana.all_countries == ["AO", "BR", "PT"]
    assert ana.topics == ["x"]


def test_file_without_email_column_is_refused_as_a_whole(db_session):
    with pytest.raises(CsvFileError, match="no email column"):
        import_contacts(db_session, DATA / "contacts_no_email.csv")
    assert contact_count(db_session) == 0


def test_non_utf8_file_gives_a_clear_error(db_session):
    with pytest.raises(CsvFileError, match=r"Line 2 is not UTF-8 text.*CSV UTF-8"):
        import_contacts(db_session, DATA / "contacts_latin1.csv")


def test_empty_file_and_duplicate_columns_are_refused(db_session, tmp_path):
    with pytest.raises(CsvFileError, match="empty"):
        import_contacts(db_session, write_csv(tmp_path, ""))
    with pytest.raises(CsvFileError, match="'Title' and 'Role' both mean role_title"):
        import_contacts(db_session, write_csv(tmp_path, "email,Title,Role\na@example.org,x,y\n"))


def test_non_ascii_names_and_internationalised_email(db_session, tmp_path):
    path = write_csv(
        tmp_path,
        "email,first_name,last_name,country\n"
        "Zoë.Ça@Exämple.ORG,Zoë,Çelik-Øre,Türkiye\n"
        "用户@例子.广告,明,王,China\n",
    )
    report = run_import(db_session, path)
    assert (report.created, report.rejected) == (2, [])
    zoe = get_contact(db_session, "zoë.ça@exämple.org")
    assert (zoe.email, zoe.last_name, zoe.country_code) == ("Zoë.Ça@exämple.org", "Çelik-Øre", "TR")
    assert get_contact(db_session, "用户@例子.广告").first_name == "明"


# ---- rejected rows --------------------------------------------------------------------------

def test_bad_rows_are_rejected_with_their_physical_line_and_good_rows_imported(db_session):
    report = run_import(db_session, DATA / "contacts_mixed.csv")

    assert (report.created, report.updated) == (3, 0)
    rejected = {row.line: (row.email, row.reason) for row in report.rejected}
    assert sorted(rejected) == [6, 7, 8, 9, 11, 12]
    assert rejected[6][0] == "not-an-email"
    assert rejected[6][1].startswith("invalid email 'not-an-email'")
    assert rejected[7] == ("", "email is missing")
    assert rejected[8] == ("bad.country@example.org", "unknown country 'Atlantis'")
    assert rejected[9][1].startswith("unknown contact type 'spaceship'")
    assert rejected[11][1].startswith("unknown language 'klingon'")
    assert rejected[12] == ("good.three@example.org", "countries: unknown country 'Atlantis'")
    assert get_contact(db_session, "good.two@example.org").notes == (
        "first line\nsecond line\nthird line"
    )
    four = get_contact(db_session, "good.four@example.org")
    assert (four.type, four.all_countries) == ("other", ["AR", "BR", "CL"])
    assert get_contact(db_session, "bad.country@example.org") is None


def test_a_multi_line_row_is_reported_at_its_first_line(db_session, tmp_path):
    path = write_csv(
        tmp_path,
        'email,notes,country\r\nok@example.org,"a\r\nb",FR\r\nbad@example.org,"c\r\nd\r\ne",XX1\r\n'
        "last@example.org,,Atlantis\r\n",
    )
    report = run_import(db_session, path)
    assert [(row.line, row.email) for row in report.rejected] == [
        (4, "bad@example.org"), (7, "last@example.org")
    ]
    assert get_contact(db_session, "ok@example.org").notes == "a\r\nb"


def test_a_row_lists_all_its_problems(db_session, tmp_path):
    path = write_csv(tmp_path, "email,type,status,ecosoc_status\nx@example.org,robot,gone,yes\n")
    (row,) = run_import(db_session, path).rejected
    assert row.line == 2
    assert "unknown contact type 'robot'" in row.reason
    assert "unknown status 'gone'" in row.reason
    assert "ecosoc_status is given without an organisation" in row.reason


# ---- upserts --------------------------------------------------------------------------------

def test_duplicate_in_file_updates_instead_of_duplicating(db_session, tmp_path):
    path = write_csv(
        tmp_path,
        "email,first_name,last_name,country\n"
        "dup@example.org,Ann,Lee,France\n"
        "other@example.org,Bob,,\n"
        "DUP@example.org,Annie,,\n",
    )
    report = run_import(db_session, path)
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    dup = get_contact(db_session, "dup@example.org")
    assert (dup.first_name, dup.last_name, dup.country_code) == ("Annie", "Lee", "FR")
    assert dup.email == "DUP@example.org"
    assert contact_count(db_session) == 2


def test_duplicate_across_chunks_is_counted_once(db_session, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "CHUNK_SIZE", 2)
    make_contact(db_session, "known@example.org", first_name="Old")
    db_session.commit()
    path = write_csv(
        tmp_path,
        "email,first_name\n"
        "new@example.org,One\nknown@example.org,Old\nfiller@example.org,F\n"
        "new@example.org,Two\nknown@example.org,New\n",
    )
    report = run_import(db_session, path)
    assert (report.created, report.updated, report.unchanged) == (2, 1, 0)
    assert get_contact(db_session, "new@example.org").first_name == "Two"
    assert get_contact(db_session, "known@example.org").first_name == "New"


def test_update_leaves_empty_cells_alone_and_counts_unchanged_rows(db_session, tmp_path):
    org = make_organisation(db_session, "Old Org", type="ngo")
    make_contact(
        db_session, "kept@example.org", type="ngo", country="FR", countries=("BE",),
        topics=("women",), language="fr", organisation=org, first_name="Kim", last_name="Roe",
    )
    make_contact(db_session, "same@example.org", first_name="Sam", country="DE")
    db_session.commit()
    path = write_csv(
        tmp_path,
        "email,first_name,last_name,organisation,type,country,countries,topics,language\n"
        "kept@example.org,,Row,,,,,,\n"
        "same@example.org,Sam,,,,DE,,,\n",
    )
    report = run_import(db_session, path)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    kept = get_contact(db_session, "kept@example.org")
    assert (kept.first_name, kept.last_name, kept.language) == ("Kim", "Row", "fr")
    assert kept.organisation.name == "Old Org"
    assert kept.all_countries == ["BE", "FR"]
    assert kept.topics == ["women"]


def test_new_primary_country_keeps_the_country_invariants(db_session, tmp_path):
    make_contact(db_session, "move@example.org", country="FR", countries=("BE", "LU"))
    db_session.commit()
    path = write_csv(tmp_path, "email,country\nmove@example.org,Germany\n")
    assert run_import(db_session, path).updated == 1
    contact = get_contact(db_session, "move@example.org")
    assert contact.country_code == "DE"
    links = db_session.execute(
        select(ContactCountry.country_code, ContactCountry.is_primary)
        .where(ContactCountry.contact_id == contact.id).order_by(ContactCountry.country_code)
    ).all()
    assert links == [("BE", False), ("DE", True), ("LU", False)]

    path.write_text("email,countries\nmove@example.org,DE;Spain\n")
    run_import(db_session, path)
    contact = get_contact(db_session, "move@example.org")
    assert (contact.country_code, contact.all_countries, contact.countries) == (
        "DE", ["DE", "ES"], ["ES"]
    )


def test_organisations_are_matched_by_name_key_and_give_the_default_type(db_session, tmp_path):
    existing = make_organisation(db_session, "Permanent Mission of Chile", type="permanent_mission")
    db_session.commit()
    path = write_csv(
        tmp_path,
        "email,organisation,type,ecosoc_status,ganhri_accreditation\n"
        "a@example.org,  permanent   MISSION of chile ,,,\n"
        "b@example.org,Defensoría del Pueblo,nhri,,A\n"
        "c@example.org,defensoría  del pueblo,,,\n"
        "d@example.org,Human Rights Watch,,yes,\n",
    )
    report = run_import(db_session, path)
    assert report.created == 4 and report.organisations_created == 2
    a = get_contact(db_session, "a@example.org")
    assert (a.organisation_id, a.type) == (existing.id, "permanent_mission")
    b, c = get_contact(db_session, "b@example.org"), get_contact(db_session, "c@example.org")
    assert b.organisation_id == c.organisation_id
    assert (c.type, c.organisation.type) == ("nhri", "nhri")
    assert c.organisation.ganhri_accreditation == "A"
    hrw = get_contact(db_session, "d@example.org").organisation
    assert (hrw.ecosoc_status, hrw.name_key) == (True, "human rights watch")
    assert db_session.scalar(select(func.count(Organisation.id))) == 3

    path.write_text("email,organisation,ecosoc_status\nd@example.org,Human Rights Watch,no\n")
    assert run_import(db_session, path).updated == 1
    db_session.refresh(hrw)
    assert hrw.ecosoc_status is False


def test_organisation_key():
    assert organisation_key("  Amnesty\tInternational  ") == "amnesty international"
    assert organisation_key("STRASSE") == organisation_key("straße")


def test_rows_can_be_given_as_mappings(db_session):
    report = run_import(
        db_session,
        [{"Email": "map@example.org", "countries": ["FR", "IT"], "topics": ["a", "b"]},
         {"email": "nope"}],
    )
    assert report.created == 1
    assert report.rejected[0].line == 3
    assert get_contact(db_session, "map@example.org").all_countries == ["FR", "IT"]


def test_service_flushes_but_does_not_commit(db_session):
    import_contacts(db_session, io.BytesIO(b"email\nflush@example.org\n"))
    assert get_contact(db_session, "flush@example.org") is not None
    db_session.rollback()
    assert get_contact(db_session, "flush@example.org") is None


# ---- strict, dry run, CLI -------------------------------------------------------------------

def test_strict_imports_nothing_when_a_row_is_bad(app, db_session, monkeypatch):
    monkeypatch.setattr(importer, "CHUNK_SIZE", 1)  # good rows are written before the bad one
    result = cli(app, "import", "--strict", str(DATA / "contacts_mixed.csv"))
    assert result.exit_code == 1
    first_line = result.stdout.splitlines()[0]
    assert first_line == "created=0 updated=0 rejected=6 unchanged=0 suppressed=0"
    assert "nothing was imported" in result.stderr
    assert contact_count(db_session) == 0


def test_strict_import_of_a_clean_file_succeeds(app, db_session):
    result = cli(app, "import", "--strict", str(DATA / "contacts_bom_semicolon.csv"))
    assert result.exit_code == 0
    assert result.stdout == "created=3 updated=0 rejected=0 unchanged=0 suppressed=0\n"
    assert contact_count(db_session) == 3


def test_dry_run_writes_nothing_but_reports_the_same_counts(app, db_session):
    make_contact(db_session, "good.one@example.org", first_name="Someone")
    db_session.commit()
    dry = cli(app, "import", "--dry-run", str(DATA / "contacts_mixed.csv"))
    assert dry.exit_code == 0
    assert "Dry run: nothing was written." in dry.stderr
    assert contact_count(db_session) == 1
    assert db_session.scalar(select(func.count(Organisation.id))) == 0
    assert get_contact(db_session, "good.one@example.org").first_name == "Someone"

    real = cli(app, "import", str(DATA / "contacts_mixed.csv"))
    assert real.exit_code == 0
    assert dry.stdout == real.stdout
    assert real.stdout.splitlines()[0] == "created=2 updated=1 rejected=6 unchanged=0 suppressed=0"
    assert contact_count(db_session) == 3


def test_cli_text_output_lists_rejected_rows(app):
    result = cli(app, "import", str(DATA / "contacts_mixed.csv"))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "created=3 updated=0 rejected=6 unchanged=0 suppressed=0"
    assert lines[2] == "line 7: (no email): email is missing"
    assert lines[3] == "line 8: bad.country@example.org: unknown country 'Atlantis'"
    assert len(lines) == 7


def test_cli_json_output_shape(app):
    result = cli(app, "import", "--json", str(DATA / "contacts_mixed.csv"))
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert list(data) == ["created", "updated", "rejected", "suppressed", "unchanged"]
    assert (data["created"], data["updated"], data["unchanged"]) == (3, 0, 0)
    assert data["rejected"][1] == {"line": 7, "email": "", "reason": "email is missing"}
    assert all(set(row) == {"line", "email", "reason"} for row in data["rejected"])


def test_cli_reads_standard_input(app, db_session):
    result = app.test_cli_runner().invoke(
        args=["contacts", "import", "-"], input="email;first_name\nstdin@example.org;Stan\n"
    )
    assert result.exit_code == 0, result.output
    assert get_contact(db_session, "stdin@example.org").first_name == "Stan"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("contacts_no_email.csv", "no email column"),
        ("contacts_latin1.csv", "Line 2 is not UTF-8 text"),
    ],
)
def test_cli_refuses_unusable_files_without_a_traceback(app, db_session, name, message):
    result = cli(app, "import", str(DATA / name))
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert contact_count(db_session) == 0


def test_encoding_error_late_in_the_file_writes_nothing(app, db_session, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "CHUNK_SIZE", 1)  # rows before the bad line are flushed
    path = tmp_path / "late.csv"
    path.write_bytes(b"email\none@example.org\ntwo@example.org\nthr\xe9e@example.org\n")
    result = cli(app, "import", str(path))
    assert result.exit_code == 1
    assert "Line 4 is not UTF-8 text" in result.stderr
    assert contact_count(db_session) == 0


def test_cli_missing_file_is_a_usage_error(app, tmp_path):
    result = cli(app, "import", str(tmp_path / "missing.csv"))
    assert result.exit_code == 2
    assert "No such file" in result.stderr


# ---- upload page ----------------------------------------------------------------------------

def upload(client, content: bytes, filename: str = "contacts.csv", **flags):
    data = {"file": (io.BytesIO(content), filename)}
    data.update({flag: "y" for flag, on in flags.items() if on})
    return client.post("/contacts/import", data=data, content_type="multipart/form-data")


def test_upload_page_shows_the_form(staff_client):
    response = staff_client.get("/contacts/import")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'type="file"' in page and 'accept=".csv,text/csv"' in page
    assert "Dry run" in page and "Strict" in page


def test_upload_imports_and_shows_the_report(staff_client, db_session):
    response = upload(staff_client, (DATA / "contacts_mixed.csv").read_bytes())
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "The import is saved." in page
    assert 'data-count="created">3<' in page and 'data-count="rejected">6<' in page
    assert (
        "<td>8</td><td>bad.country@example.org</td><td>unknown country &#39;Atlantis&#39;</td>"
    ) in page
    assert 'href="/contacts"' in page
    assert contact_count(db_session) == 3


def test_upload_dry_run_and_strict_write_nothing(staff_client, db_session):
    content = (DATA / "contacts_mixed.csv").read_bytes()
    dry = upload(staff_client, content, dry_run=True).get_data(as_text=True)
    assert "Dry run: nothing was saved." in dry and 'data-count="created">3<' in dry
    strict = upload(staff_client, content, strict=True).get_data(as_text=True)
    assert "Strict mode: nothing was imported because 6 rows have errors" in strict
    assert contact_count(db_session) == 0


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (b"", "contacts.csv", "The file is empty."),
        (b"PK\x03\x04 spreadsheet", "contacts.xlsx", "Choose a .csv file"),
        (b"name,country\nAmina,Senegal\n", "contacts.csv", "The file has no email column"),
        ("email\ncafé@example.org\n".encode("cp1252"), "contacts.csv", "is not UTF-8 text"),
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb7\xac\xd4\x01", "contacts.csv",
         "Line 1 is not UTF-8 text"),  # an .xlsx file renamed .csv
    ],
)
def test_upload_form_errors(staff_client, db_session, content, filename, message):
    response = upload(staff_client, content, filename, dry_run=True)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    (checkbox,) = re.findall(r'<input[^>]*id="dry_run"[^>]*>', page)
    assert "checked" in checkbox  # what was ticked stays ticked
    assert contact_count(db_session) == 0


def test_upload_without_a_file_is_a_form_error(staff_client):
    response = staff_client.post("/contacts/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Choose a CSV file to import." in response.get_data(as_text=True)


def test_upload_larger_than_the_limit_shows_an_error_page(app, staff_client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2048)
    response = upload(staff_client, b"email\n" + b"x@example.org\n" * 500)
    assert response.status_code == 413
    assert "larger than the 2 KB upload limit" in response.get_data(as_text=True)


def test_viewer_cannot_import(app, viewer_client, db_session):
    assert viewer_client.get("/contacts/import").status_code == 403
    response = upload(viewer_client, b"email\nv@example.org\n")
    assert response.status_code == 403
    assert contact_count(db_session) == 0


def test_editor_can_import_and_anonymous_is_sent_to_login(app, client, db_session):
    assert client.get("/contacts/import").status_code == 302
    editor = make_user(db_session, "editor@example.org", role="editor")
    db_session.commit()
    response = upload(login(app.test_client(), editor), b"email\ned@example.org\n")
    assert response.status_code == 200
    assert get_contact(db_session, "ed@example.org") is not None
