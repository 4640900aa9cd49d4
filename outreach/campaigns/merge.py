"""Merge fields: what a campaign's subject and body may use, and the sandbox they run in.

Templates run in an immutable sandbox with strict undefined values: a misspelt name or attribute is
an error (found when the draft is saved, see `validation`), never an empty string in a sent email.
Every value is a plain string, number, boolean or tuple, already in the variant's language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, lru_cache
from typing import ClassVar

from babel.dates import format_date, format_time
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from outreach.calendar.models import KeyDate, UPRSession
from outreach.contacts.models import CONTACT_TYPE_LABELS
from outreach.core.countries import country_name, sort_key
from outreach.core.timezones import to_local

LANGUAGE_NAMES = {"en": "English", "fr": "French", "es": "Spanish"}
# Key date labels in the language of the email (merge values are content, not interface text).
KEY_DATE_LABELS = {
    "en": {
        "stakeholder_submission": "Stakeholder submissions deadline",
        "national_report": "National report due",
        "pre_session_application": "Pre-session applications deadline",
        "pre_session_statement": "Pre-session statements due",
        "pre_session": "Pre-sessions",
        "wg_review": "Working Group review",
        "responses": "State's responses to recommendations",
        "hrc_adoption": "HRC plenary adoption",
        "mid_term_report": "Mid-term report",
    },
    "fr": {
        "stakeholder_submission": "Date limite des contributions des parties prenantes",
        "national_report": "Remise du rapport national",
        "pre_session_application": "Date limite d'inscription aux pré-sessions",
        "pre_session_statement": "Remise des déclarations des pré-sessions",
        "pre_session": "Pré-sessions",
        "wg_review": "Examen par le Groupe de travail",
        "responses": "Réponses de l'État aux recommandations",
        "hrc_adoption": "Adoption en plénière du Conseil des droits de l'homme",
        "mid_term_report": "Rapport à mi-parcours",
    },
    "es": {
        "stakeholder_submission": "Plazo para las contribuciones de las partes interesadas",
        "national_report": "Entrega del informe nacional",
        "pre_session_application": "Plazo de inscripción a las presesiones",
        "pre_session_statement": "Entrega de las declaraciones de las presesiones",
        "pre_session": "Presesiones",
        "wg_review": "Examen del Grupo de Trabajo",
        "responses": "Respuestas del Estado a las recomendaciones",
        "hrc_adoption": "Aprobación en el pleno del Consejo de Derechos Humanos",
        "mid_term_report": "Informe de mitad de período",
    },
}
GENEVA_TIME = {"en": "Geneva time", "fr": "heure de Genève", "es": "hora de Ginebra"}
DAY_FORMAT = {"en": "d MMMM y", "fr": "d MMMM y", "es": "d 'de' MMMM 'de' y"}
DAY_MONTH_FORMAT = {"en": "d MMMM", "fr": "d MMMM", "es": "d 'de' MMMM"}
SAFE_URL = re.compile(r"\s*(https?://|mailto:)", re.IGNORECASE)


class MergeUndefined(StrictUndefined):
    """Strict undefined whose message names the merge field: "'contact' has no attribute 'x'"."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        owner = getattr(type(self._undefined_obj), "_merge_name", None)
        if self._undefined_hint is None and owner and isinstance(self._undefined_name, str):
            return f"{owner!r} has no attribute {self._undefined_name!r}"
        return super()._undefined_message


def safe_url(value):
    """A link only if http(s) or mailto: a merge value must not make a javascript: link."""
    return value if SAFE_URL.match(str(value)) else "#"


class MergeEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with a fast path for our own merge objects: their fields are plain values, and
    anything that is not a field (`__class__`, methods) is undefined. Everything else takes the
    sandbox's full checks."""

    def getattr(self, obj, attribute):
        fields = MERGE_FIELDS.get(type(obj))
        if fields is None:
            return super().getattr(obj, attribute)
        if attribute in fields:
            return getattr(obj, attribute)
        return self.undefined(obj=obj, name=attribute)


@cache
def html_environment() -> MergeEnvironment:
    env = MergeEnvironment(undefined=MergeUndefined, autoescape=True)
    env.filters["safe_url"] = safe_url
    return env


@cache
def text_environment() -> MergeEnvironment:
    """Subjects and plain text: no escaping; a block tag alone on its line leaves no blank line."""
    env = MergeEnvironment(
        undefined=MergeUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True
    )
    env.filters["safe_url"] = safe_url
    return env


# --- The values -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContactFields:
    _merge_name: ClassVar[str] = "contact"
    first_name: str
    last_name: str
    full_name: str
    organisation: str
    country: str
    country_code: str
    countries: tuple[str, ...]
    type: str
    type_label: str
    email: str


@dataclass(frozen=True, slots=True)
class SessionFields:
    _merge_name: ClassVar[str] = "session"
    number: int
    wg_start: str
    wg_end: str
    dates: str
    states: tuple[str, ...]
    location: str
    is_projected: bool


@dataclass(frozen=True, slots=True)
class DeadlineFields:
    _merge_name: ClassVar[str] = "deadline"
    kind: str
    label: str
    date: str
    session: int
    states: tuple[str, ...]
    all_states: tuple[str, ...]
    description: str
    url: str
    estimated: bool


CONTACT_ATTRS = frozenset(ContactFields.__dataclass_fields__)
SESSION_ATTRS = frozenset(SessionFields.__dataclass_fields__)
DEADLINE_ATTRS = frozenset(DeadlineFields.__dataclass_fields__)
MERGE_FIELDS = {
    ContactFields: CONTACT_ATTRS,
    SessionFields: SESSION_ATTRS,
    DeadlineFields: DEADLINE_ATTRS,
}
# Top-level names; `session` only exists for a campaign tied to a UPR session.
ALWAYS = frozenset(
    {
        "contact",
        "upcoming_deadlines",
        "unsubscribe_url",
        "preferences_url",
        "organisation_name",
        "archive_url",
    }
)


@lru_cache(maxsize=4096)
def country(code: str | None, language: str) -> str:
    return country_name(code, language) if code else ""


def contact_fields(
    language: str,
    *,
    email: str,
    first_name: str = "",
    last_name: str = "",
    organisation: str = "",
    contact_type: str = "",
    country_code: str | None = None,
    countries: tuple[str, ...] = (),
) -> ContactFields:
    codes = tuple(dict.fromkeys(c for c in (country_code, *countries) if c))
    return ContactFields(
        first_name=first_name,
        last_name=last_name,
        full_name=f"{first_name} {last_name}".strip(),
        organisation=organisation,
        country=country(country_code, language),
        country_code=country_code or "",
        countries=tuple(country(code, language) for code in codes),
        type=contact_type,
        type_label=CONTACT_TYPE_LABELS.get(contact_type, contact_type),
        email=email,
    )


def day(value: date | datetime, language: str, with_year: bool = True) -> str:
    """"31 March 2020", "31 mars 2020", "31 de marzo de 2020" (a datetime: its Geneva day)."""
    if isinstance(value, datetime):
        value = to_local(value).date()
    formats = DAY_FORMAT if with_year else DAY_MONTH_FORMAT
    return format_date(value, formats.get(language, DAY_FORMAT["en"]), locale=language)


def _local_day(value: date | datetime | None) -> date | None:
    return to_local(value).date() if isinstance(value, datetime) else value


def range_parts(
    start: date | datetime, end: date | datetime | None, language: str
) -> tuple[str, str | None]:
    """The first and last day as written in a range: "12", "13 October 2020"; "31 March",
    "3 April 2020"; one part when there is no end or it is the same day."""
    start, end = _local_day(start), _local_day(end)
    if end is None or end == start:
        return day(start, language), None
    if (start.year, start.month) == (end.year, end.month):
        return str(start.day), day(end, language)
    return day(start, language, with_year=start.year != end.year), day(end, language)


def day_range(start: date | datetime, end: date | datetime | None, language: str) -> str:
    """"12–13 October 2020", "31 March – 3 April 2020", or one day."""
    first, last = range_parts(start, end, language)
    if last is None:
        return first
    return f"{first}–{last}" if first.isdigit() else f"{first} – {last}"


def key_date_text(key_date: KeyDate, language: str) -> str:
    """The date of a key date as people read it: a day range, or a day and Geneva time."""
    if key_date.all_day:
        return day_range(key_date.starts_at, key_date.ends_at, language)
    local = to_local(key_date.starts_at)
    hour = format_time(local.time(), "HH:mm", locale=language)
    return f"{day(local, language)}, {hour} ({GENEVA_TIME.get(language, GENEVA_TIME['en'])})"


def key_date_label(kind: str, language: str) -> str:
    return KEY_DATE_LABELS.get(language, KEY_DATE_LABELS["en"]).get(kind, kind)


def session_fields(upr_session: UPRSession, language: str) -> SessionFields:
    start, end = upr_session.wg_start, upr_session.wg_end
    states = sorted((country(code, language) for code in upr_session.state_codes), key=sort_key)
    return SessionFields(
        number=upr_session.number,
        wg_start=day(start, language) if start else "",
        wg_end=day(end, language) if end else "",
        dates=day_range(start, end, language) if start else "",
        states=tuple(states),
        location=upr_session.location or "",
        is_projected=upr_session.is_projected,
    )


@dataclass(frozen=True, slots=True)
class KeyDateFacts:
    """A key date copied out of the database when a campaign is prepared (no lazy loads later)."""

    kind: str
    session: int
    concerned: tuple[str, ...]
    description: str
    url: str
    estimated: bool
    dates: dict[str, str]  # language -> date text

    @classmethod
    def of(cls, key_date: KeyDate, concerned: list[str], languages) -> KeyDateFacts:
        return cls(
            kind=key_date.kind,
            session=key_date.session.number,
            concerned=tuple(concerned),
            description=key_date.description or "",
            url=key_date.url or "",
            estimated=key_date.estimated,
            dates={language: key_date_text(key_date, language) for language in languages},
        )


def deadline_fields(facts: KeyDateFacts, mine: frozenset[str], language: str) -> DeadlineFields:
    """One upcoming key date for a recipient working on the countries `mine`."""
    return DeadlineFields(
        kind=facts.kind,
        label=key_date_label(facts.kind, language),
        date=facts.dates[language],
        session=facts.session,
        states=tuple(country(code, language) for code in facts.concerned if code in mine),
        all_states=tuple(country(code, language) for code in facts.concerned),
        description=facts.description,
        url=facts.url,
        estimated=facts.estimated,
    )


# --- Samples (validation, and previews without a contact) -----------------------------------------


def sample_contact(language: str) -> ContactFields:
    return contact_fields(
        language,
        email="amina.diallo@example.org",
        first_name="Amina",
        last_name="Diallo",
        organisation="Fictional Rights Network",
        contact_type="ngo",
        country_code="SN",
        countries=("ML",),
    )


def sample_deadlines(language: str) -> tuple[DeadlineFields, ...]:
    """Two made-up deadlines, so that the body of a loop over them is checked too."""
    names = (country("SN", language), country("ML", language))
    return tuple(
        DeadlineFields(
            kind=kind,
            label=key_date_label(kind, language),
            date=text,
            session=99,
            states=names[:1],
            all_states=names,
            description="",
            url="https://example.org/upr",
            estimated=estimated,
        )
        for kind, text, estimated in (
            ("stakeholder_submission", "1 January 2030, 12:00", False),
            ("pre_session_application", "1 February 2030, 12:00", True),
        )
    )


# --- Help shown next to the editor ----------------------------------------------------------------

MERGE_FIELD_HELP: tuple[tuple[str, str], ...] = (
    ("{{ contact.first_name }}", "First name (also last_name, full_name, email)"),
    ("{{ contact.organisation }}", "Organisation name"),
    ("{{ contact.country }}", "Primary country, named in the email's language (country_code: FR)"),
    ("{{ contact.countries|join(', ') }}", "Every country the contact works on"),
    ("{{ contact.type }}", "ngo, nhri, permanent_mission, …  (type_label: “NGO”)"),
    ("{{ session.number }}", "The campaign's UPR session (choose it in the settings)"),
    ("{{ session.dates }}", "Working Group dates (also wg_start, wg_end, location)"),
    ("{{ session.states|join(', ') }}", "States under review in the session"),
    ("{{ session.is_projected }}", "True while the session is not confirmed"),
    ("upcoming_deadlines", "Key dates in the next 90 days for the contact's countries"),
    ("{{ d.label }}, {{ d.date }}", "In a loop: also session, states (the contact's), all_states, "
     "url, estimated"),
    ("{{ unsubscribe_url }}", "One-click unsubscribe link (the footer has one already)"),
    ("{{ preferences_url }}", "The contact's preference centre"),
    ("{{ organisation_name }}", "Your organisation's name"),
    ("{{ archive_url }}", "The public archive of past campaigns"),
)

MERGE_FIELD_EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "Greeting with a fallback",
        "Dear {{ contact.first_name or 'colleague' }},",
    ),
    (
        "Only for NGOs",
        "{% if contact.type == 'ngo' %}\nYour submission is due soon.\n{% endif %}",
    ),
    (
        "A list of deadlines",
        "{% for d in upcoming_deadlines %}\n- **{{ d.label }}** ({{ d.states|join(', ') }}): "
        "{{ d.date }}{% if d.estimated %} (estimated){% endif %}\n{% endfor %}",
    ),
    (
        "A table",
        "| Deadline | Date |\n|---|---|\n{% for d in upcoming_deadlines %}\n"
        "| {{ d.label }} | {{ d.date }} |\n{% endfor %}",
    ),
    ("A link", "[Change what you receive]({{ preferences_url }})"),
)

