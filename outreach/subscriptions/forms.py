"""Public forms: subscribe and the preference centre, with translated labels and messages.

The forms check presence and lengths; `services.py` decides what is valid (email syntax, known
countries, topics...), and `show_service_errors` puts its answer under the right fields in the
page's language. Selects therefore accept any posted value and let the service judge it.
"""

from __future__ import annotations

from datetime import date
from math import ceil

from flask_babel import format_date, gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    widgets,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from outreach.calendar.models import Review, UPRSession
from outreach.core.countries import all_countries
from outreach.core.database import utcnow
from outreach.core.timezones import local_today
from outreach.i18n import LANGUAGE_NAMES
from outreach.subscriptions.models import Subscription
from outreach.subscriptions.services import MAX_PAUSE_WEEKS, Preferences, SubscribeRequest

CONTACT_TYPE_LABELS = {
    "ngo": _l("Non-governmental organisation (NGO)"),
    "nhri": _l("National human rights institution (NHRI)"),
    "permanent_mission": _l("Permanent mission to the United Nations"),
    "un_entity": _l("United Nations entity"),
    "regional_org": _l("Regional organisation"),
    "academic": _l("University or research institute"),
    "media": _l("Media"),
    "other": _l("Other"),
}
TOPIC_LABELS = {
    "newsletter": _l("Newsletter"),
    "deadline_alerts": _l("Deadline alerts"),
    "pre_session": _l("Pre-session news"),
    "digest": _l("Weekly digest"),
}
TOPIC_HELP = {
    "newsletter": _l("News about the Universal Periodic Review (UPR) and our work."),
    "deadline_alerts": _l("A reminder before submission and registration deadlines close."),
    "pre_session": _l("Calls and programmes of the pre-sessions before each review."),
    "digest": _l("One message a week with everything new."),
}
FREQUENCY_LABELS = {
    "immediate": _l("As soon as a deadline approaches"),
    "weekly": _l("Grouped in a weekly digest"),
    "none": _l("No deadline alerts"),
}
# What the services' field errors mean, in the reader's language (their own text is English).
SERVICE_ERRORS = {
    "email": _l("Enter a valid email address, for example name@example.org."),
    "consent": _l("Please agree to the privacy notice to subscribe."),
    "contact_type": _l("Choose the kind of organisation you work for."),
    "language": _l("Choose English, French or Spanish."),
    "countries": _l("Choose countries from the list."),
    "topics": _l("Choose at least one kind of message."),
    "alert_frequency": _l("Choose how often to receive deadline alerts."),
    "session_numbers": _l("Choose at least one session, or all upcoming sessions."),
    "pause_weeks": _l("Enter a number of weeks from 0 to 52."),
}
SERVICE_FIELDS = {"session_numbers": "sessions"}


def no_nul(value):
    """Drop NUL characters, which PostgreSQL refuses in text."""
    return value.replace("\x00", "") if isinstance(value, str) else value


def choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def upcoming_sessions(session: Session, today: date | None = None) -> list[tuple[UPRSession, int]]:
    """Sessions whose Working Group is not over (or not yet dated), with their number of States."""
    today = today or local_today()
    rows = session.execute(
        select(UPRSession, func.count(Review.id))
        .outerjoin(Review, Review.session_id == UPRSession.id)
        .where(or_(UPRSession.wg_end >= today, UPRSession.wg_end.is_(None)))
        .group_by(UPRSession.id)
        .order_by(UPRSession.number)
    ).all()
    return [(upr_session, count) for upr_session, count in rows]


def session_label(upr_session: UPRSession, state_count: int) -> str:
    label = gettext("Session %(number)s", number=upr_session.number)
    if upr_session.wg_start and upr_session.wg_end:
        label += " · " + gettext(
            "%(start)s to %(end)s",
            start=format_date(upr_session.wg_start, "d MMM"),
            end=format_date(upr_session.wg_end, "d MMM y"),
        )
    label += " · " + ngettext("%(num)d State", "%(num)d States", state_count)
    if upr_session.is_projected:
        label += " · " + gettext("projected")
    return label


class ChoicesForm(FlaskForm):
    """What subscribers choose, on both forms."""

    language = SelectField(
        _l("Preferred language"),
        choices=choices(LANGUAGE_NAMES.items()),
        validate_choice=False,
    )
    countries = SelectMultipleField(
        _l("Countries of interest"),
        validate_choice=False,
        render_kw={"size": 8},
        description=_l(
            "Optional: the countries whose reviews you follow. Hold Ctrl (Cmd on a Mac) to choose "
            "several."
        ),
    )
    sessions_mode = RadioField(
        _l("UPR sessions"),
        choices=choices(
            [
                ("all", _l("All upcoming sessions")),
                ("chosen", _l("Only the sessions I choose below")),
            ]
        ),
        default="all",
        validate_choice=False,
    )
    sessions = CheckboxesField(_l("Sessions"), coerce=int, validate_choice=False)
    topics = CheckboxesField(
        _l("What would you like to receive?"),
        choices=choices(TOPIC_LABELS.items()),
        default=["newsletter", "deadline_alerts"],
        validate_choice=False,
    )

    def set_choices(self, lang: str, sessions: list[tuple[UPRSession, int]]) -> None:
        self.countries.choices = choices(all_countries(lang))
        self.sessions.choices = choices((s.number, session_label(s, n)) for s, n in sessions)

    def chosen(self, alert_frequency: str = "immediate") -> Preferences:
        return Preferences(
            language=self.language.data or "",
            countries=[code for code in self.countries.data or [] if code],
            all_sessions=self.sessions_mode.data != "chosen",
            session_numbers=list(self.sessions.data or []),
            topics=list(self.topics.data or []),
            alert_frequency=alert_frequency,
        )

    def load(self, prefs: Preferences) -> None:
        self.language.data = prefs.language
        self.countries.data = list(prefs.countries)
        self.sessions_mode.data = "all" if prefs.all_sessions else "chosen"
        self.sessions.data = list(prefs.session_numbers)
        self.topics.data = list(prefs.topics)

    def show_service_errors(self, fields: dict[str, str]) -> None:
        for key in fields:
            name = SERVICE_FIELDS.get(key, key)
            target = self._fields.get(name)
            message = str(SERVICE_ERRORS.get(key, _l("Please check this field.")))
            if target is not None:
                target.errors = [*target.errors, message]
            else:
                self.form_errors.append(message)


class SubscribeForm(ChoicesForm):
    class Meta:
        csrf = False  # the page is cached for everyone; see outreach.ops.caching
    email = StringField(
        _l("Email address"),
        validators=[DataRequired(_l("Enter your email address.")), Length(max=320)],
        filters=[no_nul],
        render_kw={"autocomplete": "email", "inputmode": "email", "spellcheck": "false"},
    )
    first_name = StringField(
        _l("First name"),
        validators=[Length(max=150)],
        filters=[no_nul],
        render_kw={"autocomplete": "given-name"},
    )
    last_name = StringField(
        _l("Last name"),
        validators=[Length(max=150)],
        filters=[no_nul],
        render_kw={"autocomplete": "family-name"},
    )
    organisation = StringField(
        _l("Organisation"),
        validators=[Length(max=300)],
        filters=[no_nul],
        render_kw={"autocomplete": "organization"},
    )
    contact_type = SelectField(
        _l("Type of organisation"),
        choices=choices(CONTACT_TYPE_LABELS.items()),
        default="ngo",
        validate_choice=False,
    )
    consent = BooleanField(_l("I agree to the privacy notice"))
    # Honeypot: hidden from people, filled in by bots.
    website = StringField(_l("Leave this field empty"))

    def subscribe_request(self) -> SubscribeRequest:
        return SubscribeRequest(
            email=self.email.data or "",
            preferences=self.chosen(),
            consent=bool(self.consent.data),
            first_name=self.first_name.data or "",
            last_name=self.last_name.data or "",
            organisation=self.organisation.data or "",
            contact_type=self.contact_type.data or "",
        )


class PreferencesForm(ChoicesForm):
    alert_frequency = RadioField(
        _l("Deadline alerts"),
        choices=choices(FREQUENCY_LABELS.items()),
        default="immediate",
        validate_choice=False,
    )
    pause_weeks = IntegerField(
        _l("Pause all messages for this many weeks"),
        default=0,
        validators=[
            Optional(),
            NumberRange(0, MAX_PAUSE_WEEKS, _l("Enter a number of weeks from 0 to 52.")),
        ],
        render_kw={"min": 0, "max": MAX_PAUSE_WEEKS},
        description=_l("0 means no pause: messages resume at once."),
    )

    def load_subscription(self, prefs: Preferences, subscription: Subscription | None) -> None:
        self.load(prefs)
        self.alert_frequency.data = prefs.alert_frequency
        self.pause_weeks.data = remaining_pause_weeks(subscription)

    def chosen_preferences(self) -> Preferences:
        return self.chosen(self.alert_frequency.data or "")


def remaining_pause_weeks(subscription: Subscription | None) -> int:
    """Whole weeks left in a pause, so that saving the page as shown keeps the pause."""
    if subscription is None or not subscription.is_paused():
        return 0
    days = (subscription.paused_until - utcnow()).total_seconds() / 86400
    return min(MAX_PAUSE_WEEKS, max(1, ceil(days / 7)))
