"""Ingest benchmark (``make bench-ingest``): broker rate vs end-to-end rate in one run.

1. **bare**: N readings are queued for a bare paho subscriber (persistent session), which
   then drains them; its rate is what the broker and paho can do on this machine.
2. **e2e**: the same N readings are queued for K ingesters (shared subscription), which
   drain them into InfluxDB; the rate is counted back from InfluxDB.
3. **latency**: readings are published at half the e2e rate with ``ts`` = publish time;
   each ingester's ``ingest_store_latency_seconds`` histogram (stored in InfluxDB minus
   ``ts``, for every reading) is read before and after, and p50/p99 are interpolated
   from the summed bucket deltas (as Prometheus' ``histogram_quantile`` does).
4. **soak**: K ingesters under steady load for ``--soak-seconds``; their RSS is sampled.

The last line is ``key=value`` figures: e2e_per_s, bare_per_s, ratio, p50_ms, p99_ms, lost, …
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.mqtt_tools import asset_ids
from config import ROOT
from devstack.servers import Influxd, Mosquitto, free_port
from fleet.db import Database
from fleet.schema import upgrade
from ingest.metrics import histogram_quantile
from portal.influxql import TelemetryReader
from tests.fleet.conftest import add_assets

DB = "bench"


def _tool(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.mqtt_tools", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = out.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}  # type: ignore[no-any-return]


class Ingesters:
    """K ``python -m ingest`` processes sharing one subscription."""

    def __init__(self, tmp: Path, env: dict[str, str], k: int, name: str = "bench-ingest") -> None:
        self.tmp, self.k, self.name = tmp, k, name
        self.env = dict(env, MQTT_SHARED_GROUP="bench" if k > 1 else "")
        self.procs: list[subprocess.Popen[bytes]] = []
        self.metrics_ports = [free_port() for _ in range(k)]

    def start(self) -> None:
        for n in range(self.k):
            env = dict(self.env, INGEST_METRICS_PORT=str(self.metrics_ports[n]))
            with (self.tmp / f"{self.name}-{n}.log").open("ab") as log:
                self.procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "ingest", "--client-id", f"{self.name}-{n}"],
                        cwd=ROOT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        deadline = time.time() + 30
        while time.time() < deadline:
            logs = [(self.tmp / f"{self.name}-{n}.log").read_text() for n in range(self.k)]
            if all(log.count("subscribed to") >= 1 for log in logs):
                return
            time.sleep(0.1)
        raise RuntimeError("ingesters did not connect")

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            p.wait(60)
        self.procs = []
        for n in range(self.k):  # new log per start, so "subscribed to" counts fresh
            log = self.tmp / f"{self.name}-{n}.log"
            log.rename(log.with_suffix(f".{time.monotonic_ns()}.log"))

    def forget(self, url: str) -> None:
        """Discard the stopped ingesters' sessions (the broker stops queueing for them)."""
        for n in range(self.k):
            _tool("forget", "--url", url, "--count", "0", "--client-id", f"{self.name}-{n}")

    def latency_buckets(self) -> dict[float, float]:
        """Summed cumulative ``ingest_store_latency_seconds`` buckets of every ingester."""
        total: dict[float, float] = {}
        for port in self.metrics_ports:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            for line in body.splitlines():
                if line.startswith("ingest_store_latency_seconds_bucket{"):
                    bound = float(line.split('le="')[1].split('"')[0])
                    total[bound] = total.get(bound, 0.0) + float(line.rsplit(" ", 1)[1])
        return total

    def rss_mb(self) -> list[float]:
        out = []
        for p in self.procs:
            for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out.append(int(line.split()[1]) / 1024)
        return out


def _count(reader: TelemetryReader, since_ms: int | None = None) -> int:
    where = "WHERE time >= $since" if since_ms else ""
    params = (
        {"since": f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(since_ms / 1000))}Z"} if since_ms else {}
    )
    try:
        rows = reader.query(f"SELECT count(seq) FROM telemetry {where}", params)  # noqa: S608 - constant text
    except Exception:
        return 0
    return int(rows[0]["values"][0][1]) if rows else 0


def drain_rate(reader: TelemetryReader, target: int, before: int, timeout: float = 600) -> tuple[float, int]:
    """Poll until ``target`` points exist; rate over the interval in which points arrived."""
    first_t, first_c, last_c = 0.0, before, before
    deadline = time.time() + timeout
    while time.time() < deadline:
        c = _count(reader)
        now = time.time()
        if c > before and not first_t:
            first_t, first_c = now, c
        last_c = c
        if c >= target:
            break
        time.sleep(0.25)
    elapsed = max(time.time() - first_t, 1e-6)
    return (last_c - first_c) / elapsed, last_c


def main() -> None:
    """Run the benchmark and print figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readings", type=int, default=100_000)
    parser.add_argument("--ingesters", type=int, default=2)
    parser.add_argument("--latency-seconds", type=float, default=15)
    parser.add_argument("--soak-seconds", type=float, default=300)
    args = parser.parse_args()
    n, k = args.readings, args.ingesters
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    broker, influx = Mosquitto(tmp / "mosquitto"), Influxd(tmp / "influxd")
    broker.start()
    influx.start()
    db_url = f"sqlite:///{tmp / 'fleet.db'}"
    upgrade(db_url)
    db = Database(db_url)
    add_assets(db, asset_ids())
    db.dispose()
    env = dict(
        os.environ,
        DATABASE_URL=db_url,
        MQTT_URL=broker.url,
        INFLUX_URL=influx.url,
        INFLUX_BUCKET=DB,
        INFLUX_WRITE_API="v1",
        INGEST_METRICS_PORT="0",
        MQTT_SHARED_GROUP="bench" if k > 1 else "",
        LOG_LEVEL="INFO",
        PORTAL_ENV="testing",
    )
    reader = TelemetryReader(influx.url, DB)
    ingesters = Ingesters(tmp, env, k)
    lost = 0
    figures: dict[str, float | int | str] = {"readings": n, "ingesters": k, "qos": 1}
    try:
        url = broker.url
        # Every phase publishes its own range of sequence numbers, and flood timestamps are
        # ts_base + seq: no two readings of the run share an asset and a timestamp, so every
        # reading counted missing from InfluxDB is a real loss.
        ts_base = str(int(time.time() * 1000) - 2 * 86_400_000)
        # 1. bare
        _tool("bare", "--url", url, "--count", str(n), "--phase", "register")
        pub = _tool(
            "publish", "--url", url, "--count", str(n), "--client-id", "pub-bare", "--ts-base", ts_base
        )
        bare = _tool("bare", "--url", url, "--count", str(n), "--phase", "drain")
        figures["publish_per_s"] = pub["per_s"]
        figures["bare_per_s"] = bare["per_s"]
        print(f"bare subscriber drained {bare['received']:.0f} at {bare['per_s']:.0f}/s", flush=True)

        _tool("forget", "--url", url, "--count", "0", "--client-id", "bench-bare")

        # 2. e2e: one ingester, then K sharing a subscription
        stored_before, runs = 0, [(1, "bench-solo")] + ([(k, "bench-ingest")] if k > 1 else [])
        for phase, (count_k, name) in enumerate(runs, start=1):
            group = Ingesters(tmp, env, count_k, name)
            group.start()
            group.stop()  # sessions registered; readings queue at the broker while they are away
            _tool("publish", "--url", url, "--count", str(n), "--client-id", f"pub-{name}",
                  "--start-seq", str(phase * n), "--ts-base", ts_base)  # fmt: skip
            group.start()
            e2e, stored = drain_rate(reader, stored_before + n, stored_before)
            lost += stored_before + n - stored
            figures[f"lost_e2e_{count_k}"] = stored_before + n - stored
            stored_before = stored
            figures[f"e2e_{count_k}_per_s"] = round(e2e)
            print(f"{count_k} ingester(s) stored {n} at {e2e:.0f}/s", flush=True)
            if count_k != k:
                group.stop()
                group.forget(url)
            else:
                ingesters = group
        figures["e2e_per_s"] = figures[f"e2e_{k}_per_s"]
        figures["ratio"] = round(float(figures["e2e_per_s"]) / bare["per_s"], 3)
        e2e = float(figures["e2e_per_s"])

        # 3. latency at half the saturated rate: the ingesters' own histogram of
        #    (stored in InfluxDB) - (reading ts = publish time), summed over ingesters
        rate = max(100.0, e2e / 2)
        m = int(rate * args.latency_seconds)
        before_buckets = ingesters.latency_buckets()
        before_count = _count(reader)
        _tool("publish", "--url", url, "--count", str(m), "--rate", str(rate), "--start-seq", str(n * 3),
              "--client-id", "pub-latency")  # fmt: skip
        deadline = time.time() + 60
        while time.time() < deadline and _count(reader) < before_count + m:
            time.sleep(0.2)
        lost_latency = before_count + m - _count(reader)
        lost += lost_latency
        figures["lost_latency"] = lost_latency
        after = ingesters.latency_buckets()
        delta = sorted((bound, after[bound] - before_buckets.get(bound, 0.0)) for bound in after)
        figures["p50_ms"] = round(1000 * histogram_quantile(0.50, delta))
        figures["p99_ms"] = round(1000 * histogram_quantile(0.99, delta))
        figures["latency_rate_per_s"] = round(rate)
        print(f"latency at {rate:.0f}/s: p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms", flush=True)

        # 4. soak
        if args.soak_seconds > 0:
            soak_rate = max(100.0, e2e / 2)
            s_count = int(soak_rate * args.soak_seconds)
            before = _count(reader)
            samples: list[float] = []
            soak = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.mqtt_tools",
                    "publish",
                    "--url",
                    url,
                    "--count",
                    str(s_count),
                    "--rate",
                    str(soak_rate),
                    "--start-seq",
                    str(n * 3 + m),
                    "--client-id",
                    "pub-soak",
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
            )
            t0 = time.time()
            while soak.poll() is None:
                time.sleep(5)
                if time.time() - t0 >= 30:  # after warm-up
                    samples.append(sum(ingesters.rss_mb()))
            deadline = time.time() + 60
            while time.time() < deadline and _count(reader) < before + s_count:
                time.sleep(0.5)
            lost_soak = before + s_count - _count(reader)
            lost += lost_soak
            figures["lost_soak"] = lost_soak
            if samples:
                figures["rss_start_mb"] = round(samples[0], 1)
                figures["rss_end_mb"] = round(samples[-1], 1)
                figures["rss_growth_pct"] = round(100 * (samples[-1] - samples[0]) / samples[0], 1)
            figures["soak_s"] = round(args.soak_seconds)
            print(
                f"soak {args.soak_seconds:.0f}s at {soak_rate:.0f}/s: RSS {figures.get('rss_start_mb')} -> "
                f"{figures.get('rss_end_mb')} MB",
                flush=True,
            )
        figures["lost"] = lost
    finally:
        if ingesters.procs:
            ingesters.stop()
        reader.close()
        broker.stop()
        influx.stop()
    order = [
        "e2e_per_s",
        "bare_per_s",
        "ratio",
        "p50_ms",
        "p99_ms",
        "lost",
        "ingesters",
        "e2e_1_per_s",
        "readings",
        "qos",
        "publish_per_s",
        "latency_rate_per_s",
        "rss_start_mb",
        "rss_end_mb",
        "rss_growth_pct",
        "soak_s",
        "lost_e2e_1",
        f"lost_e2e_{k}",
        "lost_latency",
        "lost_soak",
    ]
    print(" ".join(f"{key}={figures[key]}" for key in dict.fromkeys(order) if key in figures))
    if lost:
        # Timestamps are unique per reading, so nothing can overwrite anything: any reading
        # missing from InfluxDB was lost on the way, and the run must not pass as a figure.
        raise SystemExit(
            f"bench-ingest: {lost} readings published and acknowledged are missing from InfluxDB"
        )


if __name__ == "__main__":
    main()
