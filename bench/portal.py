"""Portal benchmark (``make bench-portal``): page latency under load, live push latency.

1. A facility manager with a portfolio of 500 assets (20 sites, 90 days of outage and
   maintenance history, planned visits) in PostgreSQL when one answers on
   127.0.0.1:5432 (as in production), else SQLite.
2. The real system runs: Mosquitto, InfluxDB 1.6.7, ``python -m ingest`` and the portal
   under gunicorn (``--workers 2 --threads 128``, gthread), as deployed.
3. **pages**: 16 concurrent clients (closed loop, separate process) fetch the portfolio
   page and asset pages for ``--seconds``; p50/p99 per page kind and overall. The run
   is made twice: against the portal as configured (``PAGE_CACHE_S`` default: the
   portfolio's table comes from the fragment cache while nothing changes), and against
   a second portal with ``PAGE_CACHE_S=0`` (``uncached_*``: every page rendered).
4. **push**: 200 Socket.IO clients (WebSocket, four processes) logged in as the facility
   manager join every site's room; device status changes are published to MQTT with
   ``ts`` = publish time and each client records receive time − ``ts``. The path is the
   product's: device → broker → ingester → SQL + live topic → portal bridge → browsers.

The last line is ``key=value`` figures: page_p50_ms, page_p99_ms, push_p50_ms,
push_p99_ms, clients, …
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import urllib3
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import create_engine, select, text

from config import ROOT
from devstack.servers import Influxd, Mosquitto, free_port, port_open
from fleet.db import Database
from fleet.models import (
    Asset,
    AssetKind,
    AssetStatus,
    Customer,
    MaintenancePeriod,
    OperatingState,
    Outage,
    Site,
    SiteKind,
    StakeholderGroup,
    User,
    Visit,
    VisitKind,
)
from fleet.schema import upgrade
from portal.auth.passwords import hash_password

PASSWORD = "bench-portal-2026"  # noqa: S105 - a throw-away benchmark account
EMAIL = "fm.bench@example.com"
SITES, PER_SITE = 20, 25


# --- data -------------------------------------------------------------------------------
def _admin() -> Any:
    """An autocommit engine on the local PostgreSQL server's maintenance database."""
    return create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )


def _database(tmp: Path) -> tuple[str, str]:
    """A fresh database URL: PostgreSQL if one answers locally, else SQLite."""
    if port_open(5432):
        name = f"bench_portal_{uuid.uuid4().hex[:8]}"
        admin = _admin()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))  # our own name, not input
        admin.dispose()
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", "postgresql"
    return f"sqlite:///{tmp / 'bench.db'}", "sqlite"


def _drop(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    name = url.rsplit("/", 1)[1]
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def add_tenant(
    session: Any, name: str, sites_count: int, rng: random.Random, now: datetime, prefix: str
) -> list[int]:
    """A customer ``name`` with ``sites_count`` sites of 25 units, each with a status, 90 days of
    outages and maintenance, three past visits and the next one; returns the asset ids."""
    customer = Customer(name=name)
    session.add(customer)
    session.flush()
    sites = [
        Site(
            customer_id=customer.id,
            name=f"Building {i + 1:03d}",
            kind=SiteKind.OFFICE,
            address=f"{i + 1} rue du Banc",
            city="Lyon",
            postal_code="69003",
            country="FR",
            timezone="Europe/Paris",
        )
        for i in range(sites_count)
    ]
    session.add_all(sites)
    session.flush()
    assets = [
        Asset(
            site_id=site.id,
            kind=AssetKind.ELEVATOR if n % 10 else AssetKind.ESCALATOR,
            name=f"Lift {n + 1:02d}",
            manufacturer="Ascenda",
            model="A-3000",
            serial_number=f"SN{site.id:04d}{n:03d}",
            mqtt_id=f"{prefix}-{site.id:04d}-{n:03d}",
            install_date=date(1975 + rng.randrange(50), 1 + rng.randrange(12), 1),
            rated_load_kg=1000,
            floors_served=12,
            availability_target=Decimal("99.50"),
        )
        for site in sites
        for n in range(PER_SITE)
    ]
    session.add_all(assets)
    session.flush()
    for a in assets:
        down = rng.random() < 0.03
        session.add(
            AssetStatus(
                asset_id=a.id,
                state=OperatingState.OUT_OF_SERVICE if down else OperatingState.IN_SERVICE,
                fault_code="door_lock" if down else None,
                since=now - timedelta(hours=2),
                reported_at=now,
                last_seen_at=now,
            )
        )
        if down:
            session.add(Outage(asset_id=a.id, started_at=now - timedelta(hours=2), fault_code="door_lock"))
        for k in range(rng.randrange(0, 6)):
            start = now - timedelta(days=rng.uniform(1, 90), seconds=k)
            session.add(
                Outage(
                    asset_id=a.id,
                    started_at=start,
                    ended_at=start + timedelta(hours=rng.uniform(0.2, 8)),
                    fault_code=rng.choice(["door_lock", "leveling", "drive_fault"]),
                )
            )
        past = [now - timedelta(days=30 * k + rng.uniform(1, 29)) for k in range(3)]
        for start in past:
            session.add(
                MaintenancePeriod(asset_id=a.id, started_at=start, ended_at=start + timedelta(hours=1))
            )
        for start in [*past, now + timedelta(days=rng.uniform(1, 30))]:
            session.add(
                Visit(
                    asset_id=a.id,
                    kind=VisitKind.PREVENTIVE,
                    scheduled_start=start,
                    scheduled_end=start + timedelta(hours=2),
                    summary="Monthly preventive maintenance",
                )
            )
    session.flush()
    return [a.id for a in assets]


def seed(url: str, seed_value: int = 11) -> tuple[list[int], list[str]]:
    """500 assets for one facility manager; returns asset ids and device ids."""
    upgrade(url)
    rng = random.Random(seed_value)
    now = datetime.now(UTC).replace(microsecond=0)
    db = Database(url)
    with db.session() as s:
        ids = add_tenant(s, "Bench Properties", SITES, rng, now, "BEN")
        customer_id = s.scalars(select(Site.customer_id).join(Asset).where(Asset.id == ids[0])).one()
        s.add(
            User(
                email=EMAIL,
                name="Bench Manager",
                group=StakeholderGroup.FACILITY_MANAGER,
                customer_id=customer_id,
                password_hash=hash_password(PASSWORD),
                locale="en",
            )
        )
        devices = list(s.scalars(select(Asset.mqtt_id).where(Asset.id.in_(ids)).order_by(Asset.id)))
    db.dispose()
    return ids, devices


# --- HTTP load ----------------------------------------------------------------------------
def login_cookie(base: str) -> str:
    """Log in through the form; return the session cookie header value."""
    http = urllib3.PoolManager()
    page = http.request("GET", f"{base}/auth/login")
    cookie = page.headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.data.decode())
    assert token, "no CSRF token on the login page"
    resp = http.request(
        "POST",
        f"{base}/auth/login",
        fields={"csrf_token": token.group(1), "email": EMAIL, "password": PASSWORD},
        encode_multipart=False,
        headers={"Cookie": cookie},
        redirect=False,
    )
    assert resp.status == 302, f"login failed: {resp.status}"
    return resp.headers["Set-Cookie"].split(";", 1)[0]


def _page_worker(base: str, cookie: str, ids: list[int], seconds: float, out: Any) -> None:
    """One process running 16 closed-loop clients."""
    results: dict[str, list[float]] = {"portfolio": [], "asset": []}
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(n: int) -> None:
        http = urllib3.PoolManager(maxsize=1)
        rng = random.Random(n)
        while time.monotonic() < stop_at:
            kind = "portfolio" if rng.random() < 0.5 else "asset"
            url = f"{base}/portfolio" if kind == "portfolio" else f"{base}/assets/{rng.choice(ids)}"
            t0 = time.perf_counter()
            resp = http.request("GET", url, headers={"Cookie": cookie}, redirect=False)
            ms = (time.perf_counter() - t0) * 1000
            with lock:
                if resp.status == 200:
                    results[kind].append(ms)
                else:
                    errors[0] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put({"results": results, "errors": errors[0]})


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- Socket.IO clients --------------------------------------------------------------------
def _push_worker(base: str, cookie: str, sites: list[int], n: int, ready: Any, out: Any, stop: Any) -> None:
    """``n`` Socket.IO clients in one process; reports receive − ts latencies (ms)."""
    import socketio

    latencies: list[float] = []
    lock = threading.Lock()
    clients = []
    joined = 0
    for _ in range(n):
        c = socketio.Client(reconnection=False)

        def on_live(data: dict[str, Any]) -> None:
            if data.get("type") != "status":
                return
            sent = datetime.fromisoformat(str(data["ts"])).timestamp()
            with lock:
                latencies.append((time.time() - sent) * 1000)

        c.on("live", on_live)
        c.connect(base, transports=["websocket"], headers={"Cookie": cookie}, wait_timeout=20)
        ack = c.call("join", {"sites": sites}, timeout=20)
        joined += int(ack.get("rooms", 0) == len(sites))
        clients.append(c)
    ready.put(joined)
    stop.wait()
    for c in clients:
        c.disconnect()
    out.put(latencies)


# --- orchestration ------------------------------------------------------------------------
def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as f:
        return subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True
        )


def _gunicorn(port: int, workers: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """The portal as deployed: gunicorn, gthread workers."""
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    cmd = [gunicorn, "--workers", str(workers), "--threads", "128", "--bind", f"127.0.0.1:{port}",
           "--log-level", "warning", "wsgi:app"]  # fmt: skip
    return _spawn(cmd, env, log)


def _wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    http = urllib3.PoolManager()
    while time.monotonic() < deadline:
        try:
            if http.request("GET", url, retries=False, timeout=2).status < 500:
                return
        except urllib3.exceptions.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="page load duration")
    parser.add_argument("--clients", type=int, default=200, help="Socket.IO clients")
    parser.add_argument("--events", type=int, default=40, help="status changes published")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-portal-"))
    broker = Mosquitto(tmp / "mosquitto")
    influx = Influxd(tmp / "influx")
    url, backend = _database(tmp)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        broker.start()
        influx.start()
        ids, devices = seed(url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = dict(
            os.environ,
            DATABASE_URL=url,
            MQTT_URL=broker.url,
            INFLUX_URL=influx.url,
            INFLUX_BUCKET="bench",
            INFLUX_WRITE_API="v1",
            INGEST_METRICS_PORT="0",
            INGEST_FLUSH_INTERVAL_S="0.05",
            PORTAL_ENV="development",
            SECRET_KEY=uuid.uuid4().hex * 2,
            LOG_LEVEL="WARNING",
            LOGIN_MAX_FAILURES_PER_IP="100000",
        )
        procs.append(_spawn([sys.executable, "-m", "ingest"], env, tmp / "ingest.log"))
        procs.append(_gunicorn(port, args.workers, env, tmp / "portal.log"))
        # the same portal without its fragment cache: what a page costs when it is rendered
        cold_port = free_port()
        cold_base = f"http://127.0.0.1:{cold_port}"
        procs.append(
            _gunicorn(cold_port, args.workers, {**env, "PAGE_CACHE_S": "0"}, tmp / "portal-cold.log")
        )
        ctx = mp.get_context("spawn")
        out: Any = ctx.Queue()
        pages: dict[str, Any] = {}
        for label, at in (("cold", cold_base), ("warm", base)):  # the warm run last, nearest the push
            _wait_http(f"{at}/auth/login")
            cookie = login_cookie(at)
            http = urllib3.PoolManager()
            for i in range(10):  # warm both workers' connections and availability caches
                http.request("GET", f"{at}/portfolio", headers={"Cookie": cookie})
                http.request("GET", f"{at}/assets/{ids[i]}", headers={"Cookie": cookie})
            first = http.request("GET", f"{at}/portfolio", headers={"Cookie": cookie}).data
            assert b"of 500 matching assets" in first, "the portfolio does not cover the 500 assets"
            worker = ctx.Process(target=_page_worker, args=(at, cookie, ids, args.seconds, out))
            worker.start()
            pages[label] = out.get(timeout=args.seconds + 120)
            worker.join()
        assert len(ids) == 500
        cookie = login_cookie(base)
        portfolio_ms, asset_ms = pages["warm"]["results"]["portfolio"], pages["warm"]["results"]["asset"]
        every = portfolio_ms + asset_ms
        cold_portfolio, cold_asset = pages["cold"]["results"]["portfolio"], pages["cold"]["results"]["asset"]
        cold_every = cold_portfolio + cold_asset

        # push
        with Database(url).session() as s:
            site_ids = sorted({sid for (sid,) in s.execute(text("SELECT id FROM sites"))})
        per = [args.clients // 4 + (1 if i < args.clients % 4 else 0) for i in range(4)]
        ready: Any = ctx.Queue()
        lat_q: Any = ctx.Queue()
        stop = ctx.Event()
        workers = [
            ctx.Process(target=_push_worker, args=(base, cookie, site_ids, n, ready, lat_q, stop))
            for n in per
            if n
        ]
        for w in workers:
            w.start()
        joined = sum(ready.get(timeout=180) for _ in workers)
        time.sleep(1.0)
        pub = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-device")
        pub.username_pw_set(broker.service_user, broker.service_password)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        rng = random.Random(5)
        chosen = rng.sample(devices, args.events)
        for k, device in enumerate(chosen):
            state = "degraded" if k % 2 == 0 else "maintenance"
            body = {
                "ts": int(time.time() * 1000),
                "state": state,
                "fault": "leveling" if state == "degraded" else None,
            }
            pub.publish(f"equipment/{device}/status", json.dumps(body), qos=1).wait_for_publish(5)
            time.sleep(0.25)
        time.sleep(3.0)
        stop.set()
        latencies: list[float] = []
        for _ in workers:
            latencies.extend(lat_q.get(timeout=120))
        for w in workers:
            w.join(30)
        pub.loop_stop()
        pub.disconnect()
        expected = args.events * joined
        figures = {
            "page_p50_ms": round(_pct(every, 0.50), 1),
            "page_p99_ms": round(_pct(every, 0.99), 1),
            "portfolio_p50_ms": round(_pct(portfolio_ms, 0.50), 1),
            "portfolio_p99_ms": round(_pct(portfolio_ms, 0.99), 1),
            "asset_p50_ms": round(_pct(asset_ms, 0.50), 1),
            "asset_p99_ms": round(_pct(asset_ms, 0.99), 1),
            "pages_per_s": round(len(every) / args.seconds, 1),
            "page_errors": pages["warm"]["errors"] + pages["cold"]["errors"],
            "uncached_page_p50_ms": round(_pct(cold_every, 0.50), 1),
            "uncached_page_p99_ms": round(_pct(cold_every, 0.99), 1),
            "uncached_portfolio_p50_ms": round(_pct(cold_portfolio, 0.50), 1),
            "uncached_asset_p50_ms": round(_pct(cold_asset, 0.50), 1),
            "uncached_pages_per_s": round(len(cold_every) / args.seconds, 1),
            "http_clients": 16,
            "assets": len(ids),
            "push_p50_ms": round(_pct(latencies, 0.50), 1),
            "push_p99_ms": round(_pct(latencies, 0.99), 1),
            "push_mean_ms": round(statistics.fmean(latencies), 1) if latencies else float("nan"),
            "clients": joined,
            "deliveries": len(latencies),
            "expected_deliveries": expected,
            "database": backend,
            "workers": args.workers,
        }
        print(json.dumps(figures, indent=1), file=sys.stderr)
        print(" ".join(f"{k}={v}" for k, v in figures.items()))
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        influx.stop()
        broker.stop()
        _drop(url)


if __name__ == "__main__":
    main()
