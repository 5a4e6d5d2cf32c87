"""The detection pass against a real InfluxDB: a drifting unit gets a warning and its
neighbour none, passes are incremental, a unit without two weeks of data is never warned,
InfluxDB down changes nothing, two workers share the fleet without overlap, a dead
worker's share is picked up, and an outage closes the warning it followed."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from devstack.servers import Influxd, free_port
from fleet.db import Database
from fleet.models import Asset, AssetKind, Customer, Outage, Site, SiteKind
from fleet.models.condition import (
    ConditionCursor,
    ConditionPartition,
    Signal,
    SignalMonitor,
    WatchItem,
    WatchSeverity,
    WatchStatus,
)
from ingest.influx import V1Writer
from portal.condition.monitor import MonitorRules, run_pass
from portal.influxql import TelemetryReader

T0 = datetime(2026, 2, 2, tzinfo=UTC)
DAY = timedelta(days=1)
RULES = MonitorRules(partitions=4)


class RecordingReader(TelemetryReader):
    """A reader that remembers which assets each statement asked for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.asked: list[str] = []
        self.lock = threading.Lock()

    def query_partial(self, influxql: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        with self.lock:
            self.asked.extend(v for k, v in params.items() if k.startswith("a") and k[1:].isdigit())
        return super().query_partial(influxql, params)


def _lines(
    mqtt_id: str, start: datetime, days: float, seed: int, drift_from: datetime | None = None,
    hot: tuple[datetime, datetime] | None = None,
) -> list[str]:  # fmt: skip
    """Readings every 20 minutes; the motor heats up by 0.5 °C an hour from ``drift_from``,
    and runs 15 °C hot over ``hot``."""
    rng = random.Random(seed)
    out = []
    trips = cycles = reopenings = 0
    for n in range(int(days * 72)):
        t = start + n * timedelta(minutes=20)
        trips, cycles, reopenings = trips + 30, cycles + 60, reopenings + (2 if n % 3 else 1)
        heat = (
            max(0.0, (t - drift_from).total_seconds() / 3600 * 0.5) if drift_from and t >= drift_from else 0.0
        )
        heat += 15.0 if hot and hot[0] <= t < hot[1] else 0.0
        fields = (
            f"trips={trips}i,door_cycles={cycles}i,door_reopenings={reopenings}i,"
            f"motor_temp_c={40 + rng.gauss(0, 0.8) + heat:.2f},load_pct={20 + rng.gauss(0, 3):.1f},"
            f"vibration_mm_s={1.0 + rng.gauss(0, 0.1):.3f},leveling_error_mm={rng.choice((-1, 1)) * 1.2:.2f}"
        )
        out.append(f"telemetry,asset={mqtt_id} {fields} {int(t.timestamp() * 1000)}")
    return out


def _fleet(db: Database, sites: int, per_site: int) -> dict[str, int]:
    with db.session() as s:
        customer = Customer(name="Condition")
        s.add(customer)
        s.flush()
        ids = {}
        for i in range(sites):
            site = Site(
                customer_id=customer.id, name=f"S{i}", kind=SiteKind.RESIDENTIAL, address="1 rue",
                city="Lyon", postal_code="69003", country="FR", timezone="Europe/Paris",
            )  # fmt: skip
            s.add(site)
            s.flush()
            for j in range(per_site):
                mqtt_id = f"C-{i:02d}-{j}"
                asset = Asset(
                    site_id=site.id, kind=AssetKind.ELEVATOR, name=mqtt_id, manufacturer="Ascenda", model="A",
                    serial_number=mqtt_id, mqtt_id=mqtt_id, install_date=date(2010, 1, 1), rated_load_kg=630,
                    floors_served=8, availability_target=Decimal("99.5"),
                )  # fmt: skip
                s.add(asset)
                s.flush()
                ids[mqtt_id] = asset.id
    return ids


@pytest.fixture
def influx_db(influxd: Influxd) -> Iterator[tuple[V1Writer, RecordingReader]]:
    name = f"c_{uuid.uuid4().hex[:8]}"
    writer = V1Writer(influxd.url, name)
    writer.ensure_database()
    reader = RecordingReader(influxd.url, name)
    yield writer, reader
    writer.close()
    reader.close()


def _write(writer: V1Writer, lines: list[str]) -> None:
    for k in range(0, len(lines), 5000):
        writer.write(lines[k : k + 5000])


def _items(db: Database) -> list[tuple[str, Signal, WatchStatus, WatchItem]]:
    with db.session() as s:
        rows = s.execute(select(Asset.mqtt_id, WatchItem).join(Asset, WatchItem.asset_id == Asset.id)).all()
        s.expunge_all()
    return [(m, i.signal, i.status, i) for m, i in rows]


def test_a_drifting_motor_is_warned_its_neighbour_is_not_and_passes_are_incremental(
    db: Database, influx_db: tuple[V1Writer, RecordingReader]
) -> None:
    writer, reader = influx_db
    ids = _fleet(db, 1, 2)
    drift_from = T0 + 19 * DAY
    _write(writer, _lines("C-00-0", T0, 24, 1, drift_from) + _lines("C-00-1", T0, 24, 2))
    first = run_pass(db.sessionmaker, reader, T0 + 17 * DAY, "w1", RULES)
    assert first.refitted == 2
    assert first.opened == 0
    with db.session() as s:
        monitor = s.get(SignalMonitor, (ids["C-00-0"], Signal.MOTOR_TEMPERATURE))
        assert monitor is not None
        assert monitor.center == pytest.approx(40, abs=0.3)
    second = run_pass(db.sessionmaker, reader, T0 + 24 * DAY, "w1", RULES)
    assert second.opened >= 1
    items = _items(db)
    assert {(m, sig) for m, sig, _, _ in items} == {("C-00-0", Signal.MOTOR_TEMPERATURE)}
    (_, _, status, item) = items[0]
    assert status is WatchStatus.OPEN
    assert drift_from <= item.since < item.opened_at < drift_from + DAY
    assert item.baseline == pytest.approx(40, abs=0.3)
    assert item.level is not None
    assert item.level > 43
    assert second.events
    assert second.events[0].asset == "C-00-0"
    # the same hour again: every share is done, nothing is read or opened twice
    asked = len(reader.asked)
    again = run_pass(db.sessionmaker, reader, T0 + 24 * DAY + timedelta(minutes=30), "w1", RULES)
    assert again.shares == []
    assert len(reader.asked) == asked
    assert len(_items(db)) == 1
    with db.session() as s:
        cursor = s.get(ConditionCursor, ids["C-00-0"])
        assert cursor is not None
        assert cursor.through == T0 + 24 * DAY


def test_a_unit_with_less_than_two_weeks_of_data_is_never_warned(
    db: Database, influx_db: tuple[V1Writer, RecordingReader]
) -> None:
    writer, reader = influx_db
    ids = _fleet(db, 1, 1)
    _write(writer, _lines("C-00-0", T0 + 10 * DAY, 12, 3, drift_from=T0 + 17 * DAY))
    run_pass(db.sessionmaker, reader, T0 + 16 * DAY, "w1", RULES)
    result = run_pass(db.sessionmaker, reader, T0 + 22 * DAY, "w1", RULES)
    assert result.opened == 0
    assert _items(db) == []
    with db.session() as s:
        monitor = s.get(SignalMonitor, (ids["C-00-0"], Signal.MOTOR_TEMPERATURE))
        assert monitor is not None
        assert monitor.center is None


def test_influxdb_down_advances_nothing_and_the_next_pass_does_the_work(
    db: Database, influx_db: tuple[V1Writer, RecordingReader]
) -> None:
    writer, reader = influx_db
    ids = _fleet(db, 1, 1)
    _write(writer, _lines("C-00-0", T0, 18, 4))
    down = TelemetryReader(f"http://127.0.0.1:{free_port()}", "nowhere", timeout_s=1)
    failed = run_pass(db.sessionmaker, down, T0 + 17 * DAY, "w1", RULES)
    assert failed.failed_shares
    assert failed.assets == []
    with db.session() as s:
        assert s.get(ConditionCursor, ids["C-00-0"]) is None
        assert s.scalars(select(SignalMonitor)).all() == []
        (share,) = failed.failed_shares
        partition = s.get(ConditionPartition, share)
        assert partition is not None
        assert partition.owner is None
        assert partition.done_through is None
    ok = run_pass(db.sessionmaker, reader, T0 + 17 * DAY, "w1", RULES)
    assert ok.failed_shares == []
    assert ok.refitted == 1


def test_two_workers_handle_every_asset_exactly_once_per_pass(
    db: Database, influx_db: tuple[V1Writer, RecordingReader]
) -> None:
    writer, reader = influx_db
    ids = _fleet(db, 8, 2)
    _write(writer, [line for n, m in enumerate(ids) for line in _lines(m, T0, 2, n)])
    results = {}
    start = threading.Barrier(2)

    def work(owner: str) -> None:
        start.wait()
        results[owner] = run_pass(db.sessionmaker, reader, T0 + 2 * DAY, owner, RULES)

    threads = [threading.Thread(target=work, args=(owner,)) for owner in ("w1", "w2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    handled = results["w1"].assets + results["w2"].assets
    assert sorted(handled) == sorted(ids)  # everyone once, nobody twice
    assert not set(results["w1"].shares) & set(results["w2"].shares)
    assert sorted(results["w1"].shares + results["w2"].shares) == list(range(RULES.partitions))


def test_a_dead_worker_s_share_is_picked_up_once_its_lease_has_expired(
    db: Database, influx_db: tuple[V1Writer, RecordingReader]
) -> None:
    _writer, reader = influx_db
    _fleet(db, 4, 1)
    now = T0 + 2 * DAY
    run_pass(db.sessionmaker, reader, now - timedelta(hours=1), "w1", RULES)
    with db.session() as s:  # a worker took share 0 and died
        s.execute(
            update(ConditionPartition)
            .where(ConditionPartition.id == 0)
            .values(owner="dead", lease_until=now + timedelta(minutes=5))
        )
    alive = run_pass(db.sessionmaker, reader, now, "w2", RULES)
    assert 0 not in alive.shares
    assert len(alive.shares) == RULES.partitions - 1
    later = run_pass(db.sessionmaker, reader, now + timedelta(minutes=10), "w2", RULES)
    assert later.shares == [0]


def test_an_outage_after_a_warning_closes_it_and_rearms_the_detectors(
    db: Database, influx_db: tuple[V1Writer, RecordingReader]
) -> None:
    writer, reader = influx_db
    ids = _fleet(db, 1, 1)
    _write(writer, _lines("C-00-0", T0, 24, 5, drift_from=T0 + 19 * DAY))
    run_pass(db.sessionmaker, reader, T0 + 17 * DAY, "w1", RULES)
    run_pass(db.sessionmaker, reader, T0 + 21 * DAY, "w1", RULES)
    ((_, _, _, item),) = _items(db)
    failed_at = T0 + 21 * DAY + timedelta(hours=6)
    assert item.opened_at < failed_at
    with db.session() as s:
        s.add(Outage(asset_id=ids["C-00-0"], started_at=failed_at, ended_at=failed_at + timedelta(hours=2)))
    run_pass(db.sessionmaker, reader, failed_at, "w1", RULES)  # up to the outage, not past it
    assert _items(db)[0][2] is WatchStatus.OPEN
    run_pass(db.sessionmaker, reader, failed_at + timedelta(hours=1), "w1", RULES)
    ((_, _, status, closed),) = _items(db)
    assert status is WatchStatus.FOLLOWED_BY_OUTAGE
    assert closed.closed_at == failed_at
    assert closed.outage_id
    with db.session() as s:
        assert not any(m.alarm or m.trend for m in s.scalars(select(SignalMonitor)))


def test_a_clock_that_jumps_back_repeats_nothing(
    db: Database, influx_db: tuple[V1Writer, RecordingReader]
) -> None:
    writer, reader = influx_db
    ids = _fleet(db, 1, 1)
    _write(writer, _lines("C-00-0", T0, 20, 6))
    run_pass(db.sessionmaker, reader, T0 + 17 * DAY, "w1", RULES)
    run_pass(db.sessionmaker, reader, T0 + 19 * DAY, "w1", RULES)
    with db.session() as s:
        before = s.get(SignalMonitor, (ids["C-00-0"], Signal.LEVELING))
        assert before is not None
        ewma = before.ewma
    back = run_pass(db.sessionmaker, reader, T0 + 18 * DAY, "w1", RULES)
    assert back.shares == []
    with db.session() as s:
        cursor = s.get(ConditionCursor, ids["C-00-0"])
        assert cursor is not None
        assert cursor.through == T0 + 19 * DAY
        monitor = s.get(SignalMonitor, (ids["C-00-0"], Signal.LEVELING))
        assert monitor is not None
        assert monitor.ewma == ewma


@pytest.mark.parametrize("recorded", [True, False])
def test_hours_of_a_recorded_stop_feed_no_detector(
    db: Database, influx_db: tuple[V1Writer, RecordingReader], recorded: bool
) -> None:
    """A motor still hot during an outage (a technician at work, readings unlike service)
    opens nothing when the outage is recorded; the same hours unexplained do."""
    writer, reader = influx_db
    ids = _fleet(db, 1, 1)
    stop = (T0 + 18 * DAY, T0 + 18 * DAY + timedelta(hours=18))
    _write(writer, _lines("C-00-0", T0, 20, 9, hot=stop))
    if recorded:
        with db.session() as s:
            s.add(Outage(asset_id=ids["C-00-0"], started_at=stop[0], ended_at=stop[1]))
    run_pass(db.sessionmaker, reader, T0 + 17 * DAY, "w1", RULES)
    run_pass(db.sessionmaker, reader, T0 + 20 * DAY, "w1", RULES)
    signals = {signal for _, signal, _, _ in _items(db)}
    assert signals == (set() if recorded else {Signal.MOTOR_TEMPERATURE})


def test_a_refit_without_enough_usable_hours_keeps_the_last_baseline(
    db: Database, influx_db: tuple[V1Writer, RecordingReader]
) -> None:
    """After a repair the unit's normal is the one it had before the drift: when the weeks
    to refit from are mostly under a warning (left out), the last baseline stays."""
    writer, reader = influx_db
    ids = _fleet(db, 1, 1)
    asset_id = ids["C-00-0"]
    _write(writer, _lines("C-00-0", T0, 26, 10))
    run_pass(db.sessionmaker, reader, T0 + 17 * DAY, "w1", RULES)
    with db.session() as s:
        before = s.get(SignalMonitor, (asset_id, Signal.LEVELING))
        assert before is not None
        assert before.center is not None
        center, scale = before.center, before.scale
        s.add(
            WatchItem(
                asset_id=asset_id, signal=Signal.LEVELING, severity=WatchSeverity.LOW,
                status=WatchStatus.RESOLVED, opened_at=T0 + DAY, since=T0, updated_at=T0 + 20 * DAY,
                closed_at=T0 + 20 * DAY,
            )
        )  # fmt: skip
    run_pass(db.sessionmaker, reader, T0 + 25 * DAY, "w1", RULES)
    run_pass(db.sessionmaker, reader, T0 + 25 * DAY + timedelta(hours=1), "w1", RULES)  # refit due
    with db.session() as s:
        after = s.get(SignalMonitor, (asset_id, Signal.LEVELING))
        other = s.get(SignalMonitor, (asset_id, Signal.VIBRATION))
        assert after is not None
        assert other is not None
        assert after.fitted_at == other.fitted_at == T0 + 25 * DAY  # attempted, like the rest
        assert (after.center, after.scale) == (center, scale)
