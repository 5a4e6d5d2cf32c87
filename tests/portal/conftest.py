"""Fixtures for portal tests: an app on demo data and logged-in clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from devstack.servers import free_port
from portal.app import create_app
from tests.conftest import logged_in_client, make_settings


@pytest.fixture(scope="module")
def app(demo_db_url: str) -> Iterator[Flask]:
    """The portal on demo data (SQLite and PostgreSQL), CSRF off for plain form posts."""
    application = create_app(
        make_settings(
            demo_db_url,
            login_max_failures_per_ip=10_000,
            influx_url=f"http://127.0.0.1:{free_port()}",  # nothing listens: telemetry answers 503
            influx_timeout_s=2,
            live_enabled=False,  # no MQTT bridge; live channels are tested in tests/e2e
        )
    )
    application.config["WTF_CSRF_ENABLED"] = False
    yield application
    application.extensions["fleet.db"].dispose()


@pytest.fixture
def login(app: Flask) -> Callable[[str], FlaskClient]:
    """Return a client logged in as the given demo account."""

    def _login(email: str) -> FlaskClient:
        return logged_in_client(app, email)

    return _login
