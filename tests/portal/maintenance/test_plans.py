"""Maintenance plans: month ends, daylight-saving changes in the site's zone, usage thresholds,
idempotent scheduling and bad input."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.db import Database
from fleet.models import (
    Asset,
    IntervalUnit,
    MaintenancePlan,
    PlanKind,
    UsageMetric,
    User,
    Visit,
    VisitKind,
    VisitStatus,
)
from portal.maintenance import plans
from portal.maintenance.plans import add_months, due_days, forecast, visit_window
from portal.refusal import Refused
from tests.portal.world import World, build_world


def _plan(**kw: object) -> MaintenancePlan:
    values: dict[str, object] = {
        "kind": PlanKind.CALENDAR,
        "interval": 1,
        "interval_unit": IntervalUnit.MONTHS,
        "summary": "Monthly",
        "start_hour": 9,
        "duration_minutes": 120,
        "first_due": date(2026, 1, 31),
        "visit_kind": VisitKind.PREVENTIVE,
    }
    values.update(kw)
    return MaintenancePlan(**values)


def test_monthly_plans_keep_their_day_across_month_ends() -> None:
    plan = _plan(first_due=date(2026, 1, 31))
    assert due_days(plan, date(2026, 1, 1), date(2026, 6, 30)) == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
        date(2026, 5, 31),
        date(2026, 6, 30),
    ]
    assert add_months(date(2027, 11, 30), 3, 31) == date(2028, 2, 29)  # a leap year
    quarterly = _plan(first_due=date(2026, 11, 30), interval=3)
    assert due_days(quarterly, date(2026, 11, 1), date(2027, 9, 1)) == [
        date(2026, 11, 30),
        date(2027, 2, 28),
        date(2027, 5, 30),
        date(2027, 8, 30),
    ]


def test_day_and_week_intervals() -> None:
    every_10_days = _plan(interval=10, interval_unit=IntervalUnit.DAYS, first_due=date(2026, 1, 25))
    assert due_days(every_10_days, date(2026, 2, 1), date(2026, 3, 1)) == [
        date(2026, 2, 4),
        date(2026, 2, 14),
        date(2026, 2, 24),
    ]
    fortnightly = _plan(interval=2, interval_unit=IntervalUnit.WEEKS, first_due=date(2025, 1, 6))
    days = due_days(fortnightly, date(2026, 3, 1), date(2026, 3, 31))
    assert days == [date(2026, 3, 2), date(2026, 3, 16), date(2026, 3, 30)]
    assert all(d.weekday() == 0 for d in days)  # still Mondays a year later


def test_visit_times_stay_local_across_daylight_saving() -> None:
    # Paris: CET (UTC+1) until 29 March 2026 02:00, then CEST (UTC+2); back on 25 October
    assert visit_window(date(2026, 3, 28), 9, 120, "Europe/Paris")[0] == datetime(2026, 3, 28, 8, tzinfo=UTC)
    assert visit_window(date(2026, 3, 29), 9, 120, "Europe/Paris")[0] == datetime(2026, 3, 29, 7, tzinfo=UTC)
    assert visit_window(date(2026, 10, 25), 9, 120, "Europe/Paris")[0] == datetime(
        2026, 10, 25, 8, tzinfo=UTC
    )
    # Montréal moves on other days (8 March, 1 November 2026)
    assert visit_window(date(2026, 3, 7), 9, 60, "America/Toronto")[0] == datetime(2026, 3, 7, 14, tzinfo=UTC)
    assert visit_window(date(2026, 3, 9), 9, 60, "America/Toronto")[0] == datetime(2026, 3, 9, 13, tzinfo=UTC)
    # 02:30 does not exist in Paris on 29 March: the visit starts at 03:30 local (01:30 UTC)
    start, end = visit_window(date(2026, 3, 29), 2, 90, "Europe/Paris")
    assert start == datetime(2026, 3, 29, 1, tzinfo=UTC)
    assert end - start == timedelta(minutes=90)
    # 02:00 happens twice on 25 October: the first one (still summer time)
    assert visit_window(date(2026, 10, 25), 2, 60, "Europe/Paris")[0] == datetime(2026, 10, 25, 0, tzinfo=UTC)


def test_usage_forecast_on_hand_computed_figures() -> None:
    plan = _plan(kind=PlanKind.USAGE, usage_metric=UsageMetric.TRIPS, usage_interval=10_000)
    today = date(2026, 5, 1)
    assert forecast(plan, 4_000, 500, today).due == date(2026, 5, 13)  # 6,000 left at 500 a day
    assert forecast(plan, 9_999, 2_000, today).due == date(2026, 5, 2)  # rounded up to whole days
    assert forecast(plan, 10_000, 0, today).due == today  # reached
    assert forecast(plan, 12_000, 10, today).due == today  # overdue
    assert forecast(plan, 100, 0, today).due is None  # no use measured: no date


class FakeCounters:
    """Counters that grow by ``per_day`` from ``start`` (what telemetry would answer)."""

    def __init__(self, start: datetime, per_day: float, offset: float = 50_000) -> None:
        self.start, self.per_day, self.offset = start, per_day, offset

    def counter(self, asset: str, metric: UsageMetric, at: datetime) -> float | None:
        assert asset.startswith("ELV-")
        assert metric is UsageMetric.DOOR_CYCLES
        if at < self.start:
            return None
        return self.offset + self.per_day * (at - self.start) / timedelta(days=1)


@pytest.fixture
def world(db: Database) -> Iterator[tuple[Session, World]]:
    with db.session() as session:
        yield session, build_world(session)


NOW = datetime(2026, 1, 20, 12, tzinfo=UTC)


def _staff(session: Session, w: World) -> User:
    user = session.get(User, w.staff)
    assert user is not None
    return user


def _form(**kw: str) -> dict[str, str]:
    form = {
        "kind": "calendar",
        "interval": "1",
        "interval_unit": "months",
        "summary": "Monthly check",
        "first_due": "2026-01-31",
        "start_hour": "9",
        "duration_minutes": "120",
        "visit_kind": "preventive",
    }
    form.update(kw)
    return form


def test_calendar_plans_schedule_within_the_horizon_once(world: tuple[Session, World]) -> None:
    session, w = world
    asset = session.get(Asset, w.asset_a)
    assert asset is not None
    plans.create_plan(session, asset, plans.parse_plan(_form(), NOW.date()), _staff(session, w))
    created = plans.schedule(session, NOW, horizon=timedelta(days=75))
    assert [v.scheduled_start for v in created] == [
        datetime(2026, 1, 31, 8, tzinfo=UTC),
        datetime(2026, 2, 28, 8, tzinfo=UTC),
        datetime(2026, 3, 31, 7, tzinfo=UTC),
    ]  # 09:00 Paris: winter, winter, summer
    assert all(v.status is VisitStatus.SCHEDULED and v.summary == "Monthly check" for v in created)
    assert plans.schedule(session, NOW, horizon=timedelta(days=75)) == []  # idempotent
    later = plans.schedule(session, NOW + timedelta(days=40), horizon=timedelta(days=75))
    assert [v.scheduled_start.date() for v in later] == [date(2026, 4, 30)]


def test_two_plans_on_one_asset_never_put_two_visits_in_the_same_hour(world: tuple[Session, World]) -> None:
    session, w = world
    asset = session.get(Asset, w.asset_a)
    assert asset is not None
    staff = _staff(session, w)
    plans.create_plan(session, asset, plans.parse_plan(_form(), NOW.date()), staff)
    # a quarterly safety test on the same day, starting an hour into the monthly check
    safety = _form(interval="3", summary="Safety test", start_hour="10", duration_minutes="60")
    plans.create_plan(session, asset, plans.parse_plan(safety, NOW.date()), staff)
    created = plans.schedule(session, NOW, horizon=timedelta(days=75))
    starts = sorted(v.scheduled_start for v in created)
    assert starts == [
        datetime(2026, 1, 31, 8, tzinfo=UTC),
        datetime(2026, 2, 28, 8, tzinfo=UTC),
        datetime(2026, 3, 31, 7, tzinfo=UTC),
    ]  # the safety test of 31 January is done in the monthly visit, not beside it
    merged = next(v for v in created if v.scheduled_start.day == 31 and v.scheduled_start.month == 1)
    assert merged.summary == "Monthly check + Safety test"
    assert merged.scheduled_end == datetime(2026, 1, 31, 10, tzinfo=UTC)  # 09:00-11:00 Paris covers both
    assert plans.schedule(session, NOW, horizon=timedelta(days=75)) == []  # idempotent, merged once
    assert merged.summary == "Monthly check + Safety test"
    visits = session.scalars(select(Visit).where(Visit.asset_id == asset.id)).all()
    for a, b in itertools.combinations(visits, 2):
        assert a.scheduled_end <= b.scheduled_start or b.scheduled_end <= a.scheduled_start, (a.id, b.id)


def test_usage_plans_visit_when_the_counter_reaches_the_interval(world: tuple[Session, World]) -> None:
    session, w = world
    asset = session.get(Asset, w.asset_a)
    assert asset is not None
    form = _form(kind="usage", usage_metric="door_cycles", usage_interval="20000", first_due="2026-01-01")
    plan = plans.create_plan(session, asset, plans.parse_plan(form, NOW.date()), _staff(session, w))
    counters = FakeCounters(datetime(2025, 12, 1, tzinfo=UTC), per_day=1_000)
    # 1 Jan → 20 Jan: 19,500 cycles used, 1,000 a day: due tomorrow
    (visit,) = plans.schedule(session, NOW, usage=counters)
    assert visit.scheduled_start == datetime(2026, 1, 21, 8, tzinfo=UTC)
    assert plans.schedule(session, NOW + timedelta(hours=1), usage=counters) == []  # one at a time
    # the visit is done on the 21st: the count restarts and the next is due 20 days later
    visit.status, visit.checked_in_at = VisitStatus.COMPLETED, visit.scheduled_start
    visit.checked_out_at = visit.scheduled_start + timedelta(hours=2)
    session.flush()
    (following,) = plans.schedule(session, datetime(2026, 1, 22, 12, tzinfo=UTC), usage=counters)
    assert following.scheduled_start.date() == date(2026, 2, 10)
    assert following.plan_id == plan.id
    # without readings, nothing is invented
    following.status = VisitStatus.CANCELLED
    session.flush()
    assert plans.schedule(session, NOW, usage=FakeCounters(NOW + timedelta(days=1), 1_000)) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"interval": "0"}, "between 1 and"),
        ({"interval": "-2"}, "between 1 and"),
        ({"interval": "abc"}, "whole number"),
        ({"interval": "25", "interval_unit": "months"}, "between 1 and 24"),
        ({"interval_unit": "years"}, "days, weeks or months"),
        ({"kind": "usage", "usage_metric": "trips", "usage_interval": "0"}, "between 1 and"),
        ({"kind": "usage", "usage_metric": "floors", "usage_interval": "100"}, "trips or door cycles"),
        ({"kind": "sometimes"}, "calendar or a usage"),
        ({"summary": "x"}, "what will be done"),
        ({"start_hour": "24"}, "between 0 and 23"),
        ({"duration_minutes": "5"}, "15 minutes and 12 hours"),
        ({"first_due": "31/01/2026"}, "YYYY-MM-DD"),
        ({"first_due": "2024-01-01"}, "more than a year ago"),
        ({"visit_kind": "party"}, "Unknown kind"),
    ],
)
def test_bad_plans_are_refused_with_a_reason(changes: dict[str, str], message: str) -> None:
    with pytest.raises(Refused, match=message) as exc:
        plans.parse_plan(_form(**changes), NOW.date())
    assert exc.value.status == 400


def test_a_refused_plan_form_lists_every_problem_at_once() -> None:
    bad = _form(interval="abc", summary="x", start_hour="24", duration_minutes="5", first_due="31/01/2026")
    with pytest.raises(Refused) as exc:
        plans.parse_plan(bad, NOW.date())
    assert set(exc.value.errors) == {"interval", "summary", "start_hour", "duration_minutes", "first_due"}
    assert exc.value.status == 400
    # usage fields are not checked on a calendar plan, and the reverse
    assert plans.parse_plan(_form(usage_interval="nonsense"), NOW.date()).usage_interval is None


def test_only_staff_manage_plans_and_stopping_cancels_future_visits(world: tuple[Session, World]) -> None:
    session, w = world
    asset = session.get(Asset, w.asset_a)
    fm = session.get(User, w.fm_a)
    assert asset is not None
    assert fm is not None
    data = plans.parse_plan(_form(), NOW.date())
    with pytest.raises(Refused) as forbidden:
        plans.create_plan(session, asset, data, fm)
    assert forbidden.value.status == 403
    with pytest.raises(Refused, match="field technician"):
        plans.create_plan(
            session, asset, plans.parse_plan(_form(technician_id=str(w.fm_a)), NOW.date()), _staff(session, w)
        )
    plan = plans.create_plan(session, asset, data, _staff(session, w))
    assert len(plans.schedule(session, NOW)) == 2
    assert plans.deactivate_plan(session, plan, _staff(session, w), NOW) == 2
    left = session.scalars(select(Visit).where(Visit.plan_id == plan.id)).all()
    assert {v.status for v in left} == {VisitStatus.CANCELLED}
    assert plans.schedule(session, NOW) == []
