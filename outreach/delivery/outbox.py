"""The outbox queue: enqueue a campaign's recipients, claim due rows, record what happened.

These functions commit (they are the delivery engine's units of work, not request services):
- `enqueue_campaign` inserts one row per recipient in batches of contact ids, committing each
  batch; the unique (campaign, contact) constraint makes it idempotent, and it resumes after the
  last contact already queued, so a crash mid-way loses nothing and duplicates nothing.
- `claim_batch` moves due rows to `sending` in one UPDATE: on PostgreSQL its subquery locks them
  `FOR UPDATE SKIP LOCKED`, so workers on any number of machines claim disjoint batches; on SQLite
  the single statement runs under the database's write lock, so claims are serialised.
- `record_outcomes` writes a batch's results in one statement (PostgreSQL) or one executemany.
- `requeue_stale` gives the rows of a worker that died (claim older than the lease) back to the
  queue: at most that batch is sent twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, Text, func, insert, literal, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from outreach.campaigns.audience import audience_select
from outreach.campaigns.models import Campaign
from outreach.contacts.models import Contact
from outreach.core.database import UTCDateTime, is_postgresql, utcnow
from outreach.delivery.models import OutboxMessage

ENQUEUE_BATCH_SIZE = 5000
# A campaign in one of these states no longer sends: its queued rows are skipped.
CLOSED_CAMPAIGN_REASONS = {"cancelled": "campaign cancelled", "failed": "campaign failed"}

outbox = OutboxMessage.__table__


@dataclass(frozen=True, slots=True)
class ClaimedRow:
    id: int
    kind: str
    campaign_id: int | None
    contact_id: int | None
    email: str
    language: str
    attempts: int
    payload: dict | None = None  # what an alert or digest row is about


@dataclass(slots=True)
class RowOutcome:
    """What happened to one claimed row. `status` queued means: try again at `next_attempt_at`."""

    id: int
    status: str
    attempts: int
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    smtp_code: int | None = None
    smtp_reply: str = ""
    message_id: str | None = None


# -- enqueue


def _last_enqueued_contact(session: Session, campaign_id: int) -> int:
    last = session.scalar(
        select(func.max(OutboxMessage.contact_id)).where(OutboxMessage.campaign_id == campaign_id)
    )
    return last or 0


def _insert_batch(
    session: Session,
    campaign: Campaign,
    after: int,
    size: int,
    now: datetime,
    status: str = "queued",
):
    moment = literal(now, UTCDateTime())
    source = audience_select(
        campaign,
        literal("campaign", String()),
        literal(campaign.id, Integer()),
        Contact.id,
        Contact.email,
        Contact.language,
        literal(status, String()),
        literal(0, Integer()),
        moment,
        literal("", Text()),
        moment,
        moment,
    )
    if source is None:
        return 0
    source = source.where(Contact.id > after).limit(size)
    columns = [
        "kind",
        "campaign_id",
        "contact_id",
        "email",
        "language",
        "status",
        "attempts",
        "next_attempt_at",
        "smtp_reply",
        "created_at",
        "updated_at",
    ]
    if is_postgresql(session.get_bind()):
        statement = (
            pg_insert(outbox)
            .from_select(columns, source)
            .on_conflict_do_nothing(index_elements=["campaign_id", "contact_id"])
        )
    else:
        statement = insert(outbox).from_select(columns, source).prefix_with("OR IGNORE")
    # Count what RETURNING gives back: rowcount is not reliable for INSERT ... SELECT everywhere.
    return len(session.execute(statement.returning(outbox.c.id)).all())


def enqueue_campaign(
    session: Session,
    campaign: Campaign,
    batch_size: int = ENQUEUE_BATCH_SIZE,
    now: datetime | None = None,
) -> int:
    """Create the outbox rows of a sending (or paused) campaign; returns the rows inserted.

    Stops without finishing if the campaign is cancelled or failed meanwhile; sets
    `campaign.enqueued_at` once every recipient has a row.
    """
    from outreach.engagement.models import SubjectTest

    campaign_id = campaign.id
    inserted = 0
    # A subject test's rows wait ("held") until its groups are chosen (engagement.subject_tests).
    tested = select(SubjectTest.id).where(SubjectTest.campaign_id == campaign_id)
    row_status = "held" if session.scalar(tested) is not None else "queued"
    while True:
        status = session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
        if status not in ("sending", "paused"):
            session.commit()
            return inserted
        after = _last_enqueued_contact(session, campaign_id)
        count = _insert_batch(session, campaign, after, batch_size, now or utcnow(), row_status)
        session.commit()
        inserted += count
        if count == 0 and _last_enqueued_contact(session, campaign_id) == after:
            break
    session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.enqueued_at.is_(None))
        .values(enqueued_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(campaign)
    return inserted


# -- claim and record


def claim_batch(
    session: Session, worker_name: str, size: int, now: datetime | None = None
) -> list[ClaimedRow]:
    """Claim up to `size` due rows (longest due first) for `worker_name`, and commit."""
    now = now or utcnow()
    sending_campaigns = select(Campaign.id).where(Campaign.status == "sending")
    due = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == "queued",
            OutboxMessage.next_attempt_at <= now,
            or_(
                OutboxMessage.campaign_id.is_(None),
                OutboxMessage.campaign_id.in_(sending_campaigns),
            ),
        )
        # The order of the (status, next_attempt_at, id) index: the scan stops after `size` rows.
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(size)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(outbox)
        .where(outbox.c.id.in_(due))
        .values(status="sending", claimed_by=worker_name, claimed_at=now, updated_at=now)
        .returning(
            outbox.c.id,
            outbox.c.kind,
            outbox.c.campaign_id,
            outbox.c.contact_id,
            outbox.c.email,
            outbox.c.language,
            outbox.c.attempts,
            outbox.c.payload,
        )
    )
    if is_postgresql(session.get_bind()):
        # A claim lost in a server crash is harmless (its rows are still queued): no need to
        # wait for the WAL flush of this transaction.
        session.execute(text("SET LOCAL synchronous_commit = off"))
    rows = [ClaimedRow(*row) for row in session.execute(statement)]
    session.commit()
    rows.sort(key=lambda row: row.id)
    return rows


_OUTCOME_SET = (  # the old values qualified: the unnest columns share some of their names
    "status = {status}, attempts = {attempts}, "
    "next_attempt_at = coalesce({next}, outbox.next_attempt_at), "
    "sent_at = coalesce({sent}, outbox.sent_at), smtp_code = {code}, smtp_reply = {reply}, "
    "message_id = coalesce({message_id}, outbox.message_id), "
    "claimed_by = CASE WHEN {release} THEN NULL ELSE outbox.claimed_by END, "
    "claimed_at = CASE WHEN {release} THEN NULL ELSE outbox.claimed_at END, updated_at = {now}"
)
_OUTCOME_FIELDS = ("status", "attempts", "next", "sent", "code", "reply", "message_id", "release")
_OUTCOME_ARRAYS = ("text", "int", "timestamptz", "timestamptz", "int", "text", "text", "bool")

# SQLite: one UPDATE per row, run by the driver's executemany in C.
SQLITE_OUTCOME_SQL = (
    "UPDATE outbox SET "
    + _OUTCOME_SET.format(**{name: f":{name}" for name in (*_OUTCOME_FIELDS, "now")})
    + " WHERE id = :id AND status IN ('queued', 'sending')"
)
# PostgreSQL: one UPDATE for the whole batch, its values as arrays (one parameter per column).
POSTGRESQL_OUTCOME_SQL = (
    "UPDATE outbox SET "
    + _OUTCOME_SET.format(**{name: f"v.{name}" for name in _OUTCOME_FIELDS}, now="%(now)s")
    + " FROM unnest(%(id)s::int[], "
    + ", ".join(
        f"%({name})s::{kind}[]" for name, kind in zip(_OUTCOME_FIELDS, _OUTCOME_ARRAYS, strict=True)
    )
    + f") AS v(id, {', '.join(_OUTCOME_FIELDS)})"
    + " WHERE outbox.id = v.id AND outbox.status IN ('queued', 'sending')"
)


def record_outcomes(session: Session, results: list[RowOutcome], now: datetime | None = None):
    """Write every row's outcome (no commit: the caller commits the batch): on PostgreSQL one
    UPDATE ... FROM unnest(arrays), on SQLite one executemany.

    A row already final (sent, failed or skipped, e.g. by a cancel) is left alone. This is the
    engine's hottest statement, so it goes straight to the driver: SQLAlchemy's per-row parameter
    handling would cost more than the UPDATE itself.
    """
    if not results:
        return
    connection = session.connection()
    dialect = connection.dialect
    process = UTCDateTime().bind_processor(dialect) or (lambda value: value)
    stamp = process(now or utcnow())
    rows = [
        (
            result.id,
            result.status,
            result.attempts,
            process(result.next_attempt_at) if result.next_attempt_at else None,
            process(result.sent_at) if result.sent_at else None,
            result.smtp_code,
            result.smtp_reply[:2000],
            result.message_id,
            result.status == "queued",
        )
        for result in results
    ]
    names = ("id", *_OUTCOME_FIELDS)
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        if dialect.name == "postgresql":
            columns = dict(zip(names, map(list, zip(*rows, strict=True)), strict=True))
            cursor.execute(POSTGRESQL_OUTCOME_SQL, {**columns, "now": stamp})
        else:
            params = [{**dict(zip(names, row, strict=True)), "now": stamp} for row in rows]
            cursor.executemany(SQLITE_OUTCOME_SQL, params)
    finally:
        cursor.close()


def requeue_stale(session: Session, lease_seconds: int, now: datetime | None = None) -> int:
    """Rows claimed longer ago than the lease go back to the queue (their worker died)."""
    now = now or utcnow()
    result = session.execute(
        update(outbox)
        .where(
            outbox.c.status == "sending",
            outbox.c.claimed_at < now - timedelta(seconds=lease_seconds),
        )
        .values(status="queued", claimed_by=None, claimed_at=None, updated_at=now)
    )
    session.commit()
    return result.rowcount or 0


def skip_closed(session: Session, now: datetime | None = None) -> int:
    """Queued rows of cancelled or failed campaigns become skipped (a released batch, say).
    No commit: the caller commits."""
    now = now or utcnow()
    total = 0
    for campaign_status, reason in CLOSED_CAMPAIGN_REASONS.items():
        closed = select(Campaign.id).where(Campaign.status == campaign_status)
        result = session.execute(
            update(outbox)
            .where(outbox.c.status.in_(("queued", "held")), outbox.c.campaign_id.in_(closed))
            .values(status="skipped", smtp_reply=reason, updated_at=now)
        )
        total += result.rowcount or 0
    return total


def status_counts(session: Session, campaign_id: int) -> dict[str, int]:
    """Rows of one campaign per status (every status present, zero when none)."""
    rows = session.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.campaign_id == campaign_id)
        .group_by(OutboxMessage.status)
    )
    counts = dict.fromkeys(("queued", "sending", "sent", "failed", "skipped"), 0)
    counts.update(dict(rows.tuples().all()))
    return counts
