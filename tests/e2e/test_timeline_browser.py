"""The outage timeline, live on a resident's phone in headless Chromium: the sensors report a
breakdown, staff dispatch a technician, the technician checks in on the phone, the
elevator reports back in service — each step appears on the open page without a reload."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import Stack, login_page, wait_joined

pytestmark = pytest.mark.browser


def _step_done(page: Any, step: str, timeout: float = 5_000) -> None:
    page.locator(f'[data-step="{step}"][data-done="true"]').wait_for(state="attached", timeout=timeout)


def test_resident_follows_the_repair_live(browser: Any, stack: Stack, artifacts_dir: Path) -> None:
    target = stack.asset("ELV-0301")  # Les Tilleuls: on the demo technician's route
    phone = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, locale="fr-FR"
    )
    resident = phone.new_page()
    resident.goto(f"{stack.portal.url}/r/{target.public_token}")
    wait_joined(resident)
    assert resident.locator('[data-step="detected"]').count() == 0  # no breakdown yet

    # 1. the sensors see the breakdown
    stack.publish_status("ELV-0301", "out_of_service", "door_lock")
    _step_done(resident, "detected")
    assert resident.locator('[data-step="assigned"][data-done="false"]').count() == 1
    assert "par les capteurs" in resident.locator(".timeline").inner_text()

    # 2. vendor staff dispatch the technician with an arrival time
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    staff = desk.new_page()
    login_page(staff, stack.portal.url, "staff@demo.example")
    staff.goto(f"{stack.portal.url}/outages")
    row = staff.locator("tr[data-outage-id]", has=staff.locator(f'a[href="/assets/{target.id}"]'))
    eta = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(minutes=45)).strftime("%Y-%m-%dT%H:%M")
    row.locator("select[name=technician_id]").select_option(label="Karim Benali")
    row.locator("input[name=eta]").fill(eta)
    row.get_by_role("button", name="Assign").click()
    staff.wait_for_load_state()
    _step_done(resident, "assigned")
    assert "Karim" in resident.locator('[data-step="assigned"]').inner_text()

    # 3. the technician checks in on the phone: on site, and the outage goes on
    tech_ctx = browser.new_context(
        viewport={"width": 390, "height": 800}, is_mobile=True, has_touch=True, locale="en-GB"
    )
    tech = tech_ctx.new_page()
    login_page(tech, stack.portal.url, "tech@demo.example")
    tech.goto(f"{stack.portal.url}/visits")
    card = tech.locator(".visit-card", has_text=target.name).filter(has_text="Repair")
    card.get_by_role("button", name="Check in").click()
    tech.wait_for_load_state()
    _step_done(resident, "on_site")
    assert resident.locator('[data-step="restored"][data-done="false"]').count() == 1
    resident.screenshot(path=str(artifacts_dir / "timeline-resident-on-site.png"), full_page=True)

    # 4. fixed: the elevator reports back in service, and the people are asked
    stack.publish_status("ELV-0301", "in_service")
    _step_done(resident, "restored")
    _step_done(resident, "asked")
    resident.screenshot(path=str(artifacts_dir / "timeline-resident-restored.png"), full_page=True)

    # staff read the same timeline on the outage's own page
    staff.goto(f"{stack.portal.url}/outages")
    staff.locator("li", has_text=target.name).get_by_role("link", name=target.name).first.click()
    staff.wait_for_load_state()
    assert "/outages/" in staff.url
    assert staff.locator('.timeline [data-done="true"]').count() == 5
    staff.screenshot(path=str(artifacts_dir / "timeline-outage-page-staff.png"), full_page=True)

    # the technician writes the report; the HOA president can read it
    tech.goto(f"{stack.portal.url}/visits")
    tech.locator(".visit-card", has_text=target.name).get_by_role("link").last.click()
    tech.get_by_label("Work done").fill("Door lock contact replaced and tested.")
    tech.get_by_label("Parts replaced (optional)").fill("1 door lock contact")
    tech.get_by_role("button", name="Check out").click()
    tech.wait_for_load_state()
    assert "Checked out" in tech.locator(".flash").first.inner_text()
    for ctx in (phone, desk, tech_ctx):
        ctx.close()
