"""Self-service subscriptions, the consent log and the suppression list.

A contact without a `Subscription` row was added by staff (form, import, API) and receives every
topic. A contact with one manages it through the public pages: only a confirmed, unpaused
subscription receives mail, and only for the topics it chose. The suppression list overrides
everything: it holds a SHA-256 of the normalised address, so it still protects an address after its
contact is erased.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from outreach.contacts.models import Contact
from outreach.core.database import TimestampMixin, UTCDateTime, utcnow
from outreach.extensions import db

TOPICS = ("newsletter", "deadline_alerts", "pre_session", "digest")
SUBSCRIPTION_STATUSES = ("pending", "confirmed", "unsubscribed")
ALERT_FREQUENCIES = ("immediate", "weekly", "none")
CONSENT_ACTIONS = (
    "subscribe",
    "confirm",
    "preference_change",
    "unsubscribe",
    "erase",
    "import",
    "resubscribe",
    "suppress",
    "unsuppress",
)
CONSENT_SOURCES = ("form", "api", "import", "staff", "email")
SUPPRESSION_REASONS = ("unsubscribed", "hard_bounce", "complaint", "staff", "erased")


class Subscription(TimestampMixin, db.Model):
    __tablename__ = "subscriptions"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    # True: every upcoming session; False: only the sessions in `session_links`.
    all_sessions: Mapped[bool] = mapped_column(default=True)
    alert_frequency: Mapped[str] = mapped_column(String(20), default="immediate")
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped whenever a confirmation link is issued; a link carries the nonce it was issued with.
    confirm_nonce: Mapped[int] = mapped_column(default=0)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    privacy_notice_version: Mapped[str] = mapped_column(String(40), default="")

    contact: Mapped[Contact] = relationship(
        backref=db.backref(
            "subscription", uselist=False, cascade="all, delete-orphan", passive_deletes=True
        )
    )
    topic_links: Mapped[list[SubscriptionTopic]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="SubscriptionTopic.topic"
    )
    session_links: Mapped[list[SubscriptionSession]] = relationship(
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="SubscriptionSession.session_number",
    )

    @property
    def topics(self) -> list[str]:
        return [link.topic for link in self.topic_links]

    @property
    def session_numbers(self) -> list[int]:
        return [link.session_number for link in self.session_links]

    def is_paused(self, now: datetime | None = None) -> bool:
        return self.paused_until is not None and self.paused_until > (now or utcnow())

    def receives(self, topic: str, now: datetime | None = None) -> bool:
        return self.status == "confirmed" and topic in self.topics and not self.is_paused(now)


class SubscriptionTopic(db.Model):
    __tablename__ = "subscription_topics"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.contact_id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(30), primary_key=True)


class SubscriptionSession(db.Model):
    __tablename__ = "subscription_sessions"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.contact_id", ondelete="CASCADE"), primary_key=True
    )
    session_number: Mapped[int] = mapped_column(primary_key=True)


class ConsentRecord(db.Model):
    """Append-only: never updated; erasing a contact keeps its events, without the address."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(20))
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(400), default="")
    privacy_notice_version: Mapped[str] = mapped_column(String(40), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Suppression(db.Model):
    __tablename__ = "suppressions"
    __table_args__ = (Index("ix_suppressions_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The address itself, for staff to read; cleared when the contact is erased.
    email: Mapped[str | None] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
