"""Flask extensions, created unbound and initialised in :func:`portal.app.create_app`."""

from __future__ import annotations

from flask import current_app
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from sqlalchemy.orm import Session

from fleet.db import Database
from portal.influxql import TelemetryReader
from portal.kpi import AvailabilityCache
from portal.web.fragments import FragmentCache

login_manager = LoginManager()
csrf = CSRFProtect()


def get_db() -> Database:
    """The application's :class:`Database`."""
    return current_app.extensions["fleet.db"]


def db_session() -> Session:
    """The request's SQLAlchemy session (removed at the end of the request)."""
    return get_db().scoped()


def get_telemetry() -> TelemetryReader:
    """The application's telemetry reader (InfluxQL over ``/query``)."""
    return current_app.extensions["portal.influxql"]


def get_fragments() -> FragmentCache:
    """The process-wide cache of rendered fragments (see :mod:`portal.web.fragments`)."""
    return current_app.extensions["portal.fragments"]


def get_availability() -> AvailabilityCache:
    """The process-wide availability cache (see :class:`portal.kpi.AvailabilityCache`)."""
    return current_app.extensions["portal.availability"]
