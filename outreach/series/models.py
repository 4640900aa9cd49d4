"""Recurring newsletter series and their editions.

A `Series` sends a newsletter written from the calendar and the news feeds at each occurrence of
its recurrence (an iCalendar RRULE in local wall-clock time, so 09:00 stays 09:00 across daylight
saving). `SeriesEdition` is one occurrence: unique per (series, occurrence), which is what keeps
two schedulers from drafting the same edition twice. An edition points at the campaign drafted
for it, or is `skipped` (nothing to announce, or the series was paused) with the reason.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from outreach.auth.models import User
from outreach.campaigns.models import Campaign
from outreach.core.database import TimestampMixin, UTCDateTime
from outreach.extensions import db
from outreach.segments.models import Segment

SERIES_MODES = {"review": "Draft for review", "auto": "Send automatically"}
SERIES_STATUSES = ("active", "paused")
# awaiting_review: a draft waits for an editor; scheduled: approved (or automatic), the campaign
# is scheduled; skipped: nothing was drafted (see `note`).
EDITION_STATUSES = ("awaiting_review", "scheduled", "skipped")
SERIES_TIMEZONE = "Europe/Zurich"  # Geneva time

series_segments = Table(
    "series_segments",
    db.metadata,
    Column("series_id", ForeignKey("series.id", ondelete="CASCADE"), primary_key=True),
    Column("segment_id", ForeignKey("segments.id", ondelete="RESTRICT"), primary_key=True),
)

series_editors = Table(
    "series_editors",
    db.metadata,
    Column("series_id", ForeignKey("series.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class Series(TimestampMixin, db.Model):
    __tablename__ = "series"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    languages: Mapped[list] = mapped_column(JSON, default=list)  # "en", "fr", "es"
    rrule: Mapped[str] = mapped_column(String(500))  # e.g. FREQ=MONTHLY;BYDAY=1MO;BYHOUR=9
    starts_on: Mapped[date]  # the recurrence's first possible day (DTSTART)
    timezone: Mapped[str] = mapped_column(String(64), default=SERIES_TIMEZONE)
    lead_days: Mapped[int] = mapped_column(default=3)  # drafted this long before sending
    horizon_weeks: Mapped[int] = mapped_column(default=6)  # deadlines and sessions ahead
    news_days: Mapped[int] = mapped_column(default=14)  # news items published this far back
    mode: Mapped[str] = mapped_column(String(10), default="review")
    status: Mapped[str] = mapped_column(String(10), default="active")
    intro: Mapped[dict] = mapped_column(JSON, default=dict)  # language -> Markdown
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    segments: Mapped[list[Segment]] = relationship(secondary=series_segments)
    editors: Mapped[list[User]] = relationship(secondary=series_editors)
    editions: Mapped[list[SeriesEdition]] = relationship(
        back_populates="series",
        cascade="all, delete-orphan",
        order_by="SeriesEdition.occurrence_at.desc()",
    )

    @property
    def is_paused(self) -> bool:
        return self.status == "paused"


class SeriesEdition(TimestampMixin, db.Model):
    __tablename__ = "series_editions"
    __table_args__ = (
        UniqueConstraint("series_id", "occurrence_at", name="uq_series_edition_occurrence"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    occurrence_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when it is sent
    status: Mapped[str] = mapped_column(String(20), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    series: Mapped[Series] = relationship(back_populates="editions")
    campaign: Mapped[Campaign | None] = relationship()
