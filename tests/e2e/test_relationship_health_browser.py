"""In Chromium, vendor staff work the relationships of the demo: the risk list puts Les
Tilleuls first with its reasons, staff open its outreach task (a meeting at the next visit),
record the outcome, and read the renewal view of the demo's two contracts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portal.app import create_app
from tests.conftest import make_settings
from tests.e2e.conftest import LiveServer, login_page

pytestmark = pytest.mark.browser


@pytest.fixture
def served(sqlite_demo_url: str) -> Iterator[LiveServer]:
    app = create_app(make_settings(sqlite_demo_url, login_max_failures_per_ip=10_000))
    with LiveServer(app) as server:
        yield server
    app.extensions["fleet.db"].dispose()


def test_staff_open_the_risk_list_and_record_an_outreach_outcome(
    browser: Any, served: LiveServer, artifacts_dir: Path
) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = ctx.new_page()
    login_page(page, served.url, "staff@demo.example")
    page.get_by_role("link", name="Relationships").click()
    page.wait_for_load_state()
    first = page.locator("table.risk-list tbody tr").first
    assert "Résidence Les Tilleuls" in first.inner_text()
    assert "latest CSAT low" in first.inner_text()
    page.screenshot(path=str(artifacts_dir / "health-risk-list.png"), full_page=True)
    first.get_by_role("link", name="outreach open").click()
    page.wait_for_load_state()
    assert page.locator("[data-channel]").get_attribute("data-channel") == "meet"
    page.get_by_role("group", name="Reached?").get_by_label("Yes").check()
    page.get_by_role("group", name="Cause found?").get_by_label("Yes").check()
    page.get_by_label("Action agreed").fill("Door operator replaced on Elevator B; call back in two weeks")
    page.get_by_role("button", name="Save the outcome").click()
    page.wait_for_load_state()
    assert page.locator("[data-status]").get_attribute("data-status") == "done"
    assert "Door operator replaced" in page.locator("dl.facts").inner_text()
    page.screenshot(path=str(artifacts_dir / "health-outreach-done.png"), full_page=True)
    page.get_by_role("link", name="Renewals").click()
    page.wait_for_load_state()
    rows = page.locator("table.renewals tbody tr")
    assert rows.count() == 2
    assert {rows.nth(i).locator("th").inner_text().split(" SC-")[0] for i in range(2)} == {
        "Lumière Immobilier",
        "Habitat Rhône-Léman",
    }
    page.screenshot(path=str(artifacts_dir / "health-renewals.png"), full_page=True)
    ctx.close()
