"""Staff pages of the news feeds: sources (add, edit, deactivate, poll now) and their items.
Viewers read; editors change."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from outreach.auth.decorators import editor_required, require_login
from outreach.campaigns.models import Campaign
from outreach.core.countries import all_countries, resolve_country
from outreach.core.errors import ServiceError
from outreach.core.pagination import paginate, parse_page_args
from outreach.extensions import db
from outreach.feeds import blocks, queries, services
from outreach.feeds.forms import SourceForm
from outreach.feeds.models import FeedItem, FeedSource

bp = Blueprint("feeds", __name__)
bp.before_request(require_login)


@bp.get("/feeds")
def index():
    counts = dict(
        db.session.execute(
            select(FeedItem.source_id, func.count(FeedItem.id)).group_by(FeedItem.source_id)
        ).all()
    )
    sources = db.session.scalars(select(FeedSource).order_by(FeedSource.name, FeedSource.id))
    return render_template("feeds/index.html", sources=list(sources), counts=counts)


def _form_page(form: SourceForm, source: FeedSource | None = None, status: int = 200):
    return render_template("feeds/form.html", form=form, source=source), status


def _save(form: SourceForm, source: FeedSource | None):
    if not form.validate_on_submit():
        return _form_page(form, source, 400)
    try:
        if source is None:
            source = services.create_source(db.session, form.data_for_service())
        else:
            services.update_source(db.session, source, form.data_for_service())
    except ServiceError as exc:
        db.session.rollback()
        for name, message in exc.fields.items():
            getattr(form, name).errors = [*getattr(form, name).errors, message]
        return _form_page(form, source if source and source.id else None, 400)
    db.session.commit()
    flash(f"Saved the source “{source.name}”.", "success")
    return redirect(url_for("feeds.index"))


@bp.route("/feeds/new", methods=["GET", "POST"])
@editor_required
def new():
    form = SourceForm()
    if request.method == "GET":
        return _form_page(form)
    return _save(form, None)


@bp.route("/feeds/<int:source_id>/edit", methods=["GET", "POST"])
@editor_required
def edit(source_id: int):
    source = db.get_or_404(FeedSource, source_id)
    if request.method == "GET":
        return _form_page(SourceForm.for_source(source), source)
    return _save(SourceForm(), source)


@bp.route("/feeds/<int:source_id>/deactivate", methods=["GET", "POST"])
@editor_required
def deactivate(source_id: int):
    """A POST without `confirmed=1` (or a GET) asks first."""
    source = db.get_or_404(FeedSource, source_id)
    if not (request.method == "POST" and request.form.get("confirmed") == "1"):
        return render_template("feeds/deactivate.html", source=source)
    services.set_active(source, False)
    db.session.commit()
    flash(f"“{source.name}” is no longer polled; its items are kept.", "success")
    return redirect(url_for("feeds.index"))


@bp.post("/feeds/<int:source_id>/activate")
@editor_required
def activate(source_id: int):
    source = db.get_or_404(FeedSource, source_id)
    services.set_active(source, True)
    db.session.commit()
    flash(f"“{source.name}” is polled again.", "success")
    return redirect(url_for("feeds.index"))


@bp.post("/feeds/<int:source_id>/poll")
@editor_required
def poll(source_id: int):
    source = db.get_or_404(FeedSource, source_id)
    result = services.poll_source(db.session, source)
    db.session.commit()
    if result.status == "error":
        flash(f"Could not poll “{source.name}”: {result.error}", "danger")
    elif result.status == "not_modified":
        flash(f"“{source.name}” has not changed since the last poll.", "info")
    else:
        message = f"Polled “{source.name}”: {result.new_items} new item(s)."
        if result.error:
            message += f" The feed has problems: {result.error}"
        flash(message, "warning" if result.error else "success")
    return redirect(url_for("feeds.index"))


def _target_campaign(raw) -> Campaign | None:
    """The draft that chosen items go into (`campaign` argument), or None when browsing."""
    if raw in (None, ""):
        return None
    if not str(raw).isdigit():
        abort(404, "There is no such campaign.")
    return db.session.get(Campaign, int(raw)) or abort(404, "There is no such campaign.")


@bp.get("/feeds/items")
def items(status: int = 200, error: str = ""):
    campaign = _target_campaign(request.values.get("campaign"))
    source_id = request.args.get("source", type=int)
    country = resolve_country(request.args.get("country", "")) or ""
    page, per_page = parse_page_args(request.args, default_per_page=25)
    stmt = queries.items_query(source_id=source_id, country=country)
    result = paginate(db.session, stmt, page, per_page)
    sources = db.session.scalars(select(FeedSource).order_by(FeedSource.name)).all()
    return render_template(
        "feeds/items.html",
        page=result,
        sources=sources,
        source_id=source_id,
        country=country,
        countries=all_countries("en"),
        campaign=campaign,
        error=error,
    ), status


@bp.post("/feeds/items/insert")
@editor_required
def insert():
    """Append the checked items to every language version of the campaign as a news block."""
    campaign = _target_campaign(request.form.get("campaign")) or abort(
        400, "Choose the campaign to insert the items into."
    )
    try:
        count = blocks.insert_news_block(db.session, campaign, request.form.getlist("item", int))
    except ServiceError as exc:
        db.session.rollback()
        return items(400, exc.message)
    db.session.commit()
    flash(
        f"Inserted {count} news item(s) into every language version of “{campaign.name}”.",
        "success",
    )
    return redirect(url_for("campaigns.edit", campaign_id=campaign.id))
