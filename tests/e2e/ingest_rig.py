"""A test rig around the ingester: database with assets, settings, publishers, read-back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config import ROOT, Settings
from devstack.servers import Mosquitto
from fleet.db import Database
from fleet.schema import upgrade
from ingest.publish import WindowedPublisher
from ingest.service import Ingester
from portal.influxql import TelemetryReader
from tests.conftest import make_settings
from tests.fleet.conftest import add_assets

ASSETS = [f"ELV-{n}" for n in range(10)]


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, every: float = 0.1) -> bool:
    """Poll until ``predicate`` is true or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


@dataclass
class Rig:
    """Everything an ingest test needs, on real servers."""

    tmp: Path
    broker: Mosquitto
    influx_url: str
    write_api: str = "v1"
    database: str = field(default_factory=lambda: f"t_{uuid.uuid4().hex[:10]}")
    ingesters: list[Ingester] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.db_url = f"sqlite:///{self.tmp / 'fleet.db'}"
        upgrade(self.db_url)
        self.db = Database(self.db_url)
        self.asset_ids = add_assets(self.db, ASSETS)
        self.reader = TelemetryReader(self.influx_url, self.database)

    def settings(self, **overrides: Any) -> Settings:
        """Settings pointing at the rig's servers."""
        values: dict[str, Any] = {
            "mqtt_url": self.broker.url, "influx_url": self.influx_url, "influx_bucket": self.database,
            "influx_write_api": self.write_api, "ingest_metrics_port": 0, "ingest_flush_interval_s": 0.1,
        }  # fmt: skip
        values.update(overrides)
        return make_settings(self.db_url, **values)

    def env(self, **overrides: str) -> dict[str, str]:
        """Environment for an ingester subprocess."""
        s = self.settings()
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.db_url, MQTT_URL=s.mqtt_url, INFLUX_URL=s.influx_url,
            INFLUX_BUCKET=s.influx_bucket,
            INFLUX_WRITE_API=s.influx_write_api, INGEST_METRICS_PORT="0", INGEST_FLUSH_INTERVAL_S="0.1",
            PORTAL_ENV="testing", LOG_LEVEL="INFO",
        )  # fmt: skip
        env.update(overrides)
        return env

    def start(self, client_id: str = "ing-1", **overrides: Any) -> Ingester:
        """An ingester in this process, connected."""
        ing = Ingester(self.settings(**overrides), client_id=client_id)
        ing.start()
        assert ing.connected.wait(10), "ingester did not connect"
        self.ingesters.append(ing)
        return ing

    def spawn(self, client_id: str = "ing-p", **env: str) -> subprocess.Popen[bytes]:
        """An ingester as a separate process (``python -m ingest``)."""
        with (self.tmp / f"{client_id}.log").open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "ingest", "--client-id", client_id], cwd=ROOT, env=self.env(**env),
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.procs.append(proc)
        return proc

    def publisher(self, client_id: str | None = None, **kwargs: Any) -> WindowedPublisher:
        """A connected QoS 1 publisher."""
        return WindowedPublisher(
            self.broker.url, client_id or f"pub-{uuid.uuid4().hex[:6]}", **kwargs
        ).connect()

    def count(self, field_name: str = "seq") -> int:
        """Telemetry points stored with ``field_name`` (0 while the database does not exist)."""
        try:
            return self.reader.count("telemetry", field_name)
        except Exception:
            return 0

    def close(self) -> None:
        """Stop ingesters and processes; release connections."""
        for ing in self.ingesters:
            if not ing.stopped.is_set() or ing.client.is_connected():
                ing.stop(timeout=10)
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(15)
        self.reader.close()
        self.db.dispose()


def reading_messages(n: int, start_ms: int | None = None) -> list[tuple[str, bytes, str, int, int]]:
    """``n`` telemetry messages spread over the rig's assets: (topic, payload, asset, ts, seq)."""
    base = start_ms or int(time.time() * 1000) - 60_000
    out = []
    for seq in range(n):
        asset = ASSETS[seq % len(ASSETS)]
        ts = base + seq  # unique per message
        payload = {
            "ts": ts,
            "seq": seq,
            "motor_temp_c": 40.0 + (seq % 13) / 4,
            "trips": 1000 + seq,
            "door_open": seq % 2 == 0,
        }
        out.append((f"equipment/{asset}/telemetry", json.dumps(payload).encode(), asset, ts, seq))
    return out
