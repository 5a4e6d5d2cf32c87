"""Real-browser fixtures: the portal served on a loopback port, and headless Chromium."""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from devstack.servers import Influxd, Mosquitto, free_port
from fleet.db import Database
from fleet.models import Asset
from ingest.publish import WindowedPublisher
from ingest.service import Ingester
from portal.app import create_app
from portal.demo import DEMO_PASSWORD
from portal.live.server import stop_bridge
from tests.conftest import make_settings
from tests.e2e.ingest_rig import Rig

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]  # fmt: skip


class LiveServer:
    """A Flask app served by Werkzeug in a background thread."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture(scope="module")
def live_portal(sqlite_demo_url: str) -> Iterator[LiveServer]:
    """The portal on demo data, served on a free loopback port."""
    app = create_app(make_settings(sqlite_demo_url, login_max_failures_per_ip=10_000))
    with LiveServer(app) as server:
        yield server
    app.extensions["fleet.db"].dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def rig(tmp_path: Path, broker: Mosquitto, influxd: Influxd) -> Iterator[Rig]:
    """An ingest rig on this test's broker and the shared InfluxDB 1.6.7."""
    r = Rig(tmp_path, broker, influxd.url)
    yield r
    r.close()


# --- the live stack: broker, ingester and portal on the demo database ---------------------
@dataclass
class Stack:
    """Broker, ingester and portal on the demo database."""

    broker: Mosquitto
    ingester: Ingester
    portal: LiveServer
    db: Database
    publisher: WindowedPublisher

    def asset(self, mqtt_id: str) -> Asset:
        """A demo asset by device id (detached)."""
        with self.db.session() as s:
            obj = s.scalars(select(Asset).where(Asset.mqtt_id == mqtt_id)).one()
            s.expunge(obj)
            return obj

    def publish_status(self, mqtt_id: str, state: str, fault: str | None = None) -> None:
        """What a gateway sends when an asset's state changes."""
        body = {"ts": int(time.time() * 1000), "state": state, "fault": fault}
        self.publisher.publish(f"equipment/{mqtt_id}/status", json.dumps(body).encode(), retain=True)
        self.publisher.wait_all(10)


@pytest.fixture(scope="module")
def stack(
    sqlite_demo_url: str, influxd: Influxd, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    broker = Mosquitto(tmp_path_factory.mktemp("live-broker"))
    broker.start()
    common: dict[str, Any] = {
        "mqtt_url": broker.url, "influx_url": influxd.url, "influx_bucket": f"live_{uuid.uuid4().hex[:8]}",
        "influx_write_api": "v1", "ingest_metrics_port": 0, "ingest_flush_interval_s": 0.05,
    }  # fmt: skip
    ingester = Ingester(make_settings(sqlite_demo_url, **common), client_id="live-ingest")
    ingester.start()
    assert ingester.connected.wait(10)
    app = create_app(make_settings(sqlite_demo_url, login_max_failures_per_ip=10_000, **common))
    publisher = WindowedPublisher(broker.url, "live-gateway").connect()
    with LiveServer(app) as portal:
        yield Stack(broker, ingester, portal, Database(sqlite_demo_url), publisher)
    publisher.close()
    stop_bridge(app)
    ingester.stop(timeout=10)
    app.extensions["fleet.db"].dispose()
    broker.stop()


def login_page(page: Any, base: str, email: str) -> None:
    """Log a browser page in as a demo account."""
    page.goto(f"{base}/auth/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.locator("button[type=submit].primary").click()
    page.wait_for_load_state()


def wait_joined(page: Any) -> None:
    """Wait until the page's live connection has joined its rooms."""
    page.locator("body[data-live=joined]").wait_for(state="attached", timeout=10_000)


def wait_state(page: Any, selector: str, state: str, timeout: float = 2_000) -> None:
    """Wait (CSP-safe: no string evaluation) until ``selector`` carries ``data-state``."""
    page.locator(f'{selector}[data-state="{state}"]').first.wait_for(state="attached", timeout=timeout)
