"""Staff import contacts, segment a session's States, compose, preview and send a campaign.

The campaign goes through the real scheduler and delivery worker to the SMTP server on loopback:
every contact of the segment gets exactly one message, in their language, and the campaign page
shows the progress reaching 100%. It runs on SQLite, and again on PostgreSQL when it answers.
"""

from __future__ import annotations

import re
import time
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, missing, screenshot
from tests.browser.live import live_outreach
from tests.reliability.campaign import postgres_wanted, scratch_database

DATABASES = ["sqlite", "postgresql"] if postgres_wanted() else ["sqlite"]

# Session 54 reviews Togo, Haiti and Iceland among others, not Switzerland.
CSV = """\
email,first_name,last_name,organisation,type,country,language
ama.mensah@togo.example.org,Ama,Mensah,Togo Rights Watch,ngo,TG,en
jean.pierre@haiti.example.org,Jean,Pierre,Droits Haïti,ngo,HT,fr
sigrun.jons@iceland.example.org,Sigrún,Jónsdóttir,Réttindi,nhri,IS,en
not-an-address,Bad,Email,,ngo,TG,en
marie.dupont@geneva.example.org,Marie,Dupont,Alliance Genève,ngo,CH,fr
lost.country@togo.example.org,Lost,Country,,ngo,Atlantis,en
"""
IN_SEGMENT = {
    "ama.mensah@togo.example.org": "en",
    "jean.pierre@haiti.example.org": "fr",
    "sigrun.jons@iceland.example.org": "en",
}
OUTSIDE = "marie.dupont@geneva.example.org"
SUBJECTS = {"en": "UPR 54: your next steps", "fr": "EPU 54 : vos prochaines étapes"}


@pytest.fixture(scope="module", params=DATABASES)
def live(request, tmp_path_factory):
    """The session's live app (SQLite), or one of this module's own on PostgreSQL."""
    if request.param == "sqlite":
        yield request.getfixturevalue("live_sqlite")
        return
    if reason := missing():
        pytest.skip(reason)
    directory = tmp_path_factory.mktemp("live-postgresql")
    with scratch_database("postgresql", directory) as url, live_outreach(directory, url) as app:
        yield app


def import_contacts(page, tmp_path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text(CSV, encoding="utf-8")
    page.goto("/contacts/import")
    page.get_by_label("CSV file").set_input_files(path)
    page.get_by_role("button", name="Import").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Import report")
    expect(page.locator("[data-count=created]")).to_have_text("4")
    expect(page.locator("[data-count=rejected]")).to_have_text("2")
    rejected = page.get_by_role("table").filter(has_text="Reason")
    expect(rejected.get_by_role("row")).to_have_count(3)
    expect(rejected.get_by_role("row").nth(1)).to_contain_text("5")
    expect(rejected.get_by_role("row").nth(1)).to_contain_text("not-an-address")
    expect(rejected.get_by_role("row").nth(2)).to_contain_text("7")
    expect(rejected.get_by_role("row").nth(2)).to_contain_text("Atlantis")
    screenshot(page, "staff-import-report")
    assert_accessible(page)


def build_segment(page) -> None:
    page.goto("/segments")
    page.get_by_role("link", name="New segment").first.click()
    page.get_by_label("Name", exact=True).fill("Session 54 States")
    page.get_by_label("States under review in session").select_option("54")
    page.get_by_role("button", name="Preview count").click()
    expect(page.get_by_label("States under review in session")).to_have_value("54")
    screenshot(page, "staff-segment-editor")
    assert_accessible(page)
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Session 54 States")
    for address in IN_SEGMENT:
        expect(page.get_by_text(address)).to_be_visible()
    expect(page.get_by_text(OUTSIDE)).to_have_count(0)


def write_version(page, language: str, name: str, body: str) -> None:
    include = page.get_by_label(f"Include the {name} version")
    if not include.is_visible():
        page.locator(f"#version-{language} summary").click()
    include.check()
    page.get_by_label(f"{name} subject").fill(SUBJECTS[language])
    page.get_by_label(f"{name} body (Markdown)").fill(body)


def compose_campaign(page) -> None:
    page.goto("/campaigns")
    page.get_by_role("link", name="New campaign").first.click()
    page.get_by_label("Name", exact=True).fill("Session 54 briefing")
    page.get_by_label("Sender name").fill("UPR Info")
    page.get_by_label("Sender address").fill("news@mail.example.org")
    page.get_by_label("Default language").select_option("en")
    page.get_by_label("Segments").select_option(label="Session 54 States")
    write_version(
        page, "en", "English", "Dear {{ contact.first_name }},\n\nThe review is coming **soon**."
    )
    write_version(
        page, "fr", "French", "Bonjour {{ contact.first_name }},\n\nL'examen approche **bientôt**."
    )
    screenshot(page, "staff-campaign-editor")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Session 54 briefing")
    expect(page.locator("[data-audience-total]")).to_have_text("3")
    screenshot(page, "staff-campaign-draft")
    assert_accessible(page)


def preview(page) -> None:
    page.get_by_role("link", name="Preview", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Preview")
    page.get_by_label("Version").select_option("fr")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("[data-subject]")).to_have_text(SUBJECTS["fr"])
    expect(page.locator("[data-text-part]")).to_contain_text("L'examen approche")
    screenshot(page, "staff-campaign-preview")
    assert_accessible(page)
    page.get_by_role("link", name="Session 54 briefing").click()


def follow_until_done(page, timeout: float = 45):
    """Follow the campaign page as staff do, with its Refresh link, until the progress is 100%."""
    summary = page.locator("[data-progress-summary]")
    refresh = page.get_by_role("link", name=re.compile(r"^(Refresh|Reload the page)"))
    deadline = time.monotonic() + timeout
    while not (summary.count() and "(100%)" in summary.inner_text()):
        assert time.monotonic() < deadline, f"not finished: {page.inner_text('main')}"
        page.wait_for_timeout(1000)
        if refresh.count():
            refresh.first.click()
        else:
            page.reload()
    return summary


def test_staff_import_segment_compose_preview_schedule_and_see_it_delivered(
    staff_page, live, tmp_path
):
    page = staff_page
    import_contacts(page, tmp_path)
    build_segment(page)
    compose_campaign(page)
    preview(page)

    tomorrow = date.today() + timedelta(days=1)
    page.get_by_label("Date (Geneva)").fill(tomorrow.isoformat())
    page.get_by_label("Time (Geneva)").fill("09:30")
    page.get_by_role("button", name="Schedule", exact=True).click()
    expect(page.get_by_text(re.compile(r"Scheduled for .* 09:30 \(Geneva time\)"))).to_be_visible()

    page.get_by_role("link", name="Send now…").click()
    expect(page.get_by_text("3 recipients")).to_be_visible()
    page.get_by_role("button", name="Yes, send now").click()

    summary = follow_until_done(page)
    expect(summary).to_contain_text("3 of 3 messages done (100%): 3 sent")
    expect(page.get_by_role("progressbar", name="Messages done")).to_have_attribute(
        "aria-valuenow", "100"
    )
    screenshot(page, "staff-campaign-sent")
    assert_accessible(page)

    received = live.mail.wait_for(lambda _: all(live.mail.to(a) for a in IN_SEGMENT))
    for address, language in IN_SEGMENT.items():
        messages = live.mail.to(address)
        assert len(messages) == 1, f"{address} received {len(messages)} messages"
        assert messages[0]["Subject"] == SUBJECTS[language]
    assert not live.mail.to(OUTSIDE), [m["Subject"] for m in received]
    french = live.mail.to("jean.pierre@haiti.example.org")[0]
    assert re.search(r"Bonjour Jean", french.get_body(preferencelist=("plain",)).get_content())
