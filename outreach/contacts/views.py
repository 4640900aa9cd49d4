from flask import Blueprint

from outreach.auth.decorators import require_login

bp = Blueprint("contacts", __name__)
bp.before_request(require_login)


@bp.get("/contacts")
def index():
    return "contacts"


@bp.get("/organisations")
def organisations():
    return "organisations"
