"""The SMTP transport: what each reply means, over a real server, with and without PIPELINING."""

from __future__ import annotations

import socket

import pytest

from outreach.delivery import transport as smtp
from outreach.delivery.message import BuiltMessage
from outreach.delivery.transport import SmtpTransport, classify, is_hard_bounce
from tests.test_delivery_support import Sink, sending_to

DATA = (
    b"Subject: hello\r\nFrom: news@example.org\r\nTo: x@example.org\r\n\r\n.leading dot\r\nbody\r\n"
)


def message(to: str = "x@example.org", smtputf8: bool = False) -> BuiltMessage:
    return BuiltMessage(DATA, "<m@mail.example.org>", "bounces+1@mail.example.org", to, smtputf8)


@pytest.mark.parametrize(
    ("code", "reply", "hard"),
    [
        (550, b"5.1.1 <x@example.org>: Recipient address rejected: User unknown", True),
        (550, b"Requested action not taken: mailbox unavailable", True),
        (551, b"User not local", True),
        (553, b"Mailbox name not allowed", True),
        (550, b"5.7.1 Message rejected as spam", False),
        (552, b"5.2.2 Mailbox full", False),
        (554, b"Transaction failed", False),
        (554, b"5.1.2 Bad destination system address", True),
    ],
)
def test_hard_bounces_are_replies_about_the_address(code, reply, hard):
    assert is_hard_bounce(code, reply) is hard


def test_replies_are_classified_by_code_and_step():
    assert classify(451, b"4.7.1 later", "rcpt").kind == smtp.TEMPORARY
    assert classify(421, b"4.3.2 shutting down", "rcpt").kind == smtp.UNAVAILABLE
    assert classify(550, b"5.7.1 not you", "mail").kind == smtp.BLOCKED
    refused = classify(550, b"5.1.1 no such user", "rcpt")
    assert (refused.kind, refused.code, refused.hard_bounce) == (smtp.PERMANENT, 550, True)
    assert refused.reply == "550 5.1.1 no such user"
    assert classify(554, b"5.6.0 content rejected", "data").kind == smtp.PERMANENT


@pytest.fixture(params=[False, True], ids=["one-command-at-a-time", "pipelining"])
def sink(request):
    server = Sink(pipelining=request.param).start()
    yield server
    server.stop()


def test_each_reply_on_one_kept_connection(app, sink):
    sink.rcpt_replies["later@example.org"] = ["451 4.7.1 Greylisted"]
    sink.rcpt_replies["gone@example.org"] = ["550 5.1.1 No such user"]
    with sending_to(app, sink), SmtpTransport() as transport:
        sent = transport.send(message())
        later = transport.send(message("later@example.org"))
        gone = transport.send(message("gone@example.org"))
        again = transport.send(message())
        assert transport.host.has_extn("pipelining") is sink.pipelining
        assert transport.connections_opened == 1

    assert (sent.kind, sent.code) == (smtp.SENT, 250)
    assert sent.reply == "250 2.0.0 Ok: queued as Q1"
    assert (later.kind, later.code, later.reply) == (smtp.TEMPORARY, 451, "451 4.7.1 Greylisted")
    assert (gone.kind, gone.hard_bounce) == (smtp.PERMANENT, True)
    assert again.kind == smtp.SENT
    assert [r.rcpt_tos for r in sink.received] == [["x@example.org"], ["x@example.org"]]
    assert sink.received[0].data.rstrip(b"\r\n") == DATA.rstrip(b"\r\n")  # dot-stuffing undone
    assert sink.received[0].mail_from == "bounces+1@mail.example.org"


def test_a_refused_sender_is_blocked_not_the_recipients_fault(app, sink):
    sink.mail_reply = "553 5.7.1 Sender address rejected"
    with sending_to(app, sink), SmtpTransport() as transport:
        outcome = transport.send(message())
    assert (outcome.kind, outcome.code) == (smtp.BLOCKED, 553)
    assert not outcome.hard_bounce
    assert sink.received == []


def test_reconnects_when_the_server_dropped_the_connection(app, sink):
    with sending_to(app, sink), SmtpTransport() as transport:
        assert transport.send(message()).kind == smtp.SENT
        transport.host.sock.shutdown(socket.SHUT_RDWR)  # as if the server had hung up
        assert transport.send(message()).kind == smtp.SENT
        assert transport.connections_opened == 2
    assert len(sink.received) == 2


def test_caps_the_messages_per_connection(app, sink):
    with sending_to(app, sink), SmtpTransport(max_per_connection=2) as transport:
        for _ in range(5):
            assert transport.send(message()).kind == smtp.SENT
        assert transport.connections_opened == 3


def test_no_server_is_unavailable(app):
    with sending_to(app, None), SmtpTransport() as transport:
        outcome = transport.send(message())
    assert outcome.kind == smtp.UNAVAILABLE
    assert outcome.reply.startswith("SMTP server unavailable: ConnectionRefusedError")


def test_smtputf8_only_where_offered(app):
    plain, modern = Sink().start(), Sink(smtputf8=True).start()
    try:
        with sending_to(app, plain), SmtpTransport() as transport:
            refused = transport.send(message("josé@example.org", smtputf8=True))
        with sending_to(app, modern), SmtpTransport() as transport:
            sent = transport.send(message("josé@example.org", smtputf8=True))
    finally:
        plain.stop()
        modern.stop()
    assert refused.kind == smtp.INVALID and "SMTPUTF8" in refused.reply
    assert sent.kind == smtp.SENT
    assert [r.rcpt_tos for r in modern.received] == [["josé@example.org"]]


def test_submitted_messages_get_their_outcomes_in_order(app, sink):
    sink.rcpt_replies["later@example.org"] = ["451 4.7.1 Greylisted"]
    sink.rcpt_replies["gone@example.org"] = ["550 5.1.1 No such user"]
    sink.data_replies["full@example.org"] = "452 4.3.1 Insufficient system storage"
    addresses = ["a@example.org", "later@example.org", "full@example.org", "gone@example.org"]
    addresses += ["b@example.org"]
    done = []
    with sending_to(app, sink), SmtpTransport() as transport:
        for address in addresses:
            done += transport.submit(message(address), address)
        if sink.pipelining:  # the last body's reply is still to be read
            assert [tag for tag, _ in done] == addresses[:-1]
        done += transport.flush()
        assert transport.flush() == []
        assert transport.connections_opened == 1

    outcomes = dict(done)
    assert [tag for tag, _ in done] == addresses
    assert outcomes["a@example.org"].reply == "250 2.0.0 Ok: queued as Q1"
    assert outcomes["later@example.org"].kind == smtp.TEMPORARY
    assert (outcomes["full@example.org"].kind, outcomes["full@example.org"].code) == (
        smtp.TEMPORARY,
        452,
    )
    assert (outcomes["gone@example.org"].kind, outcomes["gone@example.org"].hard_bounce) == (
        smtp.PERMANENT,
        True,
    )
    assert outcomes["b@example.org"].reply == "250 2.0.0 Ok: queued as Q2"
    assert [r.rcpt_tos for r in sink.received] == [["a@example.org"], ["b@example.org"]]
    assert all(r.data.rstrip(b"\r\n") == DATA.rstrip(b"\r\n") for r in sink.received)


def test_a_message_in_flight_on_a_dropped_connection_is_sent_again(app, sink):
    with sending_to(app, sink), SmtpTransport() as transport:
        first = transport.submit(message("a@example.org"), "a")
        transport.host.sock.shutdown(socket.SHUT_RDWR)  # as if the server had hung up
        second = transport.submit(message("b@example.org"), "b")
        done = first + second + transport.flush()
        assert transport.connections_opened == 2
    assert [(tag, outcome.kind) for tag, outcome in done] == [("a", smtp.SENT), ("b", smtp.SENT)]
    assert {"b@example.org"} <= {r.rcpt_tos[0] for r in sink.received}
    assert "a@example.org" in {r.rcpt_tos[0] for r in sink.received}


def test_submit_caps_the_messages_per_connection(app, sink):
    done = []
    with sending_to(app, sink), SmtpTransport(max_per_connection=2) as transport:
        for n in range(5):
            done += transport.submit(message(), n)
        done += transport.flush()
        assert transport.connections_opened == 3
    assert [(tag, outcome.kind) for tag, outcome in done] == [(n, smtp.SENT) for n in range(5)]
    assert len(sink.received) == 5
