"""The detection pass: each worker leases shares of the fleet, reads what is new of their
telemetry as hourly aggregates, advances every asset's detectors and opens, updates and
closes watch items, all in one transaction per share.

- **Shares**: assets are split by site (``site_id % partitions``) so a site's units, the
  traffic rule's peers, stay together. A worker claims a share with a conditional update
  (never two workers on one share), processes it and marks it done for the hour; a share
  whose worker died is claimed again once its lease has expired.
- **Incremental**: a cursor per asset says which hours are processed; a pass reads only
  the hours after it (at most ``max_catch_up`` at a time) and baselines are refitted once a
  week from the 28 days before, except while the signal is elevated (a drift must not become
  the new normal).
- **Faults**: InfluxDB down or a bad answer rolls the share's transaction back: no cursor
  moves, no item opens twice, and the share is retried on the next pass.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from fleet.live import LiveEvent, LiveKind
from fleet.models import Asset, MaintenancePeriod, Outage, Site
from fleet.models.condition import (
    DRIFT_SIGNALS,
    ConditionCursor,
    ConditionPartition,
    Signal,
    SignalMonitor,
    WatchItem,
    WatchSeverity,
    WatchStatus,
)
from portal.condition import detectors as d
from portal.condition.telemetry import floor_hour, hourly_aggregates
from portal.influxql import TelemetryError, TelemetryReader

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
OpenItems = dict[tuple[int, Signal], WatchItem]
_SEVERITY_RANK = {WatchSeverity.LOW: 0, WatchSeverity.MEDIUM: 1, WatchSeverity.HIGH: 2}


@dataclass(frozen=True)
class MonitorRules:
    """How the detection pass shares and paces its work."""

    partitions: int = 16
    lease: timedelta = timedelta(minutes=10)
    max_catch_up: timedelta = timedelta(days=7)
    refit_every: timedelta = timedelta(days=7)


@dataclass
class PassResult:
    """What one pass did (for logs, metrics and tests)."""

    shares: list[int] = field(default_factory=list)
    assets: list[str] = field(default_factory=list)
    opened: int = 0
    closed: int = 0
    refitted: int = 0  # units whose baselines were (re)fitted
    failed_shares: list[int] = field(default_factory=list)
    events: list[LiveEvent] = field(default_factory=list)


def ensure_partitions(session: Session, count: int) -> None:
    """Create the share rows ``0 … count − 1`` that do not exist yet."""
    existing = set(session.scalars(select(ConditionPartition.id)))
    for share in range(count):
        if share in existing:
            continue
        try:
            with session.begin_nested():  # another worker may be creating it right now
                session.add(ConditionPartition(id=share))
        except IntegrityError:
            pass


def claim_share(
    session: Session, owner: str, now: datetime, hour_end: datetime, rules: MonitorRules
) -> int | None:
    """Lease one share not yet done for ``hour_end`` and not leased by a live worker."""
    free = or_(ConditionPartition.owner.is_(None), ConditionPartition.lease_until < now)
    due = or_(ConditionPartition.done_through.is_(None), ConditionPartition.done_through < hour_end)
    candidates = session.scalars(
        select(ConditionPartition.id)
        .where(free, due, ConditionPartition.id < rules.partitions)
        .order_by(ConditionPartition.id)
    ).all()
    for share in candidates:
        taken = session.execute(
            update(ConditionPartition)
            .where(ConditionPartition.id == share, free, due)
            .values(owner=owner, lease_until=now + rules.lease)
        )
        session.commit()
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            return share
    return None


def run_pass(
    sessions: sessionmaker[Session], reader: TelemetryReader, now: datetime, owner: str,
    rules: MonitorRules = MonitorRules(), clock: Callable[[], datetime] | None = None,
) -> PassResult:  # fmt: skip
    """Process every share that is due, one after the other, until none is left."""
    hour_end = floor_hour(now)
    result = PassResult()
    with sessions() as session:
        ensure_partitions(session, rules.partitions)
        session.commit()
    while True:
        with sessions() as session:
            share = claim_share(session, owner, (clock or (lambda: now))(), hour_end, rules)
        if share is None:
            return result
        try:
            with sessions() as session, session.begin():
                process_share(session, reader, share, hour_end, rules, result)
                session.execute(
                    update(ConditionPartition)
                    .where(ConditionPartition.id == share)
                    .values(owner=None, lease_until=None, done_through=hour_end)
                )
        except Exception as exc:
            if isinstance(exc, TelemetryError):
                logger.warning("condition share %d not read (%s); retried next pass", share, exc)
            else:
                logger.exception("condition share %d failed; retried next pass", share)
            result.failed_shares.append(share)
            with sessions() as session, session.begin():
                session.execute(
                    update(ConditionPartition)
                    .where(ConditionPartition.id == share, ConditionPartition.owner == owner)
                    .values(owner=None, lease_until=None)
                )
            return result  # the store is likely down: stop here, the next pass retries
        result.shares.append(share)


@dataclass
class _Unit:
    asset_id: int
    mqtt_id: str
    site_id: int
    zone: ZoneInfo
    cursor: ConditionCursor | None
    monitors: dict[Signal, SignalMonitor]


def process_share(
    session: Session, reader: TelemetryReader, share: int, hour_end: datetime, rules: MonitorRules,
    result: PassResult,
) -> None:  # fmt: skip
    """Advance every asset of one share up to ``hour_end`` (inside the caller's transaction)."""
    rows = session.execute(
        select(Asset.id, Asset.mqtt_id, Asset.site_id, Site.timezone)
        .join(Site, Asset.site_id == Site.id)
        .where(Asset.site_id % rules.partitions == share, Asset.archived_at.is_(None))
        .order_by(Asset.id)
    ).all()
    if not rows:
        return
    ids = [r.id for r in rows]
    cursors = {
        c.asset_id: c
        for c in session.scalars(select(ConditionCursor).where(ConditionCursor.asset_id.in_(ids)))
    }
    monitors: dict[int, dict[Signal, SignalMonitor]] = defaultdict(dict)
    for m in session.scalars(select(SignalMonitor).where(SignalMonitor.asset_id.in_(ids))):
        monitors[m.asset_id][m.signal] = m
    units = [
        _Unit(r.id, r.mqtt_id, r.site_id, ZoneInfo(r.timezone), cursors.get(r.id), monitors[r.id])
        for r in rows
    ]
    by_start: dict[datetime, list[_Unit]] = defaultdict(list)
    for unit in units:
        start = unit.cursor.through if unit.cursor else hour_end
        by_start[max(start, hour_end - rules.max_catch_up)].append(unit)
    for start, group in by_start.items():
        end = min(hour_end, start + rules.max_catch_up)
        if end < start:
            continue  # the clock went back: those hours are done already
        result.refitted += _refit(session, reader, group, start, rules)
        fresh = hourly_aggregates(reader, [u.mqtt_id for u in group], start, end) if end > start else {}
        stops = _known_stops(session, [u.asset_id for u in group], start, end)
        _advance(session, group, fresh, stops, start, end, result)
    _follow_outages(session, ids, hour_end, result)
    result.assets.extend(u.mqtt_id for u in units)


def _refit(
    session: Session, reader: TelemetryReader, group: Sequence[_Unit], start: datetime, rules: MonitorRules
) -> int:
    """Fit the baselines that are missing or a week old, from the 28 days before ``start`` less
    the last two, leaving alone those whose signal is elevated now."""
    stale = [
        u
        for u in group
        if u.cursor is None or any(_needs_fit(u.monitors.get(s), start, rules) for s in Signal)
    ]
    if not stale:
        return 0
    window_end = start - d.BASELINE_GAP
    window_start = window_end - timedelta(days=d.BASELINE_DAYS)
    history = hourly_aggregates(reader, [u.mqtt_id for u in stale], window_start, start)
    warned = _warned_periods(session, [u.asset_id for u in stale], window_start)
    for unit in stale:
        hours = history.get(unit.mqtt_id, [])
        values = [v for v in d.series_values(hours) if v.hour < window_end]
        if unit.cursor is None:
            last = hours[-1] if hours else None
            unit.cursor = ConditionCursor(
                asset_id=unit.asset_id,
                through=start,
                last_hour=_dump(last),
                first_seen=hours[0].hour if hours else None,
            )
            session.add(unit.cursor)
        elif unit.cursor.first_seen is None and hours:
            unit.cursor.first_seen = hours[0].hour
        for signal in Signal:
            monitor = unit.monitors.get(signal)
            if monitor is None:
                monitor = SignalMonitor(
                    asset_id=unit.asset_id, signal=signal, ewma=0.0, alarm=False, calm_hours=0
                )
                session.add(monitor)
                unit.monitors[signal] = monitor
            elif not _needs_fit(monitor, start, rules):
                continue
            monitor.fitted_at = start
            periods = warned.get((unit.asset_id, signal), [])
            usable = [v for v in values if not any(a <= v.hour < b for a, b in periods)]
            # too few usable hours (a warning's period is left out): the last baseline stays,
            # since the machine's normal is what a drift after a repair must be measured against
            if signal is Signal.TRAFFIC:
                pattern = d.fit_traffic(usable, unit.zone)
                if pattern:
                    monitor.pattern = {str(k): v for k, v in pattern.items()}
                continue
            baseline = d.fit_baseline(signal, usable)
            if baseline is None:
                continue
            monitor.center, monitor.scale = baseline.center, baseline.scale
            monitor.knots = [list(k) for k in baseline.knots] if baseline.knots else None
            monitor.hours, monitor.weight = baseline.hours, baseline.weight
    return len(stale)


def _warned_periods(
    session: Session, asset_ids: list[int], since: datetime
) -> dict[tuple[int, Signal], list[tuple[datetime, datetime]]]:
    """The periods each signal was under a warning since ``since``: a drift, even one that
    ended in a repair, must not become part of the baseline."""
    out: dict[tuple[int, Signal], list[tuple[datetime, datetime]]] = defaultdict(list)
    far = datetime.max.replace(tzinfo=UTC)
    rows = session.execute(
        select(WatchItem.asset_id, WatchItem.signal, WatchItem.since, WatchItem.closed_at).where(
            WatchItem.asset_id.in_(asset_ids), or_(WatchItem.closed_at.is_(None), WatchItem.closed_at > since)
        )
    )
    for asset_id, signal, began, closed in rows:
        out[(asset_id, signal)].append((_utc(began), _utc(closed) if closed else far))
    return out


def _needs_fit(monitor: SignalMonitor | None, start: datetime, rules: MonitorRules) -> bool:
    """No baseline attempt yet, or a week old, unless the signal is elevated now (the drift must
    keep being measured against the baseline it left)."""
    if monitor is None or monitor.fitted_at is None:
        return True
    if monitor.alarm or monitor.ewma > d.ELEVATED * d.SIGMA_E:
        return False
    return monitor.fitted_at <= start - rules.refit_every


def _known_stops(
    session: Session, asset_ids: list[int], start: datetime, end: datetime
) -> dict[int, list[tuple[datetime, datetime]]]:
    """Each asset's known outages and maintenance periods over the window: a unit that makes
    no trips then is no news."""
    out: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for model in (Outage, MaintenancePeriod):
        rows = session.execute(
            select(model.asset_id, model.started_at, model.ended_at).where(
                model.asset_id.in_(asset_ids),
                model.started_at < end,
                or_(model.ended_at.is_(None), model.ended_at > start),
            )
        )
        for asset_id, began, ended in rows:
            out[asset_id].append((_utc(began), _utc(ended) if ended else end))
    return out


def _advance(
    session: Session, group: Sequence[_Unit], fresh: dict[str, list[d.HourlyAggregate]],
    stops: dict[int, list[tuple[datetime, datetime]]], start: datetime, end: datetime, result: PassResult,
) -> None:  # fmt: skip
    values: dict[int, dict[datetime, d.HourValues]] = {}
    for unit in group:
        if unit.cursor is None:  # _refit made one for every new unit
            continue
        previous = _load(unit.cursor.last_hour)
        hours = fresh.get(unit.mqtt_id, [])
        values[unit.asset_id] = {v.hour: v for v in d.series_values(hours, previous)}
        if hours:
            unit.cursor.last_hour = _dump(hours[-1])
            if unit.cursor.first_seen is None:
                unit.cursor.first_seen = hours[0].hour
        unit.cursor.through = end
    open_items = _open_items(session, [u.asset_id for u in group])
    by_site: dict[int, list[_Unit]] = defaultdict(list)
    for unit in group:
        by_site[unit.site_id].append(unit)
    hour = start
    while hour < end:
        for unit in group:
            hv = values[unit.asset_id].get(hour)
            if hv is None:
                continue
            down = any(a <= hour < b or a < hour + HOUR <= b for a, b in stops.get(unit.asset_id, []))
            if down:
                continue  # a stopped unit's hour (its motor cooling, a technician at work) says nothing
            for signal in DRIFT_SIGNALS:
                _drift_hour(session, unit, signal, hv, open_items, result)
            peers_quiet = _peers_quiet(unit, by_site[unit.site_id], values, hour)
            _traffic_hour(session, unit, hv, peers_quiet, open_items, result)
        hour += HOUR


def _drift_hour(
    session: Session, unit: _Unit, signal: Signal, hv: d.HourValues, open_items: OpenItems,
    result: PassResult,
) -> None:  # fmt: skip
    monitor = unit.monitors.get(signal)
    if monitor is None or monitor.center is None or monitor.scale is None:
        return  # no baseline yet: never warn
    baseline = d.Baseline(
        monitor.center,
        monitor.scale,
        tuple((k[0], k[1]) for k in monitor.knots or ()),
        monitor.hours,
        monitor.weight,
    )
    state = d.DriftState(
        monitor.ewma,
        monitor.alarm,
        _utc_or_none(monitor.elevated_since),
        monitor.calm_hours,
        monitor.level,
        monitor.cusum,
        monitor.trend or 0.0,
    )
    weight = hv.door_cycles if signal is Signal.DOOR_REOPENINGS else None
    new, change = d.drift_step(
        state, signal, baseline, hv.values.get(signal), hv.driver(signal), hv.hour, weight
    )
    monitor.ewma, monitor.alarm, monitor.calm_hours, monitor.level = (
        new.ewma,
        new.alarm,
        new.calm_hours,
        new.level,
    )
    monitor.elevated_since, monitor.cusum, monitor.trend = new.elevated_since, new.cusum, new.trend
    at = hv.hour + HOUR
    key = (unit.asset_id, signal)
    if change.opened:
        item = WatchItem(
            asset_id=unit.asset_id, signal=signal, severity=d.severity(signal, baseline, new),
            status=WatchStatus.OPEN, opened_at=at, since=new.elevated_since or hv.hour, updated_at=at,
            baseline=baseline.expected(None), scale=baseline.scale, level=new.level, peak_level=new.level,
        )  # fmt: skip
        session.add(item)
        open_items[key] = item
        result.opened += 1
        result.events.append(_event(unit, at))
    elif key in open_items and new.alarm:
        item = open_items[key]
        item.level, item.updated_at = new.level, at
        if new.level is not None and (item.peak_level is None or new.level > item.peak_level):
            item.peak_level = new.level
        grade = d.severity(signal, baseline, new)
        if _SEVERITY_RANK[grade] > _SEVERITY_RANK[item.severity]:
            item.severity = grade
            result.events.append(_event(unit, at))
    elif change.closed and key in open_items:
        _close(open_items.pop(key), WatchStatus.RESOLVED, at, result)
        result.events.append(_event(unit, at))


def _traffic_hour(
    session: Session, unit: _Unit, hv: d.HourValues, peers_quiet: bool, open_items: OpenItems,
    result: PassResult,
) -> None:  # fmt: skip
    monitor = unit.monitors.get(Signal.TRAFFIC)
    if monitor is None or not monitor.pattern:
        return
    expected = monitor.pattern.get(str(d.hour_of_week(hv.hour, unit.zone)))
    state = d.TrafficState(int(monitor.calm_hours), monitor.alarm, _utc_or_none(monitor.elevated_since))
    new, change = d.traffic_step(state, expected, hv.values.get(Signal.TRAFFIC), hv.hour, peers_quiet)
    monitor.calm_hours, monitor.alarm, monitor.elevated_since = new.quiet_hours, new.alarm, new.quiet_since
    monitor.level = hv.values.get(Signal.TRAFFIC)
    at = hv.hour + HOUR
    key = (unit.asset_id, Signal.TRAFFIC)
    if change.opened:
        item = WatchItem(
            asset_id=unit.asset_id, signal=Signal.TRAFFIC, severity=WatchSeverity.HIGH,
            status=WatchStatus.OPEN, opened_at=at, since=new.quiet_since or hv.hour, updated_at=at,
            baseline=expected, scale=None, level=0.0, peak_level=0.0,
        )  # fmt: skip
        session.add(item)
        open_items[key] = item
        result.opened += 1
        result.events.append(_event(unit, at))
    elif change.closed and key in open_items:
        _close(open_items.pop(key), WatchStatus.RESOLVED, at, result)
        result.events.append(_event(unit, at))


def _peers_quiet(
    unit: _Unit, site_units: Iterable[_Unit], values: dict[int, dict[datetime, d.HourValues]], hour: datetime
) -> bool:
    """Whether the site's other units made few trips this hour too (under 30 % of usual)."""
    seen = quiet = 0
    for peer in site_units:
        if peer is unit:
            continue
        trips = hv.values.get(Signal.TRAFFIC) if (hv := values[peer.asset_id].get(hour)) else None
        monitor = peer.monitors.get(Signal.TRAFFIC)
        expected = (
            monitor.pattern.get(str(d.hour_of_week(hour, peer.zone))) if monitor and monitor.pattern else None
        )
        if trips is None or not expected:
            continue
        seen += 1
        quiet += trips < 0.3 * expected
    return seen > 0 and quiet == seen


def _follow_outages(session: Session, asset_ids: list[int], hour_end: datetime, result: PassResult) -> None:
    """Close open items whose asset has since had an unplanned outage, linking the outage
    (the share's open items and the outages after the oldest of them: two queries)."""
    items = session.scalars(
        select(WatchItem).where(WatchItem.asset_id.in_(asset_ids), WatchItem.status == WatchStatus.OPEN)
    ).all()
    if not items:
        return
    outages: dict[int, list[Outage]] = defaultdict(list)
    for outage in session.scalars(
        select(Outage)
        .where(
            Outage.asset_id.in_({i.asset_id for i in items}),
            Outage.started_at >= min(i.opened_at for i in items),
            Outage.started_at < hour_end,
        )
        .order_by(Outage.started_at)
    ):
        outages[outage.asset_id].append(outage)
    for item in items:
        after = next((o for o in outages[item.asset_id] if o.started_at >= item.opened_at), None)
        if after is not None:
            item.outage_id = after.id
            _close(item, WatchStatus.FOLLOWED_BY_OUTAGE, after.started_at, result)
            rearm(session, item.asset_id)


def rearm(session: Session, asset_id: int, signal: Signal | None = None) -> None:
    """Start an asset's detectors afresh (all, or one signal's) after a repair: the machine
    changed, so a drift that persists or comes back must open a new warning rather than
    stay inside the closed one. Baselines are kept."""
    query = update(SignalMonitor).where(SignalMonitor.asset_id == asset_id)
    if signal is not None:
        query = query.where(SignalMonitor.signal == signal)
    session.execute(
        query.values(
            ewma=0.0, alarm=False, elevated_since=None, calm_hours=0, cusum=0.0, level=None, trend=0.0
        )
    )


def _close(item: WatchItem, status: WatchStatus, at: datetime, result: PassResult) -> None:
    item.status, item.closed_at, item.updated_at = status, at, at
    result.closed += 1


def _open_items(session: Session, asset_ids: list[int]) -> OpenItems:
    return {
        (item.asset_id, item.signal): item
        for item in session.scalars(
            select(WatchItem).where(WatchItem.asset_id.in_(asset_ids), WatchItem.status == WatchStatus.OPEN)
        )
    }


def _event(unit: _Unit, at: datetime) -> LiveEvent:
    return LiveEvent(LiveKind.WATCH, unit.asset_id, at.isoformat(), unit.mqtt_id)


def _dump(agg: d.HourlyAggregate | None) -> dict[str, Any] | None:
    if agg is None:
        return None
    return {
        "hour": agg.hour.isoformat(),
        "trips": agg.trips,
        "door_cycles": agg.door_cycles,
        "door_reopenings": agg.door_reopenings,
    }


def _load(raw: dict[str, Any] | None) -> d.HourlyAggregate | None:
    if not raw:
        return None
    return d.HourlyAggregate(
        datetime.fromisoformat(raw["hour"]), trips=raw.get("trips"), door_cycles=raw.get("door_cycles"),
        door_reopenings=raw.get("door_reopenings"),
    )  # fmt: skip


def _utc(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _utc_or_none(ts: datetime | None) -> datetime | None:
    return None if ts is None else _utc(ts)
