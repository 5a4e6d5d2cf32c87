"""Data exports against a real InfluxDB: every reading written is in the export once (CSV and
line protocol), the files are described by the data dictionary, spreadsheets are safe,
the scope is kept (404), and the job's life (claim, progress, failure, expiry) holds."""

from __future__ import annotations

import csv
import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from devstack.servers import Influxd
from fleet.db import Database
from fleet.models import (
    Audience,
    DataExport,
    ExportState,
    Feedback,
    OperatingState,
    Outage,
    StatusChange,
    User,
)
from ingest.influx import V1Writer
from portal.access import NotVisible, Scope
from portal.data_export import jobs
from portal.influxql import TelemetryReader
from tests.portal.world import World, build_world

T0 = datetime(2026, 5, 10, tzinfo=UTC)
NOW = datetime(2026, 6, 2, 9, 0, tzinfo=UTC)
READINGS = 3 * 360  # three hours at one reading every 10 s


@pytest.fixture
def setting(db: Database, influxd: Influxd) -> Iterator[tuple[Database, World, TelemetryReader]]:
    with db.session() as session:
        w = build_world(session)
        session.add_all(
            [
                StatusChange(
                    asset_id=w.asset_a,
                    ts=T0 + timedelta(minutes=5),
                    state=OperatingState.OUT_OF_SERVICE,
                    fault_code="door_lock",
                ),
                Outage(
                    asset_id=w.asset_a,
                    started_at=T0 + timedelta(minutes=5),
                    ended_at=T0 + timedelta(minutes=50),
                    fault_code="door_lock",
                ),
                Feedback(
                    site_id=w.site_a,
                    asset_id=w.asset_a,
                    author_group=Audience.RESIDENT,
                    submission_id="x-1",
                    text='=HYPERLINK("http://evil.example","click")',
                    contact="resident@private.example",
                    created_at=T0 + timedelta(hours=1),
                    last_activity_at=T0 + timedelta(hours=1),
                ),
            ]
        )
    database = f"x_{uuid.uuid4().hex[:8]}"
    writer = V1Writer(influxd.url, database)
    writer.ensure_database()
    t0 = int(T0.timestamp() * 1000)
    lines = [
        f"telemetry,asset=ELV-9001 trips={n}.0,motor_temp_c={30 + n % 7}.5 {t0 + n * 10_000}"
        for n in range(READINGS)
    ]
    lines += [
        f"telemetry,asset=ELV-9002 trips={n}.0 {t0 + n * 10_000}" for n in range(100)
    ]  # another customer's
    lines += [
        f'telemetry_text,asset=ELV-9001 firmware="v2.1" {t0}',
        f'event,asset=ELV-9001,type=door_fault severity="warning",detail="reopened 12 times" {t0 + 60_000}',
    ]
    lines += [
        f"telemetry,asset=ELV-9001 trips=1.0 {t0 - 1000}",
        f"telemetry,asset=ELV-9001 trips=1.0 {t0 + 3 * 3_600_000}",
    ]
    for k in range(0, len(lines), 5000):
        writer.write(lines[k : k + 5000])
    writer.close()
    reader = TelemetryReader(influxd.url, database)
    yield db, w, reader
    reader.close()


def _request(db: Database, user_id: int, **what: object) -> int:
    with db.session() as session:
        user = session.get(User, user_id)
        assert user is not None
        what.setdefault("customer_id", None)
        what.setdefault("site_id", None)
        what.setdefault("asset_ids", [])
        export = jobs.request_export(
            session,
            user,
            Scope.for_user(user),
            start=T0,
            end=T0 + timedelta(hours=3),
            now=NOW,
            max_days=400,
            **what,
        )  # type: ignore[arg-type]
        return export.id


def _rows(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    raw = archive.read(name)
    assert raw.startswith("\ufeff".encode()), f"{name} has no byte-order mark"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def test_every_reading_is_exported_once(
    setting: tuple[Database, World, TelemetryReader], tmp_path: Path
) -> None:
    db, w, reader = setting
    export_id = _request(db, w.fm_a, customer_id=w.customer_a)
    rules = jobs.ExportRules(folder=tmp_path)
    assert jobs.run_next(db.sessionmaker, reader, rules, lambda: NOW)
    assert not jobs.run_next(db.sessionmaker, reader, rules, lambda: NOW)  # nothing else queued
    with db.session() as session:
        export = session.get(DataExport, export_id)
        assert export is not None
        assert (export.state, export.progress, export.expires_at) == (
            ExportState.DONE,
            100,
            NOW + timedelta(days=7),
        )
        path = jobs.export_file(export, tmp_path, NOW)
    assert path is not None
    with zipfile.ZipFile(path) as archive:
        telemetry = _rows(archive, "telemetry.csv")
        assert len(telemetry) == READINGS
        assert {r["asset"] for r in telemetry} == {"ELV-9001"}  # not customer B's unit
        assert sorted(float(r["trips"]) for r in telemetry) == [float(n) for n in range(READINGS)]
        assert len({r["time"] for r in telemetry}) == READINGS
        assert telemetry[0] == {
            "time": "2026-05-10T00:00:00.000+00:00",
            "asset": "ELV-9001",
            "motor_temp_c": "30.5",
            "trips": "0.0",
        }
        protocol = archive.read("telemetry.lp").decode().splitlines()
        assert len(protocol) == READINGS
        assert (
            protocol[0]
            == f"telemetry,asset=ELV-9001 motor_temp_c=30.5,trips=0.0 {int(T0.timestamp() * 1000)}"
        )
        assert _rows(archive, "telemetry_text.csv") == [
            {
                "time": "2026-05-10T00:00:00.000+00:00",
                "asset": "ELV-9001",
                "field": "firmware",
                "value": "v2.1",
            }
        ]
        (event,) = _rows(archive, "events.csv")
        assert (event["type"], event["severity"]) == ("door_fault", "warning")
        (status,) = _rows(archive, "status_history.csv")
        assert (status["state"], status["fault_code"]) == ("out_of_service", "door_lock")
        assert [o["fault_code"] for o in _rows(archive, "outages.csv")] == ["door_lock"]
        (feedback,) = _rows(archive, "feedback.csv")
        assert feedback["text"] == '\'=HYPERLINK("http://evil.example","click")'  # never run as a formula
        assert "resident@private.example" not in archive.read("feedback.csv").decode()
        dictionary = json.loads(archive.read("data-dictionary.json"))
        readme = archive.read("README.md").decode()
        for name in archive.namelist():
            if name.endswith(".csv"):
                header = next(csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig"))))
                assert header == list(dictionary["files"][name]["properties"]), name
                assert name in readme
        assert dictionary["files"]["telemetry.csv"]["properties"]["motor_temp_c"]["x-unit"] == "°C"
        assert "telemetry.lp" in dictionary["files"]


def test_units_outside_the_scope_are_not_found(setting: tuple[Database, World, TelemetryReader]) -> None:
    db, w, _reader = setting
    for what in (
        {"customer_id": w.customer_a},
        {"site_id": w.site_a},
        {"asset_ids": [w.asset_a]},
        {"asset_ids": [w.asset_b, w.asset_a]},
    ):
        with pytest.raises(NotVisible):
            _request(db, w.fm_b, **what)
    with pytest.raises(jobs.Refused) as refused:
        _request(db, w.staff, asset_ids=[w.asset_a, w.asset_b])  # one export, one customer
    assert refused.value.status == 422


def test_a_failure_is_recorded_and_a_dead_workers_export_is_retried(
    setting: tuple[Database, World, TelemetryReader], tmp_path: Path
) -> None:
    db, w, _reader = setting
    export_id = _request(db, w.staff, site_id=w.site_a)
    assert jobs.claim_next(db.sessionmaker, NOW, timedelta(minutes=10)) == export_id
    assert (
        jobs.claim_next(db.sessionmaker, NOW + timedelta(minutes=5), timedelta(minutes=10)) is None
    )  # still alive
    assert jobs.claim_next(db.sessionmaker, NOW + timedelta(minutes=11), timedelta(minutes=10)) == export_id
    with db.session() as session:
        session.execute(update(DataExport).where(DataExport.id == export_id).values(state=ExportState.QUEUED))
    folder = tmp_path / "exports"
    gone = TelemetryReader("http://127.0.0.1:9", "nothing", timeout_s=1)  # nothing listens
    assert jobs.run_next(db.sessionmaker, gone, jobs.ExportRules(folder=folder), lambda: NOW)
    with db.session() as session:
        export = session.get(DataExport, export_id)
        assert export is not None
        assert export.state is ExportState.FAILED
        assert "unreachable" in (export.error or "")
    assert list(folder.iterdir()) == []  # no half-written file left behind


def test_an_export_is_kept_seven_days(
    setting: tuple[Database, World, TelemetryReader], tmp_path: Path
) -> None:
    db, w, reader = setting
    export_id = _request(db, w.fm_a, asset_ids=[w.asset_a])
    folder = tmp_path / "exports"
    jobs.run_next(db.sessionmaker, reader, jobs.ExportRules(folder=folder), lambda: NOW)
    assert len(list(folder.iterdir())) == 1
    assert jobs.expire(db.sessionmaker, folder, NOW + timedelta(days=7) - timedelta(seconds=1)) == 0
    assert jobs.expire(db.sessionmaker, folder, NOW + timedelta(days=7)) == 1
    assert list(folder.iterdir()) == []
    with db.session() as session:
        export = session.get(DataExport, export_id)
        assert export is not None
        assert jobs.export_file(export, folder, NOW) is None


def test_requests_are_checked(setting: tuple[Database, World, TelemetryReader]) -> None:
    db, w, _reader = setting
    with db.session() as session:
        fm = session.get(User, w.fm_a)
        assert fm is not None
        ask = {"customer_id": w.customer_a, "site_id": None, "asset_ids": [], "now": NOW, "max_days": 31}

        def refused(start: datetime, end: datetime) -> dict[str, list[str]]:
            with pytest.raises(jobs.Refused) as exc:
                jobs.request_export(session, fm, Scope.for_user(fm), start=start, end=end, **ask)  # type: ignore[arg-type]
            return exc.value.errors

        assert "end" in refused(T0, T0)
        assert "end" in refused(T0, T0 + timedelta(days=32))
        assert "start" in refused(NOW, NOW + timedelta(days=1))
        tech = session.get(User, w.tech_a)
        assert tech is not None
        with pytest.raises(jobs.Refused) as forbidden:
            jobs.request_export(
                session,
                tech,
                Scope.for_user(tech),
                start=T0,
                end=T0 + timedelta(days=1),
                **{**ask, "customer_id": None, "site_id": w.site_a},
            )  # type: ignore[arg-type]
        assert forbidden.value.status == 403
        for _ in range(jobs.MAX_PENDING_PER_PERSON):
            jobs.request_export(session, fm, Scope.for_user(fm), start=T0, end=T0 + timedelta(days=1), **ask)  # type: ignore[arg-type]
        with pytest.raises(jobs.Refused) as busy:
            jobs.request_export(session, fm, Scope.for_user(fm), start=T0, end=T0 + timedelta(days=1), **ask)  # type: ignore[arg-type]
        assert busy.value.status == 429


def test_an_answer_cut_short_by_influxdb_is_asked_again_in_parts(
    db: Database, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A server with ``max-row-limit`` answers 500 rows at most: the export still has them all."""
    server = Influxd(tmp_path_factory.mktemp("influxd-limited") / "data", max_row_limit=500)
    server.start()
    try:
        writer = V1Writer(server.url, "limited")
        writer.ensure_database()
        t0 = int(T0.timestamp() * 1000)
        writer.write([f"telemetry,asset=ELV-9001 trips={n}.0 {t0 + n * 10_000}" for n in range(READINGS)])
        writer.close()
        with db.session() as session:
            w = build_world(session)
        export_id = _request(db, w.fm_a, asset_ids=[w.asset_a])
        reader = TelemetryReader(server.url, "limited")
        folder = tmp_path / "exports"
        assert jobs.run_next(db.sessionmaker, reader, jobs.ExportRules(folder=folder), lambda: NOW)
        reader.close()
    finally:
        server.stop()
    with db.session() as session:
        export = session.get(DataExport, export_id)
        assert export is not None
        assert export.state is ExportState.DONE, export.error
        path = jobs.export_file(export, folder, NOW)
    assert path is not None
    with zipfile.ZipFile(path) as archive:
        trips = sorted(float(r["trips"]) for r in _rows(archive, "telemetry.csv"))
    assert trips == [float(n) for n in range(READINGS)]
