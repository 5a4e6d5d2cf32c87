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


# --- service levers over a period (satisfaction drivers, KPI pages) ---------------------------
@dataclass(frozen=True)
class Levers:
    """What the vendor controls, over one period and set of assets.

    ``availability`` is time-weighted over the assets; ``mttr`` is the mean duration of
    the outages closed in the period; ``callbacks_per_unit_year`` counts unplanned
    outages per asset, scaled to a year; ``visits_on_time`` is the share of the visits
    due in the period (not cancelled) whose technician checked in before the end of
    the planned window; feedback figures count items resolved in the period."""

    assets: int
    availability: float | None
    outages: int
    mttr: timedelta | None
    callbacks_per_unit_year: float | None
    visits_due: int
    visits_on_time: float | None
    feedback_resolved: int
    feedback_median_resolution: timedelta | None


def _median(values: Sequence[timedelta]) -> timedelta | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def levers(session: Session, asset_ids: Sequence[int], start: datetime, end: datetime) -> Levers:
    """The service levers of ``asset_ids`` over ``[start, end)`` (a handful of queries)."""
    from portal.models import Feedback, Visit, VisitStatus  # local: keeps kpi's import surface small

    ids = list(asset_ids)
    if not ids or end <= start:
        return Levers(len(ids), None, 0, None, None, 0, None, 0, None)
    windows = availability_windows(session, ids, [start], end)[start]
    avail = combined_availability(windows.values(), end - start)
    outages = sum(a.outages for a in windows.values())
    closed = session.execute(
        select(Outage.started_at, Outage.ended_at).where(
            Outage.asset_id.in_(ids), Outage.ended_at >= start, Outage.ended_at < end
        )
    ).all()
    durations = [e - s for s, e in closed if e is not None]
    mttr = sum(durations, timedelta()) / len(durations) if durations else None
    years = (end - start) / timedelta(days=365)
    callbacks = outages / len(ids) / years if years > 0 else None
    visits = session.execute(
        select(Visit.scheduled_end, Visit.checked_in_at).where(
            Visit.asset_id.in_(ids),
            Visit.scheduled_end >= start,
            Visit.scheduled_end < end,
            Visit.status != VisitStatus.CANCELLED,
        )
    ).all()
    on_time = sum(1 for due, arrived in visits if arrived is not None and arrived <= due)
    resolved = session.execute(
        select(Feedback.created_at, Feedback.resolved_at).where(
            Feedback.asset_id.in_(ids), Feedback.resolved_at >= start, Feedback.resolved_at < end
        )
    ).all()
    return Levers(
        assets=len(ids),
        availability=avail,
        outages=outages,
        mttr=mttr,
        callbacks_per_unit_year=callbacks,
        visits_due=len(visits),
        visits_on_time=100.0 * on_time / len(visits) if visits else None,
        feedback_resolved=len(resolved),
        feedback_median_resolution=_median([r - c for c, r in resolved if r is not None]),
    )
