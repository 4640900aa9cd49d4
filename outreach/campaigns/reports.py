"""What staff see about a campaign: its audience before sending, its progress and outcomes after.

Every figure comes from one SQL query (a COUNT with GROUP BY, or a page of rows); nothing here
loops over contacts or outbox rows in Python, so the pages stay fast for 100,000 recipients.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from outreach.campaigns import lifecycle
from outreach.campaigns.audience import AudienceSummary, audience_select, segments_condition
from outreach.campaigns.audience import summarise as summarise_audience
from outreach.campaigns.models import Campaign
from outreach.contacts.csv_io import safe_cell
from outreach.contacts.models import Contact
from outreach.core.database import utcnow
from outreach.core.errors import ServiceError
from outreach.core.timezones import to_local
from outreach.delivery.models import OUTBOX_STATUSES, OutboxMessage
from outreach.subscriptions.models import Subscription, SubscriptionTopic, Suppression

SAMPLE_SIZE = 20
RECENT_FAILURES = 10
# Why a contact of the campaign's segments is not a recipient, in the order the checks apply.
EXCLUSION_LABELS = {
    "inactive": "Inactive or blocklisted contacts",
    "suppressed": "Addresses on the suppression list",
    "unconfirmed": "Subscriptions not confirmed, paused or unsubscribed",
    "opted_out": "Subscribers who opted out of this topic",
}
PROCESSED_STATUSES = ("sent", "failed", "skipped")
PENDING_STATUSES = ("queued", "sending", "held")
# Statuses in which the scheduler or a worker may change the campaign while staff watch it.
LIVE_STATUSES = ("scheduled", "sending")
CSV_COLUMNS = (
    "email", "language", "status", "attempts", "smtp_code", "smtp_reply", "sent_at", "message_id"
)


# --- Audience -------------------------------------------------------------------------------------


@dataclass
class AudienceReport:
    summary: AudienceSummary
    in_segments: int
    excluded: dict[str, int]
    sample: list[Contact]
    has_segments: bool

    @property
    def excluded_total(self) -> int:
        return sum(self.excluded.values())

    def excluded_rows(self) -> list[tuple[str, str, int]]:
        """(reason, label, count) in the order the rules apply."""
        return [(reason, EXCLUSION_LABELS[reason], n) for reason, n in self.excluded.items()]


def exclusion_reason(topic: str, now: datetime):
    """A CASE naming the first rule that keeps a contact out (or "mailable").

    Mirrors `subscriptions.audience.mailable_conditions`: the "mailable" count equals the audience.
    """
    has_subscription = exists().where(Subscription.contact_id == Contact.id)
    live = exists().where(
        Subscription.contact_id == Contact.id,
        Subscription.status == "confirmed",
        or_(Subscription.paused_until.is_(None), Subscription.paused_until <= now),
    )
    chose_topic = exists().where(
        SubscriptionTopic.contact_id == Contact.id, SubscriptionTopic.topic == topic
    )
    return case(
        (Contact.status != "active", "inactive"),
        (exists().where(Suppression.email_hash == Contact.email_hash), "suppressed"),
        (and_(has_subscription, ~live), "unconfirmed"),
        (and_(has_subscription, ~chose_topic), "opted_out"),
        else_="mailable",
    )


def reason_counts(session: Session, campaign: Campaign, now: datetime | None = None):
    """{reason: count} over the contacts of the campaign's segments (one grouped query)."""
    condition = segments_condition(list(campaign.segments))
    if condition is None:
        return {}
    reasons = (
        select(exclusion_reason(campaign.subscription_topic, now or utcnow()).label("reason"))
        .where(condition)
        .subquery()
    )
    rows = session.execute(select(reasons.c.reason, func.count()).group_by(reasons.c.reason))
    return dict(rows.tuples().all())


def audience_report(session: Session, campaign: Campaign) -> AudienceReport:
    counts = reason_counts(session, campaign)
    select_sample = audience_select(campaign)
    sample = [] if select_sample is None else list(
        session.scalars(select_sample.limit(SAMPLE_SIZE))
    )
    return AudienceReport(
        summary=summarise_audience(session, campaign),
        in_segments=sum(counts.values()),
        excluded={reason: counts.get(reason, 0) for reason in EXCLUSION_LABELS},
        sample=sample,
        has_segments=bool(campaign.segments),
    )


# --- Progress -------------------------------------------------------------------------------------


@dataclass
class Progress:
    status: str
    counts: dict[str, int]
    retrying: int = 0
    rate_per_minute: int = 0
    enqueued: bool = True
    status_reason: str = ""

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def processed(self) -> int:
        return sum(self.counts[status] for status in PROCESSED_STATUSES)

    @property
    def remaining(self) -> int:
        return sum(self.counts.get(status, 0) for status in PENDING_STATUSES)

    @property
    def percent(self) -> int:
        """Share of rows with an outcome, rounded down (100 only when all are done)."""
        return self.processed * 100 // self.total if self.total else 0

    @property
    def eta_seconds(self) -> int | None:
        if not self.remaining:
            return 0
        if self.status != "sending" or not self.rate_per_minute:
            return None
        return round(self.remaining * 60 / self.rate_per_minute)

    @property
    def eta_text(self) -> str:
        return duration_text(self.eta_seconds)

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "status_reason": self.status_reason,
            "counts": self.counts,
            "retrying": self.retrying,
            "total": self.total,
            "processed": self.processed,
            "remaining": self.remaining,
            "percent": self.percent,
            "rate_per_minute": self.rate_per_minute,
            "eta_seconds": self.eta_seconds,
            "eta_text": self.eta_text,
            "enqueued": self.enqueued,
            "live": self.status in LIVE_STATUSES,
        }


def duration_text(seconds: int | None) -> str:
    if seconds is None:
        return "unknown"
    if seconds == 0:
        return "none"
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes:02d} min"


def zero_counts() -> dict[str, int]:
    return dict.fromkeys(OUTBOX_STATUSES, 0)


def outbox_counts(session: Session, campaign_id: int) -> tuple[dict[str, int], int]:
    """Rows per status, and how many queued rows wait for a retry (one GROUP BY)."""
    retry = func.sum(case((OutboxMessage.attempts > 0, 1), else_=0))
    rows = session.execute(
        select(OutboxMessage.status, func.count(), retry)
        .where(OutboxMessage.campaign_id == campaign_id)
        .group_by(OutboxMessage.status)
    )
    counts, retrying = zero_counts(), 0
    for status, count, with_attempts in rows:
        counts[status] = count
        if status == "queued":
            retrying = int(with_attempts or 0)
    return counts, retrying


def counts_by_campaign(session: Session, campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """Rows per status for several campaigns (the list page), one GROUP BY."""
    if not campaign_ids:
        return {}
    rows = session.execute(
        select(OutboxMessage.campaign_id, OutboxMessage.status, func.count())
        .where(OutboxMessage.campaign_id.in_(campaign_ids))
        .group_by(OutboxMessage.campaign_id, OutboxMessage.status)
    )
    result: dict[int, dict[str, int]] = {}
    for campaign_id, status, count in rows:
        result.setdefault(campaign_id, zero_counts())[status] = count
    return result


def progress(session: Session, campaign: Campaign, now: datetime | None = None) -> Progress:
    return progress_many(session, [campaign], now)[campaign.id]


def progress_many(
    session: Session, campaigns: list[Campaign], now: datetime | None = None
) -> dict[int, Progress]:
    """Each campaign's progress by id, in two queries however many campaigns there are."""
    if not campaigns:
        return {}
    ids = [campaign.id for campaign in campaigns]
    counts = {campaign_id: zero_counts() for campaign_id in ids}
    retrying = dict.fromkeys(ids, 0)
    retry = func.sum(case((OutboxMessage.attempts > 0, 1), else_=0))
    for campaign_id, status, count, with_attempts in session.execute(
        select(OutboxMessage.campaign_id, OutboxMessage.status, func.count(), retry)
        .where(OutboxMessage.campaign_id.in_(ids))
        .group_by(OutboxMessage.campaign_id, OutboxMessage.status)
    ):
        counts[campaign_id][status] = count
        if status == "queued":
            retrying[campaign_id] = int(with_attempts or 0)
    sending = [campaign.id for campaign in campaigns if campaign.status == "sending"]
    rates = dict(
        session.execute(
            select(OutboxMessage.campaign_id, func.count())
            .where(
                OutboxMessage.campaign_id.in_(sending),
                OutboxMessage.status == "sent",
                OutboxMessage.sent_at >= (now or utcnow()) - timedelta(minutes=1),
            )
            .group_by(OutboxMessage.campaign_id)
        ).all()
    ) if sending else {}
    return {
        campaign.id: Progress(
            status=campaign.status,
            counts=counts[campaign.id],
            retrying=retrying[campaign.id],
            rate_per_minute=rates.get(campaign.id, 0),
            enqueued=campaign.enqueued_at is not None,
            status_reason=campaign.status_reason,
        )
        for campaign in campaigns
    }


def recent_failures(session: Session, campaign_id: int, limit: int = RECENT_FAILURES):
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.campaign_id == campaign_id, OutboxMessage.status == "failed")
            .order_by(OutboxMessage.updated_at.desc(), OutboxMessage.id.desc())
            .limit(limit)
        )
    )


# --- Per-recipient outcomes -----------------------------------------------------------------------


def outcomes_select(campaign_id: int, q: str = "", status: str = "") -> Select:
    """Outbox rows of a campaign, optionally searched by address and filtered by status."""
    if status and status not in OUTBOX_STATUSES:
        raise ServiceError(
            f"Unknown status “{status}”; choose one of {', '.join(OUTBOX_STATUSES)}.",
            {"status": "Unknown status."},
        )
    stmt = select(OutboxMessage).where(OutboxMessage.campaign_id == campaign_id)
    if q:
        stmt = stmt.where(func.lower(OutboxMessage.email).contains(q.lower(), autoescape=True))
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    return stmt.order_by(OutboxMessage.id)


def csv_time(value: datetime | None) -> str:
    """Geneva time with its UTC offset: readable and unambiguous."""
    return to_local(value).isoformat(timespec="seconds") if value else ""


def outcome_csv_rows(session: Session, stmt: Select, batch: int = 1000) -> Iterator[str]:
    """The CSV export, streamed: a header line, then one line per outbox row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    rows = session.scalars(stmt.execution_options(yield_per=batch))
    for count, row in enumerate(rows, start=1):
        writer.writerow([
            safe_cell(row.email),
            row.language,
            row.status,
            row.attempts,
            "" if row.smtp_code is None else row.smtp_code,
            safe_cell(row.smtp_reply or ""),
            csv_time(row.sent_at),
            row.message_id or "",
        ])
        if count % batch == 0:
            yield flush()
    yield flush()


# --- The panel on the campaign page ---------------------------------------------------------------


@dataclass
class Actions:
    """Which lifecycle buttons make sense now (the service still decides on POST)."""

    schedule: bool = False
    send_now: bool = False
    unschedule: bool = False
    pause: bool = False
    resume: bool = False
    cancel: bool = False

    @classmethod
    def for_campaign(cls, campaign: Campaign) -> Actions:
        before_sending = campaign.status in ("draft", "scheduled")
        return cls(
            schedule=before_sending,
            send_now=before_sending,
            unschedule=lifecycle.can(campaign, "draft"),
            pause=lifecycle.can(campaign, "paused"),
            resume=campaign.status == "paused" and lifecycle.can(campaign, "sending"),
            cancel=lifecycle.can(campaign, "cancelled"),
        )

    def any(self) -> bool:
        return any(vars(self).values())


@dataclass
class Panel:
    campaign: Campaign
    actions: Actions
    audience: AudienceReport | None = None
    progress: Progress | None = None
    failures: list[OutboxMessage] = field(default_factory=list)
    due: bool = False

    @property
    def live(self) -> bool:
        """Whether the page should poll for progress."""
        return self.campaign.status == "sending" or self.due


def panel_context(session: Session, campaign: Campaign, now: datetime | None = None) -> Panel:
    """Everything `campaigns/send/_panel.html` shows for one campaign."""
    now = now or utcnow()
    panel = Panel(campaign=campaign, actions=Actions.for_campaign(campaign))
    if campaign.status in ("draft", "scheduled"):
        panel.audience = audience_report(session, campaign)
    if campaign.status == "scheduled" and campaign.scheduled_at is not None:
        panel.due = campaign.scheduled_at <= now + timedelta(minutes=5)
    if campaign.status != "draft":
        panel.progress = progress(session, campaign, now)
        if panel.progress.counts["failed"]:
            panel.failures = recent_failures(session, campaign.id)
        if not panel.progress.total and campaign.status in ("scheduled", "cancelled"):
            panel.progress = None
    return panel
