"""A campaign's engagement report: outcomes, unique opens and clicks, clicks per link and the
breakdowns by language, contact type and country. Each figure is one SQL query.

Unique opens and clicks count recipients (outbox rows), not events. "Unsubscribed" counts
recipients who unsubscribed after the campaign started. Opens are only seen when the campaign
tracked them and the recipient's mail program showed images: they are a lower bound.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import case, distinct, exists, func, select
from sqlalchemy.orm import Session

from outreach.campaigns.models import Campaign
from outreach.contacts.csv_io import safe_cell
from outreach.contacts.models import Contact
from outreach.delivery.models import Bounce, OutboxMessage
from outreach.engagement.models import CampaignLink, Click, Open
from outreach.subscriptions.models import ConsentRecord

BREAKDOWNS = {
    "language": ("Language", OutboxMessage.language),
    "contact_type": ("Contact type", Contact.type),
    "country": ("Country", Contact.country_code),
}
CSV_HEADER = (
    "section",
    "key",
    "recipients",
    "delivered",
    "unique_opens",
    "unique_clicks",
    "clicks",
)


@dataclass
class Row:
    key: str
    recipients: int = 0
    delivered: int = 0
    opens: int = 0
    clicks: int = 0
    total_clicks: int = 0

    def rate(self, value: int) -> str:
        return f"{value * 100 / self.delivered:.1f}%" if self.delivered else "—"


@dataclass
class EngagementReport:
    campaign: Campaign
    summary: dict[str, int] = field(default_factory=dict)
    links: list[tuple[str, int, int]] = field(default_factory=list)  # url, clicks, unique
    breakdowns: dict[str, list[Row]] = field(default_factory=dict)


def _opened():
    return exists().where(Open.outbox_id == OutboxMessage.id)


def _clicked():
    return exists().where(Click.outbox_id == OutboxMessage.id)


def summary(session: Session, campaign: Campaign) -> dict[str, int]:
    mine = OutboxMessage.campaign_id == campaign.id
    counts = dict(
        session.execute(
            select(OutboxMessage.status, func.count()).where(mine).group_by(OutboxMessage.status)
        )
        .tuples()
        .all()
    )
    bounce_kinds = dict(
        session.execute(
            select(Bounce.kind, func.count(distinct(Bounce.outbox_id)))
            .join(OutboxMessage, OutboxMessage.id == Bounce.outbox_id)
            .where(mine)
            .group_by(Bounce.kind)
        )
        .tuples()
        .all()
    )
    opens = session.scalar(select(func.count()).where(mine, _opened())) or 0
    clicks = session.scalar(select(func.count()).where(mine, _clicked())) or 0
    total_clicks = (
        session.scalar(
            select(func.count(Click.id))
            .join(OutboxMessage, OutboxMessage.id == Click.outbox_id)
            .where(mine)
        )
        or 0
    )
    unsubscribed = 0
    if campaign.started_at is not None:
        recipients = select(OutboxMessage.contact_id).where(mine, OutboxMessage.status == "sent")
        unsubscribed = (
            session.scalar(
                select(func.count(distinct(ConsentRecord.contact_id))).where(
                    ConsentRecord.action == "unsubscribe",
                    ConsentRecord.created_at >= campaign.started_at,
                    ConsentRecord.contact_id.in_(recipients),
                )
            )
            or 0
        )
    return {
        "recipients": sum(counts.values()),
        "delivered": counts.get("sent", 0),
        "failed": counts.get("failed", 0),
        "skipped": counts.get("skipped", 0),
        "waiting": sum(counts.get(s, 0) for s in ("queued", "sending", "held")),
        "bounced": bounce_kinds.get("hard", 0) + bounce_kinds.get("soft", 0),
        "complaints": bounce_kinds.get("complaint", 0),
        "unsubscribed": unsubscribed,
        "unique_opens": opens,
        "unique_clicks": clicks,
        "clicks": total_clicks,
    }


def link_clicks(session: Session, campaign_id: int) -> list[tuple[str, int, int]]:
    rows = session.execute(
        select(CampaignLink.url, func.count(Click.id), func.count(distinct(Click.outbox_id)))
        .outerjoin(Click, Click.link_id == CampaignLink.id)
        .where(CampaignLink.campaign_id == campaign_id)
        .group_by(CampaignLink.id, CampaignLink.url)
        .order_by(func.count(Click.id).desc(), CampaignLink.url)
    )
    return [(url, clicks, unique) for url, clicks, unique in rows]


def breakdown(session: Session, campaign_id: int, name: str) -> list[Row]:
    column = BREAKDOWNS[name][1]
    clicks = (
        select(func.count(Click.id)).where(Click.outbox_id == OutboxMessage.id).scalar_subquery()
    )
    statement = (
        select(
            column,
            func.count(),
            func.sum(case((OutboxMessage.status == "sent", 1), else_=0)),
            func.sum(case((_opened(), 1), else_=0)),
            func.sum(case((_clicked(), 1), else_=0)),
            func.sum(clicks),
        )
        .select_from(OutboxMessage)
        .outerjoin(Contact, Contact.id == OutboxMessage.contact_id)
        .where(OutboxMessage.campaign_id == campaign_id)
        .group_by(column)
        .order_by(func.count().desc(), column)
    )
    return [
        Row(key or "—", int(n or 0), int(sent or 0), int(o or 0), int(c or 0), int(t or 0))
        for key, n, sent, o, c, t in session.execute(statement)
    ]


def build(session: Session, campaign: Campaign) -> EngagementReport:
    return EngagementReport(
        campaign=campaign,
        summary=summary(session, campaign),
        links=link_clicks(session, campaign.id),
        breakdowns={name: breakdown(session, campaign.id, name) for name in BREAKDOWNS},
    )


def csv_lines(report: EngagementReport) -> Iterator[str]:
    """The report as CSV: the totals, one line per link, one per breakdown value."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(*values) -> str:
        writer.writerow([safe_cell(v) if isinstance(v, str) else v for v in values])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    s = report.summary
    yield line(*CSV_HEADER)
    yield line(
        "total",
        "all",
        s["recipients"],
        s["delivered"],
        s["unique_opens"],
        s["unique_clicks"],
        s["clicks"],
    )
    for key in ("failed", "skipped", "bounced", "complaints", "unsubscribed"):
        yield line("outcome", key, s[key], "", "", "", "")
    for url, clicks, unique in report.links:
        yield line("link", url, "", "", "", unique, clicks)
    for name, rows in report.breakdowns.items():
        for row in rows:
            yield line(
                name,
                row.key,
                row.recipients,
                row.delivered,
                row.opens,
                row.clicks,
                row.total_clicks,
            )
