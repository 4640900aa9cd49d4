from __future__ import annotations

from flask import Blueprint

from outreach.auth.decorators import require_login
from outreach.dashboard.views import dashboard_page

bp = Blueprint("core", __name__)
bp.before_request(require_login)


@bp.get("/")
def home():
    """Staff start page: the dashboard."""
    return dashboard_page()
