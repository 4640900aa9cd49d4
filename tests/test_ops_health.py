"""`/healthz` and `/readyz`: what a load balancer or an orchestrator sees."""

from __future__ import annotations

from tests.conftest import free_port
from tests.test_delivery_support import settings


def test_healthz_answers_without_login_or_cookie(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert "Set-Cookie" not in response.headers


def test_readyz_is_ready_when_database_and_smtp_answer(app, client, smtp_server):
    with settings(app, MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port):
        response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready"
    assert body["checks"] == {"database": {"ok": True}, "smtp": {"ok": True}}
    assert "no-store" in response.headers["Cache-Control"]


def test_readyz_is_503_json_naming_the_unreachable_smtp_relay(app, client):
    port = free_port()  # nothing listens there
    with settings(app, MAIL_SERVER="127.0.0.1", MAIL_PORT=port):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["smtp"]["ok"] is False
    assert f"127.0.0.1:{port}" in body["checks"]["smtp"]["error"]


def test_readyz_can_leave_smtp_out(app, client):
    with settings(app, MAIL_PORT=free_port(), READYZ_CHECK_SMTP=False):
        response = client.get("/readyz")
    assert response.status_code == 200
    assert list(response.get_json()["checks"]) == ["database"]


def test_readyz_is_503_when_the_database_is_unreachable(app, client, monkeypatch):
    from outreach.ops import health

    def broken(session):
        return health.Check("database", False, "OperationalError: connection refused")

    monkeypatch.setattr(health, "check_database", broken)
    with settings(app, READYZ_CHECK_SMTP=False):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"]["error"].startswith("OperationalError")


def test_database_check_reports_a_failing_query(app, db_session, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from outreach.ops.health import check_database

    def fail(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(db_session, "execute", fail)
    check = check_database(db_session)
    assert check.ok is False
    assert "server closed the connection" in check.detail
