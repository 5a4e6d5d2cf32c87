"""Long lists in headless Chromium: a large portfolio's KPI table by site, and a work list
that shows its first rows and says how many more (the demo's lists are short, so the limits
are lowered for the test)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portal.assets import views
from tests.e2e.conftest import LiveServer, login_page

pytestmark = pytest.mark.browser


def test_a_facility_manager_reads_kpis_by_site_then_one_site_s_units(
    browser: Any, live_portal: LiveServer, artifacts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "KPI_UNIT_ROWS", 10)  # Lumière's 16 units count as a large portfolio
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = ctx.new_page()
    login_page(page, live_portal.url, "fm@demo.example")  # Claire Martin reads French
    page.goto(f"{live_portal.url}/kpis")
    assert page.locator('tr[data-level="asset"]').count() == 0
    assert page.locator('tr[data-level="site"]').count() == 2
    assert "16 équipements : choisissez un site" in page.locator("main").inner_text()
    site = page.locator('tr[data-level="site"] th a').first
    name = site.inner_text()
    site.click()
    page.wait_for_load_state()
    assert "site=" in page.url
    assert f"Équipements de {name}." in page.locator("main").inner_text()
    assert page.locator('tr[data-level="site"]').count() == 1
    assert page.locator('tr[data-level="customer"]').count() == 0  # one site's figures are not the customer's
    assert page.locator('tr[data-level="asset"]').count() >= 1
    page.screenshot(path=str(artifacts_dir / "kpis-one-site-fm.png"), full_page=True)
    page.get_by_role("link", name="Tous les sites").click()
    page.wait_for_load_state()
    assert page.locator('tr[data-level="site"]').count() == 2
    ctx.close()


def test_staff_see_the_first_rows_of_each_tier_and_follow_the_rest_to_the_portfolio(
    browser: Any, live_portal: LiveServer, artifacts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "WORK_SHOWN", 1)
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-GB", is_mobile=True)
    page = ctx.new_page()
    login_page(page, live_portal.url, "staff@demo.example")
    page.goto(f"{live_portal.url}/work")
    down = page.locator("section", has=page.locator("#down-h"))
    assert down.locator("li.work-item").count() == 1
    assert "more" in down.locator("p.work-more").inner_text()
    page.screenshot(path=str(artifacts_dir / "work-list-capped-staff.png"), full_page=True)
    down.get_by_role("link", name="see them in the portfolio").click()
    page.wait_for_load_state()
    assert "state=out_of_service" in page.url
    assert page.locator("tbody tr").count() >= 2  # every unit out of service, not only the one shown
    ctx.close()
