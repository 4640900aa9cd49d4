"""Staff forms for the suppression list. The services check the addresses themselves."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from outreach.subscriptions.staff_services import NOTE_MAX

NOTE_HELP = "Why the address is blocked, for colleagues (optional)."


class SuppressionForm(FlaskForm):
    email = StringField(
        "Email address",
        validators=[DataRequired("Enter the address to suppress."), Length(max=320)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    note = StringField("Note", validators=[Length(max=NOTE_MAX)])


class BulkSuppressionForm(FlaskForm):
    addresses = TextAreaField(
        "Addresses, one per line",
        validators=[
            DataRequired("Paste at least one address."),
            Length(max=400_000, message="Paste fewer addresses at a time."),
        ],
        render_kw={"rows": 10, "spellcheck": "false"},
    )
    note = StringField("Note for every address", validators=[Length(max=NOTE_MAX)])
