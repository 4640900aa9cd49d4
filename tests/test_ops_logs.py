"""JSON logs carry the campaign and outbox ids of the message being sent; proxy headers."""

from __future__ import annotations

import io
import json
import logging

import pytest

from outreach.delivery.outbox import enqueue_campaign
from outreach.delivery.worker import run_worker
from outreach.ops.logs import delivery_context, make_handler
from tests.factories import make_contact
from tests.test_delivery_support import Sink, make_campaign, sending_to


@pytest.fixture
def json_log():
    """Records of the `outreach` loggers, as the JSON lines LOG_FORMAT=json writes."""
    stream = io.StringIO()
    handler = make_handler("json", stream)
    logger = logging.getLogger("outreach")
    saved = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    logger.removeHandler(handler)
    logger.setLevel(saved)


def test_json_line_has_level_logger_message_and_context(json_log):
    with delivery_context(campaign_id=7, outbox_id=42):
        logging.getLogger("outreach.test").warning("relay slow: %s", "4.4.1")
    logging.getLogger("outreach.test").info("outside")

    first, second = json_log()
    assert first["level"] == "WARNING"
    assert first["logger"] == "outreach.test"
    assert first["message"] == "relay slow: 4.4.1"
    assert (first["campaign_id"], first["outbox_id"]) == (7, 42)
    assert "time" in first and "pid" in first
    assert "campaign_id" not in second


def test_worker_logs_each_outcome_with_campaign_and_outbox_ids(app, db_session, json_log):
    make_contact(db_session, "ok@example.org")
    make_contact(db_session, "gone@example.org")
    campaign = make_campaign(db_session)
    db_session.commit()
    enqueue_campaign(db_session, campaign)
    db_session.commit()
    sink = Sink(rcpt_replies={"gone@example.org": ["550 5.1.1 No such user"]}).start()
    try:
        with sending_to(app, sink):
            run_worker(app, "log-worker", once=True)
    finally:
        sink.stop()

    outcomes = [r for r in json_log() if r["logger"] == "outreach.delivery.messages"]
    by_level = {r["level"]: r for r in outcomes}
    assert {r["campaign_id"] for r in outcomes} == {campaign.id}
    assert len({r["outbox_id"] for r in outcomes}) == 2
    failed = by_level["WARNING"]
    assert failed["smtp_code"] == 550
    assert "No such user" in failed["message"]
    assert by_level["DEBUG"]["message"].endswith("sent")


def test_proxy_fix_takes_the_client_address_from_x_forwarded_for():
    from flask import request

    from outreach import create_app

    app = create_app("testing", PROXY_FIX_X_FOR=1, PROXY_FIX_X_PROTO=1)

    @app.get("/ops-test/remote")
    def remote():
        return {"addr": request.remote_addr, "scheme": request.scheme}

    answer = app.test_client().get(
        "/ops-test/remote", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    )
    assert answer.get_json() == {"addr": "203.0.113.9", "scheme": "https"}


def test_without_proxy_settings_forwarded_headers_are_ignored():
    from flask import request

    from outreach import create_app

    app = create_app("testing")

    @app.get("/ops-test/remote")
    def remote():
        return {"addr": request.remote_addr}

    answer = app.test_client().get("/ops-test/remote", headers={"X-Forwarded-For": "203.0.113.9"})
    assert answer.get_json() == {"addr": "127.0.0.1"}


def test_log_format_json_replaces_the_root_handlers_once():
    from outreach.ops.logs import configure_logging

    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    try:
        configure_logging("json", "WARNING")
        configure_logging("json", "WARNING")
        assert len(root.handlers) == 1
        assert root.level == logging.WARNING
        stream = io.StringIO()
        root.handlers[0].setStream(stream)
        logging.getLogger("outreach.test").warning("as json")
        assert json.loads(stream.getvalue())["message"] == "as json"
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
