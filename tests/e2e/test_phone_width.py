"""Every page of every group on a 360 px phone in Chromium: nothing scrolls sideways.

Technicians open the asset page on site and HOA presidents live on their phones; a page
wider than the screen hides its right-hand side. The pages come from the demo data, one of
each kind per account; each is screenshotted for people to look at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from fleet.db import Database
from fleet.models import (
    Asset,
    Contract,
    Feedback,
    FollowUp,
    MonthlyReport,
    Outage,
    Site,
    User,
    Visit,
    WatchItem,
)
from portal.access import Scope, feedback_filter
from tests.e2e.conftest import LiveServer, login_page

pytestmark = pytest.mark.browser
PHONE = {"width": 360, "height": 740}
COMMON = ["/", "/portfolio", "/notifications", "/notifications/preferences", "/feedback", "/account/tokens"]
GROUP_PAGES = {
    "fm@demo.example": ["/outages", "/kpis", "/satisfaction", "/webhooks", "/reports", "/exports"],
    "hoa.tilleuls@demo.example": ["/reports"],
    "tech@demo.example": ["/work", "/visits", "/outages"],
    "staff@demo.example": [
        "/outages",
        "/kpis",
        "/satisfaction",
        "/satisfaction/follow-ups",
        "/work",
        "/admin/people",
        "/admin/people/invite",
        "/admin/people/1",
        "/admin/people/1/edit",
        "/admin/audit",
        "/admin/registry",
        "/admin/customers/new",
        "/admin/sites/new",
        "/admin/assets/new",
        "/admin/contracts/new",
        "/admin/gateways/new",
        "/admin/import",
        "/auth/second-factor/setup",
        "/webhooks",
        "/reports",
        "/exports",
        "/watch",
        "/health",
        "/outreach",
        "/renewals",
        "/health/equations",
        "/health/points",
    ],
}


def _pages(db_url: str, email: str) -> list[str]:
    """The account's pages: lists, plus one object of each kind it may see."""
    db = Database(db_url)
    try:
        with db.sessionmaker() as s:
            user = s.scalars(select(User).where(User.email == email)).one()
            scope = Scope.for_user(user)
            asset = s.scalar(scope.assets().limit(1))
            site = s.scalar(scope.sites().limit(1))
            assert asset is not None
            assert site is not None
            paths = [*COMMON, *GROUP_PAGES[email], f"/assets/{asset.id}", f"/sites/{site.id}"]
            paths.append(f"/customers/{site.customer_id}")
            visible = select(Asset.id).where(scope.asset_filter())
            outage = s.scalar(select(Outage.id).where(Outage.asset_id.in_(visible)).limit(1))
            visit = s.scalar(
                select(Visit.id).where(Visit.asset_id.in_(visible)).order_by(Visit.id.desc()).limit(1)
            )
            item = s.scalar(select(Feedback.id).where(feedback_filter(user, scope)).limit(1))
            paths += [f"/outages/{outage}", f"/visits/{visit}"] if outage and visit else []
            paths += [f"/feedback/{item}"] if item else []
            report = s.scalar(
                select(MonthlyReport.id).where(scope.report_filter()).order_by(MonthlyReport.id)
            )
            paths += [f"/reports/{report}"] if report and user.group.value != "field_technician" else []
            warning = s.scalar(
                select(WatchItem.id).where(WatchItem.asset_id.in_(visible)).order_by(WatchItem.id)
            )
            paths += (
                [f"/watch/{warning}"]
                if warning and user.group.value in ("field_technician", "vendor_staff")
                else []
            )
            if scope.everything:
                follow_up = s.scalar(select(FollowUp.id).limit(1))
                paths += [f"/satisfaction/follow-ups/{follow_up}", f"/assets/{asset.id}/plans"]
                contract = s.scalar(select(Contract.id).limit(1))
                paths += [f"/admin/customers/{site.customer_id}", f"/admin/sites/{site.id}",
                          f"/admin/assets/{asset.id}", f"/admin/contracts/{contract}"]  # fmt: skip
            return paths
    finally:
        db.dispose()


def _resident_link(db_url: str) -> str:
    db = Database(db_url)
    try:
        with db.sessionmaker() as s:
            token = s.scalar(select(Asset.public_token).join(Site).order_by(Asset.id).limit(1))
            return f"/r/{token}"
    finally:
        db.dispose()


def _overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than the phone's screen (0 when it fits).

    Compared with the screen, not ``innerWidth``: a mobile browser widens its layout
    viewport to the content and zooms out, which hides the overflow from ``innerWidth``."""
    width = int(page.evaluate("() => document.documentElement.scrollWidth"))
    return max(0, width - PHONE["width"])


@pytest.mark.parametrize("email", sorted(GROUP_PAGES))
def test_no_page_scrolls_sideways_on_a_phone(
    browser: Any, live_portal: LiveServer, sqlite_demo_url: str, artifacts_dir: Path, email: str
) -> None:
    context = browser.new_context(viewport=PHONE, locale="en-GB", is_mobile=True, has_touch=True)
    page = context.new_page()
    login_page(page, live_portal.url, email)
    too_wide = {}
    name = email.split("@", maxsplit=1)[0]
    for path in _pages(sqlite_demo_url, email):
        resp = page.goto(f"{live_portal.url}{path}")
        assert resp is not None
        assert resp.status == 200, (path, resp.status)
        page.wait_for_load_state("load")
        extra = _overflow(page)
        if extra > 0:
            too_wide[path] = extra
        slug = path.strip("/").replace("/", "-") or "home"
        page.screenshot(path=str(artifacts_dir / f"phone-{name}-{slug}.png"), full_page=True)
    context.close()
    assert too_wide == {}, f"pages wider than a 360 px screen (extra px): {too_wide}"


def test_the_pages_without_an_account_fit_a_phone(
    browser: Any, live_portal: LiveServer, sqlite_demo_url: str, artifacts_dir: Path
) -> None:
    context = browser.new_context(viewport=PHONE, locale="fr-FR", is_mobile=True, has_touch=True)
    page = context.new_page()
    for path, name in ((_resident_link(sqlite_demo_url), "resident"), ("/auth/login", "login"),
                       ("/auth/forgot", "forgot-password")):  # fmt: skip
        page.goto(f"{live_portal.url}{path}")
        assert _overflow(page) == 0, path
        page.screenshot(path=str(artifacts_dir / f"phone-{name}.png"), full_page=True)
    context.close()
