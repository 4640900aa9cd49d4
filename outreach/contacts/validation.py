"""Parsing and validating contact fields, shared by forms, the CSV importer and the API."""

from __future__ import annotations

import hashlib
import re

from email_validator import EmailNotValidError, validate_email

from outreach.contacts.models import CONTACT_TYPES, GANHRI_ACCREDITATIONS, LANGUAGES, STATUSES
from outreach.core.countries import parse_country_list, resolve_country


class FieldError(ValueError):
    """A value that cannot be accepted; the message says why, for a person to read."""


TYPE_ALIASES = {
    "ngo": "ngo",
    "cso": "ngo",
    "civil society": "ngo",
    "ong": "ngo",
    "nhri": "nhri",
    "inddh": "nhri",
    "indh": "nhri",
    "national human rights institution": "nhri",
    "permanent mission": "permanent_mission",
    "mission": "permanent_mission",
    "pm": "permanent_mission",
    "un": "un_entity",
    "un entity": "un_entity",
    "united nations": "un_entity",
    "regional": "regional_org",
    "regional org": "regional_org",
    "regional organisation": "regional_org",
    "regional organization": "regional_org",
    "academic": "academic",
    "academia": "academic",
    "media": "media",
    "press": "media",
    "other": "other",
}
TOPIC_RE = re.compile(r"[^a-z0-9]+")


def normalise_email(value: str) -> tuple[str, str]:
    """Validate an address; return (normalised form, case-insensitive key).

    Internationalised domains and local parts are accepted; the domain is stored in Unicode form.
    """
    value = (value or "").strip()
    if not value:
        raise FieldError("email is missing")
    try:
        normalised = validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise FieldError(f"invalid email {value!r}: {exc}") from None
    return normalised, normalised.casefold()


def hash_email_key(key: str) -> str:
    """SHA-256 of a normalised, casefolded address: what the suppression list keeps."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def email_key(value: str) -> str:
    """The lookup key of an address, or the raw casefolded text if it is not valid."""
    try:
        return normalise_email(value)[1]
    except FieldError:
        return (value or "").strip().casefold()


def parse_type(value: str | None, default: str = "other") -> str:
    text = (value or "").strip().lower().replace("-", " ").replace("_", " ")
    if not text:
        return default
    if text.replace(" ", "_") in CONTACT_TYPES:
        return text.replace(" ", "_")
    if text in TYPE_ALIASES:
        return TYPE_ALIASES[text]
    raise FieldError(f"unknown contact type {value!r} (use one of {', '.join(CONTACT_TYPES)})")


def parse_language(value: str | None, default: str = "en") -> str:
    text = (value or "").strip().lower()
    if not text:
        return default
    aliases = {"english": "en", "french": "fr", "français": "fr", "francais": "fr",
               "spanish": "es", "español": "es", "espanol": "es"}
    text = aliases.get(text, text[:2] if len(text) in (2, 5) else text)
    if text not in LANGUAGES:
        raise FieldError(f"unknown language {value!r} (use en, fr or es)")
    return text


def parse_status(value: str | None, default: str = "active") -> str:
    text = (value or "").strip().lower()
    if not text:
        return default
    if text not in STATUSES:
        raise FieldError(f"unknown status {value!r} (use one of {', '.join(STATUSES)})")
    return text


def parse_country(value: str | None) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    code = resolve_country(text)
    if code is None:
        raise FieldError(f"unknown country {text!r}")
    return code


def parse_countries(value: str | None) -> list[str]:
    codes, unknown = parse_country_list(value or "")
    if unknown:
        raise FieldError(f"unknown countr{'ies' if len(unknown) > 1 else 'y'} "
                         + ", ".join(repr(part) for part in unknown))
    return codes


def organisation_key(name: str) -> str:
    """The unique lookup key of an organisation name: whitespace collapsed, casefolded."""
    return " ".join((name or "").split()).casefold()


def normalise_topic(value: str) -> str:
    return TOPIC_RE.sub("-", value.strip().lower()).strip("-")[:80]


def parse_topics(value: str | None) -> list[str]:
    """Topics are free tags, separated by ; | or ,; stored lower-case with dashes."""
    parts = re.split(r"[;|,]", value or "")
    topics: list[str] = []
    for part in parts:
        topic = normalise_topic(part)
        if topic and topic not in topics:
            topics.append(topic)
    return topics


def parse_bool(value: str | None) -> bool:
    text = (value or "").strip().lower()
    if text in ("", "0", "no", "n", "false", "non", "none"):
        return False
    if text in ("1", "yes", "y", "true", "oui", "si", "sí", "x"):
        return True
    raise FieldError(f"expected yes or no, got {value!r}")


def parse_ganhri(value: str | None) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    normalised = text.upper() if text.upper() in ("A", "B") else text.lower()
    if normalised not in GANHRI_ACCREDITATIONS:
        raise FieldError(f"unknown GANHRI accreditation {value!r} (use A, B or none)")
    return normalised
