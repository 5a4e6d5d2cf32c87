"""In Chromium: an administrator invites a facility manager, the invitee chooses a password
from the e-mailed link, logs in and sees exactly their customer; the administrator
deactivates them and the invitee's open page is refused on its next request."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from fleet.db import Database
from fleet.models import OutboxEmail
from tests.e2e.conftest import LiveServer, login_page

pytestmark = pytest.mark.browser
PASSWORD = "my own portal password 9"


def _link(db_url: str, email: str) -> str:
    db = Database(db_url)
    try:
        with db.sessionmaker() as s:
            body = s.scalars(select(OutboxEmail.body).where(OutboxEmail.to_address == email)).one()
    finally:
        db.dispose()
    match = re.search(r"http://[^/\s]+(/auth/invite/\S+)", body)
    assert match is not None, body
    return match.group(1)


def test_invite_log_in_and_deactivate(
    browser: Any, live_portal: LiveServer, sqlite_demo_url: str, artifacts_dir: Path
) -> None:
    email = f"new.fm.{uuid.uuid4().hex[:6]}@example.org"
    admin_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    admin = admin_ctx.new_page()
    login_page(admin, live_portal.url, "staff@demo.example")
    admin.get_by_role("link", name="People").click()
    admin.get_by_role("link", name="Invite someone").click()
    admin.get_by_label("E-mail").fill(email)
    admin.get_by_label("Name").fill("Camille Martin")
    admin.get_by_label("Group").select_option("facility_manager")
    admin.get_by_label("Customer (sees all its sites)").select_option(label="Lumière Immobilier")
    admin.screenshot(path=str(artifacts_dir / "admin-invite.png"), full_page=True)
    admin.get_by_role("button", name="Send the invitation").click()
    admin.wait_for_load_state()
    assert "Invitation sent to" in admin.locator(".flash").first.inner_text()
    assert admin.locator("[data-state=invited]").count() == 1

    invitee_ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    invitee = invitee_ctx.new_page()
    invitee.goto(f"{live_portal.url}{_link(sqlite_demo_url, email)}")
    assert invitee.locator("h1").inner_text() == "Welcome: choose your password"
    invitee.get_by_label("New password").fill(PASSWORD)
    invitee.get_by_label("The same again").fill(PASSWORD)
    invitee.get_by_role("button", name="Set the password").click()
    invitee.wait_for_url("**/auth/login")
    invitee.get_by_label("E-mail").fill(email)
    invitee.get_by_label("Password").fill(PASSWORD)
    invitee.locator("button[type=submit].primary").click()
    invitee.wait_for_load_state()
    invitee.goto(f"{live_portal.url}/portfolio")
    assert invitee.locator("table.assets tbody tr[data-asset-id]").count() == 16  # Lumière Immobilier's
    invitee.screenshot(path=str(artifacts_dir / "admin-invitee-portfolio.png"), full_page=True)

    admin.reload()
    admin.get_by_role("button", name="Deactivate").click()
    admin.wait_for_load_state()
    assert admin.locator("[data-state=deactivated]").count() == 1
    invitee.reload()  # the open page's next request
    assert "/auth/login" in invitee.url
    for page in (admin, invitee):  # let static files finish before the browser drops the connections
        page.wait_for_load_state("networkidle")
    admin_ctx.close()
    invitee_ctx.close()
