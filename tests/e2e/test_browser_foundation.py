"""Login, portfolio, detail and resident pages in headless Chromium, with screenshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from portal.db import Database
from portal.demo import DEMO_PASSWORD
from portal.models import Asset
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.browser

# demo account -> number of assets in its scope (written out from the demo portfolio)
ASSET_COUNTS = {
    "fm@demo.example": 16,
    "fm.habitat@demo.example": 14,
    "hoa.tilleuls@demo.example": 3,
    "tech@demo.example": 17,
    "staff@demo.example": 30,
}


def _login(page: Any, base: str, email: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(f"{base}/auth/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


@pytest.mark.parametrize("email", sorted(ASSET_COUNTS))
def test_each_demo_user_sees_exactly_their_assets(
    browser: Any, live_portal: LiveServer, artifacts_dir: Path, email: str
) -> None:
    """Log in through the form and count the rows of the portfolio."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _login(page, live_portal.url, email)
    page.wait_for_url(f"{live_portal.url}/")
    rows = page.locator("table.assets tbody tr[data-asset-id]")
    assert rows.count() == ASSET_COUNTS[email]
    assert page.get_by_role("heading", name="Portfolio").is_visible()
    page.screenshot(
        path=str(artifacts_dir / f"portfolio-{email.split('@', maxsplit=1)[0]}.png"), full_page=True
    )
    # open the first asset and check its page shows age, status and next visit
    rows.first.get_by_role("link").first.click()
    page.wait_for_url("**/assets/*")
    body = page.locator("main").inner_text()
    assert "Age" in body
    assert "Next maintenance visit" in body
    assert "Outages" in body
    page.screenshot(path=str(artifacts_dir / f"asset-{email.split('@', maxsplit=1)[0]}.png"), full_page=True)
    context.close()


def test_wrong_password_shows_a_clear_message(browser: Any, live_portal: LiveServer) -> None:
    page = browser.new_page()
    _login(page, live_portal.url, "fm@demo.example", "not-my-password")
    assert page.get_by_role("alert").inner_text() == "Wrong e-mail or password."
    assert page.url.endswith("/auth/login")
    page.close()


def test_resident_page_on_a_phone(
    browser: Any, live_portal: LiveServer, sqlite_demo_url: str, artifacts_dir: Path
) -> None:
    db = Database(sqlite_demo_url)
    with db.session() as s:
        token = s.scalars(select(Asset.public_token).where(Asset.mqtt_id == "ELV-0103")).one()
    db.dispose()
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{live_portal.url}/r/{token}")
    text = page.locator("main").inner_text()
    assert "Out of service" in text
    assert "service team has been notified" in text
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.locator("a[href^='/assets'], a[href^='/sites'], a[href^='/customers']").count() == 0
    page.screenshot(path=str(artifacts_dir / "resident-phone.png"), full_page=True)
    context.close()


def test_hoa_portfolio_fits_a_360px_phone(browser: Any, live_portal: LiveServer, artifacts_dir: Path) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    _login(page, live_portal.url, "hoa.tilleuls@demo.example")
    page.wait_for_url(f"{live_portal.url}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(artifacts_dir / "portfolio-hoa-phone.png"), full_page=True)
    context.close()


def test_technician_work_list_on_a_phone(browser: Any, live_portal: LiveServer, artifacts_dir: Path) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    _login(page, live_portal.url, "tech@demo.example")
    page.wait_for_url(f"{live_portal.url}/")
    page.get_by_role("link", name="Work list").click()
    page.wait_for_url("**/work")
    down = page.locator("section", has=page.get_by_role("heading", name="Out of service (2)"))
    assert down.locator(".work-item").count() == 2
    box = down.locator(".work-link").first.bounding_box()
    assert box is not None
    assert box["height"] >= 44  # a comfortable touch target
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(artifacts_dir / "worklist-tech-phone.png"), full_page=True)
    context.close()


def test_staff_outage_board(browser: Any, live_portal: LiveServer, artifacts_dir: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    _login(page, live_portal.url, "staff@demo.example")
    page.wait_for_url(f"{live_portal.url}/")
    page.get_by_role("link", name="Outages").click()
    page.wait_for_url("**/outages")
    assert page.locator("table.outages tbody tr[data-outage-id]").count() == 2
    page.screenshot(path=str(artifacts_dir / "outages-staff.png"), full_page=True)
    page.close()
