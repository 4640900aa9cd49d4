"""Public calendar feeds (no login): iCalendar per site, session, State and subscriber; Atom.

Responses carry an ETag (a hash of the body, so a removed date changes it too) and Last-Modified
(the latest change of the dates shown), and answer 304 to a matching If-None-Match or
If-Modified-Since. Public feeds may be cached by anyone for 15 minutes; a subscriber's private feed
only by their own client.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, request
from sqlalchemy import select

from outreach.calendar import feeds
from outreach.calendar.models import UPRSession
from outreach.core.atom import CONTENT_TYPE as ATOM_CONTENT_TYPE
from outreach.core.countries import resolve_country
from outreach.core.urls import public_url
from outreach.extensions import db

bp = Blueprint("calendar_feeds", __name__)

CACHE_SECONDS = 900


@bp.app_template_global()
def calendar_feed_url(contact) -> str:
    return feeds.calendar_feed_url(contact)


@bp.app_template_global()
def feed_url(endpoint: str, **values) -> str:
    """The public address of one of these feeds, e.g. `feed_url('site_calendar')`."""
    return public_url(f"calendar_feeds.{endpoint}", **values)


bp.add_app_template_filter(feeds.webcal_url, "webcal")


@bp.errorhandler(404)
def not_found(error):
    return Response(f"{error.description}\n", 404, mimetype="text/plain")


@bp.errorhandler(400)
def bad_request(error):
    return Response(f"{error.description}\n", 400, mimetype="text/plain")


def _send(feed: feeds.Feed, content_type: str, *, private: bool = False) -> Response:
    response = Response(feed.body, content_type=content_type)
    response.headers["Content-Disposition"] = f'inline; filename="{feed.filename}"'
    response.set_etag(feed.etag)
    if feed.last_modified is not None:
        response.last_modified = feed.last_modified
    if private:
        response.cache_control.private = True
        response.headers["X-Robots-Tag"] = "noindex"
        response.headers["Referrer-Policy"] = "no-referrer"
    else:
        response.cache_control.public = True
    response.cache_control.max_age = CACHE_SECONDS
    return response.make_conditional(request)


def _country_or_404(value: str) -> str:
    code = resolve_country(value)
    if code is None:
        abort(404, "Unknown country.")
    return code


@bp.get("/calendar.ics")
def site_calendar():
    return _send(feeds.site_feed(db.session), feeds.ICS_CONTENT_TYPE)


@bp.get("/sessions/<int:number>/calendar.ics")
def session_calendar(number: int):
    upr_session = db.session.scalar(select(UPRSession).where(UPRSession.number == number))
    if upr_session is None:
        abort(404, f"There is no UPR session {number}.")
    return _send(feeds.session_feed(db.session, upr_session), feeds.ICS_CONTENT_TYPE)


@bp.get("/countries/<code>/calendar.ics")
def country_calendar(code: str):
    return _send(feeds.country_feed(db.session, _country_or_404(code)), feeds.ICS_CONTENT_TYPE)


@bp.get("/calendar/<token>.ics")
def personal_calendar(token: str):
    contact = feeds.contact_from_calendar_token(db.session, token)
    if contact is None:
        abort(404, "Not found.")
    return _send(feeds.contact_feed(db.session, contact), feeds.ICS_CONTENT_TYPE, private=True)


@bp.get("/deadlines.atom")
def deadlines_atom():
    raw = request.args.get("country", "").strip()
    country = resolve_country(raw) if raw else None
    if raw and country is None:
        abort(400, "Unknown country: use an ISO code such as HT, or a name.")
    return _send(feeds.deadlines_atom(db.session, country), ATOM_CONTENT_TYPE)
