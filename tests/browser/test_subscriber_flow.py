"""A stakeholder subscribes in French, confirms from the email, changes preferences, leaves."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, screenshot

EMAIL = "awa.ndiaye@example.org"
LINK = re.compile(r"https?://\S+")


def text_part(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_a_stakeholder_subscribes_in_french_confirms_changes_preferences_and_unsubscribes(
    page, live
):
    page.goto("/fr/subscribe")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Abonnez-vous à nos informations sur l'EPU")
    screenshot(page, "public-subscribe-fr")
    page.get_by_label("Adresse e-mail").fill(EMAIL)
    page.get_by_label("Prénom").fill("Awa")
    page.get_by_label("Nom", exact=True).fill("Ndiaye")
    page.get_by_label("Organisation", exact=True).fill("Droits Devant")
    page.get_by_label("Lettre d'information").check()
    page.get_by_label("Alertes d'échéances").check()
    page.get_by_label("Pays d'intérêt").select_option(["HT", "TG"])
    page.get_by_label("Toutes les sessions à venir").check()
    page.get_by_label("Langue préférée").select_option("fr")
    page.get_by_role("checkbox", name=re.compile("notice de confidentialité|politique")).check()
    page.get_by_role("button", name="S'abonner").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Consultez votre messagerie")
    messages = live.mail.wait_for(lambda _: bool(live.mail.to(EMAIL)))
    [confirmation] = [m for m in messages if EMAIL in str(m["To"])]
    assert confirmation["Subject"].startswith("Confirmez votre abonnement")
    confirm_url = next(url for url in LINK.findall(text_part(confirmation)) if "/confirm/" in url)
    assert "/fr/confirm/" in confirm_url

    page.goto(confirm_url)
    assert_accessible(page)
    page.get_by_role("button", name="Confirmer mon abonnement").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Abonnement confirmé")
    page.get_by_role("link", name="Ouvrir mon centre de préférences").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Vos préférences")
    digest = page.get_by_role("checkbox", name="Résumé hebdomadaire", exact=True)
    expect(page.get_by_label("Lettre d'information")).to_be_checked()
    expect(digest).not_to_be_checked()
    screenshot(page, "public-preferences-fr")
    assert_accessible(page)
    digest.check()
    page.get_by_label("Lettre d'information").uncheck()
    page.get_by_label("Pays d'intérêt").select_option(["HT"])
    page.get_by_role("button", name="Enregistrer mes préférences").click()

    expect(page.get_by_role("status")).to_contain_text("Vos préférences sont enregistrées")
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Vos préférences")
    expect(digest).to_be_checked()
    expect(page.get_by_label("Lettre d'information")).not_to_be_checked()
    expect(page.get_by_label("Pays d'intérêt")).to_have_values(["HT"])

    page.get_by_role("link", name="Me désabonner de tout").click()
    page.get_by_role("button", name="Me désabonner de tout").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Votre désabonnement est enregistré")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    assert_accessible(page)
