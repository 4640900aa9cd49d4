"""Loading the shipped UPR calendar (and edited copies of it) into the database."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from outreach.calendar.cli import calendar_cli
from outreach.calendar.loader import CalendarDataError, load_calendar, read_calendar
from outreach.calendar.models import Cycle, KeyDate, Review, UPRSession

SESSIONS = [36, *range(41, 55)]
STATE_COUNTS = {36: 14, 41: 14, 42: 13, 45: 14, 49: 14, 50: 13, 51: 13, 52: 14, 53: 14, 54: 13}

MINIMAL = """
[[cycles]]
number = 4
first_session = 41
last_session = 54

[[sessions]]
number = 41
cycle = 4
wg_start = 2022-11-07
wg_end = 2022-11-18
states = {states}
{extra}
"""
SUBMISSION = """
[[sessions.key_dates]]
kind = "{kind}"
date = 2022-03-31
"""


def write(tmp_path, states='["BH", "EC", "TN"]', extra=""):
    path = tmp_path / "calendar.toml"
    path.write_text(MINIMAL.format(states=states, extra=extra), encoding="utf-8")
    return path


def upr_session(db_session, number):
    return db_session.scalars(select(UPRSession).where(UPRSession.number == number)).one()


def key_dates(db_session, number, kind, state=None):
    query = (
        select(KeyDate)
        .join(UPRSession)
        .outerjoin(Review, KeyDate.review_id == Review.id)
        .where(UPRSession.number == number, KeyDate.kind == kind)
        .where(Review.country_code == state if state else KeyDate.review_id.is_(None))
    )
    return db_session.scalars(query).all()


def key_date(db_session, number, kind, state=None):
    (row,) = key_dates(db_session, number, kind, state)
    return row


@pytest.fixture
def loaded(db_session):
    report = load_calendar(db_session)
    db_session.commit()
    return report


def test_shipped_file_parses_with_every_session_and_cycle():
    cycles, sessions = read_calendar()
    assert [spec.number for spec in sessions] == SESSIONS
    ranges = {c.number: (c.values["first_session"], c.values.get("last_session")) for c in cycles}
    assert ranges == {1: (1, 12), 2: (13, 26), 3: (27, 40), 4: (41, 54), 5: (55, None)}
    projected = [spec.number for spec in sessions if spec.values["status"] == "projected"]
    assert projected == [52, 53, 54]
    for spec in sessions:
        if spec.number in projected:
            assert "projected" in spec.values["notes"].lower()
            assert "unverified" in spec.values["notes"].lower()


def test_every_session_is_loaded_with_its_states(db_session, loaded):
    assert loaded.sessions_created == 15
    assert db_session.scalar(select(func.count()).select_from(Cycle)) == 5
    numbers = db_session.scalars(select(UPRSession.number).order_by(UPRSession.number)).all()
    assert numbers == SESSIONS
    for number, count in STATE_COUNTS.items():
        assert len(upr_session(db_session, number).reviews) == count, number
    assert loaded.reviews_added == sum(len(upr_session(db_session, n).reviews) for n in SESSIONS)


@pytest.mark.parametrize(
    ("number", "code"),
    [(49, "TR"), (47, "CI"), (51, "FM"), (53, "US"), (47, "KP"), (49, "LA"), (54, "MM")],
)
def test_specific_states(db_session, loaded, number, code):
    assert code in upr_session(db_session, number).state_codes


def test_moved_and_postponed_reviews(db_session, loaded):
    assert "US" not in upr_session(db_session, 50).state_codes
    assert "MM" not in upr_session(db_session, 51).state_codes
    assert set(upr_session(db_session, 50).state_codes) == set(
        upr_session(db_session, 36).state_codes
    ) - {"US"}
    notes = {r.country_code: r.note for r in upr_session(db_session, 53).reviews}
    assert "session 50" in notes["US"] and "7 November 2025" in notes["US"]
    assert "51" in {r.country_code: r.note for r in upr_session(db_session, 54).reviews}["MM"]
    assert "7 November 2025" in upr_session(db_session, 50).notes


def test_session_fields(db_session, loaded):
    s36 = upr_session(db_session, 36)
    assert (s36.wg_start, s36.wg_end) == (date(2020, 11, 2), date(2020, 11, 13))
    assert s36.cycle_number == 3
    assert "4-15 May 2020" in s36.notes and "12-13 October 2020" in s36.notes
    s52 = upr_session(db_session, 52)
    assert s52.is_projected and s52.cycle_number == 4
    assert not upr_session(db_session, 51).is_projected


@pytest.mark.parametrize(
    ("number", "utc"),
    [
        (41, datetime(2022, 3, 31, 10, tzinfo=UTC)),  # 12:00 CEST
        (42, datetime(2022, 7, 14, 10, tzinfo=UTC)),
        (43, datetime(2022, 10, 11, 10, tzinfo=UTC)),
        (47, datetime(2024, 4, 8, 10, tzinfo=UTC)),
    ],
)
def test_known_submission_deadlines_close_at_noon_geneva(db_session, loaded, number, utc):
    row = key_date(db_session, number, "stakeholder_submission")
    assert (row.starts_at, row.all_day, row.estimated, row.source) == (utc, False, False, "file")
    assert row.url == "https://www.ohchr.org/en/hr-bodies/upr/ngos-nhris"


def test_winter_deadline_is_eleven_utc(db_session, loaded):
    row = key_date(db_session, 36, "pre_session_application")
    assert row.starts_at == datetime(2020, 1, 31, 11, tzinfo=UTC)  # 12:00 CET
    assert row.url == "https://www.upr-info.org/en/pre-sessions"


def test_pre_sessions_are_all_day_ranges(db_session, loaded):
    row = key_date(db_session, 36, "pre_session")
    assert row.starts_at == datetime(2020, 10, 11, 22, tzinfo=UTC)  # 12 Oct, 00:00 CEST
    assert row.ends_at == datetime(2020, 10, 12, 22, tzinfo=UTC)  # 13 Oct, the last day
    assert row.all_day and not row.estimated and row.source == "file"
    # The derived statement deadline follows the real pre-sessions: 2 weeks before 12 Oct.
    statement = key_date(db_session, 36, "pre_session_statement")
    assert statement.starts_at == datetime(2020, 9, 28, 10, tzinfo=UTC)


def test_file_descriptions(db_session, loaded):
    assert "27 February 2024" in key_date(db_session, 47, "stakeholder_submission").description
    assert "partly verified" in key_date(db_session, 46, "stakeholder_submission").description


def test_state_specific_date(db_session, loaded):
    row = key_date(db_session, 54, "stakeholder_submission", state="MM")
    assert row.review.country_code == "MM"
    assert row.starts_at == datetime(2026, 7, 17, 10, tzinfo=UTC)
    assert row.source == "file"


def test_missing_dates_are_derived_and_estimated(db_session, loaded):
    row = key_date(db_session, 48, "stakeholder_submission")
    assert (row.source, row.estimated, row.review_id) == ("derived", True, None)
    assert row.starts_at == datetime(2024, 7, 1, 10, tzinfo=UTC)  # 29 weeks before 20 Jan 2025
    kinds = {kd.kind for kd in upr_session(db_session, 48).key_dates}
    assert len(kinds) == 9
    derived = [kd for kd in upr_session(db_session, 48).key_dates if kd.kind != "wg_review"]
    assert all(kd.source == "derived" and kd.estimated for kd in derived)


def test_wg_review_is_estimated_only_while_projected(db_session, loaded):
    confirmed = key_date(db_session, 41, "wg_review")
    assert confirmed.starts_at == datetime(2022, 11, 6, 23, tzinfo=UTC)  # 7 Nov, 00:00 CET
    assert confirmed.ends_at == datetime(2022, 11, 17, 23, tzinfo=UTC)
    assert confirmed.all_day and not confirmed.estimated
    assert key_date(db_session, 53, "wg_review").estimated


def test_a_file_date_replaces_the_derived_one(db_session, loaded):
    assert key_dates(db_session, 41, "stakeholder_submission")[0].source == "file"
    assert len(key_dates(db_session, 41, "stakeholder_submission")) == 1


def test_loading_twice_changes_nothing(db_session, loaded):
    assert loaded.changed
    again = load_calendar(db_session)
    assert not again.changed
    assert again.key_dates_unchanged == loaded.key_dates_created
    assert again.summary().startswith("calendar: cycles changed=0, sessions created=0 updated=0")


def test_sessions_staff_edited_keep_their_details_and_states(db_session, loaded):
    projected = upr_session(db_session, 52)
    projected.status = "confirmed"
    projected.reviews = [r for r in projected.reviews if r.country_code != "NA"]
    projected.edited_by_staff_at = datetime(2026, 3, 1, tzinfo=UTC)
    db_session.commit()

    report = load_calendar(db_session)
    db_session.commit()
    assert report.sessions_updated == 0 and report.reviews_added == 0
    reloaded = upr_session(db_session, 52)
    assert reloaded.status == "confirmed"
    assert "NA" not in reloaded.state_codes
    assert len(reloaded.state_codes) == 13


def test_staff_dates_survive_a_reload(db_session, loaded):
    edited = key_date(db_session, 41, "stakeholder_submission")
    edited.source, edited.starts_at = "staff", datetime(2022, 4, 4, 10, tzinfo=UTC)
    confirmed = key_date(db_session, 48, "national_report")
    confirmed.source, confirmed.estimated = "staff", False
    review = next(r for r in upr_session(db_session, 48).reviews if r.country_code == "IT")
    db_session.add(
        KeyDate(
            session=review.session,
            review=review,
            kind="national_report",
            starts_at=datetime(2024, 10, 1, 10, tzinfo=UTC),
            source="staff",
        )
    )
    db_session.commit()

    report = load_calendar(db_session)
    db_session.commit()
    assert not report.changed
    assert key_date(db_session, 41, "stakeholder_submission").starts_at == datetime(
        2022, 4, 4, 10, tzinfo=UTC
    )
    assert key_date(db_session, 48, "national_report").estimated is False
    assert key_date(db_session, 48, "national_report", state="IT").source == "staff"


def test_staff_dates_supersede_derived_ones(db_session, loaded):
    session48 = upr_session(db_session, 48)
    db_session.add(
        KeyDate(
            session=session48,
            kind="pre_session",
            starts_at=datetime(2024, 12, 1, 23, tzinfo=UTC),
            all_day=True,
            source="staff",
        )
    )
    db_session.commit()
    report = load_calendar(db_session)
    assert report.key_dates_removed == 1
    assert [row.source for row in key_dates(db_session, 48, "pre_session")] == ["staff"]
    # The pre-session deadlines now follow the staff date (2 Dec 2024).
    statement = key_date(db_session, 48, "pre_session_statement")
    assert statement.starts_at == datetime(2024, 11, 18, 11, tzinfo=UTC)


def test_file_edits_update_and_remove(db_session, tmp_path):
    load_calendar(db_session, write(tmp_path, extra=SUBMISSION.format(kind="national_report")))
    assert key_date(db_session, 41, "national_report").source == "file"

    report = load_calendar(db_session, write(tmp_path, states='["BH", "EC"]'))
    assert report.reviews_removed == 1
    assert upr_session(db_session, 41).state_codes == ["BH", "EC"]
    row = key_date(db_session, 41, "national_report")  # the file date was dropped: derived again
    assert (row.source, row.estimated) == ("derived", True)
    assert (report.key_dates_removed, report.key_dates_created) == (1, 1)


def test_moving_the_wg_session_moves_derived_dates(db_session, tmp_path):
    load_calendar(db_session, write(tmp_path))
    path = tmp_path / "moved.toml"
    path.write_text(write(tmp_path).read_text().replace("2022-11-", "2022-12-"))
    report = load_calendar(db_session, path)
    assert report.sessions_updated == 1 and report.key_dates_updated == 9
    assert key_date(db_session, 41, "wg_review").starts_at == datetime(2022, 12, 6, 23, tzinfo=UTC)


def test_reviews_with_staff_dates_are_kept(db_session, tmp_path):
    load_calendar(db_session, write(tmp_path))
    review = next(r for r in upr_session(db_session, 41).reviews if r.country_code == "TN")
    db_session.add(
        KeyDate(
            session=review.session,
            review=review,
            kind="responses",
            starts_at=datetime(2023, 3, 1, 11, tzinfo=UTC),
            source="staff",
        )
    )
    db_session.flush()
    report = load_calendar(db_session, write(tmp_path, states='["BH"]'))
    assert report.reviews_removed == 1
    assert upr_session(db_session, 41).state_codes == ["BH", "TN"]


@pytest.mark.parametrize(
    ("extra", "states", "message"),
    [
        (SUBMISSION.format(kind="submission_deadline"), '["BH"]', "unknown kind"),
        ("", '["BH", "XX"]', "unknown country code 'XX'"),
        ("", '["BH", "Turkiye"]', "did you mean 'TR'"),
        ('[sessions.review_notes]\nQQ = "?"', '["BH"]', "unknown country code 'QQ'"),
        (SUBMISSION.format(kind="responses") + 'state = "EC"', '["BH"]', "not in the session"),
        ('status = "maybe"', '["BH"]', "unknown status"),
        ("stauts = 'projected'", '["BH"]', "unknown key(s) stauts"),
    ],
)
def test_bad_data_names_the_session(db_session, tmp_path, extra, states, message):
    with pytest.raises(CalendarDataError, match="session 41") as error:
        load_calendar(db_session, write(tmp_path, states=states, extra=extra))
    assert message in error.value.message
    assert db_session.scalar(select(func.count()).select_from(UPRSession)) == 0


def test_missing_number_and_broken_toml(db_session, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[[sessions]]\ncycle = 4\n")
    with pytest.raises(CalendarDataError, match="session #1 in the file: missing 'number'"):
        load_calendar(db_session, path)
    path.write_text("[[sessions]\n")
    with pytest.raises(CalendarDataError, match="invalid TOML"):
        load_calendar(db_session, path)


def test_cli_loads_and_commits(app, db_session):
    result = app.test_cli_runner().invoke(calendar_cli, ["load"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("calendar: cycles changed=5, sessions created=15 updated=0")
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(UPRSession)) == 15


def test_cli_reports_bad_data(app, tmp_path):
    path = write(tmp_path, states='["BH", "XX"]')
    result = app.test_cli_runner().invoke(calendar_cli, ["load", str(path)])
    assert result.exit_code == 1
    assert "session 41" in result.stderr and "XX" in result.stderr
