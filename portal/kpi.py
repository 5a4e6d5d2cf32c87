"""Service KPIs computed from outage and maintenance records (plain functions).

Availability = time in service ÷ (time in scope − planned maintenance time), per asset
over a period. Unplanned outages count against it; maintenance periods are taken out of
the scope. Overlapping records are merged first, so nothing is counted twice.
"""

from __future__ import annotations

import threading
import time
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


def availability_windows(
    session: Session, asset_ids: Sequence[int], starts: Sequence[datetime], end: datetime
) -> dict[datetime, dict[int, Availability]]:
    """Availability of each asset over several windows ending at ``end`` (two queries in all)."""
    if not asset_ids or not starts:
        return {s: {} for s in starts}
    earliest = min(starts)
    outs: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    maints: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for model, bucket in ((Outage, outs), (MaintenancePeriod, maints)):
        rows = session.execute(
            select(model.asset_id, model.started_at, model.ended_at).where(
                model.asset_id.in_(asset_ids),
                model.started_at < end,
                or_(model.ended_at.is_(None), model.ended_at > earliest),
            )
        )
        for asset_id, s, e in rows:
            bucket[asset_id].append((s, e))
    return {
        start: {aid: availability(outs[aid], maints[aid], start, end) for aid in asset_ids}
        for start in starts
    }


def combined_availability(items: Iterable[Availability], period: timedelta) -> float | None:
    """Availability of a group of assets over the same period (time-weighted, not averaged)."""
    scope = timedelta()
    down = timedelta()
    for a in items:
        scope += period - a.maintenance
        down += a.downtime
    if scope <= timedelta():
        return None
    return 100.0 * (scope - down) / scope


class AvailabilityCache:
    """30- and 90-day availability per asset, kept for ``ttl_s`` seconds in this process.

    A 30-day percentage moves by at most 0.0023 points a minute, so a minute-old figure
    is as good as a fresh one, and a 500-asset portfolio page need not re-read 90 days
    of outage and maintenance history on every view. Status chips are live regardless.
    ``ttl_s=0`` disables the cache.
    """

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[int, tuple[float, Availability, Availability]] = {}
        self._lock = threading.Lock()

    def get(
        self, session: Session, asset_ids: Sequence[int], now: datetime
    ) -> tuple[dict[int, Availability], dict[int, Availability]]:
        """(30-day, 90-day) availability of each asset, computing only expired entries."""
        clock = time.monotonic()
        with self._lock:
            fresh = {
                a: self._entries[a] for a in asset_ids if a in self._entries and self._entries[a][0] > clock
            }
        missing = [a for a in asset_ids if a not in fresh]
        if missing:
            d30, d90 = now - timedelta(days=30), now - timedelta(days=90)
            windows = availability_windows(session, missing, [d30, d90], now)
            computed = {a: (clock + self.ttl_s, windows[d30][a], windows[d90][a]) for a in missing}
            if self.ttl_s > 0:
                with self._lock:
                    if len(self._entries) > 100_000:
                        self._entries.clear()
                    self._entries.update(computed)
            fresh.update(computed)
        return {a: fresh[a][1] for a in asset_ids}, {a: fresh[a][2] for a in asset_ids}

    def forget(self, asset_id: int) -> None:
        """Drop one asset's figures (an outage opened or closed)."""
        with self._lock:
            self._entries.pop(asset_id, None)
