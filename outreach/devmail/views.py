from flask import Blueprint

bp = Blueprint("devmail", __name__)


@bp.get("/dev/mail")
def index():
    return "devmail"
