"""Operations on the registry: create and change contacts and organisations.

Every function takes the SQLAlchemy session first, validates its input (collecting one message
per field into a `ServiceError`), flushes, and never commits.

Invariants other modules rely on:
- `Contact.email` is the normalised address and `Contact.email_key` its case-insensitive key,
  unique across the registry;
- `contact_countries` holds every country of a contact, the primary one included and flagged
  `is_primary`; `Contact.country_code` repeats the primary one. Only `set_countries` writes them;
- `Organisation.name_key` is the casefolded, whitespace-collapsed name (see `organisation_key`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from outreach.audit.services import diff, record, snapshot
from outreach.auth.permissions import require_role
from outreach.contacts.models import (
    CONTACT_TYPES,
    Contact,
    ContactCountry,
    ContactTopic,
    Organisation,
)
from outreach.contacts.validation import (
    FieldError,
    normalise_email,
    normalise_topic,
    organisation_key,
    parse_country,
    parse_ganhri,
    parse_language,
    parse_status,
    parse_topics,
    parse_type,
)
from outreach.core.database import utcnow
from outreach.core.errors import ServiceError

if TYPE_CHECKING:  # subscriptions.services imports this module
    from outreach.subscriptions.services import RequestMeta

DUPLICATE_EMAIL = "A contact with this email already exists"
DUPLICATE_ORGANISATION = "An organisation with this name already exists"


class DuplicateContactError(ServiceError):
    """The email belongs to another contact, whose id is `contact_id` (to link to it)."""

    def __init__(self, contact_id: int):
        super().__init__(DUPLICATE_EMAIL, {"email": DUPLICATE_EMAIL}, code="duplicate")
        self.contact_id = contact_id


class DuplicateOrganisationError(ServiceError):
    def __init__(self, organisation_id: int):
        super().__init__(
            DUPLICATE_ORGANISATION, {"name": DUPLICATE_ORGANISATION}, code="duplicate"
        )
        self.organisation_id = organisation_id


@dataclass
class ContactData:
    """What a person (form, API, import row) says about a contact; validated by the services.

    `type` None means "the organisation's type, else other". `topics` may be a list of tags or
    one comma-separated string. Countries may be codes or names.
    """

    email: str
    first_name: str = ""
    last_name: str = ""
    organisation_name: str | None = None
    organisation_id: int | None = None
    type: str | None = None
    role_title: str = ""
    language: str = "en"
    country_code: str | None = None
    countries: list[str] = field(default_factory=list)
    topics: list[str] | str = field(default_factory=list)
    status: str = "active"
    notes: str = ""


@dataclass
class OrganisationData:
    """An organisation as entered; `country_code` is, for a permanent mission, its State."""

    name: str
    type: str = "ngo"
    country_code: str | None = None
    ecosoc_status: bool = False
    ganhri_accreditation: str | None = None
    website: str = ""
    notes: str = ""


class _Errors:
    """Collects one message per field, raised together as a ServiceError."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}

    def check(self, name: str, parse, *args, default=None):
        try:
            return parse(*args)
        except FieldError as exc:
            self.fields.setdefault(name, _sentence(str(exc)))
            return default

    def add(self, name: str, message: str) -> None:
        self.fields.setdefault(name, message)

    def raise_if_any(self) -> None:
        if self.fields:
            raise ServiceError("Please correct the highlighted fields.", dict(self.fields))


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _clean(value: str | None, limit: int) -> str:
    return " ".join((value or "").split())[:limit]


# --- organisations -------------------------------------------------------------------------


def find_organisation(session: Session, name: str) -> Organisation | None:
    key = organisation_key(name)
    if not key:
        return None
    return session.scalar(select(Organisation).where(Organisation.name_key == key))


def get_or_create_organisation(
    session: Session, name: str | None, type: str | None = None, country: str | None = None
) -> Organisation | None:
    """The organisation with this name (any case or spacing), created if new; None if blank.

    An existing organisation is returned unchanged; `type` and `country` only apply to a new one.
    """
    name = _clean(name, 300)
    if not name:
        return None
    existing = find_organisation(session, name)
    if existing is not None:
        return existing
    org = Organisation(
        name=name,
        name_key=organisation_key(name),
        type=parse_type(type, default="other"),
        country_code=parse_country(country),
    )
    session.add(org)
    session.flush()
    return org


def _apply_organisation(session: Session, org: Organisation, data: OrganisationData) -> None:
    errors = _Errors()
    name = _clean(data.name, 300)
    if not name:
        errors.add("name", "Enter the organisation's name.")
    org_type = errors.check("type", parse_type, data.type, "ngo", default=org.type or "ngo")
    country = errors.check("country_code", parse_country, data.country_code)
    ganhri = errors.check("ganhri_accreditation", parse_ganhri, data.ganhri_accreditation)
    website = errors.check("website", _parse_website, data.website, default="")
    errors.raise_if_any()
    duplicate = find_organisation(session, name)
    if duplicate is not None and duplicate.id != org.id:
        raise DuplicateOrganisationError(duplicate.id)
    org.name = name
    org.name_key = organisation_key(name)
    org.type = org_type
    org.country_code = country
    org.ecosoc_status = bool(data.ecosoc_status) and org_type == "ngo"
    org.ganhri_accreditation = ganhri if org_type == "nhri" else None
    org.website = website
    org.notes = (data.notes or "").strip()


def _parse_website(value: str | None) -> str:
    text = (value or "").strip()
    if not text:
        return ""
    if not re.match(r"^https?://", text, re.IGNORECASE):
        text = "https://" + text
    if re.search(r"\s", text) or "." not in text.split("://", 1)[1]:
        raise FieldError(f"{value!r} does not look like a web address")
    return text[:500]


ORGANISATION_FIELDS = ("name", "type", "country_code", "ecosoc_status", "ganhri_accreditation",
                       "website", "notes", "active")
CONTACT_FIELDS = ("email", "first_name", "last_name", "organisation_id", "type", "role_title",
                  "language", "country_code", "countries", "topics", "status", "notes")


def create_organisation(session: Session, data: OrganisationData) -> Organisation:
    require_role("editor")
    org = Organisation(active=True)
    _apply_organisation(session, org, data)
    session.add(org)
    session.flush()
    record(session, "organisation.create", "organisation", org.id, f"Created {org.name}")
    return org


def update_organisation(session: Session, org: Organisation, data: OrganisationData) -> None:
    require_role("editor")
    before = snapshot(org, ORGANISATION_FIELDS)
    _apply_organisation(session, org, data)
    session.flush()
    changes = diff(before, snapshot(org, ORGANISATION_FIELDS))
    if changes:
        record(session, "organisation.update", "organisation", org.id, f"Edited {org.name}",
               changes)


def set_organisation_active(session: Session, org: Organisation, active: bool) -> None:
    require_role("editor")
    changed = org.active != active
    org.active = active
    session.flush()
    if changed:
        verb = "Reactivated" if active else "Deactivated"
        record(session, "organisation.activate" if active else "organisation.deactivate",
               "organisation", org.id, f"{verb} {org.name}", {"active": [not active, active]})


def organisation_names(session: Session) -> list[str]:
    """Names of active organisations, for the contact form's suggestions."""
    return list(
        session.scalars(
            select(Organisation.name).where(Organisation.active).order_by(Organisation.name_key)
        )
    )


def organisations_with_counts(
    q: str = "", types: Iterable[str] = (), active: bool | None = None
) -> Select:
    """Rows of (Organisation, number of contacts), counted in one grouped sub-query."""
    counts = (
        select(Contact.organisation_id, func.count().label("contacts"))
        .where(Contact.organisation_id.is_not(None))
        .group_by(Contact.organisation_id)
        .subquery()
    )
    count = func.coalesce(counts.c.contacts, 0).label("contact_count")
    stmt = select(Organisation, count).outerjoin(
        counts, counts.c.organisation_id == Organisation.id
    )
    if q.strip():
        like = f"%{organisation_key(q)}%"
        stmt = stmt.where(
            or_(Organisation.name_key.like(like), func.lower(Organisation.website).like(like))
        )
    types = [t for t in types if t in CONTACT_TYPES]
    if types:
        stmt = stmt.where(Organisation.type.in_(types))
    if active is not None:
        stmt = stmt.where(Organisation.active.is_(active))
    return stmt


# --- contacts ------------------------------------------------------------------------------


def set_countries(contact: Contact, primary: str | None, others: Iterable[str]) -> None:
    """Make the contact's countries exactly `primary` plus `others` (alpha-2 codes).

    The links are changed in place (rows of countries that stay are updated, not replaced).
    """
    wanted = list(dict.fromkeys(([primary] if primary else []) + [c for c in others if c]))
    links = {link.country_code: link for link in contact.country_links}
    for code, link in links.items():
        if code not in wanted:
            contact.country_links.remove(link)
    for code in wanted:
        link = links.get(code)
        if link is None:
            link = ContactCountry(country_code=code)
            contact.country_links.append(link)
        link.is_primary = code == primary
    contact.country_code = primary


def set_topics(contact: Contact, topics: Iterable[str]) -> None:
    wanted = list(dict.fromkeys(t for t in (normalise_topic(x) for x in topics) if t))
    current = {link.topic: link for link in contact.topic_links}
    for topic, link in current.items():
        if topic not in wanted:
            contact.topic_links.remove(link)
    for topic in wanted:
        if topic not in current:
            contact.topic_links.append(ContactTopic(topic=topic))


def find_contact_by_email(session: Session, email: str) -> Contact | None:
    try:
        key = normalise_email(email)[1]
    except FieldError:
        return None
    return session.scalar(select(Contact).where(Contact.email_key == key))


def _parse_country_list(values: Iterable[str]) -> list[str]:
    codes: list[str] = []
    unknown: list[str] = []
    for value in values:
        try:
            code = parse_country(value)
        except FieldError:
            unknown.append(repr(value.strip()))
            continue
        if code:
            codes.append(code)
    if unknown:
        plural = "ies" if len(unknown) > 1 else "y"
        raise FieldError(f"unknown countr{plural} {', '.join(unknown)}")
    return codes


def _resolve_organisation(
    session: Session, data: ContactData, contact_type: str | None, errors: _Errors
) -> Organisation | None:
    if data.organisation_id is not None:
        org = session.get(Organisation, data.organisation_id)
        if org is None:
            errors.add("organisation_id", f"No organisation has the id {data.organisation_id}.")
        return org
    return get_or_create_organisation(session, data.organisation_name, type=contact_type)


def _apply_contact(session: Session, contact: Contact, data: ContactData) -> None:
    errors = _Errors()
    email, key = errors.check("email", normalise_email, data.email, default=(None, None))
    contact_type = None
    if data.type:
        contact_type = errors.check("type", parse_type, data.type)
    language = errors.check("language", parse_language, data.language, "en")
    status = errors.check("status", parse_status, data.status, "active")
    primary = errors.check("country_code", parse_country, data.country_code)
    others = errors.check("countries", _parse_country_list, data.countries or [], default=[])
    topics = data.topics
    topic_list = parse_topics(topics) if isinstance(topics, str) else list(topics or [])
    errors.raise_if_any()

    duplicate = session.scalar(select(Contact.id).where(Contact.email_key == key))
    if duplicate is not None and duplicate != contact.id:
        raise DuplicateContactError(duplicate)
    org = _resolve_organisation(session, data, contact_type, errors)
    errors.raise_if_any()

    contact.email = email
    contact.email_key = key
    contact.first_name = _clean(data.first_name, 150)
    contact.last_name = _clean(data.last_name, 150)
    contact.organisation = org
    contact.type = contact_type or (org.type if org else None) or "other"
    contact.role_title = _clean(data.role_title, 200)
    contact.language = language
    contact.status = status
    contact.notes = (data.notes or "").strip()
    set_countries(contact, primary, others)
    set_topics(contact, topic_list)


def create_contact(
    session: Session, data: ContactData, meta: RequestMeta | None = None
) -> Contact:
    """Create a contact; with `meta` (who added it), the consent log gets an "import" event."""
    require_role("editor")
    contact = Contact()
    _apply_contact(session, contact, data)
    session.add(contact)
    session.flush()
    record(session, "contact.create", "contact", contact.id, f"Created {contact.email}")
    if meta is not None:
        from outreach.subscriptions.services import record_consent

        record_consent(session, contact, "import", meta)
        session.flush()
    return contact


def update_contact(session: Session, contact: Contact, data: ContactData) -> None:
    """Replace every field of `contact` with `data` (a full update, as a form submits)."""
    require_role("editor")
    before = snapshot(contact, CONTACT_FIELDS)
    _apply_contact(session, contact, data)
    contact.updated_at = utcnow()  # link-table changes alone would not touch the row
    session.flush()
    changes = diff(before, snapshot(contact, CONTACT_FIELDS))
    if changes:
        record(session, "contact.update", "contact", contact.id, f"Edited {contact.email}",
               changes)


def set_contact_status(session: Session, contact: Contact, status: str) -> None:
    require_role("editor")
    old = contact.status
    try:
        contact.status = parse_status(status)
    except FieldError as exc:
        raise ServiceError(_sentence(str(exc)), {"status": _sentence(str(exc))}) from None
    session.flush()
    if old != contact.status:
        record(session, "contact.status", "contact", contact.id,
               f"{contact.email}: {old} → {contact.status}", {"status": [old, contact.status]})
