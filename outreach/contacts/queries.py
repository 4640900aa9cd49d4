"""One filter language over contacts, used by the contact list, segments, exports and the API.

`ContactFilter` turns into a single SELECT with EXISTS sub-queries on indexed link tables, so a
count or a page of members is one round trip whatever the size of the registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import Select, exists, func, or_, select

from outreach.calendar.models import Review, UPRSession
from outreach.contacts.models import (
    CONTACT_TYPES,
    LANGUAGES,
    STATUSES,
    Contact,
    ContactCountry,
    ContactTopic,
    Organisation,
)
from outreach.contacts.validation import FieldError, normalise_topic, parse_country

SORTS = {
    "name": (Contact.last_name, Contact.first_name, Contact.id),
    "email": (Contact.email_key,),
    "type": (Contact.type, Contact.id),
    "country": (Contact.country_code, Contact.id),
    "language": (Contact.language, Contact.id),
    "created": (Contact.created_at, Contact.id),
    "updated": (Contact.updated_at, Contact.id),
    "status": (Contact.status, Contact.id),
}


@dataclass
class ContactFilter:
    """Every criterion is optional; lists mean "any of", criteria combine with AND."""

    types: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    session_under_review: int | None = None
    languages: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    organisation_ids: list[int] = field(default_factory=list)
    q: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ContactFilter:
        """Validate a JSON-like mapping (segment filters, API bodies); FieldError if bad."""
        data = data or {}
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise FieldError(f"unknown filter(s): {', '.join(sorted(unknown))}")
        return cls(
            types=_choices(data.get("types"), CONTACT_TYPES, "type"),
            countries=_countries(data.get("countries")),
            session_under_review=_optional_int(data.get("session_under_review"), "session"),
            languages=_choices(data.get("languages"), LANGUAGES, "language"),
            topics=_topics(data.get("topics")),
            statuses=_choices(data.get("statuses"), STATUSES, "status"),
            organisation_ids=[
                _optional_int(v, "organisation") for v in _as_list(data.get("organisation_ids"))
            ],
            q=str(data.get("q") or "").strip(),
        )

    @classmethod
    def from_args(cls, args) -> ContactFilter:
        """Read a query string (repeated keys or comma lists): type, country, session, ..."""

        def many(name: str) -> list[str]:
            values: list[str] = []
            for raw in args.getlist(name):
                values.extend(part.strip() for part in raw.split(",") if part.strip())
            return values

        return cls.from_dict(
            {
                "types": many("type"),
                "countries": many("country"),
                "session_under_review": args.get("session") or None,
                "languages": many("language"),
                "topics": many("topic"),
                "statuses": many("status"),
                "q": args.get("q", ""),
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """The non-empty criteria, as stored on a segment."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value not in (None, "", []):
                out[f.name] = value
        return out

    def is_empty(self) -> bool:
        return not self.to_dict()

    def conditions(self) -> list:
        """SQL conditions on `Contact` for these criteria."""
        conds = []
        if self.types:
            conds.append(Contact.type.in_(self.types))
        if self.languages:
            conds.append(Contact.language.in_(self.languages))
        if self.statuses:
            conds.append(Contact.status.in_(self.statuses))
        if self.organisation_ids:
            conds.append(Contact.organisation_id.in_(self.organisation_ids))
        if self.countries:
            conds.append(works_on(ContactCountry.country_code.in_(self.countries)))
        if self.session_under_review is not None:
            states = (
                select(Review.country_code)
                .join(UPRSession, Review.session_id == UPRSession.id)
                .where(UPRSession.number == self.session_under_review)
            )
            conds.append(works_on(ContactCountry.country_code.in_(states)))
        if self.topics:
            conds.append(
                exists().where(
                    ContactTopic.contact_id == Contact.id, ContactTopic.topic.in_(self.topics)
                )
            )
        if self.q:
            conds.append(search_condition(self.q))
        return conds

    def select(self) -> Select:
        return select(Contact).where(*self.conditions())

    def count_select(self) -> Select:
        return select(func.count()).select_from(Contact).where(*self.conditions())


def works_on(country_condition) -> Any:
    """Contacts with a country (primary or of work) matching `country_condition`."""
    return exists().where(ContactCountry.contact_id == Contact.id, country_condition)


def search_condition(text: str):
    """Case-insensitive match on email, names and organisation name."""
    like = f"%{text.strip().lower()}%"
    org_match = exists().where(
        Organisation.id == Contact.organisation_id, func.lower(Organisation.name).like(like)
    )
    full_name = func.lower(Contact.first_name + " " + Contact.last_name)
    return or_(
        Contact.email_key.like(like),
        func.lower(Contact.first_name).like(like),
        func.lower(Contact.last_name).like(like),
        full_name.like(like),
        org_match,
    )


def apply_sort(stmt: Select, sort: str | None) -> tuple[Select, str]:
    """Order by a known key (prefix '-' for descending); unknown keys fall back to name."""
    sort = sort or "name"
    key = sort.lstrip("-")
    if key not in SORTS:
        sort, key = "name", "name"
    columns = SORTS[key]
    ordered = [c.desc() for c in columns] if sort.startswith("-") else list(columns)
    return stmt.order_by(*ordered), sort


def _as_list(value) -> list:
    if value in (None, ""):
        return []
    if isinstance(value, (list, tuple, set)):
        return list(value)
    return [value]


def _choices(value, allowed: tuple[str, ...], label: str) -> list[str]:
    out = []
    for item in _as_list(value):
        text = str(item).strip()
        if text not in allowed:
            raise FieldError(f"unknown {label} {text!r} (use one of {', '.join(allowed)})")
        if text not in out:
            out.append(text)
    return out


def _topics(value) -> list[str]:
    topics = (normalise_topic(str(item)) for item in _as_list(value))
    return list(dict.fromkeys(topic for topic in topics if topic))


def _countries(value) -> list[str]:
    out: list[str] = []
    for item in _as_list(value):
        code = parse_country(str(item))
        if code and code not in out:
            out.append(code)
    return out


def _optional_int(value, label: str) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise FieldError(f"{label} must be a number")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FieldError(f"{label} must be a number, got {value!r}") from None


__all__ = ["ContactFilter", "FieldError", "apply_sort", "search_condition", "works_on"]
