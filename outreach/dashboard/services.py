"""What the dashboard shows: deadlines, live campaigns, subscriber changes, delivery health.

Each function takes the session first and runs a handful of grouped queries; nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from outreach.alerts.services import follower_counts
from outreach.calendar.models import DEADLINE_KINDS, KeyDate, UPRSession
from outreach.campaigns import reports
from outreach.campaigns.models import Campaign
from outreach.contacts.models import Contact, Organisation
from outreach.core.database import utcnow
from outreach.delivery.models import Bounce, OutboxMessage
from outreach.segments.models import Segment
from outreach.subscriptions.models import Subscription, Suppression

DEADLINE_DAYS = 30
RECENT_DAYS = 30
HEALTH_DAYS = 7
RECENT_SHOWN = 5
STATES_SHOWN = 8
DASHBOARD_CAMPAIGN_STATUSES = ("scheduled", "sending", "paused")


@dataclass
class UpcomingDeadline:
    key_date: KeyDate
    states: list[str]
    followers: int


@dataclass
class LiveCampaign:
    campaign: Campaign
    progress: reports.Progress


@dataclass
class SubscriberChanges:
    subscribed: int
    unsubscribed: int
    latest_subscribed: list[Subscription] = field(default_factory=list)
    latest_unsubscribed: list[Subscription] = field(default_factory=list)


@dataclass
class DeliveryHealth:
    days: int
    sent: int
    failed: int
    bounces: int
    suppressed_recent: int
    suppressed_before: int
    suppressed_total: int

    @property
    def failure_percent(self) -> float:
        done = self.sent + self.failed
        return round(self.failed * 100 / done, 1) if done else 0.0

    @property
    def suppression_growth(self) -> int:
        """Suppressions added in the last period minus those of the period before."""
        return self.suppressed_recent - self.suppressed_before


def registry_counts(session: Session) -> dict[str, int]:
    def count(column, *where) -> int:
        return session.scalar(select(func.count(column)).where(*where)) or 0

    return {
        "contacts": count(Contact.id),
        "active": count(Contact.id, Contact.status == "active"),
        "organisations": count(Organisation.id),
        "segments": count(Segment.id),
        "sessions": count(UPRSession.id),
    }


def _states(key_date: KeyDate) -> list[str]:
    """The States a key date concerns: its own, or every State of its session."""
    if key_date.review is not None:
        return [key_date.review.country_code]
    return sorted(review.country_code for review in key_date.session.reviews)


def upcoming_deadlines(
    session: Session, now: datetime | None = None, days: int = DEADLINE_DAYS
) -> list[UpcomingDeadline]:
    """Deadlines closing in the next `days` days, soonest first, with States and followers."""
    now = now or utcnow()
    key_dates = session.scalars(
        select(KeyDate)
        .where(KeyDate.kind.in_(DEADLINE_KINDS))
        .where(KeyDate.starts_at >= now, KeyDate.starts_at <= now + timedelta(days=days))
        .options(
            selectinload(KeyDate.review),
            selectinload(KeyDate.session).selectinload(UPRSession.reviews),
        )
        .order_by(KeyDate.starts_at, KeyDate.id)
    ).all()
    followers = follower_counts(session, [kd.id for kd in key_dates], now)
    return [UpcomingDeadline(kd, _states(kd), followers.get(kd.id, 0)) for kd in key_dates]


def live_campaigns(session: Session, now: datetime | None = None) -> list[LiveCampaign]:
    """Campaigns scheduled, sending or paused: sending first, then by scheduled time."""
    campaigns = session.scalars(
        select(Campaign)
        .where(Campaign.status.in_(DASHBOARD_CAMPAIGN_STATUSES))
        .order_by(Campaign.scheduled_at, Campaign.id)
    ).all()
    order = {status: rank for rank, status in enumerate(("sending", "paused", "scheduled"))}
    campaigns = sorted(campaigns, key=lambda c: order[c.status])
    progress = reports.progress_many(session, campaigns, now)
    return [LiveCampaign(c, progress[c.id]) for c in campaigns]


def subscriber_changes(
    session: Session, now: datetime | None = None, days: int = RECENT_DAYS
) -> SubscriberChanges:
    since = (now or utcnow()) - timedelta(days=days)

    def recent(column):
        stmt = select(Subscription).where(column >= since)
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        latest = session.scalars(
            stmt.options(selectinload(Subscription.contact))
            .order_by(column.desc(), Subscription.contact_id.desc())
            .limit(RECENT_SHOWN)
        ).all()
        return total, list(latest)

    subscribed, latest_subscribed = recent(Subscription.confirmed_at)
    unsubscribed, latest_unsubscribed = recent(Subscription.unsubscribed_at)
    return SubscriberChanges(subscribed, unsubscribed, latest_subscribed, latest_unsubscribed)


def delivery_health(
    session: Session, now: datetime | None = None, days: int = HEALTH_DAYS
) -> DeliveryHealth:
    """Sent and failed messages, bounces and new suppressions over the last `days` days."""
    now = now or utcnow()
    since = now - timedelta(days=days)
    outcomes = dict(
        session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.status.in_(("sent", "failed")), OutboxMessage.updated_at >= since)
            .group_by(OutboxMessage.status)
        ).all()
    )

    def suppressions(start, end=None) -> int:
        stmt = select(func.count(Suppression.id))
        if start is not None:
            stmt = stmt.where(Suppression.created_at >= start)
        if end is not None:
            stmt = stmt.where(Suppression.created_at < end)
        return session.scalar(stmt) or 0

    return DeliveryHealth(
        days=days,
        sent=outcomes.get("sent", 0),
        failed=outcomes.get("failed", 0),
        bounces=session.scalar(select(func.count(Bounce.id)).where(Bounce.created_at >= since))
        or 0,
        suppressed_recent=suppressions(since),
        suppressed_before=suppressions(since - timedelta(days=days), since),
        suppressed_total=suppressions(None),
    )


def campaigns_progress(session: Session, campaign_ids: list[int]) -> list[dict]:
    """Progress of the given campaigns for the dashboard's poll (unknown ids are left out)."""
    if not campaign_ids:
        return []
    campaigns = session.scalars(select(Campaign).where(Campaign.id.in_(campaign_ids))).all()
    progress = reports.progress_many(session, campaigns)
    return [
        {"id": campaign.id, **progress[campaign.id].as_dict()}
        for campaign in sorted(campaigns, key=lambda c: c.id)
    ]
