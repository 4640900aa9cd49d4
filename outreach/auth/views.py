from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from outreach.auth.forms import LoginForm, PasswordForm
from outreach.auth.services import authenticate, change_password
from outreach.core.errors import ServiceError
from outreach.extensions import db, limiter

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "Email or password is incorrect, or the account is locked for a while."


def login_rate_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after login."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("core.home")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(db.session, form.email.data, form.password.data)
        db.session.commit()  # the failure count too
        if user:
            login_user(user, remember=form.remember.data)
            return redirect(safe_next(request.args.get("next")))
        flash(LOGIN_FAILED, "danger")
    return render_template("auth/login.html", form=form), 200 if request.method == "GET" else 401


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            change_password(
                db.session, current_user, form.current_password.data, form.new_password.data
            )
        except ServiceError as exc:
            db.session.rollback()
            for name, message in exc.fields.items():
                target = "new_password" if name == "password" else name
                getattr(form, target).errors.append(message)
        else:
            db.session.commit()
            login_user(current_user._get_current_object())  # this session goes on; the others end
            flash("Your password was changed.", "success")
            return redirect(url_for("core.home"))
    status = 400 if form.is_submitted() else 200
    return render_template("auth/password.html", form=form), status
