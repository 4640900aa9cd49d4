"""Saved audiences: a named filter over contacts, evaluated in SQL each time it is used."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from outreach.core.database import TimestampMixin
from outreach.extensions import db


class Segment(TimestampMixin, db.Model):
    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # {"types": [...], "countries": [...], "session_under_review": 36, "languages": [...],
    #  "topics": [...], "statuses": [...], "organisation_ids": [...]}
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
