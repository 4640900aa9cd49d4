"""A scratch database, a campaign of a few hundred recipients, and what happened to it.

The database (a SQLite file, or a dedicated PostgreSQL database named with the pid) is created by
the test with `db.create_all()`; the delivery processes reach it through `DATABASE_URL`. The test
process keeps an app of its own on the same database to build the campaign and read the outcome.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from outreach.campaigns import lifecycle
from outreach.campaigns.models import Campaign, CampaignVariant
from outreach.contacts.models import Contact, ContactCountry
from outreach.core.database import utcnow
from outreach.delivery.models import OutboxMessage
from outreach.extensions import db
from outreach.segments.models import Segment
from outreach.subscriptions.models import Suppression
from tests.reliability.smtp_sink import Delivery

_databases = itertools.count(1)

VARIANTS = {
    "en": (
        "UPR news for {{ contact.first_name }}",
        "Dear {{ contact.full_name }},\n\n"
        "The **Working Group** meets soon. Your country: {{ contact.country }}.\n\n"
        "{% for d in upcoming_deadlines %}\n- {{ d.label }}: {{ d.date }}\n{% endfor %}\n\n"
        "[Change your preferences]({{ preferences_url }})",
    ),
    "fr": (
        "Nouvelles de l'EPU pour {{ contact.first_name }}",
        "Chère, cher {{ contact.full_name }},\n\n"
        "Le **Groupe de travail** se réunit bientôt. Votre pays : {{ contact.country }}.\n\n"
        "{% for d in upcoming_deadlines %}\n- {{ d.label }} : {{ d.date }}\n{% endfor %}\n\n"
        "[Vos préférences]({{ preferences_url }})",
    ),
}
COUNTRIES = ("SN", "FR", "BR", "IN", "KE", "CH")


def postgres_wanted() -> bool:
    return "postgresql" in os.environ.get("OUTREACH_TEST_DATABASES", "sqlite").split(",")


@contextmanager
def scratch_database(kind: str, directory: Path) -> Iterator[str]:
    """A new, empty database for one test; a PostgreSQL one is dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'reliability.db'}"
        return
    from tests.conftest import _postgres_admin

    base, admin = _postgres_admin()
    name = f"{base.database}_reliability_{os.getpid()}_{next(_databases)}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def database_kind(url: str) -> str:
    return make_url(url).get_backend_name()


@contextmanager
def local_app(url: str) -> Iterator[Flask]:
    """The test's own app on the scratch database, schema created; connections closed after."""
    from outreach import create_app

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        db.create_all()
        db.session.remove()
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def recipient_address(number: int) -> str:
    return f"r{number:04d}@example.org"


def build_campaign(app: Flask, recipients: int, *, send_in: float | None = 0.0) -> int:
    """`recipients` active contacts (every third in French) and a campaign to all of them,
    scheduled `send_in` seconds from now (None: left as a draft). Returns the campaign id."""
    with app.app_context():
        session = db.session
        contacts = []
        for number in range(1, recipients + 1):
            email = recipient_address(number)
            country = COUNTRIES[number % len(COUNTRIES)]
            contacts.append(
                Contact(
                    email=email,
                    email_key=email,
                    first_name=f"Ada{number}",
                    last_name="Okafor",
                    type="ngo",
                    language="fr" if number % 3 == 0 else "en",
                    status="active",
                    country_code=country,
                    country_links=[ContactCountry(country_code=country, is_primary=True)],
                )
            )
        session.add_all(contacts)
        segment = Segment(name="Everybody", filters={})
        campaign = Campaign(
            name="Reliability",
            topic="newsletter",
            sender_name="UPR Info",
            sender_email="news@example.org",
            default_language="en",
            segments=[segment],
            variants=[
                CampaignVariant(language=lang, subject=subject, body_markdown=body)
                for lang, (subject, body) in VARIANTS.items()
            ],
        )
        session.add_all([segment, campaign])
        session.flush()
        if send_in is not None:
            if send_in > 0:
                lifecycle.schedule(session, campaign, utcnow() + timedelta(seconds=send_in))
            else:
                lifecycle.send_now(session, campaign)
        session.commit()
        campaign_id = campaign.id
        session.remove()
    return campaign_id


def start_campaign(app: Flask) -> list[int]:
    """What the scheduler's job does for a due campaign: claim its start, enqueue its rows."""
    from outreach.delivery.scheduler import start_due_campaigns

    with app.app_context():
        started = start_due_campaigns(db.session)
        db.session.remove()
    return started


@dataclass
class Tally:
    """What the recipients got, against what the outbox says."""

    expected: int
    messages: int
    delivered: int  # distinct recipients who got at least one message
    duplicates: int  # messages beyond the first per recipient
    lost: int  # recipients expected who got nothing
    unexpected: int  # messages to addresses outside the campaign
    campaign_status: str
    status_reason: str
    rows: dict[str, int]
    rows_total: int
    sent_rows_without_delivery: int  # rows marked sent whose Message-ID never arrived
    claimed_by: dict[str, int] = field(default_factory=dict)
    per_recipient: Counter = field(default_factory=Counter)

    def __str__(self) -> str:
        return (
            f"expected={self.expected} delivered={self.delivered} duplicates={self.duplicates} "
            f"lost={self.lost} messages={self.messages} unexpected={self.unexpected} "
            f"campaign={self.campaign_status!r} rows={self.rows} (total {self.rows_total}) "
            f"sent rows never received={self.sent_rows_without_delivery} "
            f"claimed_by={self.claimed_by}"
            + (f" reason={self.status_reason!r}" if self.status_reason else "")
        )


def campaign_state(app: Flask, campaign_id: int) -> tuple[str, dict[str, int]]:
    with app.app_context():
        session = db.session
        status = session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
        rows = dict(
            session.execute(
                select(OutboxMessage.status, func.count())
                .where(OutboxMessage.campaign_id == campaign_id)
                .group_by(OutboxMessage.status)
            )
            .tuples()
            .all()
        )
        session.remove()
    return status, rows


def tally(app: Flask, campaign_id: int, deliveries: list[Delivery], expected: set[str]) -> Tally:
    per_recipient = Counter(d.recipient for d in deliveries)
    received_ids = {d.message_id for d in deliveries}
    with app.app_context():
        session = db.session
        campaign = session.get(Campaign, campaign_id)
        rows = session.execute(
            select(OutboxMessage.status, OutboxMessage.message_id, OutboxMessage.claimed_by).where(
                OutboxMessage.campaign_id == campaign_id
            )
        ).all()
        result = Tally(
            expected=len(expected),
            messages=len(deliveries),
            delivered=len(set(per_recipient) & expected),
            duplicates=sum(count - 1 for count in per_recipient.values()),
            lost=len(expected - set(per_recipient)),
            unexpected=sum(
                count for address, count in per_recipient.items() if address not in expected
            ),
            campaign_status=campaign.status,
            status_reason=campaign.status_reason,
            rows=dict(Counter(row.status for row in rows)),
            rows_total=len(rows),
            sent_rows_without_delivery=sum(
                1 for row in rows if row.status == "sent" and row.message_id not in received_ids
            ),
            claimed_by=dict(Counter(row.claimed_by for row in rows if row.status == "sent")),
            per_recipient=per_recipient,
        )
        session.remove()
    return result


def suppressed_addresses(app: Flask) -> dict[str, str]:
    with app.app_context():
        entries = {s.email: s.reason for s in db.session.scalars(select(Suppression))}
        db.session.remove()
    return entries


def outbox_row(app: Flask, email: str) -> OutboxMessage:
    with app.app_context():
        row = db.session.scalar(select(OutboxMessage).where(OutboxMessage.email == email))
        db.session.expunge(row)
        db.session.remove()
    return row


def rows_in_status(app: Flask, campaign_id: int, status: str) -> set[int]:
    with app.app_context():
        ids = set(
            db.session.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.campaign_id == campaign_id, OutboxMessage.status == status
                )
            )
        )
        db.session.remove()
    return ids


def scheduler_notes(app: Flask) -> dict[str, str]:
    """Each scheduler's last heartbeat note ("leader" or "standby")."""
    from outreach.delivery.models import WorkerHeartbeat

    with app.app_context():
        notes = dict(
            db.session.execute(
                select(WorkerHeartbeat.name, WorkerHeartbeat.note).where(
                    WorkerHeartbeat.role == "scheduler"
                )
            )
            .tuples()
            .all()
        )
        db.session.remove()
    return notes


def open_rows(app: Flask, campaign_id: int) -> int:
    """Rows of the campaign still queued or being sent."""
    _, rows = campaign_state(app, campaign_id)
    return rows.get("queued", 0) + rows.get("sending", 0)


class RowLocks:
    """Row locks the test holds on outbox rows, in its own transaction."""

    def __init__(self, connection, ids: list[int]):
        self.connection, self.ids = connection, ids

    def take(self) -> None:
        self.connection.execute(
            select(OutboxMessage.id).where(OutboxMessage.id.in_(self.ids)).with_for_update()
        ).all()


@contextmanager
def row_locks(app: Flask, ids: list[int]) -> Iterator[RowLocks]:
    """`take()` locks the rows; leaving the block releases them (commit)."""
    with app.app_context(), db.engine.connect() as connection, connection.begin():
        yield RowLocks(connection, ids)


def waiting_backends(app: Flask) -> int:
    """Other sessions of this PostgreSQL database waiting for a lock."""
    with app.app_context(), db.engine.connect() as connection:
        return connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
        )
