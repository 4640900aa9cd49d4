"""Staff pages of the suppression list: view, search, add (one or many), export, remove."""

from __future__ import annotations

import io

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

from outreach.auth.decorators import admin_required, editor_required, require_login
from outreach.auth.models import User
from outreach.contacts.models import Contact
from outreach.core.errors import ServiceError
from outreach.core.pagination import paginate, parse_page_args
from outreach.core.timezones import local_today
from outreach.extensions import db
from outreach.subscriptions import staff_services
from outreach.subscriptions.models import Suppression
from outreach.subscriptions.services import RequestMeta, unsuppress
from outreach.subscriptions.staff_forms import BulkSuppressionForm, SuppressionForm

bp = Blueprint("suppressions", __name__)
bp.before_request(require_login)

REASON_LABELS = {
    "unsubscribed": "Unsubscribed",
    "hard_bounce": "Hard bounce",
    "complaint": "Complaint",
    "staff": "Added by staff",
    "erased": "Erased contact",
}


@bp.app_template_filter("suppression_reason")
def suppression_reason(value: str) -> str:
    return REASON_LABELS.get(value, value or "")


def _list_args() -> tuple[str, str]:
    return request.args.get("q", "").strip(), request.args.get("reason", "").strip()


@bp.get("/suppressions")
def index():
    q, reason = _list_args()
    error = None
    page = None
    try:
        stmt = staff_services.suppression_list(q, reason)
    except ServiceError as exc:
        error = exc.message
    else:
        per_page = parse_page_args(request.args, current_app.config.get("PER_PAGE", 50))
        page = paginate(db.session, stmt, *per_page, scalars=False)
    counts = staff_services.reason_counts(db.session)
    return render_template(
        "suppressions/list.html",
        page=page,
        error=error,
        q=q,
        reason=reason,
        counts=counts,
        total=sum(counts.values()),
        reasons=REASON_LABELS,
        filtered=bool(q or reason),
    ), (400 if error else 200)


@bp.get("/suppressions/export.csv")
def export():
    """The list as CSV (with the page's search and reason filter): email, reason, date."""
    q, reason = _list_args()
    stmt = staff_services.suppression_list(q, reason)
    out = io.StringIO()
    staff_services.write_csv(db.session, stmt, out)
    filename = f"suppressions-{local_today().isoformat()}.csv"
    return Response(
        out.getvalue(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _contact_from_args() -> Contact | None:
    """`?contact_id=N` (from a contact's page) pre-fills the address and returns there."""
    value = request.args.get("contact_id", "")
    if not value.isdigit():
        return None
    return db.session.get(Contact, int(value))


def _add_page(form: SuppressionForm, bulk: BulkSuppressionForm, contact: Contact | None,
              status: int = 200, result: staff_services.BulkResult | None = None):
    return render_template(
        "suppressions/add.html", form=form, bulk=bulk, contact=contact, result=result
    ), status


@bp.route("/suppressions/new", methods=["GET", "POST"])
@editor_required
def new():
    contact = _contact_from_args()
    form = SuppressionForm(prefix="one")
    if request.method == "GET" and contact is not None:
        form.email.data = contact.email
    bulk = BulkSuppressionForm(prefix="bulk", formdata=None)
    if not form.validate_on_submit():
        return _add_page(form, bulk, contact, 400 if form.is_submitted() else 200)
    try:
        added = staff_services.add_suppression(
            db.session, form.email.data, current_user, form.note.data or ""
        )
    except ServiceError as exc:
        db.session.rollback()
        form.email.errors = [*form.email.errors, exc.fields.get("email", exc.message)]
        return _add_page(form, bulk, contact, 400)
    db.session.commit()
    entry = added.entry
    if added.created:
        flash(f"{entry.email} is now on the suppression list: it will receive no mail.",
              "success")
    else:
        flash(f"{entry.email or form.email.data} was already on the suppression list "
              f"({suppression_reason(entry.reason).lower()}).", "info")
    if contact is not None:
        return redirect(url_for("contacts.detail", contact_id=contact.id))
    return redirect(url_for("suppressions.detail", entry_id=entry.id))


@bp.route("/suppressions/bulk", methods=["GET", "POST"])
@editor_required
def bulk_add():
    form = SuppressionForm(prefix="one", formdata=None)
    bulk = BulkSuppressionForm(prefix="bulk")
    if not bulk.validate_on_submit():
        return _add_page(form, bulk, None, 400 if bulk.is_submitted() else 200)
    try:
        result = staff_services.bulk_add(
            db.session, bulk.addresses.data, current_user, bulk.note.data or ""
        )
    except ServiceError as exc:
        db.session.rollback()
        bulk.addresses.errors = [*bulk.addresses.errors, exc.message]
        return _add_page(form, bulk, None, 400)
    db.session.commit()
    summary = f"{len(result.added)} address(es) added to the suppression list"
    if result.already:
        summary += f"; {len(result.already)} were already on it"
    if not result.invalid:
        flash(summary + ".", "success")
        return redirect(url_for("suppressions.index"))
    # Keep only the lines to fix in the box; the table says what is wrong with each.
    bulk.addresses.data = "\n".join(text for _, text, _ in result.invalid)
    return _add_page(form, bulk, None, 400, result=result)


def _entry_or_404(entry_id: int) -> Suppression:
    return db.get_or_404(Suppression, entry_id)


@bp.get("/suppressions/<int:entry_id>")
def detail(entry_id: int):
    entry = _entry_or_404(entry_id)
    contact = db.session.scalar(select(Contact).where(Contact.email_hash == entry.email_hash))
    added_by = db.session.get(User, entry.created_by_id) if entry.created_by_id else None
    return render_template(
        "suppressions/detail.html",
        entry=entry,
        contact=contact,
        added_by=added_by,
        events=staff_services.consent_events(db.session, entry.email_hash),
    )


@bp.route("/suppressions/<int:entry_id>/remove", methods=["GET", "POST"])
@admin_required
def remove(entry_id: int):
    """Admins only; a POST without `confirmed=1` (or a GET) shows the confirmation page."""
    entry = _entry_or_404(entry_id)
    if not (request.method == "POST" and request.form.get("confirmed") == "1"):
        contact = db.session.scalar(
            select(Contact).where(Contact.email_hash == entry.email_hash)
        )
        return render_template("suppressions/remove.html", entry=entry, contact=contact)
    label = entry.email or "The erased contact's address"
    unsuppress(db.session, entry, current_user, RequestMeta(source="staff"))
    db.session.commit()
    flash(f"{label} was removed from the suppression list and can receive mail again.",
          "warning")
    return redirect(url_for("suppressions.index"))

