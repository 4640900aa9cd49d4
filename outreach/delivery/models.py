"""The outbox: one row per message to send. Rows are the truth.

A worker claims a batch (status `sending`, `claimed_by`, `claimed_at`), sends it and writes each
row's outcome. A worker killed mid-batch leaves its rows `sending`; once their claim is older than
the lease they are queued again, so at most that batch can be sent twice and nothing is lost.
Campaign rows are unique per (campaign, contact). Alerts and digests use the same table with
`kind` and no campaign.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from outreach.core.database import UTCDateTime, utcnow
from outreach.extensions import db

OUTBOX_STATUSES = ("queued", "sending", "sent", "failed", "skipped")
# Rows of a subject test wait as "held" until it chooses their subject (engagement.subject_tests).
UNSENT = ("queued", "held")  # rows that will still be sent unless something stops them
OUTBOX_KINDS = ("campaign", "alert", "digest", "notice")
BOUNCE_KINDS = ("hard", "soft", "complaint", "unknown")


class OutboxMessage(db.Model):
    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("campaign_id", "contact_id", name="uq_outbox_campaign_contact"),
        Index("ix_outbox_due", "status", "next_attempt_at", "id"),
        Index("ix_outbox_campaign_status", "campaign_id", "status"),
        Index("ix_outbox_campaign_sent_at", "campaign_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="campaign")
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    # The address and language when the row was made; the contact may change or be erased later.
    email: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(2), default="en")
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    smtp_code: Mapped[int | None]
    smtp_reply: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str | None] = mapped_column(String(255), index=True)
    # What a non-campaign message is about (alert: key date ids; digest: the week); rendered when
    # sent, so a deadline moved since shows its current date.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Bounce(db.Model):
    """A delivery status notification or complaint, matched to an outbox row when possible."""

    __tablename__ = "bounces"

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox.id", ondelete="SET NULL"), index=True
    )
    email_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(20), default="unknown")
    action: Mapped[str] = mapped_column(String(20), default="")
    status_code: Mapped[str] = mapped_column(String(20), default="")
    diagnostic: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(30), default="mailbox")
    # Why a message could not be matched or parsed, kept instead of dropping it.
    problem: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkerHeartbeat(db.Model):
    """Workers and schedulers seen recently (for `flask delivery status` and health pages)."""

    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), default="worker")
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_total: Mapped[int] = mapped_column(default=0)
    note: Mapped[str] = mapped_column(Text, default="")


class SchedulerLock(db.Model):
    """A named lease held by one scheduler at a time (SQLite; PostgreSQL uses advisory locks)."""

    __tablename__ = "scheduler_locks"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BounceRun(db.Model):
    """One pass over the bounce mailboxes: what it has done so far, committed with each batch."""

    __tablename__ = "bounce_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    sources: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(20), default="running")
    messages_done: Mapped[int] = mapped_column(default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
