"""Calendar feeds of the UPR key dates: iCalendar (RFC 5545 / 7986) and an Atom feed of deadlines.

Four iCalendar feeds share one event per key date, so an event keeps its identity wherever it
appears:

- UID `keydate-<id>@<MAIL_DOMAIN or public host>`: stable, so calendar apps update in place.
- DTSTAMP and LAST-MODIFIED are the key date's `updated_at`; SEQUENCE is its `updated_at` in whole
  seconds since `SEQUENCE_EPOCH`, so it grows whenever staff or the loader change the date, with
  nothing stored. The same data gives the same bytes, hence a stable ETag.
- Timed dates (deadlines close at 12:00 Geneva time) carry TZID=Europe/Zurich and last one hour:
  RFC 5545 wants DTEND later than DTSTART, and zero-length events display poorly in some apps. The
  DESCRIPTION says when the entry point closes. All-day dates are VALUE=DATE with an exclusive
  DTEND (the day after `ends_at`, the last day included). Every event is TRANSPARENT (not "busy")
  and TENTATIVE while estimated.

The private feed of a subscriber is reached by a signed token that never expires (purpose
"calendar", the contact id and a prefix of the address hash, like the preference centre links).
Feeds are in English, like the key date labels.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit

from flask import current_app
from icalendar import Calendar, Event, Timezone, vDuration
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from outreach.calendar.models import DEADLINE_KINDS, KeyDate, Review, UPRSession
from outreach.calendar.services import concerned_states, concerning
from outreach.calendar.timing import DEFAULT_DESCRIPTIONS, DEFAULT_URLS
from outreach.contacts.models import Contact
from outreach.core import atom, tokens
from outreach.core.countries import country_name
from outreach.core.database import utcnow
from outreach.core.timezones import local_zone, to_local
from outreach.core.urls import public_url
from outreach.subscriptions.services import contact_from_token

CALENDAR_TOKEN = "calendar"
# What a subscriber's private feed carries: the entry points, and the events around them.
FOLLOWED_KINDS = (*DEADLINE_KINDS, "pre_session", "wg_review", "hrc_adoption")
RECENT = timedelta(days=60)
ATOM_DAYS = 180
REFRESH = timedelta(hours=12)
TIMED_DURATION = timedelta(hours=1)
SEQUENCE_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
LISTED_STATES = 3  # more States than this are summed up as "N States"
ICS_CONTENT_TYPE = "text/calendar; charset=utf-8"


@dataclass(frozen=True)
class Feed:
    """A built feed and what its HTTP caching headers need."""

    body: bytes
    filename: str
    last_modified: datetime | None

    @property
    def etag(self) -> str:
        return hashlib.sha256(self.body).hexdigest()[:32]


@dataclass(frozen=True)
class FeedInfo:
    """What a calendar is: its name, description, file name and own address."""

    name: str
    description: str
    filename: str
    source: str
    # States to name in event summaries (a State's or a subscriber's feed); None: all of them.
    focus: frozenset[str] | None = None


# --- Selecting key dates --------------------------------------------------------------------------


def key_dates_stmt(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    kinds: tuple[str, ...] | None = None,
    countries: list[str] | None = None,
    session_numbers: list[int] | None = None,
) -> Select:
    """Key dates by time, with what their summaries need loaded.

    `since` keeps the dates not over before it, `until` those starting by then; `countries` and
    `session_numbers`, when given, keep the dates concerning one of those States / in one of
    those sessions.
    """
    stmt = (
        select(KeyDate)
        .options(
            selectinload(KeyDate.session)
            .selectinload(UPRSession.reviews)
            .selectinload(Review.key_dates),
            selectinload(KeyDate.review),
        )
        .order_by(KeyDate.starts_at, KeyDate.kind, KeyDate.id)
    )
    if since is not None:
        stmt = stmt.where(func.coalesce(KeyDate.ends_at, KeyDate.starts_at) >= since)
    if until is not None:
        stmt = stmt.where(KeyDate.starts_at <= until)
    if kinds is not None:
        stmt = stmt.where(KeyDate.kind.in_(kinds))
    if countries is not None:
        stmt = stmt.where(concerning(countries))
    if session_numbers is not None:
        numbers = select(UPRSession.id).where(UPRSession.number.in_(session_numbers))
        stmt = stmt.where(KeyDate.session_id.in_(numbers))
    return stmt


def followed_sessions(contact: Contact) -> list[int] | None:
    """The session numbers a contact follows; None for every session (also without a
    subscription: contacts added by staff receive everything)."""
    subscription = contact.subscription
    if subscription is None or subscription.all_sessions:
        return None
    return subscription.session_numbers


# --- Text -----------------------------------------------------------------------------------------


def entry_point_url(key_date: KeyDate) -> str:
    return key_date.url or DEFAULT_URLS.get(key_date.kind, "")


def entry_point_text(key_date: KeyDate) -> str:
    return key_date.description or DEFAULT_DESCRIPTIONS.get(key_date.kind, "")


def names(codes: list[str]) -> str:
    return ", ".join(country_name(code) for code in codes)


def summary(key_date: KeyDate, states: list[str], focus: frozenset[str] | None = None) -> str:
    """ "UPR 54 · Stakeholder submissions deadline · Haiti, Iceland (estimated)"; many States are
    counted ("13 States"); a State's or subscriber's feed names only the States it follows."""
    shown = [code for code in states if focus is None or code in focus]
    parts = [f"UPR {key_date.session.number}", key_date.label]
    if len(shown) > LISTED_STATES:
        parts.append(f"{len(shown)} States")
    elif shown:
        parts.append(names(shown))
    text = " · ".join(parts)
    return f"{text} (estimated)" if key_date.estimated else text


def _day(value: date) -> str:
    return f"{value:%A} {value.day} {value:%B %Y}"


def when_text(key_date: KeyDate) -> str:
    """When a key date is, in Geneva time: "Monday 15 June 2026, 12:00 Geneva time"."""
    start = to_local(key_date.starts_at)
    if key_date.all_day:
        last = to_local(key_date.ends_at).date() if key_date.ends_at else start.date()
        if last <= start.date():
            return _day(start.date())
        return f"{_day(start.date())} to {_day(last)}"
    text = f"{_day(start.date())}, {start:%H:%M} Geneva time"
    if key_date.ends_at and key_date.ends_at > key_date.starts_at:
        end = to_local(key_date.ends_at)
        until = f"{end:%H:%M}" if end.date() == start.date() else f"{_day(end.date())}, {end:%H:%M}"
        text = f"{_day(start.date())}, {start:%H:%M} to {until} Geneva time"
    return text


def details(key_date: KeyDate, states: list[str]) -> str:
    """The plain-text description of an event or Atom entry."""
    lines = [entry_point_text(key_date), "", f"When: {when_text(key_date)}"]
    if key_date.is_deadline and not key_date.all_day:
        lines[-1] = f"Closes: {when_text(key_date)}"
    lines.append(f"States: {names(states)}" if states else "States: not listed yet")
    lines.append(f"UPR Working Group session {key_date.session.number}")
    if key_date.estimated:
        lines.append("Estimated: not yet confirmed.")
    if url := entry_point_url(key_date):
        lines += ["", url]
    return "\n".join(lines)


# --- iCalendar ------------------------------------------------------------------------------------


def uid_domain() -> str:
    domain = current_app.config.get("MAIL_DOMAIN") or ""
    return domain or urlsplit(current_app.config["PUBLIC_BASE_URL"]).hostname or "localhost"


def sequence(updated_at: datetime) -> int:
    """Whole seconds since SEQUENCE_EPOCH: grows with every change, fits RFC 5545's INTEGER."""
    return max(0, int((updated_at - SEQUENCE_EPOCH).total_seconds()))


def event_span(key_date: KeyDate) -> tuple[date | datetime, date | datetime]:
    """DTSTART and DTEND: local dates (DTEND exclusive) or Geneva times."""
    start = to_local(key_date.starts_at)
    if key_date.all_day:
        last = to_local(key_date.ends_at).date() if key_date.ends_at else start.date()
        return start.date(), max(last, start.date()) + timedelta(days=1)
    if key_date.ends_at and key_date.ends_at > key_date.starts_at:
        return start, to_local(key_date.ends_at)
    return start, start + TIMED_DURATION


def build_event(key_date: KeyDate, states: list[str], focus: frozenset[str] | None) -> Event:
    event = Event()
    event.uid = f"keydate-{key_date.id}@{uid_domain()}"
    event.start, event.end = event_span(key_date)
    event.stamp = key_date.updated_at
    event.last_modified = key_date.updated_at
    event.sequence = sequence(key_date.updated_at)
    event.summary = summary(key_date, states, focus)
    event.description = details(key_date, states)
    if url := entry_point_url(key_date):
        event.url = url
    event.categories = [key_date.kind]
    event.status = "TENTATIVE" if key_date.estimated else "CONFIRMED"
    event.transparency = "TRANSPARENT"
    return event


def _timezone(key_dates: list[KeyDate], now: datetime) -> Timezone | None:
    """The VTIMEZONE of the local zone, covering every event of the feed."""
    moments = [kd.starts_at for kd in key_dates] + [kd.ends_at for kd in key_dates if kd.ends_at]
    first = min(moments, default=now).year
    last = max(moments, default=now).year
    try:
        return Timezone.from_tzid(
            local_zone().key, first_date=date(first, 1, 1), last_date=date(last + 2, 1, 1)
        )
    except ValueError:  # a zone icalendar cannot describe: the TZID still names it
        return None


def last_modified(key_dates: list[KeyDate]) -> datetime | None:
    """The latest change of the key dates or of the States reviewed in their sessions."""
    moments = [kd.updated_at for kd in key_dates]
    for upr_session in {kd.session for kd in key_dates}:
        moments += [review.updated_at for review in upr_session.reviews]
    return max(moments, default=None)


def build_calendar(info: FeedInfo, key_dates: list[KeyDate], now: datetime | None = None) -> Feed:
    now = now or utcnow()
    organisation = current_app.config["ORGANISATION_NAME"]
    calendar = Calendar()
    calendar.add("VERSION", "2.0")
    calendar.add("PRODID", f"-//{organisation}//UPR key dates//EN")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.method = "PUBLISH"
    calendar.calendar_name = info.name  # NAME and X-WR-CALNAME
    calendar.description = info.description  # DESCRIPTION and X-WR-CALDESC
    calendar.add("X-WR-TIMEZONE", local_zone().key)
    calendar.refresh_interval = REFRESH
    calendar["REFRESH-INTERVAL"].params["VALUE"] = "DURATION"
    calendar.add("X-PUBLISHED-TTL", vDuration(REFRESH))
    calendar.source = info.source
    changed = last_modified(key_dates)
    if changed is not None:
        calendar.last_modified = changed
    if (timezone := _timezone(key_dates, now)) is not None:
        calendar.add_component(timezone)
    for key_date in key_dates:
        calendar.add_component(build_event(key_date, concerned_states(key_date), info.focus))
    return Feed(calendar.to_ical(), info.filename, changed)


def _description(what: str) -> str:
    organisation = current_app.config["ORGANISATION_NAME"]
    return (
        f"{what} of the UN Universal Periodic Review, from {organisation}. Times are Geneva time; "
        "estimated dates are marked and move when they are confirmed."
    )


def site_feed(session: Session, now: datetime | None = None) -> Feed:
    """Every key date from 60 days ago onward."""
    now = now or utcnow()
    info = FeedInfo(
        name="UPR key dates",
        description=_description("Deadlines for stakeholders and sessions"),
        filename="upr-key-dates.ics",
        source=public_url("calendar_feeds.site_calendar"),
    )
    return build_calendar(info, list(session.scalars(key_dates_stmt(since=now - RECENT))), now)


def session_feed(session: Session, upr_session: UPRSession) -> Feed:
    """Every key date of one session, past ones included."""
    number = upr_session.number
    info = FeedInfo(
        name=f"UPR session {number}: key dates",
        description=_description(f"Deadlines and events of session {number}"),
        filename=f"upr-session-{number}.ics",
        source=public_url("calendar_feeds.session_calendar", number=number),
    )
    return build_calendar(info, list(session.scalars(key_dates_stmt(session_numbers=[number]))))


def country_feed(session: Session, code: str, now: datetime | None = None) -> Feed:
    """The key dates concerning one State, from 60 days ago onward."""
    now = now or utcnow()
    name = country_name(code)
    info = FeedInfo(
        name=f"UPR key dates: {name}",
        description=_description(f"Deadlines and events concerning {name}"),
        filename=f"upr-key-dates-{code.lower()}.ics",
        source=public_url("calendar_feeds.country_calendar", code=code),
        focus=frozenset({code}),
    )
    stmt = key_dates_stmt(since=now - RECENT, countries=[code])
    return build_calendar(info, list(session.scalars(stmt)), now)


def contact_feed(session: Session, contact: Contact, now: datetime | None = None) -> Feed:
    """Exactly what a subscriber follows: the deadlines and main events concerning their countries
    in their sessions, from 60 days ago onward."""
    now = now or utcnow()
    countries = contact.all_countries
    description = (
        _description(f"Deadlines and events concerning {names(countries)}")
        if countries
        else "Choose the countries you follow in your preferences to fill this calendar."
    )
    info = FeedInfo(
        name="My UPR key dates",
        description=description,
        filename="my-upr-key-dates.ics",
        source=calendar_feed_url(contact),
        focus=frozenset(countries),
    )
    stmt = key_dates_stmt(
        since=now - RECENT,
        kinds=FOLLOWED_KINDS,
        countries=countries,
        session_numbers=followed_sessions(contact),
    )
    return build_calendar(info, list(session.scalars(stmt)), now)


# --- The private address --------------------------------------------------------------------------


def calendar_token(contact: Contact) -> str:
    return tokens.sign(CALENDAR_TOKEN, {"c": contact.id, "h": contact.email_hash[:16]})


def contact_from_calendar_token(session: Session, token: str) -> Contact | None:
    """The contact a private feed address belongs to; None for a bad token, an erased contact or
    an unsubscribed one (who follows nothing any more)."""
    try:
        contact = contact_from_token(session, CALENDAR_TOKEN, token)
    except tokens.TokenError:
        return None
    subscription = contact.subscription
    if subscription is not None and subscription.status == "unsubscribed":
        return None
    return contact


def calendar_feed_url(contact: Contact) -> str:
    """The absolute address of a contact's private calendar feed, for the preference centre and
    for emails."""
    return public_url("calendar_feeds.personal_calendar", token=calendar_token(contact))


def webcal_url(url: str) -> str:
    """The same address for "subscribe" links: calendar apps open webcal:// addresses."""
    parts = urlsplit(url)
    return parts._replace(scheme="webcal").geturl() if parts.scheme in ("http", "https") else url


# --- Atom -----------------------------------------------------------------------------------------


def deadlines_atom(
    session: Session, country: str | None = None, now: datetime | None = None
) -> Feed:
    """An Atom feed of the stakeholder deadlines of the next 180 days (optionally for one State)."""
    now = now or utcnow()
    organisation = current_app.config["ORGANISATION_NAME"]
    stmt = key_dates_stmt(
        since=now,
        until=now + timedelta(days=ATOM_DAYS),
        kinds=DEADLINE_KINDS,
        countries=[country] if country else None,
    )
    rows = [(key_date, concerned_states(key_date)) for key_date in session.scalars(stmt)]
    args = {"country": country} if country else {}
    focus = frozenset({country}) if country else None
    title = "Upcoming UPR deadlines" + (f": {country_name(country)}" if country else "")

    feed = atom.new_feed("en")
    atom.sub(feed, "id", atom.tag_uri(atom.FEED_TAG_DATE, f"deadlines:{country or 'all'}"))
    atom.sub(feed, "title", title)
    atom.sub(
        feed, "subtitle",
        f"Entry points for stakeholders closing in the next {ATOM_DAYS} days (Geneva time).",
    )
    today = datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)
    changed = max((key_date.updated_at for key_date, _ in rows), default=None)
    atom.sub(feed, "updated", atom.rfc3339(changed or today))
    atom.sub(feed, "link", rel="self", type="application/atom+xml",
             href=public_url("calendar_feeds.deadlines_atom", **args))
    related = (
        public_url("calendar_feeds.country_calendar", code=country)
        if country
        else public_url("calendar_feeds.site_calendar")
    )
    atom.sub(feed, "link", rel="related", type="text/calendar", href=related)
    atom.sub(atom.sub(feed, "author"), "name", organisation)
    for key_date, states in rows:
        entry = atom.sub(feed, "entry")
        atom.sub(entry, "id", atom.tag_uri(atom.FEED_TAG_DATE, f"keydate:{key_date.id}"))
        atom.sub(entry, "title", summary(key_date, states, focus))
        atom.sub(entry, "updated", atom.rfc3339(key_date.updated_at))
        if url := entry_point_url(key_date):
            atom.sub(entry, "link", rel="alternate", type="text/html", href=url)
        atom.sub(entry, "category", term=key_date.kind, label=key_date.label)
        atom.sub(entry, "content", details(key_date, states), type="text")
    return Feed(atom.to_bytes(feed), "upr-deadlines.atom", changed)
