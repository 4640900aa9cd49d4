"""The subject test form: one textarea per language (a subject per line) and the settings."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import Optional

from outreach.campaigns.merge import LANGUAGE_NAMES
from outreach.contacts.models import LANGUAGES
from outreach.engagement.models import SubjectTest
from outreach.engagement.subject_tests import SubjectTestData


class SubjectTestForm(FlaskForm):
    share_percent = IntegerField(
        "Test share (% of each language's recipients)", [Optional()], default=20
    )
    wait_hours = IntegerField("Wait before choosing the winner (hours)", [Optional()], default=4)
    metric = SelectField(
        "Winner by",
        choices=[SelectChoice("clicks", "Unique clicks"), SelectChoice("opens", "Unique opens")],
        default="clicks",
    )
    auto_pick = BooleanField(
        "Send the winner to the rest automatically after the wait", default=True
    )

    def fill_from(self, test: SubjectTest) -> None:
        self.share_percent.data = test.share_percent
        self.wait_hours.data = test.wait_hours
        self.metric.data = test.metric
        self.auto_pick.data = test.auto_pick
        for language, subjects in (test.subjects or {}).items():
            if language in LANGUAGES:
                self[f"{language}_subjects"].data = "\n".join(subjects)

    def to_data(self, languages: list[str]) -> SubjectTestData:
        return SubjectTestData(
            subjects={
                language: (self[f"{language}_subjects"].data or "").splitlines()
                for language in languages
            },
            share_percent=self.share_percent.data or 0,
            wait_hours=self.wait_hours.data or 0,
            metric=self.metric.data,
            auto_pick=bool(self.auto_pick.data),
        )

    def add_problems(self, fields: dict[str, str]) -> None:
        for name, message in fields.items():
            if name in self._fields:
                self[name].errors = [*self[name].errors, message]


for _code in LANGUAGES:
    setattr(
        SubjectTestForm,
        f"{_code}_subjects",
        TextAreaField(f"{LANGUAGE_NAMES[_code]} subjects, one per line", render_kw={"rows": 4}),
    )
