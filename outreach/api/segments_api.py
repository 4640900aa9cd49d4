"""/segments: saved audiences, their live counts and members."""

from __future__ import annotations

from flask import jsonify

from outreach.api import serialise
from outreach.api.blueprint import bp, current_api_user
from outreach.api.inputs import Fields, find, json_object, list_page, page_args, page_json, query
from outreach.core.errors import ServiceError
from outreach.extensions import db
from outreach.segments import services
from outreach.segments.models import Segment


def _count(segment: Segment) -> int | None:
    try:
        return services.count_members(db.session, segment)
    except ServiceError:
        return None  # filters stored before a change of the filter language


@bp.get("/segments")
def list_segments():
    fields = query(())
    page, per_page = page_args(fields)
    fields.done()
    rows = services.list_segments(db.session)
    return jsonify(list_page(rows, page, per_page, lambda row: serialise.segment(*row)))


@bp.post("/segments")
def create_segment():
    fields = Fields(json_object(), ("name", "description", "filters"))
    name = fields.text("name", required=True)
    description = fields.text("description", "", max_length=10000)
    filters = fields.mapping("filters")
    fields.done()
    segment = services.create_segment(
        db.session, name, filters, description, user=current_api_user()
    )
    db.session.commit()
    return jsonify(serialise.segment(segment, _count(segment))), 201


@bp.get("/segments/<int:segment_id>")
def get_segment(segment_id: int):
    segment = find(Segment, segment_id, "segment")
    return jsonify(serialise.segment(segment, _count(segment)))


@bp.get("/segments/<int:segment_id>/members")
def segment_members(segment_id: int):
    segment = find(Segment, segment_id, "segment")
    fields = query(("sort",))
    page, per_page = page_args(fields)
    sort = fields.text("sort", "name")
    fields.done()
    members, _ = services.members_page(db.session, segment, page, per_page, sort)
    return jsonify(page_json(members, serialise.contact))
