"""Organisation pages: list with contact counts, page with its contacts, forms, deactivation."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from outreach.contacts import services
from outreach.contacts.models import Organisation
from tests.factories import make_contact, make_organisation


def page_text(response) -> str:
    return response.get_data(as_text=True)


def names_in(response) -> list[str]:
    """Organisation names of the list table, in display order."""
    return re.findall(r'<td><a href="/organisations/\d+">([^<]+)</a></td>', page_text(response))


def org_form(**changes) -> dict:
    data = {
        "name": "Geneva Rights Centre",
        "type": "ngo",
        "country_code": "CH",
        "ecosoc_status": "y",
        "ganhri_accreditation": "",
        "website": "",
        "notes": "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def orgs(db_session):
    upr = make_organisation(db_session, "UPR Info", country="CH", ecosoc_status=True)
    cndh = make_organisation(
        db_session, "Conseil national des droits de l'homme", type="nhri", country="MA",
        ganhri_accreditation="A",
    )
    mission = make_organisation(
        db_session, "Permanent Mission of Honduras", type="permanent_mission", country="HN"
    )
    for n in range(3):
        make_contact(db_session, f"upr{n}@example.org", organisation=upr, last_name=f"U{n}")
    make_contact(db_session, "cndh@example.org", organisation=cndh, type="nhri")
    make_contact(db_session, "loose@example.org")
    db_session.commit()
    return upr, cndh, mission


def test_list_shows_contact_counts(staff_client, orgs):
    response = staff_client.get("/organisations")
    assert response.status_code == 200
    text = page_text(response)
    assert names_in(response) == [
        "Conseil national des droits de l&#39;homme",
        "Permanent Mission of Honduras",
        "UPR Info",
    ]
    counts = re.findall(r'<td class="text-end">(\d+)</td>', text)
    assert counts == ["1", "0", "3"]
    assert "ECOSOC status" in text and "GANHRI A" in text
    assert "Morocco" in text and "Honduras" in text


def test_list_search_type_filter_and_sort(staff_client, orgs):
    assert names_in(staff_client.get("/organisations?q=upr")) == ["UPR Info"]
    assert names_in(staff_client.get("/organisations?q=  conseil   NATIONAL")) == [
        "Conseil national des droits de l&#39;homme"
    ]
    assert names_in(staff_client.get("/organisations?type=permanent_mission")) == [
        "Permanent Mission of Honduras"
    ]
    by_count = names_in(staff_client.get("/organisations?sort=-contacts"))
    assert by_count[0] == "UPR Info" and by_count[-1] == "Permanent Mission of Honduras"
    assert names_in(staff_client.get("/organisations?sort=-name"))[0] == "UPR Info"


def test_list_filters_by_status(staff_client, orgs, db_session):
    services.set_organisation_active(db_session, orgs[2], False)
    db_session.commit()
    assert "Permanent Mission of Honduras" not in names_in(
        staff_client.get("/organisations?active=yes")
    )
    assert names_in(staff_client.get("/organisations?active=no")) == [
        "Permanent Mission of Honduras"
    ]


@pytest.mark.parametrize("query", ["type=alien", "active=maybe"])
def test_bad_list_filters_show_an_error(staff_client, orgs, query):
    response = staff_client.get(f"/organisations?{query}")
    assert response.status_code == 400
    assert "The filter could not be applied" in page_text(response)
    assert names_in(response) == []


def test_list_pagination(staff_client, db_session):
    for n in range(5):
        make_organisation(db_session, f"Org {n}")
    db_session.commit()
    response = staff_client.get("/organisations?per_page=2&page=3")
    assert names_in(response) == ["Org 4"]
    assert "Showing 5&ndash;5 of 5" in page_text(response)


def test_empty_list_says_what_to_do(staff_client):
    text = page_text(staff_client.get("/organisations"))
    assert "No organisations yet" in text and "New organisation" in text
    none_match = page_text(staff_client.get("/organisations?q=zzz"))
    assert "No organisations match" in none_match


def test_viewers_are_not_offered_to_create(viewer_client):
    text = page_text(viewer_client.get("/organisations"))
    assert "No organisations yet" in text
    assert "New organisation" not in text


def test_organisation_page_lists_its_contacts(staff_client, orgs):
    upr, cndh, mission = orgs
    text = page_text(staff_client.get(f"/organisations/{upr.id}"))
    assert "ECOSOC consultative status" in text
    assert all(f"upr{n}@example.org" in text for n in range(3))
    assert "cndh@example.org" not in text and "loose@example.org" not in text
    nhri = page_text(staff_client.get(f"/organisations/{cndh.id}"))
    assert "GANHRI accreditation" in nhri and "GANHRI A" in nhri
    pm = page_text(staff_client.get(f"/organisations/{mission.id}"))
    assert "State represented" in pm and "Honduras" in pm
    assert "No contacts in this organisation" in pm


def test_unknown_organisation_ids_are_404(staff_client):
    assert staff_client.get("/organisations/999").status_code == 404
    assert staff_client.get("/organisations/999/edit").status_code == 404
    response = staff_client.post("/organisations/999/deactivate", data={"confirmed": "1"})
    assert response.status_code == 404


def test_create_organisation(staff_client, db_session):
    response = staff_client.post(
        "/organisations/new", data=org_form(name="  Geneva   Rights Centre ", website="grc.example")
    )
    assert response.status_code == 302
    org = db_session.scalar(select(Organisation))
    assert response.headers["Location"] == f"/organisations/{org.id}"
    assert (org.name, org.name_key) == ("Geneva Rights Centre", "geneva rights centre")
    assert org.ecosoc_status is True
    assert org.website == "https://grc.example"
    assert org.active is True


def test_fields_of_other_types_are_not_kept(staff_client, db_session):
    staff_client.post(
        "/organisations/new",
        data=org_form(name="Mission", type="permanent_mission", country_code="Honduras",
                      ganhri_accreditation="A"),
    )
    org = db_session.scalar(select(Organisation))
    assert org.country_code == "HN"
    assert org.ecosoc_status is False
    assert org.ganhri_accreditation is None


def test_duplicate_and_invalid_organisations_rerender_the_form(staff_client, orgs, db_session):
    upr = orgs[0]
    response = staff_client.post(
        "/organisations/new", data=org_form(name="upr   INFO", notes="typed notes")
    )
    assert response.status_code == 400
    text = page_text(response)
    assert "An organisation with this name already exists" in text
    assert f'href="/organisations/{upr.id}"' in text
    assert "typed notes" in text
    bad = staff_client.post("/organisations/new", data=org_form(country_code="Atlantis"))
    assert bad.status_code == 400
    assert "Unknown country &#39;Atlantis&#39;" in page_text(bad)
    empty = staff_client.post("/organisations/new", data=org_form(name=""))
    assert empty.status_code == 400
    assert "Enter the organisation&#39;s name." in page_text(empty)
    assert db_session.scalar(select(func.count(Organisation.id))) == 3


def test_edit_organisation(staff_client, orgs, db_session):
    upr = orgs[0]
    form_page = page_text(staff_client.get(f"/organisations/{upr.id}/edit"))
    assert 'value="UPR Info"' in form_page
    assert '<option selected value="CH">Switzerland</option>' in form_page
    response = staff_client.post(
        f"/organisations/{upr.id}/edit",
        data=org_form(name="UPR Info Geneva", ecosoc_status=None, notes="Renamed."),
    )
    assert response.status_code == 302
    db_session.expire_all()
    org = db_session.get(Organisation, upr.id)
    assert org.name == "UPR Info Geneva"
    assert org.ecosoc_status is False
    assert org.notes == "Renamed."
    # Keeping its own name is not a duplicate.
    again = staff_client.post(
        f"/organisations/{upr.id}/edit", data=org_form(name="upr info geneva")
    )
    assert again.status_code == 302


def test_permanent_mission_edit_form_says_state_represented(staff_client, orgs):
    text = page_text(staff_client.get(f"/organisations/{orgs[2].id}/edit"))
    assert ">State represented</label>" in text


def test_deactivate_and_reactivate_organisation(staff_client, orgs, db_session):
    upr = orgs[0]
    url = f"/organisations/{upr.id}/deactivate"
    assert "Deactivate the organisation UPR Info?" in page_text(staff_client.get(url))
    staff_client.post(url)  # without confirmation: nothing changes
    db_session.expire_all()
    assert db_session.get(Organisation, upr.id).active is True

    assert staff_client.post(url, data={"confirmed": "1"}).status_code == 302
    db_session.expire_all()
    assert db_session.get(Organisation, upr.id).active is False
    assert '<option value="UPR Info">' not in page_text(staff_client.get("/contacts/new"))
    assert "Inactive" in page_text(staff_client.get(f"/organisations/{upr.id}"))

    staff_client.post(f"/organisations/{upr.id}/reactivate", data={"confirmed": "1"})
    db_session.expire_all()
    assert db_session.get(Organisation, upr.id).active is True


def test_viewer_cannot_change_organisations(viewer_client, orgs, db_session):
    upr = orgs[0]
    assert viewer_client.get(f"/organisations/{upr.id}").status_code == 200
    assert viewer_client.get("/organisations/new").status_code == 403
    assert viewer_client.post("/organisations/new", data=org_form()).status_code == 403
    edit = viewer_client.post(f"/organisations/{upr.id}/edit", data=org_form(name="Hijacked"))
    assert edit.status_code == 403
    response = viewer_client.post(f"/organisations/{upr.id}/deactivate", data={"confirmed": "1"})
    assert response.status_code == 403
    db_session.expire_all()
    org = db_session.get(Organisation, upr.id)
    assert (org.name, org.active) == ("UPR Info", True)


def test_get_or_create_matches_names_ignoring_case_and_spaces(app, db_session):
    first = services.get_or_create_organisation(db_session, " Amnesty   International ", "ngo")
    same = services.get_or_create_organisation(db_session, "AMNESTY international")
    assert same.id == first.id
    assert first.name == "Amnesty International"
    assert services.get_or_create_organisation(db_session, "   ") is None
    mission = services.get_or_create_organisation(
        db_session, "Mission of Peru", type="permanent_mission", country="Peru"
    )
    assert (mission.type, mission.country_code) == ("permanent_mission", "PE")
    assert db_session.scalar(select(func.count(Organisation.id))) == 2
