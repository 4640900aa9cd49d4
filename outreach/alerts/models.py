"""Deadline alerts and weekly digests.

`AlertRule`: alert N days before key dates of a kind (Geneva local dates). `AlertRecord` is the
idempotency key: one row per (contact, key date, days before), written in the same transaction as
the outbox row that carries the alert, so a re-run, a restart or two schedulers never alert twice.
`deadline_at` keeps the date the alert announced, to find who must hear that a deadline moved.
`DigestRecord` does the same for one digest per contact per ISO week.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from outreach.calendar.models import KeyDate
from outreach.core.database import UTCDateTime, utcnow
from outreach.extensions import db

DEFAULT_RULES = {
    "stakeholder_submission": (30, 14, 7, 1),
    "pre_session_application": (30, 14, 7, 1),
    "pre_session_statement": (30, 14, 7, 1),
}


class AlertRule(db.Model):
    __tablename__ = "alert_rules"
    __table_args__ = (UniqueConstraint("kind", "days_before", name="uq_alert_rule"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    days_before: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlertRecord(db.Model):
    __tablename__ = "alert_records"
    __table_args__ = (
        UniqueConstraint("contact_id", "key_date_id", "days_before", name="uq_alert_record"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    key_date_id: Mapped[int] = mapped_column(
        ForeignKey("key_dates.id", ondelete="CASCADE"), index=True
    )
    days_before: Mapped[int]
    # The deadline as announced; differs from the key date's when staff have moved it since.
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    change_notice_outbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    key_date: Mapped[KeyDate] = relationship()


class DigestRecord(db.Model):
    __tablename__ = "digest_records"
    __table_args__ = (UniqueConstraint("contact_id", "period", name="uq_digest_record"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    # ISO week, e.g. "2026-W48".
    period: Mapped[str] = mapped_column(String(10))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
