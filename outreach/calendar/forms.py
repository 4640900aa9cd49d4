"""Staff forms for sessions, States under review and key dates (Geneva dates and times)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from outreach.calendar.models import KEY_DATE_KINDS, KEY_DATE_LABELS
from outreach.calendar.services import KeyDateData, SessionData
from outreach.core.countries import all_countries, country_name


def choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


STATUS_CHOICES = choices(
    [("confirmed", "Confirmed"), ("projected", "Projected (dates and States unconfirmed)")]
)


def _text(value: str | None) -> str:
    return (value or "").strip()


class SessionForm(FlaskForm):
    number = IntegerField(
        "Session number", validators=[InputRequired("Give the session number."), NumberRange(1)]
    )
    cycle_number = IntegerField("Cycle", validators=[Optional(), NumberRange(1)])
    wg_start = DateField("Working Group first day", validators=[Optional()])
    wg_end = DateField("Working Group last day", validators=[Optional()])
    location = StringField("Location", default="Geneva", validators=[Length(max=200)])
    status = SelectField("Status", choices=STATUS_CHOICES, default="confirmed")
    notes = TextAreaField("Notes", validators=[Optional()])
    derive_dates = BooleanField("Add the usual key dates (estimated)", default=True)

    def data_for_service(self) -> SessionData:
        return SessionData(
            number=self.number.data,
            cycle_number=self.cycle_number.data,
            wg_start=self.wg_start.data,
            wg_end=self.wg_end.data,
            location=_text(self.location.data),
            status=self.status.data,
            notes=_text(self.notes.data),
        )


class AddStateForm(FlaskForm):
    """The select lists every country; a typed name or code is accepted too (API, no-JS)."""

    country = SelectField("State", validate_choice=False)
    note = StringField("Note", validators=[Optional(), Length(max=1000)])

    def set_choices(self, exclude: list[str]) -> None:
        self.country.choices = choices(
            [("", "Choose a State…")]
            + [(code, name) for code, name in all_countries("en") if code not in exclude]
        )


class MoveStateForm(FlaskForm):
    target = SelectField("Move to session", coerce=int, validators=[DataRequired()])
    moved_on = DateField("Date of the decision", validators=[Optional()])
    note = StringField("Note", validators=[Optional(), Length(max=500)])

    def set_choices(self, numbers: list[int], current: int) -> None:
        self.target.choices = choices((n, f"Session {n}") for n in numbers if n != current)


class KeyDateForm(FlaskForm):
    kind = SelectField(
        "Kind", choices=choices((kind, KEY_DATE_LABELS[kind]) for kind in KEY_DATE_KINDS)
    )
    day = DateField("Date", validators=[InputRequired("Give the date.")])
    at = TimeField("Time (Geneva)", validators=[Optional()])
    end_day = DateField("End date", validators=[Optional()])
    estimated = BooleanField("Estimated (not yet confirmed)")
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    url = StringField("Web page (URL)", validators=[Optional(), Length(max=500)])
    state = SelectField("State", default="")

    def set_choices(self, codes: list[str], session_number: int) -> None:
        states = sorted(codes, key=country_name)
        self.state.choices = choices(
            [("", f"All States of session {session_number}")]
            + [(code, country_name(code)) for code in states]
        )

    def data_for_service(self) -> KeyDateData:
        return KeyDateData(
            kind=self.kind.data,
            day=self.day.data,
            at=self.at.data,
            end_day=self.end_day.data,
            estimated=bool(self.estimated.data),
            description=_text(self.description.data),
            url=_text(self.url.data),
            state=self.state.data or None,
        )


class ActionForm(FlaskForm):
    """An empty form: a POST button protected by CSRF (remove, delete, confirm)."""
