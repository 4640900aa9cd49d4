"""Recurring newsletter series: recurrences across daylight saving, editions drafted from the
calendar and the feeds, empty editions, pausing, the review flow, idempotency, the staff pages."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from outreach.calendar.models import KeyDate, Review, UPRSession
from outreach.campaigns.models import Campaign
from outreach.feeds.models import FeedItem, FeedSource
from outreach.mail.transactional import PENDING_KEY
from outreach.segments.services import create_segment
from outreach.series import recurrence, services
from outreach.series.models import Series, SeriesEdition
from tests.conftest import login
from tests.factories import make_contact, make_user

GENEVA = ZoneInfo("Europe/Zurich")
FIRST_MONDAY_9 = "FREQ=MONTHLY;BYDAY=1MO;BYHOUR=9;BYMINUTE=0;BYSECOND=0"


def geneva(*args) -> datetime:
    return datetime(*args, tzinfo=GENEVA).astimezone(UTC)


# --- Recurrences --------------------------------------------------------------------------------


def test_monthly_first_monday_stays_at_nine_in_geneva_across_dst():
    found = recurrence.occurrences(
        FIRST_MONDAY_9,
        date(2026, 1, 1),
        "Europe/Zurich",
        datetime(2026, 2, 1, tzinfo=UTC),
        datetime(2026, 11, 30, tzinfo=UTC),
    )
    local = [moment.astimezone(GENEVA) for moment in found]
    assert [m.date() for m in local][:3] == [date(2026, 2, 2), date(2026, 3, 2), date(2026, 4, 6)]
    assert {(m.hour, m.minute, m.weekday()) for m in local} == {(9, 0, 0)}
    # 08:00 UTC in winter, 07:00 UTC in summer (DST from 29 March to 25 October 2026).
    assert [m.hour for m in found] == [8, 8, 7, 7, 7, 7, 7, 7, 7, 8]


def test_every_two_weeks_keeps_its_rhythm_and_local_time_across_dst():
    rule = recurrence.Recurrence("weekly", "TU", time(9, 30), interval=2).to_rrule()
    found = recurrence.occurrences(
        rule,
        date(2026, 3, 17),
        "Europe/Zurich",
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 4, 15, tzinfo=UTC),
    )
    assert found == [
        datetime(2026, 3, 17, 8, 30, tzinfo=UTC),  # CET
        datetime(2026, 3, 31, 7, 30, tzinfo=UTC),  # CEST
        datetime(2026, 4, 14, 7, 30, tzinfo=UTC),
    ]
    autumn = recurrence.occurrences(
        rule,
        date(2026, 3, 17),
        "Europe/Zurich",
        datetime(2026, 10, 10, tzinfo=UTC),
        datetime(2026, 10, 30, tzinfo=UTC),
    )
    assert autumn == [
        datetime(2026, 10, 13, 7, 30, tzinfo=UTC),  # CEST
        datetime(2026, 10, 27, 8, 30, tzinfo=UTC),  # CET from 25 October
    ]


def test_the_builder_writes_and_reads_rules():
    monthly = recurrence.Recurrence("monthly", "MO", time(9, 0))
    assert monthly.to_rrule() == FIRST_MONDAY_9
    assert recurrence.from_rrule(FIRST_MONDAY_9) == monthly
    assert recurrence.describe(FIRST_MONDAY_9) == "Every first Monday of the month at 09:00"
    last = recurrence.Recurrence("monthly", "FR", time(14, 15), nth=-1)
    assert recurrence.from_rrule(last.to_rrule()) == last
    assert recurrence.describe(last.to_rrule()) == "Every last Friday of the month at 14:15"
    with pytest.raises(recurrence.RecurrenceError, match="at most once a day"):
        recurrence.validate("FREQ=HOURLY", date(2026, 1, 1))
    with pytest.raises(recurrence.RecurrenceError, match="Not a valid"):
        recurrence.validate("FREQ=SOMETIMES", date(2026, 1, 1))
    with pytest.raises(recurrence.RecurrenceError, match="never occurs"):
        recurrence.validate("FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=2", date(2026, 1, 1))


# --- Fixtures -----------------------------------------------------------------------------------

# The edition of Monday 1 February 2027, 09:00 Geneva, drafted three days before.
OCCURRENCE = geneva(2027, 2, 1, 9, 0)
DRAFT_TIME = geneva(2027, 1, 29, 10, 0)


@pytest.fixture
def calendar(db_session):
    """Session 60 (Kenya, Brazil) starting in four weeks with a submission deadline and
    pre-sessions; a State-specific deadline; a deadline too far away."""
    s60 = UPRSession(
        number=60,
        wg_start=date(2027, 3, 1),
        wg_end=date(2027, 3, 12),
        reviews=[Review(country_code="KE"), Review(country_code="BR")],
    )
    s61 = UPRSession(number=61, reviews=[Review(country_code="FR")])
    db_session.add_all([s60, s61])
    db_session.flush()
    db_session.add_all(
        [
            KeyDate(
                session=s60,
                kind="stakeholder_submission",
                starts_at=geneva(2027, 2, 10, 12),
                description="Five pages at most",
                url="https://upr.example.org/submit",
            ),
            KeyDate(
                session=s60,
                kind="pre_session",
                all_day=True,
                estimated=True,
                starts_at=geneva(2027, 2, 15, 0),
                ends_at=geneva(2027, 2, 17, 0),
            ),
            KeyDate(
                session=s60,
                kind="pre_session_application",
                starts_at=geneva(2027, 2, 5, 12),
                url="https://upr.example.org/pre",
            ),
            KeyDate(
                session=s61,
                review=s61.reviews[0],
                kind="stakeholder_submission",
                starts_at=geneva(2027, 3, 4, 12),
                estimated=True,
            ),
            KeyDate(session=s61, kind="stakeholder_submission", starts_at=geneva(2027, 9, 1, 12)),
        ]
    )
    db_session.commit()
    return s60


@pytest.fixture
def audience(db_session):
    make_contact(db_session, "ngo@example.org", country="KE", language="fr", first_name="Awino")
    segment = create_segment(db_session, "NGOs", {"types": ["ngo"]})
    db_session.commit()
    return segment


def make_series(session, segment, *, mode="auto", editors=(), **values) -> Series:
    data = services.SeriesData(
        name=values.pop("name", "UPR monthly"),
        rrule=values.pop("rrule", FIRST_MONDAY_9),
        starts_on=values.pop("starts_on", date(2027, 1, 1)),
        languages=values.pop("languages", ["en", "fr"]),
        segment_ids=[segment.id],
        editor_ids=[user.id for user in editors],
        mode=mode,
        **values,
    )
    series = services.save_series(session, None, data)
    session.commit()
    return series


def editions(session) -> list[SeriesEdition]:
    session.expire_all()
    return list(session.scalars(select(SeriesEdition).order_by(SeriesEdition.occurrence_at)))


# --- Drafting -----------------------------------------------------------------------------------


def test_an_automatic_edition_is_written_from_the_calendar_and_scheduled(
    app, db_session, calendar, audience
):
    source = FeedSource(url="https://news.example.org/rss", name="UN News", language="fr")
    db_session.add(source)
    db_session.flush()
    db_session.add(
        FeedItem(
            source=source,
            guid="1",
            title="Le Kenya se prépare",
            link="https://news.example.org/1",
            published_at=geneva(2027, 1, 25, 10),
        )
    )
    make_series(db_session, audience, intro={"fr": "Chère {{ contact.first_name }},"})
    assert services.draft_due_editions(db_session, geneva(2027, 1, 20)).drafted == 0  # too early

    report = services.draft_due_editions(db_session, DRAFT_TIME)
    db_session.commit()
    assert (report.drafted, report.skipped) == (1, 0)
    [edition] = editions(db_session)
    assert edition.occurrence_at == OCCURRENCE and edition.status == "scheduled"
    campaign = edition.campaign
    assert campaign.status == "scheduled" and campaign.scheduled_at == OCCURRENCE
    assert [s.name for s in campaign.segments] == ["NGOs"]
    en = campaign.variant("en").body_markdown
    fr = campaign.variant("fr").body_markdown
    assert campaign.variant("en").subject == "UPR monthly — 1 February 2027"
    assert "## Deadlines in the coming weeks\n\n### 60th session" in en
    assert "- **All States under review (Brazil, Kenya)** — Stakeholder submissions deadline" in en
    assert "Five pages at most [More information](https://upr.example.org/submit)" in en
    assert "### 61st session\n\n- **France** — Stakeholder submissions deadline" in en
    assert "4 March 2027, 12:00 (Geneva time) (estimated date)" in en
    assert "1 September" not in en  # beyond the six weeks ahead
    assert "## Sessions starting soon\n\n### 60th session — 1–12 March 2027" in en
    assert "States under review: Brazil, Kenya." in en
    assert "## Pre-sessions" in en and "15–17 February 2027 (estimated date)" in en
    assert "[More information](https://upr.example.org/pre)" in en
    assert "## News" not in en  # the only news item is in French
    assert fr.startswith("Chère {{ contact.first_name }},\n\n## Échéances des prochaines semaines")
    assert "Tous les États examinés (Brésil, Kenya)" in fr and "(date estimée)" in fr
    assert "## Actualités\n\n- [Le Kenya se prépare](https://news.example.org/1)" in fr

    assert services.draft_due_editions(db_session, DRAFT_TIME + timedelta(hours=2)).drafted == 0
    assert len(editions(db_session)) == 1


def test_an_edition_with_nothing_to_announce_is_skipped_and_logged(app, db_session, audience):
    series = make_series(db_session, audience)
    messages: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("outreach.series.services")
    logger.addHandler(handler)
    # Alembic's fileConfig (the migration tests) disables loggers that exist already.
    level, disabled = logger.level, logger.disabled
    logger.level, logger.disabled = logging.INFO, False
    try:
        report = services.draft_due_editions(db_session, DRAFT_TIME)
    finally:
        logger.removeHandler(handler)
        logger.level, logger.disabled = level, disabled
    db_session.commit()
    assert (report.drafted, report.skipped) == (0, 1)
    [edition] = editions(db_session)
    assert edition.status == "skipped" and edition.campaign_id is None
    assert edition.note.startswith("Nothing to announce")
    assert messages == [
        f"series {series.id}: occurrence 2027-02-01 08:00:00+00:00 skipped (nothing to announce)"
    ]
    assert db_session.scalar(select(func.count(Campaign.id))) == 0


def test_pausing_skips_occurrences_without_a_backlog(app, db_session, calendar, audience):
    series = make_series(db_session, audience)
    services.set_paused(db_session, series, True)
    services.draft_due_editions(db_session, DRAFT_TIME)  # ahead of the date: nothing decided yet
    db_session.commit()
    assert editions(db_session) == []
    services.draft_due_editions(db_session, OCCURRENCE + timedelta(minutes=10))
    db_session.commit()
    [edition] = editions(db_session)
    assert edition.status == "skipped" and edition.note == "The series was paused."

    services.set_paused(db_session, series, False)
    # Resumed after the March occurrence was missed: nothing is drafted for it, ever.
    services.draft_due_editions(db_session, geneva(2027, 3, 2, 9, 0))
    db_session.commit()
    assert [e.occurrence_at for e in editions(db_session)] == [OCCURRENCE]
    assert db_session.scalar(select(func.count(Campaign.id))) == 0


def test_resuming_before_the_date_still_drafts_that_edition(app, db_session, calendar, audience):
    series = make_series(db_session, audience)
    services.set_paused(db_session, series, True)
    services.draft_due_editions(db_session, DRAFT_TIME)
    db_session.commit()
    services.set_paused(db_session, series, False)
    services.draft_due_editions(db_session, DRAFT_TIME + timedelta(days=1))
    db_session.commit()
    [edition] = editions(db_session)
    assert edition.occurrence_at == OCCURRENCE and edition.status == "scheduled"


def test_editing_the_series_changes_only_future_editions(app, db_session, calendar, audience):
    series = make_series(db_session, audience, intro={"en": "Hello."})
    services.draft_due_editions(db_session, DRAFT_TIME)
    db_session.commit()
    data = services.SeriesData(
        name="UPR newsletter",
        rrule=series.rrule,
        starts_on=series.starts_on,
        languages=["en"],
        segment_ids=[audience.id],
        intro={"en": "Welcome."},
    )
    services.save_series(db_session, series, data)
    services.draft_due_editions(db_session, geneva(2027, 2, 27, 10))  # the March edition
    db_session.commit()
    first, second = editions(db_session)
    assert first.campaign.variant("en").body_markdown.startswith("Hello.")
    assert len(first.campaign.variants) == 2
    assert second.campaign.variant("en").body_markdown.startswith("Welcome.")
    assert second.campaign.name.startswith("UPR newsletter")
    assert [v.language for v in second.campaign.variants] == ["en"]


def test_two_schedulers_draft_one_edition(app, db_session, calendar, audience):
    series = make_series(db_session, audience)
    first = services.draft_edition(db_session, series, OCCURRENCE, DRAFT_TIME)
    second = services.draft_edition(db_session, series, OCCURRENCE, DRAFT_TIME)
    db_session.commit()
    assert first is not None and second is None
    assert len(editions(db_session)) == 1
    assert db_session.scalar(select(func.count(Campaign.id))) == 1


def test_the_cli_drafts_due_editions_once(app, db_session, calendar, audience):
    make_series(db_session, audience)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["series", "draft", "--now", "2027-01-29T10:00"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "series: drafted=1 skipped=0"
    again = runner.invoke(args=["series", "draft", "--now", "2027-01-29T11:00"])
    assert again.output.strip() == "series: drafted=0 skipped=0"
    bad = runner.invoke(args=["series", "draft", "--now", "soon"])
    assert bad.exit_code == 2 and "not an ISO date" in bad.output


def test_the_series_job_through_two_scheduler_processes(app, db_session, calendar, audience):
    from outreach.delivery.scheduler import JOBS, Scheduler

    make_series(db_session, audience)
    db_session.commit()
    assert JOBS["series"].seconds == 300
    with time_machine.travel(DRAFT_TIME, tick=False):
        for name in ("scheduler-a", "scheduler-b"):
            scheduler = Scheduler(app, name=name, interval=5)
            assert scheduler.elect()
            assert scheduler.run_job(JOBS["series"])
            scheduler.leadership.release()
    assert len(editions(db_session)) == 1
    assert db_session.scalar(select(func.count(Campaign.id))) == 1


# --- Review -------------------------------------------------------------------------------------


def test_review_mode_notifies_editors_and_waits_for_approval(
    app, db_session, calendar, audience, staff_client, admin_user
):
    editor = make_user(db_session, "editor@example.org", role="editor")
    series = make_series(db_session, audience, mode="review", editors=[editor, admin_user])
    services.draft_due_editions(db_session, DRAFT_TIME)
    pending = list(db_session.info.get(PENDING_KEY, []))
    db_session.commit()
    assert sorted(m["To"] for m in pending) == ["admin@example.org", "editor@example.org"]
    assert pending[0]["Subject"] == "To review: UPR monthly, edition of 01 Feb 2027"
    assert f"/series/{series.id}" in pending[0].get_content()

    [edition] = editions(db_session)
    assert edition.status == "awaiting_review" and edition.campaign.status == "draft"
    assert services.editions_awaiting_review(db_session) == [edition]
    page = staff_client.get("/series")
    assert "Editions waiting for approval" in page.text
    dashboard = staff_client.get("/").text
    assert "Newsletter editions waiting for approval" in dashboard
    assert f'href="/series/{series.id}"' in dashboard
    assert "awaiting approval" in staff_client.get(f"/series/{series.id}").text

    with time_machine.travel(DRAFT_TIME + timedelta(hours=1), tick=False):
        login(staff_client, admin_user)
        response = staff_client.post(f"/series/{series.id}/editions/{edition.id}/approve")
        again = staff_client.post(f"/series/{series.id}/editions/{edition.id}/approve")
    assert response.status_code == 302
    [edition] = editions(db_session)
    assert edition.status == "scheduled" and edition.approved_by_id == admin_user.id
    assert edition.campaign.status == "scheduled" and edition.campaign.scheduled_at == OCCURRENCE
    assert services.editions_awaiting_review(db_session) == []
    assert again.status_code == 400 and "not waiting for approval" in again.text


def test_an_automatic_edition_that_cannot_be_scheduled_waits_for_review(app, db_session, calendar):
    empty = create_segment(db_session, "Nobody", {"types": ["nhri"]})
    make_series(db_session, empty, mode="auto")
    services.draft_due_editions(db_session, DRAFT_TIME)
    db_session.commit()
    [edition] = editions(db_session)
    assert edition.status == "awaiting_review" and edition.campaign.status == "draft"
    assert edition.note.startswith("Could not be scheduled automatically")


# --- Staff pages --------------------------------------------------------------------------------


def test_staff_create_a_series_with_the_recurrence_builder(staff_client, db_session, audience):
    form = {
        "name": "Fortnightly UPR",
        "segment_ids": [audience.id],
        "languages": ["en", "es"],
        "frequency": "weekly",
        "nth": "1",
        "weekday": "TU",
        "interval": "2",
        "at": "09:30",
        "starts_on": "2027-01-05",
        "lead_days": "2",
        "horizon_weeks": "4",
        "news_days": "14",
        "mode": "review",
        "intro_en": "Hello",
    }
    response = staff_client.post("/series/new", data=form)
    assert response.status_code == 302
    series = db_session.scalar(select(Series))
    assert series.rrule == "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;BYHOUR=9;BYMINUTE=30;BYSECOND=0"
    assert series.languages == ["en", "es"] and series.intro == {"en": "Hello"}
    assert series.timezone == "Europe/Zurich" and series.status == "active"
    page = staff_client.get("/series")
    assert "Every 2 weeks on Tuesday at 09:30" in page.text
    edit = staff_client.get(f"/series/{series.id}/edit")
    assert 'value="09:30"' in edit.text

    bad = staff_client.post(
        "/series/new", data={**form, "at": "9h", "name": "Fortnightly UPR", "languages": []}
    )
    assert bad.status_code == 400 and "Use HH:MM" in bad.text
    bad = staff_client.post("/series/new", data={**form, "languages": []})
    assert bad.status_code == 400
    assert "Another series has this name." in bad.text
    assert "Choose at least one of English, French and Spanish." in bad.text

    bad = staff_client.post(
        f"/series/{series.id}/edit", data={**form, "intro_fr": "Bonjour {{ contact.nom }}"}
    )
    assert bad.status_code == 400 and "contact.nom" in bad.text
    assert staff_client.get("/series/new").status_code == 200
    assert "No edition yet" in staff_client.get(f"/series/{series.id}").text

    staff_client.post(f"/series/{series.id}/pause")
    db_session.refresh(series)
    assert series.status == "paused"
    assert "Resume" in staff_client.get(f"/series/{series.id}").text


def test_preview_of_the_next_edition_for_a_chosen_recipient(
    staff_client, admin_user, db_session, calendar, audience
):
    series = make_series(db_session, audience, intro={"fr": "Chère {{ contact.first_name }},"})
    with time_machine.travel(DRAFT_TIME, tick=False):
        login(staff_client, admin_user)
        page = staff_client.get(f"/series/{series.id}/preview?email=NGO@example.org")
        assert page.status_code == 200
        assert "UPR monthly — 1 février 2027" in page.text  # her language
        assert "Chère Awino," in page.text
        assert f'src="/series/{series.id}/preview/email?email=NGO' in page.text
        frame = staff_client.get(f"/series/{series.id}/preview/email?email=NGO@example.org")
        assert frame.status_code == 200 and "Chère Awino," in frame.text
        assert "sandbox" in frame.headers["Content-Security-Policy"]
        english = staff_client.get(f"/series/{series.id}/preview?language=en")
        assert "UPR monthly — 1 February 2027" in english.text
        assert staff_client.get(f"/series/{series.id}/preview?email=x@y.org").status_code == 404
        assert staff_client.get(f"/series/{series.id}/preview?language=es").status_code == 400
    with time_machine.travel(geneva(2027, 6, 1), tick=False):
        login(staff_client, admin_user)
        quiet = staff_client.get(f"/series/{series.id}/preview")
        assert "would have nothing to announce" in quiet.text
    assert db_session.scalar(select(func.count(Campaign.id))) == 0  # a preview saves nothing


def test_viewers_read_but_cannot_change(viewer_client, db_session, audience):
    series = make_series(db_session, audience)
    assert "UPR monthly" in viewer_client.get("/series").text
    assert viewer_client.get("/series/new").status_code == 403
    assert viewer_client.post(f"/series/{series.id}/pause").status_code == 403
    assert viewer_client.get("/series/999").status_code == 404


def test_an_edition_whose_draft_was_deleted_leaves_the_review_list(
    app, db_session, calendar, audience
):
    from outreach.campaigns.services import delete_campaign

    make_series(db_session, audience, mode="review")
    services.draft_due_editions(db_session, DRAFT_TIME)
    db_session.commit()
    [edition] = editions(db_session)
    assert services.editions_awaiting_review(db_session) == [edition]
    delete_campaign(db_session, edition.campaign)
    db_session.commit()
    assert services.editions_awaiting_review(db_session) == []
