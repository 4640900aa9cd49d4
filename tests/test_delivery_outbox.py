"""The outbox: idempotent, resumable enqueueing; claims; outcomes; stale claims; start races."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, text, update

from outreach.campaigns import lifecycle
from outreach.campaigns.models import Campaign
from outreach.core.database import is_postgresql, utcnow
from outreach.delivery import outbox
from outreach.delivery.models import OutboxMessage
from outreach.delivery.scheduler import start_due_campaigns
from outreach.extensions import db
from outreach.subscriptions.services import suppress
from tests.factories import make_contact
from tests.test_delivery_support import make_campaign, outbox_rows


def contacts(session, count: int, **kwargs):
    return [make_contact(session, f"person{i}@example.org", **kwargs) for i in range(count)]


def count_rows(session, campaign_id: int) -> int:
    return session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.campaign_id == campaign_id)
    )


def test_enqueue_creates_one_row_per_recipient_in_batches(db_session):
    people = contacts(db_session, 7)
    people[1].language = "fr"
    make_contact(db_session, "gone@example.org", status="inactive")
    suppress(db_session, "person3@example.org", "unsubscribed")
    campaign = make_campaign(db_session)
    db_session.commit()

    inserted = outbox.enqueue_campaign(db_session, campaign, batch_size=2)

    rows = outbox_rows(db_session, campaign.id)
    assert inserted == 6
    assert [r.email for r in rows] == [p.email for p in people if p.email != "person3@example.org"]
    assert {r.status for r in rows} == {"queued"}
    assert rows[1].language == "fr"
    assert campaign.enqueued_at is not None


def test_enqueue_is_idempotent_and_resumes_after_a_crash(db_session):
    contacts(db_session, 5)
    campaign = make_campaign(db_session)
    db_session.commit()
    # A crash after the first batch: rows for the first two contacts exist, enqueued_at is unset.
    first = outbox._insert_batch(db_session, campaign, 0, 2, utcnow())
    db_session.commit()
    assert first == 2 and campaign.enqueued_at is None

    assert outbox.enqueue_campaign(db_session, campaign, batch_size=2) == 3
    assert outbox.enqueue_campaign(db_session, campaign, batch_size=2) == 0
    # Even replaying from the start inserts nothing twice.
    assert outbox._insert_batch(db_session, campaign, 0, 100, utcnow()) == 0
    db_session.commit()
    assert count_rows(db_session, campaign.id) == 5


def test_enqueue_stops_when_the_campaign_is_cancelled(db_session):
    contacts(db_session, 3)
    campaign = make_campaign(db_session, status="cancelled")
    db_session.commit()
    assert outbox.enqueue_campaign(db_session, campaign) == 0
    assert campaign.enqueued_at is None


def test_campaign_without_segments_enqueues_nothing_and_is_done(db_session):
    contacts(db_session, 2)
    campaign = make_campaign(db_session)
    campaign.segments = []
    db_session.commit()
    assert outbox.enqueue_campaign(db_session, campaign) == 0
    assert campaign.enqueued_at is not None
    assert lifecycle.finish_if_done(db_session, campaign.id)


def test_claim_takes_due_rows_of_sending_campaigns_only(db_session):
    contacts(db_session, 5)
    sending = make_campaign(db_session)
    paused = make_campaign(db_session, status="paused")
    db_session.commit()
    outbox.enqueue_campaign(db_session, sending)
    outbox.enqueue_campaign(db_session, paused)
    later = outbox_rows(db_session, sending.id)[4]
    later.next_attempt_at = utcnow() + timedelta(minutes=5)
    db_session.commit()

    first = outbox.claim_batch(db_session, "w1", 3)
    second = outbox.claim_batch(db_session, "w2", 10)

    assert [r.id for r in first] == sorted(r.id for r in first)
    assert len(first) == 3 and len(second) == 1
    assert {r.campaign_id for r in first + second} == {sending.id}
    assert later.id not in {r.id for r in first + second}
    rows = {r.id: r for r in outbox_rows(db_session, sending.id)}
    assert {rows[r.id].claimed_by for r in first} == {"w1"}
    assert rows[second[0].id].status == "sending"
    assert outbox.claim_batch(db_session, "w3", 10) == []


def test_concurrent_claims_never_share_a_row(app, db_session):
    contacts(db_session, 40)
    campaign = make_campaign(db_session)
    db_session.commit()
    outbox.enqueue_campaign(db_session, campaign)
    claimed: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def claimer(name: str) -> None:
        with app.app_context():
            barrier.wait()
            ids: list[int] = []
            while rows := outbox.claim_batch(db.session, name, 3):
                ids += [row.id for row in rows]
            claimed[name] = ids

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    every = [row_id for ids in claimed.values() for row_id in ids]
    assert len(every) == 40
    assert len(set(every)) == 40


def test_record_outcomes_in_one_go_and_leave_final_rows_alone(db_session):
    contacts(db_session, 3)
    campaign = make_campaign(db_session)
    db_session.commit()
    outbox.enqueue_campaign(db_session, campaign)
    a, b, c = outbox.claim_batch(db_session, "w1", 3)
    now = utcnow()
    db_session.execute(
        update(OutboxMessage).where(OutboxMessage.id == c.id).values(status="skipped")
    )
    db_session.commit()

    outbox.record_outcomes(
        db_session,
        [
            outbox.RowOutcome(
                a.id,
                "sent",
                1,
                sent_at=now,
                smtp_code=250,
                smtp_reply="250 ok",
                message_id="<m1@mail.example.org>",
            ),
            outbox.RowOutcome(
                b.id,
                "queued",
                1,
                next_attempt_at=now + timedelta(seconds=60),
                smtp_code=451,
                smtp_reply="451 later",
            ),
            outbox.RowOutcome(c.id, "sent", 1, sent_at=now),
        ],
    )
    db_session.commit()

    rows = {r.id: r for r in outbox_rows(db_session, campaign.id)}
    assert (rows[a.id].status, rows[a.id].smtp_code, rows[a.id].message_id) == (
        "sent",
        250,
        "<m1@mail.example.org>",
    )
    assert rows[a.id].claimed_by == "w1" and rows[a.id].sent_at is not None
    assert (rows[b.id].status, rows[b.id].attempts, rows[b.id].claimed_by) == ("queued", 1, None)
    assert rows[b.id].next_attempt_at > now + timedelta(seconds=59)
    assert rows[c.id].status == "skipped"


def test_stale_claims_are_queued_again(db_session):
    contacts(db_session, 4)
    campaign = make_campaign(db_session)
    db_session.commit()
    outbox.enqueue_campaign(db_session, campaign, now=utcnow() - timedelta(hours=1))
    old = outbox.claim_batch(db_session, "dead", 2, now=utcnow() - timedelta(minutes=10))
    assert len(old) == 2
    fresh = outbox.claim_batch(db_session, "alive", 2)

    assert outbox.requeue_stale(db_session, lease_seconds=300) == 2

    rows = {r.id: r for r in outbox_rows(db_session, campaign.id)}
    assert {rows[r.id].status for r in old} == {"queued"}
    assert {rows[r.id].claimed_by for r in old} == {None}
    assert {rows[r.id].status for r in fresh} == {"sending"}
    assert {r.id for r in outbox.claim_batch(db_session, "new", 10)} == {r.id for r in old}


def test_queued_rows_of_a_cancelled_campaign_are_skipped(db_session):
    contacts(db_session, 2)
    campaign = make_campaign(db_session)
    db_session.commit()
    outbox.enqueue_campaign(db_session, campaign)
    outbox.claim_batch(db_session, "w", 1)
    campaign.status = "paused"
    db_session.commit()
    lifecycle.cancel(db_session, campaign)
    db_session.commit()
    outbox.requeue_stale(db_session, lease_seconds=0, now=utcnow() + timedelta(seconds=1))

    assert outbox.skip_closed(db_session) == 1
    assert outbox.status_counts(db_session, campaign.id)["skipped"] == 2


def test_two_claim_start_callers_one_wins(app, db_session):
    contacts(db_session, 3)
    campaign_id = make_campaign(db_session, status="scheduled", scheduled_at=utcnow()).id
    db_session.commit()
    results: list[bool] = []
    barrier = threading.Barrier(2)

    def starter() -> None:
        with app.app_context():
            barrier.wait()
            won = lifecycle.claim_start(db.session, campaign_id)
            db.session.commit()
            results.append(won)

    threads = [threading.Thread(target=starter) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [False, True]


def test_two_schedulers_starting_at_once_enqueue_each_recipient_once(app, db_session):
    contacts(db_session, 30)
    campaign_id = make_campaign(db_session, status="scheduled", scheduled_at=utcnow()).id
    db_session.commit()
    started: list[list[int]] = []
    barrier = threading.Barrier(2)

    def scheduler() -> None:
        with app.app_context():
            barrier.wait()
            started.append(start_due_campaigns(db.session))

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(started) == [[], [campaign_id]]
    db_session.expire_all()
    assert count_rows(db_session, campaign_id) == 30
    assert db_session.get(Campaign, campaign_id).status == "sending"


def test_only_the_claim_skips_waiting_for_the_wal_flush(db_session):
    if not is_postgresql(db_session.get_bind()):
        pytest.skip("synchronous_commit is a PostgreSQL setting")
    contacts(db_session, 2)
    campaign = make_campaign(db_session)
    db_session.commit()
    outbox.enqueue_campaign(db_session, campaign)
    statements = []
    engine = db_session.get_bind()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert len(outbox.claim_batch(db_session, "w1", 2)) == 2
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert statements[0] == "SET LOCAL synchronous_commit = off"
    assert db_session.scalar(text("SHOW synchronous_commit")) == "on"
