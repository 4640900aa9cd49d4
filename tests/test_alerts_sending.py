"""What alert and "deadline changed" emails say, in the recipient's language, and the worker
delivering them end to end to a real SMTP server."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from outreach.alerts.senders import DESCRIPTIONS, AlertSender, NoticeSender
from outreach.alerts.services import ensure_default_rules, run_alerts, send_change_notices
from outreach.calendar.timing import DEFAULT_DESCRIPTIONS
from outreach.campaigns.merge import key_date_label
from outreach.campaigns.rendering import Recipient
from outreach.core.timezones import local_date_at, local_today
from outreach.delivery.models import OutboxMessage
from outreach.delivery.outbox import ClaimedRow
from outreach.delivery.worker import SENDER_FACTORIES, SkipMessage, run_worker
from tests.test_alerts_support import (
    DEADLINE,
    alert_rows,
    frozen,
    geneva,
    make_key_date,
    make_upr_session,
    subscriber,
)

LINKS = {
    "unsubscribe_url": "https://outreach.example.org/u/TOKEN",
    "preferences_url": "https://outreach.example.org/fr/preferences/TOKEN",
}


def alert_row(language: str, pairs, contact_id: int = 1) -> ClaimedRow:
    return ClaimedRow(
        1,
        "alert",
        None,
        contact_id,
        "x@example.org",
        language,
        0,
        {"key_dates": [list(pair) for pair in pairs]},
    )


def senegal_and_mali(session):
    upr_session = make_upr_session(session, 50, ("SN", "ML", "FR"))
    submissions = make_key_date(
        session,
        upr_session,
        date(2026, 11, 30),
        estimated=True,
        description=DEFAULT_DESCRIPTIONS["stakeholder_submission"],
    )
    applications = make_key_date(
        session,
        upr_session,
        date(2026, 12, 3),
        "pre_session_application",
        description="Apply by email.",
    )
    session.commit()
    return submissions, applications


def test_the_senders_are_registered(app):
    assert SENDER_FACTORIES["alert"] is AlertSender
    assert SENDER_FACTORIES["notice"] is NoticeSender
    assert AlertSender.topic == NoticeSender.topic == "deadline_alerts"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            [
                "2 UPR deadlines close soon: first on Mon 30 Nov",
                "Monday 30 November 2026, 12:00 (Geneva time)",
                "6 days left",
                "Thursday 3 December 2026, 12:00 (Geneva time)",
                "9 days left",
                "Session 50",
                "States: Mali, Senegal",
                "estimated date",
                "Written contributions from NGOs and NHRIs",
                "Apply by email.",
                "How to take part: https://www.ohchr.org/en/hr-bodies/upr/ngos-nhris",
            ],
        ),
        (
            "fr",
            [
                "2 échéances de l'EPU approchent : la première le lun. 30 nov.",
                "lundi 30 novembre 2026, 12:00 (heure de Genève)",
                "encore 6 jours",
                "jeudi 3 décembre 2026",
                "Session 50",
                "États : Mali, Sénégal",
                "date estimée",
                "Date limite des contributions des parties prenantes",
                "Contributions écrites des ONG et des INDH",
                "Apply by email.",
            ],
        ),
        (
            "es",
            [
                "Se acercan 2 plazos del EPU: el primero, el lun 30 nov",
                "lunes 30 de noviembre de 2026, 12:00 (hora de Ginebra)",
                "quedan 6 días",
                "Sesión 50",
                "Estados: Malí, Senegal",
                "fecha estimada",
            ],
        ),
    ],
)
def test_an_alert_lists_every_deadline_in_the_recipient_language(
    app, db_session, language, expected
):
    submissions, applications = senegal_and_mali(db_session)
    recipient = Recipient("x@example.org", language, 1, country_code="SN", countries=("ML",))
    row = alert_row(language, [(applications.id, 7), (submissions.id, 7)])
    with frozen(geneva(2026, 11, 24, 9)):
        rendered = AlertSender(db_session, app).render(row, recipient, **LINKS)
    assert rendered.language == language
    text = rendered.subject + "\n" + rendered.text
    for piece in expected:
        assert piece in text, piece
    assert rendered.html.startswith("<!DOCTYPE html>") and 'style="' in rendered.html
    assert "France" not in rendered.text  # only the States the recipient works on
    assert LINKS["unsubscribe_url"] in rendered.html and LINKS["preferences_url"] in rendered.text
    # Soonest first, whatever the order of the row.
    assert rendered.text.index(key_date_label("stakeholder_submission", language)) < (
        rendered.text.index(key_date_label("pre_session_application", language))
    )


def test_one_deadline_names_it_in_the_subject_and_shows_the_current_date(app, db_session):
    submissions, _ = senegal_and_mali(db_session)
    sender = AlertSender(db_session, app)
    recipient = Recipient("x@example.org", "en", 1, country_code="FR")
    submissions.starts_at = local_date_at(date(2026, 12, 1), DEADLINE)  # moved after queueing
    db_session.commit()
    with frozen(geneva(2026, 11, 30, 9)):
        rendered = sender.render(alert_row("en", [(submissions.id, 1)]), recipient, **LINKS)
    assert rendered.subject == "UPR deadline on Tue 1 Dec: Stakeholder submissions deadline"
    assert "Tuesday 1 December 2026, 12:00 (Geneva time) - 1 day left" in rendered.text
    assert "States: France" in rendered.text


def test_an_alert_whose_key_dates_are_gone_is_skipped(app, db_session):
    with pytest.raises(SkipMessage, match="no longer exist"):
        AlertSender(db_session, app).render(
            alert_row("en", [(999, 7)]), Recipient("x@example.org"), **LINKS
        )


def test_a_notice_gives_the_old_and_the_new_date(app, db_session):
    submissions, _ = senegal_and_mali(db_session)
    row = ClaimedRow(
        2,
        "notice",
        None,
        1,
        "x@example.org",
        "fr",
        0,
        {"key_date_id": submissions.id, "old": "2026-11-27T11:00:00+00:00"},
    )
    rendered = NoticeSender(db_session, app).render(
        row, Recipient("x@example.org", "fr", 1, country_code="SN"), **LINKS
    )
    assert rendered.subject == (
        "Échéance de l'EPU déplacée : Date limite des contributions des parties prenantes"
    )
    assert "(session 50, Sénégal)" in rendered.text
    assert "Ancienne date : vendredi 27 novembre 2026, 12:00 (heure de Genève)" in rendered.text
    assert "Nouvelle date : lundi 30 novembre 2026, 12:00 (heure de Genève)" in rendered.text


def test_the_usual_descriptions_are_translated_from_the_calendar_ones(app):
    assert {kind: str(text) for kind, text in DESCRIPTIONS.items()} == DEFAULT_DESCRIPTIONS


def deliver(app):
    return run_worker(app, "alerts-test", once=True)


def test_the_worker_delivers_an_alert_in_french_with_list_unsubscribe(app, db_session, mail_server):
    ensure_default_rules(db_session)
    upr_session = make_upr_session(db_session, 50, ("SN",))
    today = local_today()
    key_date = make_key_date(db_session, upr_session, today + timedelta(days=7))
    eloise = subscriber(db_session, "eloise@example.org", language="fr", first_name="Éloïse")
    db_session.commit()

    report = run_alerts(db_session)
    db_session.commit()
    assert (report.recipients, report.alerts) == (1, 1)
    stats = deliver(app)

    assert stats.sent == 1
    [message] = mail_server.wait_for(1)
    assert message["To"] == "Éloïse <eloise@example.org>"
    assert message["Subject"].startswith("Échéance de l'EPU le ")
    assert message["Subject"].endswith(": Date limite des contributions des parties prenantes")
    assert message["Content-Language"] == "fr"
    unsubscribe = message["List-Unsubscribe"]
    public = app.config["PUBLIC_BASE_URL"].rstrip("/")
    assert unsubscribe.startswith(f"<{public}/u/") and "<mailto:unsubscribe@" in unsubscribe
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "<deadline-alerts.lists." in message["List-Id"]
    text = message.get_body(("plain",)).get_content()
    assert "encore 7 jours" in text and "États : Sénégal" in text
    assert "Se désabonner" in text
    html = message.get_body(("html",)).get_content()
    assert 'lang="fr"' in html
    row = alert_rows(db_session)[0]
    assert (row.status, row.contact_id) == ("sent", eloise.id)
    assert row.message_id == message["Message-ID"]
    assert row.payload == {"key_dates": [[key_date.id, 7]]}


def test_an_alert_to_someone_who_unsubscribed_meanwhile_is_skipped(app, db_session, mail_server):
    ensure_default_rules(db_session)
    upr_session = make_upr_session(db_session, 50, ("SN",))
    make_key_date(db_session, upr_session, local_today() + timedelta(days=7))
    contact = subscriber(db_session, "amina@example.org")
    db_session.commit()
    run_alerts(db_session)
    contact.subscription.status = "unsubscribed"
    db_session.commit()
    deliver(app)
    row = alert_rows(db_session)[0]
    assert row.status == "skipped" and "no longer mailable" in row.smtp_reply
    assert mail_server.messages == []


def test_the_worker_delivers_a_deadline_changed_notice(app, db_session, mail_server):
    ensure_default_rules(db_session)
    upr_session = make_upr_session(db_session, 50, ("SN",))
    today = local_today()
    key_date = make_key_date(db_session, upr_session, today + timedelta(days=7))
    subscriber(db_session, "amina@example.org")
    db_session.commit()
    run_alerts(db_session)
    db_session.commit()
    deliver(app)
    mail_server.wait_for(1)
    key_date.starts_at = local_date_at(today + timedelta(days=10), DEADLINE)
    db_session.commit()

    assert send_change_notices(db_session, key_date) == 1
    db_session.commit()
    deliver(app)
    _, notice = mail_server.wait_for(2)
    assert notice["Subject"] == "UPR deadline moved: Stakeholder submissions deadline"
    text = notice.get_body(("plain",)).get_content()
    new_day = today + timedelta(days=10)
    assert f"New date: {new_day:%A} {new_day.day} {new_day:%B %Y}, 12:00 (Geneva time)" in text
    row = db_session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "notice")).one()
    assert row.status == "sent"


def test_an_alert_delayed_past_all_its_deadlines_is_skipped(app, db_session):
    submissions, _ = senegal_and_mali(db_session)
    db_session.commit()
    sender = AlertSender(db_session, app)
    after = submissions.starts_at + timedelta(days=2)
    with frozen(after), pytest.raises(SkipMessage, match="has closed"):
        sender.render(
            alert_row("en", [(submissions.id, 1)]),
            Recipient("x@example.org", "en", 1, country_code="FR"),
            **LINKS,
        )
