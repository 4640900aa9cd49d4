"""A campaign's recipients: the union of its segments, minus everyone who may not be mailed
(suppressed, inactive, unconfirmed, paused, or opted out of the campaign's topic).

One SQL query; the delivery engine walks it in batches by contact id.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, and_, func, or_, select, true
from sqlalchemy.orm import Session

from outreach.campaigns.models import Campaign
from outreach.contacts.models import Contact
from outreach.contacts.queries import ContactFilter
from outreach.segments.models import Segment
from outreach.subscriptions.audience import mailable_conditions


def segments_condition(segments: list[Segment]):
    """Contacts in any of the segments (no segment: nobody)."""
    if not segments:
        return None
    parts = [and_(true(), *ContactFilter.from_dict(s.filters).conditions()) for s in segments]
    return or_(*parts)


def audience_conditions(campaign: Campaign) -> list | None:
    condition = segments_condition(list(campaign.segments))
    if condition is None:
        return None
    return [condition, *mailable_conditions(campaign.subscription_topic)]


def audience_select(campaign: Campaign, *columns) -> Select | None:
    """SELECT of the recipients (default columns: the Contact), ordered by contact id."""
    conditions = audience_conditions(campaign)
    if conditions is None:
        return None
    return select(*(columns or (Contact,))).where(*conditions).order_by(Contact.id)


@dataclass
class AudienceSummary:
    total: int
    by_language: dict[str, int]
    by_type: dict[str, int]


def summarise(session: Session, campaign: Campaign) -> AudienceSummary:
    """The count and its breakdown by language and contact type (two grouped queries)."""
    conditions = audience_conditions(campaign)
    if conditions is None:
        return AudienceSummary(0, {}, {})

    def grouped(column) -> dict[str, int]:
        rows = session.execute(
            select(column, func.count()).where(*conditions).group_by(column).order_by(column)
        )
        return dict(rows.tuples().all())

    by_language = grouped(Contact.language)
    return AudienceSummary(sum(by_language.values()), by_language, grouped(Contact.type))
