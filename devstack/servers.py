"""Start and stop Mosquitto, InfluxDB 1.x, VictoriaMetrics and PostgreSQL as child processes.

Each server gets a private data folder and free loopback ports, is waited for until
it answers, and is stopped (then killed if it does not stop) by :meth:`stop`.
"""

from __future__ import annotations

import contextlib
import getpass
import glob
import logging
import os
import pwd
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from fleet.broker_auth import Account, new_password, reload_broker, service_account, write_files

logger = logging.getLogger(__name__)


class ServerError(RuntimeError):
    """A server could not be started; the message says which and why."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def _wait(predicate, what: str, proc: subprocess.Popen[bytes] | None, log: Path, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise ServerError(f"{what} exited with code {proc.returncode}: {tail}")
        if predicate():
            return
        time.sleep(0.1)
    raise ServerError(f"{what} did not become ready within {timeout:.0f}s (log: {log})")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback URL we built
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Server:
    """A child-process server with a data folder and a port."""

    data_dir: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    name = "server"

    def __post_init__(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()

    @property
    def log_path(self) -> Path:
        """Where the server's output goes."""
        return self.data_dir / f"{self.name}.log"

    def command(self) -> list[str]:
        """The command line that starts the server."""
        raise NotImplementedError

    def ready(self) -> bool:
        """True once the server answers."""
        return port_open(self.port)

    def start(self, timeout: float = 30) -> Server:
        """Start the server and wait until it answers."""
        if port_open(self.port):
            raise ServerError(f"{self.name}: port {self.port} is already in use")
        cmd = self.command()
        if shutil.which(cmd[0]) is None and not Path(cmd[0]).exists():
            raise ServerError(f"{self.name}: {cmd[0]} is not installed (run 'make system-deps')")
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        _wait(self.ready, self.name, self.proc, self.log_path, timeout)
        logger.info("%s listening on 127.0.0.1:%s (pid %s)", self.name, self.port, self.proc.pid)
        return self

    def stop(self, timeout: float = 15) -> None:
        """Stop the server: SIGTERM, then SIGKILL after ``timeout`` seconds."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def kill(self) -> None:
        """Kill the server at once (crash simulation)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@dataclass
class Mosquitto(Server):
    """Mosquitto configured for at-least-once delivery (persistence, deep queues) and with
    authentication on: no anonymous client; a service account (its credentials are in
    :attr:`url`) for the ingester, the portal and the tests; gateways added by
    :meth:`set_gateways`, each limited to its own topics (:mod:`fleet.broker_auth`).

    Mosquitto's default limits drop messages for slow subscribers (see the README's
    production notes); this configuration does not.
    """

    service_user: str = "fleet-service"
    service_password: str = field(default_factory=new_password, repr=False)
    prefix: str = "equipment"
    live_topic: str = "portal/live"

    name = "mosquitto"

    @property
    def pid_file(self) -> Path:
        """Where Mosquitto writes its pid (SIGHUP it to re-read the password and ACL files)."""
        return self.data_dir / "mosquitto.pid"

    def service_account(self) -> Account:
        """The account of :attr:`url`."""
        return service_account(self.service_user, self.service_password, self.prefix, self.live_topic)

    def set_gateways(self, gateways: list[Account]) -> None:
        """Replace the gateway accounts (and reload a running broker)."""
        write_files(self.data_dir, [self.service_account(), *gateways])
        if self.proc is not None and self.proc.poll() is None:
            reload_broker(self.pid_file)

    def command(self) -> list[str]:
        conf = self.data_dir / "mosquitto.conf"
        passwd, acl = write_files(self.data_dir, [self.service_account()])
        conf.write_text(
            "\n".join(
                [
                    f"listener {self.port} 127.0.0.1",
                    # run as root, Mosquitto drops to the 'mosquitto' user, which cannot write
                    # the persistence file into our data folder: stay the user we are
                    f"user {getpass.getuser()}",
                    "allow_anonymous false",
                    f"password_file {passwd}",
                    f"acl_file {acl}",
                    f"pid_file {self.pid_file}",
                    "persistence true",
                    f"persistence_location {self.data_dir}/",
                    "autosave_interval 30",
                    "max_queued_messages 0",
                    "max_queued_bytes 0",
                    "max_inflight_messages 0",
                    "max_packet_size 1048576",
                    "set_tcp_nodelay true",
                    "log_dest stdout",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    "",
                ]
            )
        )
        return [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)]

    @property
    def url(self) -> str:
        """``mqtt://service-user:password@127.0.0.1:port``."""
        return f"mqtt://{self.service_user}:{self.service_password}@127.0.0.1:{self.port}"

    def url_for(self, username: str, password: str) -> str:
        """The broker's address with another account's credentials."""
        return f"mqtt://{username}:{password}@127.0.0.1:{self.port}"


@dataclass
class Influxd(Server):
    """InfluxDB 1.x (Debian's 1.6.7): v1 ``/write`` and InfluxQL ``/query``."""

    name = "influxd"
    max_row_limit: int = 0  # rows per answer before InfluxDB cuts it short (0: no limit, its default)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.rpc_port = free_port()

    def command(self) -> list[str]:
        d = self.data_dir
        conf = d / "influxdb.conf"
        conf.write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "10s"
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
  max-body-size = 0
  max-row-limit = {self.max_row_limit}
[logging]
  level = "warn"
[continuous_queries]
  enabled = false
"""
        )
        return [shutil.which("influxd") or "/usr/bin/influxd", "run", "-config", str(conf)]

    def ready(self) -> bool:
        return _http_ok(f"{self.url}/ping")

    @property
    def url(self) -> str:
        """``http://127.0.0.1:port``."""
        return f"http://127.0.0.1:{self.port}"


class VictoriaMetrics(Server):
    """VictoriaMetrics single node: accepts influxdb-client writes on ``/api/v2/write``."""

    name = "victoria-metrics"

    def command(self) -> list[str]:
        return [
            shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics",
            f"-storageDataPath={self.data_dir / 'data'}",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-retentionPeriod=100y",
            "-loggerLevel=ERROR",
            "-search.latencyOffset=0s",
        ]

    def ready(self) -> bool:
        return _http_ok(f"{self.url}/health")

    @property
    def url(self) -> str:
        """``http://127.0.0.1:port``."""
        return f"http://127.0.0.1:{self.port}"


def _pg_bin(tool: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"), reverse=True)
    return found[0] if found else shutil.which(tool)


class Postgres(Server):
    """A throw-away PostgreSQL cluster (trust auth) owned by the ``postgres`` user when root."""

    name = "postgres"

    def _as_owner(self) -> list[str]:
        if os.geteuid() != 0:
            return []
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise ServerError("postgres: running as root needs a 'postgres' system user") from exc
        return ["runuser", "-u", "postgres", "--"]

    def command(self) -> list[str]:
        initdb, postgres = _pg_bin("initdb"), _pg_bin("postgres")
        if not initdb or not postgres:
            raise ServerError("postgres: initdb/postgres not found (install the 'postgresql' package)")
        pgdata = self.data_dir / "pgdata"
        owner = self._as_owner()
        if owner:
            shutil.chown(self.data_dir, "postgres", "postgres")
            self.data_dir.chmod(0o700)
            # the postgres user must be able to reach its folder through our temp folders
            for parent in self.data_dir.parents:
                st = parent.stat()
                if st.st_uid == os.geteuid() and not st.st_mode & 0o001:
                    parent.chmod(st.st_mode | 0o001)
        if not (pgdata / "PG_VERSION").exists():
            done = subprocess.run(
                [*owner, initdb, "-D", str(pgdata), "-A", "trust", "-U", "postgres", "-E", "UTF8"],
                check=False,
                capture_output=True,
                text=True,
            )
            if done.returncode:
                raise ServerError(f"postgres: initdb failed: {done.stderr.strip()[-500:]}")
        return [
            *owner, postgres, "-D", str(pgdata), "-p", str(self.port), "-h", "127.0.0.1",
            "-k", str(self.data_dir), "-c", "fsync=off", "-c", "full_page_writes=off",
        ]  # fmt: skip

    def start(self, timeout: float = 60) -> Server:
        """Start the cluster (log in the data folder, which the owner can write)."""
        return super().start(timeout)

    @property
    def log_path(self) -> Path:
        """Outside the data folder when running as another user."""
        return self.data_dir.parent / f"{self.data_dir.name}-postgres.log"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the ``postgres`` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
