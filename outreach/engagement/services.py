"""Recording clicks and opens from signed tokens. Functions flush; the views commit."""

from __future__ import annotations

from flask import current_app
from sqlalchemy.orm import Session

from outreach.core.database import utcnow
from outreach.delivery.models import OutboxMessage
from outreach.engagement.models import CampaignLink, Click, Open
from outreach.engagement.tokens import OPEN_LINK, TokenSigner
from outreach.engagement.tracking import tracked_url


def click_target(session: Session, token: str) -> str | None:
    """The link's URL for a valid click token (the click is recorded), else None.

    The URL comes from `campaign_links`, never from the request, and must belong to the same
    campaign as the outbox row: a forged or mixed token cannot redirect anywhere.
    """
    found = TokenSigner().verify(token)
    if found is None or found[1] == OPEN_LINK:
        return None
    outbox_id, link_id = found
    link = session.get(CampaignLink, link_id)
    row = session.get(OutboxMessage, outbox_id)
    if link is None or row is None or row.campaign_id != link.campaign_id:
        return None
    if not tracked_url(link.url):
        return None
    if current_app.config.get("TRACK_CLICKS", True):
        session.add(Click(outbox_id=row.id, link_id=link.id, clicked_at=utcnow()))
        session.flush()
    return link.url


def record_open(session: Session, token: str) -> bool:
    """Record an open for a valid pixel token; False if the token is not one."""
    found = TokenSigner().verify(token)
    if found is None or found[1] != OPEN_LINK:
        return False
    row = session.get(OutboxMessage, found[0])
    if row is None or row.campaign_id is None:
        return False
    if current_app.config.get("TRACK_OPENS", True):
        session.add(Open(outbox_id=row.id, opened_at=utcnow()))
        session.flush()
    return True
