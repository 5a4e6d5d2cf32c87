"""The feedback box in headless Chromium: a resident on a phone writes, staff see it arrive
live on their open portfolio, answer, and the resident reads the answer through their link."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Stack, login_page, wait_joined

pytestmark = pytest.mark.browser


def test_resident_feedback_reaches_staff_live_and_the_answer_comes_back(
    browser: Any, stack: Stack, artifacts_dir: Path
) -> None:
    target = stack.asset("ELV-0102")
    staff_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    staff = staff_ctx.new_page()
    login_page(staff, stack.portal.url, "staff@demo.example")
    staff.goto(f"{stack.portal.url}/portfolio?site={target.site_id}")
    wait_joined(staff)
    counter = staff.locator(f'[data-live-feedback="{target.id}"]')
    before = int(counter.inner_text() or 0) if counter.is_visible() else 0

    phone = browser.new_context(
        viewport={"width": 360, "height": 740}, locale="fr-FR", is_mobile=True, has_touch=True
    )
    resident = phone.new_page()
    resident.goto(f"{stack.portal.url}/r/{target.public_token}")
    assert resident.evaluate("document.documentElement.scrollWidth") <= 360
    resident.get_by_label("Votre message").fill("Les portes se rouvrent sans arrêt au 3e étage")
    resident.get_by_label("Sujet (facultatif)").select_option("doors")
    resident.locator("label.rating-option", has_text="2").click()
    box = resident.locator("label.rating-option").first.bounding_box()
    assert box is not None
    assert box["height"] >= 44  # a touch target
    resident.screenshot(path=str(artifacts_dir / "feedback-resident-phone.png"), full_page=True)
    resident.get_by_role("button", name="Envoyer").click()
    resident.wait_for_load_state()
    assert "/feedback/" in resident.url
    assert "Les portes se rouvrent" in resident.locator("blockquote").inner_text()
    reader_url = resident.url

    # the staff page counts it without a reload
    counter.wait_for(state="visible", timeout=2_000)
    assert int(counter.inner_text()) == before + 1
    staff.screenshot(path=str(artifacts_dir / "feedback-staff-portfolio-live.png"))

    staff.goto(f"{stack.portal.url}/feedback?unread=1")
    staff.locator(".feedback-inbox a", has_text="Les portes se rouvrent").first.click()
    staff.wait_for_load_state()
    assert staff.locator('[data-topic="doors"]').count() == 1
    staff.get_by_label("Reply").fill("Un technicien passe demain matin pour régler les portes.")
    staff.get_by_role("button", name="Send reply").click()
    staff.wait_for_load_state()
    staff.get_by_label("Status", exact=True).select_option("in_progress")
    staff.get_by_role("button", name="Change status").click()
    staff.wait_for_load_state()
    staff.screenshot(path=str(artifacts_dir / "feedback-staff-item.png"), full_page=True)

    resident.goto(reader_url)
    assert "Un technicien passe demain matin" in resident.locator(".thread").inner_text()
    assert "En cours" in resident.locator(".fb-status").inner_text()
    resident.screenshot(path=str(artifacts_dir / "feedback-resident-answer.png"), full_page=True)
    phone.close()
    staff_ctx.close()
