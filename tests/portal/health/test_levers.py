"""The service levers on a hand-computed fixture (repeat faults, response against the
commitment, missed arrivals, late visits, open feedback, confirmed warnings)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from fleet.db import Database
from fleet.models import Audience, Contract, Feedback, Outage, Site, Visit, VisitKind, VisitStatus
from fleet.models.condition import Signal, WatchItem, WatchSeverity, WatchStatus
from portal.health.levers import load_history, measure
from tests.portal.world import build_world

T0 = datetime(2026, 3, 1, tzinfo=UTC)
D = timedelta(days=1)
H = timedelta(hours=1)


def test_levers_on_a_hand_computed_month(db: Database) -> None:
    with db.session() as s:
        w = build_world(s)
        a = w.asset_a
        site = s.get(Site, w.site_a)
        assert site is not None
        s.add(Contract(customer_id=w.customer_a, reference="K", start_date=date(2026, 1, 1),
                       end_date=date(2027, 1, 1), notice_days=90, yearly_value=Decimal(1),
                       availability_target=Decimal("99.5"), response_hours=2, units_owned=1,
                       sites=[site]))  # fmt: skip
        s.add_all([
            # before the window: makes the first outage in it a repeat
            Outage(asset_id=a, started_at=T0 - 10 * D, ended_at=T0 - 10 * D + H, fault_code="door_lock"),
            # in the window: a repeat, arrived 3 h after (1 h over the 2 h commitment), after the ETA
            Outage(asset_id=a, started_at=T0 + 2 * D, ended_at=T0 + 2 * D + 4 * H, fault_code="door_lock",
                   on_site_at=T0 + 2 * D + 3 * H, eta=T0 + 2 * D + 2 * H),
            # another fault, on time, restored in 2 h
            Outage(asset_id=a, started_at=T0 + 12 * D, ended_at=T0 + 12 * D + 2 * H, fault_code="drive_fault",
                   on_site_at=T0 + 12 * D + H, eta=T0 + 12 * D + 2 * H),
            Visit(asset_id=a, kind=VisitKind.PREVENTIVE, status=VisitStatus.COMPLETED, summary="on time",
                  scheduled_start=T0 + 5 * D, scheduled_end=T0 + 5 * D + 2 * H, checked_in_at=T0 + 5 * D + H),
            Visit(asset_id=a, kind=VisitKind.PREVENTIVE, status=VisitStatus.SCHEDULED, summary="missed",
                  scheduled_start=T0 + 20 * D, scheduled_end=T0 + 20 * D + 2 * H),
            Feedback(site_id=w.site_a, author_group=Audience.RESIDENT, text="noisy", submission_id="f-1",
                     created_at=T0 + 10 * D, last_activity_at=T0 + 10 * D),  # still open at the end: 20 days
            WatchItem(asset_id=a, signal=Signal.VIBRATION, severity=WatchSeverity.LOW, opened_at=T0 + D,
                      since=T0, updated_at=T0 + D, status=WatchStatus.CONFIRMED, closed_at=T0 + 3 * D),
        ])  # fmt: skip
    with db.session() as s:
        history = load_history(s, [a], T0, T0 + 30 * D)
    levers = measure(history, [a], T0, T0 + 30 * D)
    assert levers["outages"] == 2
    assert levers["repeat_faults"] == 1
    assert levers["restore_hours"] == pytest.approx(3.0)  # (4 + 2) / 2
    assert levers["response_over_hours"] == pytest.approx(0.5)  # (1 + 0) / 2
    assert levers["missed_arrivals"] == 1
    assert levers["late_visits"] == 1
    assert levers["open_feedback_days"] == pytest.approx(20.0)
    assert levers["warnings_confirmed"] == 1
    down = 6 / (30 * 24) * 100  # six hours down in thirty days
    assert levers["availability_gap"] == pytest.approx(max(0.0, 99.5 - (100 - down)))
    assert measure(history, [], T0, T0 + 30 * D) == dict.fromkeys(levers, 0.0)
