"""The files in deploy/ work as written: gunicorn accepts its configuration, every command
the Procfile and the systemd units start is installed, and Mosquitto starts with the
broker configuration (TLS listener swapped for a loopback port) and the portal's files."""

from __future__ import annotations

import getpass
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from config import ROOT
from devstack.servers import free_port, port_open
from fleet.broker_auth import gateway_account, mosquitto_hash, service_account, write_files

DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent


def test_gunicorn_accepts_the_configuration(tmp_path: Path) -> None:
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    cmd = [str(BIN / "gunicorn"), "--check-config", "-c", str(DEPLOY / "gunicorn.conf.py"), "wsgi:app"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def test_every_command_the_units_and_procfile_start_is_installed() -> None:
    procfile = (DEPLOY / "Procfile").read_text()
    commands = {line.split(":", 1)[1].split()[0] for line in procfile.splitlines() if line and line[0] != "#"}
    for unit in (DEPLOY / "systemd").glob("*.service"):
        for exec_line in re.findall(r"^Exec(?:Start|StartPre)=(\S+)", unit.read_text(), re.MULTILINE):
            if exec_line.startswith("/opt/equipment-portal/.venv/bin/"):
                commands.add(exec_line.rsplit("/", 1)[1])
    assert commands == {"portal", "gunicorn", "portal-ingest", "portal-worker"}
    for command in commands:
        assert (BIN / command).exists(), command


def test_mosquitto_starts_with_the_broker_configuration(tmp_path: Path) -> None:
    port = free_port()
    conf = (DEPLOY / "mosquitto" / "equipment-portal.conf").read_text()
    conf = re.sub(
        r"^listener 8883\n^certfile .*\n^keyfile .*\n", f"listener {port} 127.0.0.1\n", conf, flags=re.M
    )
    conf = conf.replace("/var/lib/mosquitto/", f"{tmp_path}/").replace("/etc/mosquitto/portal", str(tmp_path))
    conf = conf.replace("/run/mosquitto/mosquitto.pid", str(tmp_path / "mosquitto.pid"))
    assert "8883" not in conf
    gateway = gateway_account("gw-1", mosquitto_hash("pw1"), ["ELV-1"], "equipment")
    write_files(tmp_path, [service_account("svc", "pw", "equipment", "portal/live"), gateway])
    (tmp_path / "test.conf").write_text(f"user {getpass.getuser()}\n{conf}")
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([mosquitto, "-c", str(tmp_path / "test.conf")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not port_open(port) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        assert port_open(port)
        assert (tmp_path / "mosquitto.pid").read_text().strip() == str(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()
