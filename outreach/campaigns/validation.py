"""What makes a campaign savable, and sendable.

`check_data` runs when a draft is saved; `validate_campaign` runs again before scheduling (the
lifecycle calls it) and adds the audience. Every problem is collected, so one refusal lists them
all; template problems name the variant and the line: "French body, line 4: 'contact' has no
attribute 'firstname'".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from jinja2 import TemplateSyntaxError, meta, nodes
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.calendar.models import UPRSession
from outreach.campaigns import merge
from outreach.campaigns.models import CAMPAIGN_TOPICS, Campaign
from outreach.contacts.models import LANGUAGES
from outreach.core.errors import ServiceError
from outreach.segments.models import Segment

if TYPE_CHECKING:
    from outreach.campaigns.services import CampaignData

NAME_MAX, SUBJECT_MAX, SENDER_NAME_MAX = 200, 300, 200
LINE_BREAK = re.compile(r"[\r\n\u2028\u2029\x85]")


@dataclass(frozen=True)
class Problem:
    """`field` names the form input: name, sender_email, ... or `<lang>_subject`, `<lang>_body`."""

    field: str
    message: str


class CampaignInvalid(ServiceError):
    def __init__(self, problems: list[Problem], intro: str):
        fields: dict[str, str] = {}
        for problem in problems:
            previous = fields.get(problem.field)
            fields[problem.field] = f"{previous} {problem.message}" if previous else problem.message
        listing = " ".join(problem.message for problem in problems)
        super().__init__(f"{intro} {listing}", fields)
        self.problems = problems


# --- Templates ------------------------------------------------------------------------------------


def _line_of(exc: BaseException) -> int | None:
    """The template line an exception was raised at (Jinja rewrites tracebacks to template lines).
    """
    line = getattr(exc, "lineno", None)
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _assigned_names(tree: nodes.Template) -> set[str]:
    return {node.name for node in tree.find_all(nodes.Name) if node.ctx in ("store", "param")}


def _static_problems(tree: nodes.Template, available: set[str]) -> list[tuple[int, str]]:
    """Unknown names and attributes, in every branch (a render only sees the branches it takes)."""
    found: list[tuple[int, str]] = []
    assigned = _assigned_names(tree)
    try:
        undeclared = meta.find_undeclared_variables(tree)
    except TemplateSyntaxError:  # an unknown filter: reported by the render below
        loaded = {node.name for node in tree.find_all(nodes.Name) if node.ctx == "load"}
        undeclared = loaded - assigned
    for node in tree.find_all(nodes.Name):
        if node.ctx == "load" and node.name in undeclared and node.name not in available:
            found.append((node.lineno, _unknown_name(node.name)))
            undeclared.discard(node.name)
    known = {"contact": merge.CONTACT_ATTRS, "session": merge.SESSION_ATTRS}
    for node in tree.find_all(nodes.Getattr):
        name = node.node.name if isinstance(node.node, nodes.Name) else None
        if name in known and name not in assigned and node.attr not in known[name]:
            found.append((node.lineno, f"{name!r} has no attribute {node.attr!r}"))
    for loop in tree.find_all(nodes.For):
        if not (
            isinstance(loop.iter, nodes.Name)
            and loop.iter.name == "upcoming_deadlines"
            and isinstance(loop.target, nodes.Name)
        ):
            continue
        for statement in loop.body:
            for node in statement.find_all(nodes.Getattr):
                if (
                    isinstance(node.node, nodes.Name)
                    and node.node.name == loop.target.name
                    and node.attr not in merge.DEADLINE_ATTRS
                ):
                    message = f"{loop.target.name!r} has no attribute {node.attr!r}"
                    found.append((node.lineno, message))
    return found


def _unknown_name(name: str) -> str:
    if name == "session":
        return "'session' is undefined: choose the campaign's UPR session in its settings"
    return f"{name!r} is undefined"


def template_problems(source: str, language: str, part: str, context: dict) -> list[str]:
    """Syntax errors, unknown names and attributes, and errors when rendered with `context`."""
    label = f"{merge.LANGUAGE_NAMES.get(language, language)} {part}"
    env = merge.text_environment()

    def where(line: int | None) -> str:
        return f"{label}, line {line}" if line and part == "body" else label

    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        return [f"{where(exc.lineno)}: {exc.message or exc}"]
    found = _static_problems(tree, set(context))
    try:
        env.from_string(source).render(context)
    except Exception as exc:  # unknown filters, undefined values, sandbox refusals, type errors
        line = _line_of(exc)
        if not any(line == seen for seen, _ in found):
            message = exc.message if isinstance(exc, TemplateSyntaxError) else str(exc)
            found.append((line or 0, message or type(exc).__name__))
    return [f"{where(line)}: {message}" for line, message in sorted(found, key=lambda f: f[0])]


def sample_context(language: str, upr_session: UPRSession | None) -> dict:
    context = {
        "contact": merge.sample_contact(language),
        "upcoming_deadlines": merge.sample_deadlines(language),
        "unsubscribe_url": "https://example.org/u/sample",
        "preferences_url": "https://example.org/preferences/sample",
        "organisation_name": current_app.config["ORGANISATION_NAME"],
        "archive_url": "https://example.org/archive",
    }
    if upr_session is not None:
        context["session"] = merge.session_fields(upr_session, language)
    return context


def variant_problems(
    language: str, subject: str, body: str, upr_session: UPRSession | None
) -> list[Problem]:
    name = merge.LANGUAGE_NAMES.get(language, language)
    problems: list[Problem] = []
    if not (subject or "").strip():
        problems.append(Problem(f"{language}_subject", f"The {name} subject is empty."))
    elif LINE_BREAK.search(subject):
        problems.append(Problem(
            f"{language}_subject",
            f"The {name} subject contains a line break; an email header must be one line.",
        ))
    elif len(subject) > SUBJECT_MAX:
        problems.append(Problem(
            f"{language}_subject", f"The {name} subject is too long (at most {SUBJECT_MAX})."
        ))
    else:
        context = sample_context(language, upr_session)
        problems += [
            Problem(f"{language}_subject", message)
            for message in template_problems(subject, language, "subject", context)
        ]
    if not (body or "").strip():
        problems.append(Problem(f"{language}_body", f"The {name} body is empty."))
    else:
        context = sample_context(language, upr_session)
        problems += [
            Problem(f"{language}_body", message)
            for message in template_problems(body, language, "body", context)
        ]
    return problems


# --- Settings -------------------------------------------------------------------------------------


def email_problem(address: str, label: str) -> str | None:
    """None if `address` is a valid address (the installation's own MAIL_DOMAIN always is)."""
    if LINE_BREAK.search(address):
        return f"The {label} contains a line break; an email header must be one line."
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        local, _, domain = address.rpartition("@")
        own = current_app.config.get("MAIL_DOMAIN", "")
        if local and domain and domain.lower() == own.lower() and " " not in local:
            return None
        return f"The {label} “{address}” is not a valid email address: {exc}"
    return None


def settings_problems(session: Session, data: CampaignData) -> list[Problem]:
    problems: list[Problem] = []

    def add(field: str, message: str) -> None:
        problems.append(Problem(field, message))

    name = (data.name or "").strip()
    if not name:
        add("name", "Give the campaign a name.")
    elif len(name) > NAME_MAX:
        add("name", f"The name is too long (at most {NAME_MAX} characters).")
    if data.topic not in CAMPAIGN_TOPICS:
        add("topic", f"Choose a topic: {', '.join(CAMPAIGN_TOPICS)}.")
    if LINE_BREAK.search(data.sender_name or ""):
        add("sender_name",
            "The sender name contains a line break; an email header must be one line.")
    elif len(data.sender_name or "") > SENDER_NAME_MAX:
        add("sender_name", f"The sender name is too long (at most {SENDER_NAME_MAX} characters).")
    if not (data.sender_email or "").strip():
        add("sender_email", "Give the sender's email address.")
    elif message := email_problem(data.sender_email.strip(), "sender address"):
        add("sender_email", message)
    if (data.reply_to or "").strip() and (
        message := email_problem(data.reply_to.strip(), "reply-to address")
    ):
        add("reply_to", message)
    if data.default_language not in LANGUAGES:
        add("default_language", "Choose English, French or Spanish as the default language.")
    if data.session_id is not None and session.get(UPRSession, data.session_id) is None:
        add("session_id", "There is no such UPR session.")
    segment_ids = set(data.segment_ids or ())
    if segment_ids:
        found = session.scalar(select(func.count()).where(Segment.id.in_(segment_ids)))
        if found != len(segment_ids):
            add("segment_ids", "One of the segments no longer exists; choose again.")
    return problems


def check_data(session: Session, data: CampaignData) -> list[Problem]:
    """Every problem of a campaign as typed, templates included (checked on every save)."""
    problems = settings_problems(session, data)
    variants = [tuple(variant) for variant in data.variants]  # (language, subject, body)
    languages = [language for language, _, _ in variants]
    unknown = [language for language in languages if language not in LANGUAGES]
    if not variants:
        problems.append(Problem("variants", "Write at least one language version."))
    if unknown:
        problems.append(Problem("variants", f"Unknown language(s): {', '.join(unknown)}."))
    if len(set(languages)) != len(languages):
        problems.append(Problem("variants", "Each language can have only one version."))
    if variants and data.default_language not in languages:
        name = merge.LANGUAGE_NAMES.get(data.default_language, data.default_language)
        problems.append(Problem(
            "default_language",
            f"The default language is {name} but there is no {name} version: "
            "write one or choose another default language.",
        ))
    upr_session = session.get(UPRSession, data.session_id) if data.session_id else None
    for language, subject, body in variants:
        if language in LANGUAGES:
            problems += variant_problems(language, subject, body, upr_session)
    return problems


def raise_for(problems: Iterable[Problem], intro: str) -> None:
    problems = list(problems)
    if problems:
        raise CampaignInvalid(problems, intro)


def validate_data(session: Session, data: CampaignData) -> None:
    raise_for(check_data(session, data), "The campaign was not saved:")


def validate_campaign(session: Session, campaign: Campaign) -> None:
    """Refuse (one ServiceError listing every problem) a campaign that cannot be sent as it is."""
    from outreach.campaigns.audience import summarise
    from outreach.campaigns.services import data_from_campaign

    problems = check_data(session, data_from_campaign(campaign))
    if not campaign.segments:
        problems.append(Problem("segment_ids", "Choose at least one segment to send to."))
    elif summarise(session, campaign).total == 0:
        problems.append(Problem(
            "audience",
            "The audience is empty: nobody in the chosen segments can be mailed "
            "(suppressed, inactive, unconfirmed or opted out of this topic).",
        ))
    if not problems:
        problems += _prepare_problems(session, campaign)
    raise_for(problems, "This campaign cannot be sent yet:")


def _prepare_problems(session: Session, campaign: Campaign) -> list[Problem]:
    """Build the messages once as the engine will, in case the layout itself cannot be built."""
    from outreach.campaigns.rendering import PreparedCampaign, sample_recipient

    try:
        prepared = PreparedCampaign.prepare(session, campaign)
        for language in prepared.variants:
            prepared.render(
                sample_recipient(language),
                unsubscribe_url="https://example.org/u/sample",
                preferences_url="https://example.org/preferences/sample",
            )
    except Exception as exc:  # a template that checks out alone but not inside the layout
        return [Problem("variants", f"The message could not be built: {exc}")]
    return []
