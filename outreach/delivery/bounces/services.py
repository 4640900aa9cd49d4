"""Record bounces and complaints and apply their effects. Functions flush; callers commit.

Rules (docs: /work/shared/EMAIL.md, "Bounces"):
- hard (5.x.x): the outbox row is marked failed and the address suppressed (`hard_bounce`) at once;
- soft (4.x.x, and the permanent codes `parse.is_repeat_limited` names: 5.2.2 mailbox full, 5.7.x
  policy blocks, message too large): recorded; the outbox row is marked failed when the report
  says the message was given up (`Action: failed`); the address is suppressed (`hard_bounce`) once
  BOUNCE_SOFT_LIMIT different messages to it bounced that way;
- delayed (`Action: delayed`): recorded as soft, never counted;
- complaint (ARF): the address is suppressed (`complaint`) at once, a subscription is set to
  unsubscribed and the consent log gets an "unsubscribe" event from the "email" source;
- anything that cannot be read or matched: recorded as `unknown` with the reason in `problem`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from flask import current_app
from sqlalchemy import Select, distinct, func, select
from sqlalchemy.orm import Session

from outreach.campaigns.models import Campaign
from outreach.contacts.models import Contact
from outreach.contacts.validation import email_key, hash_email_key
from outreach.core.database import utcnow
from outreach.core.errors import ServiceError
from outreach.delivery.bounces import match, parse
from outreach.delivery.bounces.parse import Recipient, Report
from outreach.delivery.models import BOUNCE_KINDS, Bounce, BounceRun, OutboxMessage
from outreach.subscriptions.services import (
    RequestMeta,
    find_suppression,
    record_consent,
    suppress,
)

DEFAULT_SOFT_LIMIT = 3
KIND_OF_VERDICT = {
    parse.HARD: "hard",
    parse.SOFT: "soft",
    parse.DELAYED: "soft",
    parse.UNKNOWN: "unknown",
}
EMAIL_SOURCE = RequestMeta(source="email")


@dataclass
class Tally:
    """What one run did; `ignored` counts auto-replies, success notices, feedback reports that
    are not complaints, and messages already processed before."""

    processed: int = 0
    hard: int = 0
    soft: int = 0
    complaints: int = 0
    unknown: int = 0
    suppressed: int = 0
    ignored: int = 0

    def line(self) -> str:
        return (
            f"processed={self.processed} hard={self.hard} soft={self.soft} "
            f"complaints={self.complaints} unknown={self.unknown} "
            f"suppressed={self.suppressed} ignored={self.ignored}"
        )

    def count(self, kind: str) -> None:
        name = "complaints" if kind == "complaint" else kind
        setattr(self, name, getattr(self, name) + 1)


def process_message(
    session: Session, raw: bytes, *, source: str = "mailbox", tally: Tally | None = None
) -> list[Bounce]:
    """Parse, match, record and act on one message; returns the bounces recorded (none for an
    auto-reply, a success notice or a message already processed)."""
    tally = tally if tally is not None else Tally()
    tally.processed += 1
    report = parse.parse_report(raw)
    if report.kind in (parse.AUTOREPLY, parse.IGNORED):
        tally.ignored += 1
        return []
    mail_domain = current_app.config["MAIL_DOMAIN"]
    found = match.candidates(session, report, mail_domain)
    recipients = report.recipients or [Recipient()]
    recorded = []
    for recipient in recipients:
        bounce = _record(
            session, report, recipient, found, mail_domain, source, len(recipients) == 1, tally
        )
        if bounce is not None:
            recorded.append(bounce)
    if not recorded:
        tally.ignored += 1
    return recorded


def record_report(
    session: Session,
    *,
    kind: str,
    address: str,
    source: str,
    status: str = "",
    diagnostic: str = "",
    action: str = "failed",
    smtp_code: int | None = None,
    message_id: str = "",
    received_at=None,
    feedback_type: str = "",
    tally: Tally | None = None,
) -> Bounce | None:
    """Record a bounce or complaint a provider reported (webhooks) with the same matching, records
    and effects as a mailbox report; `kind` (hard, soft, complaint) is the provider's verdict.
    Returns None for a report already recorded."""
    if kind not in ("hard", "soft", "complaint"):
        raise ValueError(f"unknown bounce kind {kind!r}")
    tally = tally if tally is not None else Tally()
    tally.processed += 1
    message_ids = [message_id if message_id.startswith("<") else f"<{message_id}>"]
    report = Report(
        parse.COMPLAINT if kind == "complaint" else parse.DSN,
        recipients=[Recipient(address, action, status, diagnostic[:1000], smtp_code)],
        message_ids=message_ids if message_id else [],
        date=received_at,
        feedback_type=feedback_type,
    )
    mail_domain = current_app.config["MAIL_DOMAIN"]
    found = match.candidates(session, report, mail_domain)
    bounce = _record(
        session, report, report.recipients[0], found, mail_domain, source, True, tally, kind
    )
    if bounce is None:
        tally.ignored += 1
    return bounce


def _record(
    session: Session,
    report: Report,
    recipient: Recipient,
    found: match.Candidates,
    mail_domain: str,
    source: str,
    only_recipient: bool,
    tally: Tally,
    verdict_kind: str | None = None,
) -> Bounce | None:
    if verdict_kind is not None:
        kind = verdict_kind
    elif report.kind == parse.COMPLAINT:
        kind = "complaint"
    elif report.kind == parse.UNREADABLE:
        kind = "unknown"
    else:
        verdict = parse.classify(recipient)
        if verdict == parse.IGNORE:
            return None
        kind = KIND_OF_VERDICT[verdict]
    matched = match.match_recipient(session, found, recipient, only_recipient=only_recipient)
    row = matched.outbox
    problem = report.problem
    if report.kind != parse.UNREADABLE:
        if row is None:
            problem = match.unmatched_reason(found, recipient, mail_domain)
            if kind != "unknown":
                problem += f" Read as a {kind} bounce ({recipient.status or 'no status'})."
            kind = "unknown"
        elif kind == "unknown" and not problem:
            problem = "The report gives no delivery status code for this recipient."
    email = row.email if row is not None else recipient.address
    diagnostic = recipient.diagnostic or report.snippet
    if row is not None and recipient.address and not match.same_address(email, recipient.address):
        diagnostic += f" (reported for {recipient.address})"
    bounce = Bounce(
        outbox_id=row.id if row is not None else None,
        email=email[:320] if email else None,
        email_hash=hash_email_key(email_key(email)) if email else None,
        kind=kind,
        action=recipient.action[:20],
        status_code=recipient.status[:20],
        diagnostic=diagnostic,
        source=source[:30],
        problem=problem,
        received_at=report.date,
    )
    if _already_recorded(session, bounce):
        return None
    session.add(bounce)
    session.flush()
    tally.count(kind)
    if kind == "hard":
        _mark_failed(row, recipient)
        _suppress(session, bounce, "hard_bounce", f"Hard bounce {bounce.status_code}", tally)
    elif kind == "soft" and recipient.action != "delayed":
        if recipient.action in ("failed", ""):
            _mark_failed(row, recipient)
        _suppress_after_repeats(session, bounce, tally)
    elif kind == "complaint":
        _complaint(session, bounce, row, report, tally)
    return bounce


def _already_recorded(session: Session, bounce: Bounce) -> bool:
    def same(column, value):
        return column.is_(None) if value is None else column == value

    return session.scalar(
        select(Bounce.id)
        .where(
            same(Bounce.outbox_id, bounce.outbox_id),
            same(Bounce.email_hash, bounce.email_hash),
            same(Bounce.received_at, bounce.received_at),
            Bounce.kind == bounce.kind,
            Bounce.action == bounce.action,
            Bounce.status_code == bounce.status_code,
            Bounce.diagnostic == bounce.diagnostic,
        )
        .limit(1)
    ) is not None


def _mark_failed(row: OutboxMessage | None, recipient: Recipient) -> None:
    if row is None:
        return
    row.status = "failed"
    if recipient.smtp_code is not None:
        row.smtp_code = recipient.smtp_code
    row.smtp_reply = f"Bounced ({recipient.status or 'no status'}): {recipient.diagnostic}"


def _suppress(session: Session, bounce: Bounce, reason: str, note: str, tally: Tally) -> bool:
    """Suppress the bounce's address; True if it was not suppressed before."""
    if not bounce.email or find_suppression(session, bounce.email_hash) is not None:
        return False
    try:
        suppress(session, bounce.email, reason, note=note[:500])
    except ServiceError as exc:
        bounce.problem = f"The address could not be suppressed: {exc.message}"
        return False
    tally.suppressed += 1
    if reason != "complaint":
        record_consent(
            session,
            _contact(session, bounce),
            "suppress",
            EMAIL_SOURCE,
            details={"reason": reason, "status": bounce.status_code, "bounce_id": bounce.id},
            email_hash=bounce.email_hash,
        )
    return True


def soft_limit() -> int:
    return int(current_app.config.get("BOUNCE_SOFT_LIMIT", DEFAULT_SOFT_LIMIT))


def soft_bounce_count(session: Session, email_hash: str) -> int:
    """Distinct messages to this address that soft-bounced (delays do not count)."""
    return session.scalar(
        select(func.count(distinct(Bounce.outbox_id))).where(
            Bounce.email_hash == email_hash,
            Bounce.kind == "soft",
            Bounce.action != "delayed",
        )
    ) or 0


def _suppress_after_repeats(session: Session, bounce: Bounce, tally: Tally) -> None:
    if not bounce.email_hash:
        return
    count = soft_bounce_count(session, bounce.email_hash)
    if count >= soft_limit():
        note = f"{count} soft bounces; the last: {bounce.status_code} {bounce.diagnostic}"
        _suppress(session, bounce, "hard_bounce", note, tally)


def _complaint(
    session: Session, bounce: Bounce, row: OutboxMessage | None, report: Report, tally: Tally
) -> None:
    if not bounce.email:
        return
    _suppress(session, bounce, "complaint", bounce.diagnostic, tally)
    contact = _contact(session, bounce, row)
    subscription = getattr(contact, "subscription", None)
    if subscription is not None and subscription.status != "unsubscribed":
        subscription.status = "unsubscribed"
        subscription.unsubscribed_at = utcnow()
        subscription.paused_until = None
    record_consent(
        session,
        contact,
        "unsubscribe",
        EMAIL_SOURCE,
        details={
            "reason": "complaint",
            "feedback_type": report.feedback_type,
            "bounce_id": bounce.id,
            "outbox_id": bounce.outbox_id,
        },
        email_hash=bounce.email_hash,
    )
    session.flush()


def _contact(
    session: Session, bounce: Bounce, row: OutboxMessage | None = None
) -> Contact | None:
    if row is not None and row.contact_id is not None:
        contact = session.get(Contact, row.contact_id)
        if contact is not None and contact.email_hash == bounce.email_hash:
            return contact
    return session.scalar(select(Contact).where(Contact.email_hash == bounce.email_hash))


# --- staff page -----------------------------------------------------------------------------------


@dataclass
class BounceFilter:
    kind: str = ""
    campaign_id: int | None = None


def parse_filter(args) -> BounceFilter:
    """Query-string filters; unknown values raise ServiceError (the page answers 400)."""
    kind = (args.get("kind") or "").strip()
    if kind and kind not in BOUNCE_KINDS:
        raise ServiceError(f"Unknown kind {kind!r}.", {"kind": "Unknown kind."})
    campaign = (args.get("campaign") or "").strip()
    if campaign and not campaign.isdigit():
        raise ServiceError("The campaign must be a number.", {"campaign": "Not a number."})
    return BounceFilter(kind=kind, campaign_id=int(campaign) if campaign else None)


def bounce_list(filters: BounceFilter) -> Select:
    """Rows of (Bounce, OutboxMessage or None, Campaign or None), newest first."""
    stmt = (
        select(Bounce, OutboxMessage, Campaign)
        .outerjoin(OutboxMessage, OutboxMessage.id == Bounce.outbox_id)
        .outerjoin(Campaign, Campaign.id == OutboxMessage.campaign_id)
        .order_by(Bounce.created_at.desc(), Bounce.id.desc())
    )
    if filters.kind:
        stmt = stmt.where(Bounce.kind == filters.kind)
    if filters.campaign_id is not None:
        stmt = stmt.where(OutboxMessage.campaign_id == filters.campaign_id)
    return stmt


def kind_counts(session: Session, campaign_id: int | None = None) -> dict[str, int]:
    stmt = select(Bounce.kind, func.count()).group_by(Bounce.kind)
    if campaign_id is not None:
        stmt = stmt.join(OutboxMessage, OutboxMessage.id == Bounce.outbox_id).where(
            OutboxMessage.campaign_id == campaign_id
        )
    counts = dict.fromkeys(BOUNCE_KINDS, 0)
    counts.update(dict(session.execute(stmt).tuples().all()))
    return counts


# --- Runs: progress of `flask delivery process-bounces` ---------------------------------------

RUNS_SHOWN = 5


def start_run(session: Session, source_names: list[str]) -> BounceRun:
    """Record (and commit) the start of a pass over the bounce mailboxes."""
    run = BounceRun(sources=", ".join(source_names)[:500], counts=asdict(Tally()))
    session.add(run)
    session.commit()
    return run


def record_progress(run: BounceRun, tally: Tally) -> None:
    """Copy the counts so far into the run; committed by the caller with the batch."""
    run.messages_done = tally.processed
    run.counts = asdict(tally)


def finish_run(session: Session, run: BounceRun, tally: Tally, error: str = "") -> None:
    record_progress(run, tally)
    run.status = "failed" if error else "done"
    run.error = error
    run.finished_at = utcnow()
    session.commit()


def recent_runs(session: Session, limit: int = RUNS_SHOWN) -> list[BounceRun]:
    return list(
        session.scalars(select(BounceRun).order_by(BounceRun.started_at.desc()).limit(limit))
    )
