"""Deadline alerts: the rules, who follows a key date, the run, and "deadline moved" notices.

Who follows a key date: an active contact, not suppressed, with a confirmed and unpaused
subscription to the topic `deadline_alerts` and immediate alerts, who works on one of the States
the key date concerns (contact_countries, the primary country included) and follows its session
(every session, or its number among the chosen ones). Contacts without a subscription (added by
staff) receive campaigns but no alerts: alerts are something people sign up for.

When: an alert N days before a key date is due on the Geneva date "the deadline's Geneva date
minus N". A run on day D queues what is due on D or earlier while the deadline is still ahead: a
missed day catches up, and a deadline already past is never announced. When several offsets of
one key date are due at once for a contact, only the smallest is announced; all are recorded, and
an offset larger than one already announced is recorded without being announced again.

Idempotency: one `AlertRecord` per (contact, key date, days before), inserted with ON CONFLICT DO
NOTHING in the transaction that queues the contact's outbox row. A run announces only what its
own inserts won, so a re-run, a restart or two runs at once never alert twice. `run_alerts`
commits once per batch of recipients (like the outbox's enqueueing); every other function here
flushes and leaves the commit to its caller.

Moved deadlines: an alert still queued renders the key date's current date when it is sent. A
record whose alert was sent with a date that differs from the key date's current one is "moved";
`send_change_notices` queues one notice per such contact and sets the records' `deadline_at` to
the date the notice announces, so a later move is found again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session, aliased, selectinload

from outreach.alerts.models import DEFAULT_RULES, AlertRecord, AlertRule
from outreach.calendar.models import (
    DEADLINE_KINDS,
    KEY_DATE_KINDS,
    KEY_DATE_LABELS,
    KeyDate,
    Review,
    UPRSession,
)
from outreach.calendar.services import upcoming_key_dates
from outreach.contacts.models import Contact, ContactCountry
from outreach.core.database import UTCDateTime, insert_ignoring_conflicts, utcnow
from outreach.core.errors import ServiceError
from outreach.core.timezones import local_date_at, to_local
from outreach.delivery.models import OutboxMessage
from outreach.subscriptions.audience import mailable_conditions, not_suppressed
from outreach.subscriptions.models import Subscription, SubscriptionSession, SubscriptionTopic

ALERT_TOPIC = "deadline_alerts"
MAX_DAYS_BEFORE = 365
RUN_BATCH_SIZE = 500
INSERT_CHUNK = 1000
# `skipped_past` looks at deadlines that closed this long before the run.
SKIPPED_LOOKBACK = timedelta(days=7)
UPCOMING_DAYS = 30
FOLLOWERS_DAYS = 60
PENDING_NOTICE = ("queued", "sending")


# --- Rules ----------------------------------------------------------------------------------------


def ensure_default_rules(session: Session) -> int:
    """Insert the default rules (30, 14, 7 and 1 day before each stakeholder deadline) when there
    are no rules at all; returns how many were added. Safe when two processes do it at once."""
    if session.scalar(select(func.count(AlertRule.id))):
        return 0
    rows = [
        {"kind": kind, "days_before": days, "active": True, "created_at": utcnow()}
        for kind, offsets in DEFAULT_RULES.items()
        for days in offsets
    ]
    statement = insert_ignoring_conflicts(
        session, AlertRule.__table__, rows, ["kind", "days_before"]
    )
    return len(session.execute(statement.returning(AlertRule.id)).all())


def list_rules(session: Session) -> list[AlertRule]:
    """Every rule, by kind (calendar order) and from the earliest alert to the latest."""
    rules = session.scalars(select(AlertRule)).all()
    order = {kind: index for index, kind in enumerate(KEY_DATE_KINDS)}
    return sorted(rules, key=lambda r: (order.get(r.kind, len(order)), -r.days_before))


def add_rule(
    session: Session, kind: str, days_before: int | None, active: bool = True
) -> AlertRule:
    """A new rule: alert `days_before` days (0 to 365) before key dates of `kind`."""
    errors: dict[str, str] = {}
    if kind not in KEY_DATE_KINDS:
        errors["kind"] = "Choose a kind of key date."
    if days_before is None or not 0 <= days_before <= MAX_DAYS_BEFORE:
        errors["days_before"] = f"Give a number of days from 0 to {MAX_DAYS_BEFORE}."
    if not errors and session.scalar(
        select(AlertRule.id).where(AlertRule.kind == kind, AlertRule.days_before == days_before)
    ):
        errors["days_before"] = (
            f"There is already an alert {days_before} days before: "
            f"{KEY_DATE_LABELS.get(kind, kind).lower()}."
        )
    if errors:
        raise ServiceError("Please correct the alert rule.", errors)
    rule = AlertRule(kind=kind, days_before=days_before, active=bool(active))
    session.add(rule)
    session.flush()
    return rule


def set_rule_active(session: Session, rule: AlertRule, active: bool) -> AlertRule:
    rule.active = bool(active)
    session.flush()
    return rule


def delete_rule(session: Session, rule: AlertRule) -> None:
    """Remove a rule. The last one cannot go: with no rules at all the defaults would come
    back at the next run, so it is switched off instead."""
    if session.scalar(select(func.count(AlertRule.id))) <= 1:
        raise ServiceError(
            "This is the last alert rule: switch it off instead of removing it "
            "(with no rules at all, the default rules are restored)."
        )
    session.delete(rule)
    session.flush()


def _active_rules(session: Session) -> list[tuple[str, int]]:
    return [
        (kind, days)
        for kind, days in session.execute(
            select(AlertRule.kind, AlertRule.days_before)
            .where(AlertRule.active.is_(True))
            .order_by(AlertRule.kind, AlertRule.days_before)
        )
    ]


# --- Who follows which key date (SQL building blocks) ---------------------------------------------


def _midnight(day: date) -> datetime:
    """00:00 Geneva time on `day`, in UTC (correct across daylight saving)."""
    return local_date_at(day, time(0))


def _offsets(rules: Sequence[tuple[str, int]], today: date, days: int = 1):
    """One row per rule: (kind, days_before, until). A key date of `kind` starting before `until`
    has this alert due on a Geneva day before `today + days`."""
    parts = [
        select(
            literal(kind, String()).label("kind"),
            literal(days_before, Integer()).label("days_before"),
            literal(_midnight(today + timedelta(days=days_before + days)), UTCDateTime()).label(
                "until"
            ),
        )
        for kind, days_before in rules
    ]
    compound = parts[0] if len(parts) == 1 else union_all(*parts)
    return compound.subquery("offsets")


def _candidates(*conditions):
    """Key dates (with their session number) that meet `conditions`."""
    return (
        select(
            KeyDate.id,
            KeyDate.kind,
            KeyDate.session_id,
            KeyDate.review_id,
            KeyDate.starts_at,
            UPRSession.number.label("session_number"),
        )
        .join(UPRSession, UPRSession.id == KeyDate.session_id)
        .where(*conditions)
        .subquery("candidates")
    )


def _concerned(candidates):
    """(key_date_id, country_code) for each State a candidate key date concerns: its own State,
    or the States of its session that have no own date of the same kind."""
    specific = aliased(KeyDate)
    own = select(candidates.c.id.label("key_date_id"), Review.country_code).join(
        Review, Review.id == candidates.c.review_id
    )
    session_wide = (
        select(candidates.c.id.label("key_date_id"), Review.country_code)
        .join(Review, Review.session_id == candidates.c.session_id)
        .where(
            candidates.c.review_id.is_(None),
            ~exists().where(specific.review_id == Review.id, specific.kind == candidates.c.kind),
        )
    )
    return union_all(own, session_wide).subquery("concerned")


def _followers(candidates, now: datetime, contact_ids: Sequence[int] | None = None) -> Select:
    """Distinct (contact_id, key_date_id, kind, starts_at, confirmed_at): who follows each
    candidate key date (see the module docstring)."""
    concerned = _concerned(candidates)
    stmt = (
        select(
            Contact.id.label("contact_id"),
            candidates.c.id.label("key_date_id"),
            candidates.c.kind,
            candidates.c.starts_at,
            Subscription.confirmed_at,
        )
        .select_from(candidates)
        .join(concerned, concerned.c.key_date_id == candidates.c.id)
        .join(ContactCountry, ContactCountry.country_code == concerned.c.country_code)
        .join(Contact, Contact.id == ContactCountry.contact_id)
        .join(Subscription, Subscription.contact_id == Contact.id)
        .where(
            Contact.status == "active",
            not_suppressed(),
            Subscription.status == "confirmed",
            or_(Subscription.paused_until.is_(None), Subscription.paused_until <= now),
            Subscription.alert_frequency == "immediate",
            exists().where(
                SubscriptionTopic.contact_id == Subscription.contact_id,
                SubscriptionTopic.topic == ALERT_TOPIC,
            ),
            or_(
                Subscription.all_sessions.is_(True),
                exists().where(
                    SubscriptionSession.contact_id == Contact.id,
                    SubscriptionSession.session_number == candidates.c.session_number,
                ),
            ),
        )
        .distinct()
    )
    if contact_ids is not None:
        stmt = stmt.where(Contact.id.in_(list(contact_ids)))
    return stmt


def _recorded(contact_id, key_date_id, days_before):
    return exists().where(
        AlertRecord.contact_id == contact_id,
        AlertRecord.key_date_id == key_date_id,
        AlertRecord.days_before == days_before,
    )


# --- Due alerts -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DueAlert:
    contact_id: int
    key_date_id: int
    days_before: int
    send: bool  # announced in this run's email (else recorded only: a larger offset caught up)


def _run_moment(today: date, now: datetime | None) -> datetime:
    """The instant a run for `today` treats as now: now, or the start of a later `today` (a
    preview of a future day). A past `today` still uses now: never announce a past deadline."""
    return now or max(utcnow(), _midnight(today))


def _due_select(
    rules: Sequence[tuple[str, int]],
    today: date,
    now: datetime,
    contact_ids: Sequence[int] | None = None,
) -> Select | None:
    if not rules:
        return None
    offsets = _offsets(rules, today)
    latest = _midnight(today + timedelta(days=max(days for _, days in rules) + 1))
    candidates = _candidates(
        KeyDate.kind.in_(sorted({kind for kind, _ in rules})),
        KeyDate.starts_at > now,
        KeyDate.starts_at < latest,
    )
    followers = _followers(candidates, now, contact_ids).subquery("followers")
    due = (
        select(followers.c.contact_id, followers.c.key_date_id, offsets.c.days_before)
        .select_from(followers)
        .join(
            offsets,
            and_(offsets.c.kind == followers.c.kind, followers.c.starts_at < offsets.c.until),
        )
        .where(~_recorded(followers.c.contact_id, followers.c.key_date_id, offsets.c.days_before))
        .subquery("due")
    )
    smallest = func.min(due.c.days_before).over(partition_by=(due.c.contact_id, due.c.key_date_id))
    announced = (
        select(func.min(AlertRecord.days_before))
        .where(
            AlertRecord.contact_id == due.c.contact_id,
            AlertRecord.key_date_id == due.c.key_date_id,
        )
        .scalar_subquery()
    )
    send = and_(
        due.c.days_before == smallest,
        or_(announced.is_(None), announced > due.c.days_before),
    )
    return select(
        due.c.contact_id,
        due.c.key_date_id,
        due.c.days_before,
        case((send, True), else_=False).label("send"),
    ).order_by(due.c.contact_id, due.c.key_date_id, due.c.days_before)


def due_alerts(
    session: Session,
    today: date,
    *,
    now: datetime | None = None,
    contact_ids: Sequence[int] | None = None,
) -> list[DueAlert]:
    """The (contact, key date, days before) alerts due on the Geneva day `today` or earlier and
    not recorded yet, for deadlines still ahead; `send` marks the one offset per contact and key
    date that the email announces."""
    stmt = _due_select(_active_rules(session), today, _run_moment(today, now), contact_ids)
    if stmt is None:
        return []
    return [DueAlert(c, k, d, bool(s)) for c, k, d, s in session.execute(stmt)]


def _due_contact_ids(session: Session, today: date, now: datetime) -> list[int]:
    stmt = _due_select(_active_rules(session), today, now)
    if stmt is None:
        return []
    due = stmt.subquery()
    return list(session.scalars(select(due.c.contact_id).distinct().order_by(due.c.contact_id)))


def count_skipped_past(session: Session, today: date, now: datetime | None = None) -> int:
    """(Contact, key date) pairs with an alert that was due but never recorded, for deadlines
    that closed in the last `SKIPPED_LOOKBACK` after the contact had subscribed: alerts lost to
    missed runs, which are never sent late."""
    now = _run_moment(today, now)
    rules = _active_rules(session)
    if not rules:
        return 0
    offsets = _offsets(rules, today)
    candidates = _candidates(
        KeyDate.kind.in_(sorted({kind for kind, _ in rules})),
        KeyDate.starts_at <= now,
        KeyDate.starts_at > now - SKIPPED_LOOKBACK,
    )
    followers = _followers(candidates, now).subquery("followers")
    missed = (
        select(followers.c.contact_id, followers.c.key_date_id)
        .join(offsets, offsets.c.kind == followers.c.kind)
        .where(
            or_(
                followers.c.confirmed_at.is_(None),
                followers.c.confirmed_at < followers.c.starts_at,
            ),
            ~_recorded(followers.c.contact_id, followers.c.key_date_id, offsets.c.days_before),
        )
        .distinct()
        .subquery()
    )
    return session.scalar(select(func.count()).select_from(missed)) or 0


# --- The run --------------------------------------------------------------------------------------


@dataclass
class AlertRunReport:
    today: date
    dry_run: bool = False
    recipients: int = 0  # emails queued (one per contact)
    alerts: int = 0  # deadlines announced in them
    records: int = 0  # alert records written (announced, or caught up without an email)
    skipped_past: int = 0  # see `count_skipped_past`
    outbox_ids: list[int] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"alerts: recipients={self.recipients} alerts={self.alerts} "
            f"skipped_past={self.skipped_past}"
        )
        return text + " (dry run: nothing queued)" if self.dry_run else text


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _record_batch(session: Session, due: list[DueAlert], report: AlertRunReport) -> None:
    """Record a batch's due alerts and queue one email per contact for what this run won."""
    starts = dict(
        session.execute(
            select(KeyDate.id, KeyDate.starts_at).where(
                KeyDate.id.in_({alert.key_date_id for alert in due})
            )
        ).all()
    )
    stamp = utcnow()
    rows = [
        {
            "contact_id": alert.contact_id,
            "key_date_id": alert.key_date_id,
            "days_before": alert.days_before,
            "deadline_at": starts[alert.key_date_id],
            "created_at": stamp,
        }
        for alert in due
        if alert.key_date_id in starts
    ]
    won: dict[tuple[int, int, int], int] = {}
    for chunk in _chunks(rows, INSERT_CHUNK):
        statement = insert_ignoring_conflicts(
            session,
            AlertRecord.__table__,
            list(chunk),
            ["contact_id", "key_date_id", "days_before"],
        ).returning(
            AlertRecord.id, AlertRecord.contact_id, AlertRecord.key_date_id, AlertRecord.days_before
        )
        for record_id, contact_id, key_date_id, days_before in session.execute(statement):
            won[(contact_id, key_date_id, days_before)] = record_id
    report.records += len(won)

    announce: dict[int, list[tuple[int, int]]] = {}
    for alert in due:
        if alert.send and (alert.contact_id, alert.key_date_id, alert.days_before) in won:
            announce.setdefault(alert.contact_id, []).append((alert.key_date_id, alert.days_before))
    if not announce:
        return
    contacts = {
        contact_id: (email, language)
        for contact_id, email, language in session.execute(
            select(Contact.id, Contact.email, Contact.language).where(
                Contact.id.in_(list(announce))
            )
        )
    }
    messages: dict[int, OutboxMessage] = {}
    for contact_id, items in announce.items():
        if contact_id not in contacts:
            continue
        email, language = contacts[contact_id]
        items.sort(key=lambda item: (starts[item[0]], item[0]))
        messages[contact_id] = OutboxMessage(
            kind="alert",
            contact_id=contact_id,
            email=email,
            language=language or "en",
            status="queued",
            payload={"key_dates": [[key_date_id, days] for key_date_id, days in items]},
        )
    session.add_all(messages.values())
    session.flush()
    # Only the announced records point at the email; the larger offsets it replaced stay bare.
    links = [
        {"id": won[(contact_id, key_date_id, days)], "outbox_id": message.id}
        for contact_id, message in messages.items()
        for key_date_id, days in announce[contact_id]
    ]
    if links:
        session.execute(update(AlertRecord), links)
        _expire_records(session)
    report.recipients += len(messages)
    report.alerts += sum(len(m.payload["key_dates"]) for m in messages.values())
    report.outbox_ids.extend(m.id for m in messages.values())


def run_alerts(
    session: Session,
    today: date | None = None,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    batch_size: int = RUN_BATCH_SIZE,
) -> AlertRunReport:
    """Queue the alerts due on the Geneva day `today` (default: today) or earlier.

    One outbox row (kind "alert") per recipient lists all their due deadlines; the worker sends
    it. Commits once per batch of `batch_size` recipients; `dry_run` counts without writing.
    """
    today = today or to_local(now or utcnow()).date()
    moment = _run_moment(today, now)
    report = AlertRunReport(today=today, dry_run=dry_run)
    report.skipped_past = count_skipped_past(session, today, moment)
    contact_ids = _due_contact_ids(session, today, moment)
    for batch in _chunks(contact_ids, batch_size):
        due = due_alerts(session, today, now=moment, contact_ids=batch)
        if dry_run:
            announced = [alert for alert in due if alert.send]
            report.recipients += len({alert.contact_id for alert in announced})
            report.alerts += len(announced)
            continue
        _record_batch(session, due, report)
        session.commit()
    if dry_run:
        session.rollback()
    return report


# --- Staff views: upcoming alerts, followers, history ---------------------------------------------


def _key_dates_by_id(session: Session, ids) -> dict[int, KeyDate]:
    if not ids:
        return {}
    stmt = (
        select(KeyDate)
        .where(KeyDate.id.in_(list(ids)))
        .options(
            selectinload(KeyDate.session)
            .selectinload(UPRSession.reviews)
            .selectinload(Review.key_dates),
            selectinload(KeyDate.review),
        )
    )
    return {key_date.id: key_date for key_date in session.scalars(stmt)}


@dataclass
class UpcomingAlert:
    day: date  # the Geneva day the alert goes out
    key_date: KeyDate
    days_before: int
    recipients: int
    catch_up: bool = False  # due on an earlier day: goes out at the next run
    # Larger offsets of the same key date due at once: recorded with this one, not sent.
    also_due: list[int] = field(default_factory=list)


def upcoming_alerts(
    session: Session,
    today: date | None = None,
    days: int = UPCOMING_DAYS,
    now: datetime | None = None,
) -> list[tuple[date, list[UpcomingAlert]]]:
    """By Geneva day over the next `days` days: which key dates will alert, how many days
    before, and to how many recipients (followers not yet alerted for that offset)."""
    now = now or utcnow()
    today = today or to_local(now).date()
    rules = _active_rules(session)
    if not rules:
        return []
    offsets = _offsets(rules, today, days=days)
    latest = _midnight(today + timedelta(days=max(d for _, d in rules) + days))
    candidates = _candidates(
        KeyDate.kind.in_(sorted({kind for kind, _ in rules})),
        KeyDate.starts_at > now,
        KeyDate.starts_at < latest,
    )
    followers = _followers(candidates, now).subquery("followers")
    counts = session.execute(
        select(followers.c.key_date_id, offsets.c.days_before, func.count())
        .select_from(followers)
        .join(
            offsets,
            and_(offsets.c.kind == followers.c.kind, followers.c.starts_at < offsets.c.until),
        )
        .where(~_recorded(followers.c.contact_id, followers.c.key_date_id, offsets.c.days_before))
        .group_by(followers.c.key_date_id, offsets.c.days_before)
    ).all()
    key_dates = _key_dates_by_id(session, {row[0] for row in counts})
    lines: dict[tuple[date, int], UpcomingAlert] = {}
    for key_date_id, days_before, recipients in sorted(counts, key=lambda row: row[1]):
        key_date = key_dates[key_date_id]
        due_on = to_local(key_date.starts_at).date() - timedelta(days=days_before)
        day = max(due_on, today)
        line = lines.get((day, key_date_id))
        if line is None:
            lines[(day, key_date_id)] = UpcomingAlert(
                day, key_date, days_before, recipients, due_on < today
            )
        else:
            line.also_due.append(days_before)
    grouped: dict[date, list[UpcomingAlert]] = {}
    for line in sorted(
        lines.values(), key=lambda line: (line.day, line.key_date.starts_at, line.key_date.id)
    ):
        grouped.setdefault(line.day, []).append(line)
    return list(grouped.items())


def follower_counts(
    session: Session, key_date_ids: Sequence[int], now: datetime | None = None
) -> dict[int, int]:
    """Key date id -> how many contacts follow it (would be alerted about it), one query."""
    if not key_date_ids:
        return {}
    candidates = _candidates(KeyDate.id.in_(list(key_date_ids)))
    followers = _followers(candidates, now or utcnow()).subquery("followers")
    rows = session.execute(
        select(followers.c.key_date_id, func.count()).group_by(followers.c.key_date_id)
    )
    return dict(rows.tuples().all())


def followers_select(
    key_date_id: int, now: datetime | None = None, *, pending_days_before: int | None = None
) -> Select:
    """The contacts following a key date, by name; with `pending_days_before`, only those not
    yet alerted that many days before (who the next alert will reach)."""
    candidates = _candidates(KeyDate.id == key_date_id)
    followers = _followers(candidates, now or utcnow()).subquery("followers")
    stmt = select(Contact).join(followers, followers.c.contact_id == Contact.id)
    if pending_days_before is not None:
        stmt = stmt.where(~_recorded(Contact.id, key_date_id, pending_days_before))
    return stmt.order_by(Contact.last_name, Contact.first_name, Contact.email_key)


@dataclass
class DeadlineFollowers:
    key_date: KeyDate
    states: list[str]
    followers: int
    alerted: int  # contacts already sent an alert about it


def next_deadlines(
    session: Session, now: datetime | None = None, days: int = FOLLOWERS_DAYS
) -> list[DeadlineFollowers]:
    """The deadlines of the next `days` days (stakeholder deadlines and any kind with an alert
    rule) with the number of followers of each."""
    now = now or utcnow()
    kinds = tuple(dict.fromkeys((*DEADLINE_KINDS, *(kind for kind, _ in _active_rules(session)))))
    rows = upcoming_key_dates(session, start=now, days=days, kinds=kinds)
    ids = [key_date.id for key_date, _ in rows]
    counts = follower_counts(session, ids, now)
    alerted = (
        dict(
            session.execute(
                select(AlertRecord.key_date_id, func.count(AlertRecord.contact_id.distinct()))
                .where(AlertRecord.key_date_id.in_(ids), AlertRecord.outbox_id.is_not(None))
                .group_by(AlertRecord.key_date_id)
            )
            .tuples()
            .all()
        )
        if ids
        else {}
    )
    return [
        DeadlineFollowers(key_date, states, counts.get(key_date.id, 0), alerted.get(key_date.id, 0))
        for key_date, states in rows
    ]


@dataclass
class HistoryLine:
    day: date  # Geneva day of the first record
    key_date: KeyDate
    days_before: int
    contacts: int
    statuses: dict[str, int]  # outbox status -> contacts ("recorded" when no email was queued)
    notices: int  # of which sent a "deadline changed" notice since


def alert_history(
    session: Session, *, since: datetime | None = None, key_date_id: int | None = None
) -> list[tuple[date, list[HistoryLine]]]:
    """Alert records (since `since`), grouped by Geneva day, key date and offset, with the status
    of their emails (one grouped query), newest day first."""
    stmt = (
        select(
            AlertRecord.key_date_id,
            AlertRecord.days_before,
            OutboxMessage.status,
            func.count(AlertRecord.id),
            func.count(AlertRecord.change_notice_outbox_id),
            func.min(AlertRecord.created_at),
        )
        .outerjoin(OutboxMessage, OutboxMessage.id == AlertRecord.outbox_id)
        .group_by(AlertRecord.key_date_id, AlertRecord.days_before, OutboxMessage.status)
    )
    if since is not None:
        stmt = stmt.where(AlertRecord.created_at >= since)
    if key_date_id is not None:
        stmt = stmt.where(AlertRecord.key_date_id == key_date_id)
    rows = session.execute(stmt).all()
    key_dates = _key_dates_by_id(session, {row[0] for row in rows})
    lines: dict[tuple[int, int], HistoryLine] = {}
    for kd_id, days_before, status, count, notices, first in rows:
        line = lines.get((kd_id, days_before))
        day = to_local(first).date()
        if line is None:
            line = lines[(kd_id, days_before)] = HistoryLine(
                day, key_dates[kd_id], days_before, 0, {}, 0
            )
        line.day = min(line.day, day)
        line.contacts += count
        line.notices += notices
        key = status or "recorded"
        line.statuses[key] = line.statuses.get(key, 0) + count
    grouped: dict[date, list[HistoryLine]] = {}
    ordered = sorted(
        lines.values(),
        key=lambda line: (-line.day.toordinal(), line.key_date.starts_at, line.days_before),
    )
    for line in ordered:
        grouped.setdefault(line.day, []).append(line)
    return list(grouped.items())


@dataclass
class ContactAlert:
    record: AlertRecord
    status: str | None  # of the alert email
    notice_status: str | None  # of the "deadline changed" notice, if any


def contact_alert_history(session: Session, contact_id: int, limit: int = 50) -> list[ContactAlert]:
    """A contact's alert records, newest first."""
    notice = aliased(OutboxMessage)
    stmt = (
        select(AlertRecord, OutboxMessage.status, notice.status)
        .outerjoin(OutboxMessage, OutboxMessage.id == AlertRecord.outbox_id)
        .outerjoin(notice, notice.id == AlertRecord.change_notice_outbox_id)
        .where(AlertRecord.contact_id == contact_id)
        .options(
            selectinload(AlertRecord.key_date).selectinload(KeyDate.session),
            selectinload(AlertRecord.key_date).selectinload(KeyDate.review),
        )
        .order_by(AlertRecord.created_at.desc(), AlertRecord.days_before)
        .limit(limit)
    )
    return [ContactAlert(*row) for row in session.execute(stmt)]


def contact_alert_states(
    session: Session, key_date_id: int, contact_ids: Sequence[int]
) -> dict[int, list[tuple[int, str | None]]]:
    """Contact id -> [(days before, email status)] of their records for one key date."""
    if not contact_ids:
        return {}
    rows = session.execute(
        select(AlertRecord.contact_id, AlertRecord.days_before, OutboxMessage.status)
        .outerjoin(OutboxMessage, OutboxMessage.id == AlertRecord.outbox_id)
        .where(
            AlertRecord.key_date_id == key_date_id,
            AlertRecord.contact_id.in_(list(contact_ids)),
        )
        .order_by(AlertRecord.contact_id, AlertRecord.days_before.desc())
    )
    states: dict[int, list[tuple[int, str | None]]] = {}
    for contact_id, days_before, status in rows:
        states.setdefault(contact_id, []).append((days_before, status))
    return states


# --- Moved deadlines ------------------------------------------------------------------------------


def _moved(*columns, key_date_id: int | None = None) -> Select:
    """Records whose alert was sent with a date other than the key date's current one, and no
    notice about it is waiting to go, for contacts who may still be mailed alerts."""
    alert_email = aliased(OutboxMessage)
    notice_email = aliased(OutboxMessage)
    stmt = (
        select(*columns)
        .select_from(AlertRecord)
        .join(KeyDate, KeyDate.id == AlertRecord.key_date_id)
        .join(alert_email, alert_email.id == AlertRecord.outbox_id)
        .join(Contact, Contact.id == AlertRecord.contact_id)
        .outerjoin(notice_email, notice_email.id == AlertRecord.change_notice_outbox_id)
        .where(
            AlertRecord.deadline_at != KeyDate.starts_at,
            alert_email.status == "sent",
            or_(notice_email.id.is_(None), notice_email.status.not_in(PENDING_NOTICE)),
            *mailable_conditions(ALERT_TOPIC),
        )
    )
    if key_date_id is not None:
        stmt = stmt.where(AlertRecord.key_date_id == key_date_id)
    return stmt


@dataclass
class MovedDeadline:
    key_date: KeyDate
    people: int
    announced: list[datetime]  # the dates their alerts gave


def moved_deadlines(session: Session, key_date_id: int | None = None) -> list[MovedDeadline]:
    """Key dates moved since people were alerted about them, with how many to notify."""
    rows = session.execute(
        _moved(
            AlertRecord.key_date_id,
            func.count(AlertRecord.contact_id.distinct()),
            func.min(AlertRecord.deadline_at),
            func.max(AlertRecord.deadline_at),
            key_date_id=key_date_id,
        ).group_by(AlertRecord.key_date_id)
    ).all()
    key_dates = _key_dates_by_id(session, {row[0] for row in rows})
    moved = [
        MovedDeadline(key_dates[kd_id], people, sorted({first, last}))
        for kd_id, people, first, last in rows
    ]
    return sorted(moved, key=lambda m: (m.key_date.starts_at, m.key_date.id))


def send_change_notices(session: Session, key_date: KeyDate) -> int:
    """Queue one "deadline changed" notice (kind "notice") per contact alerted with an earlier
    date of `key_date`; returns how many were queued."""
    rows = session.execute(
        _moved(
            AlertRecord.id,
            AlertRecord.contact_id,
            AlertRecord.deadline_at,
            Contact.email,
            Contact.language,
            key_date_id=key_date.id,
        ).order_by(AlertRecord.contact_id, AlertRecord.created_at, AlertRecord.id)
    ).all()
    people: dict[int, dict] = {}
    for record_id, contact_id, announced, email, language in rows:
        person = people.setdefault(contact_id, {"records": [], "email": email, "lang": language})
        person["records"].append(record_id)
        person["old"] = announced  # the latest alert's date
    notices = {
        contact_id: OutboxMessage(
            kind="notice",
            contact_id=contact_id,
            email=person["email"],
            language=person["lang"] or "en",
            status="queued",
            payload={"key_date_id": key_date.id, "old": person["old"].isoformat()},
        )
        for contact_id, person in people.items()
    }
    session.add_all(notices.values())
    session.flush()
    changes = [
        {
            "id": record_id,
            "change_notice_outbox_id": notices[contact_id].id,
            "deadline_at": key_date.starts_at,
        }
        for contact_id, person in people.items()
        for record_id in person["records"]
    ]
    if changes:
        session.execute(update(AlertRecord), changes)
        _expire_records(session)
    return len(notices)


def _expire_records(session: Session) -> None:
    """Bulk updates by primary key bypass loaded objects: reload them on next access."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, AlertRecord):
            session.expire(obj)
