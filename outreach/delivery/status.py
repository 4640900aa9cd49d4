"""What the delivery engine is doing: queue depth per campaign, processes seen, recent send rate."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from outreach.campaigns.models import Campaign
from outreach.core.database import utcnow
from outreach.delivery.models import OUTBOX_STATUSES, OutboxMessage, WorkerHeartbeat

RATE_WINDOW = timedelta(minutes=5)
SEEN_WINDOW = timedelta(minutes=5)


@dataclass
class QueueLine:
    campaign_id: int | None
    label: str
    campaign_status: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTBOX_STATUSES, 0))


@dataclass
class DeliveryStatus:
    queues: list[QueueLine]
    processes: list[WorkerHeartbeat]
    sent_recently: int
    due_now: int

    @property
    def rate(self) -> float:
        """Messages per second over the last five minutes."""
        return self.sent_recently / RATE_WINDOW.total_seconds()


def delivery_status(session: Session, now: datetime | None = None) -> DeliveryStatus:
    now = now or utcnow()
    active = select(Campaign.id).where(Campaign.status.in_(("scheduled", "sending", "paused")))
    rows = session.execute(
        select(OutboxMessage.campaign_id, OutboxMessage.kind, OutboxMessage.status, func.count())
        .where(
            or_(
                OutboxMessage.campaign_id.in_(active),
                OutboxMessage.status.in_(("queued", "sending")),
            )
        )
        .group_by(OutboxMessage.campaign_id, OutboxMessage.kind, OutboxMessage.status)
    ).all()
    campaigns = {
        campaign.id: campaign
        for campaign in session.scalars(
            select(Campaign).where(
                or_(Campaign.id.in_(active), Campaign.id.in_({r[0] for r in rows if r[0]}))
            )
        )
    }
    lines: dict[tuple, QueueLine] = {}
    for campaign_id, campaign in campaigns.items():
        lines[(campaign_id, "campaign")] = QueueLine(campaign_id, campaign.name, campaign.status)
    for campaign_id, kind, status, count in rows:
        key = (campaign_id, kind)
        if key not in lines:
            lines[key] = QueueLine(None, f"{kind} messages", "")
        lines[key].counts[status] = count
    processes = session.scalars(
        select(WorkerHeartbeat)
        .where(WorkerHeartbeat.seen_at >= now - SEEN_WINDOW)
        .order_by(WorkerHeartbeat.role, WorkerHeartbeat.name)
    ).all()
    sent_recently = session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.status == "sent", OutboxMessage.sent_at >= now - RATE_WINDOW)
    )
    due_now = session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.status == "queued", OutboxMessage.next_attempt_at <= now)
    )
    ordered = sorted(lines.values(), key=lambda line: (line.campaign_id is None, line.campaign_id))
    return DeliveryStatus(ordered, list(processes), sent_recently or 0, due_now or 0)
