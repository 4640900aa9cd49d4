"""Calendar feeds: iCalendar per site, session, State and subscriber, and the Atom deadlines feed.

Every feed is parsed back (icalendar, ElementTree) and checked as a calendar app or a feed reader
would see it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from icalendar import Calendar

from outreach.calendar.feeds import calendar_feed_url, calendar_token
from outreach.calendar.loader import load_calendar
from outreach.calendar.models import KeyDate, Review, UPRSession
from outreach.calendar.timing import kind_datetime
from outreach.core.database import utcnow
from outreach.core.timezones import local_date_at, to_local
from outreach.subscriptions.models import Subscription, SubscriptionSession
from outreach.subscriptions.services import preferences_token
from tests.factories import make_contact

ATOM = "{http://www.w3.org/2005/Atom}"


def in_days(days: int) -> date:
    return to_local(utcnow()).date() + timedelta(days=days)


def add_session(db_session, number: int, states=(), **values) -> UPRSession:
    upr_session = UPRSession(number=number, **values)
    upr_session.reviews = [Review(country_code=code) for code in states]
    db_session.add(upr_session)
    db_session.flush()
    return upr_session


def add_date(db_session, upr_session, kind, day, *, state=None, last_day=None, **values):
    starts_at, all_day = kind_datetime(kind, day)
    review = next(r for r in upr_session.reviews if r.country_code == state) if state else None
    ends_at = kind_datetime(kind, last_day)[0] if last_day else None
    row = KeyDate(
        session=upr_session, review=review, kind=kind, starts_at=starts_at, ends_at=ends_at,
        all_day=all_day, **values,
    )
    db_session.add(row)
    db_session.flush()
    return row


def parse(response) -> Calendar:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.data)


def events(calendar: Calendar) -> dict[str, object]:
    return {str(event["UID"]): event for event in calendar.events}


def uid(key_date: KeyDate, app) -> str:
    return f"keydate-{key_date.id}@{app.config['MAIL_DOMAIN']}"


def uids(app, *key_dates: KeyDate) -> set[str]:
    return {uid(key_date, app) for key_date in key_dates}


# --- Times, time zone, calendar properties --------------------------------------------------------


def test_timed_deadlines_are_at_noon_geneva_in_summer_and_winter(app, client, db_session):
    upr = add_session(db_session, 90, ["HT", "IS"])
    summer = add_date(db_session, upr, "stakeholder_submission", date(2030, 7, 15))
    winter = add_date(db_session, upr, "pre_session_application", date(2031, 1, 15))
    db_session.commit()

    response = client.get("/sessions/90/calendar.ics")
    found = events(parse(response))
    text = response.get_data(as_text=True)

    assert "DTSTART;TZID=Europe/Zurich:20300715T120000" in text
    assert "DTSTART;TZID=Europe/Zurich:20310115T120000" in text
    summer_event, winter_event = found[uid(summer, app)], found[uid(winter, app)]
    assert summer_event["DTSTART"].params["TZID"] == "Europe/Zurich"
    assert summer_event.start.astimezone(UTC) == datetime(2030, 7, 15, 10, 0, tzinfo=UTC)
    assert winter_event.start.astimezone(UTC) == datetime(2031, 1, 15, 11, 0, tzinfo=UTC)
    # A deadline lasts one hour from the time it closes (DTEND must be later than DTSTART).
    assert summer_event.end - summer_event.start == timedelta(hours=1)
    assert winter_event["DTEND"].params["TZID"] == "Europe/Zurich"
    assert str(summer_event["SUMMARY"]) == (
        "UPR 90 · Stakeholder submissions deadline · Haiti, Iceland"
    )


def test_all_day_dates_end_the_day_after_their_last_day(app, client, db_session):
    upr = add_session(db_session, 90, ["HT"])
    pre = add_date(db_session, upr, "pre_session", date(2030, 3, 25), last_day=date(2030, 3, 28))
    review = add_date(db_session, upr, "wg_review", date(2030, 5, 6), last_day=date(2030, 5, 17))
    adoption = add_date(db_session, upr, "hrc_adoption", date(2030, 9, 25))
    db_session.commit()

    response = client.get("/sessions/90/calendar.ics")
    found = events(parse(response))

    assert "DTSTART;VALUE=DATE:20300325" in response.get_data(as_text=True)
    assert "DTEND;VALUE=DATE:20300329" in response.get_data(as_text=True)
    assert (found[uid(pre, app)].start, found[uid(pre, app)].end) == (
        date(2030, 3, 25), date(2030, 3, 29)
    )
    assert found[uid(review, app)].end == date(2030, 5, 18)
    assert (found[uid(adoption, app)].start, found[uid(adoption, app)].end) == (
        date(2030, 9, 25), date(2030, 9, 26)
    )


def test_calendar_carries_its_time_zone_and_publishing_properties(app, client, db_session):
    upr = add_session(db_session, 90, ["HT"])
    add_date(db_session, upr, "stakeholder_submission", in_days(20), estimated=True,
             description="Send your contribution", url="https://example.org/submit")
    db_session.commit()

    response = client.get("/calendar.ics")
    calendar = parse(response)
    text = response.get_data(as_text=True)

    assert [tz.tz_name for tz in calendar.timezones] == ["Europe/Zurich"]
    assert calendar.get_missing_tzids() == set()
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(calendar["X-WR-TIMEZONE"]) == "Europe/Zurich"
    assert str(calendar["X-WR-CALNAME"]) == str(calendar["NAME"]) == "UPR key dates"
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT12H" in text
    assert "X-PUBLISHED-TTL:PT12H" in text
    assert response.headers["Content-Disposition"] == 'inline; filename="upr-key-dates.ics"'
    assert response.headers["Cache-Control"] == "public, max-age=900"
    assert response.headers["ETag"] and response.headers["Last-Modified"]

    event = calendar.events[0]
    assert str(event["SUMMARY"]) == "UPR 90 · Stakeholder submissions deadline · Haiti (estimated)"
    assert str(event["URL"]) == "https://example.org/submit"
    assert event["CATEGORIES"].cats == ["stakeholder_submission"]
    assert str(event["STATUS"]) == "TENTATIVE"
    description = str(event["DESCRIPTION"])
    assert "Send your contribution" in description
    assert "States: Haiti" in description
    assert "Estimated: not yet confirmed." in description
    assert "12:00 Geneva time" in description
    assert "https://example.org/submit" in description


def test_many_states_are_counted_in_the_summary(app, client, db_session):
    upr = add_session(db_session, 90, ["HT", "IS", "LT", "MD", "MM"])
    add_date(db_session, upr, "stakeholder_submission", in_days(20))
    db_session.commit()

    event = parse(client.get("/calendar.ics")).events[0]

    assert str(event["SUMMARY"]) == "UPR 90 · Stakeholder submissions deadline · 5 States"
    assert str(event["STATUS"]) == "CONFIRMED"


def test_the_shipped_calendar_makes_a_valid_feed(app, client, db_session):
    load_calendar(db_session)
    db_session.commit()

    calendar = parse(client.get("/calendar.ics"))

    assert calendar.events
    assert len(events(calendar)) == len(calendar.events)  # one UID per key date
    assert calendar.get_missing_tzids() == set()


# --- Updating in place ----------------------------------------------------------------------------


def test_uids_are_stable_and_a_moved_date_updates_in_place(app, client, db_session):
    upr = add_session(db_session, 90, ["HT"])
    deadline = add_date(db_session, upr, "stakeholder_submission", in_days(30))
    db_session.commit()
    key = uid(deadline, app)

    first = client.get("/sessions/90/calendar.ics")
    again = client.get("/sessions/90/calendar.ics")
    assert events(parse(first)).keys() == events(parse(again)).keys() == {key}
    assert first.data == again.data
    before = events(parse(first))[key]

    moved_to = local_date_at(in_days(37), time(12, 0))  # before the clock moves past midnight
    with time_machine.travel(utcnow() + timedelta(minutes=10), tick=True):
        deadline.starts_at = moved_to
        db_session.commit()
        moved = client.get("/sessions/90/calendar.ics")
    after = events(parse(moved))[key]

    assert after.start.date() == before.start.date() + timedelta(days=7)
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert after["LAST-MODIFIED"].dt > before["LAST-MODIFIED"].dt
    assert after["DTSTAMP"].dt == after["LAST-MODIFIED"].dt
    assert moved.headers["ETag"] != first.headers["ETag"]
    stale = client.get(
        "/sessions/90/calendar.ics", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert stale.status_code == 200


def test_conditional_requests_get_304(app, client, db_session):
    upr = add_session(db_session, 90, ["HT"])
    add_date(db_session, upr, "stakeholder_submission", in_days(30))
    db_session.commit()
    first = client.get("/calendar.ics")

    by_etag = client.get("/calendar.ics", headers={"If-None-Match": first.headers["ETag"]})
    by_date = client.get(
        "/calendar.ics", headers={"If-Modified-Since": first.headers["Last-Modified"]}
    )
    older = client.get(
        "/calendar.ics", headers={"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"}
    )

    assert by_etag.status_code == 304 and by_etag.data == b""
    assert by_date.status_code == 304
    assert older.status_code == 200 and older.data == first.data


def test_removing_a_date_changes_the_etag(app, client, db_session):
    upr = add_session(db_session, 90, ["HT"])
    add_date(db_session, upr, "stakeholder_submission", in_days(30))
    extra = add_date(db_session, upr, "pre_session_application", in_days(40))
    db_session.commit()
    first = client.get("/calendar.ics")

    db_session.delete(extra)
    db_session.commit()
    after = client.get("/calendar.ics", headers={"If-None-Match": first.headers["ETag"]})

    assert after.status_code == 200
    assert len(parse(after).events) == 1


# --- Which dates each feed holds ------------------------------------------------------------------


def test_site_feed_holds_every_kind_from_sixty_days_ago(app, client, db_session):
    upr = add_session(db_session, 90, ["HT"])
    old = add_date(db_session, upr, "stakeholder_submission", in_days(-100))
    recent = add_date(db_session, upr, "national_report", in_days(-30))
    coming = add_date(db_session, upr, "wg_review", in_days(90), last_day=in_days(100))
    db_session.commit()

    found = events(parse(client.get("/calendar.ics")))

    assert set(found) == uids(app, recent, coming)
    assert uid(old, app) in events(parse(client.get("/sessions/90/calendar.ics")))


def test_session_feed_holds_only_its_session(app, client, db_session):
    s90 = add_session(db_session, 90, ["HT"])
    s91 = add_session(db_session, 91, ["IS"])
    mine = add_date(db_session, s90, "stakeholder_submission", in_days(-400))
    own = add_date(db_session, s90, "pre_session_statement", in_days(10), state="HT")
    add_date(db_session, s91, "stakeholder_submission", in_days(10))
    db_session.commit()

    response = client.get("/sessions/90/calendar.ics")

    assert set(events(parse(response))) == uids(app, mine, own)
    assert response.headers["Content-Disposition"] == 'inline; filename="upr-session-90.ics"'
    assert client.get("/sessions/999/calendar.ics").status_code == 404


@pytest.fixture
def two_sessions(db_session):
    """Session 90 (France, Germany; France has its own application deadline) and 91 (Italy)."""
    s90 = add_session(db_session, 90, ["FR", "DE"])
    s91 = add_session(db_session, 91, ["IT"])
    dates = {
        "submission": add_date(db_session, s90, "stakeholder_submission", in_days(20)),
        "application": add_date(db_session, s90, "pre_session_application", in_days(30)),
        "fr_application": add_date(
            db_session, s90, "pre_session_application", in_days(35), state="FR"
        ),
        "de_statement": add_date(db_session, s90, "pre_session_statement", in_days(40), state="DE"),
        "it_submission": add_date(db_session, s91, "stakeholder_submission", in_days(25)),
    }
    db_session.commit()
    return dates


def test_country_feed_holds_only_the_dates_concerning_the_state(app, client, two_sessions):
    d = two_sessions

    france = parse(client.get("/countries/FR/calendar.ics"))
    germany = parse(client.get("/countries/de/calendar.ics"))

    assert set(events(france)) == uids(app, d["submission"], d["fr_application"])
    assert set(events(germany)) == uids(app, d["submission"], d["application"], d["de_statement"])
    assert str(france["X-WR-CALNAME"]) == "UPR key dates: France"
    # A State's feed names that State, even in a session-wide date.
    summary = str(events(france)[uid(d["submission"], app)]["SUMMARY"])
    assert summary == "UPR 90 · Stakeholder submissions deadline · France"


def test_country_feed_accepts_names_and_refuses_unknown_countries(app, client, two_sessions):
    by_name = parse(client.get("/countries/France/calendar.ics"))
    by_french_name = parse(client.get("/countries/Allemagne/calendar.ics"))

    assert len(by_name.events) == 2
    assert len(by_french_name.events) == 3
    unknown = client.get("/countries/Narnia/calendar.ics")
    assert unknown.status_code == 404
    assert parse(client.get("/countries/NZ/calendar.ics")).events == []


# --- The private feed -----------------------------------------------------------------------------


@pytest.fixture
def followed(db_session):
    """Sessions 90 (FR, DE), 91 (IT) and 92 (FR); the key dates a FR+IT follower sees or not."""
    s90 = add_session(db_session, 90, ["FR", "DE"])
    s91 = add_session(db_session, 91, ["IT"])
    s92 = add_session(db_session, 92, ["FR"])
    dates = {
        "fr_submission": add_date(db_session, s90, "stakeholder_submission", in_days(20)),
        "fr_review": add_date(db_session, s90, "wg_review", in_days(60), last_day=in_days(70)),
        "national_report": add_date(db_session, s90, "national_report", in_days(30)),
        "de_only": add_date(db_session, s90, "pre_session_statement", in_days(40), state="DE"),
        "it_submission": add_date(db_session, s91, "stakeholder_submission", in_days(25)),
        "later_session": add_date(db_session, s92, "stakeholder_submission", in_days(200)),
    }
    db_session.commit()
    return dates


def subscriber(db_session, *, sessions=None, status="confirmed"):
    contact = make_contact(db_session, "follower@example.org", country="FR", countries=("IT",))
    contact.subscription = Subscription(
        status=status,
        all_sessions=sessions is None,
        session_links=[SubscriptionSession(session_number=n) for n in sessions or ()],
    )
    db_session.commit()
    return contact


def test_private_feed_holds_exactly_what_the_subscriber_follows(app, client, db_session, followed):
    contact = subscriber(db_session, sessions=[90, 91])
    url = calendar_feed_url(contact)
    assert url.startswith(app.config["PUBLIC_BASE_URL"].rstrip("/") + "/calendar/")

    response = client.get(url)
    calendar = parse(response)

    d = followed
    assert set(events(calendar)) == uids(
        app, d["fr_submission"], d["fr_review"], d["it_submission"]
    )
    assert response.headers["Cache-Control"] == "private, max-age=900"
    assert str(calendar["X-WR-CALNAME"]) == "My UPR key dates"
    assert "follower@example.org" not in response.get_data(as_text=True)


def test_private_feed_without_subscription_follows_every_session(app, client, db_session, followed):
    contact = make_contact(db_session, "staff-added@example.org", country="FR", countries=("IT",))
    db_session.commit()

    calendar = parse(client.get(calendar_feed_url(contact)))

    d = followed
    assert set(events(calendar)) == uids(
        app, d["fr_submission"], d["fr_review"], d["it_submission"], d["later_session"]
    )


def test_private_feed_refuses_bad_tokens_without_detail(app, client, db_session, followed):
    contact = subscriber(db_session)
    token = calendar_token(contact)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    for url in (
        f"/calendar/{tampered}.ics",
        f"/calendar/{preferences_token(contact)}.ics",  # a token made for another purpose
        "/calendar/nothing.ics",
    ):
        response = client.get(url)
        assert response.status_code == 404
        assert response.get_data(as_text=True) == "Not found.\n"

    assert client.get(f"/calendar/{token}.ics").status_code == 200
    contact.subscription.status = "unsubscribed"
    db_session.commit()
    assert client.get(f"/calendar/{token}.ics").status_code == 404


def test_private_feed_stops_when_the_address_changes(app, client, db_session, followed):
    contact = subscriber(db_session)
    url = calendar_feed_url(contact)
    contact.email = contact.email_key = "new-address@example.org"
    db_session.commit()

    assert client.get(url).status_code == 404
    assert client.get(calendar_feed_url(contact)).status_code == 200


# --- Atom -----------------------------------------------------------------------------------------


def test_atom_feed_lists_the_deadlines_of_the_next_180_days(app, client, db_session):
    upr = add_session(db_session, 90, ["HT", "IS"])
    soon = add_date(db_session, upr, "stakeholder_submission", in_days(10), estimated=True,
                    url="https://example.org/submit & more")
    later = add_date(db_session, upr, "pre_session_application", in_days(150))
    add_date(db_session, upr, "pre_session_statement", in_days(200))  # beyond 180 days
    add_date(db_session, upr, "stakeholder_submission", in_days(-3))  # past
    add_date(db_session, upr, "wg_review", in_days(20))  # an event, not a deadline
    db_session.commit()

    response = client.get("/deadlines.atom")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    feed = ET.fromstring(response.data)

    entries = feed.findall(f"{ATOM}entry")
    ids = [entry.findtext(f"{ATOM}id") for entry in entries]
    host = urlsplit(app.config["PUBLIC_BASE_URL"]).hostname
    assert ids == [f"tag:{host},2026-01-01:keydate:{kd.id}" for kd in (soon, later)]
    first = entries[0]
    assert first.findtext(f"{ATOM}title") == (
        "UPR 90 · Stakeholder submissions deadline · Haiti, Iceland (estimated)"
    )
    assert first.findtext(f"{ATOM}updated") == (
        soon.updated_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )
    assert first.find(f"{ATOM}link").get("href") == "https://example.org/submit & more"
    content = first.find(f"{ATOM}content")
    assert content.get("type") == "text"
    day = in_days(10)
    assert f"{day:%A} {day.day} {day:%B %Y}, 12:00 Geneva time" in content.text
    assert "States: Haiti, Iceland" in content.text
    assert feed.findtext(f"{ATOM}updated")
    assert client.get("/deadlines.atom").data == response.data  # stable


def test_atom_feed_for_one_country(app, client, two_sessions):
    d = two_sessions

    feed = ET.fromstring(client.get("/deadlines.atom?country=France").data)
    ids = {entry.findtext(f"{ATOM}id").rsplit(":", 1)[1] for entry in feed.findall(f"{ATOM}entry")}

    assert ids == {str(d["submission"].id), str(d["fr_application"].id)}
    assert feed.findtext(f"{ATOM}title") == "Upcoming UPR deadlines: France"
    assert client.get("/deadlines.atom?country=Narnia").status_code == 400


# --- Links on the pages ---------------------------------------------------------------------------


def test_preference_centre_links_the_private_calendar(app, client, db_session, followed):
    contact = subscriber(db_session, sessions=[90])

    english = client.get(f"/en/preferences/{preferences_token(contact)}").get_data(as_text=True)
    french = client.get(f"/fr/preferences/{preferences_token(contact)}").get_data(as_text=True)

    assert "Your calendar" in english
    # The token carries its signing time, so the address is read from the page.
    shown = re.search(r'id="calendar-url" type="url" value="([^"]+)"', english)
    url = shown.group(1)
    assert url.startswith(app.config["PUBLIC_BASE_URL"].rstrip("/") + "/calendar/")
    assert f'href="{url.replace("http://", "webcal://", 1)}"' in english
    assert "Votre calendrier" in french
    assert set(events(parse(client.get(url)))) == {uid(followed["fr_submission"], app),
                                                  uid(followed["fr_review"], app)}


def test_staff_pages_offer_the_public_feeds(app, staff_client, db_session, two_sessions):
    base = app.config["PUBLIC_BASE_URL"].rstrip("/")

    deadlines = staff_client.get("/deadlines?country=FR").get_data(as_text=True)
    session = staff_client.get("/sessions/90").get_data(as_text=True)

    assert "Subscribe to the calendar" in deadlines
    assert f"{base}/calendar.ics" in deadlines
    assert f"{base}/countries/FR/calendar.ics" in deadlines
    assert f"{base}/deadlines.atom?country=FR" in deadlines
    assert "Subscribe to the calendar" in session
    assert f"{base}/sessions/90/calendar.ics" in session
