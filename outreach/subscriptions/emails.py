"""Messages to subscribers, and the email layout whose chrome every message shares.

`render_email(name, lang, ...)` renders `templates/emails/<name>.html` (CSS inlined) and
`<name>.txt` in one language. Both extend `emails/layout.*`, whose footer shows "manage your
preferences" and "unsubscribe" links when `preferences_url` / `unsubscribe_url` are given; the
campaign engine passes them (see `preferences_url()` and `unsubscribe_url()`). The confirmation
message is transactional: it carries no List-Unsubscribe header and no such links.
"""

from __future__ import annotations

from email.message import EmailMessage

import css_inline
from flask import current_app, render_template
from flask_babel import force_locale, gettext

from outreach.contacts.models import Contact
from outreach.core.urls import public_url
from outreach.i18n import LANGUAGES
from outreach.subscriptions.services import (
    ConfirmationLink,
    preferences_token,
    unsubscribe_token,
)


def message_language(lang: str | None) -> str:
    return lang if lang in LANGUAGES else "en"


def render_email(name: str, lang: str, **context) -> tuple[str, str]:
    """The HTML (CSS inlined) and text parts of `emails/<name>` in `lang`."""
    context.setdefault("organisation_name", current_app.config["ORGANISATION_NAME"])
    with force_locale(lang):
        html = render_template(f"emails/{name}.html", lang=lang, **context)
        text = render_template(f"emails/{name}.txt", lang=lang, **context)
    return css_inline.inline(html), text


def build_message(to: str, subject: str, html: str, text: str, lang: str) -> EmailMessage:
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    message["Content-Language"] = lang  # after the content, which resets Content-* headers
    return message


def preferences_url(contact: Contact) -> str:
    """The contact's preference centre, in its language (for message footers)."""
    return public_url(
        "public.preferences",
        lang=message_language(contact.language),
        token=preferences_token(contact),
    )


def unsubscribe_url(contact: Contact) -> str:
    """The one-click unsubscribe address (List-Unsubscribe header and footer link)."""
    return public_url("public_links.unsubscribe", token=unsubscribe_token(contact))


def confirmation_message(link: ConfirmationLink) -> EmailMessage:
    """The double opt-in message: the same for a new, known or unsubscribed address."""
    lang = message_language(link.language)
    organisation = current_app.config["ORGANISATION_NAME"]
    days = max(1, current_app.config["CONFIRM_TOKEN_MAX_AGE"] // 86400)
    with force_locale(lang):
        subject = gettext("Confirm your subscription to %(name)s", name=organisation)
    html, text = render_email(
        "confirmation",
        lang,
        subject=subject,
        confirm_url=public_url("public.confirm", lang=lang, token=link.token),
        days=days,
    )
    return build_message(link.email, subject, html, text, lang)
