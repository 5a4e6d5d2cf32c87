"""Service KPIs computed from outage and maintenance records (plain functions).

Availability = time in service ÷ (time in scope − planned maintenance time), per asset
over a period. Unplanned outages count against it; maintenance periods are taken out of
the scope. Overlapping records are merged first, so nothing is counted twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portal.models import MaintenancePeriod, Outage

Interval = tuple[datetime, datetime]


def _clip_merge(
    intervals: Iterable[tuple[datetime, datetime | None]], start: datetime, end: datetime
) -> list[Interval]:
    clipped = sorted((max(s, start), min(e or end, end)) for s, e in intervals)
    merged: list[Interval] = []
    for s, e in clipped:
        if e <= s:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _total(intervals: Sequence[Interval]) -> timedelta:
    return sum((e - s for s, e in intervals), timedelta())


def _minus(outages: Sequence[Interval], maintenance: Sequence[Interval]) -> timedelta:
    """Outage time that is not also maintenance time."""
    total = _total(outages)
    for os_, oe in outages:
        for ms, me in maintenance:
            overlap = min(oe, me) - max(os_, ms)
            if overlap > timedelta():
                total -= overlap
    return total


@dataclass(frozen=True)
class Availability:
    """Availability of one asset over a period."""

    percent: float | None  # None when the whole period was maintenance
    downtime: timedelta
    maintenance: timedelta
    outages: int


def availability(
    outages: Iterable[tuple[datetime, datetime | None]],
    maintenance: Iterable[tuple[datetime, datetime | None]],
    start: datetime,
    end: datetime,
) -> Availability:
    """Availability over ``[start, end)`` from (start, end-or-None) outage and maintenance records."""
    outage_list = list(outages)
    out = _clip_merge(outage_list, start, end)
    maint = _clip_merge(maintenance, start, end)
    maint_total = _total(maint)
    scope = (end - start) - maint_total
    down = _minus(out, maint)
    count = sum(1 for s, e in outage_list if s < end and (e is None or e > start))
    if scope <= timedelta():
        return Availability(None, down, maint_total, count)
    return Availability(100.0 * (scope - down) / scope, down, maint_total, count)


def availability_by_asset(
    session: Session, asset_ids: Sequence[int], start: datetime, end: datetime
) -> dict[int, Availability]:
    """Availability of each asset over ``[start, end)`` (two queries for any number of assets)."""
    if not asset_ids:
        return {}
    outs: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    maints: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for model, bucket in ((Outage, outs), (MaintenancePeriod, maints)):
        rows = session.execute(
            select(model.asset_id, model.started_at, model.ended_at).where(
                model.asset_id.in_(asset_ids),
                model.started_at < end,
                or_(model.ended_at.is_(None), model.ended_at > start),
            )
        )
        for asset_id, s, e in rows:
            bucket[asset_id].append((s, e))
    return {aid: availability(outs[aid], maints[aid], start, end) for aid in asset_ids}
