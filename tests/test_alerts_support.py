"""Builders for the alert tests: sessions with key dates, subscribers, a frozen Geneva clock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import time_machine
from sqlalchemy import select

from outreach.alerts.models import AlertRecord
from outreach.calendar.models import KeyDate, Review, UPRSession
from outreach.core.timezones import local_date_at
from outreach.delivery.models import OutboxMessage
from outreach.subscriptions.models import Subscription, SubscriptionSession, SubscriptionTopic
from tests.factories import make_contact

GENEVA = ZoneInfo("Europe/Zurich")
DEADLINE = time(12, 0)


def geneva(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=GENEVA)


@contextmanager
def frozen(moment: datetime) -> Iterator[None]:
    with time_machine.travel(moment, tick=False):
        yield


def make_upr_session(session, number: int, states: tuple[str, ...] = ("SN",)) -> UPRSession:
    upr_session = UPRSession(number=number, status="confirmed")
    upr_session.reviews = [Review(country_code=code) for code in states]
    session.add(upr_session)
    session.flush()
    return upr_session


def make_key_date(
    session,
    upr_session: UPRSession,
    day: date,
    kind: str = "stakeholder_submission",
    *,
    at: time = DEADLINE,
    state: str | None = None,
    estimated: bool = False,
    description: str = "",
    url: str = "https://www.ohchr.org/en/hr-bodies/upr/ngos-nhris",
) -> KeyDate:
    review = next((r for r in upr_session.reviews if r.country_code == state), None)
    key_date = KeyDate(
        session=upr_session,
        review=review,
        kind=kind,
        starts_at=local_date_at(day, at),
        estimated=estimated,
        source="staff",
        description=description,
        url=url,
    )
    session.add(key_date)
    session.flush()
    return key_date


def subscriber(
    session,
    email: str,
    *,
    countries: tuple[str, ...] = ("SN",),
    language: str = "en",
    status: str = "confirmed",
    topics: tuple[str, ...] = ("deadline_alerts",),
    frequency: str = "immediate",
    all_sessions: bool = True,
    sessions: tuple[int, ...] = (),
    paused_until: datetime | None = None,
    contact_status: str = "active",
    first_name: str = "",
):
    """A contact with a subscription (confirmed by default, on 1 January 2026)."""
    contact = make_contact(
        session,
        email,
        country=countries[0] if countries else None,
        countries=countries[1:],
        language=language,
        status=contact_status,
        first_name=first_name,
    )
    subscription = Subscription(
        contact=contact,
        status=status,
        all_sessions=all_sessions,
        alert_frequency=frequency,
        paused_until=paused_until,
        confirmed_at=datetime(2026, 1, 1, tzinfo=UTC) if status == "confirmed" else None,
    )
    subscription.topic_links = [SubscriptionTopic(topic=topic) for topic in topics]
    subscription.session_links = [SubscriptionSession(session_number=n) for n in sessions]
    session.add(subscription)
    session.flush()
    return contact


def alert_rows(session) -> list[OutboxMessage]:
    session.expire_all()
    return list(
        session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "alert").order_by(OutboxMessage.id)
        )
    )


def records(session) -> set[tuple[int, int, int]]:
    """(contact id, key date id, days before) of every alert record."""
    session.expire_all()
    rows = session.execute(
        select(AlertRecord.contact_id, AlertRecord.key_date_id, AlertRecord.days_before)
    )
    return set(rows.tuples().all())
