"""Operators' probes and logs: /healthz, /readyz reporting the database, the broker (with our
credentials) and InfluxDB, a request id on every response and log line, JSON logs, and
command lines that answer --help without starting anything."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from config import ROOT
from devstack.servers import Influxd, Mosquitto, free_port
from fleet.logs import make_handler
from portal.app import create_app
from portal.ops.request_id import RequestIdFilter
from tests.conftest import make_settings


def _app(db_url: str, **overrides: object) -> Flask:
    return create_app(make_settings(db_url, live_enabled=False, **overrides))


def test_healthz_answers_without_a_login(sqlite_demo_url: str) -> None:
    resp = _app(sqlite_demo_url).test_client().get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok"}
    assert resp.headers["Cache-Control"] == "no-store"


def test_readyz_reports_each_dependency(sqlite_demo_url: str, broker: Mosquitto, influxd: Influxd) -> None:
    ready = _app(sqlite_demo_url, mqtt_url=broker.url, influx_url=influxd.url).test_client().get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    body = ready.get_json()
    assert body["status"] == "ready"
    assert {name for name, check in body["checks"].items() if check["ok"]} == {
        "database",
        "broker",
        "influxdb",
    }
    assert broker.service_password not in ready.get_data(as_text=True)  # no credentials in the answer


def test_readyz_is_503_and_says_what_is_missing(sqlite_demo_url: str, broker: Mosquitto) -> None:
    wrong = broker.url_for(broker.service_user, "not the password")
    app = _app(sqlite_demo_url, mqtt_url=wrong, influx_url=f"http://127.0.0.1:{free_port()}")
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    checks = resp.get_json()["checks"]
    assert checks["database"]["ok"] is True
    assert checks["broker"]["ok"] is False
    assert (
        "authorized" in checks["broker"]["detail"].lower() or "password" in checks["broker"]["detail"].lower()
    )
    assert checks["influxdb"]["ok"] is False


def test_every_response_and_log_line_carries_the_request_id(sqlite_demo_url: str) -> None:
    app = _app(sqlite_demo_url, influx_url=f"http://127.0.0.1:{free_port()}", mqtt_url="mqtt://127.0.0.1:1")
    client = app.test_client()
    assert len(client.get("/healthz").headers["X-Request-ID"]) == 32  # made when none is given
    assert (
        client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.2"}).headers["X-Request-ID"] == "lb-7f3a.2"
    )
    assert (
        client.get("/healthz", headers={"X-Request-ID": "bad id;drop"}).headers["X-Request-ID"]
        != "bad id;drop"
    )
    out = io.StringIO()
    handler = make_handler("json", out, [RequestIdFilter()])
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        client.get("/readyz", headers={"X-Request-ID": "probe-42"})  # logs what is not ready
    finally:
        root.removeHandler(handler)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    warning = next(entry for entry in lines if entry["logger"] == "portal.ops.views")
    assert warning["request_id"] == "probe-42"
    assert warning["level"] == "WARNING"
    assert "not ready" in warning["message"]


@pytest.mark.parametrize("module", ["portal.worker", "ingest", "ingest.simulate"])
def test_command_lines_answer_help_without_starting(module: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "sqlite:///:memory:"}
    cmd = [sys.executable, "-m", module, "--help"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:")


@pytest.mark.parametrize("script", ["portal", "portal-worker", "portal-ingest"])
def test_the_installed_console_scripts_answer_help(script: str) -> None:
    """``pip install -e .`` (done by ``make``) puts them beside the interpreter."""
    path = Path(sys.executable).parent / script
    assert path.exists(), f"{script} is not installed: pip install -e ."
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "sqlite:///:memory:"}
    cmd = [str(path), "--help"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert "usage" in done.stdout.lower()
