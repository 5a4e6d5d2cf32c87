"""In Chromium, as an integrator would start: a vendor administrator creates an API token on the
tokens page, opens the API reference from there (Swagger UI served from the portal's own
static files), authorizes with the token and calls "the account making the request" from the
page; the answer is their own account. No request leaves the portal's origin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, login_page

pytestmark = pytest.mark.browser


def test_an_integrator_creates_a_token_and_tries_the_api_from_the_reference(
    browser: Any, live_portal: LiveServer, artifacts_dir: Path
) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = ctx.new_page()
    elsewhere: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(live_portal.url) else elsewhere.append(r.url))
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    login_page(page, live_portal.url, "staff@demo.example")
    page.goto(f"{live_portal.url}/account/tokens")
    page.get_by_label("Name").fill("CMMS trial")
    page.get_by_role("button", name="Create a token").click()
    page.wait_for_load_state()
    secret = page.locator("#token-secret").inner_text().strip()
    assert secret.startswith("ept_")

    page.goto(f"{live_portal.url}/account/tokens")
    page.get_by_role("link", name="API reference").click()
    page.wait_for_selector(".opblock-summary", timeout=15_000)
    text = page.locator("#api-reference").inner_text()
    for summary in (
        "Report a unit out of service",
        "Create or update units by MQTT id",
        "Outages of a period",
    ):
        assert summary in text

    page.get_by_role("button", name="Authorize").first.click()
    bearer_form = page.locator(".modal-ux form").filter(has_text="Bearer").first
    bearer_form.locator("input").first.fill(secret)
    bearer_form.locator("button.modal-btn.authorize").click()
    page.locator(".modal-ux button.btn-done").first.click()

    me = page.locator(".opblock", has=page.locator(".opblock-summary-path", has_text="/api/v1/me")).first
    me.locator(".opblock-summary").click()
    me.get_by_role("button", name="Try it out").click()
    me.get_by_role("button", name="Execute").click()
    answer = me.locator(".live-responses-table .response-col_description pre").first
    answer.wait_for(timeout=15_000)
    body = json.loads(answer.inner_text())
    assert body["email"] == "staff@demo.example"
    page.screenshot(path=str(artifacts_dir / "api-reference.png"), full_page=False)
    assert elsewhere == []  # no CDN, nothing fetched from another origin
    assert [p for p in problems if "Content Security Policy" in p] == []
    ctx.close()
