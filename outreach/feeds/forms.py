"""Staff form of a news feed source."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import (
    URL,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from outreach.core.countries import parse_country_list
from outreach.feeds.models import DEFAULT_POLL_MINUTES
from outreach.feeds.services import SourceData

LANGUAGE_CHOICES = [
    SelectChoice("en", "English"),
    SelectChoice("fr", "French"),
    SelectChoice("es", "Spanish"),
]
MIN_INTERVAL, MAX_INTERVAL = 5, 7 * 24 * 60


class SourceForm(FlaskForm):
    name = StringField(
        "Name", validators=[InputRequired("Give the source a name."), Length(max=200)]
    )
    url = StringField(
        "Feed URL",
        validators=[
            InputRequired("Give the address of the RSS or Atom feed."),
            Length(max=2000),
            URL(require_tld=False, message="Give a full http:// or https:// address."),
        ],
    )
    language = SelectField("Language", choices=LANGUAGE_CHOICES, default="en")
    countries = StringField("Countries", validators=[Optional(), Length(max=2000)])
    topics = StringField("Topics", validators=[Optional(), Length(max=500)])
    poll_interval_minutes = IntegerField(
        "Poll every (minutes)",
        default=DEFAULT_POLL_MINUTES,
        validators=[
            InputRequired("Give a number of minutes."),
            NumberRange(
                MIN_INTERVAL,
                MAX_INTERVAL,
                f"Give a number of minutes from {MIN_INTERVAL} to {MAX_INTERVAL}.",
            ),
        ],
    )
    active = BooleanField("Active (polled)", default=True)

    def validate_url(self, field) -> None:
        if not field.errors and not field.data.strip().lower().startswith(("http://", "https://")):
            raise ValidationError("Give a full http:// or https:// address.")

    def validate_countries(self, field) -> None:
        codes, unknown = parse_country_list(field.data or "")
        if unknown:
            raise ValidationError(f"Unknown countries: {', '.join(unknown)}.")
        self.country_codes = codes

    @classmethod
    def for_source(cls, source) -> SourceForm:
        return cls(
            formdata=None,
            name=source.name,
            url=source.url,
            language=source.language,
            countries=", ".join(source.countries or []),
            topics=", ".join(source.topics or []),
            poll_interval_minutes=source.poll_interval_minutes,
            active=source.active,
        )

    def data_for_service(self) -> SourceData:
        topics = [t.strip() for t in (self.topics.data or "").split(",") if t.strip()]
        return SourceData(
            url=self.url.data.strip(),
            name=self.name.data.strip(),
            language=self.language.data,
            countries=getattr(self, "country_codes", []),
            topics=list(dict.fromkeys(topics)),
            active=self.active.data,
            poll_interval_minutes=self.poll_interval_minutes.data,
        )
