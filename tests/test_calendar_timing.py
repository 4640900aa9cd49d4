"""The usual timing of key dates relative to a Working Group session, and their Geneva times."""

from datetime import UTC, date, datetime, timedelta

import pytest

from outreach.calendar.models import KEY_DATE_KINDS
from outreach.calendar.timing import (
    DEFAULT_DESCRIPTIONS,
    DEFAULT_TIMES,
    DEFAULT_URLS,
    DerivedDate,
    add_months,
    derive_key_dates,
    derived_datetimes,
    hrc_adoption_date,
    kind_datetime,
)

# Session 41: Monday 7 to Friday 18 November 2022.
WG_START, WG_END = date(2022, 11, 7), date(2022, 11, 18)
DEADLINES = (
    "stakeholder_submission",
    "national_report",
    "pre_session_application",
    "pre_session_statement",
    "responses",
    "mid_term_report",
)
EVENTS = ("pre_session", "wg_review", "hrc_adoption")


@pytest.fixture
def usual():
    return derive_key_dates(WG_START, WG_END)


def test_every_kind_is_derived_and_described(usual):
    assert set(usual) == set(KEY_DATE_KINDS)
    assert set(DEFAULT_TIMES) == set(DEFAULT_DESCRIPTIONS) == set(DEFAULT_URLS) == set(usual)
    assert all(url.startswith("https://") for url in DEFAULT_URLS.values())


def test_stakeholder_submission_is_29_weeks_before(usual):
    assert usual["stakeholder_submission"] == DerivedDate(date(2022, 4, 18))
    assert (WG_START - usual["stakeholder_submission"].starts_on).days == 203  # ~6.5 months


def test_national_report_is_12_weeks_before(usual):
    assert usual["national_report"] == DerivedDate(date(2022, 8, 15))


def test_pre_sessions_are_four_days_five_weeks_before(usual):
    assert usual["pre_session"] == DerivedDate(date(2022, 10, 3), date(2022, 10, 6), all_day=True)


def test_pre_session_deadlines_follow_the_pre_sessions(usual):
    assert usual["pre_session_application"] == DerivedDate(date(2022, 8, 8))  # 8 weeks before
    assert usual["pre_session_statement"] == DerivedDate(date(2022, 9, 19))  # 2 weeks before


def test_known_pre_session_start_moves_its_deadlines():
    usual = derive_key_dates(WG_START, WG_END, pre_session_start=date(2022, 9, 1))
    assert usual["pre_session"].starts_on == date(2022, 9, 1)
    assert usual["pre_session"].ends_on == date(2022, 9, 4)
    assert usual["pre_session_application"].starts_on == date(2022, 7, 7)
    assert usual["pre_session_statement"].starts_on == date(2022, 8, 18)


def test_wg_review_is_the_session(usual):
    assert usual["wg_review"] == DerivedDate(WG_START, WG_END, all_day=True)


def test_responses_are_two_weeks_before_the_adoption(usual):
    assert usual["hrc_adoption"] == DerivedDate(date(2023, 3, 20), all_day=True)
    assert usual["responses"] == DerivedDate(date(2023, 3, 6))
    moved = derive_key_dates(WG_START, WG_END, hrc_adoption=date(2023, 4, 3))
    assert moved["hrc_adoption"].starts_on == date(2023, 4, 3)
    assert moved["responses"].starts_on == date(2023, 3, 20)


@pytest.mark.parametrize(
    ("wg_start", "wg_end", "adoption"),
    [
        (date(2022, 11, 7), date(2022, 11, 18), date(2023, 3, 20)),  # Nov -> March next year
        (date(2020, 11, 2), date(2020, 11, 13), date(2021, 3, 22)),  # 20 March 2021 is a Saturday
        (date(2023, 1, 23), date(2023, 2, 3), date(2023, 6, 26)),  # Jan/Feb -> late June
        (date(2024, 1, 22), date(2024, 2, 2), date(2024, 6, 25)),
        (date(2023, 5, 1), date(2023, 5, 12), date(2023, 9, 25)),  # Apr/May -> late September
        (date(2025, 4, 28), date(2025, 5, 9), date(2025, 9, 25)),
        (date(2016, 10, 31), date(2016, 11, 11), date(2017, 3, 20)),  # ends in Nov: a Nov WG
        (date(2021, 10, 4), date(2021, 10, 15), date(2022, 2, 21)),  # otherwise ~4.5 months
    ],
)
def test_hrc_adoption_rule(wg_start, wg_end, adoption):
    assert hrc_adoption_date(wg_start, wg_end) == adoption
    assert adoption.weekday() < 5


def test_mid_term_report_is_two_years_after(usual):
    assert usual["mid_term_report"] == DerivedDate(date(2024, 11, 18))
    weekend = derive_key_dates(date(2020, 11, 2), date(2020, 11, 13))["mid_term_report"]
    assert weekend.starts_on == date(2022, 11, 14)  # 13 Nov 2022 is a Sunday


def test_add_months_clamps_to_the_month_end():
    assert add_months(date(2024, 2, 29), 24) == date(2026, 2, 28)
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert add_months(date(2023, 11, 15), 3) == date(2024, 2, 15)


@pytest.mark.parametrize("kind", DEADLINES)
def test_deadlines_close_at_noon_geneva(kind):
    summer, all_day = kind_datetime(kind, date(2022, 7, 14))
    assert (summer, all_day) == (datetime(2022, 7, 14, 10, 0, tzinfo=UTC), False)
    winter, _ = kind_datetime(kind, date(2022, 1, 14))
    assert winter == datetime(2022, 1, 14, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize("kind", EVENTS)
def test_events_are_all_day_from_geneva_midnight(kind):
    assert kind_datetime(kind, date(2022, 11, 7)) == (datetime(2022, 11, 6, 23, tzinfo=UTC), True)
    assert kind_datetime(kind, date(2022, 10, 3)) == (datetime(2022, 10, 2, 22, tzinfo=UTC), True)


@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [
        (date(2022, 3, 26), 11),  # the day before summer time
        (date(2022, 3, 27), 10),  # clocks go forward at 02:00
        (date(2022, 10, 29), 10),
        (date(2022, 10, 30), 11),  # clocks go back at 03:00
    ],
)
def test_noon_is_correct_across_daylight_saving_changes(day, utc_hour):
    starts_at, _ = kind_datetime("stakeholder_submission", day)
    assert starts_at == datetime(day.year, day.month, day.day, utc_hour, tzinfo=UTC)


def test_derived_range_across_a_clock_change_keeps_local_midnight():
    derived = DerivedDate(date(2022, 10, 28), date(2022, 10, 31), all_day=True)
    starts_at, ends_at, all_day = derived_datetimes("pre_session", derived)
    assert starts_at == datetime(2022, 10, 27, 22, tzinfo=UTC)  # 00:00 CEST
    assert ends_at == datetime(2022, 10, 30, 23, tzinfo=UTC)  # 00:00 CET, last day included
    assert all_day is True


def test_usual_dates_fall_on_weekdays():
    for weeks in range(0, 52 * 3, 5):
        wg_start = date(2022, 1, 3) + timedelta(weeks=weeks)
        usual = derive_key_dates(wg_start, wg_start + timedelta(days=11))
        assert all(d.starts_on.weekday() < 5 for d in usual.values()), wg_start
