"""Series: create, edit, pause; the scheduler's `series` job drafting due editions; approval.

At each occurrence, `lead_days` ahead, `draft_due_editions` claims the edition row with an
INSERT ... ON CONFLICT DO NOTHING on (series, occurrence): whoever inserts it drafts it, so two
schedulers draft one edition. A paused series records the occurrence as skipped (resuming brings
no backlog); so does an edition with nothing to announce (and it is logged). Otherwise the
edition becomes a campaign from the series' current settings (editing a series changes only the
editions drafted afterwards): scheduled at once in automatic mode, or a draft awaiting an
editor's approval, the series' editors being told by email. Functions flush, never commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from outreach.auth.models import User
from outreach.campaigns import lifecycle
from outreach.campaigns.models import Campaign, CampaignVariant
from outreach.campaigns.services import create_campaign
from outreach.campaigns.validation import variant_problems
from outreach.contacts.models import LANGUAGES
from outreach.core.database import insert_ignoring_conflicts, utcnow
from outreach.core.errors import ServiceError
from outreach.core.timezones import to_local
from outreach.delivery.scheduler import register_job
from outreach.mail.transactional import queue_after_commit
from outreach.segments.models import Segment
from outreach.series import content, recurrence
from outreach.series.models import SERIES_MODES, Series, SeriesEdition

log = logging.getLogger(__name__)

# An occurrence the scheduler reaches this late (it was down) is still drafted and sent at once;
# older ones are simply missed: no backlog.
GRACE = timedelta(hours=1)
NAME_MAX = 200


@dataclass
class SeriesData:
    name: str
    rrule: str
    starts_on: date
    languages: list[str] = field(default_factory=lambda: ["en"])
    segment_ids: list[int] = field(default_factory=list)
    editor_ids: list[int] = field(default_factory=list)
    lead_days: int = 3
    horizon_weeks: int = 6
    news_days: int = 14
    mode: str = "review"
    intro: dict[str, str] = field(default_factory=dict)


def _problems(session: Session, series: Series | None, data: SeriesData) -> dict[str, str]:
    problems = {}
    name = " ".join((data.name or "").split())
    if not name:
        problems["name"] = "Give the series a name."
    elif len(name) > NAME_MAX:
        problems["name"] = f"Use at most {NAME_MAX} characters."
    else:
        clash = select(Series.id).where(func.lower(Series.name) == name.lower())
        if series is not None and series.id is not None:
            clash = clash.where(Series.id != series.id)
        with session.no_autoflush:
            if session.scalar(clash) is not None:
                problems["name"] = "Another series has this name."
    if not data.languages or any(language not in LANGUAGES for language in data.languages):
        problems["languages"] = "Choose at least one of English, French and Spanish."
    if not data.segment_ids:
        problems["segment_ids"] = "Choose at least one segment to send to."
    if data.mode not in SERIES_MODES:
        problems["mode"] = "Choose draft for review or send automatically."
    if not 0 <= data.lead_days <= 30:
        problems["lead_days"] = "Draft 0 to 30 days before sending."
    if not 1 <= data.horizon_weeks <= 26:
        problems["horizon_weeks"] = "Look 1 to 26 weeks ahead."
    if not 1 <= data.news_days <= 90:
        problems["news_days"] = "Include news of the last 1 to 90 days."
    try:
        recurrence.validate(data.rrule, data.starts_on)
    except recurrence.RecurrenceError as exc:
        problems["rrule"] = str(exc)
    for language, intro in data.intro.items():
        if language in LANGUAGES and intro.strip():
            messages = [
                problem.message
                for problem in variant_problems(language, "Subject", intro, None)
                if problem.field.endswith("_body")
            ]
            if messages:
                problems[f"intro_{language}"] = " ".join(messages)
    return problems


def save_series(session: Session, series: Series | None, data: SeriesData, user=None) -> Series:
    """Create (`series` None) or update a series; ServiceError with a message per field."""
    problems = _problems(session, series, data)
    if problems:
        raise ServiceError("Please correct the highlighted fields.", problems)
    if series is None:
        series = Series(status="active", created_by_id=user.id if user is not None else None)
        session.add(series)
    series.name = " ".join(data.name.split())
    series.rrule = recurrence.validate(data.rrule, data.starts_on)
    series.starts_on = data.starts_on
    series.languages = [language for language in LANGUAGES if language in data.languages]
    series.lead_days = data.lead_days
    series.horizon_weeks = data.horizon_weeks
    series.news_days = data.news_days
    series.mode = data.mode
    series.intro = {k: v.strip() for k, v in data.intro.items() if k in LANGUAGES and v.strip()}
    segments = session.scalars(select(Segment).where(Segment.id.in_(data.segment_ids))).all()
    series.segments = sorted(segments, key=lambda s: data.segment_ids.index(s.id))
    editors = session.scalars(select(User).where(User.id.in_(data.editor_ids))).all()
    series.editors = list(editors)
    session.flush()
    return series


def set_paused(session: Session, series: Series, paused: bool) -> None:
    """Occurrences that come due while paused are recorded as skipped, never drafted later."""
    series.status = "paused" if paused else "active"
    session.flush()


def next_occurrence(series: Series, now: datetime | None = None) -> datetime | None:
    return recurrence.next_occurrence(
        series.rrule, series.starts_on, series.timezone, now or utcnow()
    )


def due_occurrences(series: Series, now: datetime) -> list[datetime]:
    """Occurrences to draft now: within the lead time ahead, or missed by less than GRACE."""
    return recurrence.occurrences(
        series.rrule,
        series.starts_on,
        series.timezone,
        now - GRACE,
        now + timedelta(days=series.lead_days),
    )


# --- Drafting editions --------------------------------------------------------------------------


def gather(session: Session, series: Series, occurrence: datetime, now: datetime):
    return content.gather(
        session,
        occurrence,
        series.languages,
        horizon_weeks=series.horizon_weeks,
        news_days=series.news_days,
        now=now,
    )


def _claim(session: Session, series: Series, occurrence: datetime, now: datetime) -> int | None:
    """Insert the edition row; its id if this caller won the occurrence, else None."""
    row = {
        "series_id": series.id,
        "occurrence_at": occurrence,
        "status": "skipped",
        "note": "",
        "created_at": now,
        "updated_at": now,
    }
    table = SeriesEdition.__table__
    stmt = insert_ignoring_conflicts(session, table, [row], ["series_id", "occurrence_at"])
    return session.execute(stmt.returning(table.c.id)).scalar()


def notify_editors(series: Series, edition: SeriesEdition, session: Session) -> None:
    """Email each editor of the series that an edition waits for approval (sent after commit)."""
    when = f"{to_local(edition.occurrence_at):%A %d %B %Y at %H:%M} (Geneva time)"
    link = f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/series/{series.id}"
    day = f"{to_local(edition.occurrence_at):%d %b %Y}"
    for editor in series.editors:
        if not editor.active:
            continue
        message = EmailMessage()
        message["To"] = editor.email
        message["Subject"] = f"To review: {series.name}, edition of {day}"
        message.set_content(
            f"The edition of “{series.name}” to be sent on {when} has been drafted from the "
            f"calendar and the news feeds.\n\nReview it, write the introduction if you wish, "
            f"and approve it: {link}\n\nIt is not sent until someone approves it.\n"
        )
        queue_after_commit(session, message)


def draft_edition(
    session: Session, series: Series, occurrence: datetime, now: datetime
) -> SeriesEdition | None:
    """Draft the edition of `occurrence` unless another caller already has (then None).

    A paused series records an occurrence as skipped only once its time has come, so resuming the
    series before the date still drafts that edition."""
    if series.is_paused and occurrence > now:
        return None
    edition_id = _claim(session, series, occurrence, now)
    if edition_id is None:
        return None
    edition = session.get(SeriesEdition, edition_id)
    if series.is_paused:
        edition.note = "The series was paused."
        log.info("series %s: occurrence %s skipped (paused)", series.id, occurrence)
        session.flush()
        return edition
    facts = gather(session, series, occurrence, now)
    if facts.is_empty:
        edition.note = "Nothing to announce: no deadline, session, pre-session or news item."
        log.info("series %s: occurrence %s skipped (nothing to announce)", series.id, occurrence)
        session.flush()
        return edition
    try:
        campaign = create_campaign(session, content.campaign_data(series, facts))
    except ServiceError as exc:
        edition.note = f"Could not draft the edition: {exc.message}"
        log.warning("series %s: occurrence %s not drafted: %s", series.id, occurrence, exc)
        session.flush()
        return edition
    edition.campaign_id = campaign.id
    edition.status = "awaiting_review"
    if series.mode == "auto":
        try:
            _schedule(session, campaign, occurrence, now)
            edition.status = "scheduled"
        except ServiceError as exc:  # e.g. an empty audience: staff fix it and approve
            edition.note = f"Could not be scheduled automatically: {exc.message}"
            log.warning("series %s: occurrence %s not scheduled: %s", series.id, occurrence, exc)
    if edition.status == "awaiting_review":
        notify_editors(series, edition, session)
    session.flush()
    return edition


def _schedule(session: Session, campaign: Campaign, occurrence: datetime, now: datetime) -> None:
    if occurrence > now:
        lifecycle.schedule(session, campaign, occurrence, now=now)
    else:
        lifecycle.send_now(session, campaign, now=now)


@dataclass
class SeriesReport:
    drafted: int = 0
    skipped: int = 0

    def summary(self) -> str:
        return f"series: drafted={self.drafted} skipped={self.skipped}"


def draft_due_editions(session: Session, now: datetime | None = None) -> SeriesReport:
    """Every series' due occurrences that have no edition yet (the `series` job)."""
    now = now or utcnow()
    report = SeriesReport()
    series_list = session.scalars(
        select(Series).options(selectinload(Series.segments), selectinload(Series.editors))
    ).all()
    known = set(
        session.execute(
            select(SeriesEdition.series_id, SeriesEdition.occurrence_at).where(
                SeriesEdition.occurrence_at >= now - GRACE
            )
        ).tuples()
    )
    for series in series_list:
        for occurrence in due_occurrences(series, now):
            if (series.id, occurrence) in known:
                continue
            edition = draft_edition(session, series, occurrence, now)
            if edition is not None:
                report.drafted += edition.status != "skipped"
                report.skipped += edition.status == "skipped"
    return report


def series_job(session: Session) -> None:
    """The scheduler's "series" job (the scheduler commits)."""
    report = draft_due_editions(session)
    if report.drafted or report.skipped:
        log.info(report.summary())


register_job("series", series_job, seconds=300)


# --- Review -------------------------------------------------------------------------------------


def approve_edition(
    session: Session, edition: SeriesEdition, user=None, now: datetime | None = None
) -> None:
    """Schedule an edition awaiting review for its occurrence (at once if that has passed)."""
    now = now or utcnow()
    if edition.status != "awaiting_review":
        raise ServiceError("This edition is not waiting for approval.", code="illegal_transition")
    campaign = edition.campaign
    if campaign is None or campaign.status != "draft":
        state = campaign.status if campaign is not None else "deleted"
        raise ServiceError(
            f"The edition's campaign is {state}: only a draft can be approved.",
            code="illegal_transition",
        )
    _schedule(session, campaign, edition.occurrence_at, now)
    edition.status = "scheduled"
    edition.approved_by_id = user.id if user is not None else None
    edition.approved_at = now
    session.flush()


def editions_awaiting_review(session: Session) -> list[SeriesEdition]:
    """Editions waiting for an editor, soonest first (for the dashboard)."""
    return list(
        session.scalars(
            select(SeriesEdition)
            .options(selectinload(SeriesEdition.series))
            .join(Campaign, Campaign.id == SeriesEdition.campaign_id)
            .where(SeriesEdition.status == "awaiting_review", Campaign.status == "draft")
            .order_by(SeriesEdition.occurrence_at)
        )
    )


# --- Preview ------------------------------------------------------------------------------------


@dataclass
class Preview:
    occurrence: datetime | None
    campaign: Campaign | None  # transient: never added to the session
    empty: bool = False


def preview_next(session: Session, series: Series, now: datetime | None = None) -> Preview:
    """The next edition exactly as it would be drafted now, as an unsaved campaign."""
    now = now or utcnow()
    occurrence = next_occurrence(series, now)
    if occurrence is None:
        return Preview(None, None)
    facts = gather(session, series, occurrence, now)
    data = content.campaign_data(series, facts)
    campaign = Campaign(
        name=data.name,
        topic=data.topic,
        default_language=data.default_language,
        status="draft",
        variants=[
            CampaignVariant(language=lang, subject=subject, body_markdown=body)
            for lang, subject, body in data.variants
        ],
    )
    return Preview(occurrence, campaign, empty=facts.is_empty)
