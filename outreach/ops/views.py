"""`/healthz`, `/readyz` and `/metrics`: for load balancers, orchestrators and Prometheus.

No login, no session cookie, no rate limit. `/metrics` is meant to be reachable from the monitoring
network only (see docs/operations.md); METRICS_ENABLED=0 turns it off.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify

from outreach.extensions import db, limiter
from outreach.ops import health, metrics

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """The process is up and serving requests (nothing else is checked)."""
    return jsonify(status="ok")


@bp.get("/readyz")
@limiter.exempt
def readyz():
    """200 when the database and the SMTP relay answer, 503 with what failed otherwise."""
    config = current_app.config
    checks = [health.check_database(db.session)]
    if config["READYZ_CHECK_SMTP"]:
        checks.append(health.check_smtp(config, config["READYZ_TIMEOUT"]))
    ready = all(check.ok for check in checks)
    body = {
        "status": "ready" if ready else "unavailable",
        "checks": {check.name: check.as_dict() for check in checks},
    }
    response = jsonify(body)
    response.status_code = 200 if ready else 503
    response.cache_control.no_store = True
    return response


@bp.get("/metrics")
@limiter.exempt
def prometheus_metrics():
    if not current_app.config["METRICS_ENABLED"]:
        abort(404)
    return Response(metrics.exposition(db.session), content_type=metrics.CONTENT_TYPE_LATEST)
