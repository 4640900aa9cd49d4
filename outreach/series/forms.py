"""The series form: audience, languages, the recurrence builder, timing, mode, editors, intro.

The form checks shapes and builds the RRULE from the builder's fields; the service validates the
rest and its problems are put back on the inputs they concern.
"""

from __future__ import annotations

from datetime import date, time

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, NumberRange, Regexp

from outreach.campaigns.merge import LANGUAGE_NAMES
from outreach.contacts.models import LANGUAGES
from outreach.series.models import SERIES_MODES, Series
from outreach.series.recurrence import NTH, WEEKDAYS, Recurrence, from_rrule
from outreach.series.services import SeriesData


class SeriesForm(FlaskForm):
    name = StringField("Name", render_kw={"maxlength": 200})
    segment_ids = SelectMultipleField("Segments", coerce=int, render_kw={"size": 6})
    languages = SelectMultipleField(
        "Languages",
        choices=[SelectChoice(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        render_kw={"size": 3},
    )
    frequency = SelectField(
        "Repeat",
        choices=[SelectChoice("monthly", "Monthly"), SelectChoice("weekly", "Every N weeks")],
    )
    nth = SelectField(
        "Which weekday of the month",
        choices=[SelectChoice(str(n), label) for n, label in NTH.items()],
        default="1",
    )
    weekday = SelectField(
        "Day", choices=[SelectChoice(code, name) for code, name in WEEKDAYS.items()]
    )
    interval = IntegerField(
        "Every how many weeks", default=2, validators=[NumberRange(1, 52, "From 1 to 52.")]
    )
    at = StringField(
        "Time (Geneva)",
        default="09:00",
        validators=[Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", message="Use HH:MM, e.g. 09:00.")],
    )
    starts_on = DateField("First possible day", validators=[InputRequired("Choose a day.")])
    lead_days = IntegerField("Draft this many days before", default=3)
    horizon_weeks = IntegerField("Deadlines and sessions in the next … weeks", default=6)
    news_days = IntegerField("News of the last … days", default=14)
    mode = SelectField(
        "Mode", choices=[SelectChoice(k, v) for k, v in SERIES_MODES.items()], default="review"
    )
    editor_ids = SelectMultipleField("Editors (notified of drafts)", coerce=int)
    intro_en = TextAreaField("Introduction (English)")
    intro_fr = TextAreaField("Introduction (French)")
    intro_es = TextAreaField("Introduction (Spanish)")

    def __init__(self, *args, segments=(), editors=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.segment_ids.choices = [SelectChoice(s.id, s.name) for s in segments]
        self.editor_ids.choices = [SelectChoice(u.id, u.name or u.email) for u in editors]

    def fill_defaults(self) -> None:
        self.languages.data = ["en"]
        self.starts_on.data = date.today()

    def fill_from(self, series: Series) -> None:
        self.name.data = series.name
        self.segment_ids.data = [segment.id for segment in series.segments]
        self.languages.data = list(series.languages)
        self.editor_ids.data = [user.id for user in series.editors]
        for name in ("starts_on", "lead_days", "horizon_weeks", "news_days", "mode"):
            self[name].data = getattr(series, name)
        for language in LANGUAGES:
            self[f"intro_{language}"].data = (series.intro or {}).get(language, "")
        rule = from_rrule(series.rrule)
        if rule is not None:
            self.frequency.data = rule.kind
            self.nth.data = str(rule.nth)
            self.weekday.data = rule.weekday
            self.interval.data = rule.interval
            self.at.data = f"{rule.at:%H:%M}"

    def recurrence(self) -> Recurrence:
        hour, minute = (int(part) for part in self.at.data.split(":"))
        return Recurrence(
            kind=self.frequency.data,
            weekday=self.weekday.data,
            at=time(hour, minute),
            nth=int(self.nth.data),
            interval=self.interval.data or 1,
        )

    def to_data(self) -> SeriesData:
        return SeriesData(
            name=self.name.data or "",
            rrule=self.recurrence().to_rrule(),
            starts_on=self.starts_on.data,
            languages=list(self.languages.data or []),
            segment_ids=list(self.segment_ids.data or []),
            editor_ids=list(self.editor_ids.data or []),
            lead_days=self.lead_days.data if self.lead_days.data is not None else -1,
            horizon_weeks=self.horizon_weeks.data or 0,
            news_days=self.news_days.data or 0,
            mode=self.mode.data,
            intro={language: self[f"intro_{language}"].data or "" for language in LANGUAGES},
        )
