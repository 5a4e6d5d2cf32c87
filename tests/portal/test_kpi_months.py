"""Stored monthly tallies give the KPIs the records give: after random outages, maintenance,
repairs, check-ins, visits (some cancelled) and feedback, with some months stored, some
missing and some stale-then-refreshed, for random periods (month edges, New Year, a leap
February); and the worker's refresh finds what changed."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from fleet.models import (
    Asset,
    AssetMonthTally,
    Audience,
    Feedback,
    MaintenancePeriod,
    Outage,
    Visit,
    VisitKind,
    VisitStatus,
)
from portal import kpi, kpi_months

NOW = datetime(2028, 3, 1, 0, 30, tzinfo=UTC)  # just after a leap February
EXPLORE = os.environ.get("READ_MODEL_EXPLORE") == "1"


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A session rolled back after the test (the demo stays as it was)."""
    with app.extensions["fleet.db"].sessionmaker() as s:
        yield s
        s.rollback()


def _ids(session: Session) -> list[int]:
    return list(session.scalars(select(Asset.id).order_by(Asset.id)))


record = st.tuples(
    st.integers(0, 1000),  # which asset (modulo the count)
    st.sampled_from(["outage", "open_outage", "maintenance", "visit", "cancelled_visit", "feedback"]),
    st.floats(0, 420),  # days before NOW
    st.floats(0.01, 24 * 45),  # hours long (some span a month's end)
    st.floats(0, 30),  # hours until a technician checks in (past the end: never)
)


def _add(session: Session, records: list[tuple[int, str, float, float, float]], batch: int = 0) -> None:
    ids = _ids(session)
    for n, (pick, kind, days_ago, hours, check_in) in enumerate(records):
        asset_id = ids[pick % len(ids)]
        start = NOW - timedelta(days=days_ago, microseconds=1000 * batch + n)  # never two at one instant
        end = start + timedelta(hours=hours)
        on_site = start + timedelta(hours=check_in) if check_in < hours else None
        if kind in ("outage", "open_outage"):
            closed = kind == "outage" and end < NOW
            session.add(Outage(asset_id=asset_id, started_at=start, ended_at=end if closed else None,
                               on_site_at=on_site))  # fmt: skip
        elif kind == "maintenance":
            session.add(MaintenancePeriod(asset_id=asset_id, started_at=start, ended_at=min(end, NOW)))
        elif kind == "feedback":
            asset = session.get(Asset, asset_id)
            assert asset is not None
            session.add(Feedback(asset_id=asset_id, site_id=asset.site_id, author_group=Audience.RESIDENT,
                                 text="Noisy doors", submission_id=uuid.uuid4().hex,
                                 created_at=start, resolved_at=min(end, NOW)))  # fmt: skip
        else:
            session.add(
                Visit(asset_id=asset_id, kind=VisitKind.PREVENTIVE, scheduled_start=start,
                      scheduled_end=end, summary="Check", checked_in_at=on_site,
                      status=VisitStatus.CANCELLED if kind == "cancelled_visit" else VisitStatus.SCHEDULED)
            )  # fmt: skip
    session.flush()


def _same(fast: dict[int, kpi.Tally], slow: dict[int, kpi.Tally], period: timedelta) -> None:
    """The same KPIs, asset by asset and all together (sums of float seconds: to the millisecond)."""
    assert fast.keys() == slow.keys()
    pairs = [(fast[a], slow[a]) for a in slow]
    everything = (kpi.Tally(), kpi.Tally())
    for f, s in pairs:
        everything[0].absorb(f)
        everything[1].absorb(s)
    for f, s in [*pairs, everything]:
        a, b = kpi.summarise_tally(f, period), kpi.summarise_tally(s, period)
        for name, x in dataclasses.asdict(a).items():
            y = getattr(b, name)
            if isinstance(x, float) and isinstance(y, float):
                assert x == pytest.approx(y, abs=1e-6), name
            elif isinstance(x, timedelta) and isinstance(y, timedelta):
                assert abs(x - y) < timedelta(milliseconds=1), name
            else:
                assert x == y, name


@settings(
    max_examples=400 if EXPLORE else 40,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],  # explaining traces: minutes
    derandomize=not EXPLORE,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    records=st.lists(record, max_size=30),
    late=st.lists(record, max_size=6),
    forget=st.lists(st.integers(0, 1000), max_size=4),
    start_days=st.integers(0, 400) | st.sampled_from([29, 60, 90, 366]),
    start_hour=st.sampled_from([0, 0.5, 23.5]),
    end_days=st.integers(0, 40) | st.just(0),
)
def test_stored_months_give_the_reference_tallies(
    session: Session,
    records: list[tuple[int, str, float, float, float]],
    late: list[tuple[int, str, float, float, float]],
    forget: list[int],
    start_days: int,
    start_hour: float,
    end_days: int,
) -> None:
    session.rollback()
    session.execute(delete(AssetMonthTally))
    _add(session, records)
    kpi_months.refresh(session, NOW)
    _add(session, late, batch=1)  # recorded after the rows were computed: the refresh must find them
    kpi_months.refresh(session, NOW + timedelta(minutes=5))
    ids = _ids(session)
    for pick in forget:  # a row lost (or an asset added since): read from the records instead
        lost = (AssetMonthTally.asset_id == ids[pick % len(ids)], AssetMonthTally.month == date(2027, 12, 1))
        session.execute(delete(AssetMonthTally).where(*lost))
    end = NOW - timedelta(days=end_days)
    start = kpi_months.month_start(end - timedelta(days=start_days)) + timedelta(hours=start_hour)
    if start >= end:
        start = end - timedelta(days=start_days, hours=1)
    _same(kpi_months.tallies(session, ids, start, end), kpi.tallies(session, ids, start, end), end - start)


def test_whole_months_at_the_year_s_end_and_in_a_leap_february() -> None:
    utc = UTC
    assert kpi_months.whole_months(datetime(2027, 12, 1, tzinfo=utc), datetime(2028, 3, 1, tzinfo=utc)) == [
        datetime(2027, 12, 1, tzinfo=utc),
        datetime(2028, 1, 1, tzinfo=utc),
        datetime(2028, 2, 1, tzinfo=utc),
    ]
    assert kpi_months.whole_months(
        datetime(2027, 12, 1, 0, 0, 1, tzinfo=utc), datetime(2028, 2, 29, tzinfo=utc)
    ) == [datetime(2028, 1, 1, tzinfo=utc)]
    assert kpi_months.whole_months(datetime(2028, 2, 3, tzinfo=utc), datetime(2028, 3, 1, tzinfo=utc)) == []
    assert kpi_months.complete_months(datetime(2027, 1, 1, tzinfo=utc), 2) == [
        datetime(2026, 11, 1, tzinfo=utc),
        datetime(2026, 12, 1, tzinfo=utc),
    ]


def test_a_change_drops_the_months_it_alters_and_the_refresh_writes_them_again(session: Session) -> None:
    session.execute(delete(AssetMonthTally))
    ids = _ids(session)
    assert kpi_months.refresh(session, NOW) == len(ids) * kpi_months.KEEP_MONTHS
    assert kpi_months.refresh(session, NOW + timedelta(minutes=1)) == 0  # nothing new: nothing written

    def months_of(asset_id: int) -> int:
        return session.scalar(select(func.count()).where(AssetMonthTally.asset_id == asset_id)) or 0

    # an outage that began on 31 January is recorded late: January and February go
    began = datetime(2028, 1, 31, 22, tzinfo=UTC)
    outage = Outage(asset_id=ids[0], started_at=began, ended_at=None, on_site_at=NOW + timedelta(minutes=2))
    session.add(outage)
    session.flush()
    assert months_of(ids[0]) == kpi_months.KEEP_MONTHS - 2
    assert months_of(ids[1]) == kpi_months.KEEP_MONTHS  # other units keep theirs
    assert kpi_months.refresh(session, NOW + timedelta(minutes=3)) == 2
    january = session.get(AssetMonthTally, (ids[0], date(2028, 1, 1)))
    assert january is not None
    assert january.down_s == pytest.approx(2 * 3600, abs=1)

    # moving it back to December drops December too (old and new times both count)
    outage.started_at = datetime(2027, 12, 30, tzinfo=UTC)
    session.flush()
    assert months_of(ids[0]) == kpi_months.KEEP_MONTHS - 3
    # a change that alters no tally (a technician assigned) drops nothing
    kpi_months.refresh(session, NOW + timedelta(minutes=4))
    outage.eta = NOW + timedelta(hours=1)
    session.flush()
    assert months_of(ids[0]) == kpi_months.KEEP_MONTHS
    # a past visit cancelled: its month goes
    june = datetime(2027, 6, 3, tzinfo=UTC)
    visit = Visit(asset_id=ids[1], kind=VisitKind.PREVENTIVE, scheduled_start=june,
                  scheduled_end=june + timedelta(hours=2), summary="Check")  # fmt: skip
    session.add(visit)
    session.flush()
    kpi_months.refresh(session, NOW + timedelta(minutes=5))
    visit.status = VisitStatus.CANCELLED
    session.flush()
    assert session.get(AssetMonthTally, (ids[1], date(2027, 6, 1))) is None

    # a new month: the oldest month is dropped, the one just ended is written for every asset
    kpi_months.refresh(session, datetime(2028, 4, 1, 0, 5, tzinfo=UTC))
    assert session.scalar(select(func.min(AssetMonthTally.month))) == date(2026, 3, 1)
    count = session.scalar(select(func.count()).where(AssetMonthTally.month == date(2028, 3, 1)))
    assert count == len(ids)
