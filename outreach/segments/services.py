"""Segments: saved, named `ContactFilter`s. Counts and member pages are single SQL queries."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from outreach.audit.services import diff, record, snapshot
from outreach.auth.permissions import require_role
from outreach.calendar.models import UPRSession
from outreach.contacts.models import (
    CONTACT_TYPE_LABELS,
    LANGUAGE_LABELS,
    Contact,
    Organisation,
)
from outreach.contacts.queries import ContactFilter, FieldError, apply_sort
from outreach.core.countries import country_name
from outreach.core.errors import ServiceError
from outreach.core.pagination import Page, paginate
from outreach.segments.models import Segment

FILTER_KEYS = tuple(f.name for f in fields(ContactFilter))
NAME_MAX_LENGTH = 200
SAMPLE_SIZE = 10
# Query-string names of the contact list (and its CSV export) for each filter.
QUERY_ARGS = (
    ("types", "type"),
    ("countries", "country"),
    ("session_under_review", "session"),
    ("languages", "language"),
    ("topics", "topic"),
    ("statuses", "status"),
    ("q", "q"),
)


def parse_filters(session: Session, filters: dict[str, Any] | None) -> ContactFilter:
    """Validate filters as stored on a segment; ServiceError with one message per bad filter."""
    filters = filters or {}
    if not isinstance(filters, dict):
        raise ServiceError("Filters must be a mapping of criteria.", {"filters": "not a mapping"})
    errors: dict[str, str] = {}
    for key, value in filters.items():
        if key not in FILTER_KEYS:
            errors[key] = f"unknown filter {key!r}"
            continue
        try:
            ContactFilter.from_dict({key: value})
        except FieldError as exc:
            errors[key] = str(exc)
    if errors:
        raise ServiceError("Some filters are not valid: " + "; ".join(errors.values()), errors)
    flt = ContactFilter.from_dict(filters)
    number = flt.session_under_review
    if number is not None and not session.scalar(
        select(UPRSession.id).where(UPRSession.number == number)
    ):
        message = f"There is no UPR session {number} in the calendar."
        raise ServiceError(message, {"session_under_review": message})
    return flt


def _clean_name(session: Session, name: str, segment_id: int | None = None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ServiceError("A segment needs a name.", {"name": "Give the segment a name."})
    if len(name) > NAME_MAX_LENGTH:
        message = f"The name is too long (at most {NAME_MAX_LENGTH} characters)."
        raise ServiceError(message, {"name": message})
    # SQLite's lower() folds ASCII only: compare the exact name too (the unique constraint's).
    stmt = select(Segment.id).where(
        or_(func.lower(Segment.name) == name.lower(), Segment.name == name)
    )
    if segment_id is not None:
        stmt = stmt.where(Segment.id != segment_id)
    if session.scalar(stmt) is not None:
        message = f"A segment named {name!r} already exists; choose another name."
        raise ServiceError(message, {"name": message})
    return name


SEGMENT_FIELDS = ("name", "description", "filters")


def create_segment(
    session: Session, name: str, filters: dict[str, Any], description: str = "", user=None
) -> Segment:
    require_role("editor")
    flt = parse_filters(session, filters)
    segment = Segment(
        name=_clean_name(session, name),
        description=(description or "").strip(),
        filters=flt.to_dict(),
        created_by_id=user.id if user is not None else None,
    )
    session.add(segment)
    session.flush()
    record(session, "segment.create", "segment", segment.id, f"Created segment {segment.name}",
           {"filters": segment.filters})
    return segment


def update_segment(
    session: Session,
    segment: Segment,
    *,
    name: str | None = None,
    filters: dict[str, Any] | None = None,
    description: str | None = None,
) -> Segment:
    """Change what is given; filters replace the old ones entirely."""
    require_role("editor")
    before = snapshot(segment, SEGMENT_FIELDS)
    if name is not None:
        segment.name = _clean_name(session, name, segment.id)
    if filters is not None:
        segment.filters = parse_filters(session, filters).to_dict()
    if description is not None:
        segment.description = description.strip()
    session.flush()
    changes = diff(before, snapshot(segment, SEGMENT_FIELDS))
    if changes:
        record(session, "segment.update", "segment", segment.id,
               f"Edited segment {segment.name}", changes)
    return segment


def delete_segment(session: Session, segment: Segment) -> None:
    require_role("editor")
    record(session, "segment.delete", "segment", segment.id, f"Deleted segment {segment.name}")
    session.delete(segment)
    session.flush()


def segment_filter(segment: Segment) -> ContactFilter:
    try:
        return ContactFilter.from_dict(segment.filters)
    except FieldError as exc:
        raise ServiceError(f"Segment {segment.name!r} has invalid filters: {exc}") from None


def _as_filter(segment_or_filter: Segment | ContactFilter | dict) -> ContactFilter:
    if isinstance(segment_or_filter, Segment):
        return segment_filter(segment_or_filter)
    if isinstance(segment_or_filter, ContactFilter):
        return segment_or_filter
    try:
        return ContactFilter.from_dict(segment_or_filter)
    except FieldError as exc:
        raise ServiceError(str(exc)) from None


def count_members(session: Session, segment_or_filter: Segment | ContactFilter | dict) -> int:
    return session.scalar(_as_filter(segment_or_filter).count_select()) or 0


def members_page(
    session: Session, segment: Segment, page: int = 1, per_page: int = 50, sort: str | None = None
) -> tuple[Page, str]:
    """A page of members (with their organisations) and the sort actually applied."""
    stmt, sort = apply_sort(segment_filter(segment).select(), sort)
    stmt = stmt.options(selectinload(Contact.organisation))
    return paginate(session, stmt, page, per_page), sort


def sample_members(session: Session, flt: ContactFilter, limit: int = SAMPLE_SIZE) -> list[Contact]:
    stmt, _ = apply_sort(flt.select(), "name")
    return list(session.scalars(stmt.limit(limit)))


def list_segments(session: Session) -> list[tuple[Segment, int | None]]:
    """Every segment with its live member count (None when its filters are broken)."""
    rows = []
    for segment in session.scalars(select(Segment).order_by(func.lower(Segment.name))):
        try:
            rows.append((segment, count_members(session, segment)))
        except ServiceError:
            rows.append((segment, None))
    return rows


def upr_sessions(session: Session) -> list[UPRSession]:
    return list(session.scalars(select(UPRSession).order_by(UPRSession.number)))


def query_args(flt: ContactFilter) -> list[tuple[str, str]]:
    """The contact list's query arguments (repeated keys) that select the same contacts."""
    args: list[tuple[str, str]] = []
    for attr, arg in QUERY_ARGS:
        value = getattr(flt, attr)
        if value in (None, "", []):
            continue
        values = value if isinstance(value, list) else [value]
        args.extend((arg, str(item)) for item in values)
    return args


@dataclass
class Criterion:
    label: str
    text: str
    session_number: int | None = None


def describe_filter(session: Session, flt: ContactFilter, language: str = "en") -> list[Criterion]:
    """The criteria in words, for people: names rather than codes."""
    out: list[Criterion] = []
    if flt.types:
        out.append(Criterion("Types", ", ".join(CONTACT_TYPE_LABELS[t] for t in flt.types)))
    if flt.countries:
        names = ", ".join(country_name(code, language) for code in flt.countries)
        out.append(Criterion("Working on", names))
    if flt.session_under_review is not None:
        out.append(_session_criterion(session, flt.session_under_review, language))
    if flt.languages:
        out.append(Criterion("Languages", ", ".join(LANGUAGE_LABELS[x] for x in flt.languages)))
    if flt.topics:
        out.append(Criterion("Topics (any of)", ", ".join(flt.topics)))
    if flt.statuses:
        out.append(Criterion("Status", ", ".join(flt.statuses)))
    if flt.organisation_ids:
        names = session.scalars(
            select(Organisation.name)
            .where(Organisation.id.in_(flt.organisation_ids))
            .order_by(Organisation.name)
        )
        out.append(Criterion("Organisations", ", ".join(names) or "(deleted organisations)"))
    if flt.q:
        out.append(Criterion("Search", f"“{flt.q}”"))
    return out


def _session_criterion(session: Session, number: int, language: str) -> Criterion:
    label = f"States under review in session {number}"
    upr_session = session.scalar(
        select(UPRSession)
        .where(UPRSession.number == number)
        .options(selectinload(UPRSession.reviews))
    )
    if upr_session is None:
        return Criterion(label, "this session is not in the calendar (no States)")
    if upr_session.is_projected:
        label += " (projected)"
    names = sorted(country_name(code, language) for code in upr_session.state_codes)
    return Criterion(label, ", ".join(names) or "no States yet", number)
