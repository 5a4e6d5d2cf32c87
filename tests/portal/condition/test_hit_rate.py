"""The published hit rate on a hand-computed fixture, and where it is published (KPI page,
API) for whom."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from fleet.db import Database
from fleet.models import Asset, Customer, Outage, Site
from fleet.models.condition import Signal, WatchItem, WatchSeverity, WatchStatus
from portal.access import Scope
from portal.condition.watch import chart_overlays, hit_rate, hit_rates
from tests.portal.world import build_world, new_elevator, new_site

T0 = datetime(2026, 1, 1, tzinfo=UTC)
D = timedelta(days=1)


def _item(asset_id: int, opened: datetime, status: WatchStatus, closed: datetime | None = None) -> WatchItem:
    return WatchItem(
        asset_id=asset_id, signal=Signal.VIBRATION, severity=WatchSeverity.LOW, status=status,
        opened_at=opened, since=opened - timedelta(hours=6), updated_at=opened, closed_at=closed,
    )  # fmt: skip


def test_hit_rate_on_a_hand_computed_fixture(db: Database) -> None:
    with db.session() as s:
        w = build_world(s)
        a, b = w.asset_a, w.asset_b
        s.add_all([
            Outage(asset_id=a, started_at=T0 + 2 * D, ended_at=T0 + 3 * D),  # announced, 7 days
            _item(a, T0 - 5 * D, WatchStatus.FOLLOWED_BY_OUTAGE, T0 + 2 * D),  # before the period
            Outage(asset_id=a, started_at=T0 + 10 * D, ended_at=T0 + 10 * D + timedelta(hours=2)),  # 48 h
            _item(a, T0 + 8 * D, WatchStatus.FOLLOWED_BY_OUTAGE, T0 + 10 * D),
            Outage(asset_id=a, started_at=T0 + 40 * D, ended_at=T0 + 41 * D),  # closed before
            _item(a, T0 + 39 * D, WatchStatus.RESOLVED, T0 + 39 * D + timedelta(hours=12)),
            Outage(asset_id=b, started_at=T0 + 60 * D, ended_at=T0 + 60 * D + timedelta(hours=2)),  # too old
            _item(b, T0 + 20 * D, WatchStatus.OPEN),
            Outage(asset_id=b, started_at=T0 + 70 * D, ended_at=T0 + 70 * D + timedelta(hours=2)),  # 12 h
            _item(b, T0 + 69 * D + timedelta(hours=12), WatchStatus.OPEN),
            _item(a, T0 + 50 * D, WatchStatus.DISMISSED, T0 + 51 * D),
            _item(b, T0 + 80 * D, WatchStatus.CONFIRMED, T0 + 81 * D),
            Outage(asset_id=b, started_at=T0 + 95 * D, ended_at=T0 + 96 * D),  # after the period
        ])  # fmt: skip
    with db.session() as s:
        rate = hit_rate(s, Asset.id.in_([a, b]), T0, T0 + 90 * D)
        grouped, per_customer = hit_rates(s, Scope(everything=True), T0 + 90 * D, 90)
    assert grouped == rate  # the two units are the world's only ones
    assert [r.outages for _c, _n, r in per_customer] == [3, 2]
    assert (rate.outages, rate.announced) == (5, 3)
    assert rate.announced_share == pytest.approx(60.0)
    assert rate.median_lead_h == pytest.approx(48.0)  # of 168, 48 and 12
    assert rate.warnings == 6  # opened in the period
    assert (rate.settled, rate.confirmed) == (3, 2)  # followed, confirmed / + dismissed
    assert rate.confirmed_share == pytest.approx(200 / 3)
    assert (rate.units, rate.days) == (2, 90)
    assert rate.per_100_unit_months == pytest.approx(100.0)  # 6 warnings over 2 units × 3 months
    with db.session() as s:
        only_b = hit_rate(s, Asset.id == b, T0, T0 + 90 * D)
    assert (only_b.outages, only_b.announced, only_b.median_lead_h) == (2, 1, 12.0)


def _two_customers(session: Session) -> tuple[int, int, int]:
    """Two customers with a site and a unit each, no accounts: (customer A, unit A, unit B)."""
    units = []
    for name in ("A", "B"):
        site = new_site(Customer(name=f"Customer {name}"), f"Site {name}")
        unit = new_elevator(site, f"ELV-900{name}")
        session.add_all([site, unit])
        units.append(unit)
    session.flush()
    return units[0].site.customer_id, units[0].id, units[1].id


outage_or_warning = st.tuples(
    st.booleans(),  # unit of customer A or B
    st.booleans(),  # an outage (else a warning)
    st.floats(-40, 400),  # days after T0
    st.none() | st.floats(0.1, 24 * 40),  # hours until it closed (a warning may stay open)
    st.sampled_from(list(WatchStatus)),
)


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(events=st.lists(outage_or_warning, max_size=25), days=st.sampled_from([90, 365]))
def test_hit_rates_per_customer_equal_the_reference(
    db: Database, events: list[tuple[bool, bool, float, float | None, WatchStatus]], days: int
) -> None:
    """The grouped counts of :func:`hit_rates` give what :func:`hit_rate` gives for the whole
    scope and for each customer, for staff and for one customer's facility manager."""
    with db.sessionmaker() as s:
        customer_a, asset_a, asset_b = _two_customers(s)
        for n, (on_a, outage, day, hours, status) in enumerate(events):
            unit = asset_a if on_a else asset_b
            at = T0 + timedelta(days=day, microseconds=n)
            closed = None if hours is None else at + timedelta(hours=hours)
            if outage:
                s.add(Outage(asset_id=unit, started_at=at, ended_at=closed or at + timedelta(hours=1)))
            else:
                s.add(_item(unit, at, status, closed))
        s.flush()
        now = T0 + timedelta(days=400)
        since = now - timedelta(days=days)
        for scope in (Scope(everything=True), Scope(customer_ids=frozenset({customer_a}))):
            overall, rows = hit_rates(s, scope, now, days)
            assert overall == hit_rate(s, scope.asset_filter(), since, now)
            for customer_id, _name, rate in rows:
                of_customer = Asset.site_id.in_(select(Site.id).where(Site.customer_id == customer_id))
                assert rate == hit_rate(s, and_(scope.asset_filter(), of_customer), since, now)
        s.rollback()


def test_no_outage_no_warning_gives_no_rates_rather_than_zeros(db: Database) -> None:
    with db.session() as s:
        w = build_world(s)
    with db.session() as s:
        rate = hit_rate(s, Asset.id == w.asset_a, T0, T0 + 90 * D)
    assert rate.announced_share is None
    assert rate.confirmed_share is None
    assert rate.median_lead_h is None
    assert rate.per_100_unit_months == 0.0


def test_the_hit_rate_is_published_on_the_kpi_page_and_in_the_api(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    staff = login("staff@demo.example")
    page = staff.get("/kpis").get_data(as_text=True)
    assert 'data-hit-scope="all" data-days="90"' in page
    assert 'data-hit-scope="all" data-days="365"' in page
    body = staff.get("/api/v1/hit-rate?days=365").get_json()
    assert body["days"] == 365
    assert body["overall"]["outages"] >= 1
    assert body["overall"]["announced"] >= 1  # the demo's warning before a breakdown
    assert {c["customer"] for c in body["customers"]} == {"Lumière Immobilier", "Habitat Rhône-Léman"}
    fm = login("fm@demo.example").get("/api/v1/hit-rate").get_json()
    assert [c["customer"] for c in fm["customers"]] == ["Lumière Immobilier"]
    assert login("hoa.tilleuls@demo.example").get("/api/v1/hit-rate").status_code == 403
    assert staff.get("/api/v1/hit-rate?days=30").status_code == 400


def test_chart_overlays_give_periods_and_comparable_bands(db: Database) -> None:
    with db.session() as s:
        w = build_world(s)
        motor = _item(w.asset_a, T0 + 2 * D, WatchStatus.OPEN)
        motor.signal, motor.baseline, motor.scale = Signal.MOTOR_TEMPERATURE, 41.0, 1.0
        level = _item(w.asset_a, T0 + 3 * D, WatchStatus.RESOLVED, T0 + 4 * D)
        level.signal, level.baseline, level.scale = Signal.LEVELING, 1.2, 0.3
        doors = _item(w.asset_a, T0 + 3 * D, WatchStatus.CONFIRMED, T0 + 5 * D)
        doors.signal, doors.baseline, doors.scale = Signal.DOOR_REOPENINGS, 3.0, 1.0
        old = _item(w.asset_a, T0 - 30 * D, WatchStatus.RESOLVED, T0 - 20 * D)  # before the window
        s.add_all([motor, level, doors, old])
    with db.session() as s:
        overlays = chart_overlays(s, w.asset_a, T0, T0 + 7 * D)
    assert overlays["motor_temp_c"]["band"] == [39.0, 43.0]
    assert overlays["leveling_error_mm"]["band"] == pytest.approx([-1.8, 1.8])  # signed chart: ± usual RMS
    assert overlays["door_reopenings"]["band"] is None  # charted per hour: no comparable band
    assert [p["end"] for p in overlays["motor_temp_c"]["warnings"]] == [None]
    assert "vibration_mm_s" not in overlays
