"""Staff pages around sending: the campaign list, the audience and sending panel, the lifecycle
buttons (schedule, send now, unschedule, pause, resume, cancel), progress and outcomes.

Every change goes through `outreach.campaigns.lifecycle`, which refuses illegal moves; a refusal is
shown with the service's message and a 400, never a 500.
"""

from __future__ import annotations

from datetime import date, datetime, time

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from wtforms import DateField, TimeField
from wtforms.validators import InputRequired

from outreach.auth.decorators import editor_required, require_login
from outreach.campaigns import lifecycle, reports
from outreach.campaigns.models import CAMPAIGN_STATUSES, CAMPAIGN_TOPIC_LABELS, Campaign
from outreach.core.errors import ServiceError
from outreach.core.pagination import paginate, parse_page_args
from outreach.core.timezones import local_to_utc, to_local
from outreach.delivery.models import OUTBOX_STATUSES
from outreach.extensions import db

bp = Blueprint("campaign_send", __name__)
bp.before_request(require_login)

STATUS_LABELS = {status: status.capitalize() for status in CAMPAIGN_STATUSES}


class ScheduleForm(FlaskForm):
    date = DateField("Date", validators=[InputRequired("Enter the date.")])
    time = TimeField("Time (Geneva)", validators=[InputRequired("Enter the time.")])


# --- Helpers --------------------------------------------------------------------------------------


@bp.app_template_global()
def campaign_panel(campaign: Campaign) -> reports.Panel:
    """Data for `campaigns/send/_panel.html`, which any campaign page can include."""
    return reports.panel_context(db.session, campaign)


def get_campaign(campaign_id: int, for_update: bool = False) -> Campaign:
    """The campaign or 404; `for_update` locks the row so a worker's change cannot interleave."""
    campaign = db.session.get(Campaign, campaign_id, with_for_update=for_update or None)
    if campaign is None:
        abort(404, "There is no such campaign.")
    return campaign


def back_url(campaign: Campaign) -> str:
    """Where a lifecycle POST returns: the page it came from (`next`, local paths only)."""
    target = request.form.get("next") or request.args.get("next") or ""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("campaigns.detail", campaign_id=campaign.id)


def problems_of(exc: ServiceError, skip: tuple[str, ...] = ()) -> list[str]:
    """The individual problems a refusal lists (validation), beyond its main message."""
    if exc.code == "illegal_transition":
        return []
    listed = getattr(exc, "problems", None)  # validation's CampaignInvalid: one per problem
    if listed:
        return [problem.message for problem in listed if problem.field not in skip]
    problems: list[str] = []
    for key, value in exc.fields.items():
        if key not in skip:
            problems.extend(value if isinstance(value, list | tuple) else [value])
    return [str(problem) for problem in problems if problem and problem != exc.message]


def headline(exc: ServiceError) -> str:
    """The refusal's main sentence; a validation refusal's own list follows it."""
    if getattr(exc, "problems", None):
        return getattr(exc, "intro", "This campaign cannot be sent yet:")
    return exc.message


def refused(campaign: Campaign, exc: ServiceError, action: str):
    db.session.rollback()
    page = render_template(
        "campaigns/send/refused.html",
        campaign=campaign,
        action=action,
        message=headline(exc),
        problems=problems_of(exc),
        back=back_url(campaign),
    )
    return page, 400


# --- The list -------------------------------------------------------------------------------------


@bp.get("/campaigns")
def index():
    q = request.args.get("q", "").strip()
    status = request.args.get("status", "").strip()
    if status and status not in CAMPAIGN_STATUSES:
        abort(400, f"Unknown status “{status}”; choose one of {', '.join(CAMPAIGN_STATUSES)}.")
    conditions = []
    if q:
        conditions.append(func.lower(Campaign.name).contains(q.lower(), autoescape=True))
    status_counts = dict(
        db.session.execute(
            select(Campaign.status, func.count()).where(*conditions).group_by(Campaign.status)
        ).tuples().all()
    )
    if status:
        conditions.append(Campaign.status == status)
    stmt = (
        select(Campaign)
        .where(*conditions)
        .options(selectinload(Campaign.variants))
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())
    )
    page = paginate(
        db.session, stmt, *parse_page_args(request.args, current_app.config.get("PER_PAGE", 50))
    )
    return render_template(
        "campaigns/list.html",
        page=page,
        q=q,
        status=status,
        statuses=STATUS_LABELS,
        status_counts=status_counts,
        total=sum(status_counts.values()),
        outbox=reports.counts_by_campaign(db.session, [c.id for c in page.items]),
        topics=CAMPAIGN_TOPIC_LABELS,
    )


# --- One campaign: panel, progress, outcomes ------------------------------------------------------


@bp.get("/campaigns/<int:campaign_id>/progress.json")
def progress_json(campaign_id: int):
    campaign = get_campaign(campaign_id)
    response = jsonify(reports.progress(db.session, campaign).as_dict())
    response.cache_control.no_store = True
    return response


def _outcome_args() -> tuple[str, str]:
    return request.args.get("q", "").strip(), request.args.get("status", "").strip()


@bp.get("/campaigns/<int:campaign_id>/recipients")
def recipients(campaign_id: int):
    campaign = get_campaign(campaign_id)
    q, status = _outcome_args()
    counts, retrying = reports.outbox_counts(db.session, campaign.id)
    error = None
    page = None
    try:
        stmt = reports.outcomes_select(campaign.id, q, status)
    except ServiceError as exc:
        error = exc.message
    else:
        page_args = parse_page_args(request.args, current_app.config.get("PER_PAGE", 50))
        page = paginate(db.session, stmt, *page_args)
    return render_template(
        "campaigns/send/recipients.html",
        campaign=campaign,
        page=page,
        error=error,
        q=q,
        status=status,
        counts=counts,
        retrying=retrying,
        total=sum(counts.values()),
        statuses=OUTBOX_STATUSES,
    ), (400 if error else 200)


@bp.get("/campaigns/<int:campaign_id>/recipients.csv")
def recipients_csv(campaign_id: int):
    campaign = get_campaign(campaign_id)
    q, status = _outcome_args()
    stmt = reports.outcomes_select(campaign.id, q, status)
    engine = db.engine

    def rows():
        """Streamed after the view returns, so on a session of its own (no request needed)."""
        with Session(engine) as session:
            yield from reports.outcome_csv_rows(session, stmt)

    filename = f"campaign-{campaign.id}-recipients.csv"
    return Response(
        rows(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- Lifecycle ------------------------------------------------------------------------------------


def local_send_at(day: date, at: time) -> datetime:
    """Geneva wall-clock time to UTC; refuses a time skipped when clocks go forward."""
    wall = datetime.combine(day, at)
    send_at = local_to_utc(wall)
    if to_local(send_at).replace(tzinfo=None) != wall:
        message = (
            f"{wall:%H:%M} does not exist on {wall:%d %b %Y} in Geneva (the clocks go forward "
            "that night); choose another time."
        )
        raise ServiceError(message, {"time": message})
    return send_at


def _schedule_page(
    campaign: Campaign, form: ScheduleForm, refusal: ServiceError | None = None,
    problems=(), status: int = 200,
):
    page = render_template(
        "campaigns/send/schedule.html",
        campaign=campaign,
        form=form,
        headline=headline(refusal) if refusal else "",
        problems=list(problems),
        allowed=reports.Actions.for_campaign(campaign).schedule,
        back=back_url(campaign),
    )
    return page, status


@bp.route("/campaigns/<int:campaign_id>/schedule", methods=["GET", "POST"])
@editor_required
def schedule(campaign_id: int):
    """Schedule (or move) a campaign to a date and time in Geneva time."""
    campaign = get_campaign(campaign_id, for_update=request.method == "POST")
    form = ScheduleForm()
    if request.method == "GET" and campaign.scheduled_at is not None:
        local = to_local(campaign.scheduled_at)
        form.date.data, form.time.data = local.date(), local.time().replace(second=0)
    if not form.validate_on_submit():
        return _schedule_page(campaign, form, status=400 if form.is_submitted() else 200)
    try:
        send_at = local_send_at(form.date.data, form.time.data)
        if campaign.status == "scheduled":
            lifecycle.unschedule(db.session, campaign)
        lifecycle.schedule(db.session, campaign, send_at)
    except ServiceError as exc:
        db.session.rollback()
        campaign = get_campaign(campaign_id)
        if exc.code == "illegal_transition":
            return refused(campaign, exc, "schedule")
        when = ("time", "send_at")
        if any(key in exc.fields for key in when):
            form.time.errors = [*form.time.errors, exc.message]
            return _schedule_page(campaign, form, problems=problems_of(exc, skip=when), status=400)
        return _schedule_page(campaign, form, exc, problems_of(exc), 400)
    db.session.commit()
    flash(
        f"“{campaign.name}” is scheduled for {to_local(send_at):%d %b %Y %H:%M} (Geneva time).",
        "success",
    )
    return redirect(back_url(campaign))


def _confirm_page(campaign: Campaign, action: str, **context):
    return render_template(
        "campaigns/send/confirm.html",
        campaign=campaign,
        action=action,
        back=back_url(campaign),
        **context,
    )


@bp.route("/campaigns/<int:campaign_id>/send-now", methods=["GET", "POST"])
@editor_required
def send_now(campaign_id: int):
    """A GET, or a POST without `confirmed=1`, asks first; the scheduler then starts it."""
    confirmed = request.method == "POST" and request.form.get("confirmed") == "1"
    campaign = get_campaign(campaign_id, for_update=confirmed)
    if not confirmed:
        allowed = reports.Actions.for_campaign(campaign).send_now
        audience = reports.audience_report(db.session, campaign) if allowed else None
        return _confirm_page(campaign, "send_now", audience=audience)
    try:
        if campaign.status == "scheduled":
            lifecycle.unschedule(db.session, campaign)
        lifecycle.send_now(db.session, campaign)
    except ServiceError as exc:
        return refused(campaign, exc, "send now")
    db.session.commit()
    flash(f"“{campaign.name}” will start sending within a minute.", "success")
    return redirect(back_url(campaign))


@bp.route("/campaigns/<int:campaign_id>/cancel", methods=["GET", "POST"])
@editor_required
def cancel(campaign_id: int):
    confirmed = request.method == "POST" and request.form.get("confirmed") == "1"
    campaign = get_campaign(campaign_id, for_update=confirmed)
    if not confirmed:
        return _confirm_page(campaign, "cancel", progress=reports.progress(db.session, campaign))
    try:
        lifecycle.cancel(db.session, campaign)
    except ServiceError as exc:
        return refused(campaign, exc, "cancel")
    db.session.commit()
    flash(f"“{campaign.name}” is cancelled; messages not sent yet will not be sent.", "warning")
    return redirect(back_url(campaign))


def _simple_action(campaign_id: int, action: str, operation, message: str):
    campaign = get_campaign(campaign_id, for_update=True)
    try:
        operation(db.session, campaign)
    except ServiceError as exc:
        return refused(campaign, exc, action)
    db.session.commit()
    flash(message.format(name=campaign.name), "success")
    return redirect(back_url(campaign))


@bp.post("/campaigns/<int:campaign_id>/unschedule")
@editor_required
def unschedule(campaign_id: int):
    return _simple_action(
        campaign_id, "unschedule", lifecycle.unschedule,
        "“{name}” is a draft again: it will not be sent until it is scheduled.",
    )


@bp.post("/campaigns/<int:campaign_id>/pause")
@editor_required
def pause(campaign_id: int):
    return _simple_action(
        campaign_id, "pause", lifecycle.pause,
        "Sending of “{name}” is paused. Messages already sent stay sent; resume to continue.",
    )


@bp.post("/campaigns/<int:campaign_id>/resume")
@editor_required
def resume(campaign_id: int):
    return _simple_action(
        campaign_id, "resume", lifecycle.resume,
        "Sending of “{name}” resumes where it stopped.",
    )
