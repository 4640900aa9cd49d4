"""Jinja filters and globals shared by every template."""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask, request, url_for
from markupsafe import Markup

from outreach.core.countries import country_name
from outreach.core.timezones import to_local


def localtime(value: datetime | None, fmt: str = "%d %b %Y %H:%M") -> str:
    return to_local(value).strftime(fmt) if value else ""


def localdate(value: datetime | date | None, fmt: str = "%d %b %Y") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_local(value)
    return value.strftime(fmt)


def url_with_args(**changes) -> str:
    """The current URL with some query arguments replaced (None removes one)."""
    args = request.args.to_dict(flat=False)
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = [str(value)]
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def country_label(code: str | None, language: str = "en") -> str:
    return country_name(code, language) if code else ""


def country_list(codes, language: str = "en") -> Markup | str:
    return ", ".join(country_name(code, language) for code in codes or ())


def register(app: Flask) -> None:
    from outreach.calendar.models import KEY_DATE_LABELS
    from outreach.contacts.models import CONTACT_TYPE_LABELS, LANGUAGE_LABELS

    app.add_template_filter(localtime)
    app.add_template_filter(localdate)
    app.add_template_filter(country_label, "country")
    app.add_template_filter(country_list, "countries")
    app.add_template_filter(lambda v: CONTACT_TYPE_LABELS.get(v, v or ""), "contact_type")
    app.add_template_filter(lambda v: LANGUAGE_LABELS.get(v, v or ""), "language_name")
    app.add_template_filter(lambda v: KEY_DATE_LABELS.get(v, v or ""), "key_date_kind")
    app.add_template_global(url_with_args)
