"""What recipients did with a campaign (clicks, opens), its subject test, and webhook notices."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from outreach.core.database import UTCDateTime, utcnow
from outreach.extensions import db

AB_METRICS = ("clicks", "opens")


class CampaignLink(db.Model):
    """A distinct http(s) link of a campaign's content, registered when its messages are made."""

    __tablename__ = "campaign_links"
    __table_args__ = (UniqueConstraint("campaign_id", "url", name="uq_campaign_link_url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Click(db.Model):
    __tablename__ = "clicks"

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    link_id: Mapped[int] = mapped_column(
        ForeignKey("campaign_links.id", ondelete="CASCADE"), index=True
    )
    clicked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Open(db.Model):
    __tablename__ = "opens"

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SubjectTest(db.Model):
    """An A/B test of subjects: per language two or more subjects, each sent to an equal part of
    `share_percent` of that language's recipients; the rest are held until a winner is chosen."""

    __tablename__ = "subject_tests"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), unique=True
    )
    # {"en": ["Subject A", "Subject B"], ...}
    subjects: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    share_percent: Mapped[int] = mapped_column(default=20)
    wait_hours: Mapped[int] = mapped_column(default=4)
    metric: Mapped[str] = mapped_column(String(10), default="clicks")
    auto_pick: Mapped[bool] = mapped_column(default=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # {"en": 1, ...}: the winning subject's index per language, once chosen.
    winners: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str] = mapped_column(String(20), default="")


class WebhookNotice(db.Model):
    """A provider message staff must see: an SNS subscription to confirm, or an ignored event."""

    __tablename__ = "webhook_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(40))
    topic: Mapped[str] = mapped_column(String(300), default="")
    confirm_url: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
