"""Availability on hand-computed fixtures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portal.kpi import availability

START = datetime(2026, 1, 1, tzinfo=UTC)
END = START + timedelta(days=30)  # 720 h


def h(hours: float) -> datetime:
    return START + timedelta(hours=hours)


def test_no_outage_is_100_percent() -> None:
    a = availability([], [], START, END)
    assert a.percent == 100.0
    assert a.outages == 0


def test_one_four_hour_outage_in_30_days() -> None:
    a = availability([(h(10), h(14))], [], START, END)
    assert a.percent == pytest.approx(100 * (720 - 4) / 720)  # 99.444 %
    assert a.downtime == timedelta(hours=4)


def test_maintenance_is_taken_out_of_scope() -> None:
    # 4 h outage, 20 h maintenance: (700 - 4) / 700
    a = availability([(h(10), h(14))], [(h(100), h(120))], START, END)
    assert a.percent == pytest.approx(100 * 696 / 700)


def test_overlaps_are_merged_and_clipped() -> None:
    outages = [(h(-5), h(2)), (h(1), h(3)), (h(700), None)]  # 3 h + 20 h open until END
    maintenance = [(h(2.5), h(3.5))]  # overlaps the outage by 0.5 h
    a = availability(outages, maintenance, START, END)
    scope = 720 - 1
    down = 3 + 20 - 0.5
    assert a.percent == pytest.approx(100 * (scope - down) / scope)
    assert a.outages == 3


def test_all_maintenance_has_no_availability() -> None:
    assert availability([], [(h(-1), None)], START, END).percent is None
