"""Demo registry: generate fictional stakeholders deterministically and upsert them by email.

`build_demo(states)` is pure: the same States always give the same organisations and contacts.
`load_demo(session)` writes them (creating what is missing, correcting what differs), the demo
segments and the demo admin; it flushes and never commits.
"""

from __future__ import annotations

import random
import secrets
import unicodedata
from dataclasses import dataclass, field, replace

import pycountry
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from outreach.auth.services import create_user, find_user
from outreach.calendar.loader import load_calendar
from outreach.calendar.models import Review, UPRSession
from outreach.contacts.models import Contact, ContactCountry, ContactTopic, Organisation
from outreach.contacts.validation import normalise_email, organisation_key
from outreach.core.countries import country_name
from outreach.core.errors import ServiceError
from outreach.core.un_members import UN_MEMBER_STATES
from outreach.demo import data
from outreach.feeds.models import FeedSource
from outreach.feeds.services import SourceData, create_source, update_source
from outreach.segments.models import Segment
from outreach.segments.services import create_segment

DEMO_ADMIN_EMAIL = "admin@example.org"


@dataclass(frozen=True)
class OrganisationSpec:
    name: str
    type: str
    country: str | None
    ecosoc_status: bool = False
    ganhri_accreditation: str | None = None


@dataclass(frozen=True)
class ContactSpec:
    email: str
    type: str
    organisation: str
    country: str
    countries: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    language: str = "en"
    status: str = "active"
    first_name: str = ""
    last_name: str = ""
    role_title: str = ""


@dataclass
class DemoReport:
    calendar_loaded: bool = False
    organisations_created: int = 0
    contacts_created: int = 0
    contacts_updated: int = 0
    contacts_unchanged: int = 0
    segments_created: int = 0
    feed_sources_created: int = 0
    admin_created: bool = False
    admin_password: str | None = None
    states: list[str] = field(default_factory=list)

    def summary(self) -> str:
        total = self.contacts_created + self.contacts_updated + self.contacts_unchanged
        calendar = "loaded first" if self.calendar_loaded else "already loaded"
        return (
            f"demo: contacts created={self.contacts_created} updated={self.contacts_updated} "
            f"unchanged={self.contacts_unchanged} (of {total}), "
            f"organisations created={self.organisations_created}, "
            f"segments created={self.segments_created}, "
            f"news sources created={self.feed_sources_created}, "
            f"States of sessions {' and '.join(map(str, data.DEMO_SESSIONS))}: "
            f"{len(self.states)}, calendar {calendar}"
        )


# --- Pure generation ----------------------------------------------------------------------------


def state_name(code: str) -> str:
    """UN-style name: "Republic of Korea", "the Netherlands" (as it reads after "of")."""
    name = pycountry.countries.get(alpha_2=code).name
    if "," in name:
        head, _, tail = name.partition(",")
        name = f"{tail.strip()} {head.strip()}"
    if name.startswith("The "):
        return "the " + name[4:]
    if name not in data.NAMES_WITHOUT_ARTICLE and name.startswith(
        data.NAMES_WITH_ARTICLE_PREFIXES
    ):
        return "the " + name
    return name


def mission_language(code: str) -> str:
    if code in data.FRANCOPHONE:
        return "fr"
    if code in data.HISPANOPHONE:
        return "es"
    return "en"


def _ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _missions() -> tuple[list[OrganisationSpec], list[ContactSpec]]:
    organisations, contacts = [], []
    for code in UN_MEMBER_STATES:
        name = f"Permanent Mission of {state_name(code)} (fictional demo)"
        organisations.append(OrganisationSpec(name, "permanent_mission", code))
        contacts.append(
            ContactSpec(
                email=f"mission.{code.lower()}@{data.DEMO_DOMAIN}",
                type="permanent_mission",
                organisation=name,
                country=code,
                language=mission_language(code),
                role_title=data.MISSION_ROLE,
            )
        )
    return organisations, contacts


def _organisation_for(rng: random.Random, type_: str, country: str) -> OrganisationSpec:
    language = data.MAIN_LANGUAGE.get(country, "en")
    if type_ == "permanent_mission":
        name = f"Permanent Mission of {state_name(country)} (fictional demo)"
        return OrganisationSpec(name, type_, country)
    if type_ == "regional_org":
        return OrganisationSpec(data.REGIONAL_ORGANISATIONS[data.REGIONS[country]], type_, None)
    template = rng.choice(data.ORGANISATION_NAMES[type_][language])
    name = template.format(country=country_name(country, language))
    if type_ == "ngo":
        return OrganisationSpec(name, type_, country, ecosoc_status=rng.random() < 0.3)
    if type_ == "nhri":
        accreditation = ("A", "B", "none")[sum(map(ord, country)) % 3]
        return OrganisationSpec(name, type_, country, ganhri_accreditation=accreditation)
    return OrganisationSpec(name, type_, country)


def _contact_language(rng: random.Random, country: str) -> str:
    main = data.MAIN_LANGUAGE.get(country, "en")
    return main if rng.random() < 0.75 else rng.choice(("en", "fr", "es"))


def _stakeholders(states: list[str]) -> tuple[list[OrganisationSpec], list[ContactSpec]]:
    rng = random.Random(data.DEMO_SEED)
    types = list(data.TYPE_WEIGHTS)
    organisations: list[OrganisationSpec] = []
    contacts: list[ContactSpec] = []
    emails: set[str] = set()
    for index in range(data.DEMO_CONTACT_COUNT):
        # The first contacts take each type in turn, so that every type is present.
        type_ = types[index] if index < len(types) else rng.choices(
            types, weights=list(data.TYPE_WEIGHTS.values())
        )[0]
        state = rng.choice(states)
        others = [s for s in states if s != state]
        international = type_ == "ngo" and rng.random() < 0.2
        if international:
            org = OrganisationSpec(rng.choice(data.INTERNATIONAL_NGOS), "ngo", "CH", True)
            country, language = "CH", rng.choice(("en", "en", "fr", "es"))
            work = tuple(sorted(rng.sample(states, rng.randint(2, 4))))
        else:
            org = _organisation_for(rng, type_, state)
            country, language = state, _contact_language(rng, state)
            extra = rng.sample(others, rng.randint(1, 2)) if rng.random() < 0.3 else []
            work = tuple(sorted(extra))
        first = rng.choice(data.FIRST_NAMES[language])
        last = rng.choice(data.LAST_NAMES[language])
        local = f"{_ascii_slug(first)}.{_ascii_slug(last)}"
        email, suffix = f"{local}@{data.DEMO_DOMAIN}", 2
        while email in emails:
            email, suffix = f"{local}{suffix}@{data.DEMO_DOMAIN}", suffix + 1
        emails.add(email)
        organisations.append(org)
        contacts.append(
            ContactSpec(
                email=email,
                type=type_,
                organisation=org.name,
                country=country,
                countries=work,
                topics=tuple(sorted(rng.sample(data.TOPICS, rng.randint(1, 3)))),
                language=language,
                status=rng.choices(
                    list(data.STATUS_WEIGHTS), weights=list(data.STATUS_WEIGHTS.values())
                )[0],
                first_name=first,
                last_name=last,
                role_title=rng.choice(data.ROLE_TITLES[type_]),
            )
        )
    return organisations, contacts


def build_demo(states: list[str]) -> tuple[dict[str, OrganisationSpec], list[ContactSpec]]:
    """Organisations (by name) and contacts for these States; deterministic."""
    if not states:
        raise ServiceError("The demo needs at least one State under review.")
    mission_orgs, missions = _missions()
    organisations, stakeholders = _stakeholders(sorted(states))
    by_name: dict[str, OrganisationSpec] = {}
    for org in mission_orgs + organisations:
        by_name.setdefault(org.name, org)
    return by_name, stakeholders + missions


# --- Writing ------------------------------------------------------------------------------------


def demo_states(session: Session) -> tuple[list[str], bool]:
    """The States of the demo sessions, loading the shipped calendar first if they are missing."""
    loaded = False
    numbers = set(
        session.scalars(
            select(UPRSession.number).where(UPRSession.number.in_(data.DEMO_SESSIONS))
        )
    )
    if numbers != set(data.DEMO_SESSIONS):
        load_calendar(session)
        loaded = True
    states = session.scalars(
        select(Review.country_code)
        .join(UPRSession, Review.session_id == UPRSession.id)
        .where(UPRSession.number.in_(data.DEMO_SESSIONS))
        .distinct()
        .order_by(Review.country_code)
    )
    return list(states), loaded


def _upsert_organisations(
    session: Session, specs: dict[str, OrganisationSpec], report: DemoReport
) -> dict[str, Organisation]:
    keys = {organisation_key(name): spec for name, spec in specs.items()}
    existing = {
        org.name_key: org
        for org in session.scalars(select(Organisation).where(Organisation.name_key.in_(keys)))
    }
    by_name: dict[str, Organisation] = {}
    for key, spec in keys.items():
        org = existing.get(key)
        if org is None:
            org = Organisation(
                name=spec.name,
                name_key=key,
                type=spec.type,
                country_code=spec.country,
                ecosoc_status=spec.ecosoc_status,
                ganhri_accreditation=spec.ganhri_accreditation,
                notes="Fictional organisation created by the demo data.",
            )
            session.add(org)
            report.organisations_created += 1
        by_name[spec.name] = org
    session.flush()
    return by_name


def _wanted_countries(spec: ContactSpec) -> dict[str, bool]:
    wanted = {spec.country: True}
    wanted.update({code: False for code in spec.countries if code != spec.country})
    return wanted


def _apply(contact: Contact, spec: ContactSpec, org: Organisation) -> bool:
    """Make `contact` match `spec`; return True if anything changed."""
    values = {
        "type": spec.type,
        "first_name": spec.first_name,
        "last_name": spec.last_name,
        "role_title": spec.role_title,
        "language": spec.language,
        "country_code": spec.country,
        "status": spec.status,
        "organisation_id": org.id,
    }
    changed = False
    for name, value in values.items():
        if getattr(contact, name) != value:
            setattr(contact, name, value)
            changed = True
    wanted = _wanted_countries(spec)
    for link in list(contact.country_links):
        if link.country_code not in wanted:
            contact.country_links.remove(link)
            changed = True
        elif link.is_primary != wanted.pop(link.country_code):
            link.is_primary = not link.is_primary
            changed = True
    for code, primary in wanted.items():
        contact.country_links.append(ContactCountry(country_code=code, is_primary=primary))
        changed = True
    topics = set(spec.topics)
    for link in list(contact.topic_links):
        if link.topic in topics:
            topics.discard(link.topic)
        else:
            contact.topic_links.remove(link)
            changed = True
    for topic in sorted(topics):
        contact.topic_links.append(ContactTopic(topic=topic))
        changed = True
    return changed


def _upsert_contacts(
    session: Session,
    specs: list[ContactSpec],
    organisations: dict[str, Organisation],
    report: DemoReport,
) -> None:
    keyed = {normalise_email(spec.email)[1]: spec for spec in specs}
    existing = {
        contact.email_key: contact
        for contact in session.scalars(
            select(Contact)
            .where(Contact.email_key.in_(keyed))
            .options(selectinload(Contact.country_links), selectinload(Contact.topic_links))
        )
    }
    for key, spec in keyed.items():
        org = organisations[spec.organisation]
        contact = existing.get(key)
        if contact is None:
            contact = Contact(
                email=normalise_email(spec.email)[0],
                email_key=key,
                notes="Fictional contact created by the demo data.",
                country_links=[],
                topic_links=[],
            )
            _apply(contact, spec, org)
            session.add(contact)
            report.contacts_created += 1
        elif _apply(contact, spec, org):
            report.contacts_updated += 1
        else:
            report.contacts_unchanged += 1
    session.flush()


def ensure_demo_admin(session: Session, password: str) -> tuple[object, bool]:
    """The demo admin, created with `password` if missing; returns (user, created)."""
    user = find_user(session, DEMO_ADMIN_EMAIL)
    if user is not None:
        return user, False
    return create_user(session, DEMO_ADMIN_EMAIL, password, "admin", "Demo admin"), True


def _create_segments(session: Session, user, report: DemoReport) -> None:
    names = {name.casefold() for name in session.scalars(select(Segment.name))}
    for spec in data.DEMO_SEGMENTS:
        if spec["name"].casefold() not in names:
            create_segment(session, spec["name"], spec["filters"], spec["description"], user=user)
            report.segments_created += 1


def demo_feed_url(filename: str) -> str:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/static/demo/feeds/{filename}"


def _ensure_feed_sources(session: Session, report: DemoReport) -> None:
    """The demo news sources, pointing at this server (their URL follows PUBLIC_BASE_URL)."""
    existing = {source.name: source for source in session.scalars(select(FeedSource))}
    for spec in data.DEMO_FEEDS:
        feed = SourceData(
            url=demo_feed_url(spec["file"]),
            name=spec["name"],
            language=spec["language"],
            poll_interval_minutes=data.DEMO_FEED_POLL_MINUTES,
        )
        source = existing.get(spec["name"])
        if source is None:
            create_source(session, feed)
            report.feed_sources_created += 1
        elif source.url != feed.url:
            update_source(session, source, replace(feed, active=source.active))


def load_demo(session: Session, admin_password: str | None = None) -> DemoReport:
    """Load the demo registry; `admin_password` is used only if the demo admin is created.

    When the admin is created, `report.admin_password` holds the password it was given.
    """
    report = DemoReport()
    report.states, report.calendar_loaded = demo_states(session)
    organisation_specs, contact_specs = build_demo(report.states)
    organisations = _upsert_organisations(session, organisation_specs, report)
    _upsert_contacts(session, contact_specs, organisations, report)
    password = admin_password or secrets.token_urlsafe(12)
    user, report.admin_created = ensure_demo_admin(session, password)
    if report.admin_created:
        report.admin_password = password
    _create_segments(session, user, report)
    _ensure_feed_sources(session, report)
    return report
