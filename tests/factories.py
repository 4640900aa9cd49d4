"""Small builders for test data; they flush but never commit."""

from __future__ import annotations

from datetime import datetime

from outreach.auth.models import User
from outreach.contacts.models import Contact, ContactCountry, ContactTopic, Organisation
from outreach.contacts.validation import hash_email_key, normalise_email, organisation_key
from outreach.subscriptions.models import Suppression

PASSWORD = "correct-horse-battery"


def make_user(session, email: str, role: str = "admin", password: str = PASSWORD) -> User:
    user = User(email=email, role=role)
    user.set_password(password)
    session.add(user)
    session.flush()
    return user


def make_organisation(session, name: str, type: str = "ngo", country: str | None = None, **kw):
    org = Organisation(
        name=name, name_key=organisation_key(name), type=type, country_code=country, **kw
    )
    session.add(org)
    session.flush()
    return org


def make_contact(
    session,
    email: str,
    *,
    type: str = "ngo",
    country: str | None = None,
    countries: tuple[str, ...] = (),
    topics: tuple[str, ...] = (),
    language: str = "en",
    status: str = "active",
    organisation: Organisation | None = None,
    first_name: str = "",
    last_name: str = "",
) -> Contact:
    contact = Contact(
        email=email,
        email_key=email.casefold(),
        type=type,
        country_code=country,
        language=language,
        status=status,
        organisation=organisation,
        first_name=first_name,
        last_name=last_name,
    )
    codes = ([country] if country else []) + [c for c in countries if c != country]
    contact.country_links = [
        ContactCountry(country_code=code, is_primary=(code == country)) for code in codes
    ]
    contact.topic_links = [ContactTopic(topic=t) for t in topics]
    session.add(contact)
    session.flush()
    return contact


def make_suppression(
    session,
    email: str,
    reason: str = "staff",
    *,
    note: str = "",
    erased: bool = False,
    created_at: datetime | None = None,
) -> Suppression:
    """A suppression list entry; `erased=True` keeps only the hash, as erasing a contact does."""
    normalised, key = normalise_email(email)
    entry = Suppression(
        email_hash=hash_email_key(key),
        email=None if erased else normalised,
        reason=reason,
        note=note,
        **({"created_at": created_at} if created_at else {}),
    )
    session.add(entry)
    session.flush()
    return entry
