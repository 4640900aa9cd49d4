"""Staff operations on the suppression list: search, add (one or many), export.

Adding an address writes a "suppress" event to the consent log (linked to the contact when the
address belongs to one), so the log shows who blocked an address and, with `unsuppress`, who
lifted it. Removal lives in `services.unsuppress` (admins only).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from outreach.audit.services import record
from outreach.auth.models import User
from outreach.auth.permissions import require_role
from outreach.contacts.models import Contact
from outreach.contacts.validation import FieldError, hash_email_key, normalise_email
from outreach.core.errors import ServiceError
from outreach.core.timezones import to_local
from outreach.subscriptions.models import SUPPRESSION_REASONS, ConsentRecord, Suppression
from outreach.subscriptions.services import RequestMeta, find_suppression, record_consent, suppress

MAX_BULK_LINES = 5000
NOTE_MAX = 500


@dataclass
class AddResult:
    entry: Suppression
    created: bool


@dataclass
class BulkResult:
    added: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    # (line number, text as typed, what is wrong)
    invalid: list[tuple[int, str, str]] = field(default_factory=list)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def suppression_list(q: str = "", reason: str = "") -> Select:
    """Rows of (Suppression, id of the contact with that address or None), newest first.

    `q` matches part of the address; a complete address also finds an erased entry by its hash.
    """
    if reason and reason not in SUPPRESSION_REASONS:
        raise ServiceError(
            f"Unknown reason {reason!r} (use {', '.join(SUPPRESSION_REASONS)}).", {"reason": reason}
        )
    stmt = select(Suppression, Contact.id.label("contact_id")).outerjoin(
        Contact, Contact.email_hash == Suppression.email_hash
    )
    q = q.strip()
    if q:
        condition = func.lower(Suppression.email).like(_like(q.casefold()), escape="\\")
        try:
            key = normalise_email(q)[1]
        except FieldError:
            pass
        else:
            condition = or_(condition, Suppression.email_hash == hash_email_key(key))
        stmt = stmt.where(condition)
    if reason:
        stmt = stmt.where(Suppression.reason == reason)
    return stmt.order_by(Suppression.created_at.desc(), Suppression.id.desc())


def reason_counts(session: Session) -> dict[str, int]:
    """How many entries there are for each reason (every reason listed, zero included)."""
    counts = dict(
        session.execute(
            select(Suppression.reason, func.count()).group_by(Suppression.reason)
        ).all()
    )
    return {reason: counts.get(reason, 0) for reason in SUPPRESSION_REASONS}


def add_suppression(session: Session, email: str, user: User, note: str = "") -> AddResult:
    """Suppress an address for reason "staff"; an address already listed keeps its entry."""
    require_role("editor")
    note = " ".join((note or "").split())[:NOTE_MAX]
    try:
        _, key = normalise_email(email)
    except FieldError as exc:
        message = f"Enter a valid email address ({exc})."
        raise ServiceError(message, {"email": message}) from None
    existing = find_suppression(session, hash_email_key(key))
    if existing is not None:
        return AddResult(existing, created=False)
    entry = suppress(session, email, "staff", note=note, user_id=user.id)
    contact = session.scalar(select(Contact).where(Contact.email_hash == entry.email_hash))
    record_consent(
        session,
        contact,
        "suppress",
        RequestMeta(source="staff", staff_user_id=user.id),
        details={"reason": "staff", "note": note},
        email_hash=entry.email_hash,
    )
    record(session, "suppression.add", "suppression", entry.id, f"Suppressed {entry.email}",
           {"note": note} if note else None, actor=user)
    session.flush()
    return AddResult(entry, created=True)


def bulk_add(session: Session, text: str, user: User, note: str = "") -> BulkResult:
    """One address per line: valid ones are added, invalid ones reported with their line."""
    lines = (text or "").splitlines()
    if len(lines) > MAX_BULK_LINES:
        message = f"Paste at most {MAX_BULK_LINES:,} lines at a time."
        raise ServiceError(message, {"addresses": message})
    result = BulkResult()
    for number, line in enumerate(lines, start=1):
        value = line.strip().strip(",;").strip()
        if not value:
            continue
        try:
            normalise_email(value)
        except FieldError as exc:
            result.invalid.append((number, line.strip(), str(exc)))
            continue
        added = add_suppression(session, value, user, note)
        (result.added if added.created else result.already).append(added.entry.email or value)
    return result


def consent_events(session: Session, email_hash: str, limit: int = 200) -> list:
    """Rows of (ConsentRecord, staff user's email or None) for one address, newest first."""
    return session.execute(
        select(ConsentRecord, User.email)
        .outerjoin(User, User.id == ConsentRecord.staff_user_id)
        .where(ConsentRecord.email_hash == email_hash)
        .order_by(ConsentRecord.created_at.desc(), ConsentRecord.id.desc())
        .limit(limit)
    ).all()


def _local_iso(value: datetime) -> str:
    return to_local(value).isoformat(timespec="seconds")


def write_csv(session: Session, stmt: Select, out: IO[str]) -> int:
    """Write `suppression_list(...)` as CSV: email (empty for an erased contact), reason, date."""
    from outreach.contacts.csv_io import safe_cell

    writer = csv.writer(out)
    writer.writerow(["email", "reason", "date"])
    count = 0
    for entry in _stream(session, stmt):
        writer.writerow([safe_cell(entry.email or ""), entry.reason, _local_iso(entry.created_at)])
        count += 1
    return count


def _stream(session: Session, stmt: Select, batch: int = 1000) -> Iterator[Suppression]:
    result = session.execute(stmt.execution_options(yield_per=batch))
    for entry, _contact_id in result:
        yield entry
