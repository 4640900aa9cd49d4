"""Staff pages of the deadline alerts: upcoming alerts, followers of the next deadlines, rules,
history, one key date's followers, and "deadline moved" notices. Viewers read; editors change."""

from __future__ import annotations

from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.orm import selectinload

from outreach.alerts import services
from outreach.alerts.forms import RuleForm
from outreach.alerts.models import AlertRule
from outreach.auth.decorators import editor_required, require_login
from outreach.calendar.models import KEY_DATE_LABELS, KeyDate, Review, UPRSession
from outreach.calendar.services import concerned_states
from outreach.core.database import utcnow
from outreach.core.errors import ServiceError
from outreach.core.pagination import paginate, parse_page_args
from outreach.core.timezones import to_local
from outreach.extensions import db

bp = Blueprint("alerts", __name__)
bp.before_request(require_login)

HISTORY_DAYS = (7, 30, 90, 365)
DEFAULT_HISTORY_DAYS = 30


@bp.app_template_global("contact_alert_history")
def contact_alert_history(contact_id: int) -> list[services.ContactAlert]:
    """For the contact page (`alerts/_contact_history.html`)."""
    return services.contact_alert_history(db.session, contact_id)


def _history_days() -> int:
    days = request.args.get("days", type=int)
    return days if days in HISTORY_DAYS else DEFAULT_HISTORY_DAYS


def _index_page(form: RuleForm, status: int = 200):
    session = db.session
    now = utcnow()
    days = _history_days()
    return render_template(
        "alerts/index.html",
        today=to_local(now).date(),
        upcoming=services.upcoming_alerts(session, now=now),
        upcoming_days=services.UPCOMING_DAYS,
        deadlines=services.next_deadlines(session, now),
        followers_days=services.FOLLOWERS_DAYS,
        moved=services.moved_deadlines(session),
        rules=services.list_rules(session),
        form=form,
        history=services.alert_history(session, since=now - timedelta(days=days)),
        history_days=days,
        history_choices=HISTORY_DAYS,
    ), status


@bp.get("/alerts")
def index():
    return _index_page(RuleForm(formdata=None))


@bp.post("/alerts/rules")
@editor_required
def add_rule():
    form = RuleForm()
    if not form.validate_on_submit():
        return _index_page(form, 400)
    try:
        rule = services.add_rule(db.session, form.kind.data, form.days_before.data)
    except ServiceError as exc:
        db.session.rollback()
        for name, message in exc.fields.items():
            getattr(form, name).errors = [*getattr(form, name).errors, message]
        return _index_page(form, 400)
    db.session.commit()
    flash(
        f"Alerts will go out {rule.days_before} days before each {rule_label(rule).lower()}.",
        "success",
    )
    return redirect(url_for("alerts.index", _anchor="rules"))


def rule_label(rule: AlertRule) -> str:
    return KEY_DATE_LABELS.get(rule.kind, rule.kind)


@bp.post("/alerts/rules/<int:rule_id>/toggle")
@editor_required
def toggle_rule(rule_id: int):
    rule = db.get_or_404(AlertRule, rule_id)
    services.set_rule_active(db.session, rule, not rule.active)
    db.session.commit()
    state = "on" if rule.active else "off"
    flash(
        f"The alert {rule.days_before} days before each {rule_label(rule).lower()} is {state}.",
        "success",
    )
    return redirect(url_for("alerts.index", _anchor="rules"))


@bp.route("/alerts/rules/<int:rule_id>/delete", methods=["GET", "POST"])
@editor_required
def delete_rule(rule_id: int):
    """A POST without `confirmed=1` (or a GET) asks first."""
    rule = db.get_or_404(AlertRule, rule_id)
    if not (request.method == "POST" and request.form.get("confirmed") == "1"):
        return render_template("alerts/rule_delete.html", rule=rule, label=rule_label(rule))
    try:
        services.delete_rule(db.session, rule)
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return redirect(url_for("alerts.index", _anchor="rules"))
    db.session.commit()
    flash(
        f"Removed the alert {rule.days_before} days before each {rule_label(rule).lower()}.",
        "success",
    )
    return redirect(url_for("alerts.index", _anchor="rules"))


def _key_date_or_404(key_date_id: int) -> KeyDate:
    key_date = db.session.scalar(
        db.select(KeyDate)
        .where(KeyDate.id == key_date_id)
        .options(
            selectinload(KeyDate.session)
            .selectinload(UPRSession.reviews)
            .selectinload(Review.key_dates),
            selectinload(KeyDate.review),
        )
    )
    if key_date is None:
        abort(404, "There is no such key date.")
    return key_date


@bp.get("/alerts/key-dates/<int:key_date_id>")
def key_date(key_date_id: int):
    """Who follows a key date, with what each was sent; with `days_before`, who the alert that
    many days before will reach."""
    key_date = _key_date_or_404(key_date_id)
    session = db.session
    now = utcnow()
    days_before = request.args.get("days_before", type=int)
    if days_before is not None and not 0 <= days_before <= services.MAX_DAYS_BEFORE:
        days_before = None
    page_args = parse_page_args(request.args, current_app.config.get("PER_PAGE", 50))
    page = paginate(
        session,
        services.followers_select(key_date.id, now, pending_days_before=days_before),
        *page_args,
    )
    alert_day = (
        to_local(key_date.starts_at).date() - timedelta(days=days_before)
        if days_before is not None
        else None
    )
    return render_template(
        "alerts/key_date.html",
        key_date=key_date,
        states=concerned_states(key_date),
        page=page,
        days_before=days_before,
        alert_day=alert_day,
        sent=services.contact_alert_states(session, key_date.id, [c.id for c in page.items]),
        followers=services.follower_counts(session, [key_date.id], now).get(key_date.id, 0),
        history=services.alert_history(session, key_date_id=key_date.id),
        moved=next(iter(services.moved_deadlines(session, key_date.id)), None),
        is_past=key_date.starts_at <= now,
    )


@bp.route("/alerts/key-dates/<int:key_date_id>/notify", methods=["GET", "POST"])
@editor_required
def notify(key_date_id: int):
    """ "Deadline moved: notify N people": asks first, then queues one notice per person."""
    key_date = _key_date_or_404(key_date_id)
    moved = next(iter(services.moved_deadlines(db.session, key_date.id)), None)
    if moved is None:
        flash(
            "Nobody needs a notice about this key date: everyone alerted was given its "
            "current date.",
            "info",
        )
        return redirect(url_for("alerts.key_date", key_date_id=key_date.id))
    if not (request.method == "POST" and request.form.get("confirmed") == "1"):
        return render_template(
            "alerts/notify.html",
            key_date=key_date,
            moved=moved,
            states=concerned_states(key_date),
        )
    count = services.send_change_notices(db.session, key_date)
    db.session.commit()
    flash(
        f"Queued {count} “deadline changed” notice{'s' if count != 1 else ''}: "
        "the sender worker delivers them.",
        "success",
    )
    return redirect(url_for("alerts.key_date", key_date_id=key_date.id))
