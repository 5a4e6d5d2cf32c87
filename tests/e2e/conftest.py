"""Real-browser fixtures: the portal served on a loopback port, and headless Chromium."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from devstack.servers import Influxd, Mosquitto, free_port
from portal.app import create_app
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
    app.extensions["portal.db"].dispose()


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
