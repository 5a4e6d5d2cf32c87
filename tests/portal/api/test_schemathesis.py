"""Schemathesis, run as a stranger would: its command line against the portal served on a
loopback port, with an administrator's API token, every check and every phase on.

It fails on any server error, any status code the document does not list, any answer that
does not match its schema, any request outside the schema that is accepted, and any request
inside the schema refused with 400 (see ``schemathesis.toml`` beside this file)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from devstack.servers import Influxd
from fleet.db import utcnow
from fleet.models import User
from ingest.influx import V1Writer
from portal.app import create_app
from portal.tokens import service as tokens
from tests.conftest import make_settings
from tests.e2e.conftest import LiveServer

CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.fixture(scope="module")
def served(sqlite_demo_url: str, influxd: Influxd) -> Iterator[tuple[LiveServer, str]]:
    """The portal on demo data with a day of readings of one unit in a real InfluxDB, and an
    administrator's token."""
    bucket = f"st_{uuid.uuid4().hex[:8]}"
    writer = V1Writer(influxd.url, bucket)
    writer.ensure_database()
    t0 = int((utcnow() - timedelta(days=1)).timestamp()) * 1000
    writer.write(
        [f"telemetry,asset=ELV-0101 trips={i}i,motor_temp_c=31.5 {t0 + i * 600_000}" for i in range(144)]
    )
    writer.close()
    app = create_app(
        make_settings(
            sqlite_demo_url,
            api_token_rate_per_minute=100_000,
            influx_url=influxd.url,
            influx_bucket=bucket,
            live_enabled=False,
        )
    )
    with app.extensions["fleet.db"].sessionmaker() as session:
        staff = session.scalars(select(User).where(User.email == "staff@demo.example")).one()
        token = tokens.create(session, staff, "schemathesis", 1, utcnow()).secret
        session.commit()
    with LiveServer(app) as server:
        yield server, token
    app.extensions["fleet.db"].dispose()


@pytest.mark.timeout(600)
def test_schemathesis_finds_nothing(served: tuple[LiveServer, str], tmp_path: Path) -> None:
    server, token = served
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(CONFIG),
            "--no-color",
            "run",
            f"{server.url}/api/v1/openapi.json",
            "--checks",
            "all",
            "--mode",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            "40",
            "--seed",
            "20261203",
            "--header",
            f"Authorization: Bearer {token}",
            "--request-timeout",
            "30",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=570,
        check=False,
        cwd=tmp_path,
    )
    (tmp_path / "schemathesis.out").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
    assert "No issues found" in run.stdout or "passed" in run.stdout, run.stdout[-5_000:]
