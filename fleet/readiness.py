"""Is each dependency there? The database, the MQTT broker and InfluxDB, checked the same way
by the portal's ``/readyz`` and ``python -m ingest --check``.

Each check answers within its timeout and never raises: a :class:`Check` says what failed.
Details never hold credentials.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from sqlalchemy import text
from sqlalchemy.engine import Engine

from fleet.mqtt import BrokerAddress, make_client

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    """One dependency's answer."""

    name: str
    ok: bool
    detail: str


def where(url: str) -> str:
    """``scheme://host:port`` of a URL, without user name or password."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}"


def check_database(engine: Engine) -> Check:
    """The business database answers a query."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not ready"
        return Check("database", False, type(exc).__name__)
    return Check("database", True, engine.dialect.name)


def check_broker(url: str, client_id: str, timeout: float = 3.0) -> Check:
    """The broker accepts our credentials (a CONNACK with reason code 0)."""
    address = BrokerAddress.parse(url)
    client = make_client(address, client_id)
    answered = threading.Event()
    answer: list[Any] = []

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        answer.append(reason)
        answered.set()

    client.on_connect = on_connect
    try:
        client.connect(address.host, address.port, keepalive=10)
        client.loop_start()
        if not answered.wait(timeout):
            return Check("broker", False, f"{where(url)}: no answer within {timeout:g} s")
        reason = answer[0]
        if getattr(reason, "is_failure", False):
            return Check("broker", False, f"{where(url)}: {reason}")
        return Check("broker", True, where(url))
    except OSError as exc:
        return Check("broker", False, f"{where(url)}: {exc.strerror or exc}")
    finally:
        client.disconnect()
        client.loop_stop()


def check_influx(url: str, timeout: float = 3.0) -> Check:
    """InfluxDB answers ``/ping`` (1.x, 2.x and 3.x all do, without credentials)."""
    http = urllib3.PoolManager(timeout=urllib3.Timeout(total=timeout), retries=False)
    try:
        resp = http.request("GET", f"{url.rstrip('/')}/ping")
    except urllib3.exceptions.HTTPError as exc:
        return Check("influxdb", False, f"{where(url)}: {type(exc).__name__}")
    finally:
        http.clear()
    ok = 200 <= resp.status < 300
    return Check("influxdb", ok, where(url) if ok else f"{where(url)}: HTTP {resp.status}")
