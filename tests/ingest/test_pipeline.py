"""The pipeline with a scripted writer: retries, bisection of refused points, stopping."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from fleet.db import Database
from fleet.models import Asset, DeadLetter, StatusChange
from fleet.status import StatusTracker
from ingest.contract import Contract
from ingest.deadletters import DeadLetters
from ingest.influx import RejectedWrite, RetryableWrite
from ingest.metrics import Metrics
from ingest.pipeline import Backoff, Inbound, Pipeline, Stopped
from ingest.registry import AssetRegistry

NOW_S = 1_763_900_000.0


class ScriptedWriter:
    """Fails as told, records what it stored; refuses any line containing 'poison'."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls = 0
        self.stored: list[str] = []

    def write(self, lines: list[str]) -> None:
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise RetryableWrite("HTTP 503: down")
        if any("poison" in ln for ln in lines):
            raise RejectedWrite("HTTP 400: partial write")
        self.stored.extend(lines)

    def ensure_database(self) -> None: ...
    def ping(self) -> bool:
        return True

    def close(self) -> None: ...


def _pipeline(db: Database, writer: ScriptedWriter, stopping: threading.Event | None = None) -> Pipeline:
    registry = AssetRegistry(db)
    registry.reload()
    from datetime import timedelta

    return Pipeline(
        Contract(), writer, db, StatusTracker(timedelta(minutes=5)), registry, DeadLetters(100), Metrics(),
        stopping or threading.Event(), backoff=Backoff(base=0.01, cap=0.02), clock=lambda: NOW_S,
    )  # fmt: skip


def _msg(asset: str, body: dict[str, object], kind: str = "telemetry") -> Inbound:
    return Inbound(1, 1, f"equipment/{asset}/{kind}", json.dumps(body).encode(), 1, NOW_S)


TS = int(NOW_S * 1000) - 1000


def test_retries_until_the_server_accepts(db: Database, asset_ids: dict[str, int]) -> None:
    writer = ScriptedWriter(failures=3)
    pipe = _pipeline(db, writer)
    pipe.process([_msg("ELV-1", {"ts": TS, "x": 1})])
    assert writer.calls == 4
    assert writer.stored == [f"telemetry,asset=ELV-1 x=1.0 {TS}"]
    assert pipe.metrics.snapshot()["ingest_write_retries_total"] == 3


def test_refused_points_are_isolated_and_dead_lettered(db: Database, asset_ids: dict[str, int]) -> None:
    writer = ScriptedWriter()
    pipe = _pipeline(db, writer)
    batch = [_msg("ELV-1", {"ts": TS + k, "x": k}) for k in range(7)]
    batch.insert(3, _msg("ELV-2", {"ts": TS, "note": "poison"}))
    pipe.process(batch)
    assert sorted(ln for ln in writer.stored if ln.startswith("telemetry,")) == sorted(
        f"telemetry,asset=ELV-1 x={float(k)} {TS + k}" for k in range(7)
    )
    with db.session() as s:
        (dead,) = s.scalars(select(DeadLetter)).all()
        assert (dead.reason, dead.topic) == ("rejected_by_db", "equipment/ELV-2/telemetry")
    assert pipe.metrics.snapshot()["ingest_readings_written_total"] == 7


def test_unknown_assets_are_dead_lettered_not_written(db: Database, asset_ids: dict[str, int]) -> None:
    writer = ScriptedWriter()
    pipe = _pipeline(db, writer)
    pipe.process([_msg("GHOST-1", {"ts": TS, "x": 1}), _msg("ELV-3", {"ts": TS, "x": 2})])
    assert writer.stored == [f"telemetry,asset=ELV-3 x=2.0 {TS}"]
    with db.session() as s:
        assert [d.reason for d in s.scalars(select(DeadLetter))] == ["unknown_asset"]


def test_messages_of_an_archived_asset_are_dead_lettered_as_not_allowed(
    db: Database, asset_ids: dict[str, int]
) -> None:
    with db.session() as s:
        s.execute(update(Asset).where(Asset.mqtt_id == "ELV-2").values(archived_at=datetime.now(UTC)))
        s.commit()
    writer = ScriptedWriter()
    pipe = _pipeline(db, writer)
    pipe.process([_msg("ELV-2", {"ts": TS, "state": "out_of_service", "fault": "door_fault"}, "status"),
                  _msg("ELV-3", {"ts": TS, "x": 2})])  # fmt: skip
    assert writer.stored == [f"telemetry,asset=ELV-3 x=2.0 {TS}"]
    with db.session() as s:
        assert [(d.reason, d.detail) for d in s.scalars(select(DeadLetter))] == [("not_allowed", "ELV-2")]
        assert s.scalars(select(StatusChange)).all() == []


def test_stop_while_down_leaves_the_batch_unstored(db: Database, asset_ids: dict[str, int]) -> None:
    stopping = threading.Event()
    writer = ScriptedWriter(failures=10_000)
    pipe = _pipeline(db, writer, stopping)
    threading.Timer(0.2, stopping.set).start()
    started = time.monotonic()
    with pytest.raises(Stopped):
        pipe.process([_msg("ELV-1", {"ts": TS, "x": 1})])
    assert time.monotonic() - started < 2
    assert writer.stored == []


def test_backoff_is_exponential_and_capped() -> None:
    b = Backoff(base=0.5, cap=30)
    assert [b.delay(n) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
