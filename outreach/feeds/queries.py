"""Reading feed items: the staff browser and the digests' recent news."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, Text, cast, select
from sqlalchemy.orm import Session, joinedload

from outreach.feeds.models import FeedItem, FeedSource


def country_condition(country: str):
    """SQL: the item's JSON list of countries holds `country` (an alpha-2 code).
    Codes are two capital letters, so a quoted substring match is exact on every backend."""
    return cast(FeedItem.countries, Text).contains(f'"{country}"', autoescape=True)


def items_query(source_id: int | None = None, country: str = "") -> Select:
    stmt = select(FeedItem).options(joinedload(FeedItem.source))
    if source_id:
        stmt = stmt.where(FeedItem.source_id == source_id)
    if country:
        stmt = stmt.where(country_condition(country))
    return stmt.order_by(FeedItem.published_at.desc(), FeedItem.id.desc())


def recent_items(
    session: Session, since: datetime, until: datetime, language: str, limit: int = 300
) -> list[FeedItem]:
    """Items published in [since, until) by active sources in `language`, newest first."""
    stmt = (
        select(FeedItem)
        .join(FeedSource)
        .options(joinedload(FeedItem.source))
        .where(
            FeedSource.active.is_(True),
            FeedSource.language == language,
            FeedItem.published_at >= since,
            FeedItem.published_at < until,
        )
        .order_by(FeedItem.published_at.desc(), FeedItem.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
