"""Managing feed sources and polling them.

`poll_source` fetches one feed with a conditional GET (ETag / Last-Modified: a 304 costs
nothing), a timeout and a size cap, parses it with feedparser and stores its new entries once
each, sanitised, dated in UTC and tagged with the countries they mention. Every failure (HTTP
error, timeout, oversized or non-feed content) is recorded on the source, never raised: a poll of
many sources goes on past a bad one. After `FLAG_AFTER_FAILURES` failures in a row the source is
flagged for staff. Functions flush, never commit.
"""

from __future__ import annotations

import calendar
import html
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import feedparser
import nh3
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from outreach.core.database import utcnow
from outreach.core.errors import ServiceError
from outreach.delivery.scheduler import register_job
from outreach.feeds.countries import tag_countries
from outreach.feeds.models import FLAG_AFTER_FAILURES, FeedItem, FeedSource

TIMEOUT_SECONDS = 10
MAX_BYTES = 2 * 1024 * 1024
USER_AGENT = "Outreach news reader (+https://github.com/)"
SUMMARY_TAGS = {"a", "b", "strong", "i", "em", "p", "br", "ul", "ol", "li", "blockquote", "q"}
MAX_TITLE = 1000
MAX_LINK = 2000
MAX_GUID = 1000


class FetchError(Exception):
    """The feed could not be fetched or is not a feed; the message is shown to staff."""


@dataclass
class SourceData:
    """What staff edit of a source (validated by the form)."""

    url: str
    name: str
    language: str = "en"
    countries: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    active: bool = True
    poll_interval_minutes: int = 60


def create_source(session: Session, data: SourceData) -> FeedSource:
    return update_source(session, FeedSource(active=True, failure_count=0), data)


def update_source(session: Session, source: FeedSource, data: SourceData) -> FeedSource:
    """Raises ServiceError when another source has the URL."""
    url = data.url.strip()
    others = select(FeedSource.id).where(FeedSource.url == url)
    if source.id is not None:
        others = others.where(FeedSource.id != source.id)
    with session.no_autoflush:
        clash = session.scalar(others)
    if clash is not None:
        raise ServiceError("Another source has this URL.", {"url": "Another source has this URL."})
    if url != source.url:  # validators of another URL mean nothing here
        source.etag = source.last_modified = None
        source.next_poll_at = None
    source.url = url
    source.name = data.name.strip()
    source.language = data.language
    source.countries = list(data.countries)
    source.topics = list(data.topics)
    source.poll_interval_minutes = data.poll_interval_minutes
    set_active(source, data.active)
    session.add(source)
    session.flush()
    return source


def set_active(source: FeedSource, active: bool) -> None:
    """Reactivating clears the failure count and flag, and makes the source due at once."""
    if active and not source.active:
        source.failure_count = 0
        source.flagged = False
        source.next_poll_at = None
    source.active = active


# --- Fetching -------------------------------------------------------------------------------


@dataclass
class Fetched:
    status: int  # 200 or 304
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    content_type: str = ""
    final_url: str = ""  # after redirects


def fetch(url: str, etag: str | None = None, last_modified: str | None = None) -> Fetched:
    """GET `url` conditionally; FetchError on HTTP errors, timeouts and oversized bodies."""
    if not url.lower().startswith(("http://", "https://")):
        raise FetchError("Only http and https URLs can be polled.")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if etag:
        request.add_header("If-None-Match", etag)
    if last_modified:
        request.add_header("If-Modified-Since", last_modified)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            body = response.read(MAX_BYTES + 1)
            if len(body) > MAX_BYTES:
                raise FetchError(f"The feed is larger than {MAX_BYTES // (1024 * 1024)} MB.")
            return Fetched(
                status=response.status,
                body=body,
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
                content_type=response.headers.get("Content-Type", ""),
                final_url=response.geturl() or url,
            )
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return Fetched(status=304, final_url=exc.url or url)
        raise FetchError(f"HTTP {exc.code} {exc.reason}") from exc
    except TimeoutError as exc:
        raise FetchError(f"No answer within {TIMEOUT_SECONDS} seconds.") from exc
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise FetchError(f"No answer within {TIMEOUT_SECONDS} seconds.") from exc
        raise FetchError(f"Could not connect: {reason}") from exc
    except (OSError, ValueError) as exc:
        raise FetchError(f"Could not fetch the feed: {exc}") from exc


# --- Parsing --------------------------------------------------------------------------------


@dataclass
class Entry:
    guid: str
    title: str
    link: str
    summary: str
    published_at: datetime | None


def clean_text(value: str) -> str:
    """Plain text (templates escape it): every tag removed, entities decoded."""
    return " ".join(html.unescape(nh3.clean(value or "", tags=set())).split())


def clean_summary(value: str) -> str:
    return nh3.clean(value or "", tags=SUMMARY_TAGS, attributes={"a": {"href", "title"}}).strip()


def entry_date(entry) -> datetime | None:
    """The entry's date in UTC from feedparser's `*_parsed` (UTC struct_time)."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
            except (OverflowError, ValueError, TypeError):
                continue
    return None


def parse_entries(parsed) -> list[Entry]:
    """The feed's entries with an id or link, each once, sanitised."""
    entries: dict[str, Entry] = {}
    for raw in parsed.entries:
        link = (raw.get("link") or "").strip()
        guid = (raw.get("id") or link).strip()
        if not guid or guid in entries:
            continue
        entries[guid] = Entry(
            guid=guid[:MAX_GUID],
            title=clean_text(raw.get("title", ""))[:MAX_TITLE],
            link=link[:MAX_LINK] if link.lower().startswith(("http://", "https://")) else "",
            summary=clean_summary(raw.get("summary", "")),
            published_at=entry_date(raw),
        )
    return list(entries.values())


def parse_feed(body: bytes, content_type: str = "") -> tuple[list[Entry], str | None]:
    """(entries, problem): a bozo feed keeps its good entries with the problem noted;
    FetchError when the content is not a feed at all."""
    parsed = feedparser.parse(body, response_headers={"content-type": content_type or ""})
    problem = None
    if parsed.get("bozo"):
        problem = f"Malformed feed: {parsed.get('bozo_exception')}"
    if not parsed.get("version") and not parsed.entries:
        kind = content_type.split(";")[0].strip() or "unknown content"
        raise FetchError(f"Not an RSS or Atom feed ({kind}).")
    return parse_entries(parsed), problem


# --- Polling --------------------------------------------------------------------------------


@dataclass
class PollResult:
    status: str  # "ok", "partial", "not_modified" or "error"
    new_items: int = 0
    error: str | None = None


def _store(session: Session, source: FeedSource, entries: list[Entry], now: datetime) -> int:
    if not entries:
        return 0
    known = set(
        session.scalars(
            select(FeedItem.guid).where(
                FeedItem.source_id == source.id, FeedItem.guid.in_([e.guid for e in entries])
            )
        )
    )
    new = [entry for entry in entries if entry.guid not in known]
    session.add_all(
        FeedItem(
            source_id=source.id,
            guid=entry.guid,
            title=entry.title,
            link=entry.link,
            summary=entry.summary,
            published_at=entry.published_at or now,
            countries=tag_countries(entry.title, entry.summary),
            fetched_at=now,
        )
        for entry in new
    )
    session.flush()
    return len(new)


def _redirect(url: str, final_url: str) -> str | None:
    return final_url[:MAX_LINK] if final_url and final_url != url else None


def _fail(session: Session, source: FeedSource, message: str) -> PollResult:
    source.last_status = "error"
    source.last_error = message[:2000]
    source.failure_count = (source.failure_count or 0) + 1
    if source.failure_count >= FLAG_AFTER_FAILURES:
        source.flagged = True
    session.flush()
    return PollResult("error", error=message)


def poll_source(session: Session, source: FeedSource, now: datetime | None = None) -> PollResult:
    """Fetch and store one source; records the outcome on it and never raises for a bad feed."""
    now = now or utcnow()
    source.last_polled_at = now
    source.next_poll_at = now + timedelta(minutes=max(1, source.poll_interval_minutes or 60))
    entries: list[Entry] = []
    try:
        fetched = fetch(source.url, source.etag, source.last_modified)
        source.redirected_to = _redirect(source.url, fetched.final_url)
        if fetched.status == 304:
            result = PollResult("not_modified")
        else:
            entries, problem = parse_feed(fetched.body, fetched.content_type)
            result = PollResult("partial" if problem else "ok", error=problem)
            source.etag = fetched.etag
            source.last_modified = fetched.last_modified
    except FetchError as exc:
        return _fail(session, source, str(exc))
    except Exception as exc:  # a bad feed must never stop the poll of the others
        return _fail(session, source, f"Unexpected error: {type(exc).__name__}: {exc}")
    result.new_items = _store(session, source, entries, now)
    source.last_status = result.status
    source.last_error = result.error
    source.failure_count = 0
    source.flagged = False
    session.flush()
    return result


@dataclass
class PollReport:
    polled: int = 0
    new_items: int = 0
    not_modified: int = 0
    failed: int = 0

    def add(self, result: PollResult) -> None:
        self.polled += 1
        self.new_items += result.new_items
        self.not_modified += result.status == "not_modified"
        self.failed += result.status == "error"

    def summary(self) -> str:
        return (
            f"feeds: polled={self.polled} new_items={self.new_items} "
            f"not_modified={self.not_modified} failed={self.failed}"
        )


def due_sources(session: Session, now: datetime, *, include_all: bool = False):
    stmt = select(FeedSource).where(FeedSource.active.is_(True)).order_by(FeedSource.id)
    if not include_all:
        stmt = stmt.where(or_(FeedSource.next_poll_at.is_(None), FeedSource.next_poll_at <= now))
    return list(session.scalars(stmt))


def poll_due(session: Session, now: datetime | None = None, *, include_all: bool = False):
    """Poll every due active source (every active one with `include_all`) -> PollReport."""
    now = now or utcnow()
    report = PollReport()
    for source in due_sources(session, now, include_all=include_all):
        report.add(poll_source(session, source, now))
    return report


def poll_job(session: Session) -> None:
    """The scheduler's "feeds" job (the scheduler commits)."""
    poll_due(session)


register_job("feeds", poll_job, seconds=300)
