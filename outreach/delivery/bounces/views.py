"""Staff pages of recorded bounces and complaints (read-only)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, url_for
from werkzeug.routing import BuildError

from outreach.auth.decorators import require_login
from outreach.campaigns.models import Campaign
from outreach.contacts.models import Contact
from outreach.core.errors import ServiceError
from outreach.core.pagination import paginate, parse_page_args
from outreach.delivery.bounces import services
from outreach.delivery.bounces.services import BounceFilter
from outreach.delivery.models import Bounce, OutboxMessage
from outreach.extensions import db
from outreach.subscriptions.services import find_suppression

bp = Blueprint("bounces", __name__)
bp.before_request(require_login)

KIND_LABELS = {
    "hard": "Hard bounce",
    "soft": "Soft bounce",
    "complaint": "Complaint",
    "unknown": "Unknown",
}
KIND_BADGES = {
    "hard": "text-bg-danger",
    "soft": "text-bg-warning",
    "complaint": "text-bg-dark",
    "unknown": "text-bg-secondary",
}


def _first_url(endpoints: tuple[str, ...], **values) -> str | None:
    """The URL of the first endpoint that exists (the campaign pages are built separately)."""
    for endpoint in endpoints:
        if endpoint in current_app.view_functions:
            try:
                return url_for(endpoint, **values)
            except BuildError:
                continue
    return None


def campaign_url(campaign_id: int) -> str | None:
    return _first_url(("campaigns.detail", "campaign_send.sending"), campaign_id=campaign_id)


def outbox_url(row: OutboxMessage) -> str | None:
    if row.campaign_id is None:
        return None
    return _first_url(("campaign_send.recipients",), campaign_id=row.campaign_id, q=row.email)


@bp.context_processor
def _helpers():
    return {
        "bounce_kind_label": lambda kind: KIND_LABELS.get(kind, kind),
        "bounce_kind_badge": lambda kind: KIND_BADGES.get(kind, "text-bg-secondary"),
        "bounce_campaign_url": campaign_url,
        "bounce_outbox_url": outbox_url,
    }


@bp.get("/bounces")
def index():
    error = None
    page = None
    try:
        filters = services.parse_filter(request.args)
    except ServiceError as exc:
        error = exc.message
        filters = BounceFilter()
    else:
        page_number, per_page = parse_page_args(
            request.args, current_app.config.get("PER_PAGE", 50)
        )
        page = paginate(
            db.session, services.bounce_list(filters), page_number, per_page, scalars=False
        )
    campaign = db.session.get(Campaign, filters.campaign_id) if filters.campaign_id else None
    counts = services.kind_counts(db.session, filters.campaign_id)
    return render_template(
        "bounces/list.html",
        page=page,
        error=error,
        filters=filters,
        campaign=campaign,
        counts=counts,
        total=sum(counts.values()),
        kinds=KIND_LABELS,
        runs=services.recent_runs(db.session),
    ), (400 if error else 200)


@bp.get("/bounces/<int:bounce_id>")
def detail(bounce_id: int):
    bounce = db.get_or_404(Bounce, bounce_id)
    row = db.session.get(OutboxMessage, bounce.outbox_id) if bounce.outbox_id else None
    campaign = db.session.get(Campaign, row.campaign_id) if row and row.campaign_id else None
    contact = None
    if row is not None and row.contact_id is not None:
        contact = db.session.get(Contact, row.contact_id)
    if contact is None and bounce.email_hash:
        contact = db.session.scalar(
            db.select(Contact).where(Contact.email_hash == bounce.email_hash)
        )
    suppression = find_suppression(db.session, bounce.email_hash) if bounce.email_hash else None
    soft_count = (
        services.soft_bounce_count(db.session, bounce.email_hash) if bounce.email_hash else 0
    )
    return render_template(
        "bounces/detail.html",
        bounce=bounce,
        row=row,
        campaign=campaign,
        contact=contact,
        suppression=suppression,
        soft_count=soft_count,
        soft_limit=services.soft_limit(),
    )
