"""/contacts and /imports: the registry through the same services as the staff pages."""

from __future__ import annotations

from flask import jsonify, request
from sqlalchemy.orm import selectinload

from outreach.api import serialise
from outreach.api.blueprint import bp, current_api_user
from outreach.api.inputs import (
    Fields,
    bad_request,
    find,
    json_object,
    page_args,
    page_json,
    query,
)
from outreach.contacts import services
from outreach.contacts.importer import import_contacts
from outreach.contacts.models import Contact
from outreach.contacts.queries import SORTS, ContactFilter, FieldError, apply_sort
from outreach.core.pagination import paginate
from outreach.extensions import db
from outreach.subscriptions.services import RequestMeta, erase_contact

FILTERS = ("country", "type", "language", "topic", "session", "status", "q", "sort")
CONTACT_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "organisation",
    "organisation_id",
    "type",
    "role_title",
    "language",
    "country",
    "countries",
    "topics",
    "status",
    "notes",
)


def _meta() -> RequestMeta:
    return RequestMeta(source="api", staff_user_id=current_api_user().id)


def _contact_data(body: dict, current: Contact | None) -> services.ContactData:
    """A full `ContactData`: the body's fields over the contact's current values (if any)."""
    fields = Fields(body, CONTACT_FIELDS)
    base = services.ContactData(email="")
    if current is not None:
        base = services.ContactData(
            email=current.email,
            first_name=current.first_name,
            last_name=current.last_name,
            organisation_id=current.organisation_id,
            type=current.type,
            role_title=current.role_title,
            language=current.language,
            country_code=current.country_code,
            countries=current.countries,
            topics=current.topics,
            status=current.status,
            notes=current.notes,
        )
    data = services.ContactData(
        email=fields.text("email", base.email, required=current is None, max_length=320),
        first_name=fields.text("first_name", base.first_name, max_length=150),
        last_name=fields.text("last_name", base.last_name, max_length=150),
        organisation_id=fields.integer("organisation_id", base.organisation_id, nullable=True),
        organisation_name=fields.text("organisation", None, nullable=True, max_length=300),
        type=fields.text("type", base.type, nullable=True),
        role_title=fields.text("role_title", base.role_title, max_length=200),
        language=fields.text("language", base.language),
        country_code=fields.text("country", base.country_code, nullable=True),
        countries=fields.texts("countries", base.countries),
        topics=fields.texts("topics", base.topics),
        status=fields.text("status", base.status),
        notes=fields.text("notes", base.notes, max_length=10000),
    )
    if fields.has("organisation") and fields.has("organisation_id"):
        fields.errors["organisation"] = "Give the organisation by name or by id, not both."
    fields.done()
    if fields.has("organisation"):
        data.organisation_id = None
    return data


@bp.get("/contacts")
def list_contacts():
    fields = query(FILTERS)
    page, per_page = page_args(fields)
    sort = fields.text("sort", "name")
    if sort.lstrip("-") not in SORTS:
        fields.errors["sort"] = f"Sort by one of {', '.join(sorted(SORTS))} (prefix - to reverse)."
    fields.done()
    try:
        contact_filter = ContactFilter.from_args(request.args)
    except FieldError as exc:
        raise bad_request(str(exc)[:1].upper() + str(exc)[1:] + ".") from None
    stmt, _ = apply_sort(
        contact_filter.select().options(
            selectinload(Contact.organisation),
            selectinload(Contact.country_links),
            selectinload(Contact.topic_links),
        ),
        sort,
    )
    return jsonify(page_json(paginate(db.session, stmt, page, per_page), serialise.contact))


@bp.post("/contacts")
def create_contact():
    data = _contact_data(json_object(), None)
    contact = services.create_contact(db.session, data, meta=_meta())
    db.session.commit()
    return jsonify(serialise.contact(contact)), 201


@bp.get("/contacts/<int:contact_id>")
def get_contact(contact_id: int):
    return jsonify(serialise.contact(find(Contact, contact_id, "contact")))


@bp.patch("/contacts/<int:contact_id>")
def update_contact(contact_id: int):
    contact = find(Contact, contact_id, "contact")
    data = _contact_data(json_object(), contact)
    services.update_contact(db.session, contact, data)
    db.session.commit()
    return jsonify(serialise.contact(contact))


@bp.delete("/contacts/<int:contact_id>")
def delete_contact(contact_id: int):
    """Erase the contact (right to erasure): its address stays suppressed, as a hash."""
    contact = find(Contact, contact_id, "contact")
    erase_contact(db.session, contact, _meta())
    db.session.commit()
    return "", 204


@bp.post("/imports")
def create_import():
    """A CSV upload, answered with the report of `flask contacts import --json`."""
    fields = Fields(request.form.to_dict(), ("dry_run", "strict"), strings=True)
    dry_run = fields.flag("dry_run")
    strict = fields.flag("strict")
    upload = request.files.get("file")
    if upload is None:
        fields.errors["file"] = "Attach the CSV file as the multipart field `file`."
    fields.done()
    report = import_contacts(
        db.session,
        upload.stream,
        dry_run=dry_run,
        strict=strict,
        source="api",
        staff_user_id=current_api_user().id,
    )
    if report.applied:
        db.session.commit()
    else:
        db.session.rollback()
    return jsonify(report.to_dict())
