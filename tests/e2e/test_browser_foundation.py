"""Login, portfolio, detail and resident pages in headless Chromium, with screenshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from fleet.db import Database
from fleet.models import Asset
from portal.demo import DEMO_PASSWORD
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.browser

# demo account -> number of assets in its scope (written out from the demo portfolio)
HOMES = {  # where each group lands after logging in
    "fm@demo.example": "",
    "fm.habitat@demo.example": "",
    "hoa.tilleuls@demo.example": "",
    "tech@demo.example": "work",
    "staff@demo.example": "",
}
ASSET_COUNTS = {
    "fm@demo.example": 16,
    "fm.habitat@demo.example": 14,
    "hoa.tilleuls@demo.example": 3,
    "tech@demo.example": 17,
    "staff@demo.example": 30,
}


def _login(page: Any, base: str, email: str, password: str = DEMO_PASSWORD) -> None:
    """Log in through the form (the login page follows the browser's language: English here)."""
    page.goto(f"{base}/auth/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


@pytest.mark.parametrize("email", sorted(ASSET_COUNTS))
def test_each_demo_user_sees_exactly_their_assets(
    browser: Any, live_portal: LiveServer, artifacts_dir: Path, email: str
) -> None:
    """Log in through the form, land on the group's home, and count the portfolio's rows."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    _login(page, live_portal.url, email)
    page.wait_for_url(f"{live_portal.url}/{HOMES[email]}")
    name = email.split("@", maxsplit=1)[0]
    page.screenshot(path=str(artifacts_dir / f"home-{name}.png"), full_page=True)
    page.goto(f"{live_portal.url}/portfolio")
    rows = page.locator("table.assets tbody tr[data-asset-id]")
    assert rows.count() == ASSET_COUNTS[email]
    assert page.locator("h1").first.inner_text() in ("Portfolio", "Parc")
    page.screenshot(
        path=str(artifacts_dir / f"portfolio-{email.split('@', maxsplit=1)[0]}.png"), full_page=True
    )
    # open the first asset and check its page shows age, status and next visit
    rows.first.get_by_role("link").first.click()
    page.wait_for_url("**/assets/*")
    body = page.locator("main").inner_text()
    assert ("Age" in body) or ("Âge" in body)
    assert ("Next maintenance visit" in body) or ("Prochaine visite de maintenance" in body)
    assert ("Outages" in body) or ("Pannes" in body)
    page.screenshot(path=str(artifacts_dir / f"asset-{email.split('@', maxsplit=1)[0]}.png"), full_page=True)
    context.close()


def test_wrong_password_shows_a_clear_message(browser: Any, live_portal: LiveServer) -> None:
    page = browser.new_page(locale="en-GB")
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
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, locale="en-GB"
    )
    page = context.new_page()
    page.goto(f"{live_portal.url}/r/{token}")
    text = page.locator("main").inner_text()
    assert "Out of service" in text
    assert "service team has been notified" in text
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.locator("a[href^='/assets'], a[href^='/sites'], a[href^='/customers']").count() == 0
    page.screenshot(path=str(artifacts_dir / "resident-phone.png"), full_page=True)
    context.close()


def test_hoa_home_in_plain_words_on_a_360px_phone(
    browser: Any, live_portal: LiveServer, artifacts_dir: Path
) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    _login(page, live_portal.url, "hoa.tilleuls@demo.example")
    page.wait_for_url(f"{live_portal.url}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no horizontal scroll
    assert page.locator("main table").count() == 0  # no tables on the president's phone view
    assert page.locator("h1").first.inner_text() == "Résidence Les Tilleuls"
    sentences = page.locator("[data-live-sentence]").all_inner_texts()
    assert len(sentences) == 3
    assert all(" fonctionne." in t or " est " in t for t in sentences)  # this account reads French
    main = page.locator("main").inner_text()
    assert "du temps en service sur les 90 derniers jours" in main
    assert "Prochaine visite de maintenance" in main
    assert "Pannes des 90 derniers jours" in main
    for link in page.locator("main a, header a, header button").all():
        box = link.bounding_box()
        assert box is not None
        assert box["height"] >= 44, link.inner_text()  # large touch targets
    manifest = page.locator("link[rel=manifest]").get_attribute("href")
    resp = page.request.get(f"{live_portal.url}{manifest}")
    assert resp.ok
    assert resp.json()["display"] == "standalone"
    sizes = {i["sizes"] for i in resp.json()["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in resp.json()["icons"]:
        assert page.request.get(f"{live_portal.url}{icon['src']}").ok
    page.screenshot(path=str(artifacts_dir / "home-hoa-phone.png"), full_page=True)
    context.close()


def test_language_switch_and_browser_choice(browser: Any, live_portal: LiveServer) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{live_portal.url}/auth/login")
    assert page.locator("html").get_attribute("lang") == "fr"  # chosen from the browser
    assert page.locator("h1").inner_text() == "Se connecter"
    page.get_by_role("button", name="English").click()
    page.wait_for_url("**/auth/login")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Log in"
    page.get_by_label("E-mail").fill("staff@demo.example")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_portal.url}/")
    assert page.locator("h1").first.inner_text() == "Portfolio"
    page.get_by_role("button", name="Français").click()
    assert page.locator("h1").first.inner_text() == "Parc"
    assert "%" in page.locator("table.assets td").nth(3).inner_text()
    page.get_by_role("button", name="English").click()  # the choice is kept on the account: restore it
    assert page.locator("h1").first.inner_text() == "Portfolio"
    context.close()


def test_technician_work_list_on_a_phone(browser: Any, live_portal: LiveServer, artifacts_dir: Path) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    _login(page, live_portal.url, "tech@demo.example")
    page.wait_for_url("**/work")  # the technician's home
    down = page.locator("section", has=page.get_by_role("heading", name="Out of service (2)"))
    assert down.locator(".work-item").count() == 2
    box = down.locator(".work-link").first.bounding_box()
    assert box is not None
    assert box["height"] >= 44  # a comfortable touch target
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(artifacts_dir / "worklist-tech-phone.png"), full_page=True)
    context.close()


def test_staff_outage_board(browser: Any, live_portal: LiveServer, artifacts_dir: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-GB")
    _login(page, live_portal.url, "staff@demo.example")
    page.wait_for_url(f"{live_portal.url}/")
    page.locator("nav.sections a[href='/outages']").click()
    page.wait_for_url("**/outages")
    assert page.locator("table.outages tbody tr[data-outage-id]").count() == 2
    page.screenshot(path=str(artifacts_dir / "outages-staff.png"), full_page=True)
    page.close()
