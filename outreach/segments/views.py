"""Staff pages for segments: list, editor with a live count, member list, delete."""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from outreach.auth.decorators import editor_required, require_login
from outreach.core.errors import ServiceError
from outreach.core.pagination import parse_page_args
from outreach.extensions import db
from outreach.segments import services
from outreach.segments.forms import SegmentForm
from outreach.segments.models import Segment

bp = Blueprint("segments", __name__)
bp.before_request(require_login)


def get_segment(segment_id: int) -> Segment:
    return db.session.get(Segment, segment_id) or abort(404, "There is no such segment.")


def make_form(formdata=None, current_session: int | None = None, **kwargs) -> SegmentForm:
    return SegmentForm(
        formdata,
        upr_sessions=services.upr_sessions(db.session),
        current_session=current_session,
        **kwargs,
    )


@bp.get("/segments")
def index():
    return render_template("segments/index.html", rows=services.list_segments(db.session))


@bp.route("/segments/new", methods=["GET", "POST"])
@editor_required
def create():
    form = make_form(request.form if request.method == "POST" else None)
    return _editor(form, segment=None)


@bp.route("/segments/<int:segment_id>/edit", methods=["GET", "POST"])
@editor_required
def edit(segment_id: int):
    segment = get_segment(segment_id)
    stored_session = segment.filters.get("session_under_review")
    if request.method == "POST":
        form = make_form(request.form, current_session=stored_session)
    else:
        form = make_form(current_session=stored_session, obj=segment)
        form.fill_from_filters(segment.filters)
    return _editor(form, segment=segment)


def _editor(form: SegmentForm, segment: Segment | None):
    """Save on "Save"; on "Preview count" or bad input, show the form again with the live count."""
    problems: list[str] = []
    failed = False
    if request.method == "POST" and request.form.get("action") == "preview":
        form.validate_filters()
    elif request.method == "POST":
        if form.validate_on_submit():
            try:
                segment = _save(form, segment)
            except ServiceError as exc:
                db.session.rollback()
                problems = form.add_errors(exc.fields) if exc.fields else [exc.message]
            else:
                db.session.commit()
                flash(f"Segment “{segment.name}” saved.", "success")
                return redirect(url_for("segments.detail", segment_id=segment.id))
        failed = True
    preview = {"count": None}
    if not any(field.errors for field in form.filter_fields()):
        preview = _preview(form)
        problems.extend(preview.pop("problems", []))
    page = render_template(
        "segments/edit.html", form=form, segment=segment, preview=preview, problems=problems
    )
    return page, 400 if failed else 200


def _save(form: SegmentForm, segment: Segment | None) -> Segment:
    if segment is None:
        return services.create_segment(
            db.session, form.name.data, form.filters(), form.description.data, user=current_user
        )
    return services.update_segment(
        db.session, segment, name=form.name.data, filters=form.filters(),
        description=form.description.data,
    )


def _preview(form: SegmentForm) -> dict:
    """Count and sample for the criteria in the form, or the problems that prevent it."""
    try:
        flt = services.parse_filters(db.session, form.filters())
    except ServiceError as exc:
        return {"count": None, "problems": form.add_errors(exc.fields)}
    return {
        "count": services.count_members(db.session, flt),
        "sample": services.sample_members(db.session, flt),
        "everyone": flt.is_empty(),
    }


@bp.get("/segments/preview")
def preview():
    """JSON count and sample for the editor's criteria (the query string uses the form's names)."""
    form = make_form(request.args, meta={"csrf": False})
    if not form.validate_filters():
        fields = {f.name: " ".join(f.errors) for f in form.filter_fields() if f.errors}
        return _json_error("Some filters are not valid.", fields)
    try:
        flt = services.parse_filters(db.session, form.filters())
    except ServiceError as exc:
        return _json_error(exc.message, exc.fields)
    sample = services.sample_members(db.session, flt)
    return jsonify(
        count=services.count_members(db.session, flt),
        sample=[{"email": c.email, "name": c.full_name} for c in sample],
        matches_everyone=flt.is_empty(),
    )


def _json_error(message: str, fields: dict):
    return jsonify(error={"code": "invalid", "message": message, "fields": fields}), 400


@bp.get("/segments/<int:segment_id>")
def detail(segment_id: int):
    segment = get_segment(segment_id)
    flt = services.segment_filter(segment)
    page_number, per_page = parse_page_args(request.args)
    page, sort = services.members_page(
        db.session, segment, page_number, per_page, request.args.get("sort")
    )
    export_args: dict[str, list[str]] = {}
    for key, value in services.query_args(flt):
        export_args.setdefault(key, []).append(value)
    return render_template(
        "segments/detail.html",
        segment=segment,
        criteria=services.describe_filter(db.session, flt),
        everyone=flt.is_empty(),
        page=page,
        sort=sort,
        export_url=url_for("contacts.export", **export_args),
    )


@bp.route("/segments/<int:segment_id>/delete", methods=["GET", "POST"])
@editor_required
def delete(segment_id: int):
    """GET asks for confirmation (works without JavaScript); POST deletes."""
    segment = get_segment(segment_id)
    if request.method == "GET":
        count = services.count_members(db.session, segment)
        return render_template("segments/delete.html", segment=segment, count=count)
    name = segment.name
    services.delete_segment(db.session, segment)
    db.session.commit()
    flash(f"Segment “{name}” deleted. Its contacts are unchanged.", "success")
    return redirect(url_for("segments.index"))

