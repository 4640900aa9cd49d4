"""The OpenAPI document and a browsable page rendering it (served locally, no CDN)."""

from __future__ import annotations

from flask import jsonify, render_template

from outreach.api.blueprint import bp, public
from outreach.api.openapi import document


@bp.get("/openapi.json")
@public
def openapi_json():
    return jsonify(document())


@bp.get("/docs")
@public
def docs():
    return render_template("api/docs.html")
