"""/sessions and /deadlines: the UPR calendar."""

from __future__ import annotations

from datetime import date, time, timedelta

from flask import jsonify

from outreach.api import serialise
from outreach.api.blueprint import bp
from outreach.api.inputs import MAX_INT, Fields, json_object, list_page, page_args, query
from outreach.calendar import services
from outreach.calendar.models import UPRSession
from outreach.contacts.validation import FieldError, parse_country
from outreach.core.errors import NotFound
from outreach.core.timezones import local_date_at, local_today
from outreach.extensions import db

SESSION_FIELDS = ("number", "cycle", "wg_start", "wg_end", "location", "status", "notes")
DEFAULT_DEADLINE_DAYS = 90
MAX_DEADLINE_DAYS = 3 * 366
EARLIEST, LATEST = date(1990, 1, 1), date(2200, 12, 31)


def _session_or_404(number: int) -> UPRSession:
    upr_session = services.get_session(db.session, number) if number <= MAX_INT else None
    if upr_session is None:
        raise NotFound(f"There is no UPR session {number} in the calendar.")
    return upr_session


def _session_data(body: dict, current: UPRSession | None) -> services.SessionData:
    fields = Fields(body, SESSION_FIELDS)
    base = services.SessionData(number=None)
    if current is not None:
        base = services.SessionData(
            number=current.number,
            cycle_number=current.cycle_number,
            wg_start=current.wg_start,
            wg_end=current.wg_end,
            location=current.location,
            status=current.status,
            notes=current.notes,
        )
    data = services.SessionData(
        number=fields.integer("number", base.number, required=current is None, minimum=1),
        cycle_number=fields.integer("cycle", base.cycle_number, nullable=True, minimum=1),
        wg_start=fields.day("wg_start", base.wg_start, nullable=True),
        wg_end=fields.day("wg_end", base.wg_end, nullable=True),
        location=fields.text("location", base.location, max_length=200),
        status=fields.text("status", base.status),
        notes=fields.text("notes", base.notes, max_length=10000),
    )
    for name in ("wg_start", "wg_end"):
        value = getattr(data, name)
        if isinstance(value, date) and not EARLIEST <= value <= LATEST:
            fields.errors[name] = "Out of range."
    fields.done()
    return data


@bp.get("/sessions")
def list_sessions():
    fields = query(())
    page, per_page = page_args(fields)
    fields.done()
    rows = services.list_sessions(db.session)
    return jsonify(
        list_page(rows, page, per_page, lambda row: serialise.session_summary(row.upr_session))
    )


@bp.get("/sessions/<int:number>")
def get_session(number: int):
    return jsonify(serialise.session_detail(_session_or_404(number)))


@bp.post("/sessions")
def create_session():
    upr_session = services.create_session(db.session, _session_data(json_object(), None))
    db.session.commit()
    return jsonify(serialise.session_detail(_session_or_404(upr_session.number))), 201


@bp.patch("/sessions/<int:number>")
def update_session(number: int):
    upr_session = _session_or_404(number)
    services.update_session(db.session, upr_session, _session_data(json_object(), upr_session))
    db.session.commit()
    return jsonify(serialise.session_detail(_session_or_404(upr_session.number)))


@bp.get("/deadlines")
def list_deadlines():
    """Stakeholder deadlines from `from` (default today) to `to` (default 90 days on)."""
    fields = query(("from", "to", "country", "session"))
    page, per_page = page_args(fields)
    start = fields.day("from", local_today())
    end = fields.day("to", None)
    number = fields.integer("session", None, minimum=1)
    country = fields.text("country", None)
    fields.done()
    if end is None:
        end = start + timedelta(days=DEFAULT_DEADLINE_DAYS)
    if not (EARLIEST <= start <= LATEST and EARLIEST <= end <= LATEST):
        fields.errors["from"] = f"Dates run from {EARLIEST} to {LATEST}."
    elif end < start:
        fields.errors["to"] = "`to` cannot be before `from`."
    elif (end - start).days > MAX_DEADLINE_DAYS:
        fields.errors["to"] = f"Ask for at most {MAX_DEADLINE_DAYS} days at a time."
    try:
        code = parse_country(country) if country else None
    except FieldError as exc:
        fields.errors["country"] = str(exc)
    fields.done()
    rows = services.upcoming_key_dates(
        db.session,
        start=local_date_at(start, time(0)),
        days=(end - start).days + 1,
        country=code,
        session_number=number,
    )
    # upcoming_key_dates counts whole days from `start`; keep the ones starting by `to`.
    until = local_date_at(end + timedelta(days=1), time(0))
    rows = [row for row in rows if row[0].starts_at < until]
    return jsonify(list_page(rows, page, per_page, lambda row: serialise.key_date(*row)))
