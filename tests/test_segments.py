"""Segments: saved filters over contacts, their live counts, members and the editor."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from outreach.calendar.models import Review, UPRSession
from outreach.contacts.models import Contact
from outreach.core.errors import ServiceError
from outreach.segments import services
from outreach.segments.models import Segment
from tests.factories import make_contact, make_organisation


def add_session(db_session, number: int, states: tuple[str, ...], status="confirmed"):
    upr_session = UPRSession(number=number, status=status)
    upr_session.reviews = [Review(country_code=code) for code in states]
    db_session.add(upr_session)
    db_session.flush()
    return upr_session


@pytest.fixture
def registry(db_session):
    """A handful of contacts; session 50 reviews Andorra and Belarus, session 36 also Panama."""
    add_session(db_session, 50, ("AD", "BY"))
    add_session(db_session, 36, ("AD", "BY", "PA"))
    org = make_organisation(db_session, "Fictional Rights Watch Andorra", country="AD")
    make_contact(db_session, "ana@example.org", type="ngo", country="AD", language="es",
                 topics=("children",), organisation=org, first_name="Ana", last_name="Abad")
    make_contact(db_session, "boris@example.org", type="nhri", country="CH", countries=("BY",),
                 topics=("civic-space",), first_name="Boris", last_name="Bykov")
    make_contact(db_session, "chloe@example.org", type="ngo", country="FR", language="fr",
                 topics=("children", "migration"), first_name="Chloé", last_name="Chevalier")
    make_contact(db_session, "diego@example.org", type="media", country="PA", language="es",
                 first_name="Diego", last_name="Duarte")
    make_contact(db_session, "eve@example.org", type="ngo", country="AD", status="inactive",
                 first_name="Eve", last_name="Evans")
    db_session.commit()


def member_emails(db_session, segment) -> set[str]:
    page, _ = services.members_page(db_session, segment, 1, 500)
    return {contact.email for contact in page.items}


# --- Services -----------------------------------------------------------------------------------


def test_create_segment_stores_the_normalised_filters(db_session, registry, admin_user):
    segment = services.create_segment(
        db_session,
        "  Andorra   NGOs ",
        {"types": ["ngo"], "countries": ["Andorre"], "topics": ["Children"], "statuses": []},
        "NGOs on Andorra",
        user=admin_user,
    )
    db_session.commit()
    assert segment.name == "Andorra NGOs"
    assert segment.filters == {"types": ["ngo"], "countries": ["AD"], "topics": ["children"]}
    assert segment.created_by_id == admin_user.id
    assert member_emails(db_session, segment) == {"ana@example.org"}


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"types": ["charity"]}, "types"),
        ({"countries": ["Atlantis"]}, "countries"),
        ({"languages": ["de"]}, "languages"),
        ({"statuses": ["asleep"]}, "statuses"),
        ({"session_under_review": "fifty"}, "session_under_review"),
        ({"session_under_review": 99}, "session_under_review"),
        ({"colour": ["blue"]}, "colour"),
    ],
)
def test_bad_filters_are_refused_with_the_field_at_fault(db_session, registry, filters, field):
    with pytest.raises(ServiceError) as excinfo:
        services.create_segment(db_session, "Bad", filters)
    assert field in excinfo.value.fields
    assert db_session.scalar(select(func.count(Segment.id))) == 0


def test_names_are_required_and_unique_ignoring_case(db_session, registry):
    first = services.create_segment(db_session, "Session 50 NGOs", {"types": ["ngo"]})
    with pytest.raises(ServiceError) as excinfo:
        services.create_segment(db_session, "session 50 ngos", {})
    assert "already exists" in excinfo.value.fields["name"]
    with pytest.raises(ServiceError) as excinfo:
        services.create_segment(db_session, "   ", {})
    assert "name" in excinfo.value.fields
    # Renaming a segment to its own name (in another case) is fine.
    services.update_segment(db_session, first, name="SESSION 50 NGOs")
    assert first.name == "SESSION 50 NGOs"


def test_count_equals_the_members_listed(db_session, registry):
    segment = services.create_segment(
        db_session, "Children", {"topics": ["children"], "statuses": ["active"]}
    )
    emails = member_emails(db_session, segment)
    assert emails == {"ana@example.org", "chloe@example.org"}
    assert services.count_members(db_session, segment) == len(emails)
    everyone = services.create_segment(db_session, "Everyone", {})
    assert services.count_members(db_session, everyone) == 5
    assert len(member_emails(db_session, everyone)) == 5


def test_session_filter_uses_the_states_under_review(db_session, registry):
    session_50 = services.create_segment(db_session, "S50", {"session_under_review": 50})
    session_36 = services.create_segment(db_session, "S36", {"session_under_review": 36})
    # Primary country AD, or BY as a country of work; not France, and Panama only in 36.
    assert member_emails(db_session, session_50) == {
        "ana@example.org", "boris@example.org", "eve@example.org"
    }
    assert "diego@example.org" in member_emails(db_session, session_36)
    # Moving a State to another session changes the members at once.
    upr_session = db_session.scalar(select(UPRSession).where(UPRSession.number == 50))
    upr_session.reviews = [r for r in upr_session.reviews if r.country_code != "BY"]
    db_session.flush()
    assert member_emails(db_session, session_50) == {"ana@example.org", "eve@example.org"}


def test_members_page_sorts_and_pages(db_session, registry):
    segment = services.create_segment(db_session, "All", {})
    page, sort = services.members_page(db_session, segment, 1, 2, "-name")
    assert sort == "-name"
    assert [c.last_name for c in page.items] == ["Evans", "Duarte"]
    assert page.total == 5 and page.pages == 3
    page, sort = services.members_page(db_session, segment, 3, 2, "nonsense")
    assert sort == "name"
    assert [c.last_name for c in page.items] == ["Evans"]


def test_delete_segment_leaves_contacts(db_session, registry):
    segment = services.create_segment(db_session, "All", {})
    services.delete_segment(db_session, segment)
    assert db_session.scalar(select(func.count(Segment.id))) == 0
    assert services.count_members(db_session, {}) == 5


# --- Pages --------------------------------------------------------------------------------------


def test_list_shows_each_segment_with_its_live_count(staff_client, db_session, registry):
    response = staff_client.get("/segments")
    assert response.status_code == 200
    assert "No segments yet" in response.get_data(as_text=True)
    services.create_segment(db_session, "Spanish speakers", {"languages": ["es"]}, "Hola")
    db_session.commit()
    page = staff_client.get("/segments").get_data(as_text=True)
    assert "Spanish speakers" in page and "Hola" in page
    assert re.search(r'<td class="text-end">\s*2\s*</td>', page)
    make_contact(db_session, "nuevo@example.org", language="es")
    db_session.commit()
    page = staff_client.get("/segments").get_data(as_text=True)
    assert re.search(r'<td class="text-end">\s*3\s*</td>', page)


def test_new_segment_editor_shows_the_count_without_javascript(staff_client, registry):
    response = staff_client.get("/segments/new")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    # The default criteria (active contacts only) already give a count.
    assert re.search(r"<strong>4</strong> contacts match", page)
    assert 'aria-live="polite"' in page
    assert '<option selected value="active">' in page
    assert "segments.js" in page


def test_preview_button_recounts_without_saving(staff_client, db_session, registry):
    response = staff_client.post(
        "/segments/new",
        data={"name": "", "types": ["ngo"], "countries": ["AD"], "statuses": ["active"],
              "topics": "children", "action": "preview"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r"<strong>1</strong> contact matches", page)
    assert "Ana Abad" in page
    assert "Give the segment a name" not in page
    assert db_session.scalar(select(func.count(Segment.id))) == 0


def test_editor_warns_when_no_criteria_are_chosen(staff_client, registry):
    response = staff_client.post("/segments/new", data={"name": "All", "action": "preview"})
    page = response.get_data(as_text=True)
    assert re.search(r"<strong>5</strong> contacts match", page)
    assert re.search(r'<p class="text-warning-emphasis mb-1" id="segment-everyone">', page)
    default = staff_client.get("/segments/new").get_data(as_text=True)
    assert 'mb-1 d-none" id="segment-everyone"' in default


def test_create_through_the_editor_then_show_it(staff_client, db_session, registry):
    response = staff_client.post(
        "/segments/new",
        data={"name": "Session 50 NGOs and NHRIs", "description": "For the pre-sessions",
              "types": ["ngo", "nhri"], "session": "50", "statuses": ["active"],
              "action": "save"},
    )
    assert response.status_code == 302
    segment = db_session.scalar(select(Segment))
    assert segment.filters == {
        "types": ["ngo", "nhri"], "session_under_review": 50, "statuses": ["active"]
    }
    assert response.headers["Location"].endswith(f"/segments/{segment.id}")
    page = staff_client.get(f"/segments/{segment.id}").get_data(as_text=True)
    assert "States under review in session 50" in page
    assert "Andorra, Belarus" in page
    assert "NGO, NHRI" in page
    assert "ana@example.org" in page and "boris@example.org" in page
    assert "eve@example.org" not in page  # inactive
    ana = db_session.scalar(select(Contact).where(Contact.email == "ana@example.org"))
    assert f'href="/contacts/{ana.id}">Ana Abad</a>' in page
    assert 'id="member-count">2<' in page
    assert (
        'href="/contacts/export.csv?type=ngo&amp;type=nhri&amp;session=50&amp;status=active"'
        in page
    )


def test_editor_keeps_input_and_explains_a_duplicate_name(staff_client, db_session, registry):
    services.create_segment(db_session, "Press", {"types": ["media"]})
    db_session.commit()
    response = staff_client.post(
        "/segments/new",
        data={"name": "PRESS", "types": ["media"], "topics": "migration, children",
              "action": "save"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "A segment named" in page and "already exists" in page
    assert 'value="PRESS"' in page
    assert 'value="migration, children"' in page
    assert db_session.scalar(select(func.count(Segment.id))) == 1


def test_editor_rejects_bad_choices_without_a_server_error(staff_client, db_session, registry):
    response = staff_client.post(
        "/segments/new",
        data={"name": "Odd", "types": ["spy"], "session": "77", "action": "save"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "not a valid choice" in page
    assert "Fix the filters above" in page
    assert db_session.scalar(select(func.count(Segment.id))) == 0


def test_edit_shows_the_saved_criteria_and_saves_changes(staff_client, db_session, registry):
    segment = services.create_segment(db_session, "Spanish", {"languages": ["es"]})
    db_session.commit()
    page = staff_client.get(f"/segments/{segment.id}/edit").get_data(as_text=True)
    assert '<option selected value="es">' in page
    assert re.search(r"<strong>2</strong> contacts match", page)
    response = staff_client.post(
        f"/segments/{segment.id}/edit",
        data={"name": "Spanish media", "languages": ["es"], "types": ["media"],
              "action": "save"},
    )
    assert response.status_code == 302
    db_session.expire_all()
    segment = db_session.get(Segment, segment.id)
    assert segment.name == "Spanish media"
    assert segment.filters == {"types": ["media"], "languages": ["es"]}


def test_preview_json_gives_the_count_and_a_sample(staff_client, registry):
    response = staff_client.get("/segments/preview?types=ngo&countries=AD&statuses=active")
    assert response.status_code == 200
    assert response.json == {
        "count": 1,
        "sample": [{"email": "ana@example.org", "name": "Ana Abad"}],
        "matches_everyone": False,
    }
    response = staff_client.get("/segments/preview?session=36&statuses=active")
    assert response.json["count"] == 3


@pytest.mark.parametrize(
    ("query", "field"),
    [("types=spy", "types"), ("session=abc", "session"), ("countries=XX", "countries")],
)
def test_preview_json_refuses_bad_values(staff_client, registry, query, field):
    response = staff_client.get(f"/segments/preview?{query}")
    assert response.status_code == 400
    assert field in response.json["error"]["fields"]
    assert "count" not in response.json


def test_detail_pages_members_and_sorts(staff_client, db_session, registry):
    segment = services.create_segment(db_session, "All", {})
    db_session.commit()
    page = staff_client.get(f"/segments/{segment.id}?per_page=2&sort=-name").get_data(as_text=True)
    assert "Showing 1&ndash;2 of 5" in page
    assert page.index("Evans") < page.index("Duarte")
    assert "Abad" not in page
    assert "No criteria: every contact" in page
    assert 'href="/contacts/export.csv"' in page


def test_unknown_segment_is_404(staff_client, registry):
    assert staff_client.get("/segments/999").status_code == 404
    assert staff_client.get("/segments/999/edit").status_code == 404


def test_delete_asks_for_confirmation_then_deletes(staff_client, db_session, registry):
    segment = services.create_segment(db_session, "Gone soon", {})
    db_session.commit()
    confirm = staff_client.get(f"/segments/{segment.id}/delete")
    assert confirm.status_code == 200
    assert "no contact is changed or deleted" in confirm.get_data(as_text=True)
    assert db_session.scalar(select(func.count(Segment.id))) == 1
    response = staff_client.post(f"/segments/{segment.id}/delete")
    assert response.status_code == 302
    assert db_session.scalar(select(func.count(Segment.id))) == 0
    assert "Gone soon" in staff_client.get("/segments").get_data(as_text=True)  # flash message


def test_viewer_can_read_but_not_change_segments(viewer_client, db_session, registry):
    segment = services.create_segment(db_session, "Readable", {"languages": ["fr"]})
    db_session.commit()
    assert viewer_client.get("/segments").status_code == 200
    detail = viewer_client.get(f"/segments/{segment.id}")
    assert detail.status_code == 200
    assert "chloe@example.org" in detail.get_data(as_text=True)
    assert f"/segments/{segment.id}/edit" not in detail.get_data(as_text=True)
    assert viewer_client.get("/segments/new").status_code == 403
    created = viewer_client.post("/segments/new", data={"name": "X", "action": "save"})
    assert created.status_code == 403
    assert viewer_client.post(f"/segments/{segment.id}/edit", data={"name": "Y"}).status_code == 403
    assert viewer_client.post(f"/segments/{segment.id}/delete").status_code == 403
    db_session.expire_all()
    assert [s.name for s in db_session.scalars(select(Segment))] == ["Readable"]
