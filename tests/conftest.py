"""Shared fixtures: settings, databases (SQLite and a real PostgreSQL), demo data, app."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config import Settings
from devstack.servers import Influxd, Mosquitto, Postgres, ServerError, VictoriaMetrics, port_open
from fleet.db import Database
from fleet.schema import upgrade

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Testing settings that ignore the developer's environment and .env."""
    values: dict[str, object] = {
        "portal_env": "testing",
        "secret_key": "test-secret-key-" + "x" * 32,
        "database_url": database_url,
        "availability_cache_s": 0,  # tests change outages and read pages at once
        "page_cache_s": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def logged_in_client(app: Flask, email: str) -> FlaskClient:
    """A test client of ``app`` logged in as a demo account (the app has CSRF off)."""
    from portal.demo import DEMO_PASSWORD

    client = app.test_client()
    resp = client.post("/auth/login", data={"email": email, "password": DEMO_PASSWORD})
    assert resp.status_code == 302, resp.data
    return client


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave screenshots and logs for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a PostgreSQL server's maintenance database.

    ``TEST_POSTGRES_URL`` if set; else the machine's server on 127.0.0.1:5432 if it
    answers; else a throw-away cluster started here (needs the postgresql package,
    which ``make test`` installs). Never skipped: these tests must run.
    """
    url = os.environ.get("TEST_POSTGRES_URL")
    if url:
        yield url
        return
    if port_open(5432):
        candidate = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        engine = create_engine(candidate)
        try:
            with engine.connect() as conn:
                conn.execute(text("select 1"))
            yield candidate
            return
        except Exception:  # noqa: S110 - not usable (auth?): start our own below
            pass
        finally:
            engine.dispose()
    server = Postgres(tmp_path_factory.mktemp("pg") / "cluster")
    try:
        server.start()
    except ServerError as exc:
        pytest.fail(f"no PostgreSQL available for the tests: {exc}")
    yield server.url
    server.stop()


@contextlib.contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """Create an empty database on the server, yield its URL, drop it afterwards."""
    name = f"portal_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))  # name is ours, not user input
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fleet.db'}"
    else:
        with fresh_postgres_database(request.getfixturevalue("postgres_server")) as url:
            yield url


@pytest.fixture
def db(empty_db_url: str) -> Iterator[Database]:
    """A migrated, empty database (SQLite and PostgreSQL)."""
    upgrade(empty_db_url)
    database = Database(empty_db_url)
    yield database
    database.dispose()


def _load_demo(url: str) -> str:
    from portal.demo import load_demo

    upgrade(url)
    database = Database(url)
    with database.session() as session:
        load_demo(session)
    database.dispose()
    return url


class DemoTemplates:
    """The demo database built once and copied for each module (a copy takes milliseconds, a
    load seconds). A template older than ``MAX_AGE_S`` is built again, so that demo data
    made relative to "now" never drifts from the clock by more than that."""

    MAX_AGE_S = 120.0

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.server = ""  # the PostgreSQL server of the templates, once one is made
        self._sqlite: tuple[float, Path] | None = None
        self._postgres: tuple[float, str] | None = None
        self._made: list[str] = []

    def _fresh(self, made: float | None) -> bool:
        return made is not None and time.monotonic() - made < self.MAX_AGE_S

    def sqlite(self, target: Path) -> str:
        """A copy of the SQLite demo at ``target``; its URL."""
        if self._sqlite is None or not self._fresh(self._sqlite[0]):
            source = self.folder / f"demo-{uuid.uuid4().hex[:8]}.db"
            _load_demo(f"sqlite:///{source}")  # closed: its write-ahead log is merged into the file
            self._sqlite = (time.monotonic(), source)
        shutil.copyfile(self._sqlite[1], target)
        return f"sqlite:///{target}"

    def postgres(self, server: str, name: str) -> str:
        """A new PostgreSQL database ``name`` on ``server`` copied from the demo template; its URL."""
        self.server = server
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        try:
            if self._postgres is None or not self._fresh(self._postgres[0]):
                template = f"portal_demo_{uuid.uuid4().hex[:12]}"
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{template}"'))  # our own name
                self._made.append(template)
                _load_demo(make_url(server).set(database=template).render_as_string(hide_password=False))
                self._postgres = (time.monotonic(), template)
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self._postgres[1]}"'))
        finally:
            admin.dispose()
        return make_url(server).set(database=name).render_as_string(hide_password=False)

    def drop(self) -> None:
        """Drop the PostgreSQL templates made in this session."""
        if not self._made:
            return
        admin = create_engine(self.server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in self._made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def demo_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoTemplates]:
    """The session's demo templates."""
    templates = DemoTemplates(tmp_path_factory.mktemp("demo-templates"))
    yield templates
    templates.drop()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def demo_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, demo_templates: DemoTemplates
) -> Iterator[str]:
    """A migrated database with the demo data, on SQLite and on PostgreSQL (per module)."""
    if request.param == "sqlite":
        yield demo_templates.sqlite(tmp_path_factory.mktemp("demo") / "fleet.db")
        return
    name = f"portal_test_{uuid.uuid4().hex[:12]}"
    server = request.getfixturevalue("postgres_server")
    url = demo_templates.postgres(server, name)
    yield url
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def sqlite_demo_url(tmp_path_factory: pytest.TempPathFactory, demo_templates: DemoTemplates) -> str:
    """A migrated SQLite database with the demo data (per module)."""
    return demo_templates.sqlite(tmp_path_factory.mktemp("demo-sqlite") / "fleet.db")


# --- real servers for ingest and end-to-end tests ------------------------------------------
@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influxd]:
    """Debian's InfluxDB 1.6.7 on a free loopback port (shared; tests use their own database)."""
    server = Influxd(tmp_path_factory.mktemp("influxd") / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    """VictoriaMetrics, for influxdb-client's /api/v2/write path."""
    server = VictoriaMetrics(tmp_path_factory.mktemp("vm") / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A Mosquitto of this test's own, configured for at-least-once delivery."""
    server = Mosquitto(tmp_path / "mosquitto")
    server.start()
    yield server
    server.stop()
