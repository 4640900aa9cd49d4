"""`flask scheduler`: one process that looks in the database for due work, every few seconds.

Jobs live in a registry (`register_job(name, func, seconds)`; later features add alerts, digests
and feed polls); each is called as `func(session)` in its own application context and must be
idempotent, because two schedulers, or one restarted mid-job, may run it again.

Only the leader runs jobs. On PostgreSQL the leader holds `pg_try_advisory_lock` on a dedicated
connection: if its process dies the connection closes, the lock is released and a standby takes
over at its next election tick. On SQLite the leader holds a lease row in `scheduler_locks`,
renewed every tick and taken over once it has expired. Neither is what keeps a campaign from being
sent twice: `lifecycle.claim_start` (a conditional UPDATE) and the outbox's unique constraint are.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from outreach.campaigns import lifecycle
from outreach.campaigns.models import Campaign
from outreach.core.database import is_postgresql, utcnow
from outreach.delivery.models import SchedulerLock, WorkerHeartbeat
from outreach.delivery.outbox import enqueue_campaign, requeue_stale, skip_closed
from outreach.extensions import db
from outreach.ops.metrics import SCHEDULER_RUNS

log = logging.getLogger(__name__)

LOCK_NAME = "scheduler"
# The advisory lock key: any constant bigint no other feature uses.
ADVISORY_LOCK_KEY = 0x0AC7_0E5C_ED01


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    func: Callable[[Session], object]
    seconds: float


JOBS: dict[str, ScheduledJob] = {}


def register_job(name: str, func: Callable[[Session], object] | None = None, seconds: float = 10):
    """Add (or replace) a job; usable as `@register_job("name", seconds=60)` too."""

    def add(function: Callable[[Session], object]):
        JOBS[name] = ScheduledJob(name, function, seconds)
        return function

    return add(func) if func is not None else add


# -- the delivery jobs


def start_due_campaigns(session: Session, now: datetime | None = None) -> list[int]:
    """Start scheduled campaigns whose time has come; only the caller that wins `claim_start`
    enqueues. Returns the ids this caller started."""
    started = []
    for campaign_id in lifecycle.due_campaign_ids(session, now):
        if lifecycle.claim_start(session, campaign_id, now):
            session.commit()
            started.append(campaign_id)
            enqueue_campaign(session, session.get(Campaign, campaign_id))
        else:
            session.rollback()
    return started


def resume_enqueueing(session: Session) -> list[int]:
    """Finish enqueueing campaigns that started but whose enqueueing never completed (a crash)."""
    campaigns = session.scalars(
        select(Campaign).where(
            Campaign.status.in_(("sending", "paused")), Campaign.enqueued_at.is_(None)
        )
    ).all()
    for campaign in campaigns:
        enqueue_campaign(session, campaign)
    return [campaign.id for campaign in campaigns]


def campaigns_job(session: Session) -> None:
    start_due_campaigns(session)
    resume_enqueueing(session)


def finish_campaigns(session: Session) -> list[int]:
    """Mark sent every sending campaign with nothing left to send."""
    finished = [
        campaign_id
        for campaign_id in session.scalars(select(Campaign.id).where(Campaign.status == "sending"))
        if lifecycle.finish_if_done(session, campaign_id)
    ]
    skip_closed(session)
    session.commit()
    return finished


def requeue_job(session: Session) -> None:
    from flask import current_app

    requeue_stale(session, current_app.config["DELIVERY_LEASE_SECONDS"])


register_job("campaigns.start", campaigns_job, seconds=10)
register_job("campaigns.finish", finish_campaigns, seconds=10)
register_job("outbox.requeue-stale", requeue_job, seconds=30)


# -- leader election


class Leadership:
    """Who runs the jobs: an advisory lock (PostgreSQL) or a lease row (SQLite)."""

    def __init__(self, app: Flask, holder: str, lease_seconds: float):
        self.app = app
        self.holder = holder
        self.lease_seconds = lease_seconds
        self.connection = None
        self.is_leader = False

    def elect(self) -> bool:
        """Take or keep the leadership if possible; returns whether this process leads."""
        with self.app.app_context():
            if is_postgresql(db.engine):
                self.is_leader = self._advisory_lock()
            else:
                self.is_leader = self._lease()
        return self.is_leader

    def _advisory_lock(self) -> bool:
        if self.connection is not None:
            try:
                self.connection.execute(text("SELECT 1"))
                return self.is_leader or self._try_lock()
            except SQLAlchemyError:
                log.warning("scheduler %s lost its database connection", self.holder)
                self._close_connection()
        try:
            connection = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            # Out of the pool: closing it ends the database session, which frees the lock.
            connection.detach()
            self.connection = connection
            return self._try_lock()
        except SQLAlchemyError:
            log.exception("scheduler %s cannot reach the database", self.holder)
            self._close_connection()
            return False

    def _try_lock(self) -> bool:
        return bool(
            self.connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            ).scalar()
        )

    def _close_connection(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                connection.close()
            except SQLAlchemyError:
                connection.invalidate()

    def _lease(self) -> bool:
        session = db.session
        now = utcnow()
        expires = now + timedelta(seconds=self.lease_seconds)
        try:
            result = session.execute(
                update(SchedulerLock)
                .where(
                    SchedulerLock.name == LOCK_NAME,
                    or_(SchedulerLock.holder == self.holder, SchedulerLock.expires_at < now),
                )
                .values(holder=self.holder, expires_at=expires)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                session.commit()
                return True
            session.rollback()
            if session.get(SchedulerLock, LOCK_NAME) is not None:
                return False
            session.add(SchedulerLock(name=LOCK_NAME, holder=self.holder, expires_at=expires))
            session.commit()
            return True
        except IntegrityError:
            session.rollback()
            return False
        finally:
            session.remove()

    def release(self) -> None:
        if self.connection is not None:
            self._close_connection()  # closing the session releases the advisory lock
        elif self.is_leader:
            with self.app.app_context():
                db.session.execute(
                    delete(SchedulerLock).where(
                        SchedulerLock.name == LOCK_NAME, SchedulerLock.holder == self.holder
                    )
                )
                db.session.commit()
                db.session.remove()
        self.is_leader = False


# -- the process


class Scheduler:
    def __init__(self, app: Flask, name: str | None = None, interval: float | None = None):
        self.app = app
        self.name = name or f"scheduler-{socket.gethostname()}-{os.getpid()}"
        self.interval = interval or app.config["DELIVERY_SCHEDULER_SECONDS"]
        self.leadership = Leadership(app, self.name, lease_seconds=3 * self.interval)
        self._scheduler = None
        self._lock = threading.Lock()

    @property
    def is_leader(self) -> bool:
        return self.leadership.is_leader

    def elect(self) -> bool:
        with self._lock:
            was_leader = self.is_leader
            leader = self.leadership.elect()
        if leader != was_leader:
            log.info("scheduler %s is %s", self.name, "the leader" if leader else "on standby")
        self._heartbeat("leader" if leader else "standby")
        return leader

    def _heartbeat(self, note: str) -> None:
        with self.app.app_context():
            try:
                beat = db.session.get(WorkerHeartbeat, self.name)
                if beat is None:
                    beat = WorkerHeartbeat(name=self.name, role="scheduler")
                    db.session.add(beat)
                beat.seen_at = utcnow()
                beat.note = note
                db.session.commit()
            except SQLAlchemyError:
                db.session.rollback()
                log.exception("scheduler %s could not write its heartbeat", self.name)
            finally:
                db.session.remove()

    def run_job(self, job: ScheduledJob) -> bool:
        """Run one job if this process leads; a failing job is logged and rolled back."""
        if not self.is_leader:
            return False
        with self.app.app_context():
            try:
                job.func(db.session)
                db.session.commit()
            except Exception:
                log.exception("scheduler job %s failed", job.name)
                db.session.rollback()
                SCHEDULER_RUNS.labels(job.name, "failed").inc()
                return False
            finally:
                db.session.remove()
        SCHEDULER_RUNS.labels(job.name, "ok").inc()
        return True

    def run_once(self) -> list[str]:
        """Elect, run every job once if leading, and step down; returns the jobs run."""
        ran = []
        try:
            if self.elect():
                ran = [job.name for job in list(JOBS.values()) if self.run_job(job)]
        finally:
            self.leadership.release()
        return ran

    def start(self) -> None:
        """Block, running the election and the jobs on their intervals until shutdown."""
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.blocking import BlockingScheduler

        scheduler = BlockingScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone="UTC",
        )
        self._scheduler = scheduler
        now = datetime.now().astimezone()
        scheduler.add_job(
            self.elect, "interval", seconds=self.interval, id="election", next_run_time=now
        )
        for job in list(JOBS.values()):
            scheduler.add_job(
                self.run_job,
                "interval",
                seconds=job.seconds,
                args=[job],
                id=job.name,
                next_run_time=now + timedelta(seconds=1),
            )
        log.info("scheduler %s started with jobs: %s", self.name, ", ".join(JOBS))
        try:
            scheduler.start()
        finally:
            self.leadership.release()

    def shutdown(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
