"""The sender worker: claim a batch, send each message, record the batch, repeat.

Per batch (DB work is batched): one claim, one query for the contacts, one for who is still
mailable, one for suppressed addresses, one signing pass for the link tokens, one statement for
the outcomes, one commit. Per recipient: render the compiled templates of the campaign (prepared
once per campaign by this worker), fill the prebuilt message, throttle, submit it over the
kept-open connection; the transport pipelines, so a message's outcome arrives with the next
submission (or the batch's final flush).

The server's replies decide each row (see `transport`): sent; 4xx retried with exponential backoff
up to DELIVERY_MAX_ATTEMPTS; 5xx failed (hard bounces suppressed); server down: the rest of the
batch goes back to the queue and the worker waits, so the campaign resumes by itself. After
DELIVERY_MAX_CONSECUTIVE_ERRORS refusals in a row the campaign is paused with the reason.
SIGTERM/SIGINT (`stop`) finish the current message and release the rest of the batch.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from flask import Flask
from sqlalchemy import and_, any_, bindparam, case, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased

from outreach.campaigns import lifecycle
from outreach.campaigns.models import Campaign
from outreach.contacts.models import Contact, ContactCountry, Organisation
from outreach.contacts.validation import email_key, hash_email_key
from outreach.core.database import is_postgresql, utcnow
from outreach.core.errors import ServiceError
from outreach.delivery import transport as smtp
from outreach.delivery.message import AddressError, CampaignHeaders, LinkBuilder, MessageFactory
from outreach.delivery.models import OutboxMessage, WorkerHeartbeat
from outreach.delivery.outbox import (
    ClaimedRow,
    RowOutcome,
    claim_batch,
    record_outcomes,
    requeue_stale,
    skip_closed,
)
from outreach.delivery.throttle import Throttle
from outreach.extensions import db
from outreach.ops import delivery as observe
from outreach.subscriptions.audience import mailable_conditions
from outreach.subscriptions.models import Suppression
from outreach.subscriptions.services import link_tokens, suppress

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
STATUS_CHECK_SECONDS = 2.0
STALE_CHECK_SECONDS = 60.0
MAX_IDLE_BACKOFF = 60.0
UNPREPARED = "campaign could not be prepared"


def default_worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class WorkerStats:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retrying: int = 0
    released: int = 0
    batches: int = 0
    server_unavailable: bool = False
    paused_campaigns: list[int] = field(default_factory=list)
    finished_campaigns: list[int] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"sent={self.sent} failed={self.failed} skipped={self.skipped} "
            f"retrying={self.retrying} released={self.released}"
        )
        if self.server_unavailable:
            text += " (SMTP server unavailable: the rest waits in the queue)"
        return text


class Sender(Protocol):
    """Renders one kind of outbox message. Made once per worker: per campaign for campaign rows,
    per kind for the others (see `register_sender`)."""

    topic: str | None  # the subscription topic re-checked at send time (None: any)
    factory: MessageFactory

    def render(self, row: ClaimedRow, recipient, *, unsubscribe_url: str, preferences_url: str):
        """The `Rendered` message for one row and recipient."""


SENDER_FACTORIES: dict[str, Callable[[Session, Flask], Sender]] = {}
SKIPPED = "skipped"  # an outcome decided before sending: no SMTP exchange


class SkipMessage(Exception):
    """Raised by a sender's `render` when a row must not be sent after all (the message is
    recorded on the row, which becomes skipped); any other exception fails the row."""


def register_sender(kind: str, make: Callable[[Session, Flask], Sender]) -> None:
    """Let the worker send outbox rows of `kind` (alerts, digests...). `make(session, app)` is
    called once per worker; register at import time of a module that `outreach.models` imports."""
    SENDER_FACTORIES[kind] = make


@dataclass
class CampaignSender:
    """What this worker prepared once for a campaign."""

    campaign_id: int
    topic: str
    prepared: object
    factory: MessageFactory

    def render(self, row: ClaimedRow, recipient, *, unsubscribe_url: str, preferences_url: str):
        return self.prepared.render(
            recipient,
            unsubscribe_url=unsubscribe_url,
            preferences_url=preferences_url,
            outbox_id=row.id,
            subject_index=(row.payload or {}).get("subject"),
        )


@dataclass(frozen=True, slots=True)
class ContactData:
    id: int
    email: str
    email_hash: str
    first_name: str
    last_name: str
    type: str
    country_code: str | None
    organisation: str
    countries: tuple[str, ...]

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


@dataclass(slots=True)
class Job:
    """One claimed row, ready to send (or already decided)."""

    row: ClaimedRow
    recipient: object | None = None
    to_name: str = ""
    unsubscribe_token: str = ""
    preferences_token: str = ""
    skip_reason: str = ""


class Worker:
    def __init__(
        self,
        app: Flask,
        name: str | None = None,
        *,
        batch_size: int | None = None,
        stop: threading.Event | None = None,
    ):
        config = app.config
        self.app = app
        self.name = name or default_worker_name()
        self.batch_size = batch_size or config["DELIVERY_BATCH_SIZE"]
        self.max_attempts = config["DELIVERY_MAX_ATTEMPTS"]
        self.retry_base = config["DELIVERY_RETRY_BASE_SECONDS"]
        self.lease = config["DELIVERY_LEASE_SECONDS"]
        self.claim_renewed = time.monotonic()
        self.max_errors = config["DELIVERY_MAX_CONSECUTIVE_ERRORS"]
        self.poll = config["DELIVERY_POLL_SECONDS"]
        self.stop = stop or threading.Event()
        self.session = db.session
        self.postgresql = is_postgresql(db.engine)
        self.throttle = Throttle(
            config["DELIVERY_RATE"], config["DELIVERY_HOURLY_LIMIT"], sleep=self.stop.wait
        )
        self.transport = smtp.SmtpTransport(
            timeout=config["DELIVERY_SMTP_TIMEOUT"],
            max_per_connection=config["DELIVERY_MESSAGES_PER_CONNECTION"],
        )
        self.links = LinkBuilder(config)
        # Keyed by campaign id (campaign rows) or by kind (other rows).
        self.senders: dict[int | str, Sender | None] = {}
        self.consecutive_errors: dict[int, int] = {}
        self.stats = WorkerStats()
        self.unavailable_streak = 0
        self.last_heartbeat = 0.0
        self.last_stale_check = 0.0

    # -- the loop

    def run(self, once: bool = False) -> WorkerStats:
        """Send until stopped; with `once`, until nothing is due (or the server is down)."""
        log.info("worker %s started (batch size %d)", self.name, self.batch_size)
        try:
            while not self.stop.is_set():
                try:
                    if not self._step(once):
                        break
                except Exception:
                    if once:
                        raise
                    # The database or a bug: the claimed rows come back after the lease.
                    log.exception("worker %s: batch failed", self.name)
                    self.session.rollback()
                    self.stop.wait(max(self.poll, 5))
        finally:
            self.transport.close()
            self._last_heartbeat()
        log.info("worker %s stopped: %s", self.name, self.stats.summary())
        return self.stats

    def _step(self, once: bool) -> bool:
        """Claim and send one batch; False when the run should end."""
        self._housekeeping()
        rows = claim_batch(self.session, self.name, self.batch_size, utcnow())
        if not rows:
            if once:
                return False
            self.stop.wait(self.poll)
            return True
        self.process_batch(rows)
        if self.stats.server_unavailable:
            if once:
                return False
            self.unavailable_streak += 1
            wait = min(MAX_IDLE_BACKOFF, 2.0**self.unavailable_streak)
            log.warning("SMTP server unavailable; waiting %.0f s", wait)
            self.stop.wait(wait)
            self.stats.server_unavailable = False
        return True

    def _last_heartbeat(self) -> None:
        try:
            self.session.rollback()
            self.heartbeat(note="stopped", force=True)
            self.session.commit()
        except Exception:
            log.exception("worker %s: could not write its last heartbeat", self.name)
            self.session.rollback()

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self.last_stale_check >= min(STALE_CHECK_SECONDS, self.lease / 2):
            self.last_stale_check = now
            if requeue_stale(self.session, self.lease, utcnow()):
                skip_closed(self.session)
                self.session.commit()
        if self.heartbeat():
            self.session.commit()

    def heartbeat(self, note: str = "", force: bool = False) -> bool:
        now = time.monotonic()
        if not force and now - self.last_heartbeat < HEARTBEAT_SECONDS:
            return False
        self.last_heartbeat = now
        beat = self.session.get(WorkerHeartbeat, self.name)
        if beat is None:
            beat = WorkerHeartbeat(name=self.name, role="worker")
            self.session.add(beat)
        beat.seen_at = utcnow()
        beat.sent_total = self.stats.sent
        beat.note = note or f"pid {os.getpid()}"
        return True

    # -- one batch

    def _keep_claim(self) -> bool:
        """Renew this worker's claim on the rows it is sending, well before the lease runs out,
        so a slow server or a long throttle wait never lets another worker take (and send) them.
        Returns False, so it can sit in a `stopping` callback."""
        now = time.monotonic()
        if now - self.claim_renewed < self.lease / 3:
            return False
        self.claim_renewed = now
        self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.claimed_by == self.name, OutboxMessage.status == "sending")
            .values(claimed_at=utcnow())
        )
        self.session.commit()
        return False

    def process_batch(self, rows: list[ClaimedRow]) -> None:
        self.stats.batches += 1
        jobs = self._prepare(rows)
        self.session.commit()  # end the read transaction; everything needed is in `jobs`
        self.claim_renewed = time.monotonic()
        results: list[RowOutcome] = []
        hard_bounces: list[tuple[str, str]] = []
        touched: set[int] = set()
        closed: set[int] = set()
        try:
            self._send_jobs(jobs, results, hard_bounces, touched, closed)
        finally:
            # Whatever happened, what was sent is recorded (else it would be sent again).
            try:
                self._settle(_unpack(self.transport.flush()), results, hard_bounces, closed)
            finally:
                self._save(results, hard_bounces, touched, closed)

    def _send_jobs(self, jobs, results, hard_bounces, touched, closed) -> None:
        last_status_check = time.monotonic()
        pending = iter(jobs)
        for job in pending:
            row = job.row
            if row.campaign_id is not None:
                touched.add(row.campaign_id)
            if time.monotonic() - last_status_check >= STATUS_CHECK_SECONDS:
                last_status_check = time.monotonic()
                closed |= self._not_sending(touched)
            if self.stop.is_set():
                self._release(results, [job, *pending])
                break
            if row.campaign_id in closed:
                self._release(results, [job])
                continue
            if job.skip_reason:
                results.append(self._skip(row, job.skip_reason))
                if job.skip_reason == UNPREPARED:
                    closed.add(row.campaign_id)  # failed: its other queued rows are skipped too
                continue
            self._keep_claim()
            try:
                done = self._send(job)
            except Exception as exc:  # a bug or a broken setting (e.g. a bad DKIM key)
                log.exception("outbox row %s: could not be sent", row.id)
                done = [(job, smtp.Outcome(smtp.TEMPORARY, None, f"error: {exc}"), None)]
            if done is None:  # stopped while throttled
                self._release(results, [job, *pending])
                break
            if self._settle(done, results, hard_bounces, closed):
                self._release(results, list(pending), delay=self._unavailable_delay())
                break

    def _settle(self, done, results, hard_bounces, closed) -> bool:
        """Record the outcomes known so far; True when the server turned out unavailable."""
        unavailable = False
        for job, outcome, message_id in done:
            row = job.row
            results.append(self._record(row, outcome, message_id))
            observe.record_outcome(row, results[-1])
            if outcome.hard_bounce:
                hard_bounces.append((row.email, outcome.reply))
            if outcome.kind == smtp.UNAVAILABLE:
                self.stats.server_unavailable = unavailable = True
                continue
            self.unavailable_streak = 0
            if row.campaign_id is not None and self._count_error(row.campaign_id, outcome):
                closed.add(row.campaign_id)
        return unavailable

    def _prepare(self, rows: list[ClaimedRow]) -> list[Job]:
        """Decide skips and gather what rendering needs: per sender one query for the contacts,
        whether each may still be mailed its topic and whether its address is suppressed, and
        one for their countries."""
        jobs = [Job(row) for row in rows]
        usable = {key for key in {_key(row) for row in rows} if self._sender(key) is not None}
        contacts, mailable, suppressed = self._recipients(rows, usable)
        hashes = {row.id: _row_hash(row, contacts.get(row.contact_id)) for row in rows}
        unknown = (
            set(hashes.values()) - suppressed.keys() - {c.email_hash for c in contacts.values()}
        )
        if unknown:  # an address that is not (or no longer) the contact's: look it up
            suppressed.update(self._suppressed(unknown))
        for job in jobs:
            row = job.row
            key = _key(row)
            if key not in usable:
                job.skip_reason = (
                    UNPREPARED if row.kind == "campaign" else f"no sender for {row.kind!r} messages"
                )
            elif (reason := suppressed.get(hashes[row.id])) is not None:
                job.skip_reason = f"suppressed ({reason})"
            elif (contact := contacts.get(row.contact_id)) is None:
                job.skip_reason = "contact erased"
            elif contact.id not in mailable.get(key, ()):
                job.skip_reason = "no longer mailable (inactive, unsubscribed or paused)"
            else:
                self._fill(job, contact)
        self._sign([job for job in jobs if job.recipient is not None], contacts)
        return jobs

    def _among(self, column, values: list):
        """`column IN values`; on PostgreSQL `= ANY(array)`: one parameter instead of hundreds."""
        if self.postgresql:
            return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
        return column.in_(values)

    def _recipients(self, rows: list[ClaimedRow], keys: set):
        """(contacts by id, mailable contact ids per sender, suppression reasons by hash)."""
        contacts: dict[int, ContactData] = {}
        mailable: dict[int | str, set[int]] = {}
        suppressed: dict[str, str] = {}
        all_ids = {row.contact_id for row in rows if row.contact_id is not None}
        if not all_ids:
            return contacts, mailable, suppressed
        countries: dict[int, list[str]] = {}
        for contact_id, code in self.session.execute(
            select(ContactCountry.contact_id, ContactCountry.country_code)
            .where(self._among(ContactCountry.contact_id, list(all_ids)))
            .order_by(ContactCountry.contact_id, ContactCountry.country_code)
        ):
            countries.setdefault(contact_id, []).append(code)
        for key in keys:
            ids = [row.contact_id for row in rows if _key(row) == key and row.contact_id]
            may_mail = case((and_(*mailable_conditions(self.senders[key].topic)), 1), else_=0)
            blocked = aliased(Suppression)  # apart from the one inside mailable_conditions
            statement = (
                select(
                    Contact.id,
                    Contact.email,
                    Contact.email_hash,
                    Contact.first_name,
                    Contact.last_name,
                    Contact.type,
                    Contact.country_code,
                    Organisation.name,
                    may_mail,
                    blocked.reason,
                )
                .outerjoin(Organisation, Organisation.id == Contact.organisation_id)
                .outerjoin(blocked, blocked.email_hash == Contact.email_hash)
                .where(self._among(Contact.id, ids))
            )
            mailable[key] = set()
            for row in self.session.execute(statement):
                contact_id = row[0]
                if contact_id not in contacts:
                    contacts[contact_id] = ContactData(
                        *row[:7], row[7] or "", tuple(countries.get(contact_id, ()))
                    )
                if row[8]:
                    mailable[key].add(contact_id)
                if row[9] is not None:
                    suppressed[row[2]] = row[9]
        return contacts, mailable, suppressed

    def _fill(self, job: Job, contact: ContactData) -> None:
        from outreach.campaigns.rendering import Recipient

        row = job.row
        job.recipient = Recipient(
            email=row.email,
            language=row.language,
            contact_id=contact.id,
            first_name=contact.first_name or "",
            last_name=contact.last_name or "",
            organisation=contact.organisation,
            contact_type=contact.type or "",
            country_code=contact.country_code,
            countries=contact.countries,
        )
        job.to_name = contact.full_name

    def _sign(self, jobs: list[Job], contacts: dict[int, ContactData]) -> None:
        """The two link tokens of every job, signed in one go (`link_tokens` reads only `id`
        and `email_hash`, which ContactData has)."""
        signed = link_tokens([contacts[job.row.contact_id] for job in jobs])
        for job, (unsubscribe, preferences) in zip(jobs, signed, strict=True):
            job.unsubscribe_token, job.preferences_token = unsubscribe, preferences

    def _suppressed(self, hashes: set[str]) -> dict[str, str]:
        entries = self.session.execute(
            select(Suppression.email_hash, Suppression.reason).where(
                self._among(Suppression.email_hash, list(hashes))
            )
        )
        return dict(entries.tuples().all())

    def _sender(self, key: int | str) -> Sender | None:
        """The sender for a campaign id or a message kind, made once per worker."""
        if key in self.senders:
            return self.senders[key]
        if isinstance(key, int):
            sender = self._campaign_sender(key)
        elif key in SENDER_FACTORIES:
            try:
                sender = SENDER_FACTORIES[key](self.session, self.app)
            except Exception:
                log.exception("no sender for %r messages", key)
                self.session.rollback()
                return None  # not cached: tried again with the next batch
        else:
            sender = None
        self.senders[key] = sender
        return sender

    def _campaign_sender(self, campaign_id: int) -> CampaignSender | None:
        from outreach.campaigns.rendering import PreparedCampaign

        campaign = self.session.get(Campaign, campaign_id)
        try:
            prepared = PreparedCampaign.prepare(self.session, campaign, for_delivery=True)
            factory = MessageFactory(
                CampaignHeaders.for_campaign(campaign, self.app.config), self.app.config
            )
        except Exception as exc:  # a campaign that cannot render must not stop the worker
            log.exception("campaign %s could not be prepared", campaign_id)
            self.session.rollback()
            self._fail_campaign(campaign_id, f"Could not prepare the messages: {exc}")
            return None
        return CampaignSender(campaign_id, campaign.subscription_topic, prepared, factory)

    def _fail_campaign(self, campaign_id: int, reason: str) -> None:
        campaign = self.session.get(Campaign, campaign_id)
        try:
            lifecycle.fail(self.session, campaign, reason[:1000])
        except ServiceError:
            return
        self.session.commit()

    def _send(self, job: Job) -> list[tuple[Job, smtp.Outcome, str | None]] | None:
        """Render, build and submit one job's message: the outcomes known so far (the previous
        message's, as the transport pipelines), or None when stopped while throttled."""
        row = job.row
        sender = self.senders[_key(row)]
        unsubscribe_url = self.links.unsubscribe(job.unsubscribe_token)
        try:
            rendered = sender.render(
                row,
                job.recipient,
                unsubscribe_url=unsubscribe_url,
                preferences_url=self.links.preferences(job.preferences_token, row.language),
            )
        except SkipMessage as exc:
            return [(job, smtp.Outcome(SKIPPED, None, str(exc)), None)]
        except Exception as exc:
            log.warning("could not render outbox row %s: %s", row.id, exc)
            return [(job, smtp.Outcome(smtp.PERMANENT, None, f"could not render: {exc}"), None)]
        try:
            message = sender.factory.build(
                rendered,
                to_email=row.email,
                to_name=job.to_name,
                outbox_id=row.id,
                unsubscribe_url=unsubscribe_url,
                unsubscribe_token=job.unsubscribe_token,
            )
        except AddressError as exc:
            return [(job, smtp.Outcome(smtp.INVALID, None, str(exc)), None)]
        if not self.throttle.acquire(lambda: self._keep_claim() or self.stop.is_set()):
            return None
        submit = partial(self.transport.submit, message, (job, message.message_id))
        return _unpack(observe.timed_send(row, submit))

    # -- outcomes

    def _record(self, row: ClaimedRow, outcome: smtp.Outcome, message_id: str | None):
        now = utcnow()
        attempts = row.attempts + 1
        kind = outcome.kind
        result = RowOutcome(
            row.id,
            "failed",
            attempts,
            smtp_code=outcome.code,
            smtp_reply=outcome.reply,
            message_id=message_id,
        )
        if kind == smtp.SENT:
            result.status, result.sent_at = "sent", now
            self.stats.sent += 1
        elif kind == SKIPPED:
            result.status, result.attempts = "skipped", row.attempts
            self.stats.skipped += 1
        elif kind == smtp.TEMPORARY and attempts < self.max_attempts:
            result.status = "queued"
            result.next_attempt_at = next_retry(attempts, self.retry_base, now)
            self.stats.retrying += 1
        elif kind == smtp.TEMPORARY:
            result.smtp_reply = f"gave up after {attempts} attempts: {outcome.reply}"
            self.stats.failed += 1
        elif kind in (smtp.BLOCKED, smtp.UNAVAILABLE):
            result.status, result.attempts = "queued", row.attempts
            result.next_attempt_at = now + timedelta(seconds=self._unavailable_delay())
            self.stats.retrying += kind == smtp.BLOCKED
            self.stats.released += kind == smtp.UNAVAILABLE
        else:  # permanent or invalid
            if kind == smtp.INVALID:
                result.attempts = row.attempts
            self.stats.failed += 1
        return result

    def _skip(self, row: ClaimedRow, reason: str) -> RowOutcome:
        self.stats.skipped += 1
        return RowOutcome(row.id, "skipped", row.attempts, smtp_reply=reason)

    def _release(self, results: list[RowOutcome], jobs: list[Job], delay: float = 0) -> None:
        """Give rows back to the queue untouched (no attempt counted)."""
        at = utcnow() + timedelta(seconds=delay)
        for job in jobs:
            results.append(RowOutcome(job.row.id, "queued", job.row.attempts, next_attempt_at=at))
        self.stats.released += len(jobs)

    def _unavailable_delay(self) -> float:
        return min(self.retry_base, 30)

    def _count_error(self, campaign_id: int, outcome: smtp.Outcome) -> bool:
        """Track refusals in a row; pause the campaign at the limit. True if it was paused."""
        if outcome.kind == smtp.SENT:
            self.consecutive_errors[campaign_id] = 0
            return False
        if not outcome.is_rejection:
            return False
        count = self.consecutive_errors.get(campaign_id, 0) + 1
        self.consecutive_errors[campaign_id] = count
        if not self.max_errors or count < self.max_errors:
            return False
        self.consecutive_errors[campaign_id] = 0
        campaign = self.session.get(Campaign, campaign_id)
        reason = (
            f"Paused automatically: the mail server refused {count} messages in a row. "
            f"Last reply: {outcome.reply}"
        )
        try:
            lifecycle.pause(self.session, campaign, reason[:1000])
        except ServiceError:
            return True
        self.stats.paused_campaigns.append(campaign_id)
        log.warning("campaign %s paused: %s", campaign_id, reason)
        return True

    def _not_sending(self, campaign_ids: set[int]) -> set[int]:
        if not campaign_ids:
            return set()
        rows = self.session.execute(
            select(Campaign.id).where(Campaign.id.in_(campaign_ids), Campaign.status != "sending")
        )
        return set(rows.scalars())

    def _save(
        self,
        results: list[RowOutcome],
        hard_bounces: list[tuple[str, str]],
        touched: set[int],
        closed: set[int],
    ) -> None:
        """Outcomes, suppressions and heartbeat in one transaction, then finished campaigns.

        The finish check runs after the commit: two workers ending a campaign's last batches at the
        same time each see the other's rows once committed, so the later check finishes it.
        """
        record_outcomes(self.session, results)
        for email, reply in hard_bounces:
            try:
                suppress(self.session, email, "hard_bounce", note=reply[:500])
            except ServiceError:
                log.warning("could not suppress %r", email)
        if closed:
            skip_closed(self.session)
        self.heartbeat()
        self.session.commit()
        finished = False
        for campaign_id in touched - closed:
            if lifecycle.finish_if_done(self.session, campaign_id):
                self.senders.pop(campaign_id, None)
                self.stats.finished_campaigns.append(campaign_id)
                finished = True
        if finished:
            self.session.commit()
        else:
            self.session.rollback()


def _unpack(done: list[tuple[tuple[Job, str], smtp.Outcome]]):
    """The transport's (tag, outcome) pairs, tagged (job, Message-ID), as (job, outcome, id)."""
    return [(job, outcome, message_id) for (job, message_id), outcome in done]


def _key(row: ClaimedRow) -> int | str:
    """Which sender handles a row: its campaign, else its kind."""
    return row.campaign_id if row.kind == "campaign" and row.campaign_id is not None else row.kind


def _row_hash(row: ClaimedRow, contact: ContactData | None) -> str:
    """The suppression key of the row's address (the contact's stored hash when it is the same
    address, which spares validating every address again)."""
    if contact is not None and contact.email == row.email:
        return contact.email_hash
    return hash_email_key(email_key(row.email))


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set `stop` (main thread only); the previous handlers come back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, _frame):
        log.info("signal %s: finishing the current message", signum)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_worker(
    app: Flask,
    name: str | None = None,
    once: bool = False,
    *,
    batch_size: int | None = None,
    stop: threading.Event | None = None,
    handle_signals: bool = False,
) -> WorkerStats:
    """Run a worker in its own application context until stopped (or, with `once`, until idle)."""
    stop = stop or threading.Event()
    with app.app_context():
        worker = Worker(app, name, batch_size=batch_size, stop=stop)
        if handle_signals:
            with stop_on_signals(stop):
                return worker.run(once=once)
        return worker.run(once=once)


def next_retry(attempts: int, base: float, now: datetime) -> datetime:
    """When a row refused `attempts` times with 4xx is tried again."""
    return now + timedelta(seconds=base * 2 ** max(0, attempts - 1))
