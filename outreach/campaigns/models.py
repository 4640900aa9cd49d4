"""Campaigns: a newsletter in one or more languages, sent to the union of some segments.

Lifecycle (enforced in `services.transition`):
draft -> scheduled -> sending -> sent; sending <-> paused; draft/scheduled/paused -> cancelled;
scheduled -> draft (unschedule); sending -> failed. Content is locked once sending starts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, Text, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from outreach.core.database import TimestampMixin, UTCDateTime
from outreach.extensions import db
from outreach.segments.models import Segment

CAMPAIGN_TOPICS = ("newsletter", "pre_session", "deadline_alert", "other")
CAMPAIGN_TOPIC_LABELS = {
    "newsletter": "Newsletter",
    "pre_session": "Pre-session",
    "deadline_alert": "Deadline alert",
    "other": "Other",
}
# The subscription topic a campaign topic is sent to (subscribers choose these on the public form).
SUBSCRIPTION_TOPIC = {
    "newsletter": "newsletter",
    "pre_session": "pre_session",
    "deadline_alert": "deadline_alerts",
    "other": "newsletter",
}
CAMPAIGN_STATUSES = ("draft", "scheduled", "sending", "paused", "sent", "cancelled", "failed")
EDITABLE_STATUSES = ("draft", "scheduled")

campaign_segments = Table(
    "campaign_segments",
    db.metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("segment_id", ForeignKey("segments.id", ondelete="RESTRICT"), primary_key=True),
)


class Campaign(TimestampMixin, db.Model):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(30), default="newsletter")
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    sender_email: Mapped[str] = mapped_column(String(320), default="")
    reply_to: Mapped[str] = mapped_column(String(320), default="")
    default_language: Mapped[str] = mapped_column(String(2), default="en")
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    # The UPR session its merge fields speak of (optional).
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("upr_sessions.id", ondelete="SET NULL")
    )
    public: Mapped[bool] = mapped_column(default=False)
    # Engagement tracking (each also needs the global TRACK_CLICKS / TRACK_OPENS setting).
    track_clicks: Mapped[bool] = mapped_column(default=True, server_default=true())
    track_opens: Mapped[bool] = mapped_column(default=False, server_default=false())
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the outbox rows for every recipient exist (enqueueing resumes after a crash).
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    variants: Mapped[list[CampaignVariant]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="CampaignVariant.language"
    )
    segments: Mapped[list[Segment]] = relationship(secondary=campaign_segments)

    def variant(self, language: str | None) -> CampaignVariant | None:
        """The variant for `language`, else the default language's, else the first."""
        by_language = {variant.language: variant for variant in self.variants}
        return (
            by_language.get(language or "")
            or by_language.get(self.default_language)
            or (self.variants[0] if self.variants else None)
        )

    @property
    def subscription_topic(self) -> str:
        return SUBSCRIPTION_TOPIC.get(self.topic, "newsletter")

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE_STATUSES


class CampaignVariant(TimestampMixin, db.Model):
    __tablename__ = "campaign_variants"
    __table_args__ = (UniqueConstraint("campaign_id", "language", name="uq_variant_language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(2))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body_markdown: Mapped[str] = mapped_column(Text, default="")

    campaign: Mapped[Campaign] = relationship(back_populates="variants")
