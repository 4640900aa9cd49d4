"""A/B subject tests: held rows, split sizes, the winner with a frozen clock, the subjects sent."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from outreach.campaigns import lifecycle
from outreach.campaigns.models import Campaign
from outreach.core.errors import ServiceError
from outreach.delivery.models import OutboxMessage
from outreach.delivery.outbox import enqueue_campaign
from outreach.delivery.worker import run_worker
from outreach.engagement import subject_tests
from outreach.engagement.models import CampaignLink, Click, SubjectTest
from tests.factories import make_contact
from tests.test_delivery_support import Sink, make_campaign, outbox_rows, sending_to

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
VARIANTS = {"en": ("Plain news", "Hello"), "fr": ("Nouvelles", "Bonjour")}


def campaign_with_test(db_session, *, english=50, french=10, auto_pick=True, share=20):
    for n in range(english):
        make_contact(db_session, f"en{n:03d}@example.org", first_name=f"E{n}")
    for n in range(french):
        make_contact(db_session, f"fr{n:03d}@example.org", language="fr")
    campaign = make_campaign(db_session, variants=VARIANTS)
    db_session.add(
        SubjectTest(
            campaign_id=campaign.id,
            subjects={"en": ["Subject A for {{ contact.first_name }}", "Subject B"]},
            share_percent=share,
            wait_hours=4,
            metric="clicks",
            auto_pick=auto_pick,
        )
    )
    db_session.commit()
    enqueue_campaign(db_session, campaign)
    return campaign.id


def by_status(db_session, campaign_id):
    return Counter(row.status for row in outbox_rows(db_session, campaign_id))


def test_split_sizes_are_the_share_dealt_evenly_and_repeatable():
    ids = list(range(1, 1001))
    groups = subject_tests.split(ids, 3, 10, seed=7)
    assert [len(g) for g in groups] == [34, 33, 33]
    assert len(set().union(*groups)) == 100
    assert groups == subject_tests.split(ids, 3, 10, seed=7)
    assert groups != subject_tests.split(ids, 3, 10, seed=8)
    # Tiny audiences still give every subject a recipient.
    assert [len(g) for g in subject_tests.split([1, 2, 3], 2, 1, seed=1)] == [1, 1]


def test_rows_are_held_then_the_groups_go_first_and_the_winner_goes_to_the_rest(app, db_session):
    campaign_id = campaign_with_test(db_session)
    assert by_status(db_session, campaign_id) == {"held": 60}
    assert not lifecycle.finish_if_done(db_session, campaign_id)

    assert subject_tests.run_subject_tests(db_session, now=T0) == [f"started {campaign_id}"]
    assert subject_tests.run_subject_tests(db_session, now=T0) == []  # idempotent
    rows = outbox_rows(db_session, campaign_id)
    assert Counter(r.status for r in rows) == {"held": 40, "queued": 20}
    groups = Counter(
        (r.language, (r.payload or {}).get("subject")) for r in rows if r.status == "queued"
    )
    assert groups == {("en", 0): 5, ("en", 1): 5, ("fr", None): 10}

    # Subject B's group clicks more (two people; one of them twice: unique clicks count).
    link = CampaignLink(campaign_id=campaign_id, url="https://example.net/")
    db_session.add(link)
    db_session.flush()
    group = {i: [r.id for r in rows if (r.payload or {}).get("subject") == i] for i in (0, 1)}
    for outbox_id in (group[1][0], group[1][0], group[1][1], group[0][0]):
        db_session.add(Click(outbox_id=outbox_id, link_id=link.id, clicked_at=T0))
    db_session.commit()

    assert (
        subject_tests.run_subject_tests(db_session, now=T0 + timedelta(hours=3, minutes=59)) == []
    )
    assert by_status(db_session, campaign_id)["held"] == 40
    done = subject_tests.run_subject_tests(db_session, now=T0 + timedelta(hours=4))
    assert done == [f"decided {campaign_id}"]
    test = db_session.scalar(select(SubjectTest))
    assert (test.winners, test.decided_by) == ({"en": 1}, "auto")
    rows = outbox_rows(db_session, campaign_id)
    assert Counter(r.status for r in rows) == {"queued": 60}
    rest = [r for r in rows if r.payload == {"subject": 1}]
    assert len(rest) == 40
    results = subject_tests.group_results(db_session, test)["en"]
    assert [(g["rows"], g["clicks"]) for g in results] == [(5, 1), (5, 2)]


@pytest.fixture
def sink():
    server = Sink().start()
    yield server
    server.stop()


def test_recipients_get_their_group_subject_then_the_winner(app, db_session, sink):
    campaign_id = campaign_with_test(db_session, english=10, french=2, share=40)
    subject_tests.run_subject_tests(db_session, now=T0)
    with sending_to(app, sink):
        run_worker(app, "w1", once=True)
    subjects = Counter(
        message_from_bytes(m.data, policy=policy.default)["Subject"].split(" for ")[0]
        for m in sink.received
    )
    assert subjects == {"Subject A": 2, "Subject B": 2, "Nouvelles": 2}
    db_session.expire_all()
    assert db_session.get(Campaign, campaign_id).status == "sending"  # 6 rows still held

    test = db_session.scalar(select(SubjectTest))
    subject_tests.decide(db_session, test, {"en": 0}, by="staff", now=T0)
    db_session.commit()
    with sending_to(app, sink):
        run_worker(app, "w1", once=True)
    late = [message_from_bytes(m.data, policy=policy.default) for m in sink.received[6:]]
    assert len(late) == 6
    assert {m["Subject"].split(" for ")[0] for m in late} == {"Subject A"}
    assert all(m["Subject"].startswith("Subject A for E") for m in late)  # merge fields work
    db_session.expire_all()
    assert db_session.get(Campaign, campaign_id).status == "sent"


def test_manual_pick_only_without_auto_and_not_twice(app, db_session):
    campaign_id = campaign_with_test(db_session, auto_pick=False)
    subject_tests.run_subject_tests(db_session, now=T0)
    assert subject_tests.run_subject_tests(db_session, now=T0 + timedelta(days=2)) == []
    test = db_session.scalar(select(SubjectTest))
    with pytest.raises(ServiceError):
        subject_tests.decide(db_session, test, {"en": 5}, by="staff")
    subject_tests.decide(db_session, test, {"en": 0}, by="staff", now=T0)
    db_session.commit()
    assert (test.winners, test.decided_by) == ({"en": 0}, "staff")
    with pytest.raises(ServiceError, match="already chosen"):
        subject_tests.decide(db_session, test, {"en": 1}, by="staff")
    assert by_status(db_session, campaign_id) == {"queued": 60}


def test_cancel_skips_held_rows(app, db_session):
    campaign_id = campaign_with_test(db_session, english=5, french=0)
    campaign = db_session.get(Campaign, campaign_id)
    lifecycle.pause(db_session, campaign)
    lifecycle.cancel(db_session, campaign)
    db_session.commit()
    assert by_status(db_session, campaign_id) == {"skipped": 5}


def test_saving_a_test_checks_subjects_share_wait_and_metric(app, db_session):
    campaign = make_campaign(db_session, status="draft", variants=VARIANTS)
    with pytest.raises(ServiceError) as caught:
        subject_tests.save_test(
            db_session,
            campaign,
            subject_tests.SubjectTestData(
                subjects={"en": ["Only one"], "fr": ["Un {{ oops", "Deux"]},
                share_percent=0,
                wait_hours=500,
                metric="replies",
            ),
        )
    assert set(caught.value.fields) == {
        "en_subjects",
        "fr_subjects",
        "share_percent",
        "wait_hours",
        "metric",
    }
    test = subject_tests.save_test(
        db_session,
        campaign,
        subject_tests.SubjectTestData(
            subjects={"en": ["One", " Two  ", ""], "es": ["not a variant", "x"]},
            metric="opens",
        ),
    )
    assert test.subjects == {"en": ["One", "Two"]}
    assert campaign.track_opens is True
    campaign.status = "sending"
    with pytest.raises(ServiceError, match="before sending"):
        subject_tests.remove_test(db_session, campaign)
    assert db_session.scalar(select(OutboxMessage)) is None


def test_a_duplicate_keeps_the_subject_test_but_not_its_outcome(app, db_session):
    from outreach.campaigns.services import duplicate_campaign

    campaign_id = campaign_with_test(db_session)
    subject_tests.run_subject_tests(db_session, now=T0)
    subject_tests.run_subject_tests(db_session, now=T0 + timedelta(hours=5))
    db_session.commit()
    copy = duplicate_campaign(db_session, db_session.get(Campaign, campaign_id))
    db_session.commit()
    original, copied = (
        db_session.scalar(select(SubjectTest).where(SubjectTest.campaign_id == cid))
        for cid in (campaign_id, copy.id)
    )
    assert original.winners and original.started_at is not None
    assert copied.subjects == original.subjects
    assert (copied.share_percent, copied.wait_hours, copied.metric) == (20, 4, "clicks")
    assert copied.winners == {} and copied.started_at is None and copied.decided_at is None


def test_erasing_a_contact_skips_its_held_row(app, db_session):
    from outreach.contacts.models import Contact
    from outreach.subscriptions.services import RequestMeta, erase_contact

    campaign_id = campaign_with_test(db_session, english=5, french=0)
    contact = db_session.scalar(select(Contact).where(Contact.email == "en000@example.org"))
    erase_contact(db_session, contact, RequestMeta(source="staff"))
    db_session.commit()
    assert by_status(db_session, campaign_id) == {"held": 4, "skipped": 1}
