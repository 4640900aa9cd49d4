"""Calendar pages: upcoming deadlines, sessions, a session's States, and staff editing."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy import select

from outreach.calendar.loader import load_calendar
from outreach.calendar.models import KeyDate, Review, UPRSession
from outreach.calendar.timing import kind_datetime
from outreach.core.database import utcnow
from outreach.core.timezones import local_date_at, to_local
from tests.factories import make_contact, make_organisation


def text(response) -> str:
    return response.get_data(as_text=True)


def get_session(db_session, number: int) -> UPRSession | None:
    db_session.expire_all()
    return db_session.scalar(select(UPRSession).where(UPRSession.number == number))


def in_days(days: int) -> date:
    return to_local(utcnow()).date() + timedelta(days=days)


def add_session(db_session, number, states=(), **values) -> UPRSession:
    upr_session = UPRSession(number=number, **values)
    upr_session.reviews = [Review(country_code=code) for code in states]
    db_session.add(upr_session)
    db_session.flush()
    return upr_session


def add_date(db_session, upr_session, kind, day, *, state=None, **values) -> KeyDate:
    starts_at, all_day = kind_datetime(kind, day)
    review = next(r for r in upr_session.reviews if r.country_code == state) if state else None
    row = KeyDate(
        session=upr_session, review=review, kind=kind, starts_at=starts_at, all_day=all_day,
        **values,
    )
    db_session.add(row)
    db_session.flush()
    return row


@pytest.fixture
def upcoming(db_session):
    """Session 90 (France, Germany) with dates around now, and a projected session 91."""
    upr = add_session(
        db_session, 90, ["FR", "DE"], cycle_number=None, wg_start=in_days(120),
        wg_end=in_days(131), notes="A test session",
    )
    add_date(
        db_session, upr, "stakeholder_submission", in_days(10), estimated=True,
        description="Send your written contribution", url="https://example.org/submit",
    )
    add_date(db_session, upr, "pre_session_application", in_days(20), state="DE",
             description="Apply to speak about Germany")
    add_date(db_session, upr, "pre_session_statement", in_days(200), description="Far away")
    add_date(db_session, upr, "pre_session_statement", in_days(-3), description="Long gone")
    add_date(db_session, upr, "pre_session", in_days(30), description="Pre-sessions in Geneva")
    add_session(db_session, 91, ["IT"], status="projected", wg_start=in_days(300),
                wg_end=in_days(311))
    db_session.commit()
    return upr


@pytest.fixture
def calendar(db_session):
    load_calendar(db_session)
    db_session.commit()
    return db_session


# --- Deadlines ----------------------------------------------------------------------------------


def test_deadlines_need_a_login(client):
    response = client.get("/deadlines")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_deadlines_lists_the_window_in_geneva_time_with_the_states(staff_client, upcoming):
    response = staff_client.get("/deadlines")
    page = text(response)

    assert response.status_code == 200
    submission = kind_datetime("stakeholder_submission", in_days(10))[0]
    assert to_local(submission).strftime("%a %d %b %Y, 12:00") in page
    assert "Send your written contribution" in page
    assert '<a href="https://example.org/submit" rel="noopener"' in page
    assert "Apply to speak about Germany" in page
    assert "France, Germany" in page  # the States a session-wide deadline concerns
    assert "10 days" in page and "20 days" in page
    assert "estimated" in page
    assert 'href="/sessions/90"' in page
    assert "Far away" not in page and "Long gone" not in page
    assert "Pre-sessions in Geneva" not in page  # an event, not a deadline


def test_deadlines_filters_by_country_window_and_kind(staff_client, upcoming):
    france = text(staff_client.get("/deadlines?country=FR"))
    assert "Send your written contribution" in france
    assert "Apply to speak about Germany" not in france

    by_name = text(staff_client.get("/deadlines?country=Germany"))
    assert "Apply to speak about Germany" in by_name

    wide = text(staff_client.get("/deadlines?days=365&show=all"))
    assert "Far away" in wide and "Pre-sessions in Geneva" in wide
    assert "Long gone" not in wide

    other = text(staff_client.get("/deadlines?session=91"))
    assert "Nothing due in the next 90 days for this filter" in other

    clamped = staff_client.get("/deadlines?days=5000")
    assert clamped.status_code == 200 and 'value="365"' in text(clamped)


def test_deadlines_country_select_and_bad_filters(staff_client, upcoming):
    page = text(staff_client.get("/deadlines"))
    assert '<option value="IT">Italy</option>' in page
    assert '<option value="FR" selected>France</option>' in text(
        staff_client.get("/deadlines?country=fr")
    )

    response = staff_client.get("/deadlines?country=Narnia")
    assert response.status_code == 400
    assert "Unknown country" in text(response)
    assert staff_client.get("/deadlines?session=abc").status_code == 400


def test_deadlines_empty_state(staff_client):
    page = text(staff_client.get("/deadlines"))
    assert "No deadlines in the next 90 days" in page
    assert 'href="/sessions"' in page


# --- Sessions list and session page -------------------------------------------------------------


def test_sessions_list_from_the_shipped_calendar(staff_client, calendar):
    page = text(staff_client.get("/sessions"))

    assert "Cycle 4" in page and "Cycle 3" in page
    assert page.index("Session 54") < page.index("Session 41") < page.index("Session 36")
    assert page.count("projected — dates and States unconfirmed") == 3  # 52, 53, 54
    assert "03 Nov – 14 Nov 2025" in page


def test_session_page_shows_states_dates_and_contacts(staff_client, db_session, upcoming):
    org = make_organisation(db_session, "Droits Ici")
    ana = make_contact(db_session, "ana@example.org", country="FR", first_name="Ana",
                       last_name="Abel", organisation=org)
    make_contact(db_session, "bo@example.org", country="BE", countries=("FR", "DE"),
                 first_name="Bo", last_name="Berg")
    make_contact(db_session, "gone@example.org", country="FR", status="inactive",
                 first_name="Gone", last_name="Away")
    db_session.commit()

    response = staff_client.get("/sessions/90")
    page = text(response)

    assert response.status_code == 200
    assert "France" in page and "Germany" in page
    assert "Pre-session applications deadline" in page  # Germany's own date
    assert "estimated" in page
    assert 'href="/contacts?country=FR">2 contacts' in page
    assert 'href="/contacts?country=DE">1 contact<' in page
    assert f'<a href="/contacts/{ana.id}">Ana Abel</a> (Droits Ici)' in page
    assert "Bo Berg</a>" in page
    assert "Gone Away" not in page
    assert 'href="/contacts?session=90"' in page
    assert "A test session" in page


def test_projected_session_is_marked(staff_client, upcoming):
    page = text(staff_client.get("/sessions/91"))
    assert "projected — dates and States unconfirmed" in page
    assert "Confirm session" in page


def test_real_calendar_usa_moved_to_53(staff_client, calendar):
    fifty = text(staff_client.get("/sessions/50"))
    fifty_three = text(staff_client.get("/sessions/53"))
    usa = '<th scope="row">United States</th>'
    assert '<th scope="row">Andorra</th>' in fifty and usa not in fifty
    assert usa in fifty_three and "Moved from session 50" in fifty_three
    fifty_four = text(staff_client.get("/sessions/54"))
    assert "Not for Myanmar: see its own date below." in fifty_four


def test_unknown_session_state_or_key_date_is_404(staff_client, db_session, upcoming):
    missing = staff_client.get("/sessions/999")
    assert missing.status_code == 404 and "There is no UPR session 999." in text(missing)
    assert staff_client.get("/sessions/999/edit").status_code == 404
    assert staff_client.post("/sessions/999/states/add", data={"country": "FR"}).status_code == 404
    assert staff_client.get("/sessions/90/states/IT/move").status_code == 404
    other = add_date(db_session, get_session(db_session, 91), "national_report", in_days(40))
    db_session.commit()
    assert staff_client.get(f"/sessions/90/key-dates/{other.id}/edit").status_code == 404
    assert staff_client.get("/sessions/90/key-dates/123456/delete").status_code == 404


# --- Viewers ------------------------------------------------------------------------------------


def test_viewer_reads_but_cannot_edit(viewer_client, db_session, upcoming):
    page = text(viewer_client.get("/sessions/90"))
    assert "France" in page
    assert "Edit session" not in page and "Add the State" not in page and ">Remove" not in page

    key_date = db_session.scalar(select(KeyDate).where(KeyDate.estimated.is_(True)))
    posts = [
        ("/sessions/new", {"number": "95"}),
        ("/sessions/90/edit", {"number": "90"}),
        ("/sessions/91/confirm", {}),
        ("/sessions/90/states/add", {"country": "IT"}),
        ("/sessions/90/states/FR/remove", {}),
        ("/sessions/90/states/FR/move", {"target": "91"}),
        ("/sessions/90/key-dates/new", {"kind": "national_report", "day": "2030-01-01"}),
        (f"/sessions/90/key-dates/{key_date.id}/confirm", {}),
        (f"/sessions/90/key-dates/{key_date.id}/delete", {}),
    ]
    for url, data in posts:
        assert viewer_client.post(url, data=data).status_code == 403, url
    assert viewer_client.get("/sessions/new").status_code == 403
    assert sorted(get_session(db_session, 90).state_codes) == ["DE", "FR"]
    assert get_session(db_session, 91).status == "projected"
    assert db_session.get(KeyDate, key_date.id).estimated


# --- Staff editing: sessions --------------------------------------------------------------------


def test_staff_create_session_with_estimated_dates(staff_client, db_session):
    form = staff_client.get("/sessions/new")
    assert form.status_code == 200 and 'name="number"' in text(form)

    response = staff_client.post("/sessions/new", data={
        "number": "60", "cycle_number": "5", "wg_start": "2030-11-04", "wg_end": "2030-11-15",
        "location": "Geneva", "status": "projected", "notes": "Fifth cycle", "derive_dates": "y",
    }, follow_redirects=True)
    page = text(response)

    assert response.status_code == 200
    assert "Session 60 created." in page
    assert "projected — dates and States unconfirmed" in page
    upr = get_session(db_session, 60)
    assert upr.is_projected and len(upr.key_dates) == 9
    assert all(kd.estimated for kd in upr.key_dates)


def test_staff_session_form_errors_keep_what_was_typed(staff_client, db_session, upcoming):
    duplicate = staff_client.post("/sessions/new", data={"number": "90", "location": "Bern"})
    assert duplicate.status_code == 400
    assert "Session 90 already exists." in text(duplicate)
    assert 'value="Bern"' in text(duplicate)

    backwards = staff_client.post("/sessions/new", data={
        "number": "92", "wg_start": "2030-05-10", "wg_end": "2030-05-01",
    })
    assert backwards.status_code == 400
    assert "cannot end before it starts" in text(backwards)
    assert get_session(db_session, 92) is None


def test_staff_edit_and_confirm_session(staff_client, db_session, upcoming):
    edit = staff_client.get("/sessions/90/edit")
    assert edit.status_code == 200 and "A test session</textarea>" in text(edit)

    response = staff_client.post("/sessions/90/edit", data={
        "number": "90", "wg_start": "2031-01-20", "wg_end": "2031-01-31", "location": "Geneva",
        "status": "confirmed", "notes": "Dates announced",
    }, follow_redirects=True)
    assert "Session 90 saved." in text(response)
    assert get_session(db_session, 90).wg_start == date(2031, 1, 20)

    confirmed = staff_client.post("/sessions/91/confirm", follow_redirects=True)
    assert "Session 91 is now confirmed." in text(confirmed)
    assert get_session(db_session, 91).status == "confirmed"


# --- Staff editing: States ----------------------------------------------------------------------


def test_staff_add_state_by_code_or_name(staff_client, db_session, upcoming):
    response = staff_client.post(
        "/sessions/90/states/add", data={"country": "IT", "note": "Added late"},
        follow_redirects=True,
    )
    assert "Italy added to session 90." in text(response)
    by_name = staff_client.post(
        "/sessions/90/states/add", data={"country": "Turkiye"}, follow_redirects=True
    )
    assert "Türkiye added to session 90." in text(by_name)
    assert sorted(get_session(db_session, 90).state_codes) == ["DE", "FR", "IT", "TR"]


def test_staff_add_state_errors(staff_client, db_session, upcoming):
    unknown = staff_client.post("/sessions/90/states/add", data={"country": "Narnia"})
    assert unknown.status_code == 400 and "Unknown country" in text(unknown)
    duplicate = staff_client.post("/sessions/90/states/add", data={"country": "France"})
    assert duplicate.status_code == 400
    assert "already under review in session 90" in text(duplicate)
    assert sorted(get_session(db_session, 90).state_codes) == ["DE", "FR"]


def test_staff_move_usa_from_50_to_53(staff_client, db_session):
    fifty = add_session(db_session, 50, ["US", "AD"])
    add_session(db_session, 53, ["GR"])
    own = add_date(db_session, fifty, "pre_session_statement", date(2025, 10, 1), state="US")
    db_session.commit()

    form = staff_client.get("/sessions/50/states/US/move")
    assert form.status_code == 200 and "Session 53" in text(form)
    response = staff_client.post("/sessions/50/states/US/move", data={
        "target": "53", "moved_on": "2025-11-07", "note": "",
    }, follow_redirects=True)
    page = text(response)

    assert "United States moved from session 50 to session 53." in page
    assert "Moved from session 50 on 2025-11-07" in page
    assert get_session(db_session, 50).state_codes == ["AD"]
    assert sorted(get_session(db_session, 53).state_codes) == ["GR", "US"]
    assert db_session.get(KeyDate, own.id).session.number == 53


def test_staff_move_refuses_a_state_already_in_the_target(staff_client, db_session):
    add_session(db_session, 50, ["US"])
    add_session(db_session, 53, ["US"])
    db_session.commit()
    response = staff_client.post("/sessions/50/states/US/move", data={"target": "53"})
    assert response.status_code == 400
    assert "already under review in session 53" in text(response)
    assert get_session(db_session, 50).state_codes == ["US"]


def test_staff_remove_state_after_confirmation(staff_client, db_session, upcoming):
    confirm = staff_client.get("/sessions/90/states/DE/remove")
    assert confirm.status_code == 200
    assert "Remove Germany from session 90?" in text(confirm)
    assert "1 State-specific key date" in text(confirm)
    assert sorted(get_session(db_session, 90).state_codes) == ["DE", "FR"]

    response = staff_client.post("/sessions/90/states/DE/remove", follow_redirects=True)
    assert "Germany removed from session 90." in text(response)
    assert get_session(db_session, 90).state_codes == ["FR"]
    assert db_session.scalar(select(KeyDate).where(KeyDate.review_id.is_not(None))) is None


# --- Staff editing: key dates -------------------------------------------------------------------


def test_staff_add_key_date_in_geneva_time(staff_client, db_session, upcoming):
    day = in_days(15)
    response = staff_client.post("/sessions/90/key-dates/new", data={
        "kind": "pre_session_statement", "day": day.isoformat(), "at": "09:30",
        "state": "FR", "description": "Statements for France", "url": "https://example.org/s",
    }, follow_redirects=True)
    assert "Pre-session statements due added to session 90." in text(response)

    row = db_session.scalar(select(KeyDate).where(KeyDate.description == "Statements for France"))
    assert row.starts_at == local_date_at(day, time(9, 30))
    assert (row.source, row.estimated, row.review.country_code) == ("staff", False, "FR")
    deadlines = text(staff_client.get("/deadlines?country=FR"))
    assert to_local(row.starts_at).strftime("%a %d %b %Y, 09:30") in deadlines


def test_staff_key_date_errors(staff_client, db_session, upcoming):
    before = db_session.scalar(select(KeyDate.id).order_by(KeyDate.id.desc()))
    backwards = staff_client.post("/sessions/90/key-dates/new", data={
        "kind": "pre_session", "day": "2030-05-10", "end_day": "2030-05-01",
        "description": "Typed text stays",
    })
    assert backwards.status_code == 400
    assert "The end date cannot be before the start." in text(backwards)
    assert "Typed text stays" in text(backwards)
    missing = staff_client.post("/sessions/90/key-dates/new", data={"kind": "pre_session"})
    assert missing.status_code == 400 and "Give the date." in text(missing)
    bad_url = staff_client.post("/sessions/90/key-dates/new", data={
        "kind": "pre_session", "day": "2030-05-10", "url": "not a url",
    })
    assert bad_url.status_code == 400 and "full web address" in text(bad_url)
    assert db_session.scalar(select(KeyDate.id).order_by(KeyDate.id.desc())) == before


def test_staff_edit_confirm_and_delete_key_dates(staff_client, db_session, upcoming):
    key_id = db_session.scalar(select(KeyDate.id).where(KeyDate.estimated.is_(True)))
    form = text(staff_client.get(f"/sessions/90/key-dates/{key_id}/edit"))
    assert in_days(10).isoformat() in form and "checked" in form

    new_day = in_days(12)
    response = staff_client.post(f"/sessions/90/key-dates/{key_id}/edit", data={
        "kind": "stakeholder_submission", "day": new_day.isoformat(), "estimated": "y",
        "description": "Moved by two days", "url": "",
    }, follow_redirects=True)
    assert "Stakeholder submissions deadline saved." in text(response)
    db_session.expire_all()
    row = db_session.get(KeyDate, key_id)
    assert (row.source, row.estimated) == ("staff", True)
    assert to_local(row.starts_at).date() == new_day and row.url == ""

    confirmed = staff_client.post(
        f"/sessions/90/key-dates/{key_id}/confirm", follow_redirects=True
    )
    assert "Stakeholder submissions deadline confirmed." in text(confirmed)
    db_session.expire_all()
    assert db_session.get(KeyDate, key_id).estimated is False

    confirm = staff_client.get(f"/sessions/90/key-dates/{key_id}/delete")
    assert "This cannot be undone." in text(confirm)
    assert db_session.get(KeyDate, key_id) is not None
    deleted = staff_client.post(
        f"/sessions/90/key-dates/{key_id}/delete", follow_redirects=True
    )
    assert "Stakeholder submissions deadline deleted from session 90." in text(deleted)
    db_session.expire_all()
    assert db_session.get(KeyDate, key_id) is None


def test_staff_edit_unticking_estimated_confirms(staff_client, db_session, upcoming):
    estimated = db_session.scalar(select(KeyDate).where(KeyDate.estimated.is_(True)))
    staff_client.post(f"/sessions/90/key-dates/{estimated.id}/edit", data={
        "kind": "stakeholder_submission", "day": in_days(10).isoformat(),
    })
    db_session.expire_all()
    row = db_session.get(KeyDate, estimated.id)
    assert (row.source, row.estimated) == ("staff", False)
    assert to_local(row.starts_at).time() == time(12, 0)
