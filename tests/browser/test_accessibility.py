"""axe-core finds no serious or critical accessibility problem on the main pages.

Each page is checked as it first shows and, for the main forms, after a submission with mistakes
(error messages must stay tied to their fields). A screenshot of each page is saved.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, screenshot

PUBLIC_PAGES = {
    "public-subscribe-en": "/en/subscribe",
    "public-subscribe-es": "/es/subscribe",
    "public-privacy-fr": "/fr/privacy",
    "public-check-email": "/en/subscribe/check-email",
    "public-invalid-link": "/en/confirm/not-a-token",
    "public-archive": "/archive",
}
STAFF_PAGES = {
    "staff-home": "/",
    "staff-contacts": "/contacts",
    "staff-contact-new": "/contacts/new",
    "staff-organisations": "/organisations",
    "staff-import": "/contacts/import",
    "staff-segments": "/segments",
    "staff-segment-new": "/segments/new",
    "staff-campaigns": "/campaigns",
    "staff-campaign-new": "/campaigns/new",
    "staff-deadlines": "/deadlines",
    "staff-sessions": "/sessions",
    "staff-session-54": "/sessions/54",
    "staff-alerts": "/alerts",
    "staff-news": "/feeds",
    "staff-suppressions": "/suppressions",
    "staff-bounces": "/bounces",
}


def check(page, name: str) -> None:
    page.wait_for_load_state("load")
    screenshot(page, name)
    assert_accessible(page)


@pytest.mark.parametrize("name", PUBLIC_PAGES)
def test_public_page(module_page, name):
    module_page.goto(PUBLIC_PAGES[name])
    check(module_page, name)


def test_sign_in_page_and_its_error(page):
    page.goto("/login")
    check(page, "staff-sign-in")
    page.get_by_label("Email").fill("nobody@example.org")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert").first).to_be_visible()
    check(page, "staff-sign-in-error")


def test_subscribe_form_with_mistakes(module_page):
    page = module_page
    page.goto("/en/subscribe")
    page.get_by_label("Email address").fill("not an address")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_label("Email address")).to_have_accessible_description(
        re.compile("valid email address")
    )
    check(page, "public-subscribe-errors")


@pytest.mark.parametrize("name", STAFF_PAGES)
def test_staff_page(module_staff_page, name):
    module_staff_page.goto(STAFF_PAGES[name])
    check(module_staff_page, name)


def test_staff_forms_with_mistakes(module_staff_page):
    page = module_staff_page
    for url, button, name in (
        ("/contacts/new", "Create contact", "staff-contact-errors"),
        ("/segments/new", "Save segment", "staff-segment-errors"),
        ("/campaigns/new", "Save draft", "staff-campaign-errors"),
    ):
        page.goto(url)
        page.get_by_role("button", name=button).click()
        expect(page.get_by_role("alert").first).to_contain_text(re.compile("correct|fix"))
        check(page, name)


@pytest.mark.parametrize(
    ("path", "label"),
    [("/fr/subscribe", "Aller au contenu"), ("/login", "Skip to content")],
)
def test_the_first_tab_stop_skips_to_the_content(module_page, path, label):
    page = module_page
    page.goto(path)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name=label)
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("main :focus")).to_have_count(1)
