"""Public pages: language from the URL, translated text, switcher, form choices, error pages."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest

from outreach.calendar.models import Review, UPRSession


def text_of(response) -> str:
    """The page's visible text, entities decoded and spaces collapsed."""
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(body)).replace("\u00a0", " ")


@pytest.mark.parametrize(
    ("header", "lang"),
    [("fr-CH,fr;q=0.9,en;q=0.5", "fr"), ("es-ES,es;q=0.9", "es"), ("de-DE,de", "en"), ("", "en")],
)
def test_bare_subscribe_redirects_to_browser_language(client, header, lang):
    response = client.get("/subscribe", headers={"Accept-Language": header} if header else {})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/{lang}/subscribe"


def test_other_languages_are_not_found(client):
    assert client.get("/de/subscribe").status_code == 404
    assert client.get("/fr/subscribe").status_code == 200


@pytest.mark.parametrize(
    ("lang", "sentences"),
    [
        (
            "en",
            [
                "Subscribe to our UPR updates",
                "Universal Periodic Review (UPR)",
                "National human rights institution (NHRI)",
                "Germany",
                "Deadline alerts",
            ],
        ),
        (
            "fr",
            [
                "S'abonner",
                "Abonnez-vous à nos informations sur l'EPU",
                "Examen périodique universel (EPU)",
                "parties prenantes",
                "Institution nationale des droits de l'homme (INDH)",
                "Allemagne",
                "Alertes d'échéances",
                "Que souhaitez-vous recevoir ?",
            ],
        ),
        (
            "es",
            [
                "Suscribirse",
                "Suscríbase a nuestras novedades sobre el EPU",
                "Examen Periódico Universal (EPU)",
                "instituciones nacionales de derechos humanos",
                "Institución nacional de derechos humanos (INDH)",
                "Alemania",
                "Alertas de plazos",
                "¿Qué desea recibir?",
            ],
        ),
    ],
)
def test_subscribe_page_is_translated(client, lang, sentences):
    response = client.get(f"/{lang}/subscribe")
    assert response.status_code == 200
    assert f'<html lang="{lang}">' in response.get_data(as_text=True)
    page = text_of(response)
    for sentence in sentences:
        assert sentence in page
    if lang != "en":
        assert "Subscribe to our UPR updates" not in page
        assert "Email address" not in page


def test_form_has_honeypot_and_consent_link(client):
    body = client.get("/fr/subscribe").get_data(as_text=True)
    honeypot = re.search(r"<input[^>]*name=\"website\"[^>]*>", body).group(0)
    assert 'tabindex="-1"' in honeypot and 'autocomplete="off"' in honeypot
    assert 'href="/fr/privacy"' in body
    assert '<option selected value="fr">Français</option>' in body  # the page's language


def test_language_switcher_links_to_the_same_page(client):
    body = client.get("/es/privacy").get_data(as_text=True)
    assert 'href="/en/privacy" hreflang="en"' in body
    assert 'href="/fr/privacy" hreflang="fr"' in body
    assert re.search(r'href="/es/privacy" hreflang="es" lang="es" aria-current="true"', body)


@pytest.mark.parametrize(
    ("lang", "sentence"),
    [
        ("en", "Only to send you the Universal Periodic Review (UPR) information"),
        ("fr", "Uniquement pour vous envoyer les informations sur l'Examen périodique universel"),
        ("es", "Solo para enviarle la información sobre el Examen Periódico Universal"),
    ],
)
def test_privacy_notice(app, client, lang, sentence):
    app.config["PRIVACY_NOTICE_VERSION"], saved = "2031-04", app.config["PRIVACY_NOTICE_VERSION"]
    try:
        page = text_of(client.get(f"/{lang}/privacy"))
    finally:
        app.config["PRIVACY_NOTICE_VERSION"] = saved
    assert sentence in page
    assert "2031-04" in page


def test_check_email_page_is_translated(client):
    page = text_of(client.get("/es/subscribe/check-email"))
    assert "Revise su correo electrónico" in page
    assert "en un plazo de 7 días" in page


def test_sessions_to_choose_are_upcoming_with_states_and_projected_mark(client, db_session):
    today = date.today()
    upcoming = UPRSession(
        number=54,
        wg_start=today + timedelta(days=60),
        wg_end=today + timedelta(days=71),
        status="projected",
    )
    upcoming.reviews = [Review(country_code=code) for code in ("TG", "IS", "HT")]
    current = UPRSession(
        number=53, wg_start=today - timedelta(days=3), wg_end=today + timedelta(days=5)
    )
    past = UPRSession(
        number=52, wg_start=today - timedelta(days=90), wg_end=today - timedelta(days=80)
    )
    db_session.add_all([upcoming, current, past])
    db_session.commit()

    page = text_of(client.get("/fr/subscribe"))
    assert re.search(r"Session 54 · du .+? · 3 États · prévisionnelle", page)
    assert re.search(r"Session 53 · du .+? · 0 État ", page)
    assert "Session 52" not in page
    assert "Sesión 54" in text_of(client.get("/es/subscribe"))


def test_without_upcoming_sessions_the_form_says_so(client):
    page = text_of(client.get("/en/subscribe"))
    assert "No upcoming session is in our calendar yet" in page


def test_invalid_links_answer_a_generic_page_in_the_browser_language(client):
    for url in ("/fr/confirm/garbage", "/fr/preferences/garbage", "/fr/unsubscribe/garbage"):
        response = client.get(url)
        assert response.status_code == 400
        assert "Ce lien n'est pas valide" in text_of(response)
    response = client.get("/u/garbage", headers={"Accept-Language": "es"})
    assert response.status_code == 400
    assert "Este enlace no es válido" in text_of(response)


def test_public_pages_need_no_login(client):
    for url in ("/en/subscribe", "/en/privacy", "/en/subscribe/check-email"):
        assert client.get(url).status_code == 200


def test_staff_pages_stay_english(client):
    response = client.get("/login", headers={"Accept-Language": "fr"})
    assert "Sign in to Outreach" in text_of(response)
