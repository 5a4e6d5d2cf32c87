"""Prometheus metrics of the portal: requests by route and status, latency, Socket.IO
connections, page-cache lookups; served at ``/metrics`` to the loopback address or to a
scraper presenting ``METRICS_TOKEN``.

Under gunicorn with several workers, set ``PROMETHEUS_MULTIPROC_DIR`` (an empty folder) for
the master: each worker then writes its values there and ``/metrics`` sums them
(prometheus_client's multiprocess mode; ``deploy/gunicorn.conf.py`` cleans up after a worker
exits). Without it, each process reports its own values.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)


class PortalMetrics:
    """The portal's metrics, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "portal_requests",
            "HTTP requests by route, method and status",
            ["endpoint", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "portal_request_seconds",
            "Time to answer a request, by route",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.socketio = Gauge(
            "portal_socketio_connections",
            "Open Socket.IO connections",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.page_cache = Counter(
            "portal_page_cache_lookups", "Page-cache lookups by result", ["result"], registry=r
        )

    def cache_lookup(self, hit: bool) -> None:
        """Count one page-cache lookup."""
        self.page_cache.labels("hit" if hit else "miss").inc()


def get_metrics() -> PortalMetrics:
    """The current app's metrics."""
    metrics: PortalMetrics = current_app.extensions["portal.metrics"]
    return metrics


def _start() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.get("metrics_started")
    if started is not None:
        endpoint = request.url_rule.endpoint if request.url_rule is not None else "unmatched"
        metrics = get_metrics()
        metrics.requests.labels(endpoint, request.method, str(response.status_code)).inc()
        metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
    return response


def _may_scrape() -> bool:
    token = current_app.config["SETTINGS"].metrics_token
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


@bp.get("/metrics")
def metrics() -> Response:
    """The metrics in Prometheus' text format (404 to anyone who may not scrape)."""
    if not _may_scrape():
        abort(404)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = get_metrics().registry
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> PortalMetrics:
    """Count every request of ``app`` and serve ``/metrics``."""
    portal_metrics = PortalMetrics()
    app.extensions["portal.metrics"] = portal_metrics
    app.before_request(_start)
    app.after_request(_observe)
    app.register_blueprint(bp)
    return portal_metrics
