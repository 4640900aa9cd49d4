"""The public archive: sent campaigns marked public, as pages and as an Atom 1.0 feed.

No login. Each campaign is rendered for a neutral recipient (no name, no address, placeholder
links), so no personal data can appear. `?lang=en|fr|es` lists the campaigns written in that
language and shows them in it; without it every campaign is shown in its default language.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from threading import Lock

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date, gettext, refresh
from markupsafe import escape
from sqlalchemy import Select, exists, select
from sqlalchemy.orm import selectinload

from outreach.campaigns.models import Campaign, CampaignVariant
from outreach.core.atom import (
    CONTENT_TYPE,
    FEED_TAG_DATE,
    XML_LANG,
    new_feed,
    rfc3339,
    sub,
    tag_uri,
    to_bytes,
)
from outreach.core.database import utcnow
from outreach.core.pagination import paginate, parse_page_args
from outreach.core.security import email_frame_response
from outreach.core.timezones import to_local
from outreach.core.urls import public_url
from outreach.extensions import db
from outreach.i18n import LANGUAGE_NAMES, LANGUAGES, browser_language
from outreach.ops.caching import cached_public_page

bp = Blueprint("archive", __name__)
_render_cache: OrderedDict[tuple, object] = OrderedDict()
_cache_lock = Lock()

FEED_ENTRIES = 20
RENDER_CACHE_SIZE = 128
SUMMARY_CHARS = 400
CACHE_SECONDS = 300


@bp.before_request
def pick_language():
    """`?lang=` filters and sets the page language; an unknown one is a 400, not a guess."""
    lang = request.args.get("lang", "").strip().lower()
    if lang and lang not in LANGUAGES:
        abort(400, f"Unknown language “{lang}”; use one of {', '.join(LANGUAGES)}.")
    g.archive_lang = lang or None
    g.lang = lang or browser_language()


@bp.context_processor
def page_context() -> dict:
    """What `public/base.html` needs: the page language and the language switch."""
    current = g.get("lang") or "en"

    def language_links() -> list[dict]:
        codes = g.get("archive_languages") or LANGUAGES
        args = request.view_args or {}
        return [
            {
                "code": code,
                "name": LANGUAGE_NAMES[code],
                "url": url_for(request.endpoint, lang=code, **args),
                "current": code == current,
            }
            for code in codes
        ]

    def archive_date(value: datetime | None) -> str:
        """A sending date in Geneva, written the page language's way ("1 octobre 2026")."""
        return format_date(to_local(value).date(), "long") if value else ""

    return {"page_lang": current, "language_links": language_links, "archive_date": archive_date}


def archived(by_language: bool = True) -> Select:
    """Public sent campaigns, newest first (with `?lang=`, only those written in it)."""
    stmt = (
        select(Campaign)
        .where(Campaign.public.is_(True), Campaign.status == "sent")
        .options(selectinload(Campaign.variants))
        .order_by(Campaign.finished_at.desc(), Campaign.id.desc())
    )
    if by_language and g.archive_lang:
        stmt = stmt.where(
            exists().where(
                CampaignVariant.campaign_id == Campaign.id,
                CampaignVariant.language == g.archive_lang,
            )
        )
    return stmt


def get_archived(campaign_id: int) -> Campaign:
    campaign = db.session.scalar(archived(by_language=False).where(Campaign.id == campaign_id))
    if campaign is None:
        abort(404, gettext("This campaign is not in the archive."))
    return campaign


def shown_language(campaign: Campaign) -> str:
    """The requested language when the campaign has it, else its default language's variant."""
    variant = campaign.variant(g.archive_lang)
    return variant.language if variant else campaign.default_language


def unrenderable(campaign: Campaign, language: str):
    from outreach.campaigns.rendering import Rendered

    notice = gettext("This newsletter cannot be shown in the archive.")
    return Rendered(
        language=language,
        subject=campaign.name,
        html=f"<!doctype html><html><body><p>{escape(notice)}</p></body></html>",
        text=notice,
    )


def render_public(campaign: Campaign, language: str):
    """The campaign as a neutral recipient sees it: no name, no address, placeholder links.

    Kept in a small per-process cache: a sent campaign's content no longer changes, and the
    list and the feed show up to 20 of them.
    """
    from outreach.campaigns.rendering import PreparedCampaign, Recipient

    key = (campaign.id, language, campaign.updated_at)
    with _cache_lock:
        rendered = _render_cache.get(key)
        if rendered is not None:
            _render_cache.move_to_end(key)
            return rendered
    try:
        prepared = PreparedCampaign.prepare(db.session, campaign)
        rendered = prepared.render(
            Recipient(email="", language=language), unsubscribe_url="#", preferences_url="#"
        )
    except Exception:
        # A template that needs a real recipient (e.g. `contact.countries[0]`) must not take the
        # whole archive down: show the campaign's name and a notice instead.
        current_app.logger.exception("campaign %s cannot be rendered for the archive", campaign.id)
        rendered = unrenderable(campaign, language)
    with _cache_lock:
        _render_cache[key] = rendered
        while len(_render_cache) > RENDER_CACHE_SIZE:
            _render_cache.popitem(last=False)
    return rendered


def clear_render_cache() -> None:
    with _cache_lock:
        _render_cache.clear()


def cached(response: Response) -> Response:
    response.cache_control.public = True
    response.cache_control.max_age = CACHE_SECONDS
    if not g.get("archive_lang"):  # chosen from the browser's languages, not the URL
        response.vary.add("Accept-Language")
    return response


@bp.get("/archive")
@cached_public_page
def index():
    page = paginate(db.session, archived(), *parse_page_args(request.args, 20))
    entries = []
    for campaign in page.items:
        language = shown_language(campaign)
        rendered = render_public(campaign, language)
        entries.append((campaign, language, rendered.subject, summary_of(rendered.text, 240)))
    html = render_template("archive/index.html", page=page, entries=entries, lang=g.archive_lang)
    return cached(Response(html))


@bp.get("/archive/<int:campaign_id>")
@cached_public_page
def detail(campaign_id: int):
    campaign = get_archived(campaign_id)
    language = shown_language(campaign)
    rendered = render_public(campaign, language)
    g.lang = language
    g.archive_languages = [variant.language for variant in campaign.variants]
    refresh()  # the page is in the language shown, even when it fell back to the default
    html = render_template(
        "archive/detail.html", campaign=campaign, language=language, rendered=rendered
    )
    return cached(Response(html))


@bp.get("/archive/<int:campaign_id>/email")
@cached_public_page
def email(campaign_id: int):
    """The rendered email alone, for the frame on the archive page."""
    campaign = get_archived(campaign_id)
    rendered = render_public(campaign, shown_language(campaign))
    return cached(email_frame_response(rendered.html, private=False))


# --- Atom -----------------------------------------------------------------------------------------


def summary_of(text: str, limit: int = SUMMARY_CHARS) -> str:
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + "…"


def build_feed(campaigns: list[Campaign], now: datetime) -> bytes:
    lang = g.archive_lang
    link_args = {"lang": lang} if lang else {}
    organisation = current_app.config["ORGANISATION_NAME"]
    feed = new_feed(lang or "en")
    sub(feed, "id", tag_uri(FEED_TAG_DATE, f"archive:{lang or 'all'}"))
    sub(feed, "title", gettext("%(name)s: newsletter archive", name=organisation))
    updated = max((c.finished_at for c in campaigns if c.finished_at), default=now)
    sub(feed, "updated", rfc3339(updated))
    sub(feed, "link", rel="self", type="application/atom+xml",
        href=public_url("archive.feed", **link_args))
    sub(feed, "link", rel="alternate", type="text/html",
        href=public_url("archive.index", **link_args))
    sub(sub(feed, "author"), "name", organisation)
    for campaign in campaigns:
        language = shown_language(campaign)
        rendered = render_public(campaign, language)
        finished = campaign.finished_at or now
        entry = sub(feed, "entry", **{XML_LANG: language})
        sub(entry, "id", tag_uri(finished, f"campaign:{campaign.id}:{language}"))
        sub(entry, "title", rendered.subject)
        sub(entry, "updated", rfc3339(finished))
        if campaign.started_at:
            sub(entry, "published", rfc3339(campaign.started_at))
        sub(entry, "link", rel="alternate", type="text/html",
            href=public_url("archive.detail", campaign_id=campaign.id, lang=language))
        sub(entry, "summary", summary_of(rendered.text), type="text")
    return to_bytes(feed)


@bp.get("/archive.atom")
@cached_public_page
def feed():
    campaigns = list(db.session.scalars(archived().limit(FEED_ENTRIES)))
    body = build_feed(campaigns, utcnow())
    return cached(Response(body, content_type=CONTENT_TYPE))
