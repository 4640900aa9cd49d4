"""Weekly digests: one message a week with the deadlines a subscriber follows, the public
campaigns sent during the week and recent news items.

Who receives one: a confirmed, unpaused subscriber (a `Subscription` row: staff-added contacts
without one never chose a digest) of an active, unsuppressed contact who either chose the topic
"digest" or chose deadline alerts ("deadline_alerts") grouped weekly (`alert_frequency` "weekly":
those get their deadlines only here, so their digest holds the deadlines section only).

When: from DIGEST_WEEKDAY at DIGEST_TIME, Geneva wall-clock time (so 06:00 UTC in summer and
07:00 UTC in winter for Monday 08:00), until the end of that ISO week: a later run in the same week
catches up whoever has no digest yet (the scheduler was down; a subscriber changed their choices).
Someone who confirms their subscription after the week's moment starts with the next week's.
The week's window for campaigns and news runs from the previous week's digest moment to this one,
so each campaign appears in exactly one digest.

`run_digests` records a `DigestRecord` per contact and ISO week in the same transaction as the
outbox row (committed per batch): the unique (contact, week) key makes re-runs, restarts and two
schedulers harmless. An empty digest is not queued but still recorded (without an outbox row), so
it is not recomputed at every run of the week. The message itself is rendered when the worker sends
it (`digest_sender`), so it shows the dates as they are then.
"""

from __future__ import annotations

import time as clock
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, case, exists, false, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from outreach.alerts.models import DigestRecord
from outreach.calendar.services import upcoming_key_dates
from outreach.campaigns.models import Campaign
from outreach.contacts.models import Contact, ContactCountry
from outreach.core.database import utcnow
from outreach.core.timezones import local_date_at, local_zone, to_local
from outreach.delivery.models import OutboxMessage
from outreach.delivery.scheduler import register_job
from outreach.feeds.queries import recent_items
from outreach.i18n import LANGUAGES
from outreach.subscriptions.audience import not_suppressed
from outreach.subscriptions.models import Subscription, SubscriptionSession, SubscriptionTopic

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEADLINE_DAYS = 28  # "deadlines in the next four weeks"
BATCH_SIZE = 500
MAX_CONFLICTS = 5  # batches lost in a row to another process before giving up
CACHE_SECONDS = 60.0


# --- The week ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestWeek:
    """One ISO week's digest: `until` is its moment (UTC), `since` the previous week's."""

    period: str  # "2026-W48"
    since: datetime
    until: datetime

    def payload(self) -> dict[str, str]:
        return {
            "period": self.period,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any] | None) -> DigestWeek:
        """The week an outbox row is about; ValueError when the payload is not a digest's."""
        try:
            since = datetime.fromisoformat(payload["since"]).astimezone(UTC)
            until = datetime.fromisoformat(payload["until"]).astimezone(UTC)
            return cls(str(payload["period"]), since, until)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a digest payload: {payload!r}") from exc


def digest_schedule(config: Mapping[str, Any]) -> tuple[int, time]:
    """(weekday 0-6, Geneva time) from DIGEST_WEEKDAY ("monday") and DIGEST_TIME ("08:00")."""
    name = str(config.get("DIGEST_WEEKDAY") or "monday").strip().lower()
    if name not in WEEKDAYS:
        raise ValueError(f"DIGEST_WEEKDAY must be one of {', '.join(WEEKDAYS)}, not {name!r}")
    text = str(config.get("DIGEST_TIME") or "08:00").strip()
    try:
        at = time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"DIGEST_TIME must be a time like 08:00, not {text!r}") from None
    return WEEKDAYS.index(name), at.replace(tzinfo=None)


def as_aware(now: datetime | None) -> datetime:
    """`now` as an aware datetime: default the current time; a naive one is Geneva time."""
    if now is None:
        return utcnow()
    return now.replace(tzinfo=local_zone()) if now.tzinfo is None else now


def digest_week(now: datetime, weekday: int, at: time) -> DigestWeek:
    """The digest of the ISO week (in Geneva) that `now` falls in."""
    today = to_local(as_aware(now)).date()
    day = today - timedelta(days=today.weekday()) + timedelta(days=weekday)
    year, week, _ = day.isocalendar()
    return DigestWeek(
        period=f"{year}-W{week:02d}",
        since=local_date_at(day - timedelta(days=7), at),
        until=local_date_at(day, at),
    )


# --- Who, and with what -----------------------------------------------------------------------


def _has_topic(topic: str):
    return exists().where(
        SubscriptionTopic.contact_id == Subscription.contact_id, SubscriptionTopic.topic == topic
    )


def wants_digest():
    """SQL: the subscription chose the weekly digest topic."""
    return _has_topic("digest")


def weekly_alerts():
    """SQL: the subscription chose deadline alerts grouped in the weekly digest."""
    return and_(Subscription.alert_frequency == "weekly", _has_topic("deadline_alerts"))


def recipient_conditions(now: datetime, week: DigestWeek) -> list:
    """SQL conditions on `Contact` joined to `Subscription`: who gets this week's digest.
    Subscribers confirmed after the week's moment start with next week's (a Sunday evening
    subscriber would otherwise get two digests within hours)."""
    return [
        Contact.status == "active",
        not_suppressed(),
        Subscription.status == "confirmed",
        or_(Subscription.confirmed_at.is_(None), Subscription.confirmed_at <= week.until),
        or_(Subscription.paused_until.is_(None), Subscription.paused_until <= now),
        or_(wants_digest(), weekly_alerts()),
    ]


@dataclass(frozen=True, slots=True)
class DeadlineFacts:
    """An upcoming deadline, copied out of the database (no lazy loads once sessions commit).
    Has what `campaigns.merge.key_date_text` reads of a key date."""

    id: int
    kind: str
    starts_at: datetime
    ends_at: datetime | None
    all_day: bool
    estimated: bool
    url: str
    session_number: int
    concerned: frozenset[str]


def upcoming_deadlines(session: Session, now: datetime) -> list[DeadlineFacts]:
    """Stakeholder deadlines not yet past at `now` and within the next four weeks, by date."""
    return [
        DeadlineFacts(
            id=key_date.id,
            kind=key_date.kind,
            starts_at=key_date.starts_at,
            ends_at=key_date.ends_at,
            all_day=key_date.all_day,
            estimated=key_date.estimated,
            url=key_date.url or "",
            session_number=key_date.session.number,
            concerned=frozenset(concerned),
        )
        for key_date, concerned in upcoming_key_dates(session, start=now, days=DEADLINE_DAYS)
        if concerned
    ]


def follows_any(deadlines: list[DeadlineFacts]):
    """SQL on `Contact` joined to `Subscription`: follows at least one of `deadlines`, i.e. one
    of its countries is a concerned State and the subscription follows the deadline's session."""
    states_by_session: dict[int, set[str]] = {}
    for facts in deadlines:
        states_by_session.setdefault(facts.session_number, set()).update(facts.concerned)
    if not states_by_session:
        return false()
    return or_(
        *(
            and_(
                exists().where(
                    ContactCountry.contact_id == Contact.id,
                    ContactCountry.country_code.in_(sorted(codes)),
                ),
                or_(
                    Subscription.all_sessions.is_(True),
                    exists().where(
                        SubscriptionSession.contact_id == Subscription.contact_id,
                        SubscriptionSession.session_number == number,
                    ),
                ),
            )
            for number, codes in sorted(states_by_session.items())
        )
    )


def public_campaigns_query(since: datetime, until: datetime):
    """Campaigns marked public whose sending finished in [since, until), oldest first."""
    return (
        select(Campaign)
        .where(
            Campaign.public.is_(True),
            Campaign.status == "sent",
            Campaign.finished_at >= since,
            Campaign.finished_at < until,
        )
        .order_by(Campaign.finished_at, Campaign.id)
    )


@dataclass(frozen=True, slots=True)
class CampaignFacts:
    """A public campaign of the week: its subject per language, as the public archive shows it
    (rendered for a neutral recipient), and when it was sent."""

    id: int
    finished_at: datetime
    default_language: str
    titles: dict[str, str]

    def language_for(self, language: str) -> str | None:
        """`language` when the campaign was written in it, else None (its default is shown)."""
        return language if language in self.titles else None

    def title(self, language: str) -> str:
        return self.titles.get(language) or self.titles.get(self.default_language) or ""


def public_campaigns(session: Session, since: datetime, until: datetime) -> list[CampaignFacts]:
    stmt = public_campaigns_query(since, until).options(selectinload(Campaign.variants))
    return [
        CampaignFacts(
            id=campaign.id,
            finished_at=campaign.finished_at,
            default_language=campaign.default_language,
            titles=campaign_titles(session, campaign),
        )
        for campaign in session.scalars(stmt)
    ]


def campaign_titles(session: Session, campaign: Campaign) -> dict[str, str]:
    """Each variant's subject with its merge fields filled for nobody in particular (as in the
    archive); the raw subject, or the campaign's name, if it cannot be rendered."""
    from outreach.campaigns.rendering import PreparedCampaign, Recipient

    try:
        prepared = PreparedCampaign.prepare(session, campaign)
    except Exception:
        prepared = None
    titles = {}
    for variant in campaign.variants:
        title = ""
        if prepared is not None:
            try:
                title = prepared.render(
                    Recipient(email="", language=variant.language),
                    unsubscribe_url="#",
                    preferences_url="#",
                ).subject
            except Exception:
                title = ""
        titles[variant.language] = title or variant.subject or campaign.name
    return titles


@dataclass(frozen=True, slots=True)
class NewsItem:
    title: str
    url: str
    source: str = ""
    published_at: datetime | None = None
    summary: str = ""
    # The countries it is about (tagged, or its source's); none: general news, for every reader.
    countries: frozenset[str] = frozenset()

    def concerns(self, countries) -> bool:
        return not self.countries or bool(self.countries & set(countries))


NEWS_PER_DIGEST = 10
NEWS_CANDIDATES = 300  # the week's newest items of a language, filtered per reader


def recent_news_items(
    session: Session, since: datetime, until: datetime, language: str
) -> list[NewsItem]:
    """News items published in [since, until) by active feed sources written in `language`,
    newest first. Each reader gets those about the countries they follow (`NewsItem.concerns`).
    """
    return [
        NewsItem(
            title=item.title or item.link,
            url=item.link,
            source=item.source.name,
            published_at=item.published_at,
            countries=frozenset([*(item.countries or []), *(item.source.countries or [])]),
        )
        for item in recent_items(session, since, until, language, limit=NEWS_CANDIDATES)
    ]


# --- The weekly run ---------------------------------------------------------------------------


@dataclass
class DigestReport:
    period: str
    moment: datetime  # this week's digest moment (UTC)
    due: bool
    queued: int = 0
    empty: int = 0
    already: int = 0
    dry_run: bool = False

    def summary(self) -> str:
        return f"digests: queued={self.queued} empty={self.empty} already={self.already}"


def run_digests(
    session: Session,
    now: datetime | None = None,
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
) -> DigestReport:
    """Queue this week's digests once the week's digest moment has passed (see the module doc).

    Commits once per batch (like `delivery.outbox.enqueue_campaign`: the unit of work is the
    batch, so a crash loses nothing and a re-run duplicates nothing). `dry_run` only counts.
    `now` defaults to the current time; a naive value is Geneva time.
    """
    now = as_aware(now).astimezone(UTC)
    week = digest_week(now, *digest_schedule(current_app.config))
    report = DigestReport(week.period, week.until, due=now >= week.until, dry_run=dry_run)
    if not report.due:
        return report

    recorded = exists().where(
        DigestRecord.contact_id == Contact.id, DigestRecord.period == week.period
    )
    report.already = session.scalar(
        select(func.count(Contact.id))
        .join(Subscription, Subscription.contact_id == Contact.id)
        .where(*recipient_conditions(now, week), recorded)
    )

    deadlines = upcoming_deadlines(session, now)
    content = or_(follows_any(deadlines), and_(wants_digest(), _shared_content(session, week)))
    has_content = case((content, 1), else_=0).label("has_content")
    pending = (
        select(Contact.id, Contact.email, Contact.language, has_content)
        .join(Subscription, Subscription.contact_id == Contact.id)
        .where(*recipient_conditions(now, week), ~recorded)
        .order_by(Contact.id)
    )
    if dry_run:
        counted = pending.subquery()
        total, with_content = session.execute(
            select(func.count(), func.coalesce(func.sum(counted.c.has_content), 0))
        ).one()
        report.queued, report.empty = with_content, total - with_content
        session.rollback()
        return report

    after, conflicts = 0, 0
    while True:
        rows = session.execute(pending.where(Contact.id > after).limit(batch_size)).all()
        if not rows:
            return report
        try:
            queued, empty = _record_batch(session, week, rows)
            session.commit()
        except IntegrityError:
            # Another process recorded some of these contacts meanwhile: take the batch again
            # without them.
            session.rollback()
            conflicts += 1
            if conflicts > MAX_CONFLICTS:
                raise
            continue
        conflicts = 0
        report.queued += queued
        report.empty += empty
        after = rows[-1][0]


def _shared_content(session: Session, week: DigestWeek):
    """SQL on `Contact`: whether the week's campaigns or news give a digest subscriber something
    (campaigns: everyone; news items: readers of a language that has some)."""
    if session.scalar(
        select(func.count()).select_from(public_campaigns_query(week.since, week.until).subquery())
    ):
        return true()
    languages = [
        language
        for language in LANGUAGES
        if recent_news_items(session, week.since, week.until, language)
    ]
    return Contact.language.in_(languages) if languages else false()


def _record_batch(session: Session, week: DigestWeek, rows) -> tuple[int, int]:
    """One outbox row and record per contact with content; a bare record for the others."""
    payload = week.payload()
    messages = {
        contact_id: OutboxMessage(
            kind="digest",
            contact_id=contact_id,
            email=email,
            language=language or "en",
            payload=payload,
        )
        for contact_id, email, language, flag in rows
        if flag
    }
    session.add_all(messages.values())
    session.flush()
    session.add_all(
        DigestRecord(
            contact_id=contact_id,
            period=week.period,
            outbox_id=messages[contact_id].id if contact_id in messages else None,
        )
        for contact_id, *_ in rows
    )
    session.flush()
    return len(messages), len(rows) - len(messages)


def digests_job(session: Session) -> None:
    """The scheduler's job (every 15 minutes; it does nothing before the week's moment)."""
    run_digests(session)


register_job("digests", digests_job, seconds=900)


# --- One recipient's digest (at send time) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Following:
    """What a subscriber follows and which sections of the digest they chose."""

    countries: frozenset[str]
    all_sessions: bool
    sessions: frozenset[int]
    digest: bool  # the digest topic: campaigns and news too
    weekly_alerts: bool

    def follows(self, facts: DeadlineFacts) -> bool:
        return bool(self.countries & facts.concerned) and (
            self.all_sessions or facts.session_number in self.sessions
        )


@dataclass
class DigestContent:
    following: Following
    deadlines: list[DeadlineFacts] = field(default_factory=list)
    campaigns: list[CampaignFacts] = field(default_factory=list)
    news: list[NewsItem] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.deadlines or self.campaigns or self.news)


def following(session: Session, contact_id: int, countries) -> Following | None:
    """The subscriber's choices now; None when they no longer want a digest."""
    choice = session.execute(
        select(Subscription.all_sessions, Subscription.alert_frequency).where(
            Subscription.contact_id == contact_id
        )
    ).first()
    if choice is None:
        return None
    topics = set(
        session.scalars(
            select(SubscriptionTopic.topic).where(SubscriptionTopic.contact_id == contact_id)
        )
    )
    digest = "digest" in topics
    weekly = choice.alert_frequency == "weekly" and "deadline_alerts" in topics
    if not (digest or weekly):
        return None
    sessions = session.scalars(
        select(SubscriptionSession.session_number).where(
            SubscriptionSession.contact_id == contact_id
        )
    )
    return Following(
        countries=frozenset(filter(None, countries)),
        all_sessions=choice.all_sessions,
        sessions=frozenset(sessions),
        digest=digest,
        weekly_alerts=weekly,
    )


class DigestBuilder:
    """Gathers each recipient's digest; what is the same for everyone (the upcoming deadlines,
    the week's campaigns) is loaded once and kept for a minute, so a worker sending a week's
    digests queries little per message while dates moved by staff still show promptly."""

    def __init__(self, session: Session, cache_seconds: float = CACHE_SECONDS):
        self.session = session
        self.cache_seconds = cache_seconds
        self._cache: dict[tuple, tuple[float, list]] = {}

    def _cached(self, key: tuple, load) -> list:
        hit = self._cache.get(key)
        tick = clock.monotonic()
        if hit is not None and tick - hit[0] < self.cache_seconds:
            return hit[1]
        if len(self._cache) > 16:
            self._cache.clear()
        value = load()
        self._cache[key] = (tick, value)
        return value

    def deadlines(self, now: datetime) -> list[DeadlineFacts]:
        # Keyed by the minute, so a deadline passing mid-run drops out within a minute.
        minute = now.replace(second=0, microsecond=0)
        return self._cached(("deadlines", minute), lambda: upcoming_deadlines(self.session, now))

    def campaigns(self, week: DigestWeek) -> list[CampaignFacts]:
        key = ("campaigns", week.since, week.until)
        return self._cached(key, lambda: public_campaigns(self.session, week.since, week.until))

    def news(self, week: DigestWeek, language: str) -> list[NewsItem]:
        key = ("news", week.since, week.until, language)
        return self._cached(
            key, lambda: recent_news_items(self.session, week.since, week.until, language)
        )

    def content_for(
        self,
        contact_id: int,
        countries,
        language: str,
        week: DigestWeek,
        now: datetime | None = None,
    ) -> DigestContent | None:
        """The digest of one contact as of `now`; None when they no longer want one."""
        now = as_aware(now)
        choice = following(self.session, contact_id, countries)
        if choice is None:
            return None
        content = DigestContent(
            following=choice,
            deadlines=[facts for facts in self.deadlines(now) if choice.follows(facts)],
        )
        if choice.digest:
            content.campaigns = self.campaigns(week)
            content.news = [
                item for item in self.news(week, language) if item.concerns(choice.countries)
            ][:NEWS_PER_DIGEST]
        return content
