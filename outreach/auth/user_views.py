"""Staff accounts admin (/users/): list, create with a role, change role, deactivate."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for

from outreach.auth import services
from outreach.auth.decorators import admin_required, require_login
from outreach.auth.forms import RoleForm, UserForm
from outreach.auth.models import User
from outreach.core.errors import ServiceError
from outreach.extensions import db

bp = Blueprint("users", __name__, url_prefix="/users")
bp.before_request(require_login)


def _user_or_404(user_id: int) -> User:
    return db.session.get(User, user_id) or abort(404)


def _render_list(form: UserForm, status: int = 200):
    users = services.list_users(db.session)
    return render_template(
        "users/index.html",
        users=users,
        form=form,
        role_form=RoleForm(),
        is_locked=services.is_locked,
    ), status


@bp.get("/")
@admin_required
def index():
    return _render_list(UserForm())


@bp.post("/")
@admin_required
def create():
    form = UserForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(
                db.session, form.email.data, form.password.data, form.role.data, form.name.data
            )
        except ServiceError as exc:
            db.session.rollback()
            for name, message in exc.fields.items():
                field = getattr(form, name, None)
                if field is not None:
                    field.errors.append(exc.message if message in ("taken", name) else message)
            if not exc.fields:
                flash(exc.message, "danger")
        else:
            db.session.commit()
            flash(f"{user.email} can now sign in as {user.role}.", "success")
            return redirect(url_for("users.index"))
    return _render_list(form, 400)


@bp.post("/<int:user_id>/role")
@admin_required
def change_role(user_id: int):
    user = _user_or_404(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        flash("Choose one of the roles.", "danger")
        return redirect(url_for("users.index"))
    services.change_role(db.session, user, form.role.data)
    db.session.commit()
    flash(f"{user.email} is now {user.role}.", "success")
    return redirect(url_for("users.index"))


@bp.post("/<int:user_id>/deactivate")
@admin_required
def deactivate(user_id: int):
    user = _user_or_404(user_id)
    services.set_active(db.session, user, False)
    db.session.commit()
    flash(f"{user.email} can no longer sign in.", "warning")
    return redirect(url_for("users.index"))


@bp.post("/<int:user_id>/reactivate")
@admin_required
def reactivate(user_id: int):
    user = _user_or_404(user_id)
    services.set_active(db.session, user, True)
    db.session.commit()
    flash(f"{user.email} can sign in again.", "success")
    return redirect(url_for("users.index"))
