"""The UPR calendar: cycles, Working Group sessions, reviews (a State in a session), key dates.

Key dates belong to a session and apply to all of its States, unless `review_id` ties them to one
State. `source` says where a date came from: the shipped data file, derived from the usual timing
(`estimated` unless it is the Working Group review of a confirmed session), or entered by staff;
`flask calendar load` never overwrites staff dates. Once staff edit a session or its States in the
UI, `edited_by_staff_at` is set and the loader leaves that session's details and States alone.

All-day ranges store `starts_at` and `ends_at` as 00:00 Geneva time on the first and last day, both
included (an iCalendar DTEND is the day after `ends_at`).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from outreach.core.database import TimestampMixin, UTCDateTime
from outreach.extensions import db

KEY_DATE_KINDS = (
    "stakeholder_submission",
    "national_report",
    "pre_session_application",
    "pre_session_statement",
    "pre_session",
    "wg_review",
    "responses",
    "hrc_adoption",
    "mid_term_report",
)
KEY_DATE_LABELS = {
    "stakeholder_submission": "Stakeholder submissions deadline",
    "national_report": "National report due",
    "pre_session_application": "Pre-session applications deadline",
    "pre_session_statement": "Pre-session statements due",
    "pre_session": "Pre-sessions",
    "wg_review": "Working Group review",
    "responses": "State's responses to recommendations",
    "hrc_adoption": "HRC plenary adoption",
    "mid_term_report": "Mid-term report",
}
# Kinds that are deadlines for stakeholders (entry points that close), as opposed to events.
DEADLINE_KINDS = ("stakeholder_submission", "pre_session_application", "pre_session_statement")
SESSION_STATUSES = ("confirmed", "projected")
KEY_DATE_SOURCES = ("file", "derived", "staff")


class Cycle(db.Model):
    __tablename__ = "cycles"

    number: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    starts_on: Mapped[date | None]
    ends_on: Mapped[date | None]
    first_session: Mapped[int | None]
    last_session: Mapped[int | None]


class UPRSession(TimestampMixin, db.Model):
    __tablename__ = "upr_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(unique=True)
    cycle_number: Mapped[int | None] = mapped_column(ForeignKey("cycles.number"))
    wg_start: Mapped[date | None]
    wg_end: Mapped[date | None]
    location: Mapped[str] = mapped_column(String(200), default="Geneva")
    status: Mapped[str] = mapped_column(String(20), default="confirmed")
    notes: Mapped[str] = mapped_column(Text, default="")
    edited_by_staff_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    cycle: Mapped[Cycle | None] = relationship()
    reviews: Mapped[list[Review]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="Review.country_code"
    )
    key_dates: Mapped[list[KeyDate]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="KeyDate.starts_at"
    )

    @property
    def is_projected(self) -> bool:
        return self.status == "projected"

    @property
    def state_codes(self) -> list[str]:
        return [review.country_code for review in self.reviews]

    def __repr__(self) -> str:
        return f"<UPRSession {self.number}>"


class Review(TimestampMixin, db.Model):
    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("session_id", "country_code", name="uq_reviews_session_country"),
        Index("ix_reviews_country_session", "country_code", "session_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("upr_sessions.id", ondelete="CASCADE"))
    country_code: Mapped[str] = mapped_column(String(2))
    note: Mapped[str] = mapped_column(Text, default="")

    session: Mapped[UPRSession] = relationship(back_populates="reviews")
    key_dates: Mapped[list[KeyDate]] = relationship(
        back_populates="review", cascade="all, delete-orphan", order_by="KeyDate.starts_at"
    )


class KeyDate(TimestampMixin, db.Model):
    __tablename__ = "key_dates"
    __table_args__ = (Index("ix_key_dates_starts_at_kind", "starts_at", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("upr_sessions.id", ondelete="CASCADE"), index=True
    )
    review_id: Mapped[int | None] = mapped_column(
        ForeignKey("reviews.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    all_day: Mapped[bool] = mapped_column(default=False)
    estimated: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(10), default="staff")
    description: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(500), default="")

    session: Mapped[UPRSession] = relationship(back_populates="key_dates")
    review: Mapped[Review | None] = relationship(back_populates="key_dates")

    @property
    def label(self) -> str:
        return KEY_DATE_LABELS.get(self.kind, self.kind)

    @property
    def is_deadline(self) -> bool:
        return self.kind in DEADLINE_KINDS
