"""Maintenance, notifications and KPI pages in headless Chromium, on the demo data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from fleet.db import Database
from fleet.models import Asset, Moment, PromptState, SurveyKind, SurveyPrompt, User, Visit, VisitStatus
from tests.e2e.conftest import LiveServer, login_page

pytestmark = pytest.mark.browser


def _no_sideways_scroll(page: Any, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_hoa_president_asks_to_meet_the_technician_on_a_phone(
    browser: Any, live_portal: LiveServer, sqlite_demo_url: str, artifacts_dir: Path
) -> None:
    ctx = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, locale="en-GB"
    )
    page = ctx.new_page()
    login_page(page, live_portal.url, "hoa.belvedere@demo.example")
    page.locator("section.survey-card button.link").click() if page.locator(
        "section.survey-card"
    ).count() else None
    page.get_by_role("link", name="Rencontrer le technicien").first.click()
    page.wait_for_load_state()
    _no_sideways_scroll(page, 360)
    page.get_by_label("Une note pour le technicien (facultatif)").fill(
        "Je serai à la loge, <b>code</b> 2580."
    )
    button = page.get_by_role("button", name="Demander à rencontrer le technicien")
    box = button.bounding_box()
    assert box is not None
    assert box["height"] >= 44
    button.click()
    page.wait_for_load_state()
    assert "transmise au technicien" in page.locator(".flash").first.inner_text()
    assert "<b>code</b> 2580" in page.locator(".dispatch-note").inner_text()  # shown as typed, escaped
    page.screenshot(path=str(artifacts_dir / "maintenance-meet-request-phone.png"), full_page=True)
    db = Database(sqlite_demo_url)
    with db.session() as s:
        user = s.scalars(select(User).where(User.email == "hoa.belvedere@demo.example")).one()
        assert s.scalars(select(Visit).where(Visit.meet_requested_by == user.id)).first() is not None
    db.dispose()
    ctx.close()


def test_staff_plans_kpis_and_notification_choices(
    browser: Any, live_portal: LiveServer, sqlite_demo_url: str, artifacts_dir: Path
) -> None:
    db = Database(sqlite_demo_url)
    with db.session() as s:
        asset_id = s.scalars(select(Asset.id).where(Asset.mqtt_id == "ELV-0501")).one()
    db.dispose()
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = ctx.new_page()
    login_page(page, live_portal.url, "staff@demo.example")
    page.goto(f"{live_portal.url}/assets/{asset_id}")
    page.get_by_role("link", name="Maintenance plans").click()
    page.wait_for_load_state()
    before = page.locator("[data-plan-id]").count()
    page.get_by_label("Interval", exact=True).fill("30")  # months: more than two years
    page.get_by_label("What will be done").fill("Quarterly rope inspection")
    page.get_by_role("button", name="Add the plan").click()
    page.wait_for_load_state()
    assert "1 thing to correct" in page.locator(".flash-error").inner_text()
    assert "between 1 and 24" in page.locator("#error-interval").inner_text()  # beside its field
    assert page.get_by_label("Interval", exact=True).get_attribute("aria-invalid") == "true"
    assert page.get_by_label("What will be done").input_value() == "Quarterly rope inspection"  # nothing lost
    page.get_by_label("Interval", exact=True).fill("3")
    page.get_by_role("button", name="Add the plan").click()
    page.wait_for_load_state()
    assert page.locator("[data-plan-id]").count() == before + 1
    assert "every 3 months" in page.locator(".plans").inner_text()
    page.screenshot(path=str(artifacts_dir / "maintenance-plans-staff.png"), full_page=True)

    page.get_by_role("link", name="KPIs").click()
    page.wait_for_load_state()
    assert page.locator('tr[data-level="customer"]').count() == 2
    assert page.locator('tr[data-level="asset"]').count() == 30
    first = page.locator('tr[data-level="customer"]').first
    assert "%" in first.locator('[data-kpi="availability"]').inner_text()
    page.get_by_label("Period").select_option("365d")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    assert "period=365d" in page.url
    page.screenshot(path=str(artifacts_dir / "kpis-staff.png"), full_page=True)

    page.get_by_role("link", name="Notifications").first.click()
    page.wait_for_load_state()
    page.get_by_role("link", name="Choose what reaches you, and how").click()
    box = page.get_by_label("An outage starts on my equipment — In the portal")
    assert box.is_checked()
    box.uncheck()
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert not page.get_by_label("An outage starts on my equipment — In the portal").is_checked()
    page.screenshot(path=str(artifacts_dir / "notification-preferences.png"), full_page=True)
    ctx.close()


def test_the_question_on_a_page_of_its_own(
    browser: Any, live_portal: LiveServer, sqlite_demo_url: str
) -> None:
    db = Database(sqlite_demo_url)
    now = datetime.now(UTC)
    with db.session() as s:
        user = s.scalars(select(User).where(User.email == "fm.habitat@demo.example")).one()
        visit = s.scalars(select(Visit).where(Visit.status == VisitStatus.COMPLETED)).first()
        assert visit is not None
        prompt = SurveyPrompt(
            user_id=user.id,
            kind=SurveyKind.CSAT,
            moment=Moment.VISIT_COMPLETED,
            moment_key="visit:browser-test",
            moment_at=now - timedelta(hours=1),
            customer_id=user.customer_id,
            site_id=visit.asset.site_id,
            asset_id=visit.asset_id,
            state=PromptState.PENDING,
            created_at=now,
        )
        s.add(prompt)
        s.flush()
        pid = prompt.id
    db.dispose()
    ctx = browser.new_context(viewport={"width": 1024, "height": 800}, locale="en-GB")
    page = ctx.new_page()
    login_page(page, live_portal.url, "fm.habitat@demo.example")
    page.goto(f"{live_portal.url}/surveys/{pid}")
    page.get_by_role("button", name="Envoyer la réponse").click()  # nothing chosen: the browser asks first
    assert page.url.endswith(f"/surveys/{pid}")
    page.locator("label.scale-option").nth(1).click()
    page.get_by_role("button", name="Envoyer la réponse").click()
    page.wait_for_load_state()
    assert "Merci pour votre réponse" in page.locator(".flash").first.inner_text()
    ctx.close()
