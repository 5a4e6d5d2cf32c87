"""Live status and outage records in SQL, rebuilt from device statuses in timestamp order.

Every status message is kept in ``status_changes`` (unique per asset and timestamp),
so a repeated message changes nothing and a late one is put in its place: the
outages and maintenance periods after it are re-derived from the ordered history
and reconciled with the stored rows (updated in place, so their ids survive).

- ``out_of_service`` opens an outage, any other state closes it;
- ``maintenance`` periods are recorded separately (they do not count against availability);
- an asset silent for longer than the offline delay becomes ``offline`` (unknown), which
  is neither in service nor an outage.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, bindparam, or_, select, update
from sqlalchemy.orm import Session

from fleet.live import LiveEvent, LiveKind
from fleet.models import (
    Asset,
    AssetStatus,
    DetectedBy,
    MaintenancePeriod,
    OperatingState,
    Outage,
    StatusChange,
)

logger = logging.getLogger(__name__)


def ms_to_dt(ts_ms: int) -> datetime:
    """Epoch milliseconds to an aware UTC datetime."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC)


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A reported operating state: from a device (MQTT) or from a person (a check-in)."""

    asset: str  # the MQTT id
    ts_ms: int
    state: OperatingState
    fault: str | None


@dataclass
class _Run:
    state: OperatingState
    start: datetime
    fault: str | None
    end: datetime | None = None


def _state_after(runs: Sequence[_Run], run: _Run) -> OperatingState:
    """The state the asset went to when ``run`` ended (runs are consecutive: the next one starts then)."""
    for candidate in runs:
        if candidate.start == run.end:
            return candidate.state
    return OperatingState.IN_SERVICE


def _closed(mqtt_id: str, asset_id: int, end: datetime, state: OperatingState, fault: str | None,
            outage_id: int) -> LiveEvent:  # fmt: skip
    return LiveEvent(
        LiveKind.OUTAGE_CLOSED, asset_id, end.isoformat(), mqtt_id, state.value, fault, outage_id
    )


def _opened(mqtt_id: str, asset_id: int, start: datetime, fault: str | None, outage_id: int) -> LiveEvent:
    return LiveEvent(LiveKind.OUTAGE_OPENED, asset_id, start.isoformat(), mqtt_id,
                     OperatingState.OUT_OF_SERVICE.value, fault, outage_id)  # fmt: skip


def _runs(changes: Sequence[StatusChange]) -> list[_Run]:
    """Consecutive changes with the same state merged into runs, each ended by the next."""
    runs: list[_Run] = []
    for change in changes:
        if runs and runs[-1].state == change.state:
            if runs[-1].fault is None:
                runs[-1].fault = change.fault_code
            continue
        if runs:
            runs[-1].end = change.ts
        runs.append(_Run(change.state, change.ts, change.fault_code))
    return runs


class StatusTracker:
    """Applies device statuses, presence and silence to ``asset_status`` and outage tables."""

    def __init__(self, offline_after: timedelta) -> None:
        self.offline_after = offline_after

    # --- device statuses -----------------------------------------------------------------
    def apply(
        self, session: Session, asset_id: int, update_: StatusUpdate, received_at: datetime
    ) -> list[LiveEvent]:
        """Record one status message (idempotent) and re-derive what follows it."""
        ts = ms_to_dt(update_.ts_ms)
        # serialise concurrent ingesters on this asset (PostgreSQL; SQLite serialises writers)
        session.execute(select(Asset.id).where(Asset.id == asset_id).with_for_update())
        duplicate = session.scalar(
            select(StatusChange.id).where(StatusChange.asset_id == asset_id, StatusChange.ts == ts)
        )
        status = session.get(AssetStatus, asset_id)
        if duplicate is not None:
            if status is not None and received_at > status.last_seen_at:
                status.last_seen_at = received_at
            return []
        session.add(StatusChange(asset_id=asset_id, ts=ts, state=update_.state, fault_code=update_.fault))
        session.flush()

        window = self._window_start(session, asset_id, ts)
        changes = list(
            session.scalars(
                select(StatusChange)
                .where(StatusChange.asset_id == asset_id, StatusChange.ts >= window)
                .order_by(StatusChange.ts)
            )
        )
        runs = _runs(changes)
        events = self._reconcile(
            session, Outage, asset_id, update_.asset, window, runs, OperatingState.OUT_OF_SERVICE
        )
        self._reconcile(
            session, MaintenancePeriod, asset_id, update_.asset, window, runs, OperatingState.MAINTENANCE
        )

        last = runs[-1]
        latest_ts = changes[-1].ts
        if status is None:
            status = AssetStatus(
                asset_id=asset_id, state=last.state, fault_code=changes[-1].fault_code,
                since=last.start, reported_at=latest_ts, last_seen_at=received_at,
            )  # fmt: skip
            session.add(status)
            events.append(self._status_event(update_.asset, asset_id, status))
        else:
            changed = status.state != last.state or status.fault_code != changes[-1].fault_code
            if latest_ts >= status.reported_at or status.state == OperatingState.OFFLINE or changed:
                status.state = last.state
                status.fault_code = changes[-1].fault_code
                status.since = last.start
                status.reported_at = latest_ts
            status.last_seen_at = max(status.last_seen_at, received_at)
            if changed:
                events.append(self._status_event(update_.asset, asset_id, status))
        return events

    @staticmethod
    def _window_start(session: Session, asset_id: int, ts: datetime) -> datetime:
        """Start of the run that precedes ``ts`` (or ``ts`` itself if nothing precedes it)."""
        prev = session.scalar(
            select(StatusChange)
            .where(StatusChange.asset_id == asset_id, StatusChange.ts < ts)
            .order_by(StatusChange.ts.desc())
            .limit(1)
        )
        if prev is None:
            return ts
        before = session.scalar(
            select(StatusChange.ts)
            .where(
                StatusChange.asset_id == asset_id, StatusChange.ts < prev.ts, StatusChange.state != prev.state
            )
            .order_by(StatusChange.ts.desc())
            .limit(1)
        )
        query = select(StatusChange.ts).where(StatusChange.asset_id == asset_id)
        if before is not None:
            query = query.where(StatusChange.ts > before)
        first = session.scalar(query.order_by(StatusChange.ts).limit(1))
        return first or prev.ts

    @staticmethod
    def _reconcile(
        session: Session,
        model: type[Outage] | type[MaintenancePeriod],
        asset_id: int,
        mqtt_id: str,
        window: datetime,
        runs: Sequence[_Run],
        state: OperatingState,
    ) -> list[LiveEvent]:
        """Make the stored periods of ``state`` after ``window`` equal to the derived runs."""
        query: Select[Outage | MaintenancePeriod] = select(model).where(  # type: ignore[assignment]
            model.asset_id == asset_id,
            or_(model.started_at >= window, model.ended_at.is_(None), model.ended_at > window),
        )
        if model is Outage:
            query = query.where(Outage.detected_by == DetectedBy.SENSOR)
        existing: list[Outage | MaintenancePeriod] = list(session.scalars(query.order_by(model.started_at)))
        events: list[LiveEvent] = []
        runs = list(runs)
        wanted = [r for r in runs if r.state == state]
        for row in [r for r in existing if r.started_at < window]:
            # a period recorded before the window (no history for it): continue or close it
            existing.remove(row)
            if runs and runs[0].state == state and wanted and wanted[0] is runs[0]:
                wanted[0] = _Run(state, row.started_at, runs[0].fault, runs[0].end)
                existing.insert(0, row)
            elif runs and (row.ended_at is None or row.ended_at > runs[0].start):
                was_open = row.ended_at is None
                row.ended_at = runs[0].start
                if isinstance(row, Outage) and was_open:
                    events.append(
                        _closed(mqtt_id, asset_id, runs[0].start, runs[0].state, row.fault_code, row.id)
                    )
        matches: dict[int, Outage | MaintenancePeriod] = {}
        free = list(existing)
        for i, run in enumerate(wanted):
            for row in free:
                row_end = row.ended_at or datetime.max.replace(tzinfo=UTC)
                run_end = run.end or datetime.max.replace(tzinfo=UTC)
                if (row.started_at < run_end and row_end > run.start) or row.started_at == run.start:
                    matches[i] = row
                    free.remove(row)
                    break
        for row in free:  # periods the ordered history shows never happened
            session.delete(row)
        session.flush()
        new_rows: list[tuple[_Run, Outage | MaintenancePeriod]] = []
        for i, run in enumerate(wanted):
            matched = matches.get(i)
            if matched is None:
                fresh: Outage | MaintenancePeriod
                if model is Outage:
                    fresh = Outage(asset_id=asset_id, started_at=run.start, ended_at=run.end,
                                   fault_code=run.fault, detected_by=DetectedBy.SENSOR)  # fmt: skip
                else:
                    fresh = MaintenancePeriod(asset_id=asset_id, started_at=run.start, ended_at=run.end)
                session.add(fresh)
                new_rows.append((run, fresh))
                continue
            was_open = matched.ended_at is None
            matched.started_at, matched.ended_at = run.start, run.end
            if not isinstance(matched, Outage):
                continue
            matched.fault_code = run.fault  # sensor-derived; people's notes go in ``cause``
            if was_open and run.end is not None:
                events.append(
                    _closed(
                        mqtt_id, asset_id, run.end, _state_after(runs, run), matched.fault_code, matched.id
                    )
                )
            elif not was_open and run.end is None:
                events.append(_opened(mqtt_id, asset_id, run.start, matched.fault_code, matched.id))
        session.flush()
        for run, row in new_rows:
            if model is Outage and run.end is None:
                events.append(_opened(mqtt_id, asset_id, run.start, run.fault, row.id))
            elif model is Outage and run.end is not None:
                events.append(_closed(mqtt_id, asset_id, run.end, _state_after(runs, run), run.fault, row.id))
        return events

    @staticmethod
    def _status_event(mqtt_id: str, asset_id: int, status: AssetStatus) -> LiveEvent:
        return LiveEvent(
            LiveKind.STATUS,
            asset_id,
            status.since.isoformat(),
            mqtt_id,
            status.state.value,
            status.fault_code,
        )

    # --- presence and silence -------------------------------------------------------------
    def touch(self, session: Session, seen: dict[int, datetime], ids: dict[int, str]) -> list[LiveEvent]:
        """Record when assets were last heard from; bring offline assets back."""
        if not seen:
            return []
        table = AssetStatus.__table__.c
        session.execute(
            update(AssetStatus.__table__)  # type: ignore[arg-type]  # a Table, typed as a FromClause
            .where(table.asset_id == bindparam("aid"), table.last_seen_at < bindparam("seen"))
            .values(last_seen_at=bindparam("seen")),
            [{"aid": aid, "seen": ts} for aid, ts in seen.items()],
        )
        session.expire_all()
        events = []
        back = session.scalars(
            select(AssetStatus).where(
                AssetStatus.asset_id.in_(list(seen)), AssetStatus.state == OperatingState.OFFLINE
            )
        )
        for status in back:
            latest = session.scalar(
                select(StatusChange)
                .where(StatusChange.asset_id == status.asset_id)
                .order_by(StatusChange.ts.desc())
                .limit(1)
            )
            if latest is None:
                continue
            status.state, status.fault_code = latest.state, latest.fault_code
            status.since = seen[status.asset_id]
            events.append(self._status_event(ids.get(status.asset_id, ""), status.asset_id, status))
        return events

    def mark_offline(
        self, session: Session, asset_ids: Iterable[int], ids: dict[int, str], now: datetime
    ) -> list[LiveEvent]:
        """Mark assets offline at once (their gateway's last will arrived)."""
        events = []
        for status in session.scalars(select(AssetStatus).where(AssetStatus.asset_id.in_(list(asset_ids)))):
            if status.state != OperatingState.OFFLINE:
                status.state, status.since = OperatingState.OFFLINE, now
                events.append(self._status_event(ids.get(status.asset_id, ""), status.asset_id, status))
        return events

    def sweep_offline(self, session: Session, ids: dict[int, str], now: datetime) -> list[LiveEvent]:
        """Mark assets silent for longer than the offline delay as offline."""
        stale = session.scalars(
            select(AssetStatus).where(
                AssetStatus.last_seen_at < now - self.offline_after,
                AssetStatus.state != OperatingState.OFFLINE,
            )
        )
        events = []
        for status in stale:
            status.state, status.since = OperatingState.OFFLINE, status.last_seen_at
            events.append(self._status_event(ids.get(status.asset_id, ""), status.asset_id, status))
            logger.info("asset %s offline: silent since %s", ids.get(status.asset_id), status.last_seen_at)
        return events
