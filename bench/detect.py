"""Early-warning benchmark: ``make bench-detect`` (``python -m bench.detect --help``).

Simulates a fleet for ``--days`` days with the product's own simulator (``ingest.simulate``):
a share of the units starts drifting at a random instant after the first month (motor or
doors), which raises their fault hazard until they fail. Readings every ``--sample-s``
seconds are written to a private InfluxDB 1.6.7 as line protocol; the outages and
maintenance periods the units *reported* go into SQL like the ingester would store them.
Then the worker's detection pass replays the period, a pass every ``--pass-hours`` hours
(each reads only its new hours), and the watch items it opened are scored against the
simulator's ground truth (:attr:`ingest.simulate.Fleet.truth`), never against the
detector's inputs.

Last line (``key=value``): ``recall`` (drift-caused failures warned at least 24 h ahead),
``recall_announceable`` (the same over the failures whose drift had begun at least 24 h
before them: a failure sooner than that cannot be announced a day ahead by any detector),
``median_lead_h`` (first warning → failure, over the warned failures), ``precision``
(warnings opened on a unit while it was drifting), ``false_per_100_unit_months`` (warnings
on units that were not drifting), ``detect_s_per_1000_units`` (median incremental hourly
pass without a baseline refit, per 1,000 units), ``units``, ``days``, ``seed``.

``--keep FILE`` also saves the simulated fleet's hourly aggregates and records;
``--replay FILE`` replays the passes over a kept fleet without simulating or InfluxDB, with
the units, days and seed it was kept with (:mod:`bench.detect_replay`: for tuning the
detector; its pass timings leave InfluxDB out, so ``detect_s_per_1000_units`` is not
reported then).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import urllib3
from sqlalchemy import select

from bench import detect_replay
from devstack.servers import Influxd
from fleet.db import Database
from fleet.lineprotocol import escape_key
from fleet.models import (
    Asset,
    AssetKind,
    Customer,
    DetectedBy,
    MaintenancePeriod,
    Outage,
    Site,
    SiteKind,
)
from fleet.models.condition import WatchItem
from fleet.schema import upgrade
from ingest.simulate import AssetSpec, TruthRecord, build_fleet
from portal.condition.monitor import MonitorRules, run_pass
from portal.condition.telemetry import hourly_aggregates
from portal.influxql import TelemetryReader

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday; the bench's clock, never the wall clock
PER_SITE = 5
WARN_AHEAD = timedelta(hours=24)


@dataclass
class Simulated:
    """What the simulator reported (stops) and what it knows (truth)."""

    stops: list[tuple[str, str, datetime, datetime | None]] = field(
        default_factory=list
    )  # (unit, kind, start, end)
    truth: list[TruthRecord] = field(default_factory=list)
    lines: int = 0


def simulate(units: int, days: int, seed: int, sample_s: int, influx_url: str, db: str) -> Simulated:
    """Run the simulator over ``days`` and write its readings to InfluxDB as they come."""
    specs = [AssetSpec(f"D-{n:04d}", office=n % 3 == 0, floors=12) for n in range(units)]
    begin = START.timestamp()
    drift_window = (begin + 30 * 86400, begin + (days - 3) * 86400)
    fleet = build_fleet(
        specs, "equipment", seed, time_scale=1.0, fault_per_hour=0.0004, drifting=0.15, now=begin,
        drift_window=drift_window, drift_fault_per_hour=0.02,
    )  # fmt: skip
    http = urllib3.PoolManager()
    out = Simulated()
    open_stop: dict[str, tuple[str, datetime]] = {}
    chunk: list[str] = []
    t = begin
    end = begin + days * 86400
    while t < end:
        for a in fleet.assets:
            statuses, reading = fleet.advance(a, t, sample_s)
            for topic, _payload, _retain in statuses:
                if not topic.endswith("/status"):
                    continue
                at = datetime.fromtimestamp(t, UTC)
                if a.mqtt_id in open_stop:
                    kind, began = open_stop.pop(a.mqtt_id)
                    out.stops.append((a.mqtt_id, kind, began, at))
                if a.state in ("out_of_service", "maintenance"):
                    open_stop[a.mqtt_id] = (a.state, at)
            fields = ",".join(
                f"{k}={v}i" if k in ("trips", "door_cycles", "door_reopenings", "floor") else f"{k}={v}"
                for k, v in reading.items()
                if k != "ts"
            )
            chunk.append(f"telemetry,asset={escape_key(a.mqtt_id)} {fields} {int(t)}")
        if len(chunk) >= 50_000:
            _write(http, influx_url, db, chunk)
            out.lines += len(chunk)
            chunk = []
        t += sample_s
    _write(http, influx_url, db, chunk)
    out.lines += len(chunk)
    for mqtt_id, (kind, began) in open_stop.items():
        out.stops.append((mqtt_id, kind, began, None))
    out.truth = list(fleet.truth)
    return out


def _write(http: urllib3.PoolManager, url: str, db: str, lines: list[str]) -> None:
    if not lines:
        return
    resp = http.request("POST", f"{url}/write?db={db}&precision=s", body="\n".join(lines).encode())
    if resp.status != 204:
        raise RuntimeError(f"InfluxDB refused the write: {resp.status} {resp.data[:200]!r}")


def seed_sql(database: Database, units: int, sim: Simulated) -> dict[str, int]:
    """One customer, sites of five units, and the outages and maintenance the units reported."""
    with database.session() as s:
        customer = Customer(name="Bench")
        s.add(customer)
        s.flush()
        ids: dict[str, int] = {}
        for n in range(units):
            if n % PER_SITE == 0:
                site = Site(
                    customer_id=customer.id, name=f"Building {n // PER_SITE + 1:03d}",
                    kind=SiteKind.OFFICE, address="1 rue du Banc", city="Lyon", postal_code="69003",
                    country="FR", timezone="Europe/Paris",
                )  # fmt: skip
                s.add(site)
                s.flush()
            asset = Asset(
                site_id=site.id, kind=AssetKind.ELEVATOR, name=f"Lift {n:04d}", manufacturer="Ascenda",
                model="A-3000", serial_number=f"SN{n:05d}", mqtt_id=f"D-{n:04d}",
                install_date=date(2001, 1, 1), rated_load_kg=1000, floors_served=12,
                availability_target=Decimal("99.50"),
            )  # fmt: skip
            s.add(asset)
            s.flush()
            ids[asset.mqtt_id] = asset.id
        for mqtt_id, kind, began, ended in sim.stops:
            if kind == "out_of_service":
                s.add(
                    Outage(
                        asset_id=ids[mqtt_id], started_at=began, ended_at=ended, detected_by=DetectedBy.SENSOR
                    )
                )
            else:
                s.add(MaintenancePeriod(asset_id=ids[mqtt_id], started_at=began, ended_at=ended))
    return ids


@dataclass(frozen=True)
class Score:
    """The benchmark's figures."""

    recall: float
    recall_announceable: float  # over the failures whose drift had begun at least 24 h before
    median_lead_h: float
    precision: float
    false_per_100_unit_months: float
    drift_failures: int
    warnings: int


def episodes(truth: list[TruthRecord], end: datetime) -> dict[str, list[tuple[datetime, datetime]]]:
    """Each unit's drift episodes (start, end) from the simulator's records."""
    out: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    started: dict[str, datetime] = {}
    for r in sorted(truth, key=lambda r: r.at):
        at = datetime.fromtimestamp(r.at, UTC)
        if r.what == "drift_started":
            started[r.asset] = at
        elif r.what == "drift_ended" and r.asset in started:
            out[r.asset].append((started.pop(r.asset), at))
    for asset, at in started.items():
        out[asset].append((at, end))
    return out


def score(
    truth: list[TruthRecord],
    warnings: list[tuple[str, datetime]],
    scored_from: datetime,
    end: datetime,
    units: int,
) -> Score:
    """Recall, lead, precision and false warnings of ``warnings`` (unit, opened at) against the
    simulator's records, over ``[scored_from, end)``."""
    drift = episodes(truth, end)
    failures = [
        (r.asset, datetime.fromtimestamp(r.at, UTC))
        for r in truth
        if r.what == "failed" and r.drift and datetime.fromtimestamp(r.at, UTC) >= scored_from
    ]
    warned = leads = announceable = warned_announceable = 0
    lead_hours = []
    for asset, failed_at in failures:
        episode = next((e for e in drift[asset] if e[0] <= failed_at <= e[1]), None)
        if episode is None:
            continue
        can_be_announced = failed_at - episode[0] >= WARN_AHEAD
        announceable += can_be_announced
        before = [opened for unit, opened in warnings if unit == asset and episode[0] <= opened <= failed_at]
        if before:
            lead = failed_at - min(before)
            lead_hours.append(lead.total_seconds() / 3600)
            leads += 1
            warned += lead >= WARN_AHEAD
            warned_announceable += can_be_announced and lead >= WARN_AHEAD
    in_scope = [(u, o) for u, o in warnings if scored_from <= o < end]
    true = sum(any(s <= o <= e for s, e in drift[u]) for u, o in in_scope)
    months = units * (end - scored_from).total_seconds() / (30 * 86400)
    return Score(
        recall=warned / len(failures) if failures else float("nan"),
        recall_announceable=warned_announceable / announceable if announceable else float("nan"),
        median_lead_h=statistics.median(lead_hours) if lead_hours else float("nan"),
        precision=true / len(in_scope) if in_scope else float("nan"),
        false_per_100_unit_months=100 * (len(in_scope) - true) / months,
        drift_failures=len(failures),
        warnings=len(in_scope),
    )


def replay_and_score(
    database: Database, reader: TelemetryReader, sim: Simulated, units: int, days: int, pass_hours: int
) -> tuple[Score, Counter[tuple[str, str]], list[float]]:
    """Replay the detection passes over the simulated period and score their warnings: the
    score, the warnings by signal and truth, and the timed incremental passes (seconds)."""
    seed_sql(database, units, sim)
    end = START + timedelta(days=days)
    first = START + timedelta(days=16)  # two weeks of history, then the first baselines
    incremental: list[float] = []
    clock = time.perf_counter()
    at = first
    while at <= end:  # every pass_hours, then hourly over the last day (timed)
        hourly = at > end - timedelta(days=1)
        began = time.perf_counter()
        result = run_pass(database.sessionmaker, reader, at, "bench", MonitorRules(partitions=4))
        if result.failed_shares:
            raise RuntimeError(f"detection pass failed at {at}")
        if hourly and not result.refitted:
            incremental.append(time.perf_counter() - began)
        at += timedelta(hours=1 if hourly else pass_hours)
    print(f"replayed {days - 16} days of passes in {time.perf_counter() - clock:.0f} s", flush=True)
    with database.session() as s:
        rows = s.execute(
            select(Asset.mqtt_id, WatchItem.opened_at, WatchItem.signal).join(
                Asset, WatchItem.asset_id == Asset.id
            )
        ).all()
    warnings = [(mqtt_id, opened) for mqtt_id, opened, _ in rows]
    drift = episodes(sim.truth, end)
    by_signal = Counter(
        (signal.value, "drifting" if any(a <= o <= b for a, b in drift[m]) else "healthy")
        for m, o, signal in rows
    )
    return score(sim.truth, warnings, first, end, units), by_signal, incremental


def main(argv: list[str] | None = None) -> None:
    """Simulate (or load a kept simulation), replay the detection passes, score; print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.detect", description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=300)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sample-s", type=int, default=600, help="seconds between readings (default 600)")
    parser.add_argument("--pass-hours", type=int, default=3, help="hours between replayed passes (default 3)")
    parser.add_argument(
        "--keep", type=Path, help="save the simulated fleet (aggregates, records) to this file"
    )
    parser.add_argument("--replay", type=Path, help="replay a fleet kept with --keep (its units, days, seed)")
    args = parser.parse_args(argv)
    if args.units < PER_SITE or args.days < 35 or args.sample_s < 60 or args.pass_hours < 1:
        parser.error("--units >= 5, --days >= 35, --sample-s >= 60, --pass-hours >= 1")
    if args.keep and args.replay:
        parser.error("--keep and --replay do not go together")
    with tempfile.TemporaryDirectory(prefix="bench-detect-") as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        database = Database(url)
        if args.replay:
            try:
                kept = detect_replay.load(args.replay)
            except ValueError as exc:
                parser.error(str(exc))
            args.units, args.days, args.seed = kept.units, kept.days, kept.seed
            sim = Simulated(stops=kept.stops, truth=kept.truth)
            reader: TelemetryReader = detect_replay.SavedTelemetry(kept.aggregates)
            figures = replay_and_score(database, reader, sim, args.units, args.days, args.pass_hours)
        else:
            influxd = Influxd(Path(tmp) / "influx")
            influxd.start()
            try:
                http = urllib3.PoolManager()
                http.request(
                    "POST",
                    f"{influxd.url}/query",
                    fields={"q": "CREATE DATABASE bench"},
                    encode_multipart=False,
                )
                clock = time.perf_counter()
                sim = simulate(args.units, args.days, args.seed, args.sample_s, influxd.url, "bench")
                print(f"simulated {sim.lines:,} readings in {time.perf_counter() - clock:.0f} s", flush=True)
                reader = TelemetryReader(influxd.url, "bench", timeout_s=60)
                if args.keep:
                    ids = [f"D-{n:04d}" for n in range(args.units)]
                    aggregates = hourly_aggregates(reader, ids, START, START + timedelta(days=args.days))
                    kept = detect_replay.Kept(
                        args.units, args.days, args.seed, sim.stops, sim.truth, aggregates
                    )
                    detect_replay.save(args.keep, kept)
                    print(f"kept the fleet in {args.keep}", flush=True)
                figures = replay_and_score(database, reader, sim, args.units, args.days, args.pass_hours)
            finally:
                influxd.stop()
        reader.close()
        database.dispose()
    result, by_signal, incremental = figures
    print("warnings by signal:", ", ".join(f"{k[0]} {k[1]} {n}" for k, n in sorted(by_signal.items())))
    timed = incremental and not args.replay
    per_1000 = statistics.median(incremental) * 1000 / args.units if timed else float("nan")
    print(f"drift-caused failures {result.drift_failures}, warnings {result.warnings}", flush=True)
    print(
        f"recall={result.recall:.2f} "
        f"recall_announceable={result.recall_announceable:.2f} "
        f"median_lead_h={result.median_lead_h:.0f} "
        f"precision={result.precision:.2f} "
        f"false_per_100_unit_months={result.false_per_100_unit_months:.2f} "
        f"detect_s_per_1000_units={per_1000:.2f} units={args.units} days={args.days} seed={args.seed}"
        + (" replay=1" if args.replay else "")
    )


if __name__ == "__main__":
    main()
