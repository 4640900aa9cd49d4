"""Rows as JSON-ready dicts; the shapes match the schemas in `openapi`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from outreach.calendar.models import KeyDate, Review, UPRSession
from outreach.campaigns.models import Campaign
from outreach.contacts.models import Contact
from outreach.delivery.models import OutboxMessage
from outreach.segments.models import Segment


def iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def contact(row: Contact) -> dict[str, Any]:
    org = row.organisation
    return {
        "id": row.id,
        "email": row.email,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "organisation": {"id": org.id, "name": org.name} if org is not None else None,
        "type": row.type,
        "role_title": row.role_title,
        "language": row.language,
        "country": row.country_code,
        "countries": row.countries,
        "topics": row.topics,
        "status": row.status,
        "notes": row.notes,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def key_date(row: KeyDate, states: list[str] | None = None) -> dict[str, Any]:
    out = {
        "id": row.id,
        "kind": row.kind,
        "session": row.session.number,
        "country": row.review.country_code if row.review is not None else None,
        "starts_at": iso(row.starts_at),
        "ends_at": iso(row.ends_at),
        "all_day": row.all_day,
        "estimated": row.estimated,
        "description": row.description,
        "url": row.url,
    }
    if states is not None:
        out["states"] = states
    return out


def session_summary(row: UPRSession) -> dict[str, Any]:
    return {
        "number": row.number,
        "cycle": row.cycle_number,
        "wg_start": iso(row.wg_start),
        "wg_end": iso(row.wg_end),
        "location": row.location,
        "status": row.status,
        "notes": row.notes,
    }


def review(row: Review) -> dict[str, Any]:
    return {
        "country": row.country_code,
        "note": row.note,
        "key_dates": [key_date(item) for item in row.key_dates],
    }


def session_detail(row: UPRSession) -> dict[str, Any]:
    return {
        **session_summary(row),
        "reviews": [review(item) for item in sorted(row.reviews, key=lambda r: r.country_code)],
        "key_dates": [key_date(item) for item in row.key_dates if item.review_id is None],
    }


def segment(row: Segment, count: int | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "filters": row.filters,
        "count": count,
        "created_at": iso(row.created_at),
    }


def campaign(row: Campaign, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "topic": row.topic,
        "status": row.status,
        "status_reason": row.status_reason,
        "sender_name": row.sender_name,
        "sender_email": row.sender_email,
        "reply_to": row.reply_to,
        "default_language": row.default_language,
        "session_id": row.session_id,
        "public": row.public,
        "segment_ids": [item.id for item in row.segments],
        "variants": [
            {"language": v.language, "subject": v.subject, "body_markdown": v.body_markdown}
            for v in row.variants
        ],
        "scheduled_at": iso(row.scheduled_at),
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
        "counts": {name: counts.get(name, 0) for name in ("queued", "sent", "failed", "skipped")},
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def recipient(row: OutboxMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "contact_id": row.contact_id,
        "email": row.email,
        "language": row.language,
        "status": row.status,
        "attempts": row.attempts,
        "sent_at": iso(row.sent_at),
        "smtp_reply": row.smtp_reply,
    }
