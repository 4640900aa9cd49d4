"""News blocks: chosen feed items written into a campaign's Markdown, one block per language.

Item titles and links come from outside, so they are escaped for Markdown and can never form a
merge field (`{{`, `{%`, `{#` are split): what staff see in the draft is what is sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from outreach.campaigns.merge import day
from outreach.campaigns.models import Campaign
from outreach.campaigns.services import ensure_editable
from outreach.core.errors import ServiceError
from outreach.feeds.models import FeedItem

HEADINGS = {"en": "News", "fr": "Actualités", "es": "Noticias"}
MAX_ITEMS = 20
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]#>])")
TEMPLATE_PAIRS = ("{{", "{%", "{#", "}}", "%}", "#}")


@dataclass(frozen=True)
class BlockItem:
    title: str
    url: str
    source: str = ""
    published_at: datetime | None = None


def from_feed_item(item: FeedItem) -> BlockItem:
    return BlockItem(item.title or item.link, item.link, item.source.name, item.published_at)


def untemplated(text: str) -> str:
    """`text` with a space inside every pair of characters that could open or close a tag."""
    for pair in TEMPLATE_PAIRS:
        while pair in text:
            text = text.replace(pair, f"{pair[0]} {pair[1]}")
    return text


def markdown_text(text: str) -> str:
    escaped = MARKDOWN_SPECIAL.sub(r"\\\1", " ".join((text or "").split()))
    return untemplated(escaped.replace("&", "&amp;").replace("<", "&lt;"))


def markdown_url(url: str) -> str:
    safe = (url or "").strip()
    for char, code in (("(", "%28"), (")", "%29"), (" ", "%20"), ("{", "%7B"), ("}", "%7D")):
        safe = safe.replace(char, code)
    return safe if safe.lower().startswith(("http://", "https://")) else ""


def item_line(item, language: str) -> str:
    title = markdown_text(item.title or item.url)
    url = markdown_url(item.url)
    line = f"- [{title}]({url})" if url else f"- {title}"
    details = [markdown_text(item.source)] if item.source else []
    if item.published_at is not None:
        details.append(day(item.published_at, language))
    return line + (f" — {', '.join(details)}" if details else "")


def news_block(items, language: str, heading: bool = True) -> str:
    """Markdown: a "News" heading in `language` and one line per item (title, source, date)."""
    lines = [item_line(item, language) for item in items]
    if not lines:
        return ""
    title = f"## {HEADINGS.get(language, HEADINGS['en'])}\n\n" if heading else ""
    return title + "\n".join(lines) + "\n"


def chosen_items(session: Session, item_ids) -> list[FeedItem]:
    """The items with these ids, in the order given (unknown ids are ignored)."""
    ids = list(dict.fromkeys(int(i) for i in item_ids))
    rows = session.scalars(
        select(FeedItem).options(joinedload(FeedItem.source)).where(FeedItem.id.in_(ids))
    ).all()
    by_id = {item.id: item for item in rows}
    return [by_id[i] for i in ids if i in by_id]


def insert_news_block(session: Session, campaign: Campaign, item_ids) -> int:
    """Append a news block with the chosen items to every language version of a draft.
    Returns the number of items inserted; ServiceError when there is nothing to insert into."""
    ensure_editable(campaign)
    if not campaign.variants:
        raise ServiceError("Write at least one language version of the campaign first.")
    items = chosen_items(session, item_ids)
    if not items:
        raise ServiceError("Choose at least one news item to insert.", {"items": "Choose items."})
    if len(items) > MAX_ITEMS:
        raise ServiceError(f"Insert at most {MAX_ITEMS} items at a time.", {"items": "Too many."})
    block_items = [from_feed_item(item) for item in items]
    for variant in campaign.variants:
        block = news_block(block_items, variant.language)
        body = variant.body_markdown.rstrip()
        variant.body_markdown = f"{body}\n\n{block}" if body else block
    session.flush()
    return len(items)
