"""Staff pages of the recurring newsletters: list, create and edit (with the recurrence builder),
detail with editions and approval, pause and resume, and the preview of the next edition for a
chosen recipient. Viewers read; editors change."""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from outreach.auth.decorators import editor_required, require_login
from outreach.auth.models import User
from outreach.campaigns.merge import LANGUAGE_NAMES
from outreach.campaigns.rendering import PreparedCampaign, recipient_for, sample_recipient
from outreach.contacts.models import Contact
from outreach.core.errors import ServiceError
from outreach.core.security import email_frame_response
from outreach.extensions import db
from outreach.segments.models import Segment
from outreach.series import recurrence, services
from outreach.series.forms import SeriesForm
from outreach.series.models import SERIES_MODES, Series, SeriesEdition

bp = Blueprint("series", __name__)
bp.before_request(require_login)


@bp.context_processor
def shared():
    return {
        "describe": recurrence.describe,
        "modes": SERIES_MODES,
        "language_names": LANGUAGE_NAMES,
    }


def get_series(series_id: int) -> Series:
    series = db.session.get(
        Series,
        series_id,
        options=[selectinload(Series.segments), selectinload(Series.editors)],
    )
    return series or abort(404, "There is no such series.")


@bp.get("/series")
def index():
    series_list = db.session.scalars(select(Series).order_by(Series.name)).all()
    upcoming = {series.id: services.next_occurrence(series) for series in series_list}
    return render_template(
        "series/index.html",
        series_list=series_list,
        upcoming=upcoming,
        awaiting=services.editions_awaiting_review(db.session),
    )


def make_form(formdata=None) -> SeriesForm:
    segments = db.session.scalars(select(Segment).order_by(Segment.name)).all()
    editors = db.session.scalars(
        select(User)
        .where(User.role.in_(("admin", "editor")), User.active.is_(True))
        .order_by(User.email)
    ).all()
    return SeriesForm(formdata, segments=segments, editors=editors)


def _form_page(form: SeriesForm, series: Series | None, status: int = 200):
    return render_template("series/form.html", form=form, series=series), status


def _save(form: SeriesForm, series: Series | None):
    if not form.validate():
        return _form_page(form, series, 400)
    try:
        data = form.to_data()
        series = services.save_series(db.session, series, data, user=current_user)
    except recurrence.RecurrenceError as exc:
        form.frequency.errors = [*form.frequency.errors, str(exc)]
        return _form_page(form, series, 400)
    except ServiceError as exc:
        db.session.rollback()
        for name, message in exc.fields.items():
            field = form.frequency if name == "rrule" else form[name]
            field.errors = [*field.errors, message]
        return _form_page(form, series if series and series.id else None, 400)
    db.session.commit()
    flash(
        f"Series “{series.name}” saved. Changes apply to the editions drafted from now on.",
        "success",
    )
    return redirect(url_for("series.detail", series_id=series.id))


@bp.route("/series/new", methods=["GET", "POST"])
@editor_required
def new():
    if request.method == "POST":
        return _save(make_form(request.form), None)
    form = make_form()
    form.fill_defaults()
    return _form_page(form, None)


@bp.route("/series/<int:series_id>/edit", methods=["GET", "POST"])
@editor_required
def edit(series_id: int):
    series = get_series(series_id)
    if request.method == "POST":
        return _save(make_form(request.form), series)
    form = make_form()
    form.fill_from(series)
    return _form_page(form, series)


@bp.get("/series/<int:series_id>")
def detail(series_id: int):
    series = get_series(series_id)
    editions = db.session.scalars(
        select(SeriesEdition)
        .options(selectinload(SeriesEdition.campaign))
        .where(SeriesEdition.series_id == series.id)
        .order_by(SeriesEdition.occurrence_at.desc())
    ).all()
    return render_template(
        "series/detail.html",
        series=series,
        editions=editions,
        next_occurrence=services.next_occurrence(series),
    )


@bp.post("/series/<int:series_id>/pause")
@editor_required
def pause(series_id: int):
    series = get_series(series_id)
    services.set_paused(db.session, series, True)
    db.session.commit()
    flash(f"“{series.name}” is paused: its occurrences are skipped until you resume it.", "info")
    return redirect(url_for("series.detail", series_id=series.id))


@bp.post("/series/<int:series_id>/resume")
@editor_required
def resume(series_id: int):
    series = get_series(series_id)
    services.set_paused(db.session, series, False)
    db.session.commit()
    flash(
        f"“{series.name}” is active again; occurrences missed while paused are not sent.", "success"
    )
    return redirect(url_for("series.detail", series_id=series.id))


@bp.post("/series/<int:series_id>/editions/<int:edition_id>/approve")
@editor_required
def approve(series_id: int, edition_id: int):
    edition = db.session.get(SeriesEdition, edition_id, with_for_update=True)
    if edition is None or edition.series_id != series_id:
        abort(404, "There is no such edition.")
    try:
        services.approve_edition(db.session, edition, user=current_user)
    except ServiceError as exc:
        db.session.rollback()
        abort(400, exc.message)
    db.session.commit()
    flash("Edition approved: it is scheduled for its date.", "success")
    return redirect(url_for("series.detail", series_id=series_id))


def _preview_contact() -> Contact | None:
    email = (request.args.get("email") or "").strip()
    if not email:
        return None
    contact = db.session.scalar(select(Contact).where(Contact.email_key == email.casefold()))
    return contact or abort(404, f"There is no contact {email}.")


def _render_next(series):
    """The next edition, rendered for the recipient chosen in the query string."""
    contact = _preview_contact()
    language = request.args.get("language") or None
    if language is not None and language not in series.languages:
        abort(400, "Choose one of the series' languages.")
    result = services.preview_next(db.session, series)
    rendered = error = None
    recipient = (
        recipient_for(contact) if contact else sample_recipient(language or series.languages[0])
    )
    if language:
        recipient = replace(recipient, language=language)
    if result.campaign is not None and not result.empty:
        base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
        try:
            prepared = PreparedCampaign.prepare(db.session, result.campaign)
            rendered = prepared.render(
                recipient,
                unsubscribe_url=f"{base}/u/preview",
                preferences_url=f"{base}/{recipient.language}/preferences/preview",
            )
        except Exception as exc:  # show what breaks, never a 500
            error = str(exc) or type(exc).__name__
    return contact, language, result, rendered, error


@bp.get("/series/<int:series_id>/preview/email")
def preview_email(series_id: int):
    """The HTML part alone, for the sandboxed frame of the preview page."""
    rendered = _render_next(get_series(series_id))[3]
    if rendered is None:
        abort(404, "The next edition cannot be rendered.")
    return email_frame_response(rendered.html)


@bp.get("/series/<int:series_id>/preview")
def preview(series_id: int):
    series = get_series(series_id)
    contact, language, result, rendered, error = _render_next(series)
    return render_template(
        "series/preview.html",
        series=series,
        result=result,
        rendered=rendered,
        error=error,
        contact=contact,
        language=language,
        email=request.args.get("email", ""),
    )
