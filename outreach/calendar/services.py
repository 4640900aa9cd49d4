"""Calendar operations for the staff pages: upcoming deadlines, sessions, States and key dates.

Functions take the SQLAlchemy session first, flush but never commit. Dates typed by staff are
Geneva wall-clock dates and times; they are stored in UTC. Refusals are `ServiceError`s whose
`fields` name the form field to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit

from sqlalchemy import and_, exists, false, func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from outreach.audit.services import diff, record, snapshot
from outreach.auth.permissions import require_role
from outreach.calendar.models import (
    DEADLINE_KINDS,
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
from outreach.contacts.models import Contact, ContactCountry
from outreach.core.countries import country_name, resolve_country
from outreach.core.database import utcnow
from outreach.core.errors import ServiceError
from outreach.core.timezones import local_date_at, to_local

MIN_DAYS, MAX_DAYS = 7, 365


# --- Reading ------------------------------------------------------------------------------------


def concerning(codes: list[str]):
    """SQL condition: the key date concerns at least one of `codes`.

    A State's own date, or a session-wide date of a session reviewing one of the States that has
    no own date of that kind (an own date supersedes the session-wide one).
    """
    if not codes:
        return false()
    own = aliased(Review)
    member = aliased(Review)
    specific = aliased(KeyDate)
    state_specific = exists().where(own.id == KeyDate.review_id, own.country_code.in_(codes))
    # Explicit: auto-correlation would only reach the enclosing EXISTS, not the outer key date.
    superseded = (
        exists()
        .where(specific.review_id == member.id, specific.kind == KeyDate.kind)
        .correlate(KeyDate, member)
    )
    session_wide = and_(
        KeyDate.review_id.is_(None),
        exists().where(
            member.session_id == KeyDate.session_id,
            member.country_code.in_(codes),
            ~superseded,
        ),
    )
    return or_(state_specific, session_wide)


def concerned_states(key_date: KeyDate) -> list[str]:
    """Country codes a key date concerns, by country name: its State, or the session's States
    that have no date of their own of the same kind."""
    if key_date.review is not None:
        return [key_date.review.country_code]
    codes = [
        review.country_code
        for review in key_date.session.reviews
        if not any(own.kind == key_date.kind for own in review.key_dates)
    ]
    return sorted(codes, key=country_name)


def states_with_own_date(key_date: KeyDate) -> list[str]:
    """For a session-wide date: the session's States that have their own date of its kind."""
    if key_date.review is not None:
        return []
    return [
        review.country_code
        for review in key_date.session.reviews
        if any(own.kind == key_date.kind for own in review.key_dates)
    ]


def upcoming_key_dates(
    session: Session,
    *,
    start: datetime | None = None,
    days: int = 90,
    country: str | None = None,
    kinds: tuple[str, ...] | list[str] | None = None,
    session_number: int | None = None,
) -> list[tuple[KeyDate, list[str]]]:
    """Key dates not yet over at `start` (default now) and starting within `days`, by time.

    `kinds` defaults to the stakeholder deadlines; pass `KEY_DATE_KINDS` for every kind. An event
    under way (an all-day date today, or a range that has not ended) is still listed.
    Returns (key date, country codes it concerns) pairs.
    """
    start = start or utcnow()
    until = start + timedelta(days=days)
    last_moment = func.coalesce(KeyDate.ends_at, KeyDate.starts_at)
    not_over = or_(
        and_(KeyDate.all_day.is_(True), last_moment > start - timedelta(days=1)),
        and_(KeyDate.all_day.is_(False), last_moment >= start),
    )
    stmt = (
        select(KeyDate)
        .where(KeyDate.kind.in_(tuple(kinds or DEADLINE_KINDS)), KeyDate.starts_at <= until)
        .where(not_over)
        .options(
            selectinload(KeyDate.session)
            .selectinload(UPRSession.reviews)
            .selectinload(Review.key_dates),
            selectinload(KeyDate.review),
        )
        .order_by(KeyDate.starts_at, KeyDate.kind, KeyDate.id)
    )
    if country:
        stmt = stmt.where(concerning([country]))
    if session_number is not None:
        stmt = stmt.join(UPRSession, KeyDate.session_id == UPRSession.id).where(
            UPRSession.number == session_number
        )
    return [(key_date, concerned_states(key_date)) for key_date in session.scalars(stmt)]


def days_left(key_date: KeyDate, today: date) -> int:
    """Whole days from the Geneva `today` to the Geneva day the key date starts (negative: past)."""
    return (to_local(key_date.starts_at).date() - today).days


def key_dates_for_review(session: Session, review: Review) -> list[KeyDate]:
    """The key dates of a State's review, by time: its own, and its session's session-wide dates
    of the kinds it has no own date for."""
    stmt = (
        select(KeyDate)
        .where(KeyDate.session_id == review.session_id)
        .where(or_(KeyDate.review_id.is_(None), KeyDate.review_id == review.id))
        .order_by(KeyDate.starts_at, KeyDate.kind, KeyDate.id)
    )
    rows = list(session.scalars(stmt))
    own_kinds = {row.kind for row in rows if row.review_id is not None}
    return [row for row in rows if row.review_id is not None or row.kind not in own_kinds]


def reviewed_countries(session: Session) -> list[str]:
    """Country codes that have at least one review, sorted by English name."""
    codes = session.scalars(select(Review.country_code).distinct())
    return sorted(codes, key=lambda code: country_name(code))


def get_session(session: Session, number: int) -> UPRSession | None:
    """A session by number, with its reviews and key dates loaded."""
    stmt = (
        select(UPRSession)
        .where(UPRSession.number == number)
        .options(
            selectinload(UPRSession.cycle),
            selectinload(UPRSession.reviews).selectinload(Review.key_dates),
            selectinload(UPRSession.key_dates),
        )
    )
    return session.scalar(stmt)


def session_numbers(session: Session) -> list[int]:
    return list(session.scalars(select(UPRSession.number).order_by(UPRSession.number.desc())))


@dataclass
class SessionRow:
    """One line of the sessions list."""

    upr_session: UPRSession
    state_count: int
    next_deadline: KeyDate | None


def list_sessions(session: Session, *, now: datetime | None = None) -> list[SessionRow]:
    """Every session, newest first, with its number of States and its next stakeholder deadline."""
    now = now or utcnow()
    counts = dict(
        session.execute(
            select(Review.session_id, func.count(Review.id)).group_by(Review.session_id)
        ).all()
    )
    next_deadline: dict[int, KeyDate] = {}
    upcoming = session.scalars(
        select(KeyDate)
        .where(KeyDate.kind.in_(DEADLINE_KINDS), KeyDate.starts_at >= now)
        .order_by(KeyDate.starts_at, KeyDate.id)
    )
    for key_date in upcoming:
        next_deadline.setdefault(key_date.session_id, key_date)
    sessions = session.scalars(
        select(UPRSession).options(selectinload(UPRSession.cycle)).order_by(
            UPRSession.number.desc()
        )
    )
    return [
        SessionRow(s, counts.get(s.id, 0), next_deadline.get(s.id)) for s in sessions
    ]


def group_by_cycle(rows: list[SessionRow]) -> list[tuple[int | None, list[SessionRow]]]:
    """Rows grouped by cycle number, keeping their order (newest cycle first)."""
    groups: dict[int | None, list[SessionRow]] = {}
    for row in rows:
        groups.setdefault(row.upr_session.cycle_number, []).append(row)
    return list(groups.items())


def contacts_working_on(session: Session, country_code: str, limit: int = 5) -> list[Contact]:
    """Active contacts whose primary country or a country of work is `country_code`, by name."""
    stmt = (
        select(Contact)
        .join(ContactCountry, ContactCountry.contact_id == Contact.id)
        .where(Contact.status == "active", ContactCountry.country_code == country_code)
        .order_by(Contact.last_name, Contact.first_name, Contact.email_key)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def contact_counts(session: Session, upr_session: UPRSession) -> dict[str, int]:
    """Active contacts working on each State of `upr_session`, in one grouped query."""
    stmt = (
        select(ContactCountry.country_code, func.count(ContactCountry.contact_id))
        .join(Contact, Contact.id == ContactCountry.contact_id)
        .join(Review, Review.country_code == ContactCountry.country_code)
        .where(Review.session_id == upr_session.id, Contact.status == "active")
        .group_by(ContactCountry.country_code)
    )
    counts = dict(session.execute(stmt).all())
    return {code: counts.get(code, 0) for code in upr_session.state_codes}


def sample_contacts(
    session: Session, codes: list[str], per_country: int = 3
) -> dict[str, list[Contact]]:
    """The first `per_country` active contacts (by name) working on each of `codes`, one query."""
    if not codes:
        return {}
    rank = (
        func.row_number()
        .over(
            partition_by=ContactCountry.country_code,
            order_by=(Contact.last_name, Contact.first_name, Contact.email_key),
        )
        .label("rank")
    )
    ranked = (
        select(ContactCountry.country_code, Contact.id.label("contact_id"), rank)
        .join(Contact, Contact.id == ContactCountry.contact_id)
        .where(Contact.status == "active", ContactCountry.country_code.in_(codes))
        .subquery()
    )
    stmt = (
        select(ranked.c.country_code, Contact)
        .join(Contact, Contact.id == ranked.c.contact_id)
        .where(ranked.c.rank <= per_country)
        .order_by(ranked.c.country_code, ranked.c.rank)
    )
    samples: dict[str, list[Contact]] = {code: [] for code in codes}
    for code, contact in session.execute(stmt):
        samples[code].append(contact)
    return samples


# --- Sessions -----------------------------------------------------------------------------------


@dataclass
class SessionData:
    """What staff type for a session."""

    number: int | None
    cycle_number: int | None = None
    wg_start: date | None = None
    wg_end: date | None = None
    location: str = "Geneva"
    status: str = "confirmed"
    notes: str = ""


def _check_session(session: Session, data: SessionData, current: UPRSession | None) -> None:
    errors: dict[str, str] = {}
    if data.number is None or data.number < 1:
        errors["number"] = "Give the session number (1 or more)."
    else:
        clash = session.scalar(select(UPRSession).where(UPRSession.number == data.number))
        if clash is not None and clash is not current:
            errors["number"] = f"Session {data.number} already exists."
    if data.wg_start and data.wg_end and data.wg_end < data.wg_start:
        errors["wg_end"] = "The Working Group cannot end before it starts."
    if bool(data.wg_start) != bool(data.wg_end):
        field = "wg_end" if data.wg_start else "wg_start"
        errors.setdefault(field, "Give both the first and the last day, or neither.")
    if data.status not in SESSION_STATUSES:
        errors["status"] = f"Choose one of: {', '.join(SESSION_STATUSES)}."
    if data.cycle_number is not None:
        cycle = session.get(Cycle, data.cycle_number)
        if data.cycle_number < 1:
            errors["cycle_number"] = "A cycle number is 1 or more."
        elif cycle and data.number and not _in_cycle(cycle, data.number):
            errors["cycle_number"] = (
                f"Cycle {cycle.number} has sessions {cycle.first_session}"
                f"-{cycle.last_session or ''}; session {data.number} is outside it."
            )
    if errors:
        raise ServiceError("Please correct the session details.", errors)


def _in_cycle(cycle: Cycle, number: int) -> bool:
    return not (
        (cycle.first_session and number < cycle.first_session)
        or (cycle.last_session and number > cycle.last_session)
    )


def _ensure_cycle(session: Session, number: int | None) -> None:
    if number is not None and session.get(Cycle, number) is None:
        session.add(Cycle(number=number))
        session.flush()


def mark_edited(*upr_sessions: UPRSession) -> None:
    """Record a staff edit so `flask calendar load` leaves these sessions' details and States."""
    now = utcnow()
    for upr_session in upr_sessions:
        upr_session.edited_by_staff_at = now


def _apply_session(upr_session: UPRSession, data: SessionData) -> None:
    mark_edited(upr_session)
    upr_session.number = data.number
    upr_session.cycle_number = data.cycle_number
    upr_session.wg_start = data.wg_start
    upr_session.wg_end = data.wg_end
    upr_session.location = (data.location or "").strip() or "Geneva"
    upr_session.status = data.status
    upr_session.notes = (data.notes or "").strip()


SESSION_FIELDS = ("number", "cycle_number", "wg_start", "wg_end", "status", "notes")
KEY_DATE_FIELDS = ("kind", "review_id", "starts_at", "ends_at", "all_day", "estimated",
                   "description", "url")


def create_session(
    session: Session, data: SessionData, *, derive_dates: bool = True
) -> UPRSession:
    """A new session; with `derive_dates` and known WG dates, its usual key dates (estimated)."""
    require_role("editor")
    _check_session(session, data, None)
    _ensure_cycle(session, data.cycle_number)
    upr_session = UPRSession()
    _apply_session(upr_session, data)
    session.add(upr_session)
    if derive_dates:
        refresh_derived_key_dates(upr_session)
    session.flush()
    record(session, "session.create", "session", upr_session.number,
           f"Created session {upr_session.number}")
    return upr_session


def update_session(session: Session, upr_session: UPRSession, data: SessionData) -> UPRSession:
    """Change a session; derived (estimated) key dates follow new WG dates or status."""
    require_role("editor")
    _check_session(session, data, upr_session)
    _ensure_cycle(session, data.cycle_number)
    before = snapshot(upr_session, SESSION_FIELDS)
    _apply_session(upr_session, data)
    refresh_derived_key_dates(upr_session, only_existing=True)
    session.flush()
    record(session, "session.update", "session", upr_session.number,
           f"Edited session {upr_session.number}",
           diff(before, snapshot(upr_session, SESSION_FIELDS)))
    return upr_session


def confirm_session(session: Session, upr_session: UPRSession) -> UPRSession:
    """Mark a projected session confirmed (its dates and States are now official)."""
    require_role("editor")
    upr_session.status = "confirmed"
    mark_edited(upr_session)
    refresh_derived_key_dates(upr_session, only_existing=True)
    session.flush()
    record(session, "session.confirm", "session", upr_session.number,
           f"Confirmed session {upr_session.number}")
    return upr_session


def refresh_derived_key_dates(upr_session: UPRSession, *, only_existing: bool = False) -> None:
    """Set the session-wide derived key dates from the usual timing of its WG dates.

    Only rows with source "derived" are changed; kinds that have a file or staff date are left
    alone. With `only_existing`, no new rows are added.
    """
    if upr_session.wg_start is None or upr_session.wg_end is None:
        return
    rows: dict[str, list[KeyDate]] = {}
    for key_date in upr_session.key_dates:
        if key_date.review is None and key_date.review_id is None:
            rows.setdefault(key_date.kind, []).append(key_date)
    given = {
        kind: next(kd for kd in found if kd.source != "derived")
        for kind, found in rows.items()
        if any(kd.source != "derived" for kd in found)
    }
    anchors = {
        kind: to_local(given[kind].starts_at).date()
        for kind in ("pre_session", "hrc_adoption")
        if kind in given
    }
    derived = derive_key_dates(
        upr_session.wg_start,
        upr_session.wg_end,
        pre_session_start=anchors.get("pre_session"),
        hrc_adoption=anchors.get("hrc_adoption"),
    )
    for kind, usual in derived.items():
        row = next(iter(rows.get(kind, [])), None)
        if kind in given or (row is None and only_existing):
            continue
        starts_at, ends_at, all_day = derived_datetimes(kind, usual)
        estimated = upr_session.is_projected if kind == "wg_review" else True
        if row is None:
            row = KeyDate(
                kind=kind,
                source="derived",
                description=DEFAULT_DESCRIPTIONS[kind],
                url=DEFAULT_URLS[kind],
            )
            upr_session.key_dates.append(row)
        row.starts_at, row.ends_at, row.all_day, row.estimated = (
            starts_at,
            ends_at,
            all_day,
            estimated,
        )


# --- States under review ------------------------------------------------------------------------


def find_review(upr_session: UPRSession, country_code: str) -> Review | None:
    code = (country_code or "").upper()
    return next((r for r in upr_session.reviews if r.country_code == code), None)


def add_review(
    session: Session, upr_session: UPRSession, country: str, note: str = ""
) -> Review:
    """Add a State (code or name in en/fr/es) to a session."""
    require_role("editor")
    text = (country or "").strip()
    if not text:
        raise ServiceError("Choose a State.", {"country": "Choose a State."})
    code = resolve_country(text)
    if code is None:
        message = f"Unknown country {text!r}."
        raise ServiceError(message, {"country": message})
    if find_review(upr_session, code):
        message = f"{country_name(code)} is already under review in session {upr_session.number}."
        raise ServiceError(message, {"country": message})
    review = Review(country_code=code, note=(note or "").strip())
    upr_session.reviews.append(review)
    mark_edited(upr_session)
    session.flush()
    record(session, "review.add", "session", upr_session.number,
           f"Added {country_name(code)} to session {upr_session.number}")
    return review


def remove_review(session: Session, review: Review) -> None:
    """Remove a State from its session, with its State-specific key dates."""
    require_role("editor")
    upr_session = review.session
    record(session, "review.remove", "session", upr_session.number,
           f"Removed {country_name(review.country_code)} from session {upr_session.number}")
    mark_edited(upr_session)
    session.delete(review)  # cascades to its key dates
    session.flush()
    session.expire(upr_session, ["reviews", "key_dates"])


def move_review(
    session: Session,
    review: Review,
    target: UPRSession,
    note: str = "",
    *,
    on: date | None = None,
) -> Review:
    """Move a State's review and its State-specific key dates to another session.

    Records "Moved from session N on YYYY-MM-DD" (plus `note`) on the review; `on` is the day of
    the decision (default: today in Geneva).
    """
    require_role("editor")
    source = review.session
    if target is source:
        message = f"{country_name(review.country_code)} is already in session {source.number}."
        raise ServiceError(message, {"target": "Choose a different session."})
    if find_review(target, review.country_code):
        message = (
            f"{country_name(review.country_code)} is already under review in session "
            f"{target.number}."
        )
        raise ServiceError(message, {"target": message})
    day = on or to_local(utcnow()).date()
    line = f"Moved from session {source.number} on {day.isoformat()}"
    extra = (note or "").strip()
    line = f"{line}: {extra}" if extra else line
    review.note = f"{review.note}\n{line}" if review.note else line
    for key_date in list(review.key_dates):
        key_date.session = target
    review.session = target
    mark_edited(source, target)
    session.flush()
    record(session, "review.move", "session", target.number,
           f"Moved {country_name(review.country_code)} from session {source.number} to "
           f"{target.number}", {"session": [source.number, target.number]})
    return review


# --- Key dates ----------------------------------------------------------------------------------


@dataclass
class KeyDateData:
    """What staff type for a key date: Geneva day, optional time and end day."""

    kind: str
    day: date | None
    at: time | None = None
    end_day: date | None = None
    estimated: bool = False
    description: str = ""
    url: str = ""
    state: str | None = None


def _valid_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _key_date_values(upr_session: UPRSession, data: KeyDateData) -> dict:
    """Validated column values for a key date of `upr_session`; ServiceError if bad."""
    errors: dict[str, str] = {}
    if data.kind not in KEY_DATE_KINDS:
        errors["kind"] = "Choose what kind of date this is."
    if data.day is None:
        errors["day"] = "Give the date."
    url = (data.url or "").strip()
    if url and not _valid_url(url):
        errors["url"] = "Give a full web address starting with https:// or http://."
    review = None
    if data.state:
        review = find_review(upr_session, data.state)
        if review is None:
            errors["state"] = (
                f"{country_name(data.state)} is not under review in session {upr_session.number}."
            )
    if errors:
        raise ServiceError("Please correct the key date.", errors)
    if data.at is not None:
        starts_at, all_day = local_date_at(data.day, data.at), False
    else:
        starts_at, all_day = kind_datetime(data.kind, data.day)
    ends_at = None
    if data.end_day is not None:
        ends_at = (
            local_date_at(data.end_day, data.at)
            if data.at is not None
            else kind_datetime(data.kind, data.end_day)[0]
        )
        if ends_at < starts_at:
            message = "The end date cannot be before the start."
            raise ServiceError(message, {"end_day": message})
        if ends_at == starts_at:
            ends_at = None
    return {
        "kind": data.kind,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "all_day": all_day,
        "estimated": bool(data.estimated),
        "description": (data.description or "").strip(),
        "url": url,
        "review": review,
        "source": "staff",
    }


def create_key_date(session: Session, upr_session: UPRSession, data: KeyDateData) -> KeyDate:
    """A key date entered by staff; a blank description or URL gets the kind's usual one.

    It replaces the estimate derived for the same kind and State, if there is one.
    """
    require_role("editor")
    values = _key_date_values(upr_session, data)
    values["description"] = values["description"] or DEFAULT_DESCRIPTIONS.get(data.kind, "")
    values["url"] = values["url"] or DEFAULT_URLS.get(data.kind, "")
    review = values["review"]
    for old in list(upr_session.key_dates):
        if old.source == "derived" and old.kind == data.kind and old.review is review:
            session.delete(old)
    key_date = KeyDate(session=upr_session, **values)
    session.add(key_date)
    session.flush()
    record(session, "key_date.create", "key_date", key_date.id,
           f"Added {key_date.kind} to session {upr_session.number}",
           diff({}, snapshot(key_date, KEY_DATE_FIELDS)))
    session.expire(upr_session, ["key_dates"])
    if review is not None:
        session.expire(review, ["key_dates"])
    return key_date


def update_key_date(session: Session, key_date: KeyDate, data: KeyDateData) -> KeyDate:
    """Staff edit: the date becomes a staff date, estimated only if `data.estimated`."""
    require_role("editor")
    before = snapshot(key_date, KEY_DATE_FIELDS)
    values = _key_date_values(key_date.session, data)
    review = values.pop("review")
    old_review = key_date.review
    for name, value in values.items():
        setattr(key_date, name, value)
    if old_review is not review:
        # Set the column, not the relationship: leaving a review's collection would delete the
        # row as an orphan.
        key_date.review_id = review.id if review is not None else None
    session.flush()
    record(session, "key_date.update", "key_date", key_date.id,
           f"Edited {key_date.kind} of session {key_date.session.number}",
           diff(before, snapshot(key_date, KEY_DATE_FIELDS)))
    if old_review is not review:
        session.expire(key_date, ["review"])
        for parent in (old_review, review):
            if parent is not None:
                session.expire(parent, ["key_dates"])
    return key_date


def delete_key_date(session: Session, key_date: KeyDate) -> None:
    require_role("editor")
    record(session, "key_date.delete", "key_date", key_date.id,
           f"Deleted {key_date.kind} of session {key_date.session.number}",
           diff(snapshot(key_date, KEY_DATE_FIELDS), {}))
    parents = [key_date.session, key_date.review]
    session.delete(key_date)
    session.flush()
    for parent in parents:
        if parent is not None:
            session.expire(parent, ["key_dates"])


def confirm_key_date(session: Session, key_date: KeyDate) -> KeyDate:
    """Staff confirm an estimated date as it stands."""
    require_role("editor")
    key_date.estimated = False
    key_date.source = "staff"
    session.flush()
    record(session, "key_date.confirm", "key_date", key_date.id,
           f"Confirmed {key_date.kind} of session {key_date.session.number}")
    return key_date
