"""Calendar services: upcoming key dates, contacts per State, editing sessions, States and dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import object_session

from outreach.calendar import services
from outreach.calendar.loader import load_calendar
from outreach.calendar.models import KEY_DATE_KINDS, KeyDate, Review, UPRSession
from outreach.calendar.services import KeyDateData, SessionData
from outreach.core.errors import ServiceError
from outreach.core.timezones import local_date_at, to_local
from tests.factories import make_contact

NEW_YEAR_2026 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def calendar(db_session):
    load_calendar(db_session)
    db_session.commit()
    return db_session


def get_session(db_session, number: int) -> UPRSession:
    return db_session.scalar(select(UPRSession).where(UPRSession.number == number))


def make_session(db_session, number, states=(), **values) -> UPRSession:
    upr_session = UPRSession(number=number, **values)
    upr_session.reviews = [Review(country_code=code) for code in states]
    db_session.add(upr_session)
    db_session.flush()
    return upr_session


def key_date(upr_session, kind, starts_at, *, review=None, **values) -> KeyDate:
    row = KeyDate(session=upr_session, review=review, kind=kind, starts_at=starts_at, **values)
    object_session(upr_session).add(row)
    return row


# --- upcoming_key_dates -------------------------------------------------------------------------


def test_upcoming_deadlines_for_a_country_from_the_shipped_calendar(calendar):
    found = services.upcoming_key_dates(calendar, start=NEW_YEAR_2026, days=365, country="US")

    assert [(kd.session.number, kd.kind) for kd, _ in found] == [
        (53, "stakeholder_submission"),
        (53, "pre_session_application"),
        (53, "pre_session_statement"),
    ]
    first, codes = found[0]
    assert first.estimated
    assert "US" in codes and "GR" in codes and len(codes) == 14
    assert [kd.starts_at for kd, _ in found] == sorted(kd.starts_at for kd, _ in found)


def test_state_specific_dates_concern_only_their_state(calendar):
    start = datetime(2026, 6, 1, tzinfo=UTC)
    myanmar = services.upcoming_key_dates(calendar, start=start, days=60, country="MM")
    togo = services.upcoming_key_dates(calendar, start=start, days=60, country="TG")

    assert [(kd.kind, codes) for kd, codes in myanmar] == [("stakeholder_submission", ["MM"])]
    assert to_local(myanmar[0][0].starts_at) == datetime(
        2026, 7, 17, 12, 0, tzinfo=to_local(myanmar[0][0].starts_at).tzinfo
    )
    assert all(kd.review is None for kd, _ in togo)
    # Myanmar's own submission deadline supersedes the session-wide estimate.
    wide = next(kd for kd, _ in togo if kd.kind == "stakeholder_submission")
    assert "TG" in dict(togo)[wide] and "MM" not in dict(togo)[wide]


def test_default_is_deadlines_only_and_all_kinds_on_request(calendar):
    deadlines = services.upcoming_key_dates(calendar, start=NEW_YEAR_2026, days=120)
    everything = services.upcoming_key_dates(
        calendar, start=NEW_YEAR_2026, days=120, kinds=KEY_DATE_KINDS
    )

    assert {kd.kind for kd, _ in deadlines} <= {
        "stakeholder_submission", "pre_session_application", "pre_session_statement"
    }
    assert deadlines
    kinds = {kd.kind for kd, _ in everything}
    assert {"wg_review", "hrc_adoption", "national_report"} <= kinds
    assert len(everything) > len(deadlines)


def test_window_bounds_and_events_under_way(db_session):
    upr = make_session(db_session, 90, ["FR"])
    start = datetime(2030, 3, 10, 9, 0, tzinfo=UTC)
    key_date(upr, "stakeholder_submission", datetime(2030, 3, 10, 8, 0, tzinfo=UTC))  # passed
    inside = key_date(upr, "pre_session_statement", datetime(2030, 3, 20, 11, 0, tzinfo=UTC))
    key_date(upr, "pre_session_application", datetime(2030, 6, 20, 11, 0, tzinfo=UTC))  # later
    running = key_date(
        upr,
        "pre_session",
        local_date_at(date(2030, 3, 9), time(0)),
        ends_at=local_date_at(date(2030, 3, 11), time(0)),
        all_day=True,
    )
    today = key_date(upr, "wg_review", local_date_at(date(2030, 3, 10), time(0)), all_day=True)
    db_session.flush()

    found = services.upcoming_key_dates(db_session, start=start, days=30, kinds=KEY_DATE_KINDS)
    assert [kd for kd, _ in found] == [running, today, inside]
    assert services.upcoming_key_dates(db_session, start=start, days=30, session_number=91) == []
    assert len(services.upcoming_key_dates(db_session, start=start, days=120)) == 2


def test_days_left_counts_geneva_days():
    # 00:30 on 21 March in Geneva
    late = datetime(2030, 3, 20, 23, 30, tzinfo=UTC)
    row = KeyDate(kind="stakeholder_submission", starts_at=late)
    assert services.days_left(row, date(2030, 3, 20)) == 1
    assert services.days_left(row, date(2030, 3, 22)) == -1


def test_key_dates_for_review(db_session):
    upr = make_session(db_session, 90, ["FR", "DE"])
    france, germany = sorted(upr.reviews, key=lambda r: r.country_code != "FR")
    wide = key_date(upr, "stakeholder_submission", datetime(2030, 5, 1, tzinfo=UTC))
    key_date(upr, "pre_session_application", datetime(2030, 3, 1, tzinfo=UTC))
    own = key_date(upr, "pre_session_application", datetime(2030, 4, 1, tzinfo=UTC), review=france)
    key_date(upr, "pre_session_statement", datetime(2030, 4, 2, tzinfo=UTC), review=germany)
    db_session.flush()

    assert services.key_dates_for_review(db_session, france) == [own, wide]
    assert len(services.key_dates_for_review(db_session, germany)) == 3


# --- contacts working on a State ----------------------------------------------------------------


def test_contact_counts_and_samples_count_active_contacts_only(db_session):
    upr = make_session(db_session, 90, ["FR", "DE", "IT"])
    make_contact(db_session, "a@example.org", country="FR", last_name="Zola")
    make_contact(db_session, "b@example.org", country="BE", countries=("FR", "DE"), last_name="Arp")
    make_contact(db_session, "c@example.org", country="FR", status="inactive")
    make_contact(db_session, "d@example.org", countries=("FR",), last_name="Monet")
    make_contact(db_session, "e@example.org", country="ES")

    assert services.contact_counts(db_session, upr) == {"FR": 3, "DE": 1, "IT": 0}
    samples = services.sample_contacts(db_session, ["FR", "DE", "IT"], per_country=2)
    assert [c.last_name for c in samples["FR"]] == ["Arp", "Monet"]
    assert [c.email for c in samples["DE"]] == ["b@example.org"]
    assert samples["IT"] == []
    names = [c.last_name for c in services.contacts_working_on(db_session, "FR", limit=5)]
    assert names == ["Arp", "Monet", "Zola"]


# --- sessions -----------------------------------------------------------------------------------


def test_create_session_derives_estimated_key_dates(db_session):
    data = SessionData(
        number=60, cycle_number=5, wg_start=date(2030, 11, 4), wg_end=date(2030, 11, 15),
        status="projected",
    )
    upr = services.create_session(db_session, data)

    kinds = {kd.kind: kd for kd in upr.key_dates}
    assert set(kinds) == set(KEY_DATE_KINDS)
    assert all(kd.estimated and kd.source == "derived" for kd in kinds.values())
    assert to_local(kinds["wg_review"].starts_at).date() == date(2030, 11, 4)
    assert upr.cycle_number == 5 and upr.is_projected


@pytest.mark.parametrize(
    ("values", "field", "text"),
    [
        ({"number": 41}, "number", "already exists"),
        ({"wg_start": date(2030, 5, 10), "wg_end": date(2030, 5, 1)}, "wg_end", "before"),
        ({"wg_start": date(2030, 5, 10)}, "wg_end", "both"),
        ({"cycle_number": 3}, "cycle_number", "outside"),
    ],
)
def test_create_session_refuses_bad_input(calendar, values, field, text):
    data = SessionData(**{"number": 70, **values})
    with pytest.raises(ServiceError) as caught:
        services.create_session(calendar, data)
    assert text in caught.value.fields[field]


def test_update_and_confirm_session_move_derived_dates(calendar):
    upr = get_session(calendar, 53)
    data = SessionData(
        number=53, cycle_number=4, wg_start=date(2026, 11, 9), wg_end=date(2026, 11, 20),
        location="Geneva", status="projected", notes=upr.notes,
    )
    services.update_session(calendar, upr, data)
    wg = next(kd for kd in upr.key_dates if kd.kind == "wg_review")
    assert to_local(wg.starts_at).date() == date(2026, 11, 9) and wg.estimated

    services.confirm_session(calendar, upr)
    assert upr.status == "confirmed"
    assert not wg.estimated


# --- States -------------------------------------------------------------------------------------


def test_add_review_accepts_names_and_refuses_duplicates_and_unknowns(db_session):
    upr = make_session(db_session, 90, ["FR"])
    review = services.add_review(db_session, upr, "Turkiye", "joins late")
    assert (review.country_code, review.note) == ("TR", "joins late")

    with pytest.raises(ServiceError) as duplicate:
        services.add_review(db_session, upr, "france")
    assert "already under review" in duplicate.value.fields["country"]
    with pytest.raises(ServiceError) as unknown:
        services.add_review(db_session, upr, "Narnia")
    assert "Unknown country" in unknown.value.fields["country"]
    assert sorted(upr.state_codes) == ["FR", "TR"]


def test_move_review_takes_its_dates_and_notes_the_move(db_session):
    fifty = make_session(db_session, 50, ["US", "AD"])
    fifty_three = make_session(db_session, 53, ["GR"])
    usa = next(r for r in fifty.reviews if r.country_code == "US")
    wide = key_date(fifty, "stakeholder_submission", datetime(2025, 4, 1, tzinfo=UTC))
    own = key_date(fifty, "pre_session_statement", datetime(2025, 10, 1, tzinfo=UTC), review=usa)
    db_session.commit()

    services.move_review(db_session, usa, fifty_three, "HRC decision", on=date(2025, 11, 7))
    db_session.commit()
    db_session.expire_all()

    assert sorted(get_session(db_session, 53).state_codes) == ["GR", "US"]
    assert get_session(db_session, 50).state_codes == ["AD"]
    moved = db_session.get(Review, usa.id)
    assert moved.note == "Moved from session 50 on 2025-11-07: HRC decision"
    assert db_session.get(KeyDate, own.id).session.number == 53
    assert db_session.get(KeyDate, wide.id).session.number == 50


def test_move_review_refuses_a_state_already_in_the_target(db_session):
    fifty = make_session(db_session, 50, ["US"])
    other = make_session(db_session, 53, ["US"])
    with pytest.raises(ServiceError) as caught:
        services.move_review(db_session, fifty.reviews[0], other)
    assert "already under review in session 53" in caught.value.fields["target"]
    with pytest.raises(ServiceError):
        services.move_review(db_session, fifty.reviews[0], fifty)


def test_remove_review_deletes_its_own_dates_only(db_session):
    upr = make_session(db_session, 90, ["FR", "DE"])
    france = next(r for r in upr.reviews if r.country_code == "FR")
    key_date(upr, "stakeholder_submission", datetime(2030, 5, 1, tzinfo=UTC))
    key_date(upr, "pre_session_statement", datetime(2030, 4, 2, tzinfo=UTC), review=france)
    db_session.commit()

    services.remove_review(db_session, france)
    db_session.commit()

    assert upr.state_codes == ["DE"]
    assert [kd.kind for kd in db_session.scalars(select(KeyDate))] == ["stakeholder_submission"]


# --- key dates ----------------------------------------------------------------------------------


def test_create_key_date_uses_the_usual_time_and_replaces_the_estimate(calendar):
    upr = get_session(calendar, 53)
    data = KeyDateData(kind="stakeholder_submission", day=date(2026, 4, 20))
    created = services.create_key_date(calendar, upr, data)
    calendar.commit()

    local = to_local(created.starts_at)
    assert (local.date(), local.time()) == (date(2026, 4, 20), time(12, 0))
    assert created.source == "staff" and not created.estimated and not created.all_day
    assert created.description and created.url.startswith("https://")
    rows = calendar.scalars(
        select(KeyDate).where(
            KeyDate.session_id == upr.id, KeyDate.kind == "stakeholder_submission"
        )
    ).all()
    assert rows == [created]


def test_create_key_date_with_time_range_and_state(db_session):
    upr = make_session(db_session, 90, ["FR"])
    timed = services.create_key_date(
        db_session, upr, KeyDateData(kind="pre_session_application", day=date(2030, 7, 1),
                                     at=time(9, 30), state="fr", estimated=True),
    )
    event = services.create_key_date(
        db_session, upr, KeyDateData(kind="pre_session", day=date(2030, 8, 1),
                                     end_day=date(2030, 8, 3)),
    )
    assert to_local(timed.starts_at).time() == time(9, 30)
    assert timed.review.country_code == "FR" and timed.estimated
    assert event.all_day and to_local(event.ends_at).date() == date(2030, 8, 3)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"end_day": date(2030, 6, 30)}, "end_day"),
        ({"state": "DE"}, "state"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"kind": "party"}, "kind"),
        ({"day": None}, "day"),
    ],
)
def test_create_key_date_refuses_bad_input(db_session, values, field):
    upr = make_session(db_session, 90, ["FR"])
    data = KeyDateData(**{"kind": "stakeholder_submission", "day": date(2030, 7, 1), **values})
    with pytest.raises(ServiceError) as caught:
        services.create_key_date(db_session, upr, data)
    assert field in caught.value.fields
    assert db_session.scalar(select(func.count(KeyDate.id))) == 0


def test_update_key_date_becomes_staff_and_can_change_state(db_session):
    upr = make_session(db_session, 90, ["FR"])
    france = upr.reviews[0]
    row = key_date(
        upr, "pre_session_statement", datetime(2030, 4, 2, 10, tzinfo=UTC), review=france,
        estimated=True, source="derived",
    )
    db_session.commit()

    data = KeyDateData(kind="pre_session_statement", day=date(2030, 4, 9), description="New")
    services.update_key_date(db_session, row, data)
    db_session.commit()
    db_session.expire_all()

    saved = db_session.get(KeyDate, row.id)
    assert saved is not None and saved.review is None
    assert (saved.source, saved.estimated, saved.description) == ("staff", False, "New")
    assert to_local(saved.starts_at).date() == date(2030, 4, 9)

    services.update_key_date(db_session, saved, KeyDateData(
        kind="pre_session_statement", day=date(2030, 4, 9), estimated=True, state="FR"))
    db_session.commit()
    assert saved.estimated and saved.review.country_code == "FR"


def test_confirm_and_delete_key_date(db_session):
    upr = make_session(db_session, 90, ["FR"])
    row = key_date(upr, "national_report", datetime(2030, 4, 2, tzinfo=UTC),
                   estimated=True, source="derived")
    db_session.commit()

    services.confirm_key_date(db_session, row)
    assert (row.estimated, row.source) == (False, "staff")
    services.delete_key_date(db_session, row)
    db_session.commit()
    assert db_session.scalar(select(func.count(KeyDate.id))) == 0
    assert upr.key_dates == []


def test_staff_changes_to_states_survive_a_calendar_reload(calendar):
    """A State staff moved stays where staff put it when the shipped file is loaded again."""
    fifty_two = get_session(calendar, 52)
    namibia = services.find_review(fifty_two, "NA")
    services.move_review(calendar, namibia, get_session(calendar, 53), "Postponed")
    services.add_review(calendar, get_session(calendar, 51), "Myanmar")
    calendar.commit()

    load_calendar(calendar)
    calendar.commit()
    calendar.expire_all()
    assert "NA" not in get_session(calendar, 52).state_codes
    assert "NA" in get_session(calendar, 53).state_codes
    assert "MM" in get_session(calendar, 51).state_codes
    assert get_session(calendar, 41).edited_by_staff_at is None


def test_a_states_own_date_supersedes_only_the_same_kind(calendar):
    """France's own pre-session date must not hide the session-wide submission deadline."""
    upr_session = make_session(calendar, 95, ["FR", "DE"], wg_start=date(2031, 5, 5),
                               wg_end=date(2031, 5, 16))
    france = services.find_review(upr_session, "FR")
    wide = key_date(upr_session, "stakeholder_submission", datetime(2031, 1, 10, 11, tzinfo=UTC))
    key_date(upr_session, "pre_session_application", datetime(2031, 2, 1, 11, tzinfo=UTC),
             review=france)
    wide_application = key_date(upr_session, "pre_session_application",
                                datetime(2031, 2, 3, 11, tzinfo=UTC))
    calendar.commit()

    start = datetime(2030, 12, 1, tzinfo=UTC)
    for_france = services.upcoming_key_dates(calendar, start=start, days=120, country="FR")
    ids = {kd.id for kd, _ in for_france}
    assert wide.id in ids
    assert wide_application.id not in ids  # France has its own application deadline
    for_germany = services.upcoming_key_dates(calendar, start=start, days=120, country="DE")
    assert {wide.id, wide_application.id} <= {kd.id for kd, _ in for_germany}
