"""Which language a page or message is in.

Public pages take it from the URL (`g.lang`, set by the public blueprints); an email rendered
inside `flask_babel.force_locale(lang)` uses that language (Flask-Babel applies it before asking
this selector); other public requests follow the browser's Accept-Language. Staff pages stay
English.
"""

from __future__ import annotations

from flask import g, has_request_context, request

LANGUAGES = ("en", "fr", "es")
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "es": "Español"}
PUBLIC_BLUEPRINTS = ("public", "public_links")


def browser_language() -> str:
    """The best of our languages for the browser's Accept-Language header (default English)."""
    return request.accept_languages.best_match(LANGUAGES, default="en")


def select_locale() -> str:
    lang = g.get("lang")
    if lang in LANGUAGES:
        return lang
    if has_request_context() and request.blueprint in PUBLIC_BLUEPRINTS:
        return browser_language()
    return "en"
