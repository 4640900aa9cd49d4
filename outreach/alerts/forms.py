"""Staff forms of the alerts pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectChoice, SelectField
from wtforms.validators import InputRequired, NumberRange

from outreach.alerts.services import MAX_DAYS_BEFORE
from outreach.calendar.models import KEY_DATE_KINDS, KEY_DATE_LABELS


class RuleForm(FlaskForm):
    """A new alert rule: which kind of key date, how many days before."""

    kind = SelectField(
        "Kind of key date",
        choices=[SelectChoice(kind, KEY_DATE_LABELS[kind]) for kind in KEY_DATE_KINDS],
        validators=[InputRequired("Choose a kind of key date.")],
    )
    days_before = IntegerField(
        "Days before",
        validators=[
            InputRequired("Give a number of days."),
            NumberRange(0, MAX_DAYS_BEFORE, f"Give a number of days from 0 to {MAX_DAYS_BEFORE}."),
        ],
    )
