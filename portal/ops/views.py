"""Probes for the supervisor and the load balancer: ``/healthz`` (the process answers) and
``/readyz`` (the database, the broker and InfluxDB each answer). Both are public, say no
more than ok or not and why in a few words, and never cache."""

from __future__ import annotations

import logging
import os

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from fleet.readiness import check_broker, check_database, check_influx
from portal.extensions import get_db

logger = logging.getLogger(__name__)
bp = Blueprint("ops", __name__)
PROBE_TIMEOUT_S = 2.0


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process is alive and serving requests."""
    resp = jsonify(status="ok")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """200 when every dependency answers, 503 otherwise; each one's answer is reported."""
    settings = current_app.config["SETTINGS"]
    checks = [
        check_database(get_db().engine),
        check_broker(settings.mqtt_url, f"portal-readyz-{os.getpid()}", PROBE_TIMEOUT_S),
        check_influx(settings.influx_url, PROBE_TIMEOUT_S),
    ]
    ready = all(c.ok for c in checks)
    if not ready:
        logger.warning("not ready: %s", ", ".join(f"{c.name} ({c.detail})" for c in checks if not c.ok))
    body = {"status": "ready" if ready else "not ready",
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks}}  # fmt: skip
    resp = jsonify(body)
    resp.headers["Cache-Control"] = "no-store"
    return resp, 200 if ready else 503
