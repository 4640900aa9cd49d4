from flask import Blueprint

from outreach.auth.decorators import require_login

bp = Blueprint("imports", __name__)
bp.before_request(require_login)


@bp.get("/contacts/import")
def upload():
    return "import"
