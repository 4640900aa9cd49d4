"""A campaign's messages: everything shared by all recipients is prepared once, then each
recipient costs one run of three compiled sandboxed templates (subject, HTML, text).

`PreparedCampaign.prepare` renders each variant's Markdown to sanitised HTML, wraps it in the
email layout (`templates/emails/campaign.html`, footer in the variant's language), inlines the CSS,
derives the text part, and compiles the lot. The delivery engine calls `render` per recipient.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from datetime import datetime

import css_inline
from flask import current_app, render_template
from flask_babel import force_locale
from jinja2 import Template
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError

from outreach.calendar.models import UPRSession
from outreach.calendar.services import upcoming_key_dates
from outreach.campaigns import markup, merge
from outreach.campaigns.models import Campaign
from outreach.contacts.models import Contact
from outreach.core.database import utcnow
from outreach.core.urls import public_url
from outreach.engagement.tracking import Tracking

DEADLINE_DAYS = 90
BLANK_LINES = re.compile(r"\n\n\n+")  # not \n{3,}: that one backtracks at every newline


@dataclass(frozen=True, slots=True)
class Recipient:
    email: str
    language: str = "en"
    contact_id: int | None = None
    first_name: str = ""
    last_name: str = ""
    organisation: str = ""
    contact_type: str = ""
    country_code: str | None = None
    # Countries of work; the primary country may be repeated here or not.
    countries: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rendered:
    language: str
    subject: str
    html: str  # complete HTML document, CSS inlined
    text: str  # plain-text part


def recipient_for(contact: Contact) -> Recipient:
    """A contact as the renderer sees it."""
    return Recipient(
        email=contact.email,
        language=contact.language,
        contact_id=contact.id,
        first_name=contact.first_name or "",
        last_name=contact.last_name or "",
        organisation=contact.organisation.name if contact.organisation else "",
        contact_type=contact.type or "",
        country_code=contact.country_code,
        countries=tuple(contact.all_countries),
    )


def sample_recipient(language: str) -> Recipient:
    """The fictional contact used for previews and tests without a real one."""
    return Recipient(
        email="amina.diallo@example.org",
        language=language,
        first_name="Amina",
        last_name="Diallo",
        organisation="Fictional Rights Network",
        contact_type="ngo",
        country_code="SN",
        countries=("ML",),
    )


def archive_url(language: str) -> str:
    for endpoint, values in (("archive.index", {"lang": language}), ("archive.index", {})):
        try:
            return public_url(endpoint, **values)
        except BuildError:
            continue
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/archive"


@dataclass
class PreparedVariant:
    language: str
    subject: Template
    html: Template
    text: Template
    tidy_text: bool  # block tags present: collapse the blank lines they may leave


class PreparedCampaign:
    """All work that is the same for every recipient, done once."""

    def __init__(self, campaign: Campaign, variants: dict[str, PreparedVariant], shared: dict,
                 deadlines: list[merge.KeyDateFacts], tracking: Tracking | None = None,
                 subjects: dict[str, list[Template]] | None = None):
        self.campaign_id = campaign.id
        self.tracking = tracking
        self.subjects = subjects or {}  # a subject test's subjects per language
        self.default_language = campaign.default_language
        self.variants = variants
        self._first = next(iter(variants.values()), None)
        self._shared = shared  # per language: session, organisation_name, archive_url
        self._deadlines = deadlines
        self._deadline_cache: dict[tuple[str, frozenset[str]], tuple] = {}

    @classmethod
    def prepare(
        cls,
        session: Session,
        campaign: Campaign,
        *,
        now: datetime | None = None,
        for_delivery: bool = False,
    ) -> PreparedCampaign:
        """`now` (default: now) starts the 90 days of `upcoming_deadlines`. Only the sender asks
        `for_delivery`: its links are registered for click tracking and its subject test loaded;
        previews, test sends and the archive render the campaign as written."""
        upr_session = session.get(UPRSession, campaign.session_id) if campaign.session_id else None
        organisation = current_app.config["ORGANISATION_NAME"]
        prepared: dict[str, PreparedVariant] = {}
        shared: dict[str, dict] = {}
        variants = list(campaign.variants)
        tracking = Tracking.for_campaign(campaign) if for_delivery else None
        for variant in variants:
            language = variant.language
            prepared[language] = prepare_variant(
                variant.subject, variant.body_markdown, language, tracking
            )
            shared[language] = {
                **merge.html_environment().globals,  # the sandbox's range, dict, namespace...
                "organisation_name": organisation,
                "archive_url": archive_url(language),
            }
            if upr_session is not None:
                shared[language]["session"] = merge.session_fields(upr_session, language)
        deadlines: list[merge.KeyDateFacts] = []
        if any("upcoming_deadlines" in v.subject + v.body_markdown for v in variants):
            rows = upcoming_key_dates(session, start=now or utcnow(), days=DEADLINE_DAYS)
            deadlines = [
                merge.KeyDateFacts.of(key_date, concerned, prepared) for key_date, concerned in rows
            ]
        if tracking is not None:
            tracking.register(session)
        subjects = test_subjects(session, campaign) if for_delivery else {}
        return cls(campaign, prepared, shared, deadlines, tracking, subjects)

    def variant_for(self, language: str | None) -> PreparedVariant:
        """The recipient's language, else the campaign's default language, else the first."""
        return (
            self.variants.get(language or "")
            or self.variants.get(self.default_language)
            or self._first
        )

    def upcoming_deadlines(self, language: str, countries: frozenset[str]) -> tuple:
        """Key dates concerning any of `countries`, cached per distinct country set."""
        key = (language, countries)
        cached = self._deadline_cache.get(key)
        if cached is None:
            cached = tuple(
                merge.deadline_fields(facts, countries, language)
                for facts in self._deadlines
                if countries.intersection(facts.concerned)
            )
            self._deadline_cache[key] = cached
        return cached

    def context(self, recipient: Recipient, language: str, **links: str) -> dict:
        countries = frozenset(filter(None, (recipient.country_code, *recipient.countries)))
        return {
            **self._shared[language],
            "contact": merge.contact_fields(
                language,
                email=recipient.email,
                first_name=recipient.first_name,
                last_name=recipient.last_name,
                organisation=recipient.organisation,
                contact_type=recipient.contact_type,
                country_code=recipient.country_code,
                countries=recipient.countries,
            ),
            "upcoming_deadlines": self.upcoming_deadlines(language, countries),
            **links,
        }

    def render(
        self,
        recipient: Recipient,
        *,
        unsubscribe_url: str,
        preferences_url: str,
        outbox_id: int | None = None,
        subject_index: int | None = None,
    ) -> Rendered:
        """Per recipient: only the compiled templates run. `outbox_id` signs tracked links;
        `subject_index` picks one of a subject test's subjects."""
        variant = self.variant_for(recipient.language)
        if variant is None:
            raise ValueError(f"Campaign {self.campaign_id} has no content to send.")
        context = self.context(
            recipient,
            variant.language,
            unsubscribe_url=unsubscribe_url,
            preferences_url=preferences_url,
        )
        text = run(variant.text, context)
        if variant.tidy_text:
            text = BLANK_LINES.sub("\n\n", text)
        html = run(variant.html, context)
        if self.tracking is not None:
            html, text = self.tracking.apply(html, text, outbox_id)
        subject = variant.subject
        choices = self.subjects.get(variant.language, ())
        if subject_index is not None and 0 <= subject_index < len(choices):
            subject = choices[subject_index]
        return Rendered(
            language=variant.language,
            subject=" ".join(run(subject, context).split()),
            html=html,
            text=text,
        )


def run(template: Template, context: dict) -> str:
    """`template.render(context)` without copying the globals into a new dict each time: the
    context already holds them (see `PreparedCampaign.prepare`)."""
    try:
        return "".join(template.root_render_func(template.new_context(context, shared=True)))
    except Exception:
        return template.environment.handle_exception()


def test_subjects(session: Session, campaign: Campaign) -> dict[str, list[Template]]:
    """The compiled subjects of the campaign's subject test, per language (none without one)."""
    from outreach.engagement.models import SubjectTest

    test = session.scalar(select(SubjectTest).where(SubjectTest.campaign_id == campaign.id))
    if test is None:
        return {}
    environment = merge.text_environment()
    return {
        language: [environment.from_string(subject) for subject in subjects]
        for language, subjects in (test.subjects or {}).items()
    }


def prepare_variant(
    subject: str, body: str, language: str, tracking: Tracking | None = None
) -> PreparedVariant:
    """Markdown -> HTML and text once; compile the subject, HTML and text templates."""
    html_source, text_source = template_sources(subject, body, language)
    if tracking is not None:
        html_source, text_source = tracking.rewrite(html_source, text_source)
    return PreparedVariant(
        language=language,
        subject=merge.text_environment().from_string(subject),
        html=merge.html_environment().from_string(html_source),
        text=merge.text_environment().from_string(text_source),
        tidy_text="{%" in body,
    )


def template_sources(subject: str, body: str, language: str) -> tuple[str, str]:
    """The Jinja source of the complete HTML document and of the text part."""
    protected = markup.protect(body)
    fragment = markup.markdown_to_html(protected)
    text = markup.html_to_text(fragment, protected)
    title = markup.protect(subject)
    layout = {
        "lang": language,
        "organisation_name": current_app.config["ORGANISATION_NAME"],
        "subject": Markup(protected.add(title.restore(html_lib.escape(title.text)))),
        "unsubscribe_url": protected.add("{{ unsubscribe_url }}"),
        "preferences_url": protected.add("{{ preferences_url }}"),
    }
    with force_locale(language):
        content = Markup(markup.comment_line_tokens(fragment, protected))
        document = render_template("emails/campaign.html", content=content, **layout)
        text_document = render_template("emails/campaign.txt", content=text, **layout)
    document = css_inline.inline(document)
    return (
        markup.html_template_source(document, protected),
        markup.text_template_source(text_document, protected),
    )
