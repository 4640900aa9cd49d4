"""Load the UPR calendar data file (TOML) into the database, idempotently.

The file is read and validated completely before anything is written, so a bad file changes
nothing. Then, for every session in the file (matched by number):

- the session's fields are set from the keys present in the file;
- its `states` list is the truth: missing reviews are added, and reviews not listed are removed
  unless staff entered dates for them (State-specific key dates with source "staff");
- key dates are matched by (session, State or None, kind): a date in the file is stored with
  source "file"; every kind the file does not give gets a session-wide date derived from the usual
  timing (source "derived", estimated); rows with source "staff" are never touched, and a key
  that has a staff row is left to staff (its derived estimate, now superseded, is removed).

Sessions and key dates that are not in the file are left alone. The loader flushes, never commits.
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from outreach.calendar.models import (
    KEY_DATE_KINDS,
    SESSION_STATUSES,
    Cycle,
    KeyDate,
    Review,
    UPRSession,
)
from outreach.calendar.timing import (
    DEFAULT_DESCRIPTIONS,
    DEFAULT_URLS,
    derive_key_dates,
    derived_datetimes,
    kind_datetime,
)
from outreach.core.countries import is_country_code, resolve_country
from outreach.core.timezones import local_to_utc, to_local

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "upr_calendar.toml"

TOP_KEYS = {"cycles", "sessions"}
CYCLE_KEYS = {"number", "first_session", "last_session", "starts_on", "ends_on"}
SESSION_KEYS = {"number", "cycle", "wg_start", "wg_end", "location", "status", "notes"}
SESSION_KEYS |= {"states", "review_notes", "key_dates"}
KEY_DATE_KEYS = {"kind", "state", "date", "at", "end_date", "end_at", "estimated"}
KEY_DATE_KEYS |= {"description", "url"}

MISSING = object()


class CalendarDataError(ValueError):
    """The calendar data file is invalid; the message names the session and the problem."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class LoadReport:
    """What a load changed: `cycles` counts cycles created or changed; `key_dates_unchanged`
    counts dates that were already up to date (or are kept by staff)."""

    cycles: int = 0
    sessions_created: int = 0
    sessions_updated: int = 0
    reviews_added: int = 0
    reviews_updated: int = 0
    reviews_removed: int = 0
    key_dates_created: int = 0
    key_dates_updated: int = 0
    key_dates_removed: int = 0
    key_dates_unchanged: int = 0

    @property
    def changed(self) -> bool:
        """True if the load created, updated or removed anything."""
        return any(getattr(self, f.name) for f in fields(self) if f.name != "key_dates_unchanged")

    def summary(self) -> str:
        """One line for the CLI."""
        return (
            f"calendar: cycles changed={self.cycles}, "
            f"sessions created={self.sessions_created} updated={self.sessions_updated}, "
            f"reviews added={self.reviews_added} updated={self.reviews_updated} "
            f"removed={self.reviews_removed}, "
            f"key dates created={self.key_dates_created} updated={self.key_dates_updated} "
            f"removed={self.key_dates_removed} unchanged={self.key_dates_unchanged}"
        )


@dataclass(frozen=True)
class CycleSpec:
    number: int
    values: dict[str, Any]


@dataclass(frozen=True)
class KeyDateSpec:
    kind: str
    state: str | None
    source: str
    values: dict[str, Any]


@dataclass
class SessionSpec:
    number: int
    values: dict[str, Any]
    states: list[str] | None
    review_notes: dict[str, str] = field(default_factory=dict)
    key_dates: dict[tuple[str | None, str], KeyDateSpec] = field(default_factory=dict)


# --- Reading and validating the file ------------------------------------------------------------


def _value(raw: dict, key: str, types: type | tuple, where: str, required: bool = False) -> Any:
    """`raw[key]` checked against `types` (bools are not ints, datetimes are not dates)."""
    value = raw.get(key, MISSING)
    if value is MISSING:
        if required:
            raise CalendarDataError(f"{where}: missing {key!r}")
        return MISSING
    wrong_bool = isinstance(value, bool) and bool not in _as_tuple(types)
    wrong_date = isinstance(value, datetime) and datetime not in _as_tuple(types)
    if wrong_bool or wrong_date or not isinstance(value, types):
        raise CalendarDataError(f"{where}: {key!r} has the wrong type ({value!r})")
    return value


def _items(raw: dict, key: str, where: str) -> list:
    """An optional array (of tables) as a list, empty when absent."""
    value = _value(raw, key, list, where)
    return [] if value is MISSING else value


def _as_tuple(types: type | tuple) -> tuple:
    return types if isinstance(types, tuple) else (types,)


def _check_table(raw: Any, where: str) -> None:
    if not isinstance(raw, dict):
        raise CalendarDataError(f"{where}: expected a table")


def _check_keys(raw: Any, allowed: set[str], where: str) -> None:
    """Reject non-tables and unknown keys (typically typos)."""
    _check_table(raw, where)
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise CalendarDataError(f"{where}: unknown key(s) {', '.join(unknown)}")


def _country(value: Any, where: str) -> str:
    """A valid ISO 3166-1 alpha-2 code, upper-cased."""
    if is_country_code(value):
        return value.upper()
    hint = resolve_country(value) if isinstance(value, str) else None
    suggestion = f" (did you mean {hint!r}?)" if hint else ""
    raise CalendarDataError(f"{where}: unknown country code {value!r}{suggestion}")


def _set_if_present(values: dict, name: str, value: Any) -> None:
    if value is not MISSING:
        values[name] = value


def _parse_cycle(raw: Any, index: int) -> CycleSpec:
    """One [[cycles]] table."""
    where = f"cycle #{index + 1}"
    _check_keys(raw, CYCLE_KEYS, where)
    number = _value(raw, "number", int, where, required=True)
    where = f"cycle {number}"
    values: dict[str, Any] = {}
    for key in ("first_session", "last_session"):
        _set_if_present(values, key, _value(raw, key, int, where))
    for key in ("starts_on", "ends_on"):
        _set_if_present(values, key, _value(raw, key, date, where))
    return CycleSpec(number, values)


def _parse_dates(raw: dict, where: str) -> tuple[datetime, datetime | None, bool]:
    """(starts_at UTC, ends_at UTC or None, all_day) from `date`/`end_date` or `at`/`end_at`."""
    day = _value(raw, "date", date, where)
    at = _value(raw, "at", datetime, where)
    if (day is MISSING) == (at is MISSING):
        raise CalendarDataError(f"{where}: give either 'date' or 'at'")
    if at is not MISSING:
        if "end_date" in raw:
            raise CalendarDataError(f"{where}: use 'end_at' with 'at'")
        end_at = _value(raw, "end_at", datetime, where)
        ends_at = None if end_at is MISSING else local_to_utc(end_at)
        starts_at = local_to_utc(at)
        all_day = False
    else:
        if "end_at" in raw:
            raise CalendarDataError(f"{where}: use 'end_date' with 'date'")
        end_day = _value(raw, "end_date", date, where)
        starts_at, all_day = kind_datetime(raw["kind"], day)
        ends_at = None if end_day is MISSING else kind_datetime(raw["kind"], end_day)[0]
    if ends_at is not None and ends_at < starts_at:
        raise CalendarDataError(f"{where}: ends before it starts")
    return starts_at, ends_at, all_day


def _parse_key_date(raw: Any, index: int, number: int, states: list[str] | None) -> KeyDateSpec:
    """One [[sessions.key_dates]] table of session `number`."""
    where = f"session {number}, key date #{index + 1}"
    _check_keys(raw, KEY_DATE_KEYS, where)
    kind = _value(raw, "kind", str, where, required=True)
    if kind not in KEY_DATE_KINDS:
        raise CalendarDataError(
            f"{where}: unknown kind {kind!r} (expected one of {', '.join(KEY_DATE_KINDS)})"
        )
    where = f"session {number}, key date {kind!r}"
    state = _value(raw, "state", str, where)
    state = None if state is MISSING else _country(state, where)
    if state and state not in (states or ()):
        raise CalendarDataError(f"{where}: State {state} is not in the session's 'states'")
    starts_at, ends_at, all_day = _parse_dates(raw, where)
    estimated = _value(raw, "estimated", bool, where)
    description = _value(raw, "description", str, where)
    url = _value(raw, "url", str, where)
    values = {
        "starts_at": starts_at,
        "ends_at": ends_at,
        "all_day": all_day,
        "estimated": False if estimated is MISSING else estimated,
        "description": DEFAULT_DESCRIPTIONS[kind] if description is MISSING else description,
        "url": DEFAULT_URLS[kind] if url is MISSING else url,
    }
    return KeyDateSpec(kind, state, "file", values)


def _parse_states(raw: dict, where: str) -> list[str] | None:
    """The session's `states` as unique upper-case codes, or None when the key is absent."""
    states = _value(raw, "states", list, where)
    if states is MISSING:
        return None
    codes = [_country(code, where) for code in states]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        raise CalendarDataError(f"{where}: States listed twice: {', '.join(duplicates)}")
    return codes


def _parse_review_notes(raw: dict, where: str, states: list[str] | None) -> dict[str, str]:
    """The optional [sessions.review_notes] table, code -> note."""
    notes = _value(raw, "review_notes", dict, where)
    if notes is MISSING:
        return {}
    result = {}
    for code, note in notes.items():
        code = _country(code, f"{where}, review_notes")
        if code not in (states or ()):
            raise CalendarDataError(f"{where}: review note for {code}, which is not in 'states'")
        if not isinstance(note, str):
            raise CalendarDataError(f"{where}: the review note for {code} must be a string")
        result[code] = note
    return result


def _parse_session_values(raw: dict, where: str) -> dict[str, Any]:
    """The session's own columns present in the table."""
    values: dict[str, Any] = {}
    _set_if_present(values, "cycle_number", _value(raw, "cycle", int, where))
    for key in ("wg_start", "wg_end"):
        _set_if_present(values, key, _value(raw, key, date, where))
    for key in ("location", "status", "notes"):
        _set_if_present(values, key, _value(raw, key, str, where))
    if ("wg_start" in values) != ("wg_end" in values):
        raise CalendarDataError(f"{where}: give both 'wg_start' and 'wg_end'")
    if "wg_start" in values and values["wg_end"] < values["wg_start"]:
        raise CalendarDataError(f"{where}: 'wg_end' is before 'wg_start'")
    if values.get("status", SESSION_STATUSES[0]) not in SESSION_STATUSES:
        raise CalendarDataError(
            f"{where}: unknown status {values['status']!r} (use {' or '.join(SESSION_STATUSES)})"
        )
    return values


def _parse_session(raw: Any, index: int) -> SessionSpec:
    """One [[sessions]] table."""
    where = f"session #{index + 1} in the file"
    _check_table(raw, where)
    number = _value(raw, "number", int, where, required=True)
    where = f"session {number}"
    _check_keys(raw, SESSION_KEYS, where)
    states = _parse_states(raw, where)
    spec = SessionSpec(number, _parse_session_values(raw, where), states)
    spec.review_notes = _parse_review_notes(raw, where, states)
    for i, item in enumerate(_items(raw, "key_dates", where)):
        key_date = _parse_key_date(item, i, number, states)
        key = (key_date.state, key_date.kind)
        if key in spec.key_dates:
            raise CalendarDataError(f"{where}: key date {key_date.kind!r} is given twice")
        spec.key_dates[key] = key_date
    return spec


def _check_cycles(cycles: list[CycleSpec], sessions: list[SessionSpec]) -> None:
    """Unique numbers, and sessions inside their cycle's session range when the file gives it."""
    numbers = [cycle.number for cycle in cycles]
    if len(set(numbers)) != len(numbers):
        raise CalendarDataError("cycles: a cycle number is listed twice")
    by_number = {cycle.number: cycle.values for cycle in cycles}
    for spec in sessions:
        cycle = by_number.get(spec.values.get("cycle_number"), {})
        first, last = cycle.get("first_session"), cycle.get("last_session")
        if (first and spec.number < first) or (last and spec.number > last):
            raise CalendarDataError(
                f"session {spec.number}: outside cycle {spec.values['cycle_number']} "
                f"(sessions {first}-{last or ''})"
            )


def read_calendar(path: Path | str | None = None) -> tuple[list[CycleSpec], list[SessionSpec]]:
    """Parse and validate the calendar file at `path` (default: the shipped file)."""
    path = Path(path) if path else DEFAULT_PATH
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise CalendarDataError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as error:
        raise CalendarDataError(f"{path}: invalid TOML: {error}") from None
    _check_keys(data, TOP_KEYS, str(path))
    cycles = [_parse_cycle(raw, i) for i, raw in enumerate(_items(data, "cycles", str(path)))]
    raw_sessions = _items(data, "sessions", str(path))
    sessions = [_parse_session(raw, i) for i, raw in enumerate(raw_sessions)]
    seen: set[int] = set()
    for spec in sessions:
        if spec.number in seen:
            raise CalendarDataError(f"session {spec.number}: listed twice")
        seen.add(spec.number)
    _check_cycles(cycles, sessions)
    return cycles, sessions


# --- Writing to the database --------------------------------------------------------------------


def _update(obj: Any, values: dict[str, Any]) -> bool:
    """Set the attributes that differ; True if any did."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _upsert_cycles(session: Session, cycles: list[CycleSpec], report: LoadReport) -> None:
    for spec in cycles:
        cycle = session.get(Cycle, spec.number)
        if cycle is None:
            session.add(Cycle(number=spec.number, **spec.values))
            report.cycles += 1
        elif _update(cycle, spec.values):
            report.cycles += 1
    session.flush()


def _check_cycles_exist(
    session: Session, cycles: list[CycleSpec], sessions: list[SessionSpec]
) -> None:
    """Every session's cycle must be in the file or already in the database."""
    known = {cycle.number for cycle in cycles}
    for spec in sessions:
        number = spec.values.get("cycle_number")
        if number is not None and number not in known and session.get(Cycle, number) is None:
            raise CalendarDataError(f"session {spec.number}: unknown cycle {number}")


def _existing_sessions(session: Session, numbers: list[int]) -> dict[int, UPRSession]:
    query = (
        select(UPRSession)
        .where(UPRSession.number.in_(numbers))
        .options(
            selectinload(UPRSession.reviews),
            selectinload(UPRSession.key_dates).selectinload(KeyDate.review),
        )
    )
    return {upr_session.number: upr_session for upr_session in session.scalars(query)}


def _upsert_session(
    session: Session, existing: UPRSession | None, spec: SessionSpec, report: LoadReport
) -> UPRSession:
    if existing is None:
        upr_session = UPRSession(number=spec.number, **spec.values)
        session.add(upr_session)
        report.sessions_created += 1
        return upr_session
    if existing.edited_by_staff_at is None and _update(existing, spec.values):
        report.sessions_updated += 1
    return existing


def _discard_key_date(upr_session: UPRSession, row: KeyDate) -> None:
    """Delete a key date (it is an orphan once out of its session's collection)."""
    if row in upr_session.key_dates:
        upr_session.key_dates.remove(row)
    if row.review is not None and row in row.review.key_dates:
        row.review.key_dates.remove(row)


def _sync_reviews(upr_session: UPRSession, spec: SessionSpec, report: LoadReport) -> None:
    """Add the file's States, remove the others unless staff dated them; set file notes.

    A session whose States staff changed in the UI keeps them as staff left them.
    """
    if spec.states is None or upr_session.edited_by_staff_at is not None:
        return
    by_code = {review.country_code: review for review in upr_session.reviews}
    for code in spec.states:
        review = by_code.get(code)
        note = spec.review_notes.get(code)
        if review is None:
            upr_session.reviews.append(Review(country_code=code, note=note or ""))
            report.reviews_added += 1
        elif note is not None and review.note != note:
            review.note = note
            report.reviews_updated += 1
    wanted = set(spec.states)
    for review in list(upr_session.reviews):
        if review.country_code in wanted:
            continue
        if any(row.source == "staff" for row in review.key_dates):
            continue
        for row in list(review.key_dates):
            _discard_key_date(upr_session, row)
        upr_session.reviews.remove(review)
        report.reviews_removed += 1


def _local_day(value: datetime) -> date:
    return to_local(value).date()


def _anchor(kind: str, wanted: dict, existing: dict) -> date | None:
    """The known session-wide day of `kind`: from the file, else from a staff row."""
    spec = wanted.get((None, kind))
    if spec is not None:
        return _local_day(spec.values["starts_at"])
    staff = [row for row in existing.get((None, kind), []) if row.source == "staff"]
    return _local_day(staff[0].starts_at) if staff else None


def _derived_specs(upr_session: UPRSession, wanted: dict, existing: dict) -> dict:
    """Session-wide derived key dates for the kinds not given, when the WG dates are known."""
    if upr_session.wg_start is None or upr_session.wg_end is None:
        return {}
    derived = derive_key_dates(
        upr_session.wg_start,
        upr_session.wg_end,
        pre_session_start=_anchor("pre_session", wanted, existing),
        hrc_adoption=_anchor("hrc_adoption", wanted, existing),
    )
    specs = {}
    for kind, usual in derived.items():
        starts_at, ends_at, all_day = derived_datetimes(kind, usual)
        # The WG review dates are the session's own: estimated only while it is projected.
        estimated = upr_session.is_projected if kind == "wg_review" else True
        values = {
            "starts_at": starts_at,
            "ends_at": ends_at,
            "all_day": all_day,
            "estimated": estimated,
            "description": DEFAULT_DESCRIPTIONS[kind],
            "url": DEFAULT_URLS[kind],
        }
        specs[(None, kind)] = KeyDateSpec(kind, None, "derived", values)
    return specs


def _existing_key_dates(upr_session: UPRSession) -> dict[tuple[str | None, str], list[KeyDate]]:
    grouped: dict[tuple[str | None, str], list[KeyDate]] = defaultdict(list)
    for row in upr_session.key_dates:
        code = row.review.country_code if row.review is not None else None
        grouped[(code, row.kind)].append(row)
    return grouped


def _sync_key(
    upr_session: UPRSession,
    rows: list[KeyDate],
    spec: KeyDateSpec | None,
    reviews: dict[str, Review],
    report: LoadReport,
) -> None:
    """Bring the rows of one (State, kind) key in line with `spec` (None: remove them).

    A key with a staff row belongs to staff: only the estimates it supersedes are removed.
    """
    if any(row.source == "staff" for row in rows):
        for row in rows:
            if row.source == "derived":
                _discard_key_date(upr_session, row)
                report.key_dates_removed += 1
        report.key_dates_unchanged += spec is not None
        return
    keep = next((row for row in rows if spec and row.source == spec.source), None)
    for row in rows:
        if row is not keep:
            _discard_key_date(upr_session, row)
            report.key_dates_removed += 1
    if spec is None:
        return
    if keep is None:
        review = reviews[spec.state] if spec.state else None
        row = KeyDate(kind=spec.kind, source=spec.source, review=review, **spec.values)
        upr_session.key_dates.append(row)
        report.key_dates_created += 1
    elif _update(keep, spec.values):
        report.key_dates_updated += 1
    else:
        report.key_dates_unchanged += 1


def _sync_key_dates(upr_session: UPRSession, spec: SessionSpec, report: LoadReport) -> None:
    """File dates, then derived dates for the other kinds; staff rows win over both."""
    existing = _existing_key_dates(upr_session)
    wanted = dict(spec.key_dates)
    for key, derived in _derived_specs(upr_session, wanted, existing).items():
        wanted.setdefault(key, derived)
    reviews = {review.country_code: review for review in upr_session.reviews}
    for key in list(wanted) + [key for key in existing if key not in wanted]:
        _sync_key(upr_session, existing.get(key, []), wanted.get(key), reviews, report)


def load_calendar(session: Session, path: Path | str | None = None) -> LoadReport:
    """Load the calendar file at `path` (default: the shipped file) into `session`; flush only."""
    cycles, sessions = read_calendar(path)
    _check_cycles_exist(session, cycles, sessions)
    report = LoadReport()
    _upsert_cycles(session, cycles, report)
    existing = _existing_sessions(session, [spec.number for spec in sessions])
    for spec in sessions:
        upr_session = _upsert_session(session, existing.get(spec.number), spec, report)
        _sync_reviews(upr_session, spec, report)
        _sync_key_dates(upr_session, spec, report)
    session.flush()
    return report
