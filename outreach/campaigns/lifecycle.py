"""The campaign state machine. Every change goes through `transition`, which refuses illegal moves
with a clear message, and the moves that processes race for (start, finish) are conditional UPDATEs:
two schedulers or workers never both win.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from outreach.audit.services import record
from outreach.auth.permissions import require_role
from outreach.campaigns.models import Campaign
from outreach.core.database import utcnow
from outreach.core.errors import ServiceError
from outreach.core.timezones import to_local
from outreach.delivery.models import OutboxMessage

TRANSITIONS = {
    "draft": {"scheduled", "cancelled"},
    "scheduled": {"draft", "sending", "cancelled"},
    "sending": {"paused", "sent", "failed"},
    "paused": {"sending", "cancelled", "failed"},
    "sent": set(),
    "cancelled": set(),
    "failed": set(),
}
# "A paused campaign cannot be <participle>."
PARTICIPLES = {
    "scheduled": "scheduled",
    "draft": "returned to draft",
    "sending": "sent",
    "paused": "paused",
    "cancelled": "cancelled",
    "sent": "marked sent",
    "failed": "marked failed",
}


def can(campaign: Campaign, target: str) -> bool:
    return target in TRANSITIONS.get(campaign.status, set())


def transition(campaign: Campaign, target: str, reason: str = "") -> None:
    if not can(campaign, target):
        raise ServiceError(
            f"A {campaign.status} campaign cannot be {PARTICIPLES.get(target, target)}.",
            {"status": campaign.status},
            code="illegal_transition",
        )
    campaign.status = target
    campaign.status_reason = reason


def _audit(session: Session, campaign: Campaign, action: str, summary: str) -> None:
    record(session, f"campaign.{action}", "campaign", campaign.id, f"“{campaign.name}”: {summary}",
           {"status": campaign.status})


def check_ready(session: Session, campaign: Campaign) -> None:
    """Refuse to schedule or send a campaign that cannot go out as it stands."""
    from outreach.campaigns.validation import validate_campaign

    validate_campaign(session, campaign)


def schedule(session: Session, campaign: Campaign, send_at: datetime, now: datetime | None = None):
    """Schedule for `send_at` (aware datetime). Refused in the past or when not ready."""
    require_role("editor")
    now = now or utcnow()
    if send_at.tzinfo is None:
        raise ValueError("send_at must be timezone-aware")
    if send_at <= now:
        raise ServiceError(
            f"{to_local(send_at):%d %b %Y %H:%M} (Geneva) is in the past; choose a later time.",
            {"send_at": "This time is in the past."},
        )
    check_ready(session, campaign)
    transition(campaign, "scheduled")
    campaign.scheduled_at = send_at
    session.flush()
    _audit(session, campaign, "schedule", f"scheduled for {to_local(send_at):%d %b %Y %H:%M}")


def send_now(session: Session, campaign: Campaign, now: datetime | None = None) -> None:
    """Schedule for right now: the scheduler (or `flask delivery send-due`) starts it."""
    require_role("editor")
    check_ready(session, campaign)
    transition(campaign, "scheduled")
    campaign.scheduled_at = now or utcnow()
    session.flush()
    _audit(session, campaign, "send_now", "sent now")


def unschedule(session: Session, campaign: Campaign) -> None:
    require_role("editor")
    transition(campaign, "draft")
    campaign.scheduled_at = None
    session.flush()
    _audit(session, campaign, "unschedule", "back to draft")


def pause(session: Session, campaign: Campaign, reason: str = "Paused by staff") -> None:
    require_role("editor")
    transition(campaign, "paused", reason)
    session.flush()
    _audit(session, campaign, "pause", reason)


def resume(session: Session, campaign: Campaign) -> None:
    """paused -> sending; a draft must not jump to sending past scheduling and its checks."""
    if campaign.status != "paused":
        raise ServiceError(
            f"A {campaign.status} campaign cannot be resumed; only a paused campaign can.",
            {"status": campaign.status},
            code="illegal_transition",
        )
    require_role("editor")
    transition(campaign, "sending")
    session.flush()
    _audit(session, campaign, "resume", "sending again")


def cancel(session: Session, campaign: Campaign, reason: str = "Cancelled by staff") -> None:
    """Cancel; messages not yet sent are marked skipped."""
    require_role("editor")
    transition(campaign, "cancelled", reason)
    campaign.finished_at = utcnow()
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.campaign_id == campaign.id,
            OutboxMessage.status.in_(("queued", "held")),
        )
        .values(status="skipped", smtp_reply="campaign cancelled", updated_at=utcnow())
    )
    session.flush()
    _audit(session, campaign, "cancel", reason)


def claim_start(session: Session, campaign_id: int, now: datetime | None = None) -> bool:
    """scheduled -> sending for a due campaign; True only for the one caller that wins the race."""
    now = now or utcnow()
    result = session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.status == "scheduled",
            Campaign.scheduled_at <= now,
        )
        .values(status="sending", started_at=now, status_reason="")
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def due_campaign_ids(session: Session, now: datetime | None = None) -> list[int]:
    now = now or utcnow()
    return list(
        session.scalars(
            select(Campaign.id)
            .where(Campaign.status == "scheduled", Campaign.scheduled_at <= now)
            .order_by(Campaign.scheduled_at, Campaign.id)
        )
    )


def finish_if_done(session: Session, campaign_id: int, now: datetime | None = None) -> bool:
    """sending -> sent once every row is enqueued and none is queued, held or being sent."""
    pending = exists().where(
        OutboxMessage.campaign_id == campaign_id,
        OutboxMessage.status.in_(("queued", "sending", "held")),
    )
    result = session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.status == "sending",
            Campaign.enqueued_at.is_not(None),
            ~pending,
        )
        .values(status="sent", finished_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def fail(session: Session, campaign: Campaign, reason: str) -> None:
    transition(campaign, "failed", reason)
    campaign.finished_at = utcnow()
    session.flush()
