"""In Chromium, as a vendor would connect a customer's system: staff open Webhooks from the
menu, register an address (a plain http one to another host is refused with the reason and
what was typed stays), get the signing secret once, see the endpoint's (empty) deliveries,
and remove it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, login_page

pytestmark = pytest.mark.browser


def test_staff_register_see_and_remove_a_webhook_endpoint(
    browser: Any, live_portal: LiveServer, artifacts_dir: Path
) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = ctx.new_page()
    login_page(page, live_portal.url, "staff@demo.example")
    page.get_by_role("link", name="Webhooks").click()
    page.wait_for_load_state()
    address = f"https://cmms-{uuid.uuid4().hex[:6]}.example.com/hooks/portal"
    page.get_by_label("Address").fill("http://cmms.example.com/hooks/portal")
    page.get_by_role("button", name="Register").click()
    page.wait_for_load_state()
    assert page.locator("#w-url[aria-invalid=true]").count() == 1
    assert "https://" in page.locator("main").inner_text()
    assert page.get_by_label("Address").input_value() == "http://cmms.example.com/hooks/portal"

    page.get_by_label("Address").fill(address)
    for event in ("outage.opened", "outage.closed", "technician.assigned", "visit.done", "feedback.received"):
        box = page.locator(f"input[name=events][value='{event}']")
        if event in ("outage.opened", "outage.closed"):
            box.check()
        else:
            box.uncheck()
    page.get_by_role("button", name="Register").click()
    page.wait_for_load_state()
    secret = page.locator("#webhook-secret").inner_text().strip()
    assert secret.startswith("whsec_")
    page.screenshot(path=str(artifacts_dir / "webhook-created.png"))

    page.get_by_role("link", name="See its deliveries").click()
    page.wait_for_load_state()
    assert "outage.closed, outage.opened" in page.locator("main").inner_text()  # the two chosen, no more
    assert page.locator("table.deliveries").inner_text().count("None yet.") == 1
    page.get_by_role("link", name="Webhooks").first.click()
    page.wait_for_load_state()
    assert secret not in page.content()  # the secret is shown once, never again
    page.get_by_role("link", name=address).click()
    page.get_by_role("button", name="Remove this endpoint").click()
    page.wait_for_load_state()
    assert "nothing more is sent to it" in page.locator(".flash").first.inner_text()
    assert page.get_by_role("link", name=address).count() == 0
    ctx.close()
