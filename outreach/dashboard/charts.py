"""The data behind the reports page's charts, drawn with `core.svgcharts`."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.contacts.models import CONTACT_TYPE_LABELS, LANGUAGE_LABELS, Contact
from outreach.core.database import utcnow
from outreach.core.svgcharts import Chart, Series, bar_chart, line_chart, stacked_bar_chart
from outreach.core.timezones import to_local
from outreach.delivery.models import OutboxMessage
from outreach.subscriptions.models import Subscription

DELIVERY_DAYS = 30
SUBSCRIBER_WEEKS = 12
DELIVERY_SERIES = (("sent", "Sent"), ("failed", "Failed"), ("skipped", "Skipped"))


def _day_label(day: date) -> str:
    return f"{day.day} {day:%b}"


def deliveries_per_day(
    session: Session, now: datetime | None = None, days: int = DELIVERY_DAYS
) -> Chart:
    """Messages sent, failed and skipped per Geneva day over the last `days` days."""
    today = to_local(now or utcnow()).date()
    first = today - timedelta(days=days - 1)
    since = (now or utcnow()) - timedelta(days=days + 1)
    rows = session.execute(
        select(OutboxMessage.status, OutboxMessage.updated_at).where(
            OutboxMessage.status.in_([status for status, _ in DELIVERY_SERIES]),
            OutboxMessage.updated_at >= since,
        )
    )
    counts: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for status, when in rows:
        counts[status][to_local(when).date()] += 1
    day_list = [first + timedelta(days=n) for n in range(days)]
    title = f"Messages per day, last {days} days"
    if not any(counts.values()):
        return bar_chart(title, [], [])
    series = [
        Series(label, [counts[status][day] for day in day_list])
        for status, label in DELIVERY_SERIES
    ]
    return stacked_bar_chart(title, [_day_label(day) for day in day_list], series)


def subscribers_by(
    session: Session, column: str, now: datetime | None = None, weeks: int = SUBSCRIBER_WEEKS
) -> Chart:
    """Confirmed subscribers at the end of each of the last `weeks` weeks, one line per
    language (`column="language"`) or contact type (`column="type"`)."""
    now = now or utcnow()
    labels_of = LANGUAGE_LABELS if column == "language" else CONTACT_TYPE_LABELS
    rows = session.execute(
        select(getattr(Contact, column), Subscription.confirmed_at, Subscription.unsubscribed_at)
        .join(Contact, Contact.id == Subscription.contact_id)
        .where(Subscription.confirmed_at.is_not(None))
    ).all()
    title = f"Confirmed subscribers by {'language' if column == 'language' else 'type'}, " + (
        f"last {weeks} weeks"
    )
    if not rows:
        return line_chart(title, [], [])
    ends = [now - timedelta(weeks=weeks - 1 - n) for n in range(weeks)]
    starts: dict[str, list[datetime]] = defaultdict(list)
    stops: dict[str, list[datetime]] = defaultdict(list)
    for group, confirmed_at, unsubscribed_at in rows:
        starts[group or ""].append(confirmed_at)
        if unsubscribed_at is not None:
            stops[group or ""].append(unsubscribed_at)
    series = []
    for group in sorted(starts, key=lambda g: str(labels_of.get(g, g))):
        joined, left = sorted(starts[group]), sorted(stops[group])
        values = [bisect_right(joined, end) - bisect_right(left, end) for end in ends]
        series.append(Series(str(labels_of.get(group, group or "Unknown")), values))
    return line_chart(title, [_day_label(to_local(end).date()) for end in ends], series)


def contacts_per_state(counts: dict[str, int], number: int) -> Chart:
    """Active contacts per State of session `number` (from `calendar.services.contact_counts`),
    labelled by ISO code in alphabetical order."""
    codes = sorted(counts)
    return bar_chart(
        f"Active contacts per State under review in session {number}",
        codes,
        [Series("Contacts", [counts[code] for code in codes])] if codes else [],
    )
