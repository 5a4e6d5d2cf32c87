"""The date-sensitive parts, run at fixed instants instead of whatever today is.

At each instant (month ends and starts, New Year, a leap day, and both daylight-saving
changes in Europe/Paris and America/Montreal) the clock is moved with ``time-machine``,
the demo is loaded fresh (it builds a year of history ending "now"), and then: every
page of every group renders, the satisfaction CSV holds the newest answer, plans schedule
future visits at their local hour once, the notifier tells each story once, KPIs stay
within bounds and the survey rules ask at most one question.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from flask import Flask
from sqlalchemy import func, select

from fleet.db import Database, utcnow
from fleet.models import Asset, MaintenancePlan, OutreachTask, PlanKind, Site, SurveyResponse, User
from fleet.schema import upgrade
from portal.access import Scope
from portal.app import create_app
from portal.demo import load_demo
from portal.health.relationships import THRESHOLD
from portal.kpi import kpi_table
from portal.maintenance import plans
from portal.notifications.events import NotifierSettings, tell_due
from portal.satisfaction import dashboard, surveys
from tests.conftest import logged_in_client, make_settings

INSTANTS = {
    "last day of a month, already the 1st in Paris": datetime(2027, 1, 31, 23, 30, tzinfo=UTC),
    "first day of a month": datetime(2027, 2, 1, 0, 30, tzinfo=UTC),
    "New Year's Eve, already New Year in Paris": datetime(2026, 12, 31, 23, 30, tzinfo=UTC),
    "New Year's Day": datetime(2027, 1, 1, 0, 5, tzinfo=UTC),
    "leap day": datetime(2028, 2, 29, 12, 0, tzinfo=UTC),
    "Paris springs forward (03:30 CEST)": datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
    "Paris falls back (the second 02:30)": datetime(2027, 10, 31, 1, 30, tzinfo=UTC),
    "Montreal springs forward (03:30 EDT)": datetime(2027, 3, 14, 7, 30, tzinfo=UTC),
    "Montreal falls back (the first 01:30)": datetime(2027, 11, 7, 5, 30, tzinfo=UTC),
}
PAGES = {
    "fm@demo.example": [
        "/",
        "/portfolio",
        "/outages",
        "/kpis",
        "/satisfaction",
        "/notifications",
        "/feedback",
    ],
    "hoa.tilleuls@demo.example": ["/", "/portfolio", "/notifications", "/feedback"],
    "tech@demo.example": ["/work", "/visits", "/outages", "/portfolio", "/notifications"],
    "staff@demo.example": ["/portfolio", "/outages", "/kpis", "/satisfaction", "/satisfaction/follow-ups"],
}


@pytest.fixture(scope="module", params=list(INSTANTS), ids=list(INSTANTS))
def at_instant(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[datetime, Flask]]:
    """The clock at one fixed instant, with the demo loaded then, and the portal over it."""
    instant = INSTANTS[request.param]
    with time_machine.travel(instant, tick=True):
        url = f"sqlite:///{tmp_path_factory.mktemp('instant') / 'portal.db'}"
        upgrade(url)
        db = Database(url)
        with db.session() as session:
            load_demo(session)
        db.dispose()
        app = create_app(
            make_settings(url, influx_url="http://127.0.0.1:9", influx_timeout_s=1, live_enabled=False)
        )
        app.config["WTF_CSRF_ENABLED"] = False
        yield instant, app
        app.extensions["fleet.db"].dispose()


def test_every_page_renders(at_instant: tuple[datetime, Flask]) -> None:
    _instant, app = at_instant
    for email, paths in PAGES.items():
        client = logged_in_client(app, email)
        for path in paths:
            resp = client.get(path, follow_redirects=True)
            assert resp.status_code == 200, (email, path, resp.status_code)
        with app.app_context():
            first_asset = (
                app.extensions["fleet.db"]
                .sessionmaker()
                .scalar(select(Asset.id).where(Scope.for_user(_user(app, email)).asset_filter()).limit(1))
            )
        assert client.get(f"/assets/{first_asset}").status_code == 200


def _user(app: Flask, email: str) -> User:
    with app.extensions["fleet.db"].sessionmaker() as s:
        user = s.scalars(select(User).where(User.email == email)).one()
        _ = list(user.sites)  # loaded before the session closes
        return user


def test_the_answers_export_covers_the_newest_answer(at_instant: tuple[datetime, Flask]) -> None:
    instant, app = at_instant
    start, end, months = dashboard.period(12, utcnow())
    assert len(months) == 12
    assert months[-1] <= instant < months[-1] + timedelta(days=31)
    assert start == months[0]
    assert end >= instant
    with app.extensions["fleet.db"].sessionmaker() as s:
        newest = s.scalar(select(func.max(SurveyResponse.created_at)))
        in_period = s.scalar(select(func.count(SurveyResponse.id)).where(SurveyResponse.created_at >= start))
    assert newest is not None
    assert newest <= utcnow()
    body = (
        logged_in_client(app, "staff@demo.example").get("/satisfaction/responses.csv").get_data(as_text=True)
    )
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert newest.strftime("%Y-%m-%dT%H:%M:%SZ") in {row["answered_at_utc"] for row in rows}
    assert len(rows) == in_period


def test_plans_schedule_future_visits_at_their_local_hour_once(at_instant: tuple[datetime, Flask]) -> None:
    instant, app = at_instant
    with app.extensions["fleet.db"].session() as s:
        created = plans.schedule(s, utcnow(), horizon=timedelta(days=60))
        assert plans.schedule(s, utcnow(), horizon=timedelta(days=60)) == []  # idempotent
        calendar = select(MaintenancePlan).where(MaintenancePlan.kind == PlanKind.CALENDAR)
        by_id = {p.id: p for p in s.scalars(calendar)}
        for visit in created:
            assert visit.scheduled_start > instant
            plan = by_id.get(visit.plan_id or 0)
            if plan is None:
                continue  # a usage plan: its day comes from the counters
            local = visit.scheduled_start.astimezone(ZoneInfo(plan.asset.site.timezone))
            assert local.hour == plan.start_hour, (local, plan.id)


def test_each_story_is_told_once(at_instant: tuple[datetime, Flask]) -> None:
    _instant, app = at_instant
    with app.extensions["fleet.db"].session() as s:
        tell_due(s, utcnow(), NotifierSettings())
    with app.extensions["fleet.db"].session() as s:
        assert tell_due(s, utcnow() + timedelta(seconds=1), NotifierSettings()) == 0


def test_kpis_and_survey_rules_stay_in_bounds(at_instant: tuple[datetime, Flask]) -> None:
    _instant, app = at_instant
    now = utcnow()
    with app.extensions["fleet.db"].session() as s:
        rows = [
            tuple(r)
            for r in s.execute(
                select(Asset.id, Asset.name, Site.id, Site.name, Site.customer_id, Site.name).join(Site)
            )
        ]
        for period in (30, 90, 365):
            for row in kpi_table(s, rows, now - timedelta(days=period), now):  # type: ignore[arg-type]
                value = row.levers.availability
                assert value is None or 0 <= value <= 100, (row.name, period, value)
        for email in ("fm@demo.example", "hoa.tilleuls@demo.example", "tech@demo.example"):
            user = s.scalars(select(User).where(User.email == email)).one()
            first = surveys.next_prompt(s, user, Scope.for_user(user), now, surveys.Rules())
            again = surveys.next_prompt(
                s, user, Scope.for_user(user), now + timedelta(minutes=1), surveys.Rules()
            )
            if first is not None:
                assert again is not None
                assert again.id == first.id  # one question at a time
                assert now - first.moment_at <= surveys.Rules().window or first.moment.value == "periodic"


def test_the_demo_s_relationship_story_holds(at_instant: tuple[datetime, Flask]) -> None:
    """Les Tilleuls' president is approached, whatever the hour the demo was built (the
    month's random breakdowns once decided it)."""
    _instant, app = at_instant
    with app.extensions["fleet.db"].sessionmaker() as s:
        task = s.scalars(select(OutreachTask).order_by(OutreachTask.id)).first()
        assert task is not None
        assert task.key.endswith(":hoa_president")
        site = s.get(Site, task.site_id)
        assert site is not None
        assert site.name == "Résidence Les Tilleuls"
        assert task.risk >= THRESHOLD
