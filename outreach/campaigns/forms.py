"""The compose form: settings plus one section per language (include it, subject, Markdown body).

Choices that come from the database (segments, sessions) are set by the view. The form only
checks shapes; the service validates the campaign (templates included) and its problems are put
back on the inputs they concern.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, Optional

from outreach.campaigns.merge import LANGUAGE_NAMES
from outreach.campaigns.models import CAMPAIGN_TOPIC_LABELS, Campaign
from outreach.campaigns.services import CampaignData, VariantData, default_sender
from outreach.campaigns.validation import Problem
from outreach.contacts.models import LANGUAGES

NO_SESSION = SelectChoice("", "— none —")
LANGUAGE_CHOICES = [SelectChoice(code, LANGUAGE_NAMES[code]) for code in LANGUAGES]


class CampaignForm(FlaskForm):
    name = StringField("Name", render_kw={"maxlength": 200})
    topic = SelectField(
        "Topic",
        choices=[SelectChoice(value, label) for value, label in CAMPAIGN_TOPIC_LABELS.items()],
        default="newsletter",
    )
    sender_name = StringField("Sender name", render_kw={"maxlength": 200})
    sender_email = StringField("Sender address", render_kw={"type": "email"})
    reply_to = StringField("Reply-to address", render_kw={"type": "email"})
    default_language = SelectField("Default language", choices=LANGUAGE_CHOICES)
    session_id = SelectField("UPR session", choices=[NO_SESSION], default="")
    segment_ids = SelectMultipleField("Segments", coerce=int, render_kw={"size": 6})
    public = BooleanField("Publish in the public archive once sent (without personal data)")
    track_clicks = BooleanField("Track clicks (links go through a redirect that counts them)",
                                default=True)
    track_opens = BooleanField("Track opens (an invisible image; off unless needed)")

    def __init__(self, *args, segments=(), upr_sessions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.segment_ids.choices = [SelectChoice(segment.id, segment.name) for segment in segments]
        choices = [NO_SESSION]
        for upr_session in upr_sessions:
            when = f", WG {upr_session.wg_start:%b %Y}" if upr_session.wg_start else ""
            choices.append(SelectChoice(str(upr_session.id), f"Session {upr_session.number}{when}"))
        self.session_id.choices = choices

    # -- languages

    def variant_fields(self, language: str):
        return (
            self[f"{language}_include"],
            self[f"{language}_subject"],
            self[f"{language}_body"],
        )

    def included(self) -> list[str]:
        return [code for code in LANGUAGES if self[f"{code}_include"].data]

    # -- to and from the service

    def fill_defaults(self) -> None:
        self.sender_name.data, self.sender_email.data = default_sender()
        self.default_language.data = "en"
        self.en_include.data = True

    def fill_from(self, campaign: Campaign) -> None:
        for name in ("name", "topic", "sender_name", "sender_email", "reply_to",
                     "default_language", "public", "track_clicks", "track_opens"):
            self[name].data = getattr(campaign, name)
        self.session_id.data = str(campaign.session_id or "")
        self.segment_ids.data = [segment.id for segment in campaign.segments]
        for variant in campaign.variants:
            if variant.language in LANGUAGES:
                self[f"{variant.language}_include"].data = True
                self[f"{variant.language}_subject"].data = variant.subject
                self[f"{variant.language}_body"].data = variant.body_markdown

    def to_data(self) -> CampaignData:
        session_id = self.session_id.data
        return CampaignData(
            name=self.name.data or "",
            topic=self.topic.data,
            sender_name=self.sender_name.data or "",
            sender_email=self.sender_email.data or "",
            reply_to=self.reply_to.data or "",
            default_language=self.default_language.data,
            session_id=int(session_id) if session_id and session_id.isdigit() else None,
            public=bool(self.public.data),
            track_clicks=bool(self.track_clicks.data),
            track_opens=bool(self.track_opens.data),
            segment_ids=list(self.segment_ids.data or []),
            variants=[
                VariantData(
                    code, self[f"{code}_subject"].data or "", self[f"{code}_body"].data or ""
                )
                for code in self.included()
            ],
        )

    def add_problems(self, problems: list[Problem]) -> list[str]:
        """Attach service problems to their inputs; return those that fit no input."""
        unplaced: list[str] = []
        for problem in problems:
            if problem.field in self._fields and problem.field != "csrf_token":
                field = self[problem.field]
                field.errors = [*field.errors, problem.message]
            else:
                unplaced.append(problem.message)
        return unplaced

    def variant_errors(self, language: str) -> list[str]:
        return [error for field in self.variant_fields(language) for error in field.errors]


for _code in LANGUAGES:
    _name = LANGUAGE_NAMES[_code]
    setattr(CampaignForm, f"{_code}_include", BooleanField(f"Include the {_name} version"))
    setattr(
        CampaignForm,
        f"{_code}_subject",
        StringField(
            f"{_name} subject", [Optional(), Length(max=300)], render_kw={"maxlength": 300}
        ),
    )
    setattr(
        CampaignForm,
        f"{_code}_body",
        TextAreaField(
            f"{_name} body (Markdown)",
            render_kw={"rows": 18, "class": "font-monospace", "spellcheck": "true"},
        ),
    )


class TestSendForm(FlaskForm):
    addresses = TextAreaField(
        "Send a test to",
        render_kw={"rows": 3, "placeholder": "you@example.org, colleague@example.org"},
    )
    contact_id = StringField("As contact", render_kw={"type": "hidden"})
    language = SelectField("Language", choices=LANGUAGE_CHOICES)
