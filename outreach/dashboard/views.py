"""The staff dashboard (the home page), its progress poll and the reports page."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from outreach.auth.decorators import require_login
from outreach.dashboard import charts, services
from outreach.delivery.bounces.services import recent_runs
from outreach.extensions import db
from outreach.series.services import editions_awaiting_review

bp = Blueprint("dashboard", __name__)
bp.before_request(require_login)

MAX_POLLED = 50


def json_error(message: str, status: int):
    return jsonify({"error": {"code": "invalid", "message": message, "fields": {}}}), status


def dashboard_page():
    """Render the dashboard; `core.home` serves it at /."""
    session = db.session
    live = services.live_campaigns(session)
    return render_template(
        "dashboard/index.html",
        counts=services.registry_counts(session),
        deadlines=services.upcoming_deadlines(session),
        deadline_days=services.DEADLINE_DAYS,
        states_shown=services.STATES_SHOWN,
        campaigns=live,
        subscribers=services.subscriber_changes(session),
        recent_days=services.RECENT_DAYS,
        health=services.delivery_health(session),
        bounce_run=next(iter(recent_runs(session, 1)), None),
        awaiting_editions=editions_awaiting_review(session),
    )


@bp.get("/dashboard/campaigns.json")
def campaigns_json():
    """Progress of the campaigns named in `?ids=1,2,3` (what the dashboard shows)."""
    raw = request.args.get("ids", "")
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        return json_error("ids must be campaign numbers separated by commas.", 400)
    if len(ids) > MAX_POLLED:
        return json_error(f"Ask for at most {MAX_POLLED} campaigns at a time.", 400)
    response = jsonify({"campaigns": services.campaigns_progress(db.session, ids)})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/reports")
def reports():
    """Charts: deliveries per day and subscribers over time by language and by type."""
    session = db.session
    return render_template(
        "dashboard/reports.html",
        deliveries=charts.deliveries_per_day(session),
        by_language=charts.subscribers_by(session, "language"),
        by_type=charts.subscribers_by(session, "type"),
    )
