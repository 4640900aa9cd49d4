"""The audit log page (admins only)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, current_app, render_template, request

from outreach.audit.services import OBJECT_TYPES, AuditFilter, actions
from outreach.auth.decorators import admin_required, require_login
from outreach.core.pagination import paginate, parse_page_args
from outreach.extensions import db

bp = Blueprint("audit", __name__)
bp.before_request(require_login)


def _date_arg(name: str, errors: dict[str, str]) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = "Use a date like 2026-11-24."
        return None


@bp.get("/audit/")
@admin_required
def index():
    errors: dict[str, str] = {}
    flt = AuditFilter(
        actor=request.args.get("actor", "").strip(),
        action=request.args.get("action", "").strip(),
        object_type=request.args.get("object_type", "").strip(),
        object_id=request.args.get("object_id", "").strip(),
        since=_date_arg("since", errors),
        until=_date_arg("until", errors),
    )
    page_args = parse_page_args(request.args, current_app.config.get("PER_PAGE", 50))
    page = paginate(db.session, flt.query(), *page_args)
    return render_template(
        "audit/index.html",
        page=page,
        flt=flt,
        errors=errors,
        actions=actions(db.session),
        object_types=OBJECT_TYPES,
    ), (400 if errors else 200)
