"""Staff pages: a campaign's engagement report (and CSV), its subject test, webhook notices."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from outreach.auth.decorators import require_login
from outreach.engagement.models import WebhookNotice
from outreach.extensions import db

bp = Blueprint("engagement_staff", __name__)
bp.before_request(require_login)

NOTICE_LIMIT = 100


@bp.route("/webhooks/notices")
def notices():
    rows = db.session.scalars(
        select(WebhookNotice).order_by(WebhookNotice.id.desc()).limit(NOTICE_LIMIT)
    ).all()
    return render_template("engagement/notices.html", notices=rows)
