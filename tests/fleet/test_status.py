"""Status messages → live status and outage records, in timestamp order, idempotent."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from fleet.db import Database
from fleet.live import LiveEvent, LiveKind
from fleet.models import AssetStatus, MaintenancePeriod, OperatingState, Outage
from fleet.status import StatusTracker, StatusUpdate

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
IN, OUT, MAINT, DEG = (
    OperatingState.IN_SERVICE,
    OperatingState.OUT_OF_SERVICE,
    OperatingState.MAINTENANCE,
    OperatingState.DEGRADED,
)


def _ms(minutes: int) -> int:
    return int((T0 + timedelta(minutes=minutes)).timestamp() * 1000)


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _apply(db: Database, asset_id: int, seq: list[tuple[int, OperatingState, str | None]]) -> list[LiveEvent]:
    tracker = StatusTracker(offline_after=timedelta(minutes=5))
    events: list[LiveEvent] = []
    for minute, state, fault in seq:
        with db.session() as s:
            events += tracker.apply(
                s, asset_id, StatusUpdate("ELV-1", _ms(minute), state, fault), _at(minute)
            )
    return events


def _outages(db: Database, asset_id: int) -> list[tuple[datetime, datetime | None, str | None]]:
    with db.session() as s:
        rows = s.scalars(select(Outage).where(Outage.asset_id == asset_id).order_by(Outage.started_at))
        return [(o.started_at, o.ended_at, o.fault_code) for o in rows]


def _maintenance(db: Database, asset_id: int) -> list[tuple[datetime, datetime | None]]:
    with db.session() as s:
        rows = s.scalars(select(MaintenancePeriod).where(MaintenancePeriod.asset_id == asset_id))
        return sorted((m.started_at, m.ended_at) for m in rows)


SEQUENCE = [
    (0, IN, None),
    (10, OUT, "door_lock"),
    (12, OUT, "door_lock"),  # repeat inside the outage
    (40, IN, None),
    (60, MAINT, None),
    (90, IN, None),
    (100, DEG, "leveling"),
    (120, OUT, "drive_fault"),
]
EXPECTED_OUTAGES = [(_at(10), _at(40), "door_lock"), (_at(120), None, "drive_fault")]
EXPECTED_MAINT = [(_at(60), _at(90))]


def test_outage_opens_and_closes_with_events(db: Database, asset_ids: dict[str, int]) -> None:
    aid = asset_ids["ELV-1"]
    events = _apply(db, aid, SEQUENCE)
    assert _outages(db, aid) == EXPECTED_OUTAGES
    assert _maintenance(db, aid) == EXPECTED_MAINT
    outage_events = [e for e in events if e.kind in (LiveKind.OUTAGE_OPENED, LiveKind.OUTAGE_CLOSED)]
    assert [(e.kind, e.state) for e in outage_events] == [
        (LiveKind.OUTAGE_OPENED, "out_of_service"),
        (LiveKind.OUTAGE_CLOSED, "in_service"),
        (LiveKind.OUTAGE_OPENED, "out_of_service"),
    ]
    with db.session() as s:
        status = s.get(AssetStatus, aid)
        assert status is not None
        assert (status.state, status.fault_code, status.since) == (OUT, "drive_fault", _at(120))


def test_repeated_messages_change_nothing(db: Database, asset_ids: dict[str, int]) -> None:
    aid = asset_ids["ELV-1"]
    _apply(db, aid, SEQUENCE)
    again = _apply(db, aid, SEQUENCE)
    assert again == []
    assert _outages(db, aid) == EXPECTED_OUTAGES
    assert _maintenance(db, aid) == EXPECTED_MAINT


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_any_arrival_order_gives_the_same_records(db: Database, asset_ids: dict[str, int], seed: int) -> None:
    aid = asset_ids["ELV-1"]
    shuffled = SEQUENCE[:]
    random.Random(seed).shuffle(shuffled)
    _apply(db, aid, shuffled)
    assert _outages(db, aid) == EXPECTED_OUTAGES
    assert _maintenance(db, aid) == EXPECTED_MAINT
    with db.session() as s:
        status = s.get(AssetStatus, aid)
        assert status is not None
        assert status.state == OUT


def test_every_permutation_of_a_short_history(db: Database, asset_ids: dict[str, int]) -> None:
    seq = [(0, IN, None), (10, OUT, "door_lock"), (20, IN, None), (30, OUT, "leveling")]
    for n, perm in enumerate(itertools.permutations(seq)):
        aid = asset_ids[["ELV-1", "ELV-2", "ELV-3"][n % 3]]
        with db.session() as s:  # reset this asset
            for model in (Outage, MaintenancePeriod):
                for row in s.scalars(select(model).where(model.asset_id == aid)):
                    s.delete(row)
            from fleet.models import StatusChange

            for row in s.scalars(select(StatusChange).where(StatusChange.asset_id == aid)):
                s.delete(row)
            status = s.get(AssetStatus, aid)
            if status:
                s.delete(status)
        _apply(db, aid, list(perm))
        assert _outages(db, aid) == [(_at(10), _at(20), "door_lock"), (_at(30), None, "leveling")], perm


def test_late_message_splits_an_outage(db: Database, asset_ids: dict[str, int]) -> None:
    aid = asset_ids["ELV-1"]
    _apply(db, aid, [(0, IN, None), (10, OUT, "door_lock"), (50, IN, None)])
    with db.session() as s:
        outage_id = s.scalars(select(Outage.id)).one()
    _apply(db, aid, [(20, IN, None), (30, OUT, "door_lock")])  # late: it was back for 10 minutes
    assert _outages(db, aid) == [(_at(10), _at(20), "door_lock"), (_at(30), _at(50), "door_lock")]
    with db.session() as s:  # the first outage kept its id
        assert s.scalars(select(Outage.id).order_by(Outage.started_at)).first() == outage_id


def test_silence_makes_an_asset_offline_and_a_message_brings_it_back(
    db: Database, asset_ids: dict[str, int]
) -> None:
    aid = asset_ids["ELV-1"]
    ids = {aid: "ELV-1"}
    _apply(db, aid, [(0, IN, None)])
    tracker = StatusTracker(offline_after=timedelta(minutes=5))
    with db.session() as s:
        assert tracker.sweep_offline(s, ids, _at(3)) == []
        events = tracker.sweep_offline(s, ids, _at(6))
    assert [(e.kind, e.state) for e in events] == [("status", "offline")]
    with db.session() as s:
        assert s.get(AssetStatus, aid).state == OperatingState.OFFLINE  # type: ignore[union-attr]
        events = tracker.touch(s, {aid: _at(7)}, ids)
    assert [(e.kind, e.state) for e in events] == [("status", "in_service")]
    with db.session() as s:
        status = s.get(AssetStatus, aid)
        assert status is not None
        assert (status.state, status.last_seen_at) == (IN, _at(7))
    assert _outages(db, aid) == []  # offline is unknown, not an outage


def test_gateway_will_marks_its_assets_offline(db: Database, asset_ids: dict[str, int]) -> None:
    for mqtt_id in ("ELV-1", "ELV-2"):
        tracker = StatusTracker(offline_after=timedelta(minutes=5))
        with db.session() as s:
            tracker.apply(s, asset_ids[mqtt_id], StatusUpdate(mqtt_id, _ms(0), IN, None), _at(0))
    with db.session() as s:
        events = tracker.mark_offline(s, [asset_ids["ELV-1"], asset_ids["ELV-2"]], {}, _at(1))
    assert len(events) == 2
    with db.session() as s:
        states = {st.asset_id: st.state for st in s.scalars(select(AssetStatus))}
    assert states == {asset_ids["ELV-1"]: OperatingState.OFFLINE, asset_ids["ELV-2"]: OperatingState.OFFLINE}


def test_an_outage_recorded_without_history_is_closed_not_erased(
    db: Database, asset_ids: dict[str, int]
) -> None:
    aid = asset_ids["ELV-1"]
    with db.session() as s:  # e.g. imported from the previous system, or seeded
        s.add(Outage(asset_id=aid, started_at=_at(0), fault_code="door_lock"))
    events = _apply(db, aid, [(30, IN, None)])
    assert _outages(db, aid) == [(_at(0), _at(30), "door_lock")]
    assert [e.kind for e in events if e.kind.startswith("outage")] == ["outage_closed"]


def test_an_outage_recorded_without_history_continues(db: Database, asset_ids: dict[str, int]) -> None:
    aid = asset_ids["ELV-1"]
    with db.session() as s:
        s.add(Outage(asset_id=aid, started_at=_at(0), fault_code="door_lock"))
    _apply(db, aid, [(30, OUT, "door_lock"), (50, IN, None)])
    assert _outages(db, aid) == [(_at(0), _at(50), "door_lock")]


@pytest.mark.parametrize("after", [DEG, MAINT, IN])
def test_a_closed_outage_says_the_state_the_asset_went_to(
    db: Database, asset_ids: dict[str, int], after: OperatingState
) -> None:
    aid = asset_ids["ELV-1"]
    events = _apply(db, aid, [(0, IN, None), (10, OUT, "door_lock"), (30, after, None)])
    closed = [e for e in events if e.kind is LiveKind.OUTAGE_CLOSED]
    assert [(e.state, e.ts) for e in closed] == [(after.value, _at(30).isoformat())]
    status = [e for e in events if e.kind is LiveKind.STATUS][-1]
    assert status.state == closed[0].state


def test_a_late_message_that_closes_an_outage_says_the_state_after_it(
    db: Database, asset_ids: dict[str, int]
) -> None:
    aid = asset_ids["ELV-1"]
    _apply(db, aid, [(0, IN, None), (10, OUT, "door_lock"), (50, IN, None)])
    events = _apply(db, aid, [(30, DEG, "leveling")])  # arrives late, ends the outage earlier
    closed = [e for e in events if e.kind is LiveKind.OUTAGE_CLOSED]
    assert all(e.state == DEG.value for e in closed)
    assert _outages(db, aid) == [(_at(10), _at(30), "door_lock")]
