"""Link rewriting and the open pixel, applied once per campaign to the compiled sources and then
per recipient by a string substitution (no URL build, one HMAC per link).

`Tracking.for_campaign` is None unless the campaign is being sent and tracking is on (globally:
TRACK_CLICKS / TRACK_OPENS; per campaign: `track_clicks` / `track_opens`), so previews and test
sends keep the original links. Only literal http(s) links are rewritten: links built from merge
fields, the unsubscribe and preference-centre links and `mailto:` stay as written.
"""

from __future__ import annotations

import html as html_lib
import re

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError

from outreach.campaigns.models import Campaign
from outreach.core.database import insert_ignoring_conflicts, utcnow
from outreach.core.urls import public_url
from outreach.engagement.models import CampaignLink
from outreach.engagement.tokens import TokenSigner

HREF = re.compile(r'href="(https?://[^"<>{}\s]+)"', re.IGNORECASE)
TEXT_URL = re.compile(r"https?://[^\s<>()\[\]{}\"']+")
MARK = re.compile(r"@@OUTREACH-LINK-(\d+)@@")
PIXEL_MARK = "@@OUTREACH-OPEN@@"
PIXEL_TAG = f'<img src="{PIXEL_MARK}" width="1" height="1" alt="" border="0">'
PLACEHOLDER = "OUTREACH-TOKEN"
SENDING = ("sending", "paused")
# Paths of recipient-specific pages that must never pass through a redirect.
NEVER_TRACKED = re.compile(r"/(u|unsubscribe|preferences|[a-z]{2}/preferences)/", re.IGNORECASE)


def tracked_url(url: str) -> bool:
    """Whether a link may be rewritten: http(s), and not an unsubscribe or preferences link."""
    return url.lower().startswith(("http://", "https://")) and not NEVER_TRACKED.search(url)


def _endpoint_url(endpoint: str, fallback: str) -> str:
    try:
        return public_url(endpoint, token=PLACEHOLDER)
    except BuildError:
        return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + fallback


class Tracking:
    """The campaign's links (index in `urls`, id once registered) and the pixel switch."""

    def __init__(self, campaign_id: int, clicks: bool, opens: bool):
        self.campaign_id = campaign_id
        self.clicks = clicks
        self.opens = opens
        self.urls: list[str] = []
        self.index: dict[str, int] = {}
        self.ids: list[int] = []
        self.signer = TokenSigner()
        self.click_url = _endpoint_url("engagement.click", f"/r/{PLACEHOLDER}")
        self.open_url = _endpoint_url("engagement.pixel", f"/o/{PLACEHOLDER}.gif")

    @classmethod
    def for_campaign(cls, campaign: Campaign) -> Tracking | None:
        config = current_app.config
        if campaign.status not in SENDING:
            return None
        clicks = bool(config.get("TRACK_CLICKS", True) and campaign.track_clicks)
        opens = bool(config.get("TRACK_OPENS", True) and campaign.track_opens)
        return cls(campaign.id, clicks, opens) if clicks or opens else None

    def _mark(self, url: str) -> str:
        if url not in self.index:
            self.index[url] = len(self.urls)
            self.urls.append(url)
        return f"@@OUTREACH-LINK-{self.index[url]}@@"

    def rewrite(self, html_source: str, text_source: str) -> tuple[str, str]:
        """Mark the links of one variant's sources (and add the pixel)."""
        if self.clicks:

            def mark_href(match: re.Match) -> str:
                url = html_lib.unescape(match.group(1))
                return f'href="{self._mark(url)}"' if tracked_url(url) else match.group(0)

            html_source = HREF.sub(mark_href, html_source)
            known = set(self.urls)
            text_source = TEXT_URL.sub(
                lambda m: self._mark(m.group(0)) if m.group(0) in known else m.group(0),
                text_source,
            )
        if self.opens:
            if "</body>" in html_source:
                html_source = html_source.replace("</body>", PIXEL_TAG + "</body>", 1)
            else:
                html_source += PIXEL_TAG
        return html_source, text_source

    def register(self, session: Session) -> None:
        """Give every link a `campaign_links` id (two workers may do this at once: the unique
        constraint and ON CONFLICT DO NOTHING keep one row per link)."""
        if not self.urls:
            return
        rows = [
            {"campaign_id": self.campaign_id, "url": url, "created_at": utcnow()}
            for url in self.urls
        ]
        table = CampaignLink.__table__
        session.execute(insert_ignoring_conflicts(session, table, rows, ["campaign_id", "url"]))
        ids = dict(
            session.execute(
                select(CampaignLink.url, CampaignLink.id).where(
                    CampaignLink.campaign_id == self.campaign_id,
                    CampaignLink.url.in_(self.urls),
                )
            )
            .tuples()
            .all()
        )
        self.ids = [ids[url] for url in self.urls]

    def apply(self, html: str, text: str, outbox_id: int | None) -> tuple[str, str]:
        """Put one recipient's tracked links (or, without an outbox row, the originals) in."""
        if outbox_id is None:
            html = MARK.sub(lambda m: html_lib.escape(self.urls[int(m.group(1))]), html)
            text = MARK.sub(lambda m: self.urls[int(m.group(1))], text)
            return html.replace(PIXEL_TAG, ""), text
        tokens: dict[str, str] = {}

        def link(match: re.Match) -> str:
            index = match.group(1)
            if index not in tokens:
                token = self.signer.sign(outbox_id, self.ids[int(index)])
                tokens[index] = self.click_url.replace(PLACEHOLDER, token)
            return tokens[index]

        html, text = MARK.sub(link, html), MARK.sub(link, text)
        if self.opens:
            pixel = self.open_url.replace(PLACEHOLDER, self.signer.sign(outbox_id))
            html = html.replace(PIXEL_MARK, pixel)
        return html, text
