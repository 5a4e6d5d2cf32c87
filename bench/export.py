"""Data export benchmark (``make bench-export``): memory stays flat whatever the range.

1. One customer of ``--assets`` units (sites of 25, with 90 days of outages, maintenance
   and visits, in SQLite) and their telemetry in a real InfluxDB 1.6.7: one reading every
   ``--interval-s`` seconds per unit, four fields (trips, door_cycles, motor_temp_c,
   load_pct), over the longest of ``--days``.
2. For each period of ``--days``, the worker's export code (:func:`write_export`) writes
   the ZIP to disk in a fresh process; that process reports its peak resident memory
   (``ru_maxrss``), its memory before the export (imports done), the rows written and the
   time taken.

The last line is ``key=value`` figures: for each period ``rss_mb_<days>d`` (peak) and
``rows_<days>d``; ``rss_growth_mb`` (largest peak minus smallest peak), ``rows_per_s``
(of the longest period) and ``zip_mb_<days>d``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import resource
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.portal import add_tenant
from devstack.servers import Influxd
from fleet.db import Database
from fleet.models import Asset
from fleet.schema import upgrade
from ingest.influx import V1Writer
from portal.data_export.archive import write_export
from portal.data_export.dictionary import ExportScope
from portal.influxql import TelemetryReader

END = datetime(2026, 11, 1, tzinfo=UTC)  # the exports end here; telemetry runs up to it
BATCH = 5000


def _seed_sql(url: str, assets: int) -> list[tuple[int, str]]:
    upgrade(url)
    db = Database(url)
    with db.session() as session:
        add_tenant(session, "Export Bench", max(assets // 25, 1), random.Random(7), END, "EXP")
        session.flush()
        rows = [(a.id, a.mqtt_id) for a in session.scalars(select(Asset).order_by(Asset.id).limit(assets))]
    db.dispose()
    return rows


def _write_telemetry(url: str, bucket: str, mqtt_ids: list[str], start: datetime, interval_s: int) -> int:
    """Readings of every unit from ``start`` to END, written by two threads; how many."""
    first = int(start.timestamp())
    steps = int((END - start).total_seconds()) // interval_s
    written = [0, 0]

    def writer(part: int) -> None:
        client = V1Writer(url, bucket, timeout_s=60)
        lines: list[str] = []
        for n, mqtt in enumerate(mqtt_ids):
            if n % 2 != part:
                continue
            for k in range(steps):
                ts = (first + k * interval_s) * 1000
                lines.append(
                    f"telemetry,asset={mqtt} trips={k * 3}.0,door_cycles={k * 6}.0,"
                    f"motor_temp_c={35 + (k % 40) / 4},load_pct={(k * 7) % 100}.0 {ts}"
                )
                if len(lines) >= BATCH:
                    client.write(lines)
                    written[part] += len(lines)
                    lines = []
        if lines:
            client.write(lines)
            written[part] += len(lines)
        client.close()

    threads = [threading.Thread(target=writer, args=(p,)) for p in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(written)


def _resident_kb() -> int:
    """This process's resident memory now (VmRSS), in KiB."""
    for row in Path("/proc/self/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _export(url: str, influx: str, bucket: str, ids: list[int], days: int, out: str, queue: Any) -> None:
    """Child process: one export, then its figures (memory before: resident now, imports done)."""
    before = _resident_kb()
    db = Database(url)
    reader = TelemetryReader(influx, bucket, timeout_s=120)
    scope = ExportScope("Export Bench", ids, END - timedelta(days=days), END)
    started = time.perf_counter()
    with db.sessionmaker() as session, open(out, "wb") as f:
        counts = write_export(session, reader, scope, f)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put({"rows": counts["telemetry.csv"], "seconds": seconds, "before_kb": before, "peak_kb": peak})


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m bench.export``."""
    parser = argparse.ArgumentParser(prog="python -m bench.export", description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--days", default="1,3,7", help="comma-separated export periods, in days")
    parser.add_argument("--interval-s", type=int, default=10)
    args = parser.parse_args(argv)
    periods = sorted({int(d) for d in args.days.split(",")})
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'fleet.db'}"
        units = _seed_sql(url, args.assets)
        server = Influxd(folder / "influx")
        server.start()
        try:
            V1Writer(server.url, "bench").ensure_database()
            started = time.perf_counter()
            points = _write_telemetry(
                server.url,
                "bench",
                [m for _i, m in units],
                END - timedelta(days=max(periods)),
                args.interval_s,
            )
            took = time.perf_counter() - started
            print(f"telemetry: {points:,} readings of {len(units)} units written in {took:.0f} s")
            figures: dict[str, str] = {"assets": str(len(units)), "interval_s": str(args.interval_s)}
            peaks = []
            ctx = mp.get_context("spawn")
            for days in periods:
                queue = ctx.Queue()
                out = folder / f"export-{days}d.zip"
                child = ctx.Process(
                    target=_export,
                    args=(url, server.url, "bench", [i for i, _m in units], days, str(out), queue),
                )
                child.start()
                result = queue.get()
                child.join()
                peak_mb = result["peak_kb"] / 1024
                peaks.append(peak_mb)
                zip_mb = out.stat().st_size / 1e6
                print(
                    f"{days:>3} d: {result['rows']:>12,} rows in {result['seconds']:7.1f} s "
                    f"({result['rows'] / result['seconds']:,.0f} rows/s), peak RSS {peak_mb:.0f} MB "
                    f"(before the export {result['before_kb'] / 1024:.0f} MB), ZIP {zip_mb:.0f} MB"
                )
                figures |= {
                    f"rss_mb_{days}d": f"{peak_mb:.0f}",
                    f"rows_{days}d": str(result["rows"]),
                    f"zip_mb_{days}d": f"{zip_mb:.0f}",
                }
                figures["rows_per_s"] = f"{result['rows'] / result['seconds']:.0f}"
                out.unlink()
            figures["rss_growth_mb"] = f"{max(peaks) - min(peaks):.0f}"
        finally:
            server.stop()
    print(" ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
