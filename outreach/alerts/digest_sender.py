"""Sending digests: the delivery worker's `Sender` for outbox rows of kind "digest".

A digest row holds only its week (`{"period", "since", "until"}`); the worker calls `render` when
it sends the row, so the message shows the deadlines as they are at that moment, the subscriber's
current choices, and the week's public campaigns. It is written in the row's language (English,
French or Spanish) with the campaign email layout (preferences and unsubscribe links in the
footer, List-Unsubscribe headers from the engine: a digest is bulk mail).

The worker re-checks at send time that the contact is active, unsuppressed and a confirmed,
unpaused subscriber (`topic = None`: the digest goes to two kinds of subscriber, see `digests`);
`render` checks that they still want a digest and that it still has something to show, and
refuses the row otherwise (the worker records it as failed with the reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import css_inline
from flask import Flask, render_template
from flask_babel import force_locale, gettext, ngettext
from sqlalchemy.orm import Session

from outreach.alerts.digests import DigestBuilder, DigestContent, DigestWeek
from outreach.campaigns import merge
from outreach.campaigns.rendering import Recipient, Rendered
from outreach.core.countries import sort_key
from outreach.core.database import utcnow
from outreach.core.timezones import to_local
from outreach.core.urls import public_url
from outreach.delivery.message import CampaignHeaders, MessageFactory
from outreach.delivery.worker import SkipMessage, register_sender
from outreach.i18n import LANGUAGES


class DigestNotSent(SkipMessage):
    """The row's digest must not go out: the worker marks it skipped, with the reason."""


def digest_headers(config: Any) -> CampaignHeaders:
    return CampaignHeaders.for_list(config, "digest", "weekly digest")


# --- What the templates show, in the reader's language ----------------------------------------


@dataclass(frozen=True, slots=True)
class DeadlineLine:
    label: str
    date: str
    session: int
    states: tuple[str, ...]  # the reader's countries among those concerned
    url: str
    estimated: bool
    days_left: int


@dataclass(frozen=True, slots=True)
class LinkLine:
    title: str
    url: str
    date: str
    source: str = ""


def archive_link(campaign_id: int, language: str | None) -> str:
    """The campaign's public archive page, in `language` when it was written in it."""
    values = {"lang": language} if language else {}
    return public_url("archive.detail", campaign_id=campaign_id, **values)


def digest_lines(
    content: DigestContent, language: str, now: datetime
) -> tuple[list[DeadlineLine], list[LinkLine], list[LinkLine]]:
    today = to_local(now).date()
    mine = content.following.countries
    deadlines = [
        DeadlineLine(
            label=merge.key_date_label(facts.kind, language),
            date=merge.key_date_text(facts, language),
            session=facts.session_number,
            states=tuple(
                sorted(
                    (merge.country(code, language) for code in facts.concerned & mine), key=sort_key
                )
            ),
            url=merge.safe_url(facts.url) if facts.url else "",
            estimated=facts.estimated,
            days_left=(to_local(facts.starts_at).date() - today).days,
        )
        for facts in content.deadlines
    ]
    campaigns = [
        LinkLine(
            title=campaign.title(language),
            url=archive_link(campaign.id, campaign.language_for(language)),
            date=merge.day(campaign.finished_at, language),
        )
        for campaign in content.campaigns
    ]
    news = [
        LinkLine(
            title=item.title,
            url=merge.safe_url(item.url),
            date=merge.day(item.published_at, language) if item.published_at else "",
            source=item.source,
        )
        for item in content.news
    ]
    return deadlines, campaigns, news


def digest_subject(deadlines: int, campaigns: int, news: int) -> str:
    """The subject, e.g. "Your UPR week: 3 deadlines, 2 newsletters", in the current locale."""
    parts = []
    if deadlines:
        parts.append(ngettext("%(num)d deadline", "%(num)d deadlines", deadlines))
    if campaigns:
        parts.append(ngettext("%(num)d newsletter", "%(num)d newsletters", campaigns))
    if news:
        parts.append(ngettext("%(num)d news item", "%(num)d news items", news))
    if not parts:
        return gettext("Your UPR week")
    return gettext("Your UPR week: %(summary)s", summary=", ".join(parts))


def render_digest(
    content: DigestContent,
    recipient: Recipient,
    *,
    unsubscribe_url: str,
    preferences_url: str,
    now: datetime | None = None,
    organisation_name: str = "Outreach",
) -> Rendered:
    """The complete message (subject, HTML with inlined CSS, text) in the recipient's language."""
    language = recipient.language if recipient.language in LANGUAGES else "en"
    deadlines, campaigns, news = digest_lines(content, language, now or utcnow())
    with force_locale(language):
        subject = digest_subject(len(deadlines), len(campaigns), len(news))
        context = {
            "lang": language,
            "subject": subject,
            "first_name": recipient.first_name,
            "deadlines": deadlines,
            "campaigns": campaigns,
            "news": news,
            "subscribed_to_digest": content.following.digest,
            "organisation_name": organisation_name,
            "unsubscribe_url": unsubscribe_url,
            "preferences_url": preferences_url,
        }
        html = css_inline.inline(render_template("emails/digest.html", **context))
        text = render_template("emails/digest.txt", **context)
    return Rendered(language=language, subject=subject, html=html, text=text)


# --- The worker's sender ----------------------------------------------------------------------


class DigestSender:
    """Made once per worker (`register_sender`); renders each digest row when it is sent."""

    topic = None  # eligibility is re-checked in `render` (digest topic or weekly alerts)

    def __init__(self, session: Session, app: Flask):
        self.organisation_name = app.config.get("ORGANISATION_NAME") or "Outreach"
        self.builder = DigestBuilder(session)
        self.factory = MessageFactory(digest_headers(app.config), app.config)

    def render(self, row, recipient: Recipient, *, unsubscribe_url: str, preferences_url: str):
        week = DigestWeek.from_payload(row.payload)
        now = utcnow()
        countries = (recipient.country_code, *recipient.countries)
        content = self.builder.content_for(row.contact_id, countries, recipient.language, week, now)
        if content is None:
            raise DigestNotSent("the contact no longer receives the weekly digest")
        if content.is_empty:
            raise DigestNotSent("nothing left to show (deadlines passed or removed since)")
        return render_digest(
            content,
            recipient,
            unsubscribe_url=unsubscribe_url,
            preferences_url=preferences_url,
            now=now,
            organisation_name=self.organisation_name,
        )


register_sender("digest", DigestSender)
