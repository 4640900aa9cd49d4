"""An edition's content, written from the calendar and the news feeds in each language.

Sections, each left out when empty: the staff introduction; the entry points closing in the
coming weeks grouped by session (each with the States it concerns, what to submit and a link);
the sessions starting soon with their States; pre-sessions and their application deadlines; the
recent news items. Estimated dates say so. Like the pre-session starter, words are written per
language here (this is email content, not interface text), and nothing is a merge field: what
staff review is what is sent. An edition with no calendar or news item is empty and not sent.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from outreach.calendar.models import KeyDate, UPRSession
from outreach.calendar.services import upcoming_key_dates
from outreach.campaigns.merge import country, day, day_range, key_date_label, key_date_text
from outreach.campaigns.services import CampaignData, VariantData, default_sender
from outreach.campaigns.starter import ESTIMATED, ordinal
from outreach.core.countries import sort_key
from outreach.core.timezones import to_local
from outreach.feeds.blocks import (
    from_feed_item,
    markdown_text,
    markdown_url,
    news_block,
    untemplated,
)
from outreach.feeds.queries import recent_items

ENTRY_POINT_KINDS = ("stakeholder_submission", "pre_session_statement")
PRE_SESSION_KINDS = ("pre_session", "pre_session_application")
NEWS_PER_EDITION = 8

WORDS = {
    "en": {
        "entry_points": "Deadlines in the coming weeks",
        "sessions": "Sessions starting soon",
        "pre_sessions": "Pre-sessions",
        "session": "{n} session",
        "all_states": "All States under review",
        "states": "States under review",
        "to_be_announced": "to be announced",
        "more": "More information",
        "projected": "dates and States not confirmed yet",
        "applications": "applications",
    },
    "fr": {
        "entry_points": "Échéances des prochaines semaines",
        "sessions": "Sessions à venir",
        "pre_sessions": "Pré-sessions",
        "session": "{n} session",
        "all_states": "Tous les États examinés",
        "states": "États examinés",
        "to_be_announced": "à annoncer",
        "more": "En savoir plus",
        "projected": "dates et États non encore confirmés",
        "applications": "inscriptions",
    },
    "es": {
        "entry_points": "Plazos de las próximas semanas",
        "sessions": "Próximas sesiones",
        "pre_sessions": "Presesiones",
        "session": "{n} sesión",
        "all_states": "Todos los Estados examinados",
        "states": "Estados examinados",
        "to_be_announced": "por anunciar",
        "more": "Más información",
        "projected": "fechas y Estados aún no confirmados",
        "applications": "inscripciones",
    },
}


@dataclass
class EditionFacts:
    """What the calendar and the feeds hold for one occurrence (the same in every language)."""

    occurrence: datetime
    entry_points: list[tuple[KeyDate, list[str]]] = field(default_factory=list)
    sessions: list[UPRSession] = field(default_factory=list)
    pre_sessions: list[tuple[KeyDate, list[str]]] = field(default_factory=list)
    news: dict[str, list] = field(default_factory=dict)  # language -> BlockItems

    @property
    def is_empty(self) -> bool:
        news = any(self.news.values())
        return not (self.entry_points or self.sessions or self.pre_sessions or news)


def gather(
    session: Session,
    occurrence: datetime,
    languages,
    *,
    horizon_weeks: int = 6,
    news_days: int = 14,
    now: datetime | None = None,
) -> EditionFacts:
    """The facts of an edition sent at `occurrence`: dates in the `horizon_weeks` after it, news
    of the `news_days` before it (and never after `now`, when drafting ahead of time)."""
    days = horizon_weeks * 7
    facts = EditionFacts(occurrence)
    facts.entry_points = upcoming_key_dates(
        session, start=occurrence, days=days, kinds=ENTRY_POINT_KINDS
    )
    facts.pre_sessions = upcoming_key_dates(
        session, start=occurrence, days=days, kinds=PRE_SESSION_KINDS
    )
    first_day = to_local(occurrence).date()
    facts.sessions = list(
        session.scalars(
            select(UPRSession)
            .options(selectinload(UPRSession.reviews))
            .where(
                UPRSession.wg_start >= first_day,
                UPRSession.wg_start <= first_day + timedelta(days=days),
            )
            .order_by(UPRSession.wg_start)
        )
    )
    until = min(occurrence, now) if now else occurrence
    since = occurrence - timedelta(days=news_days)
    for language in languages:
        items = recent_items(session, since, until, language, limit=NEWS_PER_EDITION)
        facts.news[language] = [from_feed_item(item) for item in items]
    return facts


def _session_title(number: int, language: str) -> str:
    return WORDS[language]["session"].format(n=ordinal(number, language))


def _states(codes, language: str) -> str:
    names = sorted((country(code, language) for code in codes), key=sort_key)
    return ", ".join(names)


def _when(key_date: KeyDate, language: str) -> str:
    return key_date_text(key_date, language) + (ESTIMATED[language] if key_date.estimated else "")


def _link(url: str, language: str) -> str:
    safe = markdown_url(url)
    return f" [{WORDS[language]['more']}]({safe})" if safe else ""


def _by_session(rows):
    grouped: dict[int, list] = defaultdict(list)
    for key_date, concerned in rows:
        grouped[key_date.session.number].append((key_date, concerned))
    return sorted(grouped.items())


def entry_points_section(rows, language: str) -> str:
    words = WORDS[language]
    out = [f"## {words['entry_points']}"]
    for number, dates in _by_session(rows):
        out.append(f"### {_session_title(number, language)}")
        lines = []
        for key_date, concerned in dates:
            if key_date.review_id is None:
                states = _states(concerned, language) or words["to_be_announced"]
                who = f"{words['all_states']} ({states})"
            else:
                who = _states(concerned, language)
            line = f"- **{markdown_text(who)}** — {key_date_label(key_date.kind, language)}: "
            line += f"**{_when(key_date, language)}**."
            if key_date.description:
                line += f" {markdown_text(key_date.description)}"
            lines.append(line + _link(key_date.url, language))
        out.append("\n".join(lines))
    return "\n\n".join(out)


def sessions_section(sessions, language: str) -> str:
    words = WORDS[language]
    out = [f"## {words['sessions']}"]
    for upr_session in sessions:
        dates = day_range(upr_session.wg_start, upr_session.wg_end, language)
        projected = f" ({words['projected']})" if upr_session.is_projected else ""
        states = _states(upr_session.state_codes, language) or words["to_be_announced"]
        out.append(
            f"### {_session_title(upr_session.number, language)} — {dates}{projected}\n\n"
            f"{words['states']}: {markdown_text(states)}."
        )
    return "\n\n".join(out)


def pre_sessions_section(rows, language: str) -> str:
    words = WORDS[language]
    lines = []
    for number, dates in _by_session(rows):
        parts = []
        url = ""
        for key_date, _concerned in dates:
            label = key_date_label(key_date.kind, language)
            parts.append(f"{label}: **{_when(key_date, language)}**")
            url = url or key_date.url
        title = _session_title(number, language)
        lines.append(f"- **{title}** — " + "; ".join(parts) + "." + _link(url, language))
    return f"## {words['pre_sessions']}\n\n" + "\n".join(lines)


def body(facts: EditionFacts, language: str, intro: str = "") -> str:
    sections = [intro.strip()] if intro and intro.strip() else []
    if facts.entry_points:
        sections.append(entry_points_section(facts.entry_points, language))
    if facts.sessions:
        sections.append(sessions_section(facts.sessions, language))
    if facts.pre_sessions:
        sections.append(pre_sessions_section(facts.pre_sessions, language))
    news = news_block(facts.news.get(language, []), language)
    if news:
        sections.append(news.strip())
    return "\n\n".join(sections) + "\n"


def subject(name: str, occurrence: datetime, language: str) -> str:
    return f"{untemplated(name)} — {day(occurrence, language)}"


def campaign_data(series, facts: EditionFacts) -> CampaignData:
    """The edition as a campaign: one variant per language of the series."""
    sender_name, sender_email = default_sender()
    languages = list(series.languages)
    intro = series.intro or {}
    local_day = to_local(facts.occurrence).date()
    return CampaignData(
        name=f"{series.name} — {local_day:%d %b %Y}",
        topic="newsletter",
        sender_name=sender_name,
        sender_email=sender_email,
        default_language="en" if "en" in languages else languages[0],
        segment_ids=[segment.id for segment in series.segments],
        variants=[
            VariantData(
                language,
                subject(series.name, facts.occurrence, language),
                body(facts, language, intro.get(language, "")),
            )
            for language in languages
        ],
    )
