"""A/B subject tests. Functions flush; views and the scheduler job commit.

When a campaign with a test is enqueued, its outbox rows are `held` (see `outbox.enqueue_campaign`).
`start`, once every row exists: per tested language, `share_percent` of its held rows, shuffled
with the campaign id as seed, are split into equal groups, one per subject, and queued with
`payload = {"subject": i, "test": true}`; the rows of untested languages are queued as they are.
`decide`, after `wait_hours` (or when staff pick): per language the subject with the most unique
clicks (or opens) wins (ties: the first), and the language's held rows are queued with it.
Both are conditional UPDATEs on the test row, so the job (`campaigns.ab-tests`) is idempotent.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from jinja2 import TemplateSyntaxError
from sqlalchemy import distinct, select, update
from sqlalchemy.orm import Session

from outreach.campaigns import merge
from outreach.campaigns.models import Campaign
from outreach.core.database import utcnow
from outreach.core.errors import ServiceError
from outreach.delivery.models import OutboxMessage
from outreach.delivery.scheduler import register_job
from outreach.engagement.models import AB_METRICS, Click, Open, SubjectTest

CHUNK = 1000
MAX_SUBJECTS = 5


@dataclass
class SubjectTestData:
    subjects: dict[str, list[str]]
    share_percent: int = 20
    wait_hours: int = 4
    metric: str = "clicks"
    auto_pick: bool = True


def find_test(session: Session, campaign_id: int) -> SubjectTest | None:
    return session.scalar(select(SubjectTest).where(SubjectTest.campaign_id == campaign_id))


def save_test(session: Session, campaign: Campaign, data: SubjectTestData) -> SubjectTest:
    """Create or replace a draft campaign's test; ServiceError names every problem."""
    if not campaign.is_editable:
        raise ServiceError("The subject test can change only before sending starts.")
    problems: dict[str, str] = {}
    languages = {variant.language for variant in campaign.variants}
    subjects: dict[str, list[str]] = {}
    for language, lines in data.subjects.items():
        cleaned = [" ".join(line.split()) for line in lines if line.strip()]
        if language not in languages or not cleaned:
            continue
        field = f"{language}_subjects"
        if len(cleaned) < 2:
            problems[field] = "Give at least two subjects, one per line (or none)."
        elif len(cleaned) > MAX_SUBJECTS:
            problems[field] = f"Give at most {MAX_SUBJECTS} subjects."
        elif any(len(subject) > 300 for subject in cleaned):
            problems[field] = "A subject is longer than 300 characters."
        else:
            for subject in cleaned:
                try:
                    merge.text_environment().parse(subject)
                except TemplateSyntaxError as exc:
                    problems[field] = f"“{subject}”: {exc.message}"
        subjects[language] = cleaned
    if not subjects and not problems:
        problems["subjects"] = "Give two or more subjects for at least one language."
    if not 1 <= data.share_percent <= 100:
        problems["share_percent"] = "The test share is a percentage from 1 to 100."
    if not 1 <= data.wait_hours <= 168:
        problems["wait_hours"] = "Wait from 1 to 168 hours (a week)."
    if data.metric not in AB_METRICS:
        problems["metric"] = "Choose clicks or opens."
    if problems:
        raise ServiceError(
            "The subject test was not saved: " + " ".join(problems.values()), problems
        )
    test = find_test(session, campaign.id) or SubjectTest(campaign_id=campaign.id)
    test.subjects = subjects
    test.share_percent = data.share_percent
    test.wait_hours = data.wait_hours
    test.metric = data.metric
    test.auto_pick = data.auto_pick
    if data.metric == "opens":
        campaign.track_opens = True
    else:
        campaign.track_clicks = True
    session.add(test)
    session.flush()
    return test


def remove_test(session: Session, campaign: Campaign) -> None:
    if not campaign.is_editable:
        raise ServiceError("The subject test can change only before sending starts.")
    test = find_test(session, campaign.id)
    if test is not None:
        session.delete(test)
        session.flush()


def _variant_language(campaign: Campaign):
    languages = [variant.language for variant in campaign.variants]
    fallback = campaign.default_language if campaign.default_language in languages else None
    fallback = fallback or (languages[0] if languages else "en")
    return lambda language: language if language in languages else fallback


def _release(session: Session, ids: list[int], payload: dict | None, now: datetime) -> None:
    for start in range(0, len(ids), CHUNK):
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids[start : start + CHUNK]), OutboxMessage.status == "held")
            .values(status="queued", payload=payload, next_attempt_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )


def held_by_language(session: Session, campaign: Campaign) -> dict[str, list[int]]:
    """Held row ids per language of the variant they get, in id order."""
    language_of = _variant_language(campaign)
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.language)
        .where(OutboxMessage.campaign_id == campaign.id, OutboxMessage.status == "held")
        .order_by(OutboxMessage.id)
    )
    held: dict[str, list[int]] = defaultdict(list)
    for row_id, language in rows:
        held[language_of(language)].append(row_id)
    return held


def split(ids: list[int], subjects: int, share_percent: int, seed: int) -> list[list[int]]:
    """The test groups: `share_percent` of `ids` (at least one row per subject when there are
    enough), shuffled with `seed`, dealt in turn to each subject."""
    size = round(len(ids) * share_percent / 100)
    size = min(len(ids), max(size, subjects))
    chosen = list(ids)
    random.Random(seed).shuffle(chosen)
    chosen = chosen[:size]
    return [sorted(chosen[i::subjects]) for i in range(subjects)]


def start(session: Session, test: SubjectTest, now: datetime | None = None) -> bool:
    """Queue the test groups (and untested languages) once every row exists; True if done now."""
    now = now or utcnow()
    campaign = session.get(Campaign, test.campaign_id)
    if campaign is None or campaign.status != "sending" or campaign.enqueued_at is None:
        return False
    claimed = session.execute(
        update(SubjectTest)
        .where(SubjectTest.id == test.id, SubjectTest.started_at.is_(None))
        .values(started_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return False
    for language, ids in held_by_language(session, campaign).items():
        subjects = (test.subjects or {}).get(language) or []
        if len(subjects) < 2:
            _release(session, ids, None, now)
            continue
        for index, group in enumerate(split(ids, len(subjects), test.share_percent, campaign.id)):
            _release(session, group, {"subject": index, "test": True}, now)
    session.flush()
    session.refresh(test)
    return True


def group_results(session: Session, test: SubjectTest) -> dict[str, list[dict]]:
    """Per tested language and subject: rows sent in the test, unique opens and clicks."""
    rows = session.execute(
        select(
            OutboxMessage.id, OutboxMessage.language, OutboxMessage.status, OutboxMessage.payload
        ).where(OutboxMessage.campaign_id == test.campaign_id, OutboxMessage.payload.is_not(None))
    ).all()
    language_of = _variant_language(session.get(Campaign, test.campaign_id))
    clicked = set(
        session.scalars(
            select(distinct(Click.outbox_id))
            .join(OutboxMessage, OutboxMessage.id == Click.outbox_id)
            .where(OutboxMessage.campaign_id == test.campaign_id)
        )
    )
    opened = set(
        session.scalars(
            select(distinct(Open.outbox_id))
            .join(OutboxMessage, OutboxMessage.id == Open.outbox_id)
            .where(OutboxMessage.campaign_id == test.campaign_id)
        )
    )
    results: dict[str, list[dict]] = {}
    for language, subjects in (test.subjects or {}).items():
        results[language] = [
            {"subject": subject, "rows": 0, "sent": 0, "opens": 0, "clicks": 0}
            for subject in subjects
        ]
    for row_id, language, status, payload in rows:
        if not isinstance(payload, dict) or not payload.get("test"):
            continue
        groups = results.get(language_of(language))
        index = payload.get("subject")
        if groups is None or not isinstance(index, int) or not 0 <= index < len(groups):
            continue
        group = groups[index]
        group["rows"] += 1
        group["sent"] += status == "sent"
        group["opens"] += row_id in opened
        group["clicks"] += row_id in clicked
    return results


def winners_by_metric(test: SubjectTest, results: dict[str, list[dict]]) -> dict[str, int]:
    """Per language, the subject with the most unique clicks or opens (ties: the first)."""
    return {
        language: max(range(len(groups)), key=lambda i: (groups[i][test.metric], -i))
        for language, groups in results.items()
        if groups
    }


def decide(
    session: Session,
    test: SubjectTest,
    winners: dict[str, int] | None = None,
    *,
    by: str = "auto",
    now: datetime | None = None,
) -> bool:
    """Choose the winners (given by staff, else by the metric) and queue the held rows."""
    now = now or utcnow()
    if test.started_at is None:
        raise ServiceError("The test has not started yet: its groups are not sent.")
    if test.decided_at is not None:
        raise ServiceError("A winner was already chosen.")
    campaign = session.get(Campaign, test.campaign_id)
    if campaign.status not in ("sending", "paused"):
        raise ServiceError(f"A {campaign.status} campaign sends no more messages.")
    chosen = winners_by_metric(test, group_results(session, test))
    for language, index in (winners or {}).items():
        subjects = (test.subjects or {}).get(language) or []
        if not isinstance(index, int) or not 0 <= index < len(subjects):
            raise ServiceError(f"Choose one of the {language} subjects.", {language: "Choose."})
        chosen[language] = index
    claimed = session.execute(
        update(SubjectTest)
        .where(SubjectTest.id == test.id, SubjectTest.decided_at.is_(None))
        .values(decided_at=now, winners=chosen, decided_by=by)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise ServiceError("A winner was already chosen.")
    for language, ids in held_by_language(session, campaign).items():
        index = chosen.get(language)
        _release(session, ids, {"subject": index} if index is not None else None, now)
    session.flush()
    session.refresh(test)
    return True


def due_to_decide(test: SubjectTest, now: datetime) -> bool:
    return (
        test.auto_pick
        and test.started_at is not None
        and test.decided_at is None
        and test.started_at + timedelta(hours=test.wait_hours) <= now
    )


def run_subject_tests(session: Session, now: datetime | None = None) -> list[str]:
    """The scheduler job: start tests whose rows all exist, decide those whose wait is over."""
    now = now or utcnow()
    done: list[str] = []
    tests = session.scalars(
        select(SubjectTest)
        .join(Campaign, Campaign.id == SubjectTest.campaign_id)
        .where(Campaign.status == "sending", SubjectTest.decided_at.is_(None))
    ).all()
    for test in tests:
        if test.started_at is None:
            if start(session, test, now):
                session.commit()
                done.append(f"started {test.campaign_id}")
            else:
                session.rollback()
        elif due_to_decide(test, now):
            try:
                decide(session, test, now=now)
            except ServiceError:
                session.rollback()
                continue
            session.commit()
            done.append(f"decided {test.campaign_id}")
    return done


register_job("campaigns.ab-tests", run_subject_tests, seconds=30)
