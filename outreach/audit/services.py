"""Record changes and read them back with filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from outreach.audit.models import AuditEntry
from outreach.auth.permissions import acting_user
from outreach.core.timezones import local_date_at

OBJECT_TYPES = (
    "contact",
    "organisation",
    "campaign",
    "segment",
    "session",
    "review",
    "key_date",
    "user",
    "suppression",
    "import",
)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple | set):
        return sorted(_plain(v) for v in value)
    return value


def snapshot(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """The JSON-safe values of `fields` on `obj`, to diff before and after a change."""
    return {name: _plain(getattr(obj, name, None)) for name in fields}


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """`{field: [old, new]}` for every field whose value changed."""
    return {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}


def record(
    session: Session,
    action: str,
    object_type: str,
    object_id: Any = None,
    summary: str = "",
    changes: dict[str, Any] | None = None,
    actor: Any | None = None,
) -> AuditEntry:
    """Add an audit entry for the acting user (the signed-in one unless `actor` is given)."""
    actor = actor if actor is not None else acting_user()
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        actor_email=getattr(actor, "email", "") or "",
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        summary=summary[:500],
        changes=changes or None,
    )
    session.add(entry)
    session.flush()
    return entry


def forget_object(session: Session, object_type: str, object_id: Any) -> None:
    """Blank the summaries and changes recorded about an object whose personal data is erased."""
    session.execute(
        update(AuditEntry)
        .where(AuditEntry.object_type == object_type, AuditEntry.object_id == str(object_id))
        .values(summary="(erased)", changes=None)
    )


@dataclass
class AuditFilter:
    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    since: date | None = None
    until: date | None = None

    def query(self) -> Select:
        stmt = select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        if self.actor:
            stmt = stmt.where(AuditEntry.actor_email.ilike(f"%{self.actor}%"))
        if self.action:
            stmt = stmt.where(AuditEntry.action == self.action)
        if self.object_type:
            stmt = stmt.where(AuditEntry.object_type == self.object_type)
        if self.object_id:
            stmt = stmt.where(AuditEntry.object_id == self.object_id)
        if self.since:
            stmt = stmt.where(AuditEntry.created_at >= local_date_at(self.since, time()))
        if self.until:
            end = local_date_at(self.until + timedelta(days=1), time())
            stmt = stmt.where(AuditEntry.created_at < end)
        return stmt


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
