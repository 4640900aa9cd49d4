"""Contact registry staff UI: list, filters, sorting, pages, export, forms, status changes."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from outreach.calendar.models import Review, UPRSession
from outreach.contacts import services
from outreach.contacts.models import Contact, ContactCountry, Organisation
from outreach.core.errors import ServiceError
from outreach.core.timezones import local_today
from tests.factories import make_contact, make_organisation


def page_text(response) -> str:
    return response.get_data(as_text=True)


def emails_in(response) -> list[str]:
    """The contact emails of the list table, in display order."""
    return re.findall(r"<td>([^<@\s]+@[^<\s]+)</td>", page_text(response))


def form_data(**changes) -> dict:
    data = {
        "email": "new@example.org",
        "first_name": "Nadia",
        "last_name": "Haddad",
        "organisation_name": "",
        "type": "ngo",
        "role_title": "Advocacy officer",
        "language": "fr",
        "country_code": "TN",
        "countries": [],
        "topics": "",
        "status": "active",
        "notes": "",
    }
    data.update(changes)
    return data


@pytest.fixture
def registry(db_session):
    """A small registry: three contacts of different types, countries and languages."""
    org = make_organisation(db_session, "Droits Maintenant", country="FR")
    make_contact(
        db_session, "amelie@example.org", first_name="Amélie", last_name="Bernard",
        type="ngo", country="FR", countries=("BY",), topics=("women-rights",),
        language="fr", organisation=org,
    )
    make_contact(
        db_session, "carlos@example.org", first_name="Carlos", last_name="Zamora",
        type="nhri", country="HN", language="es", status="inactive",
    )
    make_contact(
        db_session, "bea@example.org", first_name="Bea", last_name="Mensah",
        type="permanent_mission", country="GH", topics=("migrants",), language="en",
    )
    db_session.commit()
    return org


# --- list -----------------------------------------------------------------------------------


def test_list_shows_each_contact_with_its_columns(staff_client, registry):
    response = staff_client.get("/contacts")
    assert response.status_code == 200
    text = page_text(response)
    assert "Amélie Bernard" in text
    assert "amelie@example.org" in text
    assert ">Droits Maintenant</a>" in text
    assert "Permanent mission" in text and "NHRI" in text
    assert "Honduras" in text and "Ghana" in text
    assert "Français" in text and "Español" in text
    assert "Inactive" in text
    assert "Showing 1&ndash;3 of 3" in text


def test_empty_registry_says_what_to_do(staff_client):
    text = page_text(staff_client.get("/contacts"))
    assert "No contacts yet" in text
    assert "Import contacts" in text


def test_filters_without_matches_offer_to_clear(staff_client, registry):
    text = page_text(staff_client.get("/contacts?q=nobody-matches-this"))
    assert "No contacts match these filters" in text
    assert "Clear the filters" in text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=AMELIE@", ["amelie@example.org"]),
        ("q=zamora", ["carlos@example.org"]),
        ("q=bea mensah", ["bea@example.org"]),
        ("q=droits", ["amelie@example.org"]),
        ("type=nhri", ["carlos@example.org"]),
        ("type=ngo,permanent_mission", ["amelie@example.org", "bea@example.org"]),
        ("country=BY", ["amelie@example.org"]),
        ("country=Belarus", ["amelie@example.org"]),
        ("country=FR", ["amelie@example.org"]),
        ("language=es", ["carlos@example.org"]),
        ("topic=Women Rights", ["amelie@example.org"]),
        ("status=active", ["amelie@example.org", "bea@example.org"]),
        ("status=active&language=en", ["bea@example.org"]),
    ],
)
def test_search_and_filters(staff_client, registry, query, expected):
    response = staff_client.get(f"/contacts?{query}")
    assert response.status_code == 200
    assert sorted(emails_in(response)) == expected


def test_session_filter_lists_contacts_working_on_states_under_review(
    staff_client, db_session
):
    session = UPRSession(number=36, location="Geneva")
    session.reviews = [Review(country_code="BY"), Review(country_code="HN")]
    other = UPRSession(number=41, location="Geneva")
    other.reviews = [Review(country_code="FR")]
    db_session.add_all([session, other])
    make_contact(db_session, "primary-by@example.org", country="BY")
    make_contact(db_session, "works-on-hn@example.org", country="CH", countries=("HN",))
    make_contact(db_session, "france-only@example.org", country="FR")
    make_contact(db_session, "no-country@example.org")
    db_session.commit()

    response = staff_client.get("/contacts?session=36")
    assert response.status_code == 200
    assert sorted(emails_in(response)) == ["primary-by@example.org", "works-on-hn@example.org"]
    assert '<option value="36" selected>' in page_text(response)
    assert emails_in(staff_client.get("/contacts?session=41")) == ["france-only@example.org"]
    assert emails_in(staff_client.get("/contacts?session=99")) == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("country=Narnia", "unknown country &#39;Narnia&#39;"),
        ("session=abc", "session must be a number"),
        ("type=alien", "unknown type &#39;alien&#39;"),
        ("language=de", "unknown language &#39;de&#39;"),
        ("status=gone", "unknown status &#39;gone&#39;"),
    ],
)
def test_bad_filter_values_show_an_error(staff_client, registry, query, message):
    response = staff_client.get(f"/contacts?{query}")
    assert response.status_code == 400
    text = page_text(response)
    assert "The filter could not be applied" in text
    assert message in text
    assert emails_in(response) == []


def test_sorting_by_column_headers(staff_client, registry):
    by_name = emails_in(staff_client.get("/contacts"))
    assert by_name == ["amelie@example.org", "bea@example.org", "carlos@example.org"]
    by_email_desc = emails_in(staff_client.get("/contacts?sort=-email"))
    assert by_email_desc == ["carlos@example.org", "bea@example.org", "amelie@example.org"]
    by_country = emails_in(staff_client.get("/contacts?sort=country"))
    assert by_country == ["amelie@example.org", "bea@example.org", "carlos@example.org"]
    text = page_text(staff_client.get("/contacts?sort=email&type=ngo"))
    # The active column links to the reverse order and keeps the filters.
    assert re.search(r'href="/contacts\?[^"]*sort=-email', text)
    assert re.search(r'href="/contacts\?[^"]*type=ngo[^"]*"', text)
    assert emails_in(staff_client.get("/contacts?sort=bogus")) == by_name


def test_pagination(staff_client, db_session):
    for n in range(5):
        make_contact(db_session, f"person{n}@example.org", last_name=f"Person {n}")
    db_session.commit()
    response = staff_client.get("/contacts?per_page=2&page=2")
    assert emails_in(response) == ["person2@example.org", "person3@example.org"]
    text = page_text(response)
    assert "Showing 3&ndash;4 of 5" in text
    assert "2 / 3" in text
    assert re.search(r'href="/contacts\?[^"]*page=3[^"]*" rel="next"', text)
    assert emails_in(staff_client.get("/contacts?per_page=2&page=3")) == ["person4@example.org"]
    assert len(emails_in(staff_client.get("/contacts"))) == 5
    assert staff_client.get("/contacts?page=x&per_page=-4").status_code == 200


def test_default_page_size_is_fifty(staff_client, db_session):
    for n in range(51):
        make_contact(db_session, f"p{n:02d}@example.org", last_name=f"P{n:02d}")
    db_session.commit()
    response = staff_client.get("/contacts")
    assert len(emails_in(response)) == 50
    assert "Showing 1&ndash;50 of 51" in page_text(response)


# --- export ---------------------------------------------------------------------------------


def test_export_link_keeps_the_filters_and_sort(staff_client, registry):
    text = page_text(staff_client.get("/contacts?type=ngo&sort=-email&page=1&per_page=10"))
    link = re.search(r'href="(/contacts/export\.csv[^"]*)"', text).group(1)
    assert "type=ngo" in link and "sort=-email" in link
    assert "page=" not in link


def test_export_streams_the_filtered_sorted_list(staff_client, registry):
    response = staff_client.get("/contacts/export.csv?status=active&sort=-email")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    filename = f"contacts-{local_today().isoformat()}.csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{filename}"'
    rows = list(csv.DictReader(io.StringIO(page_text(response))))
    assert [row["email"] for row in rows] == ["bea@example.org", "amelie@example.org"]
    assert rows[1]["organisation"] == "Droits Maintenant"


def test_export_with_a_bad_filter_is_a_400(staff_client, registry):
    response = staff_client.get("/contacts/export.csv?country=Narnia")
    assert response.status_code == 400
    assert "unknown country" in page_text(response)


# --- contact page ---------------------------------------------------------------------------


def test_contact_page_shows_details_in_geneva_time(staff_client, db_session, registry):
    contact = db_session.scalar(select(Contact).where(Contact.email_key == "amelie@example.org"))
    contact.notes = "Met at the pre-session."
    contact.role_title = "Director"
    db_session.commit()
    # Written after the commit so that `onupdate` does not overwrite it.
    contact.created_at = datetime(2026, 1, 15, 11, 0, tzinfo=UTC)
    contact.updated_at = datetime(2026, 7, 1, 8, 30, tzinfo=UTC)
    db_session.commit()

    response = staff_client.get(f"/contacts/{contact.id}")
    assert response.status_code == 200
    text = page_text(response)
    assert "Amélie Bernard" in text and "Director" in text
    assert f'href="/organisations/{registry.id}"' in text
    assert "France" in text and "Belarus" in text
    assert "women-rights" in text
    assert "Met at the pre-session." in text
    assert "15 Jan 2026 12:00 (Geneva time)" in text  # UTC+1 in winter
    assert "01 Jul 2026 10:30 (Geneva time)" in text  # UTC+2 in summer
    assert "Edit" in text and "Deactivate" in text


def test_unknown_ids_are_404(staff_client):
    assert staff_client.get("/contacts/999").status_code == 404
    assert staff_client.get("/contacts/999/edit").status_code == 404
    assert staff_client.post("/contacts/999/edit", data=form_data()).status_code == 404
    assert staff_client.post("/contacts/999/deactivate", data={"confirmed": "1"}).status_code == 404
    assert staff_client.post("/contacts/999/reactivate", data={"confirmed": "1"}).status_code == 404
    assert staff_client.get("/contacts/abc").status_code == 404


# --- create and edit ------------------------------------------------------------------------


def test_create_contact_with_a_new_organisation(staff_client, db_session):
    response = staff_client.post(
        "/contacts/new",
        data=form_data(
            email="  Nadia@EXAMPLE.org ",
            organisation_name="  Tunisian   Forum ",
            countries=["LY", "DZ", "TN"],
            topics="Women rights, migrants,, Women Rights",
        ),
    )
    assert response.status_code == 302
    contact = db_session.scalar(select(Contact))
    assert response.headers["Location"] == f"/contacts/{contact.id}"
    assert contact.email == "Nadia@example.org"
    assert contact.email_key == "nadia@example.org"
    assert contact.organisation.name == "Tunisian Forum"
    assert contact.organisation.name_key == "tunisian forum"
    assert contact.organisation.type == "ngo"
    assert contact.country_code == "TN"
    links = {(link.country_code, link.is_primary) for link in contact.country_links}
    assert links == {("TN", True), ("LY", False), ("DZ", False)}
    assert contact.topics == ["migrants", "women-rights"]
    assert contact.language == "fr"
    assert "Contact created." in page_text(staff_client.get(f"/contacts/{contact.id}"))


def test_contact_type_defaults_to_its_organisations(staff_client, db_session):
    make_organisation(db_session, "Défenseur des droits", type="nhri", country="FR")
    db_session.commit()
    response = staff_client.post(
        "/contacts/new",
        data=form_data(email="dd@example.org", organisation_name="DÉFENSEUR  des droits", type=""),
    )
    assert response.status_code == 302
    contact = db_session.scalar(select(Contact))
    assert contact.type == "nhri"
    assert db_session.scalar(select(func.count(Organisation.id))) == 1
    staff_client.post("/contacts/new", data=form_data(email="solo@example.org", type=""))
    solo = db_session.scalar(select(Contact).where(Contact.email_key == "solo@example.org"))
    assert solo.type == "other"


def test_new_contact_form_lists_organisations_and_countries(staff_client, db_session):
    make_organisation(db_session, "UPR Info", country="CH")
    make_organisation(db_session, "Closed Org", active=False)
    db_session.commit()
    text = page_text(staff_client.get("/contacts/new"))
    assert '<datalist id="organisation-options">' in text
    assert '<option value="UPR Info">' in text
    assert "Closed Org" not in text
    assert '<option value="CI">Côte d&#39;Ivoire</option>' in text
    for label in ("Email", "Organisation", "Primary country", "Other countries of work", "Topics"):
        assert f">{label}</label>" in text


def test_invalid_email_rerenders_the_form_with_what_was_typed(staff_client, db_session):
    response = staff_client.post(
        "/contacts/new",
        data=form_data(email="not-an-address", first_name="Keep Me", topics="kept topic"),
    )
    assert response.status_code == 400
    text = page_text(response)
    assert "Invalid email" in text
    assert 'value="Keep Me"' in text
    assert 'value="kept topic"' in text
    assert 'value="not-an-address"' in text
    assert db_session.scalar(select(func.count(Contact.id))) == 0


def test_missing_email_is_a_form_error(staff_client, db_session):
    response = staff_client.post("/contacts/new", data=form_data(email=""))
    assert response.status_code == 400
    assert "Enter the contact&#39;s email address." in page_text(response)


def test_duplicate_email_is_refused_case_insensitively(staff_client, db_session):
    existing = make_contact(db_session, "Ana@Example.org")
    db_session.commit()
    response = staff_client.post("/contacts/new", data=form_data(email="ana@EXAMPLE.ORG"))
    assert response.status_code == 400
    text = page_text(response)
    assert "A contact with this email already exists" in text
    assert f'href="/contacts/{existing.id}"' in text
    assert db_session.scalar(select(func.count(Contact.id))) == 1


def test_internationalised_email_is_accepted_and_unique(staff_client, db_session):
    response = staff_client.post("/contacts/new", data=form_data(email="josé@exämple.org"))
    assert response.status_code == 302, page_text(response)
    contact = db_session.scalar(select(Contact))
    assert contact.email == "josé@exämple.org"
    assert "josé@exämple.org" in page_text(staff_client.get(f"/contacts/{contact.id}"))
    again = staff_client.post("/contacts/new", data=form_data(email="JOSÉ@EXÄMPLE.ORG"))
    assert again.status_code == 400
    assert "A contact with this email already exists" in page_text(again)


def test_unknown_countries_are_form_errors(staff_client, db_session):
    response = staff_client.post(
        "/contacts/new", data=form_data(country_code="Narnia", countries=["FR", "XX"])
    )
    assert response.status_code == 400
    text = page_text(response)
    assert "Unknown country &#39;Narnia&#39;" in text
    assert "Unknown country &#39;XX&#39;" in text
    assert db_session.scalar(select(func.count(Contact.id))) == 0


def test_edit_form_is_prefilled(staff_client, db_session, registry):
    contact = db_session.scalar(select(Contact).where(Contact.email_key == "amelie@example.org"))
    text = page_text(staff_client.get(f"/contacts/{contact.id}/edit"))
    assert 'value="amelie@example.org"' in text
    assert 'value="Droits Maintenant"' in text
    assert '<option selected value="FR">France</option>' in text
    assert '<option selected value="BY">Belarus</option>' in text
    assert 'value="women-rights"' in text


def test_edit_contact_changes_fields_countries_and_topics(staff_client, db_session):
    contact = make_contact(
        db_session, "old@example.org", country="FR", countries=("BY", "HN"), topics=("a", "b")
    )
    db_session.commit()
    before = contact.updated_at
    response = staff_client.post(
        f"/contacts/{contact.id}/edit",
        data=form_data(
            email="old@example.org", country_code="BY", countries=["HN", "GH"], topics="b, c",
            status="blocklisted", notes="Changed.",
        ),
    )
    assert response.status_code == 302
    db_session.expire_all()
    contact = db_session.get(Contact, contact.id)
    assert contact.country_code == "BY"
    links = {(link.country_code, link.is_primary) for link in contact.country_links}
    assert links == {("BY", True), ("HN", False), ("GH", False)}
    assert contact.topics == ["b", "c"]
    assert contact.status == "blocklisted"
    assert contact.notes == "Changed."
    assert contact.updated_at >= before


def test_edit_to_another_contacts_email_is_refused(staff_client, db_session):
    make_contact(db_session, "taken@example.org")
    contact = make_contact(db_session, "mine@example.org")
    db_session.commit()
    response = staff_client.post(
        f"/contacts/{contact.id}/edit", data=form_data(email="TAKEN@example.org", first_name="X")
    )
    assert response.status_code == 400
    assert "A contact with this email already exists" in page_text(response)
    assert 'value="X"' in page_text(response)
    db_session.expire_all()
    assert db_session.get(Contact, contact.id).email == "mine@example.org"


# --- status changes -------------------------------------------------------------------------


def test_deactivate_asks_for_confirmation_then_reactivate(staff_client, db_session):
    contact = make_contact(db_session, "c@example.org", first_name="Chris")
    db_session.commit()
    url = f"/contacts/{contact.id}/deactivate"

    confirm_page = staff_client.get(url)
    assert confirm_page.status_code == 200
    assert "Deactivate the contact Chris" in page_text(confirm_page)
    unconfirmed = staff_client.post(url)  # a form sent without JavaScript's confirm()
    assert unconfirmed.status_code == 200
    assert 'name="confirmed" value="1"' in page_text(unconfirmed)
    db_session.expire_all()
    assert db_session.get(Contact, contact.id).status == "active"

    response = staff_client.post(url, data={"confirmed": "1"})
    assert response.status_code == 302
    db_session.expire_all()
    assert db_session.get(Contact, contact.id).status == "inactive"
    text = page_text(staff_client.get(f"/contacts/{contact.id}"))
    assert "Chris is now inactive." in text
    assert "Reactivate" in text

    staff_client.post(f"/contacts/{contact.id}/reactivate", data={"confirmed": "1"})
    db_session.expire_all()
    assert db_session.get(Contact, contact.id).status == "active"


def test_viewer_can_read_but_not_change(viewer_client, db_session):
    contact = make_contact(db_session, "v@example.org")
    db_session.commit()
    assert viewer_client.get("/contacts").status_code == 200
    page = viewer_client.get(f"/contacts/{contact.id}")
    assert page.status_code == 200
    assert "Deactivate" not in page_text(page)
    assert "New contact" not in page_text(viewer_client.get("/contacts"))
    assert viewer_client.get("/contacts/export.csv").status_code == 200
    assert viewer_client.get("/contacts/new").status_code == 403
    assert viewer_client.post("/contacts/new", data=form_data()).status_code == 403
    assert viewer_client.get(f"/contacts/{contact.id}/edit").status_code == 403
    assert viewer_client.post(
        f"/contacts/{contact.id}/edit", data=form_data(email="v@example.org", first_name="Z")
    ).status_code == 403
    for action in ("deactivate", "reactivate"):
        response = viewer_client.post(f"/contacts/{contact.id}/{action}", data={"confirmed": "1"})
        assert response.status_code == 403
    db_session.expire_all()
    assert db_session.get(Contact, contact.id).status == "active"
    assert db_session.scalar(select(func.count(Contact.id))) == 1


def test_anonymous_users_are_sent_to_login(client):
    response = client.get("/contacts/new")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


# --- services -------------------------------------------------------------------------------


def test_service_keeps_the_primary_country_among_the_countries(app, db_session):
    contact = services.create_contact(
        db_session,
        services.ContactData(email="s@example.org", country_code="France", countries=["Turkiye"]),
    )
    assert contact.country_code == "FR"
    rows = db_session.execute(
        select(ContactCountry.country_code, ContactCountry.is_primary)
        .where(ContactCountry.contact_id == contact.id)
        .order_by(ContactCountry.country_code)
    ).all()
    assert rows == [("FR", True), ("TR", False)]
    services.set_countries(contact, "TR", ["FR"])
    db_session.flush()
    assert {(c.country_code, c.is_primary) for c in contact.country_links} == {
        ("TR", True), ("FR", False)
    }
    services.set_countries(contact, None, [])
    db_session.flush()
    assert contact.country_code is None
    assert db_session.scalar(select(func.count()).select_from(ContactCountry)) == 0


def test_service_errors_name_each_bad_field(app, db_session):
    with pytest.raises(ServiceError) as caught:
        services.create_contact(
            db_session,
            services.ContactData(email="bad", type="alien", language="de", country_code="Narnia"),
        )
    assert set(caught.value.fields) == {"email", "type", "language", "country_code"}


def test_duplicate_error_carries_the_existing_id(app, db_session):
    first = services.create_contact(db_session, services.ContactData(email="d@example.org"))
    with pytest.raises(services.DuplicateContactError) as caught:
        services.create_contact(db_session, services.ContactData(email="D@EXAMPLE.org"))
    assert caught.value.contact_id == first.id
    assert caught.value.fields == {"email": "A contact with this email already exists"}


def test_set_contact_status_rejects_unknown_values(app, db_session):
    contact = make_contact(db_session, "st@example.org")
    services.set_contact_status(db_session, contact, "blocklisted")
    assert contact.status == "blocklisted"
    with pytest.raises(ServiceError):
        services.set_contact_status(db_session, contact, "deleted")
