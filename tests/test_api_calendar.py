"""/sessions and /deadlines through the API."""
# ruff: noqa: F811  (the API fixtures are imported from tests.api_support)

from __future__ import annotations

from datetime import date, datetime, time

import time_machine

from outreach.calendar.models import KeyDate, Review, UPRSession
from outreach.core.timezones import local_date_at
from tests.api_support import api, assert_error, viewer_api  # noqa: F401  (fixtures)


def make_session(db_session, number: int, states=("FR",)) -> UPRSession:
    upr = UPRSession(number=number, wg_start=date(2030, 1, 7), wg_end=date(2030, 1, 18))
    upr.reviews = [Review(country_code=code) for code in states]
    db_session.add(upr)
    db_session.flush()
    return upr


def add_deadline(db_session, upr, day: date, kind="stakeholder_submission", review=None):
    key_date = KeyDate(
        session=upr, review=review, kind=kind, starts_at=local_date_at(day, time(0)), all_day=True
    )
    db_session.add(key_date)
    db_session.flush()
    return key_date


def test_list_and_get_sessions(viewer_api, db_session):
    upr = make_session(db_session, 46, ("FR", "KE"))
    add_deadline(db_session, upr, date(2029, 10, 1))
    make_session(db_session, 47)
    db_session.commit()
    listing = viewer_api.get("/sessions").get_json()
    assert [item["number"] for item in listing["items"]] == [47, 46]
    assert listing["total"] == 2
    body = viewer_api.get("/sessions/46").get_json()
    assert [review["country"] for review in body["reviews"]] == ["FR", "KE"]
    assert body["wg_start"] == "2030-01-07"
    assert [kd["kind"] for kd in body["key_dates"]] == ["stakeholder_submission"]
    assert_error(viewer_api.get("/sessions/99"), 404)


def test_create_and_patch_a_session(api, db_session):
    created = api.post(
        "/sessions", json={"number": 50, "wg_start": "2031-05-05", "wg_end": "2031-05-16"}
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    assert body["number"] == 50 and body["key_dates"], "usual key dates are derived"
    patched = api.patch("/sessions/50", json={"location": "Online", "status": "projected"})
    assert patched.status_code == 200
    assert (patched.get_json()["location"], patched.get_json()["status"]) == ("Online", "projected")
    assert_error(api.post("/sessions", json={"number": 50}), 422)
    error = assert_error(
        api.post(
            "/sessions", json={"number": 51, "wg_start": "2031-05-16", "wg_end": "2031-05-05"}
        ),
        422,
    )
    assert "wg_end" in error["fields"]
    assert_error(api.post("/sessions", json={"number": "fifty"}), 400)
    assert_error(api.post("/sessions", json={"number": 52, "wg_start": "05/05/2031"}), 400)
    assert_error(api.patch("/sessions/404", json={"notes": "x"}), 404)


@time_machine.travel(datetime(2029, 9, 1, 12, 0), tick=False)
def test_deadlines_between_dates_and_by_country(viewer_api, db_session):
    france = make_session(db_session, 46, ("FR",))
    kenya = make_session(db_session, 47, ("KE",))
    add_deadline(db_session, france, date(2029, 10, 1))
    add_deadline(db_session, kenya, date(2029, 11, 20))
    add_deadline(db_session, kenya, date(2030, 6, 1))
    db_session.commit()

    def days(query: str) -> list[str]:
        response = viewer_api.get("/deadlines" + query)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [item["starts_at"][:10] for item in response.get_json()["items"]]

    assert len(days("")) == 2  # the next 90 days by default
    assert days("?from=2029-10-02&to=2030-12-31") == ["2029-11-19", "2030-05-31"]
    assert days("?from=2029-09-01&to=2029-09-30") == []
    assert days("?from=2029-09-01&to=2030-12-31&country=KE") == ["2029-11-19", "2030-05-31"]
    assert days("?from=2029-09-01&to=2030-12-31&country=France") == ["2029-09-30"]
    items = viewer_api.get("/deadlines?from=2029-09-01&to=2029-12-31").get_json()["items"]
    assert items[0]["states"] == ["FR"] and items[0]["session"] == 46
    assert_error(viewer_api.get("/deadlines?from=2029-13-01"), 400)
    assert_error(viewer_api.get("/deadlines?from=2029-10-01&to=2029-09-01"), 400)
    assert_error(viewer_api.get("/deadlines?country=Atlantis"), 400)
