"""The usual timing of a UPR session's key dates, relative to its Working Group (WG) session.

This is the timing table of the UPR domain notes as code. The calendar loader uses it to derive an
*estimated* date for every kind the data file does not give, and the staff UI uses `kind_datetime`
so that a date typed by staff gets the same time of day as a loaded one: deadlines close at 12:00
Geneva time; events (pre-sessions, the WG review, the HRC adoption) are all-day.

All-day ranges are stored inclusively: `starts_at` is 00:00 Geneva on the first day and `ends_at`
is 00:00 Geneva on the last day (so `to_local(ends_at).date()` is the last day of the event).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from outreach.calendar.models import KEY_DATE_KINDS
from outreach.core.timezones import local_date_at

DEADLINE_TIME = time(12, 0)
ALL_DAY_KINDS = frozenset({"pre_session", "wg_review", "hrc_adoption"})
# Geneva wall-clock time of each kind; None means an all-day event.
DEFAULT_TIMES: dict[str, time | None] = {
    kind: None if kind in ALL_DAY_KINDS else DEADLINE_TIME for kind in KEY_DATE_KINDS
}

OHCHR_STAKEHOLDERS_URL = "https://www.ohchr.org/en/hr-bodies/upr/ngos-nhris"
OHCHR_UPR_URL = "https://www.ohchr.org/en/hr-bodies/upr/upr-main"
UPR_INFO_PRE_SESSIONS_URL = "https://www.upr-info.org/en/pre-sessions"

# What each entry point is, for key dates that carry no description of their own.
DEFAULT_DESCRIPTIONS: dict[str, str] = {
    "stakeholder_submission": (
        "Written contributions from NGOs and NHRIs to OHCHR's summary of stakeholders' information"
    ),
    "national_report": "The State under review submits its national report to OHCHR",
    "pre_session_application": "Applications to speak at the UPR Info pre-sessions",
    "pre_session_statement": "Statements of the pre-session speakers are due to UPR Info",
    "pre_session": (
        "UPR Info pre-sessions: civil society briefs the permanent missions before the review"
    ),
    "wg_review": "Review of the State by the UPR Working Group in Geneva",
    "responses": "The State's responses to the recommendations it received are due",
    "hrc_adoption": "Adoption of the review outcome by the Human Rights Council in plenary",
    "mid_term_report": "Voluntary mid-term report on the implementation of recommendations",
}
DEFAULT_URLS: dict[str, str] = {
    "stakeholder_submission": OHCHR_STAKEHOLDERS_URL,
    "national_report": OHCHR_UPR_URL,
    "pre_session_application": UPR_INFO_PRE_SESSIONS_URL,
    "pre_session_statement": UPR_INFO_PRE_SESSIONS_URL,
    "pre_session": UPR_INFO_PRE_SESSIONS_URL,
    "wg_review": OHCHR_UPR_URL,
    "responses": OHCHR_UPR_URL,
    "hrc_adoption": OHCHR_UPR_URL,
    "mid_term_report": OHCHR_UPR_URL,
}

SUBMISSION_LEAD = timedelta(weeks=29)  # ~6.5 months before the WG session
NATIONAL_REPORT_LEAD = timedelta(weeks=12)
PRE_SESSION_LEAD = timedelta(weeks=5)  # ~1 month before the WG session
PRE_SESSION_DAYS = 4
APPLICATION_LEAD = timedelta(weeks=8)  # before the pre-sessions
STATEMENT_LEAD = timedelta(weeks=2)  # before the pre-sessions
RESPONSES_LEAD = timedelta(weeks=2)  # before the HRC adoption
# HRC adoption as (years after the WG session, month, day), by the month the WG session ends in:
# Nov WG -> March of the next year; Jan/Feb WG -> late June; Apr/May WG -> late September.
ADOPTION_DAYS = {11: (1, 3, 20), 1: (0, 6, 25), 2: (0, 6, 25), 4: (0, 9, 25), 5: (0, 9, 25)}


@dataclass(frozen=True)
class DerivedDate:
    """A usual date: `starts_on` (and `ends_on` for a range), all-day or at the default time."""

    starts_on: date
    ends_on: date | None = None
    all_day: bool = False


def add_months(day: date, months: int) -> date:
    """`day` moved by whole calendar months, clamped to the month's last day (31 Jan -> 28 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_weekday(day: date) -> date:
    """`day`, or the Monday after it when it falls on a weekend."""
    return day + timedelta(days=max(0, 7 - day.weekday())) if day.weekday() >= 5 else day


def hrc_adoption_date(wg_start: date, wg_end: date) -> date:
    """The usual HRC plenary adoption day for a WG session (see `ADOPTION_DAYS`)."""
    rule = ADOPTION_DAYS.get(wg_end.month)
    if rule is None:
        return next_weekday(add_months(wg_start, 4) + timedelta(days=15))  # ~4.5 months after
    years, month, day = rule
    return next_weekday(date(wg_end.year + years, month, day))


def derive_key_dates(
    wg_start: date,
    wg_end: date,
    *,
    pre_session_start: date | None = None,
    hrc_adoption: date | None = None,
) -> dict[str, DerivedDate]:
    """The usual date of every key date kind for a WG session from `wg_start` to `wg_end`.

    Pre-session deadlines follow `pre_session_start` and the responses follow `hrc_adoption`
    when those are known; otherwise their usual dates are used.
    """
    pre_start = pre_session_start or wg_start - PRE_SESSION_LEAD
    adoption = hrc_adoption or hrc_adoption_date(wg_start, wg_end)
    return {
        "stakeholder_submission": DerivedDate(wg_start - SUBMISSION_LEAD),
        "national_report": DerivedDate(wg_start - NATIONAL_REPORT_LEAD),
        "pre_session_application": DerivedDate(pre_start - APPLICATION_LEAD),
        "pre_session_statement": DerivedDate(pre_start - STATEMENT_LEAD),
        "pre_session": DerivedDate(
            pre_start, pre_start + timedelta(days=PRE_SESSION_DAYS - 1), all_day=True
        ),
        "wg_review": DerivedDate(wg_start, wg_end, all_day=True),
        "responses": DerivedDate(adoption - RESPONSES_LEAD),
        "hrc_adoption": DerivedDate(adoption, all_day=True),
        "mid_term_report": DerivedDate(next_weekday(add_months(wg_end, 24))),
    }


def is_all_day(kind: str) -> bool:
    """True for kinds that are all-day events rather than deadlines at a time of day."""
    return DEFAULT_TIMES.get(kind, DEADLINE_TIME) is None


def kind_datetime(kind: str, day: date) -> tuple[datetime, bool]:
    """(UTC datetime, all_day) for `kind` on the Geneva `day`: 12:00 for deadlines, else 00:00."""
    at = DEFAULT_TIMES.get(kind, DEADLINE_TIME)
    if at is None:
        return local_date_at(day, time(0, 0)), True
    return local_date_at(day, at), False


def derived_datetimes(kind: str, derived: DerivedDate) -> tuple[datetime, datetime | None, bool]:
    """(starts_at, ends_at, all_day) in UTC for a derived date of `kind`."""
    starts_at, all_day = kind_datetime(kind, derived.starts_on)
    ends_at = kind_datetime(kind, derived.ends_on)[0] if derived.ends_on else None
    return starts_at, ends_at, all_day
