from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, render_template
from sqlalchemy import func, select

from outreach.auth.decorators import require_login
from outreach.calendar.models import DEADLINE_KINDS, KeyDate, UPRSession
from outreach.contacts.models import Contact, Organisation
from outreach.core.database import utcnow
from outreach.extensions import db
from outreach.segments.models import Segment

bp = Blueprint("core", __name__)
bp.before_request(require_login)


@bp.get("/")
def home():
    """Staff start page: the registry at a glance and the next deadlines."""
    session = db.session
    now = utcnow()
    counts = {
        "contacts": session.scalar(select(func.count(Contact.id))),
        "active": session.scalar(
            select(func.count(Contact.id)).where(Contact.status == "active")
        ),
        "organisations": session.scalar(select(func.count(Organisation.id))),
        "segments": session.scalar(select(func.count(Segment.id))),
        "sessions": session.scalar(select(func.count(UPRSession.id))),
    }
    deadlines = session.scalars(
        select(KeyDate)
        .where(KeyDate.kind.in_(DEADLINE_KINDS), KeyDate.starts_at >= now)
        .where(KeyDate.starts_at <= now + timedelta(days=90))
        .order_by(KeyDate.starts_at)
        .limit(8)
    ).all()
    return render_template("core/home.html", counts=counts, deadlines=deadlines)
