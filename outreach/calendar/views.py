from flask import Blueprint

from outreach.auth.decorators import require_login

bp = Blueprint("calendar", __name__)
bp.before_request(require_login)


@bp.get("/deadlines")
def deadlines():
    return "deadlines"


@bp.get("/sessions")
def sessions():
    return "sessions"


@bp.get("/sessions/<int:number>")
def session_detail(number):
    return "session"
