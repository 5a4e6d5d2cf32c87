"""Ingester counters: Prometheus text format on a local port, and a periodic log line."""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

logger = logging.getLogger(__name__)
LATENCY_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    5.0,
    10.0,
    30.0,
    60.0,
)


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Quantile ``q`` from cumulative (upper bound, count) buckets, interpolating linearly
    inside the bucket (as Prometheus does)."""
    total = buckets[-1][1]
    if total <= 0:
        return float("nan")
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            width = count - lower_count
            return lower_bound + (bound - lower_bound) * ((rank - lower_count) / width if width else 0.0)
        lower_bound, lower_count = bound, count
    return lower_bound


class Metrics:
    """The ingester's counters and gauges, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.received = Counter("ingest_messages_received", "MQTT messages received", registry=r)
        self.readings_written = Counter("ingest_readings_written", "Telemetry readings written", registry=r)
        self.points_written = Counter("ingest_points_written", "Points written to InfluxDB", registry=r)
        self.statuses = Counter("ingest_status_messages", "Status messages applied", registry=r)
        self.invalid = Counter(
            "ingest_messages_invalid", "Rejected messages by reason", ["reason"], registry=r
        )
        self.write_retries = Counter("ingest_write_retries", "InfluxDB write retries", registry=r)
        self.sql_retries = Counter("ingest_sql_retries", "SQL transaction retries", registry=r)
        self.batches = Counter("ingest_batches", "Batches written and acknowledged", registry=r)
        self.live_events = Counter("ingest_live_events", "Live events published", ["type"], registry=r)
        self.buffer_depth = Gauge(
            "ingest_buffer_depth", "Messages received, not yet acknowledged", registry=r
        )
        self.lag_seconds = Gauge(
            "ingest_lag_seconds", "Now minus the newest written reading's time", registry=r
        )
        self.store_latency = Histogram(
            "ingest_store_latency_seconds", "Reading timestamp to stored in InfluxDB", registry=r,
            buckets=LATENCY_BUCKETS,
        )  # fmt: skip
        self.connected = Gauge("ingest_mqtt_connected", "1 while connected to the broker", registry=r)
        self._server: Any = None

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        """Expose ``/metrics`` on ``addr:port`` (0 disables)."""
        if port:
            self._server = start_http_server(port, addr=addr, registry=self.registry)
            logger.info("metrics on http://%s:%s/metrics", addr, port)

    def close(self) -> None:
        """Stop the metrics server."""
        if self._server is not None:
            server, _thread = self._server
            server.shutdown()
            server.server_close()
            self._server = None

    def snapshot(self) -> dict[str, float]:
        """Current values, flattened (for logs and tests)."""
        out: dict[str, float] = {}
        for family in self.registry.collect():
            for sample in family.samples:
                if sample.name.endswith("_created"):
                    continue
                label = ",".join(f"{v}" for v in sample.labels.values())
                out[f"{sample.name}{'{' + label + '}' if label else ''}"] = sample.value
        return out

    def log_line(self) -> str:
        """One line summarising the counters."""
        s = self.snapshot()
        invalid = {
            k.split("{")[1][:-1]: int(v)
            for k, v in s.items()
            if k.startswith("ingest_messages_invalid_total{")
        }
        return (
            f"received={int(s.get('ingest_messages_received_total', 0))} "
            f"written={int(s.get('ingest_readings_written_total', 0))} "
            f"statuses={int(s.get('ingest_status_messages_total', 0))} "
            f"invalid={invalid or 0} retries={int(s.get('ingest_write_retries_total', 0))} "
            f"buffer={int(s.get('ingest_buffer_depth', 0))} lag_s={s.get('ingest_lag_seconds', 0):.2f}"
        )
