"""The segment editor form. Choices that come from the database are set by the view."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from outreach.contacts.models import CONTACT_TYPE_LABELS, LANGUAGE_LABELS, STATUSES
from outreach.contacts.validation import parse_topics
from outreach.core.countries import all_countries

# Form field -> key of `ContactFilter.to_dict()`.
FILTER_FIELDS = {
    "types": "types",
    "countries": "countries",
    "session": "session_under_review",
    "languages": "languages",
    "topics": "topics",
    "statuses": "statuses",
}
FIELD_FOR_FILTER = {key: name for name, key in FILTER_FIELDS.items()}
NO_SESSION = ("", "— none —")


def options(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


class SegmentForm(FlaskForm):
    name = StringField(
        "Name", validators=[DataRequired("Give the segment a name."), Length(max=200)]
    )
    description = TextAreaField("Description", render_kw={"rows": 2})
    types = SelectMultipleField("Contact types", choices=options(CONTACT_TYPE_LABELS.items()))
    countries = SelectMultipleField("Working on countries", render_kw={"size": 8})
    session = SelectField(
        "States under review in session", choices=options([NO_SESSION]), default=""
    )
    languages = SelectMultipleField("Languages", choices=options(LANGUAGE_LABELS.items()))
    topics = StringField("Topics (any of)", render_kw={"placeholder": "women-rights, children"})
    statuses = SelectMultipleField(
        "Status", choices=options((s, s.capitalize()) for s in STATUSES), default=["active"]
    )

    def __init__(self, *args, upr_sessions=(), current_session: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.countries.choices = options(all_countries("en"))
        choices = [NO_SESSION]
        numbers = set()
        for upr_session in upr_sessions:
            numbers.add(upr_session.number)
            when = f", {upr_session.wg_start:%b %Y}" if upr_session.wg_start else ""
            label = f"Session {upr_session.number} ({upr_session.status}{when})"
            choices.append((str(upr_session.number), label))
        if current_session is not None and current_session not in numbers:
            label = f"Session {current_session} (not in the calendar)"
            choices.append((str(current_session), label))
        self.session.choices = options(choices)

    def filter_fields(self):
        return [self[name] for name in FILTER_FIELDS]

    def validate_filters(self) -> bool:
        """Check only the filter fields (a preview needs no name)."""
        results = [field.validate(self) for field in self.filter_fields()]
        return all(results)

    def filters(self) -> dict[str, Any]:
        """The criteria as `ContactFilter.from_dict` expects them."""
        return {
            "types": self.types.data or [],
            "countries": self.countries.data or [],
            "session_under_review": self.session.data or None,
            "languages": self.languages.data or [],
            "topics": parse_topics(self.topics.data),
            "statuses": self.statuses.data or [],
        }

    def fill_from_filters(self, filters: dict[str, Any]) -> None:
        """Show a saved segment's criteria."""
        self.types.data = filters.get("types", [])
        self.countries.data = filters.get("countries", [])
        number = filters.get("session_under_review")
        self.session.data = str(number) if number is not None else ""
        self.languages.data = filters.get("languages", [])
        self.topics.data = ", ".join(filters.get("topics", []))
        self.statuses.data = filters.get("statuses", [])

    def add_errors(self, fields: dict[str, str]) -> list[str]:
        """Attach service field errors to their inputs; return those that fit no input."""
        unplaced = []
        for key, message in fields.items():
            name = FIELD_FOR_FILTER.get(key, key)
            if name in self._fields and name != "csrf_token":
                self[name].errors = [*self[name].errors, message]
            else:
                unplaced.append(message)
        return unplaced
