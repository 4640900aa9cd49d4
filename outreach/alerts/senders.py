"""Sending deadline alerts and "deadline changed" notices: the worker's senders for outbox rows of
kind "alert" and "notice" (registered when this module is imported, from the app factory).

A row holds only what it is about (alert: `{"key_dates": [[key_date_id, days_before], ...]}`;
notice: `{"key_date_id", "old": ISO datetime}`); `render` reads the key dates when the row is
sent, so a deadline moved after the row was queued shows its current date. Messages are written in
the row's language with the campaign email layout (preferences and unsubscribe links in the
footer, CSS inlined); the engine adds List-Unsubscribe, since alerts are bulk mail, and re-checks
at send time that the contact still receives the topic "deadline_alerts".
"""

from __future__ import annotations

import re
import time as clock
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import css_inline
from babel.dates import format_date
from flask import Flask, render_template
from flask_babel import force_locale, gettext, lazy_gettext, ngettext
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from outreach.alerts.services import ALERT_TOPIC
from outreach.calendar.feeds import entry_point_text, entry_point_url
from outreach.calendar.models import KeyDate, Review, UPRSession
from outreach.calendar.services import concerned_states
from outreach.calendar.timing import DEFAULT_DESCRIPTIONS
from outreach.campaigns import merge
from outreach.campaigns.rendering import Recipient, Rendered
from outreach.core.countries import sort_key
from outreach.core.database import utcnow
from outreach.core.timezones import local_today, to_local
from outreach.delivery.message import CampaignHeaders, MessageFactory
from outreach.delivery.worker import SkipMessage, register_sender
from outreach.i18n import LANGUAGES

# A key date read from the database is reused for this long, then read again.
KEY_DATE_TTL = 30.0
BLANK_LINES = re.compile(r"\n\s*\n(\s*\n)+")
# The usual entry point descriptions (`calendar.timing`) in the reader's language; a description
# written by staff is shown as written.
DESCRIPTIONS = {
    "stakeholder_submission": lazy_gettext(
        "Written contributions from NGOs and NHRIs to OHCHR's summary of stakeholders' information"
    ),
    "national_report": lazy_gettext("The State under review submits its national report to OHCHR"),
    "pre_session_application": lazy_gettext("Applications to speak at the UPR Info pre-sessions"),
    "pre_session_statement": lazy_gettext(
        "Statements of the pre-session speakers are due to UPR Info"
    ),
    "pre_session": lazy_gettext(
        "UPR Info pre-sessions: civil society briefs the permanent missions before the review"
    ),
    "wg_review": lazy_gettext("Review of the State by the UPR Working Group in Geneva"),
    "responses": lazy_gettext("The State's responses to the recommendations it received are due"),
    "hrc_adoption": lazy_gettext(
        "Adoption of the review outcome by the Human Rights Council in plenary"
    ),
    "mid_term_report": lazy_gettext(
        "Voluntary mid-term report on the implementation of recommendations"
    ),
}


def alert_headers(config: Mapping[str, Any]) -> CampaignHeaders:
    return CampaignHeaders.for_list(config, "deadline-alerts", "deadline alerts")


@dataclass(frozen=True, slots=True)
class KeyDateFacts:
    """A key date copied out of the database (no lazy loads while rendering)."""

    id: int
    kind: str
    starts_at: datetime
    ends_at: datetime | None
    all_day: bool
    session: int
    concerned: tuple[str, ...]
    estimated: bool
    description: str
    url: str

    @classmethod
    def of(cls, key_date: KeyDate) -> KeyDateFacts:
        return cls(
            id=key_date.id,
            kind=key_date.kind,
            starts_at=key_date.starts_at,
            ends_at=key_date.ends_at,
            all_day=key_date.all_day,
            session=key_date.session.number,
            concerned=tuple(concerned_states(key_date)),
            estimated=key_date.estimated,
            description=entry_point_text(key_date),
            url=entry_point_url(key_date),
        )


class KeyDateCache:
    """Key dates by id, read in one query per batch of missing or stale ids."""

    def __init__(self, session: Session, ttl: float = KEY_DATE_TTL):
        self.session = session
        self.ttl = ttl
        self._facts: dict[int, tuple[float, KeyDateFacts | None]] = {}

    def get(self, ids: Iterable[int]) -> dict[int, KeyDateFacts]:
        ids = list(dict.fromkeys(ids))
        now = clock.monotonic()
        stale = [i for i in ids if i not in self._facts or now - self._facts[i][0] > self.ttl]
        if stale:
            loaded = self.session.scalars(
                select(KeyDate)
                .where(KeyDate.id.in_(stale))
                .options(
                    selectinload(KeyDate.session)
                    .selectinload(UPRSession.reviews)
                    .selectinload(Review.key_dates),
                    selectinload(KeyDate.review),
                )
            )
            found = {key_date.id: KeyDateFacts.of(key_date) for key_date in loaded}
            for key_date_id in stale:
                self._facts[key_date_id] = (now, found.get(key_date_id))
        return {i: facts for i in ids if (facts := self._facts[i][1]) is not None}


def _language(value: str | None) -> str:
    return value if value in LANGUAGES else "en"


def when_text(
    moment: datetime, language: str, *, all_day: bool = False, ends_at: datetime | None = None
) -> str:
    """"Monday 30 November 2026, 12:00 (Geneva time)", "lundi 30 novembre 2026, ...", or an
    all-day range after the first day's weekday."""
    weekday = format_date(to_local(moment).date(), "EEEE", locale=language)
    if all_day:
        return f"{weekday} {merge.day_range(moment, ends_at, language)}"
    hour = f"{to_local(moment):%H:%M}"
    geneva = merge.GENEVA_TIME.get(language, merge.GENEVA_TIME["en"])
    return f"{weekday} {merge.day(moment, language)}, {hour} ({geneva})"


def short_day(moment: datetime, language: str) -> str:
    """"Mon 30 Nov", "lun. 30 nov.", "lun 30 nov"."""
    return format_date(to_local(moment).date(), "EEE d MMM", locale=language)


def describe(facts: KeyDateFacts) -> str:
    """The entry point's description in the current locale (call inside `force_locale`)."""
    if facts.kind in DESCRIPTIONS and facts.description == DEFAULT_DESCRIPTIONS.get(facts.kind):
        return str(DESCRIPTIONS[facts.kind])
    return facts.description


def state_names(facts: KeyDateFacts, recipient: Recipient, language: str) -> str:
    """The States concerned that the recipient works on (all of them if none), by name."""
    mine = {code for code in (recipient.country_code, *recipient.countries) if code}
    codes = [code for code in facts.concerned if code in mine] or list(facts.concerned)
    names = sorted((merge.country(code, language) for code in codes), key=sort_key)
    return ", ".join(names)


def render_email(template: str, language: str, **context) -> tuple[str, str]:
    """The HTML (CSS inlined) and text of `emails/<template>.html|txt` in `language`."""
    with force_locale(language):
        html = render_template(f"emails/{template}.html", lang=language, **context)
        text = render_template(f"emails/{template}.txt", lang=language, **context)
    return css_inline.inline(html), BLANK_LINES.sub("\n\n", text).strip() + "\n"


# --- Deadline alerts and notices ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeadlineItem:
    """One deadline of an alert, in the recipient's language."""

    label: str
    when: str
    short_day: str
    days_left: int
    closed: bool
    session: int
    states: str
    estimated: bool
    description: str
    url: str


class AlertSender:
    """Renders alert rows: every deadline the row lists, soonest first."""

    topic = ALERT_TOPIC

    def __init__(self, session: Session, app: Flask):
        self.config = app.config
        self.factory = MessageFactory(alert_headers(app.config), app.config)
        self.key_dates = KeyDateCache(session)

    def items(self, row, recipient: Recipient, language: str) -> list[DeadlineItem]:
        pairs = (row.payload or {}).get("key_dates") or []
        facts = self.key_dates.get(int(pair[0]) for pair in pairs)
        now, today = utcnow(), local_today()
        items = []
        for key_date in sorted(facts.values(), key=lambda f: (f.starts_at, f.id)):
            items.append(
                DeadlineItem(
                    label=merge.key_date_label(key_date.kind, language),
                    when=when_text(
                        key_date.starts_at,
                        language,
                        all_day=key_date.all_day,
                        ends_at=key_date.ends_at,
                    ),
                    short_day=short_day(key_date.starts_at, language),
                    days_left=(to_local(key_date.starts_at).date() - today).days,
                    closed=key_date.starts_at <= now,
                    session=key_date.session,
                    states=state_names(key_date, recipient, language),
                    estimated=key_date.estimated,
                    description=describe(key_date),
                    url=key_date.url,
                )
            )
        return items

    def render(self, row, recipient: Recipient, *, unsubscribe_url: str, preferences_url: str):
        language = _language(row.language)
        with force_locale(language):
            items = self.items(row, recipient, language)
            if not items:
                raise SkipMessage("the key dates of this alert no longer exist")
            if all(item.closed for item in items):
                # Delayed (server outage, retries) past every deadline it announces.
                raise SkipMessage("every deadline of this alert has closed")
            subject = subject_for(items)
        html, text = render_email(
            "alert",
            language,
            subject=subject,
            deadlines=items,
            organisation_name=self.config["ORGANISATION_NAME"],
            unsubscribe_url=unsubscribe_url,
            preferences_url=preferences_url,
        )
        return Rendered(language=language, subject=subject, html=html, text=text)


def subject_for(items: list[DeadlineItem]) -> str:
    """"UPR deadline on Mon 30 Nov: Stakeholder submissions deadline" or "3 UPR deadlines close
    soon: first on Mon 30 Nov" (call inside `force_locale`)."""
    still_open = [item for item in items if not item.closed] or items
    first = still_open[0]
    if len(still_open) == 1:
        return gettext(
            "UPR deadline on %(date)s: %(label)s", date=first.short_day, label=first.label
        )
    return ngettext(
        "%(num)d UPR deadline closes soon: first on %(date)s",
        "%(num)d UPR deadlines close soon: first on %(date)s",
        len(still_open),
        date=first.short_day,
    )


class NoticeSender:
    """Renders "deadline changed" rows: the key date's old date and its current one."""

    topic = ALERT_TOPIC

    def __init__(self, session: Session, app: Flask):
        self.config = app.config
        self.factory = MessageFactory(alert_headers(app.config), app.config)
        self.key_dates = KeyDateCache(session)

    def render(self, row, recipient: Recipient, *, unsubscribe_url: str, preferences_url: str):
        language = _language(row.language)
        payload = row.payload or {}
        facts = self.key_dates.get([int(payload.get("key_date_id") or 0)])
        if not facts:
            raise ValueError("the key date of this notice no longer exists")
        key_date = next(iter(facts.values()))
        old = datetime.fromisoformat(payload["old"])
        label = merge.key_date_label(key_date.kind, language)
        with force_locale(language):
            subject = gettext("UPR deadline moved: %(label)s", label=label)
            description = describe(key_date)
        html, text = render_email(
            "deadline_changed",
            language,
            subject=subject,
            label=label,
            old=when_text(old, language, all_day=key_date.all_day),
            new=when_text(
                key_date.starts_at, language, all_day=key_date.all_day, ends_at=key_date.ends_at
            ),
            session=key_date.session,
            states=state_names(key_date, recipient, language),
            estimated=key_date.estimated,
            description=description,
            url=key_date.url,
            organisation_name=self.config["ORGANISATION_NAME"],
            unsubscribe_url=unsubscribe_url,
            preferences_url=preferences_url,
        )
        return Rendered(language=language, subject=subject, html=html, text=text)


register_sender("alert", AlertSender)
register_sender("notice", NoticeSender)
