"""The worker against a real SMTP server on loopback: what recipients get and what rows say."""

from __future__ import annotations

import threading
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from outreach.campaigns import lifecycle
from outreach.campaigns.models import Campaign
from outreach.core import tokens
from outreach.core.database import utcnow
from outreach.delivery.models import OutboxMessage, WorkerHeartbeat
from outreach.delivery.outbox import claim_batch, enqueue_campaign
from outreach.delivery.worker import Worker, run_worker
from outreach.extensions import db
from outreach.subscriptions.models import Suppression
from outreach.subscriptions.services import UNSUBSCRIBE, RequestMeta, erase_contact, suppress
from tests.factories import make_contact
from tests.test_delivery_support import Sink, make_campaign, outbox_rows, sending_to, statuses

VARIANTS = {
    "en": ("UPR newsletter for {{ contact.first_name }}", "Dear {{ contact.full_name }},\n\nNews."),
    "fr": (
        "Lettre d'information : l'Examen périodique universel",
        "Chère {{ contact.first_name }},\n\nLes nouvelles de la session.",
    ),
    "es": ("Boletín del EPU", "Estimado {{ contact.first_name }}:\n\nNoticias."),
}


@pytest.fixture(params=[False, True], ids=["one-command-at-a-time", "pipelining"])
def sink(request):
    server = Sink(pipelining=request.param).start()
    yield server
    server.stop()


def people(session):
    return [
        make_contact(session, "ann@example.org", first_name="Ann", last_name="Lee"),
        make_contact(
            session, "eloise@example.org", first_name="Éloïse", last_name="Müller", language="fr"
        ),
        make_contact(
            session, "jose@example.org", first_name="José", last_name="Pérez", language="es"
        ),
    ]


def start(session, campaign: Campaign) -> int:
    session.commit()
    enqueue_campaign(session, campaign)
    return campaign.id


def campaign_of(session, campaign_id: int) -> Campaign:
    session.expire_all()
    return session.get(Campaign, campaign_id)


def parsed(received):
    return message_from_bytes(received.data, policy=policy.default)


def test_a_campaign_is_delivered_once_per_recipient_in_their_language(app, db_session, sink):
    contacts = people(db_session)
    campaign_id = start(db_session, make_campaign(db_session, variants=VARIANTS))

    with sending_to(app, sink):
        stats = run_worker(app, "w1", once=True)

    assert stats.sent == 3
    assert sorted(r for m in sink.received for r in m.rcpt_tos) == sorted(c.email for c in contacts)
    rows = {row.email: row for row in outbox_rows(db_session, campaign_id)}
    by_address = {m.rcpt_tos[0]: m for m in sink.received}
    expected = {
        "ann@example.org": ("UPR newsletter for Ann", "Dear Ann Lee,", "Ann Lee"),
        "eloise@example.org": (VARIANTS["fr"][0], "Chère Éloïse,", "Éloïse Müller"),
        "jose@example.org": ("Boletín del EPU", "Estimado José:", "José Pérez"),
    }
    for contact in contacts:
        received = by_address[contact.email]
        message = parsed(received)
        subject, greeting, name = expected[contact.email]
        row = rows[contact.email]
        assert message["Subject"] == subject
        assert message["To"].addresses[0].display_name == name
        assert message["Content-Language"] == contact.language
        parts = list(message.iter_parts())
        assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
        assert greeting in parts[0].get_content()
        assert greeting.replace("'", "&#39;") in parts[1].get_content()
        # Bulk-mail headers.
        assert message["Message-ID"] == row.message_id
        assert row.message_id.endswith("@mail.example.org>")
        unsubscribe = str(message["List-Unsubscribe"])
        https, mailto = (part.strip(" <>") for part in unsubscribe.split(","))
        token = https.rsplit("/", 1)[1]
        assert https == f"https://outreach.example.org/u/{token}"
        assert mailto == f"mailto:unsubscribe@mail.example.org?subject={token}"
        assert tokens.verify(UNSUBSCRIBE, token)["c"] == contact.id
        assert token in parts[0].get_content()  # the footer links to the same page
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Id"].endswith("<newsletter.lists.mail.example.org>")
        assert received.mail_from == f"bounces+{row.id}@mail.example.org"
        assert (row.status, row.attempts, row.smtp_code) == ("sent", 1, 250)
        assert row.smtp_reply.startswith("250 2.0.0 Ok: queued as Q")
        assert row.sent_at is not None
    db_session.expire_all()
    assert campaign_of(db_session, campaign_id).status == "sent"
    beat = db_session.get(WorkerHeartbeat, "w1")
    assert beat.sent_total == 3 and beat.role == "worker"


def test_suppression_is_checked_at_send_time(app, db_session, sink):
    ann, eloise, jose = people(db_session)
    campaign_id = start(db_session, make_campaign(db_session, variants=VARIANTS))
    # After the audience was computed: one unsubscribes, one is erased.
    suppress(db_session, eloise.email, "unsubscribed")
    erase_contact(db_session, jose, RequestMeta(source="staff"))
    db_session.commit()
    make_contact(db_session, "late@example.org")  # not in the outbox: never sent
    db_session.commit()

    with sending_to(app, sink):
        stats = run_worker(app, "w1", once=True)

    assert [m.rcpt_tos for m in sink.received] == [["ann@example.org"]]
    assert stats.skipped == 1
    rows = outbox_rows(db_session, campaign_id)
    assert [(r.email, r.status, r.smtp_reply) for r in rows] == [
        ("ann@example.org", "sent", rows[0].smtp_reply),
        ("eloise@example.org", "skipped", "suppressed (unsubscribed)"),
        ("", "skipped", "contact erased"),
    ]
    assert campaign_of(db_session, campaign_id).status == "sent"


def test_a_contact_erased_while_its_message_is_claimed_is_not_sent(app, db_session, sink):
    ann, eloise, jose = people(db_session)
    campaign_id = start(db_session, make_campaign(db_session, variants=VARIANTS))
    rows = claim_batch(db_session, "w1", 10)
    erase_contact(db_session, jose, RequestMeta(source="staff"))
    db_session.commit()

    with sending_to(app, sink):
        worker = Worker(app, "w1")
        worker.process_batch(rows)
        worker.transport.close()

    assert sorted(m.rcpt_tos[0] for m in sink.received) == ["ann@example.org", "eloise@example.org"]
    erased = outbox_rows(db_session, campaign_id)[2]
    assert (erased.email, erased.status, erased.smtp_reply) == (
        "",
        "skipped",
        "suppressed (erased)",
    )


def test_a_contact_no_longer_mailable_is_skipped(app, db_session, sink):
    ann, eloise, _ = people(db_session)
    campaign_id = start(db_session, make_campaign(db_session, variants=VARIANTS))
    eloise.status = "inactive"
    db_session.commit()

    with sending_to(app, sink):
        run_worker(app, "w1", once=True)

    assert statuses(db_session, campaign_id)["eloise@example.org"] == "skipped"
    assert statuses(db_session, campaign_id)["ann@example.org"] == "sent"


def test_451_is_retried_with_backoff_then_delivered(app, db_session, sink):
    people(db_session)
    campaign_id = start(db_session, make_campaign(db_session, variants=VARIANTS))
    sink.rcpt_replies["eloise@example.org"] = ["451 4.7.1 Greylisted, try later", "250 OK"]

    with sending_to(app, sink, DELIVERY_RETRY_BASE_SECONDS=60):
        stats = run_worker(app, "w1", once=True)
    row = {r.email: r for r in outbox_rows(db_session, campaign_id)}["eloise@example.org"]
    assert (row.status, row.attempts, row.smtp_code) == ("queued", 1, 451)
    assert row.smtp_reply == "451 4.7.1 Greylisted, try later"
    assert 55 <= (row.next_attempt_at - row.updated_at).total_seconds() <= 61
    assert stats.retrying == 1
    assert campaign_of(db_session, campaign_id).status == "sending"

    with sending_to(app, sink):  # retry base 0: the retry is due at once
        row.next_attempt_at = row.updated_at
        db_session.commit()
        run_worker(app, "w1", once=True)
    row = {r.email: r for r in outbox_rows(db_session, campaign_id)}["eloise@example.org"]
    assert (row.status, row.attempts, row.smtp_code) == ("sent", 2, 250)
    assert sink.rcpt_seen.count("eloise@example.org") == 2
    assert len(sink.to("eloise@example.org")) == 1
    assert campaign_of(db_session, campaign_id).status == "sent"


def test_4xx_gives_up_after_the_maximum_attempts(app, db_session, sink):
    people(db_session)
    campaign_id = start(db_session, make_campaign(db_session, variants=VARIANTS))
    sink.rcpt_replies["jose@example.org"] = ["452 4.2.2 Mailbox full"]

    with sending_to(app, sink, DELIVERY_MAX_ATTEMPTS=3):
        run_worker(app, "w1", once=True)

    row = {r.email: r for r in outbox_rows(db_session, campaign_id)}["jose@example.org"]
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.smtp_reply == "gave up after 3 attempts: 452 4.2.2 Mailbox full"
    assert sink.rcpt_seen.count("jose@example.org") == 3
    assert db_session.scalar(select(Suppression)) is None


def test_550_fails_the_row_suppresses_the_address_and_is_never_retried(app, db_session, sink):
    people(db_session)
    campaign_id = start(db_session, make_campaign(db_session, variants=VARIANTS))
    sink.rcpt_replies["ann@example.org"] = ["550 5.1.1 <ann@example.org>: User unknown"]
    sink.rcpt_replies["jose@example.org"] = ["550 5.7.1 Message refused by policy"]

    with sending_to(app, sink):
        stats = run_worker(app, "w1", once=True)

    rows = {r.email: r for r in outbox_rows(db_session, campaign_id)}
    assert (rows["ann@example.org"].status, rows["ann@example.org"].smtp_code) == ("failed", 550)
    assert "User unknown" in rows["ann@example.org"].smtp_reply
    assert rows["jose@example.org"].status == "failed"
    assert stats.failed == 2 and stats.sent == 1
    suppressed = {s.email: s.reason for s in db_session.scalars(select(Suppression))}
    assert suppressed == {"ann@example.org": "hard_bounce"}  # a policy block is not a bounce
    assert sink.rcpt_seen.count("ann@example.org") == 1
    assert campaign_of(db_session, campaign_id).status == "sent"


def test_server_down_the_campaign_waits_then_resumes_by_itself(app, db_session):
    people(db_session)
    campaign_id = start(db_session, make_campaign(db_session, variants=VARIANTS))
    sink = Sink()

    with sending_to(app, None, MAIL_PORT=sink.port):  # nothing listens yet
        stats = run_worker(app, "w1", once=True)
    assert stats.server_unavailable and stats.sent == 0
    rows = outbox_rows(db_session, campaign_id)
    assert {(r.status, r.attempts, r.claimed_by) for r in rows} == {("queued", 0, None)}
    assert "unavailable" in rows[0].smtp_reply
    assert campaign_of(db_session, campaign_id).status == "sending"

    sink.start()
    try:
        with sending_to(app, sink):
            stats = run_worker(app, "w1", once=True)
    finally:
        sink.stop()
    assert stats.sent == 3
    assert set(statuses(db_session, campaign_id).values()) == {"sent"}
    assert len(sink.received) == 3


def test_a_long_running_worker_waits_for_the_server_and_carries_on(app, db_session):
    people(db_session)
    campaign_id = start(db_session, make_campaign(db_session, variants=VARIANTS))
    sink = Sink()
    stop = threading.Event()
    with sending_to(app, None, MAIL_PORT=sink.port):
        thread = threading.Thread(target=run_worker, args=(app, "w-long"), kwargs={"stop": stop})
        thread.start()
        try:
            threading.Event().wait(0.5)
            assert sink.received == []
            sink.start()
            sink.wait_for(3, timeout=15)
        finally:
            stop.set()
            thread.join(15)
            sink.stop()
    assert not thread.is_alive()
    assert len(sink.received) == 3
    assert set(statuses(db_session, campaign_id).values()) == {"sent"}


def test_too_many_refusals_in_a_row_pause_the_campaign_with_the_reason(app, db_session, sink):
    for i in range(6):
        make_contact(db_session, f"p{i}@example.org")
    campaign_id = start(db_session, make_campaign(db_session, variants=VARIANTS))
    sink.default_rcpt = "554 5.7.1 Service refused: your IP is listed"

    with sending_to(app, sink, DELIVERY_MAX_CONSECUTIVE_ERRORS=3):
        stats = run_worker(app, "w1", once=True)

    campaign = campaign_of(db_session, campaign_id)
    assert campaign.status == "paused"
    assert "refused 3 messages in a row" in campaign.status_reason
    assert "554 5.7.1 Service refused" in campaign.status_reason
    assert stats.paused_campaigns == [campaign_id]
    counts = list(statuses(db_session, campaign_id).values())
    assert counts.count("failed") == 3 and counts.count("queued") == 3
    assert db_session.scalar(select(Suppression)) is None

    # Staff fix the problem and resume: the rest goes out.
    sink.default_rcpt = "250 OK"
    lifecycle.resume(db_session, campaign)
    db_session.commit()
    with sending_to(app, sink):
        run_worker(app, "w1", once=True)
    assert list(statuses(db_session, campaign_id).values()).count("sent") == 3
    assert campaign_of(db_session, campaign_id).status == "sent"


def test_a_refused_sender_keeps_rows_queued_and_pauses(app, db_session, sink):
    people(db_session)
    campaign_id = start(db_session, make_campaign(db_session, variants=VARIANTS))
    sink.mail_reply = "553 5.7.1 Sender address rejected: not owned by you"

    with sending_to(app, sink, DELIVERY_MAX_CONSECUTIVE_ERRORS=2):
        run_worker(app, "w1", once=True)

    campaign = campaign_of(db_session, campaign_id)
    assert campaign.status == "paused"
    assert "Sender address rejected" in campaign.status_reason
    assert set(statuses(db_session, campaign_id).values()) == {"queued"}
    assert {r.attempts for r in outbox_rows(db_session, campaign_id)} == {0}


def test_internationalised_addresses(app, db_session):
    make_contact(db_session, "jose@exämple.org", first_name="José")
    make_contact(db_session, "josé@exämple.org", first_name="José")
    campaign_id = start(db_session, make_campaign(db_session, variants=VARIANTS))

    plain = Sink().start()
    try:
        with sending_to(app, plain):
            run_worker(app, "w1", once=True)
    finally:
        plain.stop()
    rows = {r.email: r for r in outbox_rows(db_session, campaign_id)}
    assert [m.rcpt_tos for m in plain.received] == [["jose@xn--exmple-cua.org"]]
    unicode_row = rows["josé@exämple.org"]
    assert unicode_row.status == "failed"
    assert "does not offer SMTPUTF8" in unicode_row.smtp_reply


def test_non_ascii_local_part_goes_to_a_server_offering_smtputf8(app, db_session):
    make_contact(db_session, "josé@exämple.org", first_name="José")
    campaign_id = start(db_session, make_campaign(db_session, variants=VARIANTS))
    server = Sink(smtputf8=True).start()
    try:
        with sending_to(app, server):
            run_worker(app, "w1", once=True)
    finally:
        server.stop()
    assert [m.rcpt_tos for m in server.received] == [["josé@xn--exmple-cua.org"]]
    assert set(statuses(db_session, campaign_id).values()) == {"sent"}


def test_stop_finishes_the_current_message_and_releases_the_rest(app, db_session, sink):
    for i in range(5):
        make_contact(db_session, f"p{i}@example.org")
    campaign_id = start(db_session, make_campaign(db_session, variants=VARIANTS))
    with sending_to(app, sink):
        stop = threading.Event()
        worker = Worker(app, "w1", stop=stop)
        original = worker.transport.submit

        def send_then_stop(message, tag):
            done = original(message, tag)
            stop.set()  # as SIGTERM would, while a message is being sent
            return done

        worker.transport.submit = send_then_stop
        worker.process_batch(claim_batch(db.session, "w1", 10))
        worker.transport.close()
        db.session.remove()

    counts = list(statuses(db_session, campaign_id).values())
    assert counts.count("sent") == 1 and counts.count("queued") == 4
    assert len(sink.received) == 1
    assert {r.claimed_by for r in outbox_rows(db_session, campaign_id) if r.status == "queued"} == {
        None
    }


def test_paused_campaign_is_not_sent_and_cancelled_rows_are_skipped(app, db_session, sink):
    people(db_session)
    campaign_id = start(db_session, make_campaign(db_session, variants=VARIANTS))
    campaign = campaign_of(db_session, campaign_id)
    lifecycle.pause(db_session, campaign)
    db_session.commit()
    with sending_to(app, sink):
        stats = run_worker(app, "w1", once=True)
    assert stats.sent == 0 and sink.received == []
    lifecycle.cancel(db_session, campaign)
    db_session.commit()
    assert set(statuses(db_session, campaign_id).values()) == {"skipped"}


def test_mail_suppressed_setting_records_without_sending(app, db_session):
    people(db_session)
    campaign_id = start(db_session, make_campaign(db_session, variants=VARIANTS))
    with sending_to(app, None, MAIL_SUPPRESS_SEND=True):
        run_worker(app, "w1", once=True)
    rows = outbox_rows(db_session, campaign_id)
    assert {r.status for r in rows} == {"sent"}
    assert {r.smtp_reply for r in rows} == {"not sent: MAIL_SUPPRESS_SEND is on"}


def test_a_campaign_that_cannot_render_fails_with_the_reason(app, db_session, sink):
    people(db_session)
    # Validation refuses this when the draft is saved; the engine must not trust that.
    campaign = make_campaign(db_session, variants={"en": ("Hi", "{% if contact.first_name %}Hi")})
    campaign_id = start(db_session, campaign)
    with sending_to(app, sink):
        run_worker(app, "w1", once=True)
    campaign = campaign_of(db_session, campaign_id)
    assert campaign.status == "failed"
    assert campaign.status_reason.startswith("Could not prepare the messages")
    assert set(statuses(db_session, campaign_id).values()) == {"skipped"}
    assert sink.received == []


def test_a_message_that_cannot_render_fails_its_row(app, db_session, sink):
    people(db_session)
    campaign = make_campaign(db_session, variants={"en": ("Hi", "Dear {{ contact.nickname }}")})
    campaign_id = start(db_session, campaign)
    with sending_to(app, sink):
        run_worker(app, "w1", once=True)
    rows = outbox_rows(db_session, campaign_id)
    assert {r.status for r in rows} == {"failed"}
    assert all(r.smtp_reply.startswith("could not render:") for r in rows)
    assert "nickname" in rows[0].smtp_reply
    assert sink.received == []


def test_other_kinds_of_message_go_through_a_registered_sender(app, db_session, sink, monkeypatch):
    from outreach.campaigns.rendering import Rendered
    from outreach.delivery import worker as worker_module
    from outreach.delivery.message import CampaignHeaders, MessageFactory
    from outreach.delivery.models import OutboxMessage

    ann, eloise, jose = people(db_session)
    for contact, kind in ((ann, "notice"), (eloise, "digest"), (jose, "notice")):
        db_session.add(
            OutboxMessage(
                kind=kind,
                contact_id=contact.id,
                email=contact.email,
                language=contact.language,
                payload={"week": "2026-W48"},
            )
        )
    db_session.commit()

    class NoticeSender:
        topic = None

        def __init__(self, session, flask_app):
            headers = CampaignHeaders("UPR Info", "alerts@example.org")
            self.factory = MessageFactory(headers, flask_app.config)

        def render(self, row, recipient, *, unsubscribe_url, preferences_url):
            if recipient.first_name == "José":
                raise worker_module.SkipMessage("nothing to tell José this week")
            return Rendered(
                row.language,
                f"Notice for {recipient.first_name}",
                f"<p>{row.payload['week']}</p>",
                f"{row.payload['week']}\n{unsubscribe_url}",
            )

    monkeypatch.setattr(worker_module, "SENDER_FACTORIES", {})  # only ours: digest has none
    worker_module.register_sender("notice", NoticeSender)
    with sending_to(app, sink):
        run_worker(app, "w1", once=True)

    assert [m.rcpt_tos for m in sink.received] == [["ann@example.org"]]
    message = parsed(sink.received[0])
    assert message["Subject"] == "Notice for Ann"
    assert "2026-W48" in message.get_body(("plain",)).get_content()
    rows = {row.email: row for row in outbox_rows(db_session)}
    assert rows["ann@example.org"].status == "sent"
    assert (rows["eloise@example.org"].status, rows["eloise@example.org"].smtp_reply) == (
        "skipped",
        "no sender for 'digest' messages",
    )
    assert (rows["jose@example.org"].status, rows["jose@example.org"].smtp_reply) == (
        "skipped",
        "nothing to tell José this week",
    )


def test_an_unexpected_error_keeps_what_was_already_sent(app, db_session, sink, monkeypatch):
    """A message that blows up (here: a broken build step) is retried later; the messages sent
    before it in the batch are recorded as sent, not sent again."""
    from outreach.delivery.message import MessageFactory

    people(db_session)
    campaign_id = start(db_session, make_campaign(db_session, variants=VARIANTS))
    real_build = MessageFactory.build
    calls = {"n": 0}

    def build(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("DKIM key unreadable")
        return real_build(self, *args, **kwargs)

    monkeypatch.setattr(MessageFactory, "build", build)
    with sending_to(app, sink):
        Worker(app, "w1").process_batch(claim_batch(db.session, "w1", 10))
    rows = outbox_rows(db_session, campaign_id)
    assert sorted(row.status for row in rows) == ["queued", "sent", "sent"]
    broken = next(row for row in rows if row.status == "queued")
    assert "DKIM key unreadable" in broken.smtp_reply
    assert len(sink.received) == 2


def test_a_long_batch_renews_its_claim(app, db_session, sink, monkeypatch):
    """While a worker is slow (throttled, tarpitted), its claim stays fresh: no other worker
    may take its rows after the lease."""
    people(db_session)
    campaign_id = start(db_session, make_campaign(db_session, variants=VARIANTS))
    rows = claim_batch(db.session, "w1", 10)
    db_session.execute(
        OutboxMessage.__table__.update().values(claimed_at=utcnow() - timedelta(hours=1))
    )
    db_session.commit()
    worker = Worker(app, "w1")
    worker.claim_renewed -= worker.lease  # as if the batch had been running for a long time
    worker._keep_claim()
    fresh = [row.claimed_at for row in outbox_rows(db_session, campaign_id)]
    assert all(utcnow() - at < timedelta(minutes=1) for at in fresh)
    assert len(rows) == 3
