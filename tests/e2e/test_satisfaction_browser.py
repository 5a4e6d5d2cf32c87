"""Surveys and the satisfaction dashboard in headless Chromium, on the demo's year of answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, login_page

pytestmark = pytest.mark.browser


def test_staff_read_scores_per_group_with_trends_and_drivers(
    browser: Any, live_portal: LiveServer, artifacts_dir: Path
) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="en-GB")
    page = ctx.new_page()
    login_page(page, live_portal.url, "staff@demo.example")
    page.get_by_role("link", name="Satisfaction").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Satisfaction by stakeholder group").is_visible()
    rows = page.locator(".groups-table tbody tr")
    assert rows.count() == 4
    assert [rows.nth(i).get_attribute("data-group") for i in range(4)] == [
        "facility_manager", "hoa_president", "field_technician", "resident",
    ]  # fmt: skip
    # every group scored on its own, counts beside the scores
    fm_csat = page.locator('tr[data-group="facility_manager"] td[data-measure="csat"]').inner_text()
    assert "%" in fm_csat
    assert "n = " in fm_csat
    # the technician group has very few answers: flagged, not hidden
    assert page.locator('tr[data-group="field_technician"] .small-sample').count() >= 1
    # month-by-month charts drawn, with a line per group that answered
    charts = page.locator("figure.svg-chart svg.trend")
    assert charts.count() == 3
    assert page.locator('svg.trend g[data-group="facility_manager"] polyline').count() >= 1
    assert page.locator('svg.trend g[data-group="resident"] circle').count() >= 6
    # what drives it: levers and the availability relationship beside each group
    fm = page.locator('article.driver[data-group="facility_manager"]')
    assert "%" in fm.locator('[data-lever="availability"]').inner_text()
    assert fm.locator("rect.bar").count() == 3
    assert fm.locator('[data-relation="csat"]').get_attribute("data-strength") != ""
    page.screenshot(path=str(artifacts_dir / "satisfaction-dashboard-staff.png"), full_page=True)

    # filter on one customer: fewer answers, same layout
    total = page.locator("p.muted.small", has_text="answers from").first.inner_text()
    page.get_by_label("Customer").select_option(label="Habitat Rhône-Léman")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    assert "customer=" in page.url
    assert page.locator("p.muted.small", has_text="answers from").first.inner_text() != total

    # the closed loop: open follow-ups, take one and close it with the outcome
    page.locator("a", has_text="open follow-up").first.click()
    page.wait_for_load_state()
    page.locator('tr[data-status="open"] a').first.click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="In the 30 days before").is_visible()
    page.get_by_label("Status").select_option("closed")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert "Say what came out of the call" in page.locator(".flash-error").inner_text()
    page.get_by_label("Status").select_option("closed")
    page.get_by_label("Outcome of the call").fill("Called back; explained the door lock fix.")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert page.locator("#fu-status").inner_text() == "Closed"
    page.screenshot(path=str(artifacts_dir / "satisfaction-follow-up-closed.png"), full_page=True)
    ctx.close()


def test_hoa_president_answers_the_question_on_a_phone(
    browser: Any, live_portal: LiveServer, artifacts_dir: Path
) -> None:
    ctx = browser.new_context(
        viewport={"width": 360, "height": 740}, locale="en-GB", is_mobile=True, has_touch=True
    )
    page = ctx.new_page()
    login_page(page, live_portal.url, "hoa.tilleuls@demo.example")  # a French-speaking account
    card = page.locator("section.survey-card")
    card.wait_for(state="visible")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    option = card.locator("label.scale-option").first.bounding_box()
    assert option is not None
    assert option["height"] >= 44
    assert option["width"] >= 44
    page.screenshot(path=str(artifacts_dir / "satisfaction-question-phone.png"), full_page=True)
    card.locator("label.scale-option").last.click()
    card.get_by_label("Quelque chose à ajouter ? (facultatif)").fill("Merci pour le suivi.")
    card.get_by_role("button", name="Envoyer la réponse").click()
    page.wait_for_load_state()
    assert "Merci pour votre réponse" in page.locator(".flash").first.inner_text()
    # at most one question a day: none on the next page
    page.reload()
    assert page.locator("section.survey-card").count() == 0
    # HOA presidents have no aggregated view
    assert page.goto(f"{live_portal.url}/satisfaction").status == 403
    ctx.close()
