"""The pre-session invitation starter: a draft in three languages written from the calendar."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from outreach.calendar.models import KeyDate, Review, UPRSession
from outreach.campaigns import starter
from outreach.campaigns.models import Campaign
from outreach.campaigns.rendering import PreparedCampaign, Recipient
from outreach.segments.models import Segment


@pytest.fixture
def session_36(db_session):
    """Session 36 as first planned (seed 002): WG in May 2020, pre-sessions 31 March-3 April
    (estimated here), registration deadline 31 January 2020 at 12:00 Geneva time."""
    upr_session = UPRSession(
        number=36,
        wg_start=datetime(2020, 5, 4).date(),
        wg_end=datetime(2020, 5, 15).date(),
        location="Geneva",
        reviews=[Review(country_code=code) for code in ("AD", "BY", "HR", "US", "MH")],
    )
    db_session.add(upr_session)
    db_session.flush()
    db_session.add_all([
        KeyDate(session=upr_session, kind="pre_session", all_day=True, estimated=True,
                starts_at=datetime(2020, 3, 30, 22, 0, tzinfo=UTC),  # 31 March, Geneva
                ends_at=datetime(2020, 4, 2, 22, 0, tzinfo=UTC)),    # 3 April, Geneva
        KeyDate(session=upr_session, kind="pre_session_application",
                starts_at=datetime(2020, 1, 31, 11, 0, tzinfo=UTC),
                url="https://www.upr-info.org/en/pre-sessions"),
    ])
    db_session.commit()
    return upr_session


def test_subjects_and_bodies_in_three_languages(app, session_36):
    english = starter.facts(session_36, "en")
    french = starter.facts(session_36, "fr")
    spanish = starter.facts(session_36, "es")
    assert starter.subject(english) == (
        "Invitation: pre-sessions of the 36th UPR session "
        "(31 March – 3 April 2020 (estimated date))"
    )
    assert starter.subject(french).startswith(
        "Invitation : pré-sessions de la 36e session de l'EPU"
    )
    assert starter.subject(spanish).startswith("Invitación: presesiones de la 36.ª sesión del EPU")

    body = starter.body(english)
    organisation = app.config["ORGANISATION_NAME"]
    assert body.startswith(
        f"{organisation} organises the **pre-sessions** of the 36th session of the Universal "
        "Periodic Review (May 2020) **31 March – 3 April 2020 (estimated date)**, in Geneva."
    )
    assert "**lasts one hour**" in body and "**5 to 7 minutes**" in body
    assert "all permanent missions are invited, including that of the State under review" in body
    assert "Andorra; Belarus; Croatia; Marshall Islands; United States" in body
    assert "The registration deadline is **31 January 2020, 12:00 (Geneva time)**." in body
    assert "[More information and registration](https://www.upr-info.org/en/pre-sessions)" in body
    assert f"## Who is {organisation}?" in body
    assert "UPR Info" not in body.replace("upr-info", "")

    corps = starter.body(french)
    assert "**du 31 mars au 3 avril 2020 (date estimée)**, à Genève" in corps
    assert "(mai 2020)" in corps
    assert "Andorre; Bélarus; Croatie; États-Unis; Îles Marshall" in corps
    assert (
        "La date limite d'inscription est le **31 janvier 2020, 12:00 (heure de Genève)**." in corps
    )
    assert "**dure une heure**" in corps and "**de 5 à 7 minutes**" in corps

    cuerpo = starter.body(spanish)
    assert "**del 31 de marzo al 3 de abril de 2020 (fecha estimada)**, en Ginebra" in cuerpo
    assert "(mayo de 2020)" in cuerpo


def test_missing_dates_are_announced_later(app, db_session):
    upr_session = UPRSession(number=70, status="projected", reviews=[Review(country_code="PA")])
    db_session.add(upr_session)
    db_session.flush()
    body = starter.body(starter.facts(upr_session, "en"))
    assert "on dates still to be announced" in body
    assert "The registration deadline will be announced soon." in body
    assert "not confirmed yet" in body
    assert starter.subject(starter.facts(upr_session, "en")) == (
        "Invitation: pre-sessions of the 70th UPR session"
    )


def test_ordinals():
    assert [starter.ordinal(n, "en") for n in (1, 2, 3, 4, 11, 12, 13, 21, 42, 53)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "42nd", "53rd",
    ]
    assert starter.ordinal(1, "fr") == "1re" and starter.ordinal(36, "fr") == "36e"
    assert starter.ordinal(36, "es") == "36.ª"


def test_the_starter_creates_a_draft_with_its_audience(db_session, session_36, admin_user):
    campaign = starter.create_pre_session_campaign(db_session, session_36, user=admin_user)
    db_session.commit()
    assert campaign.status == "draft" and campaign.topic == "pre_session"
    assert campaign.session_id == session_36.id
    assert campaign.name == "Pre-session invitation — session 36"
    assert [v.language for v in campaign.variants] == ["en", "es", "fr"]
    names = [segment.name for segment in campaign.segments]
    assert names == [
        "Permanent missions (all States)",
        "Session 36 — NGOs and NHRIs working on the States under review",
    ]
    assert campaign.segments[0].filters == {"types": ["permanent_mission"]}
    assert campaign.segments[1].filters == {
        "types": ["ngo", "nhri"], "session_under_review": 36,
    }
    # a second invitation reuses the segments
    again = starter.create_pre_session_campaign(db_session, session_36)
    db_session.commit()
    assert [s.id for s in again.segments] == [s.id for s in campaign.segments]
    assert db_session.scalar(select(func.count()).select_from(Segment)) == 2


def test_the_draft_renders(db_session, session_36):
    campaign = starter.create_pre_session_campaign(db_session, session_36)
    prepared = PreparedCampaign.prepare(db_session, campaign)
    rendered = prepared.render(Recipient(email="m@example.org", language="fr"),
                               unsubscribe_url="https://x/u/t", preferences_url="https://x/p/t")
    assert "<h2" in rendered.html and "Objectifs" in rendered.html
    assert "Objectifs\n---------" in rendered.text


def test_starter_pages(staff_client, db_session, session_36):
    session_page = staff_client.get("/sessions/36").get_data(as_text=True)
    assert "/campaigns/new/pre-session?session=36" in session_page
    page = staff_client.get("/campaigns/new/pre-session?session=36").get_data(as_text=True)
    assert "31 March – 3 April 2020 (estimated date)" in page
    assert "Permanent missions (all States)" in page
    response = staff_client.post("/campaigns/new/pre-session", data={"session": "36"})
    campaign = db_session.scalar(select(Campaign))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/campaigns/{campaign.id}/edit")
    edit = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Draft written from the calendar of session 36" in edit
    assert "Andorre; Bélarus" in edit


def test_starter_refuses_unknown_sessions(staff_client, session_36):
    assert staff_client.get("/campaigns/new/pre-session?session=99").status_code == 404
    assert staff_client.get("/campaigns/new/pre-session?session=x").status_code == 404
    response = staff_client.post("/campaigns/new/pre-session", data={})
    assert response.status_code == 400
    assert "Choose the session" in response.get_data(as_text=True)


def test_date_ranges_in_three_languages(app):
    from datetime import date

    from outreach.campaigns.merge import day_range

    assert day_range(date(2020, 10, 12), date(2020, 10, 13), "en") == "12–13 October 2020"
    assert day_range(date(2020, 10, 12), date(2020, 10, 13), "fr") == "12–13 octobre 2020"
    assert day_range(date(2020, 3, 31), date(2020, 4, 3), "es") == (
        "31 de marzo – 3 de abril de 2020"
    )
    assert day_range(date(2020, 12, 30), date(2021, 1, 2), "en") == (
        "30 December 2020 – 2 January 2021"
    )
    assert day_range(date(2020, 5, 4), None, "fr") == "4 mai 2020"


def test_a_range_within_one_month(app, db_session, session_36):
    pre = next(kd for kd in session_36.key_dates if kd.kind == "pre_session")
    pre.starts_at = datetime(2020, 10, 11, 22, 0, tzinfo=UTC)
    pre.ends_at = datetime(2020, 10, 12, 22, 0, tzinfo=UTC)
    pre.estimated = False
    assert "**du 12 au 13 octobre 2020**" in starter.body(starter.facts(session_36, "fr"))
    assert "**del 12 al 13 de octubre de 2020**" in starter.body(starter.facts(session_36, "es"))
    assert "**12–13 October 2020**" in starter.body(starter.facts(session_36, "en"))
