"""News feed sources and the items fetched from them.

`FeedSource` keeps the HTTP validators (ETag, Last-Modified) of its last fetch, so a poll of an
unchanged feed costs a 304, and its health: the last status and error, consecutive failures and
`flagged` once it keeps failing. `FeedItem` is unique per (source, guid): the entry id, else its
link, so re-polling a feed never stores an entry twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from outreach.core.database import TimestampMixin, UTCDateTime, utcnow
from outreach.extensions import db

FEED_LANGUAGES = ("en", "fr", "es")
DEFAULT_POLL_MINUTES = 60
FLAG_AFTER_FAILURES = 5


class FeedSource(TimestampMixin, db.Model):
    __tablename__ = "feed_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(2), default="en")
    countries: Mapped[list] = mapped_column(JSON, default=list)  # alpha-2 codes
    topics: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    poll_interval_minutes: Mapped[int] = mapped_column(default=DEFAULT_POLL_MINUTES)
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # "ok", "not_modified", "partial" (bozo feed: good entries kept) or "error".
    last_status: Mapped[str | None] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(Text)
    # Where the last fetch ended up when the server redirected it (None: no redirect).
    redirected_to: Mapped[str | None] = mapped_column(String(2000))
    failure_count: Mapped[int] = mapped_column(default=0)  # consecutive
    flagged: Mapped[bool] = mapped_column(default=False)

    items: Mapped[list[FeedItem]] = relationship(
        back_populates="source", cascade="all, delete-orphan", passive_deletes=True
    )


class FeedItem(db.Model):
    __tablename__ = "feed_items"
    __table_args__ = (UniqueConstraint("source_id", "guid", name="uq_feed_item_guid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(
        ForeignKey("feed_sources.id", ondelete="CASCADE"), index=True
    )
    guid: Mapped[str] = mapped_column(String(1000))
    title: Mapped[str] = mapped_column(String(1000), default="")
    link: Mapped[str] = mapped_column(String(2000), default="")
    summary: Mapped[str] = mapped_column(Text, default="")  # sanitised HTML
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    countries: Mapped[list] = mapped_column(JSON, default=list)  # tagged alpha-2 codes
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    source: Mapped[FeedSource] = relationship(back_populates="items")
