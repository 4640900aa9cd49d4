"""Atom 1.0 (RFC 4287) building blocks shared by the public feeds: ids, dates and safe text.

Feeds are built with `xml.etree.ElementTree`, which escapes `&`, `<` and quotes; `sub` also drops
the control characters that XML 1.0 cannot carry at all, so no text can make a feed unparsable.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from flask import current_app

ATOM = "http://www.w3.org/2005/Atom"
CONTENT_TYPE = "application/atom+xml; charset=utf-8"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NOT_XML_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# The date in a feed's own tag URI: fixed once, so feed and entry ids never change.
FEED_TAG_DATE = date(2026, 1, 1)


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def tag_uri(day: date, specific: str) -> str:
    """An RFC 4151 tag: stable for an entry, whatever the feed's URL later becomes."""
    host = urlsplit(current_app.config["PUBLIC_BASE_URL"]).hostname or "localhost"
    return f"tag:{host},{day:%Y-%m-%d}:{specific}"


def new_feed(lang: str = "en") -> ET.Element:
    return ET.Element("feed", {"xmlns": ATOM, XML_LANG: lang})


def sub(parent: ET.Element, tag: str, text: str | None = None, **attributes) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = NOT_XML_CHARS.sub("", text)
    return element


def to_bytes(feed: ET.Element) -> bytes:
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
