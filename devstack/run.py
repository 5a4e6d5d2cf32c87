"""``make run``: the whole system on one machine with demo data.

Starts (unless ``MQTT_URL`` / ``INFLUX_URL`` name existing servers) a local Mosquitto
and InfluxDB with data under ``var/``, migrates the business database and loads the
demo data, then runs the ingester, the telemetry simulator and the portal (gunicorn).
Ctrl-C or SIGTERM stops everything it started, in reverse order.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from config import ROOT
from devstack.servers import Influxd, Mosquitto, Server, ServerError, free_port, port_open
from fleet.broker_auth import new_password
from portal.demo import DEMO_GATEWAY

logger = logging.getLogger("devstack.run")
VAR = Path(os.environ.get("VAR_DIR") or ROOT / "var")


class Stack:
    """Child processes and servers, stopped in reverse order of start."""

    def __init__(self) -> None:
        self.servers: list[Server] = []
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stopping = False

    def server(self, server: Server) -> Server:
        """Start a server and remember it."""
        server.start()
        self.servers.append(server)
        return server

    def spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Start a child in its own session (so a terminal's Ctrl-C reaches only us)."""
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True)
        self.procs.append((name, proc))
        logger.info("started %s (pid %s)", name, proc.pid)
        return proc

    def check(self) -> str | None:
        """The name of a child that exited, if any."""
        for name, proc in self.procs:
            if proc.poll() is not None:
                return f"{name} exited with code {proc.returncode}"
        return None

    def stop(self) -> None:
        """Stop children then servers, newest first."""
        self.stopping = True
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    logger.warning("%s did not stop in time; killing it", name)
                    proc.kill()
                    proc.wait(5)
        for server in reversed(self.servers):
            server.stop()
        logger.info("everything stopped")


def _port(preferred: int) -> int:
    return preferred if not port_open(preferred) else free_port()


def main() -> int:
    """Run the stack until Ctrl-C; return the exit code."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stack = Stack()

    def _signal(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, _signal)
    signal.signal(signal.SIGINT, _signal)  # also when started with SIGINT ignored (background)
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", f"sqlite:///{VAR / 'fleet.db'}")
    env.setdefault("SECRET_KEY", "dev-run-" + os.urandom(16).hex())
    try:
        own_mqtt: dict[str, str] = {}  # process name -> its MQTT_URL, when it has its own account
        if "MQTT_URL" not in os.environ:
            # authentication on: the ingester and the portal each have their own account, the
            # simulator is the demo's registered gateway, allowed only its units' topics
            broker = stack.server(Mosquitto(VAR / "mosquitto", port=_port(1883)))
            ingest_pw, portal_pw, gateway_pw = new_password(), new_password(), new_password()
            env["BROKER_ACCOUNTS"] = f"ingest:ingest:{ingest_pw},portal:portal:{portal_pw}"
            env["MQTT_URL"] = broker.url_for("portal", portal_pw)
            env["BROKER_AUTH_DIR"], env["BROKER_PID_FILE"] = str(broker.data_dir), str(broker.pid_file)
            env["DEMO_GATEWAY_PASSWORD"] = gateway_pw
            own_mqtt = {
                "ingester": broker.url_for("ingest", ingest_pw),
                "simulator": broker.url_for(DEMO_GATEWAY, gateway_pw),
            }
        if "INFLUX_URL" not in os.environ:
            influx = stack.server(Influxd(VAR / "influxdb", port=_port(8086)))
            env["INFLUX_URL"] = f"http://127.0.0.1:{influx.port}"
            env["INFLUX_WRITE_API"] = "v1"  # Debian's InfluxDB 1.6 has no /api/v2/write
        env.setdefault("INGEST_METRICS_PORT", str(_port(9108)))
        port = int(os.environ.get("PORT") or _port(5000))
        base_url = f"http://127.0.0.1:{port}"
        env.setdefault("PUBLIC_URL", base_url)
        mail_port = 0
        if "SMTP_HOST" not in os.environ:  # catch the portal's e-mails locally
            mail_port = _port(1025)
            env["SMTP_HOST"], env["SMTP_PORT"] = "127.0.0.1", str(mail_port)
        flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
        subprocess.run([*flask, "db", "upgrade"], env=env, cwd=ROOT, check=True)
        subprocess.run([*flask, "demo", "load", "--base-url", base_url], env=env, cwd=ROOT, check=True)
        for name, cmd in _services(port, mail_port):
            stack.spawn(name, cmd, {**env, "MQTT_URL": own_mqtt[name]} if name in own_mqtt else env)
        print(
            f"\n  Portal:  {base_url}   (Ctrl-C stops everything)"
            f"\n  Broker:  {env['MQTT_URL'].split('@')[-1]}   InfluxDB: {env['INFLUX_URL']}"
            f"\n  Metrics: http://127.0.0.1:{env['INGEST_METRICS_PORT']}/metrics"
            f"\n  E-mail:  {'kept in ' + str(VAR / 'mail') if mail_port else env['SMTP_HOST']}\n",
            flush=True,
        )
        while True:
            problem = stack.check()
            if problem:
                logger.error("%s; stopping", problem)
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    except (ServerError, subprocess.CalledProcessError) as exc:
        logger.error("could not start the stack: %s", exc)
        return 1
    finally:
        stack.stop()


def _services(port: int, mail_port: int = 0) -> list[tuple[str, list[str]]]:
    """The long-running processes of the system, in start order."""
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    portal = [gunicorn, "--workers", "2", "--threads", "128", "--bind", f"127.0.0.1:{port}",
              "--graceful-timeout", "5", "--access-logfile", "-", "wsgi:app"]  # fmt: skip
    mail = [
        sys.executable,
        "-m",
        "devstack.mailcatcher",
        "--port",
        str(mail_port),
        "--dir",
        str(VAR / "mail"),
    ]
    return [
        *([("mail", mail)] if mail_port else []),
        ("ingester", [sys.executable, "-m", "ingest"]),
        ("simulator", [sys.executable, "-m", "ingest.simulate", "--from-db"]),
        ("worker", [sys.executable, "-m", "portal.worker"]),
        ("portal", portal),
    ]


if __name__ == "__main__":
    sys.exit(main())
