"""Staff forms for contacts and organisations.

The forms check presence and lengths; the services validate meaning (email syntax, countries,
duplicates) so that forms, the API and the importer give the same answers. Country selects
therefore do not reject unknown values themselves: the service says which country is unknown.
"""

from __future__ import annotations

from functools import cache

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length

from outreach.contacts.models import (
    CONTACT_TYPE_LABELS,
    GANHRI_ACCREDITATIONS,
    LANGUAGE_LABELS,
    STATUSES,
    Contact,
    Organisation,
)
from outreach.contacts.services import ContactData, OrganisationData
from outreach.core.countries import all_countries


def choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


@cache
def _countries() -> tuple[SelectChoice, ...]:
    return tuple(choices(all_countries("en")))


def country_choices(blank: str | None = None) -> list[SelectChoice]:
    return [SelectChoice("", blank), *_countries()] if blank else list(_countries())


TYPE_CHOICES = choices(CONTACT_TYPE_LABELS.items())
LANGUAGE_CHOICES = choices(LANGUAGE_LABELS.items())
STATUS_CHOICES = choices((status, status.capitalize()) for status in STATUSES)
GANHRI_CHOICES = choices(
    [("", "(unknown)")] + [(a, "None" if a == "none" else a) for a in GANHRI_ACCREDITATIONS]
)


class ContactForm(FlaskForm):
    email = StringField(
        "Email",
        validators=[DataRequired("Enter the contact's email address."), Length(max=320)],
        # type=email would make browsers refuse internationalised addresses such as josé@…
        render_kw={"autocomplete": "email", "inputmode": "email", "spellcheck": "false"},
    )
    first_name = StringField("First name", validators=[Length(max=150)])
    last_name = StringField("Last name", validators=[Length(max=150)])
    organisation_name = StringField(
        "Organisation",
        validators=[Length(max=300)],
        render_kw={"list": "organisation-options", "autocomplete": "off"},
    )
    type = SelectField(
        "Type", choices=[SelectChoice("", "Same as the organisation (else Other)"), *TYPE_CHOICES]
    )
    role_title = StringField("Role or title", validators=[Length(max=200)])
    language = SelectField("Language", choices=LANGUAGE_CHOICES, default="en")
    country_code = SelectField("Primary country", validate_choice=False)
    countries = SelectMultipleField(
        "Other countries of work", validate_choice=False, render_kw={"size": 8}
    )
    topics = StringField("Topics", validators=[Length(max=1000)])
    status = SelectField("Status", choices=STATUS_CHOICES, default="active")
    notes = TextAreaField("Notes", render_kw={"rows": 4})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country_code.choices = country_choices("(none)")
        self.countries.choices = country_choices()

    @classmethod
    def for_contact(cls, contact: Contact) -> ContactForm:
        return cls(
            data={
                "email": contact.email,
                "first_name": contact.first_name,
                "last_name": contact.last_name,
                "organisation_name": contact.organisation.name if contact.organisation else "",
                "type": contact.type,
                "role_title": contact.role_title,
                "language": contact.language,
                "country_code": contact.country_code or "",
                "countries": contact.countries,
                "topics": ", ".join(contact.topics),
                "status": contact.status,
                "notes": contact.notes,
            }
        )

    def to_data(self) -> ContactData:
        return ContactData(
            email=self.email.data or "",
            first_name=self.first_name.data or "",
            last_name=self.last_name.data or "",
            organisation_name=self.organisation_name.data or None,
            type=self.type.data or None,
            role_title=self.role_title.data or "",
            language=self.language.data,
            country_code=self.country_code.data or None,
            countries=list(self.countries.data or []),
            topics=self.topics.data or "",
            status=self.status.data,
            notes=self.notes.data or "",
        )


class OrganisationForm(FlaskForm):
    name = StringField(
        "Name", validators=[DataRequired("Enter the organisation's name."), Length(max=300)]
    )
    type = SelectField("Type", choices=TYPE_CHOICES, default="ngo")
    country_code = SelectField("Country", validate_choice=False)
    ecosoc_status = BooleanField("Has ECOSOC consultative status")
    ganhri_accreditation = SelectField(
        "GANHRI accreditation",
        choices=GANHRI_CHOICES,
    )
    website = StringField("Website", validators=[Length(max=500)], render_kw={"inputmode": "url"})
    notes = TextAreaField("Notes", render_kw={"rows": 4})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country_code.choices = country_choices("(none)")
        if self.type.data == "permanent_mission":
            self.country_code.label.text = "State represented"

    @classmethod
    def for_organisation(cls, org: Organisation) -> OrganisationForm:
        return cls(
            data={
                "name": org.name,
                "type": org.type,
                "country_code": org.country_code or "",
                "ecosoc_status": org.ecosoc_status,
                "ganhri_accreditation": org.ganhri_accreditation or "",
                "website": org.website,
                "notes": org.notes,
            }
        )

    def to_data(self) -> OrganisationData:
        return OrganisationData(
            name=self.name.data or "",
            type=self.type.data,
            country_code=self.country_code.data or None,
            ecosoc_status=bool(self.ecosoc_status.data),
            ganhri_accreditation=self.ganhri_accreditation.data or None,
            website=self.website.data or "",
            notes=self.notes.data or "",
        )
