from flask import Blueprint

from outreach.auth.decorators import require_login

bp = Blueprint("segments", __name__)
bp.before_request(require_login)


@bp.get("/segments")
def index():
    return "segments"
