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


def test_staff_change_the_points_per_factor(browser: Any, served: LiveServer, artifacts_dir: Path) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = ctx.new_page()
    login_page(page, served.url, "staff@demo.example")
    page.goto(served.url + "/health/points")
    inputs = page.locator("table.health-points input[type=number]")
    for i in range(inputs.count()):
        inputs.nth(i).fill("0")
    page.get_by_label("Breakdowns per unit").fill("90")
    page.get_by_role("button", name="Save the points").click()
    page.wait_for_load_state()
    assert "add up to 90; they must add up to 100" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Breakdowns per unit").input_value() == "90"  # kept
    page.get_by_label("No answer in 180 days").fill("10")
    page.get_by_role("button", name="Save the points").click()
    page.wait_for_load_state()
    assert page.locator("[data-source]").get_attribute("data-source") == "staff"
    assert page.get_by_label("Breakdowns per unit").input_value() == "90"
    page.screenshot(path=str(artifacts_dir / "health-points.png"), full_page=True)
    page.get_by_role("button", name="Go back to the suggestion").click()
    page.wait_for_load_state()
    assert page.locator("[data-source]").get_attribute("data-source") != "staff"
    ctx.close()


def test_a_facility_manager_ranks_us_among_their_providers_on_a_phone(
    browser: Any, served: LiveServer, sqlite_demo_url: str, artifacts_dir: Path
) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import select

    from fleet.db import Database
    from fleet.models import Moment, SurveyKind, SurveyPrompt, SurveyResponse, User

    db = Database(sqlite_demo_url)
    now = datetime.now(UTC)
    with db.session() as s:
        fm = s.scalars(select(User).where(User.email == "fm@demo.example")).one()
        prompt = SurveyPrompt(user_id=fm.id, kind=SurveyKind.NPS, moment=Moment.PERIODIC,
                              moment_key="nps:browser", moment_at=now, customer_id=fm.customer_id,
                              created_at=now)  # fmt: skip
        s.add(prompt)
        s.flush()
        prompt_id = prompt.id
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB", is_mobile=True)
    page = ctx.new_page()
    login_page(page, served.url, "fm@demo.example")
    page.goto(f"{served.url}/surveys/{prompt_id}")
    page.locator("label.scale-option").filter(has_text="9").click()
    # Claire Martin reads the portal in French: the fields by name, the words in her language
    assert "plusieurs prestataires" in page.locator("fieldset.survey-ranking legend").inner_text()
    page.locator("select[name=providers]").select_option("3")
    page.locator("select[name=provider_rank]").select_option("2")
    page.screenshot(path=str(artifacts_dir / "survey-provider-ranking-phone.png"), full_page=True)
    page.get_by_role("button", name="Envoyer la réponse").click()
    page.wait_for_load_state()
    with db.session() as s:
        answer = s.scalars(select(SurveyResponse).where(SurveyResponse.prompt_id == prompt_id)).one()
        assert (answer.score, answer.providers, answer.provider_rank) == (9, 3, 2)
    db.dispose()
    ctx.close()
