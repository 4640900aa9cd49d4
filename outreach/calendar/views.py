"""Staff pages of the UPR calendar: upcoming deadlines, sessions, and editing them."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm

from outreach.auth.decorators import editor_required, require_login
from outreach.calendar import services
from outreach.calendar.forms import (
    ActionForm,
    AddStateForm,
    KeyDateForm,
    MoveStateForm,
    SessionForm,
)
from outreach.calendar.models import KEY_DATE_KINDS, KeyDate, UPRSession
from outreach.core.countries import country_name, resolve_country
from outreach.core.database import utcnow
from outreach.core.errors import ServiceError
from outreach.core.timezones import to_local
from outreach.dashboard.charts import contacts_per_state
from outreach.extensions import db

bp = Blueprint("calendar", __name__)
bp.before_request(require_login)

DEFAULT_DAYS = 90
CONTACT_SAMPLE = 3
EXPIRED = "The page had expired, so nothing was changed. Please try again."


# --- Helpers ------------------------------------------------------------------------------------


def _session_or_404(number: int) -> UPRSession:
    upr_session = services.get_session(db.session, number)
    if upr_session is None:
        abort(404, f"There is no UPR session {number}.")
    return upr_session


def _review_or_404(upr_session: UPRSession, code: str):
    review = services.find_review(upr_session, code)
    if review is None:
        abort(404, f"{country_name(code.upper())} is not under review in session "
                   f"{upr_session.number}.")
    return review


def _key_date_or_404(upr_session: UPRSession, key_date_id: int) -> KeyDate:
    key_date = db.session.get(KeyDate, key_date_id)
    if key_date is None or key_date.session_id != upr_session.id:
        abort(404, "This key date does not exist in this session.")
    return key_date


def _show_errors(form: FlaskForm, error: ServiceError) -> None:
    """Put a service refusal on the form fields it names; anything else becomes a flash."""
    db.session.rollback()
    placed = False
    for name, message in error.fields.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [*field.errors, message]
            placed = True
    if not placed:
        flash(error.message, "danger")


def _back_to(upr_session_number: int, anchor: str | None = None):
    return redirect(url_for("calendar.session_detail", number=upr_session_number, _anchor=anchor))


def _int_arg(name: str) -> int | None:
    try:
        return int(request.args.get(name, ""))
    except ValueError:
        return None


# --- Reading ------------------------------------------------------------------------------------


@bp.get("/deadlines")
def deadlines():
    """Upcoming key dates, filterable by country, session and window; deadlines by default."""
    errors: dict[str, str] = {}
    days = _int_arg("days")
    if days is None:
        days = DEFAULT_DAYS
    days = max(services.MIN_DAYS, min(services.MAX_DAYS, days))
    raw_country = request.args.get("country", "").strip()
    country = resolve_country(raw_country) if raw_country else None
    if raw_country and country is None:
        errors["country"] = f"Unknown country {raw_country!r}."
    raw_session = request.args.get("session", "").strip()
    session_number = _int_arg("session") if raw_session else None
    if raw_session and session_number is None:
        errors["session"] = f"{raw_session!r} is not a session number."
    show_all = request.args.get("show") == "all"

    rows = []
    today = to_local(utcnow()).date()
    if not errors:
        found = services.upcoming_key_dates(
            db.session,
            days=days,
            country=country,
            kinds=KEY_DATE_KINDS if show_all else None,
            session_number=session_number,
        )
        rows = [(kd, codes, services.days_left(kd, today)) for kd, codes in found]
    countries = services.reviewed_countries(db.session)
    if country and country not in countries:
        countries.append(country)
    return render_template(
        "calendar/deadlines.html",
        rows=rows,
        days=days,
        country=country,
        raw_country=raw_country,
        session_number=session_number,
        show_all=show_all,
        errors=errors,
        countries=countries,
        numbers=services.session_numbers(db.session),
    ), (400 if errors else 200)


@bp.get("/sessions")
def sessions():
    rows = services.list_sessions(db.session)
    return render_template(
        "calendar/sessions.html", groups=services.group_by_cycle(rows), total=len(rows)
    )


@bp.get("/sessions/<int:number>")
def session_detail(number: int):
    upr_session = _session_or_404(number)
    codes = upr_session.state_codes
    reviews = sorted(upr_session.reviews, key=lambda review: country_name(review.country_code))
    add_form = AddStateForm()
    add_form.set_choices(codes)
    session_dates = [kd for kd in upr_session.key_dates if kd.review_id is None]
    counts = services.contact_counts(db.session, upr_session)
    return render_template(
        "calendar/session_detail.html",
        upr_session=upr_session,
        reviews=reviews,
        session_dates=session_dates,
        own_dates={kd.id: services.states_with_own_date(kd) for kd in session_dates},
        counts=counts,
        contacts_chart=contacts_per_state(counts, number),
        samples=services.sample_contacts(db.session, codes, CONTACT_SAMPLE),
        add_form=add_form,
        action_form=ActionForm(),
    )


# --- Sessions -----------------------------------------------------------------------------------


@bp.route("/sessions/new", methods=["GET", "POST"])
@editor_required
def new_session():
    form = SessionForm()
    if form.validate_on_submit():
        try:
            upr_session = services.create_session(
                db.session, form.data_for_service(), derive_dates=form.derive_dates.data
            )
        except ServiceError as error:
            _show_errors(form, error)
        else:
            db.session.commit()
            flash(f"Session {upr_session.number} created.", "success")
            return _back_to(upr_session.number)
    elif request.method == "GET" and (suggested := _next_number()):
        form.number.data = suggested
    status = 400 if form.errors else 200
    return render_template("calendar/session_form.html", form=form, upr_session=None), status


def _next_number() -> int | None:
    numbers = services.session_numbers(db.session)
    return numbers[0] + 1 if numbers else None


@bp.route("/sessions/<int:number>/edit", methods=["GET", "POST"])
@editor_required
def edit_session(number: int):
    upr_session = _session_or_404(number)
    form = SessionForm(obj=upr_session)
    del form.derive_dates
    if form.validate_on_submit():
        try:
            services.update_session(db.session, upr_session, form.data_for_service())
        except ServiceError as error:
            _show_errors(form, error)
        else:
            db.session.commit()
            flash(f"Session {upr_session.number} saved.", "success")
            return _back_to(upr_session.number)
    status = 400 if form.errors else 200
    return render_template(
        "calendar/session_form.html", form=form, upr_session=upr_session, number=number
    ), status


@bp.post("/sessions/<int:number>/confirm")
@editor_required
def confirm_session(number: int):
    upr_session = _session_or_404(number)
    if ActionForm().validate_on_submit():
        services.confirm_session(db.session, upr_session)
        db.session.commit()
        flash(f"Session {number} is now confirmed.", "success")
    else:
        flash(EXPIRED, "warning")
    return _back_to(number)


# --- States under review ------------------------------------------------------------------------


@bp.route("/sessions/<int:number>/states/add", methods=["GET", "POST"])
@editor_required
def add_state(number: int):
    upr_session = _session_or_404(number)
    form = AddStateForm()
    form.set_choices(upr_session.state_codes)
    if form.validate_on_submit():
        try:
            review = services.add_review(
                db.session, upr_session, form.country.data, form.note.data
            )
        except ServiceError as error:
            _show_errors(form, error)
        else:
            db.session.commit()
            flash(f"{country_name(review.country_code)} added to session {number}.", "success")
            return _back_to(number, "states")
    status = 400 if form.errors else 200
    return render_template(
        "calendar/add_state.html", form=form, upr_session=upr_session
    ), status


@bp.route("/sessions/<int:number>/states/<code>/remove", methods=["GET", "POST"])
@editor_required
def remove_state(number: int, code: str):
    upr_session = _session_or_404(number)
    review = _review_or_404(upr_session, code)
    form = ActionForm()
    name = country_name(review.country_code)
    if form.validate_on_submit():
        services.remove_review(db.session, review)
        db.session.commit()
        flash(f"{name} removed from session {number}.", "success")
        return _back_to(number, "states")
    specific = len(review.key_dates)
    message = f"Remove {name} from session {number}?"
    if specific:
        message += f" Its {specific} State-specific key date(s) will be deleted too."
    return render_template(
        "calendar/confirm.html",
        form=form,
        title=f"Remove {name}",
        message=message,
        button="Remove the State",
        upr_session=upr_session,
    )


@bp.route("/sessions/<int:number>/states/<code>/move", methods=["GET", "POST"])
@editor_required
def move_state(number: int, code: str):
    upr_session = _session_or_404(number)
    review = _review_or_404(upr_session, code)
    form = MoveStateForm()
    form.set_choices(services.session_numbers(db.session), number)
    name = country_name(review.country_code)
    if form.validate_on_submit():
        target = services.get_session(db.session, form.target.data)
        try:
            if target is None:
                raise ServiceError("Unknown session.", {"target": "Choose an existing session."})
            services.move_review(
                db.session, review, target, form.note.data, on=form.moved_on.data
            )
        except ServiceError as error:
            _show_errors(form, error)
        else:
            db.session.commit()
            flash(f"{name} moved from session {number} to session {target.number}.", "success")
            return _back_to(target.number, "states")
    status = 400 if form.errors else 200
    return render_template(
        "calendar/move_state.html", form=form, upr_session=upr_session, review=review, name=name
    ), status


# --- Key dates ----------------------------------------------------------------------------------


def _key_date_form(upr_session: UPRSession, key_date: KeyDate | None = None) -> KeyDateForm:
    form = KeyDateForm()
    form.set_choices(upr_session.state_codes, upr_session.number)
    if request.method == "GET":
        if key_date is not None:
            _fill_key_date_form(form, key_date)
        else:
            form.kind.data = request.args.get("kind", KEY_DATE_KINDS[0])
            form.state.data = request.args.get("state", "").upper()
    return form


def _fill_key_date_form(form: KeyDateForm, key_date: KeyDate) -> None:
    start = to_local(key_date.starts_at)
    form.kind.data = key_date.kind
    form.day.data = start.date()
    form.at.data = None if key_date.all_day else start.time()
    form.end_day.data = to_local(key_date.ends_at).date() if key_date.ends_at else None
    form.estimated.data = key_date.estimated
    form.description.data = key_date.description
    form.url.data = key_date.url
    form.state.data = key_date.review.country_code if key_date.review else ""


@bp.route("/sessions/<int:number>/key-dates/new", methods=["GET", "POST"])
@editor_required
def new_key_date(number: int):
    upr_session = _session_or_404(number)
    form = _key_date_form(upr_session)
    if form.validate_on_submit():
        try:
            key_date = services.create_key_date(db.session, upr_session, form.data_for_service())
        except ServiceError as error:
            _show_errors(form, error)
        else:
            db.session.commit()
            flash(f"{key_date.label} added to session {number}.", "success")
            return _back_to(number, "key-dates")
    status = 400 if form.errors else 200
    return render_template(
        "calendar/key_date_form.html", form=form, upr_session=upr_session, key_date=None
    ), status


@bp.route("/sessions/<int:number>/key-dates/<int:key_date_id>/edit", methods=["GET", "POST"])
@editor_required
def edit_key_date(number: int, key_date_id: int):
    upr_session = _session_or_404(number)
    key_date = _key_date_or_404(upr_session, key_date_id)
    form = _key_date_form(upr_session, key_date)
    if form.validate_on_submit():
        try:
            services.update_key_date(db.session, key_date, form.data_for_service())
        except ServiceError as error:
            _show_errors(form, error)
        else:
            db.session.commit()
            flash(f"{key_date.label} saved.", "success")
            return _back_to(number, "key-dates")
    status = 400 if form.errors else 200
    return render_template(
        "calendar/key_date_form.html", form=form, upr_session=upr_session, key_date=key_date
    ), status


@bp.post("/sessions/<int:number>/key-dates/<int:key_date_id>/confirm")
@editor_required
def confirm_key_date(number: int, key_date_id: int):
    upr_session = _session_or_404(number)
    key_date = _key_date_or_404(upr_session, key_date_id)
    if ActionForm().validate_on_submit():
        services.confirm_key_date(db.session, key_date)
        db.session.commit()
        flash(f"{key_date.label} confirmed.", "success")
    else:
        flash(EXPIRED, "warning")
    return _back_to(number, "key-dates")


@bp.route(
    "/sessions/<int:number>/key-dates/<int:key_date_id>/delete", methods=["GET", "POST"]
)
@editor_required
def delete_key_date(number: int, key_date_id: int):
    upr_session = _session_or_404(number)
    key_date = _key_date_or_404(upr_session, key_date_id)
    form = ActionForm()
    label = key_date.label
    if key_date.review is not None:
        label = f"{label} ({country_name(key_date.review.country_code)})"
    if form.validate_on_submit():
        services.delete_key_date(db.session, key_date)
        db.session.commit()
        flash(f"{label} deleted from session {number}.", "success")
        return _back_to(number, "key-dates")
    when = to_local(key_date.starts_at).strftime("%d %b %Y")
    return render_template(
        "calendar/confirm.html",
        form=form,
        title=f"Delete a key date of session {number}",
        message=f"Delete “{label}” on {when}? This cannot be undone.",
        button="Delete the key date",
        upr_session=upr_session,
    )
