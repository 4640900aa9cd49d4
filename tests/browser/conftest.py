"""Fixtures of the browser tests: a live Outreach, Debian's Chromium driven by Playwright, axe-core.

Chromium is `/usr/bin/chromium` (`make browser-deps` installs it; Playwright never downloads a
browser) and axe-core comes from `tests/browser/node_modules` (`npm ci --prefix tests/browser`).
Every test here is marked `browser`. Screenshots go to `build/screenshots/`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.live import LiveOutreach, live_outreach

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
HERE = Path(__file__).resolve().parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = HERE.parents[1] / "build" / "screenshots"
TIMEOUT_MS = 15_000  # for actions and assertions alike: the machine may be busy

expect.set_options(timeout=TIMEOUT_MS)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if Path(str(item.fspath)).is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


def missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: run `make browser-deps`"
    if not AXE.exists():
        return f"{AXE} is missing: run `make browser-deps`"
    return None


@pytest.fixture(scope="session")
def live_sqlite(tmp_path_factory) -> Iterator[LiveOutreach]:
    """The live app on SQLite, shared by the whole session (one per xdist worker)."""
    if reason := missing():
        pytest.skip(reason)
    with live_outreach(tmp_path_factory.mktemp("live")) as outreach:
        yield outreach


@pytest.fixture(scope="session")
def live(live_sqlite) -> LiveOutreach:
    """The live app the tests use; a module may override it (another database)."""
    return live_sqlite


@pytest.fixture(scope="session")
def browser():
    if reason := missing():
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


def new_context(browser, live):
    """A fresh browser profile on the live app; CSP bypassed so that axe-core can be injected."""
    context = browser.new_context(
        base_url=live.base_url,
        bypass_csp=True,
        viewport={"width": 1280, "height": 900},
        locale="en-GB",
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def context(browser, live):
    context = new_context(browser, live)
    yield context
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()


def sign_in(page, live: LiveOutreach) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(live.staff_email)
    page.get_by_label("Password").fill(live.staff_password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


@pytest.fixture
def staff_page(page, live):
    """A page signed in as an editor."""
    sign_in(page, live)
    return page


@pytest.fixture(scope="module")
def module_page(browser, live):
    """One page for a whole module, for tests that only look at pages."""
    context = new_context(browser, live)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def module_staff_page(browser, live):
    """One page signed in as an editor for a whole module."""
    context = new_context(browser, live)
    page = context.new_page()
    sign_in(page, live)
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as a test artefact: build/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict]:
    """Run axe-core (WCAG 2.x A and AA rules) on the page; the violations of the given impacts."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => await axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                            'best-practice']},
            resultTypes: ['violations'],
        })"""
    )
    return [v for v in result["violations"] if v["impact"] in impacts]


def describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            lines.append(f"    {node['target']}: {node['failureSummary']}")
    return "\n".join(lines)


def assert_accessible(page) -> None:
    """No serious or critical axe-core violation on the page as it is now."""
    violations = axe_violations(page)
    assert not violations, f"{page.url}:\n{describe(violations)}"
