"""``make run``'s stack (``python -m devstack.run``): serves the portal with demo data,
runs broker, InfluxDB, ingester, simulator, worker and a mail catcher, and leaves no process
behind on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from config import ROOT
from devstack.servers import free_port
from tests.e2e.ingest_rig import wait_for

pytestmark = pytest.mark.e2e


def _children(pid: int) -> set[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    )
    kids = {int(p) for p in out.stdout.split()}
    for kid in list(kids):
        kids |= _children(kid)
    return kids


def _alive(pids: set[int]) -> set[int]:
    return {p for p in pids if Path(f"/proc/{p}").exists()}


def test_run_stack_serves_demo_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = dict(
        os.environ,
        PORT=str(port),
        DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}",
        VAR_DIR=str(tmp_path / "var"),
    )
    env.pop("MQTT_URL", None)
    env.pop("INFLUX_URL", None)
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    try:

        def up() -> bool:
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/auth/login", timeout=1).status == 200
            except OSError:
                return False

        assert wait_for(up, 90, every=0.5), (tmp_path / "run.log").read_text()[-3000:]
        text = (tmp_path / "run.log").read_text()
        assert "fm@demo.example" in text
        assert f"Portal:  http://127.0.0.1:{port}" in text
        # the ingester receives the simulator's telemetry
        assert wait_for(lambda: "connected to" in (tmp_path / "run.log").read_text(), 30)
        assert wait_for(lambda: "simulating" in (tmp_path / "run.log").read_text(), 30)
        # the worker tells people about the demo's open outages; the e-mails land in the local catcher
        assert wait_for(lambda: "worker started" in (tmp_path / "run.log").read_text(), 30)
        assert wait_for(lambda: "mail to fm@demo.example" in (tmp_path / "run.log").read_text(), 40)
        assert list((tmp_path / "var" / "mail").glob("*.eml"))
        family = _children(proc.pid)
        assert len(family) >= 7  # broker, influxd, mail, ingester, simulator, worker, gunicorn
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
    assert wait_for(lambda: _alive(family) == set(), 10), f"processes left behind: {_alive(family)}"
    assert "everything stopped" in (tmp_path / "run.log").read_text()
