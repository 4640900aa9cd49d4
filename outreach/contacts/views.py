"""Staff pages of the registry: contacts and organisations (list, page, forms, status changes)."""

from __future__ import annotations

import io
import json
import tempfile

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from outreach.auth.decorators import editor_required, require_login
from outreach.calendar.models import UPRSession
from outreach.contacts import services
from outreach.contacts.forms import ContactForm, OrganisationForm
from outreach.contacts.models import (
    CONTACT_TYPE_LABELS,
    LANGUAGE_LABELS,
    STATUSES,
    Contact,
    Organisation,
)
from outreach.contacts.queries import ContactFilter, apply_sort
from outreach.contacts.validation import FieldError
from outreach.core.countries import all_countries
from outreach.core.errors import ServiceError
from outreach.core.pagination import paginate, parse_page_args
from outreach.core.timezones import local_today
from outreach.extensions import db
from outreach.subscriptions.services import (
    RequestMeta,
    erase_contact,
    export_contact,
    find_suppression,
)
from outreach.subscriptions.staff_services import consent_events

bp = Blueprint("contacts", __name__)
bp.before_request(require_login)

EXPORT_CHUNK = 64 * 1024
FILTER_ARGS = ("q", "type", "country", "language", "topic", "session", "status")
ORGANISATION_SORTS = {"name", "type", "country", "contacts"}


def _per_page() -> tuple[int, int]:
    return parse_page_args(request.args, current_app.config.get("PER_PAGE", 50))


def _apply_errors(form, exc: ServiceError) -> None:
    """Show a service refusal on the form fields it names (or at the top of the form)."""
    unplaced = []
    for name, message in exc.fields.items():
        if name in form:
            form[name].errors = [*form[name].errors, message]
        else:
            unplaced.append(message)
    if unplaced or not exc.fields:
        form.form_errors = [*form.form_errors, *(unplaced or [exc.message])]


def _confirm_or_apply(title: str, question: str, button: str, cancel_url: str):
    """No-JS confirmation: a POST without `confirmed=1` (or a GET) shows a confirm page."""
    if request.method == "POST" and request.form.get("confirmed") == "1":
        return None
    return render_template(
        "contacts/confirm.html",
        title=title,
        question=question,
        button=button,
        cancel_url=cancel_url,
    )


# --- contacts ------------------------------------------------------------------------------


def _filter_choices() -> dict:
    sessions = db.session.execute(
        select(UPRSession.number, UPRSession.status).order_by(UPRSession.number)
    ).all()
    return {
        "types": CONTACT_TYPE_LABELS,
        "languages": LANGUAGE_LABELS,
        "statuses": STATUSES,
        "countries": all_countries("en"),
        "sessions": sessions,
    }


def _export_args() -> dict:
    args = request.args.to_dict(flat=False)
    for key in ("page", "per_page"):
        args.pop(key, None)
    return args


@bp.get("/contacts")
def index():
    """The contact list: search, filters, sorting, pagination, CSV export of the same list."""
    page = None
    error = None
    sort = request.args.get("sort") or "name"
    try:
        contact_filter = ContactFilter.from_args(request.args)
    except FieldError as exc:
        error = str(exc)
    else:
        stmt, sort = apply_sort(
            contact_filter.select().options(selectinload(Contact.organisation)), sort
        )
        page = paginate(db.session, stmt, *_per_page())
    return render_template(
        "contacts/list.html",
        page=page,
        error=error,
        sort=sort,
        args=request.args,
        filtered=any(request.args.get(name) for name in FILTER_ARGS),
        export_args=_export_args(),
        **_filter_choices(),
    ), (400 if error else 200)


@bp.get("/contacts/export.csv")
def export():
    """The filtered, sorted list as CSV, spooled to disk when large and sent in chunks."""
    from outreach.contacts.csv_io import write_contacts_csv

    try:
        contact_filter = ContactFilter.from_args(request.args)
    except FieldError as exc:
        raise ServiceError(str(exc)) from None
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115  (closed in chunks())
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
    try:
        write_contacts_csv(db.session, contact_filter, request.args.get("sort"), text)
        text.flush()
    except BaseException:
        text.close()
        raise
    spool.seek(0)

    def chunks():
        with text:
            while chunk := spool.read(EXPORT_CHUNK):
                yield chunk

    filename = f"contacts-{local_today().isoformat()}.csv"
    return Response(
        chunks(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/contacts/<int:contact_id>")
def detail(contact_id: int):
    contact = db.get_or_404(Contact, contact_id)
    return render_template(
        "contacts/detail.html",
        contact=contact,
        suppression=find_suppression(db.session, contact.email_hash),
        consent=consent_events(db.session, contact.email_hash),
    )


def _staff_meta() -> RequestMeta:
    return RequestMeta(source="staff", staff_user_id=current_user.id)


@bp.get("/contacts/<int:contact_id>/export.json")
@editor_required
def export_json(contact_id: int):
    """Everything held about one contact (subject access request), as a JSON download."""
    contact = db.get_or_404(Contact, contact_id)
    body = json.dumps(export_contact(db.session, contact), ensure_ascii=False, indent=2)
    filename = f"contact-{contact.id}-{local_today().isoformat()}.json"
    return Response(
        body,
        content_type="application/json; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/contacts/<int:contact_id>/erase", methods=["GET", "POST"])
@editor_required
def erase(contact_id: int):
    """Right to erasure; a POST without `confirmed=1` (or a GET) shows what will be removed."""
    contact = db.get_or_404(Contact, contact_id)
    if not (request.method == "POST" and request.form.get("confirmed") == "1"):
        return render_template(
            "contacts/erase.html",
            contact=contact,
            suppression=find_suppression(db.session, contact.email_hash),
        )
    erase_contact(db.session, contact, _staff_meta())
    db.session.commit()
    flash(
        f"Contact #{contact_id} was erased. Its address stays on the suppression list as a hash, "
        "so an import cannot add it back and it is never mailed again.",
        "success",
    )
    return redirect(url_for("contacts.index"))


def _contact_form_page(form: ContactForm, contact: Contact | None, status: int = 200,
                       duplicate_id: int | None = None):
    return render_template(
        "contacts/form.html",
        form=form,
        contact=contact,
        duplicate_id=duplicate_id,
        organisation_names=services.organisation_names(db.session),
    ), status


def _save_contact(form: ContactForm, contact: Contact | None):
    try:
        if contact is None:
            contact = services.create_contact(db.session, form.to_data(), meta=_staff_meta())
            message = "Contact created."
        else:
            services.update_contact(db.session, contact, form.to_data())
            message = "Contact saved."
    except services.DuplicateContactError as exc:
        db.session.rollback()
        _apply_errors(form, exc)
        return _contact_form_page(form, contact, 400, duplicate_id=exc.contact_id)
    except ServiceError as exc:
        db.session.rollback()
        _apply_errors(form, exc)
        return _contact_form_page(form, contact, 400)
    db.session.commit()
    flash(message, "success")
    suppression = find_suppression(db.session, contact.email_hash)
    if suppression is not None:
        flash(
            f"This address is on the suppression list ({suppression.reason.replace('_', ' ')}): "
            "it will receive no mail.",
            "warning",
        )
    return redirect(url_for("contacts.detail", contact_id=contact.id))


@bp.route("/contacts/new", methods=["GET", "POST"])
@editor_required
def new():
    form = ContactForm()
    if form.validate_on_submit():
        return _save_contact(form, None)
    return _contact_form_page(form, None, 400 if form.is_submitted() else 200)


@bp.route("/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
@editor_required
def edit(contact_id: int):
    contact = db.get_or_404(Contact, contact_id)
    form = ContactForm() if request.method == "POST" else ContactForm.for_contact(contact)
    if form.validate_on_submit():
        return _save_contact(form, contact)
    return _contact_form_page(form, contact, 400 if form.is_submitted() else 200)


def _change_contact_status(contact_id: int, status: str, verb: str):
    contact = db.get_or_404(Contact, contact_id)
    who = contact.full_name or contact.email
    page = _confirm_or_apply(
        f"{verb} {who}",
        f"{verb} the contact {who} <{contact.email}>? "
        + ("They will receive no newsletters or alerts while inactive."
           if status == "inactive" else "They will receive newsletters and alerts again."),
        verb,
        url_for("contacts.detail", contact_id=contact.id),
    )
    if page is not None:
        return page
    services.set_contact_status(db.session, contact, status)
    db.session.commit()
    flash(f"{who} is now {status}.", "success")
    return redirect(url_for("contacts.detail", contact_id=contact.id))


@bp.route("/contacts/<int:contact_id>/deactivate", methods=["GET", "POST"])
@editor_required
def deactivate(contact_id: int):
    return _change_contact_status(contact_id, "inactive", "Deactivate")


@bp.route("/contacts/<int:contact_id>/reactivate", methods=["GET", "POST"])
@editor_required
def reactivate(contact_id: int):
    return _change_contact_status(contact_id, "active", "Reactivate")


# --- organisations -------------------------------------------------------------------------


@bp.get("/organisations")
def organisations():
    """Organisations with their contact counts; search, type and status filters."""
    q = request.args.get("q", "").strip()
    org_type = request.args.get("type", "")
    state = request.args.get("active", "")
    error = None
    if org_type and org_type not in CONTACT_TYPE_LABELS:
        error = f"Unknown type {org_type!r}."
    if state not in ("", "yes", "no"):
        error = f"Unknown status {state!r} (use yes or no)."
    page = None
    sort = request.args.get("sort") or "name"
    if error is None:
        stmt = services.organisations_with_counts(
            q, [org_type] if org_type else [], {"yes": True, "no": False}.get(state)
        )
        stmt, sort = _sort_organisations(stmt, sort)
        page = paginate(db.session, stmt, *_per_page(), scalars=False)
    return render_template(
        "contacts/organisations.html",
        page=page,
        error=error,
        sort=sort,
        args=request.args,
        filtered=bool(q or org_type or state),
        types=CONTACT_TYPE_LABELS,
    ), (400 if error else 200)


def _sort_organisations(stmt, sort: str):
    key = sort.lstrip("-")
    if key not in ORGANISATION_SORTS:
        sort, key = "name", "name"
    column = {
        "name": Organisation.name_key,
        "type": Organisation.type,
        "country": Organisation.country_code,
        "contacts": stmt.selected_columns.contact_count,
    }[key]
    column = column.desc() if sort.startswith("-") else column
    return stmt.order_by(column, Organisation.name_key, Organisation.id), sort


@bp.get("/organisations/<int:organisation_id>")
def organisation_detail(organisation_id: int):
    org = db.get_or_404(Organisation, organisation_id)
    stmt, sort = apply_sort(
        ContactFilter(organisation_ids=[org.id]).select(), request.args.get("sort")
    )
    page = paginate(db.session, stmt, *_per_page())
    return render_template("contacts/organisation_detail.html", org=org, page=page, sort=sort)


def _organisation_form_page(form, org, status=200, duplicate_id=None):
    return render_template(
        "contacts/organisation_form.html", form=form, org=org, duplicate_id=duplicate_id
    ), status


def _save_organisation(form: OrganisationForm, org: Organisation | None):
    try:
        if org is None:
            org = services.create_organisation(db.session, form.to_data())
            message = "Organisation created."
        else:
            services.update_organisation(db.session, org, form.to_data())
            message = "Organisation saved."
    except ServiceError as exc:
        db.session.rollback()
        _apply_errors(form, exc)
        duplicate = getattr(exc, "organisation_id", None)
        return _organisation_form_page(form, org, 400, duplicate)
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("contacts.organisation_detail", organisation_id=org.id))


@bp.route("/organisations/new", methods=["GET", "POST"])
@editor_required
def organisation_new():
    form = OrganisationForm()
    if form.validate_on_submit():
        return _save_organisation(form, None)
    return _organisation_form_page(form, None, 400 if form.is_submitted() else 200)


@bp.route("/organisations/<int:organisation_id>/edit", methods=["GET", "POST"])
@editor_required
def organisation_edit(organisation_id: int):
    org = db.get_or_404(Organisation, organisation_id)
    if request.method == "POST":
        form = OrganisationForm()
    else:
        form = OrganisationForm.for_organisation(org)
    if form.validate_on_submit():
        return _save_organisation(form, org)
    return _organisation_form_page(form, org, 400 if form.is_submitted() else 200)


def _change_organisation_active(organisation_id: int, active: bool):
    org = db.get_or_404(Organisation, organisation_id)
    verb = "Reactivate" if active else "Deactivate"
    page = _confirm_or_apply(
        f"{verb} {org.name}",
        f"{verb} the organisation {org.name}? "
        + ("Its contacts keep their status; it will no longer be suggested in contact forms."
           if not active else "It will be suggested in contact forms again."),
        verb,
        url_for("contacts.organisation_detail", organisation_id=org.id),
    )
    if page is not None:
        return page
    services.set_organisation_active(db.session, org, active)
    db.session.commit()
    flash(f"{org.name} is now {'active' if active else 'inactive'}.", "success")
    return redirect(url_for("contacts.organisation_detail", organisation_id=org.id))


@bp.route("/organisations/<int:organisation_id>/deactivate", methods=["GET", "POST"])
@editor_required
def organisation_deactivate(organisation_id: int):
    return _change_organisation_active(organisation_id, False)


@bp.route("/organisations/<int:organisation_id>/reactivate", methods=["GET", "POST"])
@editor_required
def organisation_reactivate(organisation_id: int):
    return _change_organisation_active(organisation_id, True)
