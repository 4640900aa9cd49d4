"""The stakeholder registry: organisations and contacts.

A contact's countries of work live in `contact_countries`, which always includes the primary
country too (flagged `is_primary`), so every "works on country X" question is one indexed lookup.
`Contact.country_code` repeats the primary country for display and sorting.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from outreach.core.database import TimestampMixin, UTCDateTime, utcnow
from outreach.extensions import db

CONTACT_TYPES = (
    "ngo",
    "nhri",
    "permanent_mission",
    "un_entity",
    "regional_org",
    "academic",
    "media",
    "other",
)
CONTACT_TYPE_LABELS = {
    "ngo": "NGO",
    "nhri": "NHRI",
    "permanent_mission": "Permanent mission",
    "un_entity": "UN entity",
    "regional_org": "Regional organisation",
    "academic": "Academic",
    "media": "Media",
    "other": "Other",
}
LANGUAGES = ("en", "fr", "es")
LANGUAGE_LABELS = {"en": "English", "fr": "Français", "es": "Español"}
STATUSES = ("active", "inactive", "blocklisted")
GANHRI_ACCREDITATIONS = ("A", "B", "none")


class Organisation(TimestampMixin, db.Model):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    name_key: Mapped[str] = mapped_column(String(300), unique=True)
    type: Mapped[str] = mapped_column(String(30), default="ngo", index=True)
    # Primary country; for a permanent mission, the State it represents.
    country_code: Mapped[str | None] = mapped_column(String(2), index=True)
    ecosoc_status: Mapped[bool] = mapped_column(default=False)
    ganhri_accreditation: Mapped[str | None] = mapped_column(String(4))
    website: Mapped[str] = mapped_column(String(500), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)

    contacts: Mapped[list[Contact]] = relationship(back_populates="organisation")

    def __repr__(self) -> str:
        return f"<Organisation {self.name}>"


class Contact(TimestampMixin, db.Model):
    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_status_type", "status", "type"),
        Index("ix_contacts_name", "last_name", "first_name", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    # SHA-256 of email_key, set with it; compared with the suppression list in SQL.
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    first_name: Mapped[str] = mapped_column(String(150), default="")
    last_name: Mapped[str] = mapped_column(String(150), default="")
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    type: Mapped[str] = mapped_column(String(30), default="other")
    role_title: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(2), default="en", index=True)
    country_code: Mapped[str | None] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(20), default="active")
    notes: Mapped[str] = mapped_column(Text, default="")

    organisation: Mapped[Organisation | None] = relationship(back_populates="contacts")
    country_links: Mapped[list[ContactCountry]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="ContactCountry.country_code"
    )
    topic_links: Mapped[list[ContactTopic]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="ContactTopic.topic"
    )

    @validates("email_key")
    def _hash_key(self, _name: str, key: str) -> str:
        from outreach.contacts.validation import hash_email_key

        self.email_hash = hash_email_key(key)
        return key

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def countries(self) -> list[str]:
        """Countries of work other than the primary one."""
        return [link.country_code for link in self.country_links if not link.is_primary]

    @property
    def all_countries(self) -> list[str]:
        return [link.country_code for link in self.country_links]

    @property
    def topics(self) -> list[str]:
        return [link.topic for link in self.topic_links]

    def __repr__(self) -> str:
        return f"<Contact {self.email}>"


class ContactCountry(db.Model):
    __tablename__ = "contact_countries"
    __table_args__ = (Index("ix_contact_countries_country_contact", "country_code", "contact_id"),)

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    country_code: Mapped[str] = mapped_column(String(2), primary_key=True)
    is_primary: Mapped[bool] = mapped_column(default=False)


class ContactTopic(db.Model):
    __tablename__ = "contact_topics"
    __table_args__ = (Index("ix_contact_topics_topic_contact", "topic", "contact_id"),)

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(80), primary_key=True)


IMPORT_JOB_STATUSES = ("queued", "running", "done", "failed")


class ImportJob(db.Model):
    """A CSV import run in the background: the file, its progress and, once done, its report.

    The file is kept in the database (so any web or scheduler process can read it) until the
    job ends; `rows_done` is committed with each chunk, so a job taken over after a crash
    resumes after the last committed row.
    """

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255), default="")
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    dry_run: Mapped[bool] = mapped_column(default=False)
    strict: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    rows_total: Mapped[int | None]
    rows_done: Mapped[int] = mapped_column(default=0)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        if not self.rows_total:
            return 0
        return min(99, self.rows_done * 100 // self.rows_total)

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")
