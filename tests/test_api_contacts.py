"""/contacts and /imports through the API."""
# ruff: noqa: F811  (the API fixtures are imported from tests.api_support)

from __future__ import annotations

import io
import json

from outreach.audit.models import AuditEntry
from outreach.calendar.models import Review, UPRSession
from outreach.contacts.models import Contact
from outreach.subscriptions.models import ConsentRecord, Suppression
from tests.api_support import api, assert_error  # noqa: F401  (fixtures)
from tests.factories import make_contact, make_organisation


def emails(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return sorted(item["email"] for item in response.get_json()["items"])


def test_create_get_patch_and_delete_a_contact(api, db_session):
    created = api.post(
        "/contacts",
        json={
            "email": " Ana@Example.org ",
            "first_name": "Ana",
            "organisation": "Rights Watch",
            "type": "ngo",
            "country": "France",
            "countries": ["BR"],
            "topics": ["Children", "detention"],
            "language": "fr",
        },
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    assert body["email"] == "Ana@example.org"
    assert (body["country"], body["countries"]) == ("FR", ["BR"])
    assert body["topics"] == ["children", "detention"]
    assert body["organisation"]["name"] == "Rights Watch"
    contact_id = body["id"]
    assert db_session.query(ConsentRecord).filter_by(action="import", source="api").count() == 1

    assert api.get(f"/contacts/{contact_id}").get_json()["first_name"] == "Ana"
    patched = api.patch(f"/contacts/{contact_id}", json={"last_name": "Lima", "topics": []})
    assert patched.status_code == 200
    body = patched.get_json()
    assert (body["first_name"], body["last_name"], body["topics"]) == ("Ana", "Lima", [])
    assert body["country"] == "FR" and body["organisation"]["name"] == "Rights Watch"

    assert api.delete(f"/contacts/{contact_id}").status_code == 204
    assert db_session.get(Contact, contact_id) is None
    assert db_session.query(Suppression).filter_by(reason="erased").count() == 1
    assert_error(api.get(f"/contacts/{contact_id}"), 404)

    actors = {(e.action, e.actor_email) for e in db_session.query(AuditEntry)}
    assert ("contact.create", "editor-api@example.org") in actors  # the token's owner acts


def test_service_refusals_are_422_and_duplicates_409(api, db_session):
    existing = make_contact(db_session, "ana@example.org")
    db_session.commit()
    error = assert_error(
        api.post("/contacts", json={"email": "nope", "language": "de", "country": "Atlantis"}),
        422,
    )
    assert {"email", "language", "country_code"} <= set(error["fields"])
    assert_error(api.post("/contacts", json={"email": "ANA@example.org"}), 409, "duplicate")
    other = make_contact(db_session, "ben@example.org")
    db_session.commit()
    assert_error(api.patch(f"/contacts/{other.id}", json={"email": existing.email}), 409)
    assert_error(api.post("/contacts", json={}), 400)


def test_list_filters(api, db_session):
    org = make_organisation(db_session, "Geneva Rights")
    make_contact(
        db_session,
        "fr@example.org",
        type="ngo",
        country="FR",
        topics=("children",),
        organisation=org,
    )
    make_contact(db_session, "br@example.org", type="nhri", country="BR", language="es")
    make_contact(
        db_session,
        "ke@example.org",
        type="ngo",
        countries=("KE",),
        language="fr",
        first_name="Wanjiru",
    )
    upr = UPRSession(number=45)
    upr.reviews = [Review(country_code="KE")]
    db_session.add(upr)
    db_session.commit()
    assert emails(api.get("/contacts")) == ["br@example.org", "fr@example.org", "ke@example.org"]
    assert emails(api.get("/contacts?country=France")) == ["fr@example.org"]
    assert emails(api.get("/contacts?type=ngo")) == ["fr@example.org", "ke@example.org"]
    assert emails(api.get("/contacts?language=es,fr")) == ["br@example.org", "ke@example.org"]
    assert emails(api.get("/contacts?topic=children")) == ["fr@example.org"]
    assert emails(api.get("/contacts?session=45")) == ["ke@example.org"]
    assert emails(api.get("/contacts?q=wanj")) == ["ke@example.org"]
    assert emails(api.get("/contacts?q=geneva")) == ["fr@example.org"]
    assert emails(api.get("/contacts?type=ngo&country=KE")) == ["ke@example.org"]
    items = api.get("/contacts?sort=-email").get_json()["items"]
    assert [item["email"] for item in items][0] == "ke@example.org"
    assert_error(api.get("/contacts?type=robot"), 400)
    assert_error(api.get("/contacts?session=abc"), 400)
    assert_error(api.get("/contacts?sort=shoe_size"), 400)


CSV = (
    "email,first_name,type,country\n"
    "ana@example.org,Ana,ngo,FR\n"
    "not-an-email,Bad,ngo,FR\n"
    "ben@example.org,Ben,nhri,BR\n"
)


def upload(api, text: str, **form):
    data = {"file": (io.BytesIO(text.encode("utf-8")), "contacts.csv"), **form}
    return api.post("/imports", data=data, content_type="multipart/form-data")


def test_import_answers_the_cli_json_report(api, db_session, app, tmp_path):
    response = upload(api, CSV)
    assert response.status_code == 200, response.get_data(as_text=True)
    report = response.get_json()
    assert (report["created"], report["updated"], report["unchanged"]) == (2, 0, 0)
    assert [row["line"] for row in report["rejected"]] == [3]
    assert db_session.query(Contact).count() == 2
    path = tmp_path / "contacts.csv"
    path.write_text(CSV)
    cli = app.test_cli_runner().invoke(args=["contacts", "import", str(path), "--json"])
    assert json.loads(cli.stdout.splitlines()[0]) == {**report, "created": 0, "unchanged": 2}


def test_import_dry_run_and_strict_write_nothing(api, db_session):
    dry = upload(api, CSV, dry_run="true").get_json()
    assert dry["created"] == 2
    strict = upload(api, CSV, strict="1").get_json()
    assert strict["created"] == 0 and len(strict["rejected"]) == 1
    assert db_session.query(Contact).count() == 0


def test_import_refusals(api):
    assert_error(api.post("/imports", data={}, content_type="multipart/form-data"), 400)
    assert_error(upload(api, CSV, dry_run="maybe"), 400)
    error = assert_error(upload(api, "name,city\nAna,Geneva\n"), 422, "invalid_file")
    assert "email" in error["message"].lower()


def test_import_larger_than_the_upload_limit_is_413_json(api, app):
    saved = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        assert_error(upload(api, CSV + "x" * 2048), 413)
    finally:
        app.config["MAX_CONTENT_LENGTH"] = saved
