"""Telemetry simulator: ``python -m ingest.simulate --assets N --rate R``.

Emits the elevator sensor model over the topic contract with realistic shape:
rush hours, quiet nights and weekends, rare faults and outages (minutes to hours,
shortened by ``--time-scale``), maintenance windows, and a few sensors drifting
before a failure (rising motor temperature or door re-openings). It publishes each
asset's status (retained) on change and sets an MQTT last will that marks its
assets offline if it dies.

The fleet keeps its own ground truth (:attr:`Fleet.truth`): when each drift started and
ended, and every failure with the drift behind it, if any. The early-warning benchmark
scores the detector against these records only, never against the detector's inputs.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from ingest.contract import GATEWAYS

logger = logging.getLogger(__name__)
FAULTS = ["door_obstruction", "door_lock", "leveling", "drive_fault", "power_loss", "overspeed"]


@dataclass
class SimAsset:
    """One simulated elevator's sensors and state."""

    mqtt_id: str
    zone: ZoneInfo
    office: bool
    floors: int
    rng: random.Random
    trips: float = 0.0
    door_cycles: float = 0.0
    door_reopenings: float = 0.0
    motor_temp_c: float = 32.0
    floor: int = 0
    leveling_error_mm: float = 0.0
    drift: str | None = None  # "motor" or "doors": heading for a failure
    drift_level: float = 0.0
    drift_from: float = 0.0  # the drift starts rising at this instant (epoch seconds)
    state: str = "in_service"
    fault: str | None = None
    state_until: float = 0.0
    pending: list[tuple[str, dict[str, object], bool]] = field(default_factory=list)

    def traffic(self, now: float) -> float:
        """Relative traffic 0..1 from the local hour and day (office vs residential)."""
        local = datetime.fromtimestamp(now, self.zone)
        hour = local.hour + local.minute / 60
        weekend = local.weekday() >= 5
        if self.office:
            if weekend:
                return 0.05
            peaks = [(8.5, 1.0), (12.5, 0.7), (17.5, 0.9)]
            base = 0.25 if 7 <= hour <= 19 else 0.03
        else:
            peaks = [(7.5, 0.8), (18.5, 0.9)] if not weekend else [(11.0, 0.6), (17.0, 0.6)]
            base = 0.2 if 6 <= hour <= 23 else 0.02
        return min(1.0, base + sum(a * math.exp(-((hour - h) ** 2) / 0.5) for h, a in peaks))


@dataclass(frozen=True)
class TruthRecord:
    """Something the simulator made happen: ``drift_started``, ``drift_ended``, ``failed`` or
    ``repaired``; ``drift`` is the drift under way then (``motor``, ``doors`` or None)."""

    asset: str
    what: str
    at: float
    drift: str | None = None
    fault: str | None = None


class Fleet:
    """A set of simulated assets; :meth:`step` advances them and returns messages.

    The fault hazard per simulated hour is ``fault_per_hour + drift_fault_per_hour × level``
    (level 0 → 1 over a week of drift); ``drift_fault_per_hour`` defaults to 20 ×
    ``fault_per_hour``.
    """

    def __init__(self, assets: list[SimAsset], prefix: str, time_scale: float, fault_per_hour: float,
                 drift_fault_per_hour: float | None = None) -> None:  # fmt: skip
        self.assets = assets
        self.prefix = prefix
        self.time_scale = time_scale
        self.fault_per_hour = fault_per_hour
        self.drift_fault_per_hour = (
            20 * fault_per_hour if drift_fault_per_hour is None else drift_fault_per_hour
        )
        self.cursor = 0
        self.truth: list[TruthRecord] = []

    def status_message(self, a: SimAsset, now: float) -> tuple[str, bytes, bool]:
        """The asset's current status (retained)."""
        body = {"ts": int(now * 1000), "state": a.state, "fault": a.fault}
        return f"{self.prefix}/{a.mqtt_id}/status", json.dumps(body).encode(), True

    def _transition(self, a: SimAsset, now: float, dt: float) -> list[tuple[str, bytes, bool]]:
        out: list[tuple[str, bytes, bool]] = []
        rng = a.rng
        if a.state in ("out_of_service", "maintenance") and now >= a.state_until:
            if a.state == "out_of_service":
                self.truth.append(TruthRecord(a.mqtt_id, "repaired", now, a.drift))
                if a.drift and a.drift_level > 0:  # the repair ends the episode; the cause may stay
                    self.truth.append(TruthRecord(a.mqtt_id, "drift_ended", now, a.drift))
                    a.drift, a.drift_level = (None, 0.0) if rng.random() < 0.7 else (a.drift, 0.0)
                    a.drift_from = max(a.drift_from, now)
            a.state, a.fault = "in_service", None
            out.append(self.status_message(a, now))
        elif a.state in ("in_service", "degraded"):
            per_hour = self.fault_per_hour + self.drift_fault_per_hour * a.drift_level
            hazard = per_hour * dt * self.time_scale / 3600
            if rng.random() < hazard:
                a.state = "out_of_service"
                a.fault = (
                    "door_lock"
                    if a.drift == "doors"
                    else "drive_fault"
                    if a.drift == "motor"
                    else rng.choice(FAULTS)
                )
                self.truth.append(
                    TruthRecord(a.mqtt_id, "failed", now, a.drift if a.drift_level > 0 else None, a.fault)
                )
                hours = min(rng.lognormvariate(1.0, 0.9), 48.0)  # median ~2.7 h, mean ~4 h
                a.state_until = now + hours * 3600 / self.time_scale
                out.append(self.status_message(a, now))
                if rng.random() < 0.2:
                    ev = {
                        "ts": int(now * 1000),
                        "type": "entrapment",
                        "severity": "critical",
                        "detail": "alarm button",
                    }
                    out.append((f"{self.prefix}/{a.mqtt_id}/event", json.dumps(ev).encode(), False))
            elif rng.random() < 0.2 * dt * self.time_scale / 86400:  # a maintenance visit every ~5 days
                a.state, a.fault = "maintenance", None
                a.state_until = now + rng.uniform(0.5, 2.0) * 3600 / self.time_scale
                out.append(self.status_message(a, now))
            elif a.drift_level > 0.6 and a.state == "in_service":
                a.state, a.fault = "degraded", "leveling" if a.drift == "motor" else "door_obstruction"
                out.append(self.status_message(a, now))
        return out

    def step(self, now: float, count: int, dt: float) -> list[tuple[str, bytes, bool]]:
        """Advance ``count`` assets (round robin) by ``dt`` seconds each; return messages."""
        out: list[tuple[str, bytes, bool]] = []
        for _ in range(count):
            a = self.assets[self.cursor]
            self.cursor = (self.cursor + 1) % len(self.assets)
            out.extend(self._transition(a, now, dt))
            body = self.reading(a, now, dt)
            out.append((f"{self.prefix}/{a.mqtt_id}/telemetry", json.dumps(body).encode(), False))
        return out

    def advance(
        self, a: SimAsset, now: float, dt: float
    ) -> tuple[list[tuple[str, bytes, bool]], dict[str, float]]:
        """Advance one asset by ``dt`` seconds: its status messages and its sensor reading."""
        return self._transition(a, now, dt), self.reading(a, now, dt)

    def reading(self, a: SimAsset, now: float, dt: float) -> dict[str, float]:
        """Move the sensors of ``a`` on by ``dt`` seconds and read them (``ts`` in epoch ms)."""
        rng = a.rng
        if a.drift and now >= a.drift_from:
            if a.drift_level == 0:
                self.truth.append(TruthRecord(a.mqtt_id, "drift_started", now, a.drift))
            a.drift_level = min(1.0, a.drift_level + dt * self.time_scale / (7 * 86400))
        running = a.state in ("in_service", "degraded")
        load = a.traffic(now) if running else 0.0
        trips = _poisson(rng, load * 0.04 * dt * min(self.time_scale, 10.0))
        a.trips += trips
        a.door_cycles += trips * 2
        reopen_rate = 0.03 + (0.25 * a.drift_level if a.drift == "doors" else 0.0)
        a.door_reopenings += _poisson(rng, trips * 2 * reopen_rate)
        target = 30 + 25 * load + (35 * a.drift_level if a.drift == "motor" else 0.0)
        a.motor_temp_c += (target - a.motor_temp_c) * min(1.0, dt * self.time_scale / 900) + rng.gauss(0, 0.2)
        if trips:
            a.floor = rng.randrange(a.floors)
        a.leveling_error_mm = rng.gauss(0, 1.5) + (6 * a.drift_level if a.drift == "motor" else 0.0)
        moving = running and rng.random() < load
        body: dict[str, float] = {
            "ts": int(now * 1000),
            "trips": int(a.trips),
            "door_cycles": int(a.door_cycles),
            "door_reopenings": int(a.door_reopenings),
            "motor_temp_c": round(a.motor_temp_c, 2),
            "vibration_mm_s": round(abs(rng.gauss(0.8 + 1.5 * load + 2 * a.drift_level, 0.3)), 3),
            "load_pct": round(min(130.0, max(0.0, rng.gauss(35 * load, 10))) if moving else 0.0, 1),
            "floor": a.floor,
            "leveling_error_mm": round(a.leveling_error_mm, 2),
            "speed_m_s": round(rng.uniform(1.0, 2.5), 2) if moving else 0.0,
        }
        return body


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


@dataclass(frozen=True)
class AssetSpec:
    """What the simulator needs to know of an asset."""

    mqtt_id: str
    timezone: str = "Europe/Paris"
    office: bool = True
    floors: int = 10
    state: str = "in_service"
    fault: str | None = None


def build_fleet(specs: list[AssetSpec], prefix: str, seed: int, time_scale: float, fault_per_hour: float,
                drifting: float = 0.1, now: float | None = None,
                drift_window: tuple[float, float] | None = None,
                drift_fault_per_hour: float | None = None) -> Fleet:  # fmt: skip
    """A fleet from asset specs, a share of them with drifting sensors (from the start, or from
    a random instant within ``drift_window``); assets that start out of service or in
    maintenance are repaired after a random time."""
    master = random.Random(seed)
    now = time.time() if now is None else now
    assets = []
    for spec in specs:
        rng = random.Random(master.random())
        a = SimAsset(spec.mqtt_id, ZoneInfo(spec.timezone), spec.office, max(2, spec.floors), rng,
                     trips=rng.uniform(1e5, 8e6))  # fmt: skip
        if spec.state in ("out_of_service", "maintenance", "degraded"):
            a.state, a.fault = spec.state, spec.fault
            a.state_until = now + rng.uniform(0.5, 3.0) * 3600 / time_scale
        a.door_cycles, a.door_reopenings = a.trips * 2, a.trips * 0.06
        if master.random() < drifting:
            a.drift = master.choice(["motor", "doors"])
            if drift_window:
                a.drift_from = master.uniform(*drift_window)
        assets.append(a)
    return Fleet(assets, prefix, time_scale, fault_per_hour, drift_fault_per_hour)


def specs_from_db(database_url: str) -> list[AssetSpec]:
    """Elevators and escalators registered in the business database, with their last known state."""
    from sqlalchemy import select

    from fleet.db import Database
    from fleet.models import Asset, AssetKind, AssetStatus, Site, SiteKind

    db = Database(database_url)
    with db.session() as s:
        rows = s.execute(
            select(
                Asset.mqtt_id,
                Site.timezone,
                Site.kind,
                Asset.floors_served,
                AssetStatus.state,
                AssetStatus.fault_code,
            )
            .join(Site, Asset.site_id == Site.id)
            .outerjoin(AssetStatus, AssetStatus.asset_id == Asset.id)
            .where(Asset.kind.in_([AssetKind.ELEVATOR, AssetKind.ESCALATOR]), Asset.archived_at.is_(None))
        ).all()
    db.dispose()
    return [
        AssetSpec(m, tz, kind == SiteKind.OFFICE, floors or 10, state.value if state else "in_service", fault)
        for m, tz, kind, floors, state, fault in rows
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until Ctrl-C, SIGTERM or ``--duration``."""
    from config import load_settings
    from fleet.logs import configure_logging
    from fleet.mqtt import BrokerAddress
    from ingest.publish import WindowedPublisher

    parser = argparse.ArgumentParser(prog="python -m ingest.simulate", description=__doc__)
    parser.add_argument("--assets", type=int, default=25, help="number of synthetic assets (SIM-0001…)")
    parser.add_argument(
        "--from-db", action="store_true", help="simulate the assets registered in DATABASE_URL"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="telemetry messages per second (default: 1 per asset every 5 s)",
    )
    parser.add_argument(
        "--time-scale", type=float, default=60.0, help="simulated seconds per real second for faults"
    )
    parser.add_argument(
        "--fault-per-hour", type=float, default=0.005, help="fault probability per asset per simulated hour"
    )
    parser.add_argument(
        "--duration", type=float, default=0.0, help="stop after this many seconds (0: run until stopped)"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.assets < 1 or args.rate < 0 or args.time_scale <= 0:
        parser.error("--assets must be >= 1, --rate >= 0, --time-scale > 0")
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    if args.from_db:
        specs = specs_from_db(settings.database_url)
    else:
        specs = [AssetSpec(f"SIM-{n:04d}", office=n % 3 == 0, floors=12) for n in range(1, args.assets + 1)]
    if not specs:
        parser.error("no assets to simulate (load the demo data or drop --from-db)")
    rate = args.rate or len(specs) / 5.0
    fleet = build_fleet(specs, settings.mqtt_topic_prefix, args.seed, args.time_scale, args.fault_per_hour)
    # a gateway publishes its presence under its own MQTT user name (the broker allows it no other)
    gateway = BrokerAddress.parse(settings.mqtt_url).username or f"simulator-{os.getpid()}"
    will_topic = f"{settings.mqtt_topic_prefix}/{GATEWAYS}/{gateway}"
    assets = [a.mqtt_id for a in fleet.assets]
    pub = WindowedPublisher(
        settings.mqtt_url, gateway, window=500,
        will=(will_topic, json.dumps({"state": "offline", "assets": assets}).encode()),
    ).connect()  # fmt: skip
    pub.publish(will_topic, json.dumps({"state": "online", "assets": assets}).encode(), retain=True)
    now = time.time()
    for a in fleet.assets:
        if a.state != "offline":
            pub.publish(*fleet.status_message(a, now)[:2], retain=True)
    stop = False

    def _stop(*_args: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    logger.info("simulating %d assets at %.1f msg/s (time scale x%.0f)", len(specs), rate, args.time_scale)
    started, sent, tick = time.time(), 0.0, 0.2
    dt_per_asset = len(specs) / rate
    while not stop and (not args.duration or time.time() - started < args.duration):
        now = time.time()
        due = int((now - started) * rate - sent)
        if due > 0:
            for topic, payload, retain in fleet.step(now, due, dt_per_asset):
                pub.publish(topic, payload, retain=retain)
            sent += due
        time.sleep(tick)
    pub.publish(will_topic, json.dumps({"state": "offline", "assets": assets}).encode(), retain=True)
    pub.wait_all(10)
    pub.close()
    logger.info("simulator stopped after %d telemetry messages", int(sent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
