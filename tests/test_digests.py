"""Weekly digests: when they are queued (Geneva time, across daylight saving), to whom, once per
ISO week, what they hold, and one sent end to end by the worker in Spanish."""

from __future__ import annotations

from datetime import UTC, datetime
from email.header import decode_header, make_header
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from outreach.alerts import digests
from outreach.alerts.digest_sender import DigestNotSent, DigestSender
from outreach.alerts.digests import DigestBuilder, DigestWeek, NewsItem, digest_week, run_digests
from outreach.alerts.models import DigestRecord
from outreach.calendar.models import KeyDate, Review, UPRSession
from outreach.campaigns.models import Campaign, CampaignVariant
from outreach.campaigns.rendering import Recipient
from outreach.delivery.models import OutboxMessage
from outreach.delivery.outbox import ClaimedRow
from outreach.delivery.worker import run_worker
from outreach.subscriptions.models import Subscription, SubscriptionSession, SubscriptionTopic
from tests.factories import make_contact, make_suppression

GENEVA = ZoneInfo("Europe/Zurich")
# ISO week 2026-W48: Monday 23 November 2026 (winter time, UTC+1).
MONDAY_8AM = datetime(2026, 11, 23, 8, 0, tzinfo=GENEVA)
W48 = {
    "period": "2026-W48",
    "since": "2026-11-16T07:00:00+00:00",
    "until": "2026-11-23T07:00:00+00:00",
}


def geneva(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=GENEVA)


def frozen(moment: datetime):
    return time_machine.travel(moment, tick=False)


def subscriber(
    session,
    email: str,
    *,
    countries: tuple[str, ...] = ("SN",),
    topics: tuple[str, ...] = ("digest",),
    frequency: str = "immediate",
    status: str = "confirmed",
    sessions: tuple[int, ...] = (),
    language: str = "en",
    first_name: str = "",
    paused_until: datetime | None = None,
):
    """A self-service subscriber (`sessions` empty: follows every session)."""
    contact = make_contact(
        session,
        email,
        country=countries[0] if countries else None,
        countries=countries[1:],
        language=language,
        first_name=first_name,
    )
    contact.subscription = Subscription(
        status=status,
        all_sessions=not sessions,
        alert_frequency=frequency,
        paused_until=paused_until,
        topic_links=[SubscriptionTopic(topic=topic) for topic in topics],
        session_links=[SubscriptionSession(session_number=number) for number in sessions],
    )
    session.flush()
    return contact


def upr_session(session, number: int, states: tuple[str, ...]) -> UPRSession:
    row = UPRSession(number=number, reviews=[Review(country_code=code) for code in states])
    session.add(row)
    session.flush()
    return row


def deadline(session, upr: UPRSession, kind: str, when: datetime, **values) -> KeyDate:
    row = KeyDate(session=upr, kind=kind, starts_at=when.astimezone(UTC), **values)
    session.add(row)
    session.flush()
    return row


def campaign(session, name: str, finished_at: datetime, *, public: bool = True, **subjects):
    row = Campaign(
        name=name,
        status="sent",
        public=public,
        finished_at=finished_at.astimezone(UTC),
        default_language="en",
        variants=[
            CampaignVariant(language=lang, subject=subject, body_markdown="News.")
            for lang, subject in (subjects or {"en": name}).items()
        ],
    )
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def calendar(db_session):
    """Session 52 (Senegal, France) with deadlines in the next four weeks of 23 November 2026,
    session 53 (Mali) with one, and deadlines already past or too far away."""
    s52 = upr_session(db_session, 52, ("SN", "FR"))
    s53 = upr_session(db_session, 53, ("ML",))
    s54 = upr_session(db_session, 54, ("SN",))
    submit = "https://upr.example.org/submit"
    deadline(db_session, s52, "stakeholder_submission", geneva(2026, 12, 3, 12), url=submit)
    deadline(db_session, s52, "national_report", geneva(2026, 12, 4, 12))  # not a deadline
    deadline(db_session, s52, "pre_session_application", geneva(2026, 11, 20, 12))  # past
    deadline(db_session, s53, "pre_session_application", geneva(2026, 12, 10, 12), estimated=True)
    deadline(db_session, s54, "stakeholder_submission", geneva(2027, 3, 1, 12))  # too far
    db_session.commit()
    return {52: s52, 53: s53, 54: s54}


def outbox(db_session) -> list[OutboxMessage]:
    db_session.expire_all()
    return list(db_session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def records(db_session) -> list[DigestRecord]:
    db_session.expire_all()
    return list(db_session.scalars(select(DigestRecord).order_by(DigestRecord.id)))


# --- When ---------------------------------------------------------------------------------------


def test_the_week_runs_from_last_weeks_moment_to_this_weeks(app):
    week = digest_week(geneva(2026, 11, 26, 15), 0, MONDAY_8AM.time())
    assert week.payload() == W48
    # Sunday evening still belongs to the ISO week of the Monday before.
    assert digest_week(geneva(2026, 11, 29, 23, 59), 0, MONDAY_8AM.time()).period == "2026-W48"
    assert digest_week(geneva(2026, 11, 30, 0, 0), 0, MONDAY_8AM.time()).period == "2026-W49"
    assert DigestWeek.from_payload(W48) == week
    with pytest.raises(ValueError):
        DigestWeek.from_payload({"week": "2026-W48"})


def test_nothing_is_queued_before_the_weekly_moment(app, db_session, calendar):
    subscriber(db_session, "ann@example.org")
    db_session.commit()
    for moment in (geneva(2026, 11, 23, 0, 0), geneva(2026, 11, 23, 7, 59)):
        with frozen(moment):
            report = run_digests(db_session)
        assert (report.due, report.queued, report.empty, report.already) == (False, 0, 0, 0)
        assert report.period == "2026-W48"
    assert outbox(db_session) == [] and records(db_session) == []


def test_queued_once_at_the_moment_and_a_rerun_changes_nothing(app, db_session, calendar):
    ann = subscriber(db_session, "ann@example.org")
    db_session.commit()

    with frozen(MONDAY_8AM):
        first = run_digests(db_session)
    with frozen(geneva(2026, 11, 23, 8, 15)):
        again = run_digests(db_session)
    with frozen(geneva(2026, 11, 27, 18)):  # Friday: still this week's digest, already done
        friday = run_digests(db_session)

    assert (first.due, first.queued, first.empty, first.already) == (True, 1, 0, 0)
    assert first.summary() == "digests: queued=1 empty=0 already=0"
    assert again.summary() == friday.summary() == "digests: queued=0 empty=0 already=1"
    [row] = outbox(db_session)
    assert (row.kind, row.contact_id, row.email, row.status) == (
        "digest",
        ann.id,
        "ann@example.org",
        "queued",
    )
    assert row.payload == W48
    [record] = records(db_session)
    assert (record.contact_id, record.period, record.outbox_id) == (ann.id, "2026-W48", row.id)

    with frozen(geneva(2026, 11, 30, 8)):  # the next Monday: a new week
        next_week = run_digests(db_session)
    assert next_week.queued == 1
    assert [r.period for r in records(db_session)] == ["2026-W48", "2026-W49"]


def test_a_run_missed_on_monday_catches_up_later_in_the_week(app, db_session, calendar):
    subscriber(db_session, "ann@example.org")
    db_session.commit()
    with frozen(geneva(2026, 11, 25, 10)):
        report = run_digests(db_session)
    assert report.queued == 1
    assert outbox(db_session)[0].payload == W48


def test_who_confirms_after_the_moment_starts_with_next_weeks_digest(app, db_session, calendar):
    early = subscriber(db_session, "early@example.org")
    early.subscription.confirmed_at = geneva(2026, 11, 23, 7, 0)
    late = subscriber(db_session, "late@example.org")
    late.subscription.confirmed_at = geneva(2026, 11, 29, 20, 0)  # Sunday evening
    db_session.commit()
    with frozen(geneva(2026, 11, 29, 21, 0)):
        this_week = run_digests(db_session)
    with frozen(geneva(2026, 11, 30, 8, 0)):
        next_week = run_digests(db_session)
    assert (this_week.period, this_week.queued) == ("2026-W48", 1)
    assert (next_week.period, next_week.queued) == ("2026-W49", 2)
    assert [(r.contact_id, r.period) for r in records(db_session)] == [
        (early.id, "2026-W48"),
        (early.id, "2026-W49"),
        (late.id, "2026-W49"),
    ]


def test_batches_are_committed_and_every_subscriber_queued_once(app, db_session, calendar):
    for n in range(5):
        subscriber(db_session, f"s{n}@example.org")
    db_session.commit()
    with frozen(MONDAY_8AM):
        report = run_digests(db_session, batch_size=2)
    assert report.queued == 5
    assert len({row.contact_id for row in outbox(db_session)}) == 5
    assert len(records(db_session)) == 5


@pytest.mark.parametrize(
    ("moment", "due"),
    [
        # The Monday after the change to summer time (29 March 2026): 08:00 Geneva = 06:00 UTC.
        (datetime(2026, 3, 30, 5, 59, tzinfo=UTC), False),
        (datetime(2026, 3, 30, 6, 0, tzinfo=UTC), True),
        # Winter time: 08:00 Geneva = 07:00 UTC.
        (datetime(2026, 11, 23, 6, 59, tzinfo=UTC), False),
        (datetime(2026, 11, 23, 7, 0, tzinfo=UTC), True),
        # The Monday after the change back to winter time (25 October 2026).
        (datetime(2026, 10, 26, 6, 59, tzinfo=UTC), False),
        (datetime(2026, 10, 26, 7, 0, tzinfo=UTC), True),
    ],
)
def test_the_moment_is_0800_geneva_across_daylight_saving(app, db_session, moment, due):
    with frozen(moment):
        report = run_digests(db_session)
    assert report.due is due
    assert report.moment.astimezone(GENEVA).time() == MONDAY_8AM.time()


def test_the_week_across_the_march_change_is_one_hour_shorter(app):
    week = digest_week(geneva(2026, 3, 30, 9), 0, MONDAY_8AM.time())
    assert week.period == "2026-W14"
    assert week.since == datetime(2026, 3, 23, 7, 0, tzinfo=UTC)
    assert week.until == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)


def test_the_weekday_and_time_come_from_the_settings(app, db_session, calendar):
    subscriber(db_session, "ann@example.org")
    db_session.commit()
    app.config.update(DIGEST_WEEKDAY="Wednesday", DIGEST_TIME="17:30")
    try:
        with frozen(geneva(2026, 11, 25, 17, 29)):
            before = run_digests(db_session)
        with frozen(geneva(2026, 11, 25, 17, 30)):
            after = run_digests(db_session)
    finally:
        app.config.update(DIGEST_WEEKDAY="monday", DIGEST_TIME="08:00")
    assert (before.due, after.due, after.queued) == (False, True, 1)
    assert after.moment == datetime(2026, 11, 25, 16, 30, tzinfo=UTC)


# --- Who ----------------------------------------------------------------------------------------


def test_only_confirmed_unpaused_unsuppressed_digest_subscribers(app, db_session, calendar):
    campaign(db_session, "November news", geneva(2026, 11, 20, 10))  # something for everyone
    wanted = subscriber(db_session, "wanted@example.org", countries=())
    subscriber(db_session, "pending@example.org", status="pending")
    subscriber(db_session, "left@example.org", status="unsubscribed")
    subscriber(db_session, "paused@example.org", paused_until=geneva(2026, 12, 31, 0))
    subscriber(db_session, "newsletter-only@example.org", topics=("newsletter",))
    subscriber(db_session, "suppressed@example.org")
    make_suppression(db_session, "suppressed@example.org", "hard_bounce")
    inactive = subscriber(db_session, "inactive@example.org")
    inactive.status = "inactive"
    make_contact(db_session, "staff-added@example.org", country="SN")  # no subscription
    was_paused = subscriber(
        db_session, "was-paused@example.org", paused_until=geneva(2026, 11, 1, 0)
    )
    db_session.commit()

    with frozen(MONDAY_8AM):
        report = run_digests(db_session)

    assert (report.queued, report.empty, report.already) == (2, 0, 0)
    assert {row.contact_id for row in outbox(db_session)} == {wanted.id, was_paused.id}


def test_an_empty_digest_is_recorded_but_not_queued(app, db_session, calendar):
    # Follows Brazil: no deadline; and no campaign this week.
    quiet = subscriber(db_session, "quiet@example.org", countries=("BR",))
    campaign(db_session, "Last week's", geneva(2026, 11, 12, 10))  # the week before
    campaign(db_session, "Private", geneva(2026, 11, 20, 10), public=False)
    db_session.commit()

    with frozen(MONDAY_8AM):
        report = run_digests(db_session)
    with frozen(geneva(2026, 11, 24, 8)):
        again = run_digests(db_session)

    assert (report.queued, report.empty, report.already) == (0, 1, 0)
    assert (again.queued, again.empty, again.already) == (0, 0, 1)
    assert outbox(db_session) == []
    [record] = records(db_session)
    assert (record.contact_id, record.period, record.outbox_id) == (quiet.id, "2026-W48", None)


def test_weekly_alert_subscribers_get_their_deadlines_in_the_digest(app, db_session, calendar):
    campaign(db_session, "November news", geneva(2026, 11, 20, 10))
    weekly = subscriber(
        db_session, "weekly@example.org", topics=("deadline_alerts",), frequency="weekly"
    )
    subscriber(  # weekly alerts, but follows no deadline: campaigns are not theirs to get
        db_session,
        "weekly-br@example.org",
        countries=("BR",),
        topics=("deadline_alerts",),
        frequency="weekly",
    )
    subscriber(  # immediate alerts: the alert emails, not the digest
        db_session, "immediate@example.org", topics=("deadline_alerts",), frequency="immediate"
    )
    db_session.commit()

    with frozen(MONDAY_8AM):
        report = run_digests(db_session)
        content = DigestBuilder(db_session).content_for(
            weekly.id, ("SN",), "en", DigestWeek.from_payload(W48)
        )

    assert (report.queued, report.empty) == (1, 1)
    assert [row.contact_id for row in outbox(db_session)] == [weekly.id]
    assert [facts.kind for facts in content.deadlines] == ["stakeholder_submission"]
    assert content.campaigns == [] and content.news == []


def test_a_dry_run_counts_and_writes_nothing(app, db_session, calendar):
    subscriber(db_session, "ann@example.org")
    subscriber(db_session, "quiet@example.org", countries=("BR",))
    db_session.commit()
    with frozen(MONDAY_8AM):
        report = run_digests(db_session, dry_run=True)
    assert report.summary() == "digests: queued=1 empty=1 already=0"
    assert outbox(db_session) == [] and records(db_session) == []


# --- What ---------------------------------------------------------------------------------------


def content_of(db_session, contact, countries, language="en"):
    return DigestBuilder(db_session).content_for(
        contact.id, countries, language, DigestWeek.from_payload(W48), MONDAY_8AM
    )


def test_deadlines_of_the_followed_countries_and_sessions(app, db_session, calendar):
    senegal = subscriber(db_session, "sn@example.org", countries=("SN",))
    both = subscriber(db_session, "both@example.org", countries=("FR", "ML"))
    only_53 = subscriber(db_session, "s53@example.org", countries=("SN", "ML"), sessions=(53,))
    only_54 = subscriber(db_session, "s54@example.org", countries=("SN",), sessions=(54,))
    db_session.commit()

    def kinds(contact, countries):
        return [
            (facts.session_number, facts.kind)
            for facts in content_of(db_session, contact, countries).deadlines
        ]

    assert kinds(senegal, ("SN",)) == [(52, "stakeholder_submission")]
    assert kinds(both, ("FR", "ML")) == [
        (52, "stakeholder_submission"),
        (53, "pre_session_application"),
    ]
    assert kinds(only_53, ("SN", "ML")) == [(53, "pre_session_application")]
    assert kinds(only_54, ("SN",)) == []  # session 54's deadline is more than four weeks away


def test_public_campaigns_finished_during_the_week(app, db_session, calendar):
    reader = subscriber(db_session, "reader@example.org", countries=("BR",))
    campaign(db_session, "Too early", geneva(2026, 11, 16, 7, 59))
    first = campaign(db_session, "Monday news", geneva(2026, 11, 16, 8, 0))
    campaign(db_session, "Not public", geneva(2026, 11, 18, 10), public=False)
    last = campaign(db_session, "Sunday news", geneva(2026, 11, 22, 23))
    campaign(db_session, "Next week's", geneva(2026, 11, 23, 8, 0))
    db_session.commit()

    content = content_of(db_session, reader, ("BR",))

    assert [c.id for c in content.campaigns] == [first.id, last.id]
    assert [c.title("en") for c in content.campaigns] == ["Monday news", "Sunday news"]
    assert content.deadlines == [] and not content.is_empty


def test_news_items_come_from_the_feeds_extension_point(app, db_session, calendar, monkeypatch):
    quiet_fr = subscriber(db_session, "fr@example.org", countries=("BR",), language="fr")
    subscriber(db_session, "en@example.org", countries=("BR",), language="en")
    db_session.commit()
    assert digests.recent_news_items(db_session, MONDAY_8AM, MONDAY_8AM, "fr") == []
    item = NewsItem("Un nouveau rapport", "https://news.example.org/1", "UPR Info", MONDAY_8AM)
    # News in French only: French readers have something, English readers do not.
    monkeypatch.setattr(
        digests, "recent_news_items", lambda _s, _since, _until, lang: [item] * (lang == "fr")
    )

    assert content_of(db_session, quiet_fr, ("BR",), "fr").news == [item]
    with frozen(MONDAY_8AM):
        report = run_digests(db_session)
    assert (report.queued, report.empty) == (1, 1)
    assert [row.contact_id for row in outbox(db_session)] == [quiet_fr.id]


# --- Sending ------------------------------------------------------------------------------------


def claimed(row: OutboxMessage) -> ClaimedRow:
    return ClaimedRow(
        row.id, row.kind, None, row.contact_id, row.email, row.language, 0, row.payload
    )


def test_the_sender_refuses_a_digest_no_longer_wanted(app, db_session, calendar):
    ann = subscriber(db_session, "ann@example.org")
    db_session.commit()
    with frozen(MONDAY_8AM):
        run_digests(db_session)
        [row] = outbox(db_session)
        sender = DigestSender(db_session, app)
        recipient = Recipient(email=ann.email, contact_id=ann.id, country_code="SN")
        links = {"unsubscribe_url": "https://x/u/t", "preferences_url": "https://x/p/t"}
        rendered = sender.render(claimed(row), recipient, **links)
        assert rendered.subject == "Your UPR week: 1 deadline"

        ann.subscription.topic_links = [SubscriptionTopic(topic="newsletter")]
        db_session.commit()
        with pytest.raises(DigestNotSent, match="no longer receives"):
            sender.render(claimed(row), recipient, **links)


def test_subjects_are_translated(app, db_session, calendar):
    subscriber(db_session, "fr@example.org", countries=("SN", "ML"), language="fr")
    campaign(db_session, "One", geneva(2026, 11, 17, 10))
    campaign(db_session, "Two", geneva(2026, 11, 18, 10))
    db_session.commit()
    with frozen(MONDAY_8AM):
        run_digests(db_session)
        [row] = outbox(db_session)
        recipient = Recipient(
            email=row.email, language="fr", contact_id=row.contact_id, countries=("SN", "ML")
        )
        rendered = DigestSender(db_session, app).render(
            claimed(row), recipient, unsubscribe_url="https://x/u", preferences_url="https://x/p"
        )
    assert rendered.language == "fr"
    assert rendered.subject == "Votre semaine EPU\u00a0: 2 dates limites, 2 lettres d'information"
    assert "Date limite des contributions des parties prenantes" in rendered.text
    assert "Sénégal" in rendered.text and "Mali" in rendered.text


def test_the_worker_sends_a_digest_in_spanish(app, db_session, calendar, mail_server):
    jose = subscriber(
        db_session, "jose@example.org", countries=("SN",), language="es", first_name="José"
    )
    news = campaign(
        db_session,
        "November news",
        geneva(2026, 11, 20, 10),
        en="November news",
        es="Noticias de noviembre",
    )
    db_session.commit()

    with frozen(MONDAY_8AM):
        assert run_digests(db_session).queued == 1
        stats = run_worker(app, "digest-worker", once=True)

    assert stats.sent == 1
    [message] = mail_server.wait_for(1)
    assert message["To"] == "José <jose@example.org>"
    subject = str(make_header(decode_header(message["Subject"])))
    assert subject == "Su semana del EPU: 1 plazo, 1 boletín"
    assert message["Content-Language"] == "es"
    assert message["List-Unsubscribe"].startswith("<http")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "digest.lists." in message["List-Id"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Hola, José:" in text
    assert "Plazo para las contribuciones de las partes interesadas" in text
    assert "3 de diciembre de 2026, 12:00 (hora de Ginebra)" in text
    assert "Sesión 52 · Senegal" in text
    assert "https://upr.example.org/submit" in text
    assert "Noticias de noviembre" in text
    assert f"/archive/{news.id}?lang=es" in text
    assert "Gestionar sus preferencias" in html and "style=" in html
    [row] = outbox(db_session)
    assert (row.status, row.contact_id) == ("sent", jose.id)


def test_registered_with_the_worker_and_the_scheduler(app):
    from outreach.delivery.scheduler import JOBS
    from outreach.delivery.worker import SENDER_FACTORIES

    assert SENDER_FACTORIES["digest"] is DigestSender
    assert JOBS["digests"].func is digests.digests_job
    assert JOBS["digests"].seconds == 900


# --- The command --------------------------------------------------------------------------------


def test_the_digest_command(app, db_session, calendar):
    subscriber(db_session, "ann@example.org")
    subscriber(db_session, "quiet@example.org", countries=("BR",))
    db_session.commit()
    runner = app.test_cli_runner()

    early = runner.invoke(args=["alerts", "digest", "--now", "2026-11-23T07:59"])
    dry = runner.invoke(args=["alerts", "digest", "--now", "2026-11-23T08:00", "--dry-run"])
    assert records(db_session) == []
    real = runner.invoke(args=["alerts", "digest", "--now", "2026-11-23T07:00+00:00"])
    again = runner.invoke(args=["alerts", "digest", "--now", "2026-11-24T09:00"])
    bad = runner.invoke(args=["alerts", "digest", "--now", "next monday"])

    assert early.exit_code == 0
    assert early.output.splitlines()[0] == "digests: queued=0 empty=0 already=0"
    assert "Not due yet" in early.output and "08:00 Geneva time" in early.output
    assert dry.output.splitlines()[0] == "digests: queued=1 empty=1 already=0"
    assert "nothing was written" in dry.output
    assert real.output == "digests: queued=1 empty=1 already=0\n"
    assert again.output == "digests: queued=0 empty=0 already=2\n"
    assert bad.exit_code == 2 and "not an ISO date" in bad.output
    assert len(records(db_session)) == 2 and len(outbox(db_session)) == 1


def test_the_command_reports_a_wrong_setting(app, db_session):
    app.config["DIGEST_WEEKDAY"] = "mondy"
    try:
        result = app.test_cli_runner().invoke(args=["alerts", "digest"])
    finally:
        app.config["DIGEST_WEEKDAY"] = "monday"
    assert result.exit_code == 1
    assert "DIGEST_WEEKDAY must be one of monday" in result.output


def test_sent_once_even_with_two_runs_racing(app, db_session, calendar, monkeypatch):
    """A contact recorded by another process between this run's query and its insert: the batch
    is taken again without them, and nobody gets two digests."""
    ann = subscriber(db_session, "ann@example.org")
    ben = subscriber(db_session, "ben@example.org")
    db_session.commit()
    original = digests._record_batch
    calls = []

    def racing(session, week, rows):
        if not calls:  # the other process wins Ann before our first batch is written
            calls.append(1)
            session.add(DigestRecord(contact_id=ann.id, period=week.period))
            session.commit()
        return original(session, week, rows)

    monkeypatch.setattr(digests, "_record_batch", racing)
    with frozen(MONDAY_8AM):
        report = run_digests(db_session)
    assert report.queued == 1
    assert [row.contact_id for row in outbox(db_session)] == [ben.id]
    assert sorted(r.contact_id for r in records(db_session)) == [ann.id, ben.id]


def test_translations_exist_for_the_digest(app):
    from flask_babel import force_locale

    from outreach.alerts.digest_sender import digest_subject

    with force_locale("es"):
        assert digest_subject(3, 2, 1) == "Su semana del EPU: 3 plazos, 2 boletines, 1 noticia"
    with force_locale("fr"):
        assert digest_subject(1, 1, 2) == (
            "Votre semaine EPU\u00a0: 1 date limite, 1 lettre d'information, 2 actualités"
        )
    assert digest_subject(2, 0, 0) == "Your UPR week: 2 deadlines"
