"""Subscribe, confirm by the emailed link, change preferences, unsubscribe: end to end.

Confirmation messages go through a real SMTP server on loopback (`mail_server`); the links are
read from the messages received.
"""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from sqlalchemy import func, select

from outreach.contacts.models import Contact
from outreach.core.database import utcnow
from outreach.core.tokens import verify
from outreach.subscriptions.audience import mailable_conditions
from outreach.subscriptions.models import (
    ConsentRecord,
    Subscription,
    SubscriptionTopic,
    Suppression,
)
from outreach.subscriptions.services import UNSUBSCRIBE, preferences_token, unsubscribe_token
from tests.factories import make_contact, make_suppression

SUBJECTS = {
    "en": "Confirm your subscription to Outreach",
    "fr": "Confirmez votre abonnement à Outreach",
    "es": "Confirme su suscripción a Outreach",
}
BUTTONS = {
    "en": "Confirm my subscription",
    "fr": "Confirmer mon abonnement",
    "es": "Confirmar mi suscripción",
}
CONFIRMED = {
    "en": "your subscription is active",
    "fr": "votre abonnement est actif",
    "es": "su suscripción está activa",
}


def text_of(response) -> str:
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(body)).replace("\u00a0", " ")


def form(**changes) -> dict:
    data = {
        "email": "amina.diallo@example.org",
        "first_name": "Amina",
        "last_name": "Diallo",
        "organisation": "Droits Devant",
        "contact_type": "ngo",
        "countries": ["TG", "BJ"],
        "sessions_mode": "all",
        "topics": ["newsletter", "deadline_alerts"],
        "language": "en",
        "consent": "y",
        "website": "",
    }
    data.update(changes)
    return data


def confirm_path(message) -> str:
    text = message.get_body(("plain",)).get_content()
    url = re.search(r"https?://\S+/confirm/\S+", text).group(0)
    return urlsplit(url).path


def contact_by_email(db_session, email: str) -> Contact | None:
    db_session.expire_all()
    return db_session.scalar(select(Contact).where(Contact.email == email))


def consent_actions(db_session, contact: Contact) -> list[tuple[str, str]]:
    records = db_session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.email_hash == contact.email_hash)
        .order_by(ConsentRecord.id)
    )
    return [(record.action, record.source) for record in records]


def mailable(db_session, contact: Contact, topic: str = "newsletter") -> bool:
    db_session.expire_all()
    stmt = select(Contact.id).where(Contact.id == contact.id, *mailable_conditions(topic))
    return db_session.scalar(stmt) is not None


def confirmed_contact(db_session, email="li.wei@example.org", language="en") -> Contact:
    contact = make_contact(db_session, email, language=language, countries=("FR",))
    contact.subscription = Subscription(
        status="confirmed",
        confirm_nonce=1,
        confirmed_at=utcnow(),
        topic_links=[SubscriptionTopic(topic="newsletter")],
    )
    db_session.commit()
    return contact


# -- subscribe and confirm


@pytest.mark.parametrize("lang", ["en", "fr", "es"])
def test_subscribe_then_confirm_in_each_language(client, db_session, mail_server, lang):
    response = client.post(f"/{lang}/subscribe", data=form(language=lang))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/{lang}/subscribe/check-email"

    contact = contact_by_email(db_session, "amina.diallo@example.org")
    assert contact.subscription.status == "pending"
    assert not mailable(db_session, contact)  # unconfirmed: never mailed

    (message,) = mail_server.wait_for(1)
    assert message["To"] == "amina.diallo@example.org"
    assert message["Subject"] == SUBJECTS[lang]
    assert message["Content-Language"] == lang
    assert "List-Unsubscribe" not in message
    assert "List-Unsubscribe-Post" not in message
    html_part = message.get_body(("html",)).get_content()
    assert f'<html lang="{lang}">' in html_part
    assert "<style" not in html_part and 'style="' in html_part  # CSS inlined
    assert BUTTONS[lang] in html_part
    text_part = message.get_body(("plain",)).get_content()
    assert BUTTONS[lang] in text_part
    assert "7" in text_part

    path = confirm_path(message)
    assert path.startswith(f"/{lang}/confirm/")
    page = client.get(path)
    assert page.status_code == 200
    assert page.text.count("<button") == 1
    assert BUTTONS[lang] in text_of(page)
    assert contact_by_email(db_session, "amina.diallo@example.org").subscription.status == (
        "pending"
    )  # a GET (a mail scanner) changes nothing

    done = client.post(path)
    assert done.status_code == 200
    assert CONFIRMED[lang] in text_of(done)
    assert f"/{lang}/preferences/" in done.get_data(as_text=True)

    contact = contact_by_email(db_session, "amina.diallo@example.org")
    assert contact.subscription.status == "confirmed"
    assert contact.subscription.topics == ["deadline_alerts", "newsletter"]
    assert contact.language == lang
    assert sorted(contact.all_countries) == ["BJ", "TG"]
    assert consent_actions(db_session, contact) == [("subscribe", "form"), ("confirm", "form")]
    record = db_session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)).first()
    assert record.ip_address == "127.0.0.1"
    assert record.privacy_notice_version
    assert mailable(db_session, contact)

    again = client.post(path)
    assert again.status_code == 200
    assert {"en": "already used", "fr": "déjà été utilisé", "es": "ya se utilizó"}[lang] in (
        text_of(again)
    )
    assert len(consent_actions(db_session, contact)) == 2


def test_known_address_gets_the_same_answer_and_the_same_email(client, db_session, mail_server):
    known = make_contact(db_session, "known@example.org", first_name="Kofi", language="en")
    known.subscription = Subscription(status="confirmed", confirm_nonce=1)
    db_session.commit()

    new = client.post("/fr/subscribe", data=form(email="new@example.org", language="fr"))
    old = client.post(
        "/fr/subscribe", data=form(email="Known@Example.org", first_name="Mallory", language="fr")
    )
    assert (new.status_code, new.headers["Location"]) == (old.status_code, old.headers["Location"])
    assert client.get(new.headers["Location"]).data == client.get(old.headers["Location"]).data

    first, second = mail_server.wait_for(2)
    assert first["Subject"] == second["Subject"] == SUBJECTS["fr"]

    def shape(message):
        text = message.get_body(("plain",)).get_content()
        return re.sub(r"/confirm/\S+", "/confirm/TOKEN", text)

    assert shape(first) == shape(second)
    assert "Mallory" not in second.get_body(("html",)).get_content()
    known = contact_by_email(db_session, "known@example.org")
    assert known.first_name == "Kofi"  # nothing changes before the link is opened
    assert known.language == "en"


def test_unsubscribed_address_can_subscribe_again(client, db_session, mail_server):
    contact = confirmed_contact(db_session, "back@example.org")
    token = unsubscribe_token(contact)
    client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert db_session.scalar(select(func.count(Suppression.id))) == 1

    client.post("/en/subscribe", data=form(email="back@example.org"))
    (message,) = mail_server.wait_for(1)
    assert message["Subject"] == SUBJECTS["en"]
    client.post(confirm_path(message))

    contact = contact_by_email(db_session, "back@example.org")
    assert contact.subscription.status == "confirmed"
    assert db_session.scalar(select(func.count(Suppression.id))) == 0
    assert consent_actions(db_session, contact)[-1] == ("resubscribe", "form")


def test_expired_link_offers_a_new_one(client, db_session, mail_server):
    client.post("/es/subscribe", data=form(language="es"))
    (message,) = mail_server.wait_for(1)
    path = confirm_path(message)

    with time_machine.travel(datetime.now(UTC) + timedelta(days=8)):
        page = client.get(path)
        assert page.status_code == 200
        assert "Este enlace ha caducado" in text_of(page)
        token = path.rsplit("/", 1)[1]
        assert f'name="token" value="{token}"' in page.get_data(as_text=True)

        refused = client.post(path)
        assert "Este enlace ha caducado" in text_of(refused)
        contact = contact_by_email(db_session, "amina.diallo@example.org")
        assert contact.subscription.status == "pending"

        renewed = client.post("/es/confirm/renew", data={"token": token})
        assert renewed.status_code == 200
        assert "hemos enviado un nuevo enlace" in text_of(renewed)
        first, second = mail_server.wait_for(2)
        assert second["Subject"] == SUBJECTS["es"]
        new_path = confirm_path(second)
        assert new_path != path

        done = client.post(new_path)
        assert CONFIRMED["es"] in text_of(done)
    contact = contact_by_email(db_session, "amina.diallo@example.org")
    assert contact.subscription.status == "confirmed"


def test_renew_answers_the_same_page_for_anything(client, mail_server):
    for token in ("", "garbage", "x" * 500):
        response = client.post("/fr/confirm/renew", data={"token": token})
        assert response.status_code == 200
        assert "nous avons envoyé un nouveau lien" in text_of(response)
    assert mail_server.messages == []


def test_tampered_link_shows_a_generic_page(client, db_session, mail_server):
    client.post("/en/subscribe", data=form())
    (message,) = mail_server.wait_for(1)
    path = confirm_path(message)
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")

    for response in (client.get(tampered), client.post(tampered)):
        assert response.status_code == 400
        page = text_of(response)
        assert "This link is not valid" in page
        assert "amina" not in page.lower() and "Diallo" not in page

    contact = contact_by_email(db_session, "amina.diallo@example.org")
    wrong_purpose = f"/en/confirm/{preferences_token(contact)}"
    assert client.post(wrong_purpose).status_code == 400
    assert contact_by_email(db_session, "amina.diallo@example.org").subscription.status == (
        "pending"
    )


# -- bad input


def test_honeypot_answers_the_thank_you_page_and_does_nothing(client, db_session, mail_server):
    response = client.post("/en/subscribe", data=form(website="http://spam.example"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/en/subscribe/check-email"
    assert db_session.scalar(select(func.count(Contact.id))) == 0
    assert db_session.scalar(select(func.count(ConsentRecord.id))) == 0
    assert mail_server.messages == []


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"consent": ""}, "Veuillez accepter la politique de confidentialité pour vous abonner."),
        ({"email": "amina.diallo@"}, "Saisissez une adresse e-mail valide"),
        ({"email": ""}, "Saisissez votre adresse e-mail."),
        ({"countries": ["TG", "XX"]}, "Choisissez des pays dans la liste."),
        ({"topics": []}, "Choisissez au moins un type de message."),
        ({"sessions_mode": "chosen"}, "Choisissez au moins une session"),
    ],
)
def test_bad_input_shows_what_to_fix_and_keeps_what_was_typed(
    client, db_session, mail_server, changes, error
):
    response = client.post(
        "/fr/subscribe",
        data=form(first_name="Zoé", organisation="Ligue des droits", language="fr", **changes),
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert error in text_of(response)
    assert "Veuillez corriger les champs signalés ci-dessous." in text_of(response)
    assert 'value="Zoé"' in page
    assert 'value="Ligue des droits"' in page
    if changes.get("email", "x"):
        assert f'value="{changes.get("email", "amina.diallo@example.org")}"' in page
    assert '<option selected value="TG">Togo</option>' in page
    assert db_session.scalar(select(func.count(Contact.id))) == 0
    assert mail_server.messages == []


def test_odd_characters_never_break_the_form(client, db_session, mail_server):
    response = client.post(
        "/en/subscribe",
        data=form(first_name="Zo\x00é", organisation="A\x00B", email="josé@exämple.org"),
    )
    assert response.status_code == 302
    contact = contact_by_email(db_session, "josé@exämple.org")
    assert contact is not None
    assert contact.first_name == "Zoé"
    assert contact.organisation.name == "AB"
    for data in (
        form(sessions_mode="chosen", sessions=["abc"]),
        form(language="xx", contact_type="zz", topics=["bogus"]),
        form(email="a" * 400 + "@example.org"),
        {},
    ):
        assert client.post("/en/subscribe", data=data).status_code == 400


def test_subscribe_rate_limit_answers_429_in_the_page_language(database_url, tmp_path):
    from outreach import create_app
    from outreach.extensions import db, limiter

    limited = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=database_url,
        DEV_MAIL_DIR=str(tmp_path),
        RATELIMIT_ENABLED=True,
        SUBSCRIBE_RATE_LIMIT="3 per hour",
    )
    try:
        limiter.reset()
        client = limited.test_client()
        statuses = [
            client.post("/fr/subscribe", data=form(consent="")).status_code for _ in range(4)
        ]
        assert statuses == [400, 400, 400, 429]
        blocked = client.post("/fr/subscribe", data=form(consent=""))
        assert blocked.status_code == 429
        assert "Trop de tentatives" in text_of(blocked)
        assert client.get("/fr/subscribe").status_code == 200  # only the POST is limited
    finally:
        limiter.reset()
        limiter.enabled = False  # the shared limiter, as the testing config leaves it
        with limited.app_context():
            db.engine.dispose()


# -- preference centre


def test_preference_centre_changes_topics_language_and_pause(client, db_session):
    contact = confirmed_contact(db_session)
    token = preferences_token(contact)
    assert mailable(db_session, contact)

    page = client.get(f"/en/preferences/{token}")
    assert page.status_code == 200
    assert "li.wei@example.org" in text_of(page)
    assert re.search(r'<input checked[^>]*name="topics"[^>]*value="newsletter"', page.text)
    assert '<option selected value="FR">France</option>' in page.text

    response = client.post(
        f"/en/preferences/{token}",
        data={
            "language": "es",
            "countries": ["TG"],
            "sessions_mode": "all",
            "topics": ["pre_session", "digest"],
            "alert_frequency": "weekly",
            "pause_weeks": "4",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/es/preferences/{token}"
    saved = client.get(response.headers["Location"])
    assert "Sus preferencias se han guardado" in text_of(saved)
    assert "Sus mensajes están en pausa hasta el" in text_of(saved)
    assert 'value="4"' in saved.text

    contact = contact_by_email(db_session, "li.wei@example.org")
    subscription = contact.subscription
    assert subscription.topics == ["digest", "pre_session"]
    assert subscription.alert_frequency == "weekly"
    assert contact.language == "es"
    assert contact.all_countries == ["TG"]
    assert timedelta(days=27) < subscription.paused_until - utcnow() <= timedelta(weeks=4)
    assert consent_actions(db_session, contact)[-1] == ("preference_change", "form")
    assert not mailable(db_session, contact, "pre_session")  # paused: the next send skips it

    client.post(
        f"/es/preferences/{token}",
        data={
            "language": "es",
            "sessions_mode": "all",
            "topics": ["pre_session"],
            "alert_frequency": "none",
            "pause_weeks": "0",
        },
    )
    assert mailable(db_session, contact, "pre_session")
    assert not mailable(db_session, contact, "newsletter")


def test_preference_centre_rejects_bad_values(client, db_session):
    token = preferences_token(confirmed_contact(db_session))
    response = client.post(
        f"/fr/preferences/{token}",
        data={
            "language": "fr",
            "sessions_mode": "all",
            "topics": [],
            "pause_weeks": "99",
            "alert_frequency": "immediate",
        },
    )
    assert response.status_code == 400
    page = text_of(response)
    assert "Indiquez un nombre de semaines entre 0 et 52." in page
    contact = contact_by_email(db_session, "li.wei@example.org")
    assert contact.subscription.topics == ["newsletter"]


def test_preference_centre_for_an_inactive_subscription(client, db_session):
    contact = make_contact(db_session, "pending@example.org")
    contact.subscription = Subscription(status="pending")
    db_session.commit()
    page = client.get(f"/fr/preferences/{preferences_token(contact)}")
    assert page.status_code == 200
    assert "Votre abonnement n'est pas actif" in text_of(page)
    assert 'href="/fr/subscribe"' in page.text


def test_preference_centre_links_to_unsubscribe(client, db_session):
    contact = confirmed_contact(db_session)
    page = client.get(f"/fr/preferences/{preferences_token(contact)}")
    # The token carries its signing second: compare what it says, not its text.
    (token,) = re.findall(r'href="/fr/unsubscribe/([^"]+)"', page.text)
    assert verify(UNSUBSCRIBE, token) == verify(UNSUBSCRIBE, unsubscribe_token(contact))
    confirm = client.get(f"/fr/unsubscribe/{token}")
    assert "Me désabonner de tout" in text_of(confirm)
    done = client.post(f"/fr/unsubscribe/{token}")
    assert "Votre désabonnement est enregistré" in text_of(done)
    assert contact_by_email(db_session, "li.wei@example.org").subscription.status == (
        "unsubscribed"
    )


# -- unsubscribe


def test_unsubscribe_page_has_one_button_in_the_contact_language(client, db_session):
    contact = confirmed_contact(db_session, language="fr")
    page = client.get(f"/u/{unsubscribe_token(contact)}", headers={"Accept-Language": "es"})
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text
    assert page.text.count("<button") == 1
    assert "Me désabonner de tout" in text_of(page)
    assert mailable(db_session, contact)  # a GET changes nothing

    done = client.post(f"/u/{unsubscribe_token(contact)}")
    assert done.status_code == 200
    assert "Votre désabonnement est enregistré" in text_of(done)
    assert not mailable(db_session, contact)
    assert consent_actions(db_session, contact)[-1] == ("unsubscribe", "form")


@pytest.mark.parametrize("multipart", [False, True])
def test_one_click_unsubscribe(client, db_session, multipart):
    contact = confirmed_contact(db_session)
    assert mailable(db_session, contact)
    url = f"/u/{unsubscribe_token(contact)}"
    kwargs = {"content_type": "multipart/form-data"} if multipart else {}

    for _ in range(2):  # idempotent
        response = client.post(url, data={"List-Unsubscribe": "One-Click"}, **kwargs)
        assert response.status_code == 200
        assert response.mimetype == "text/plain"
        assert "Location" not in response.headers
        assert "Set-Cookie" not in response.headers

    contact = contact_by_email(db_session, "li.wei@example.org")
    assert contact.subscription.status == "unsubscribed"
    entries = db_session.scalars(select(Suppression)).all()
    assert [(e.email_hash, e.reason) for e in entries] == [(contact.email_hash, "unsubscribed")]
    assert consent_actions(db_session, contact) == [("unsubscribe", "email")]
    for topic in ("newsletter", "deadline_alerts", None):
        assert not mailable(db_session, contact, topic)  # campaigns and alerts skip it


def test_one_click_for_a_contact_added_by_staff(client, db_session):
    contact = make_contact(db_session, "staff-added@example.org")
    db_session.commit()
    assert mailable(db_session, contact)
    response = client.post(
        f"/u/{unsubscribe_token(contact)}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert not mailable(db_session, contact)


def test_one_click_with_an_invalid_token_is_a_400(client, db_session):
    contact = confirmed_contact(db_session)
    bad = unsubscribe_token(contact)[:-2] + "zz"
    response = client.post(f"/u/{bad}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 400
    assert client.post(f"/u/{preferences_token(contact)}").status_code == 400
    assert db_session.scalar(select(func.count(Suppression.id))) == 0
    assert mailable(db_session, contact)


@pytest.fixture
def csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


def test_with_csrf_only_one_click_and_subscribe_go_without_a_token(client, db_session, csrf_on):
    contact = confirmed_contact(db_session, language="es")
    url = f"/u/{unsubscribe_token(contact)}"

    refused = client.post(url)
    assert refused.status_code == 400
    assert "Hay un problema con esta solicitud" in text_of(refused)
    assert mailable(db_session, contact)

    page = client.get(url)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    done = client.post(url, data={"csrf_token": token})
    assert done.status_code == 200
    assert not mailable(db_session, contact)

    other = confirmed_contact(db_session, email="other@example.org")
    mailbox_provider = client.application.test_client()  # no cookie, no token
    one_click = mailbox_provider.post(
        f"/u/{unsubscribe_token(other)}", data={"List-Unsubscribe": "One-Click"}
    )
    assert one_click.status_code == 200
    assert not mailable(db_session, other)

    cross_site = {"Origin": "https://elsewhere.example"}
    refused = client.post("/es/subscribe", data=form(language="es"), headers=cross_site)
    assert refused.status_code == 400


def test_a_complainer_gets_the_same_answer_and_no_email(client, db_session, mail_server):
    make_contact(db_session, "angry@example.org")
    make_suppression(db_session, "angry@example.org", reason="complaint")
    db_session.commit()

    blocked = client.post("/en/subscribe", data=form(email="angry@example.org"))
    fresh = client.post("/en/subscribe", data=form(email="fresh@example.org"))
    assert blocked.headers["Location"] == fresh.headers["Location"]
    messages = mail_server.wait_for(1)
    time.sleep(0.3)  # a message to the blocked address would have arrived first
    assert [m["To"] for m in messages] == ["fresh@example.org"]


def test_an_impossible_session_number_is_a_form_error(client, db_session, mail_server):
    response = client.post(
        "/en/subscribe", data=form(sessions_mode="chosen", sessions=["99999999999"])
    )
    assert response.status_code == 400
    assert contact_by_email(db_session, "amina.diallo@example.org") is None
