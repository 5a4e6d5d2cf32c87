"""Availability on hand-computed fixtures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from fleet.db import Database
from fleet.models import Asset
from portal.kpi import availability, combined_levers, levers, tallies

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


def test_levers_of_groups_from_one_read_equal_levers_read_per_group(sqlite_demo_url: str) -> None:
    """The satisfaction dashboard reads every unit's tally once and sums each group's share;
    the figures are those of reading each group alone."""
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(days=365)
    db = Database(sqlite_demo_url)
    with db.sessionmaker() as s:
        ids = list(s.scalars(select(Asset.id).order_by(Asset.id)))
        per_asset = tallies(s, ids, start, end)
        for group in (ids, ids[::2], ids[1::3], ids[:1], [], [*ids[:4], *ids[:2]]):
            assert combined_levers(per_asset, group, start, end) == levers(s, group, start, end)
    db.dispose()
