"""Translations: every public string is really translated into French and Spanish.

`tests/conftest.py` compiles the catalogues before any test runs (as `make translations` does).
"""

from __future__ import annotations

import contextvars
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "outreach" / "translations"
LANGUAGES = ("fr", "es")
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]")


def catalog(lang: str):
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as source:
        return read_po(source, locale=lang)


def source_messages() -> set:
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        found.add(message)
    return found


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_is_translated(lang):
    messages = [m for m in catalog(lang) if m.id]
    assert len(messages) > 100
    untranslated = [
        m.id for m in messages if not (all(m.string) if isinstance(m.id, tuple) else m.string)
    ]
    fuzzy = [m.id for m in messages if m.fuzzy]
    assert untranslated == []
    assert fuzzy == []
    assert not catalog(lang).fuzzy


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_their_placeholders(lang):
    for message in catalog(lang):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == expected, (message.id, string)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalogue_holds_every_string_of_the_sources(lang):
    """A string added to a template or form without `make translations-extract` fails here."""
    known = {m.id for m in catalog(lang) if m.id}
    assert source_messages() - known == set()


def test_translations_are_not_english():
    french, spanish = catalog("fr"), catalog("es")
    assert french.get("Subscribe").string == "S'abonner"
    assert spanish.get("Subscribe").string == "Suscribirse"
    same = [
        m.id
        for m in french
        if m.id and isinstance(m.id, str) and m.string == m.id == spanish.get(m.id).string
    ]
    assert same == []  # nothing left as English in both languages


def test_upr_vocabulary():
    french = {m.string for m in catalog("fr") if isinstance(m.string, str)}
    spanish = {m.string for m in catalog("es") if isinstance(m.string, str)}
    assert any("Examen périodique universel (EPU)" in s for s in french)
    assert any("parties prenantes" in s for s in french)
    assert any("institutions nationales des droits de l'homme (INDH)" in s for s in french)
    assert any("Examen Periódico Universal (EPU)" in s for s in spanish)
    assert any("instituciones nacionales de derechos humanos" in s for s in spanish)


def locale_for(app, path: str, accept_language: str) -> str:
    """The locale chosen for a request, in its own contexts (as under a real server)."""
    from outreach.i18n import select_locale

    def run() -> str:
        with app.test_request_context(path, headers={"Accept-Language": accept_language}):
            app.preprocess_request()
            return select_locale()

    return contextvars.Context().run(run)


def test_locale_selection(app):
    assert locale_for(app, "/fr/privacy", "es") == "fr"  # the URL wins
    assert locale_for(app, "/u/x", "es-ES,es;q=0.9") == "es"  # no language in the URL
    assert locale_for(app, "/u/x", "de") == "en"
    assert locale_for(app, "/login", "fr") == "en"  # staff pages stay English


def test_forced_locale_for_emails(app):
    from flask_babel import force_locale, gettext

    with app.test_request_context("/login"):
        with force_locale("es"):
            assert gettext("Subscribe") == "Suscribirse"
        assert gettext("Subscribe") == "Subscribe"
