"""Server-side cache of the public pages that are the same for every visitor.

The subscribe page and the archive are cached per process (CACHE_TYPE, PUBLIC_CACHE_SECONDS),
keyed by path, query string and page language. Only anonymous-safe answers are kept: GET, status
200, no cookie set, no flashed message waiting. The subscribe form therefore carries no
per-session CSRF token; `same_origin_post` refuses a POST that a browser says comes from another
site, and the form keeps its rate limit and honeypot (a subscription needs email confirmation).
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from flask import current_app, g, make_response, request, session

from outreach.extensions import cache


def _bypass() -> bool:
    return request.method not in ("GET", "HEAD") or "_flashes" in session


def _cacheable(response) -> bool:
    return response.status_code == 200 and "Set-Cookie" not in response.headers


def page_key() -> str:
    args = "&".join(f"{k}={v}" for k, v in sorted(request.args.items(multi=True)))
    return f"public-page:{g.get('lang') or ''}:{request.path}?{args}"


def cached_public_page(view):
    """Cache a public view's GET answer for PUBLIC_CACHE_SECONDS (CACHE_DEFAULT_TIMEOUT)."""

    @functools.wraps(view)
    def as_response(*args, **kwargs):
        return make_response(view(*args, **kwargs))

    return cache.cached(
        make_cache_key=lambda *args, **kwargs: page_key(),
        unless=_bypass,
        response_filter=_cacheable,
    )(as_response)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def same_origin_post() -> bool:
    """False when the browser says the form was posted from another site (Sec-Fetch-Site or an
    Origin that is neither this host nor PUBLIC_BASE_URL). Clients that send neither pass."""
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    allowed = {
        _origin(request.host_url),
        _origin(current_app.config["PUBLIC_BASE_URL"]),
    }
    return _origin(origin) in allowed
