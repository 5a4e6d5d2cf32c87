"""Telemetry reads in InfluxQL over ``/query``: InfluxDB 1.x, 2.2+ (bucket → database
mapping) and 3.x alike. Every value is a bound parameter; identifiers (field names)
are checked against a strict pattern and quoted, since InfluxQL cannot bind them.

Charts are downsampled on the server (``GROUP BY time``) so a series never returns
more than ``max_points`` points.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import urllib3

from fleet.telemetry_schema import (
    EVENT_MEASUREMENT,
    FIELD_RE,
    MEASUREMENT,
    STATUS_MEASUREMENT,
    TEXT_MEASUREMENT,
    auth_headers,
)

logger = logging.getLogger(__name__)

_NICE_STEPS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]


class TelemetryError(RuntimeError):
    """The telemetry store could not answer."""


class TruncatedAnswer(TelemetryError):
    """InfluxDB cut the answer short (its ``max-row-limit``): ask for less at a time."""


@dataclass(frozen=True)
class Series:
    """One downsampled series: timestamps (epoch ms) and values (None where empty)."""

    field: str
    interval_s: int
    times: list[int]
    values: list[float | None]


def bucket_interval(span: timedelta, max_points: int) -> int:
    """The smallest 'nice' GROUP BY interval (seconds) giving at most ``max_points`` buckets."""
    needed = max(1, math.ceil(span.total_seconds() / max(max_points, 1)))
    for step in _NICE_STEPS_S:
        if step >= needed:
            return step
    return math.ceil(needed / 86400) * 86400


def _quote_field(name: str) -> str:
    if not FIELD_RE.fullmatch(name):
        raise ValueError(f"invalid field name {name[:40]!r}")
    return f'"{name}"'


def _rfc3339(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class TelemetryReader:
    """Reads telemetry with parameterised InfluxQL (``POST /query``)."""

    def __init__(self, url: str, database: str, token: str = "", timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.headers = auth_headers(token)
        self.http = urllib3.PoolManager(
            maxsize=8, timeout=urllib3.Timeout(connect=2.0, read=timeout_s), retries=False
        )

    def query(self, influxql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run one InfluxQL statement with bound ``$params``; return its series."""
        return self.query_partial(influxql, params)[0]

    def query_partial(self, influxql: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        """Like :meth:`query`, with whether InfluxDB flagged the answer ``partial``: cut at its
        ``max-row-limit``, or (InfluxDB 1.x) merely longer than its internal chunk of 10,000
        rows. The flag cannot tell the two apart, so a caller that must have every row asks
        for less at a time while it is set."""
        try:
            resp = self.http.request(
                "POST", f"{self.url}/query",
                fields={"db": self.database, "q": influxql, "params": json.dumps(params), "epoch": "ms"},
                encode_multipart=False, headers=self.headers,
            )  # fmt: skip
        except urllib3.exceptions.HTTPError as exc:
            raise TelemetryError(f"InfluxDB unreachable: {exc}") from exc
        if resp.status >= 300:
            raise TelemetryError(f"InfluxDB answered {resp.status}: {resp.data[:200]!r}")
        body = resp.json()
        result = (body.get("results") or [{}])[0]
        if "error" in result:
            raise TelemetryError(str(result["error"]))
        series = list(result.get("series") or [])
        return series, bool(result.get("partial") or any(serie.get("partial") for serie in series))

    def series(
        self, asset: str, fields: list[str], start: datetime, end: datetime, max_points: int = 2000,
        agg: str = "mean",
    ) -> list[Series]:  # fmt: skip
        """Downsampled series of numeric ``fields`` for ``asset`` over ``[start, end)``."""
        if agg not in ("mean", "max", "min", "last"):
            raise ValueError("agg must be mean, max, min or last")
        if not fields:
            return []
        interval = bucket_interval(end - start, max_points)
        select = ", ".join(f"{agg}({_quote_field(f)}) AS {_quote_field(f)}" for f in fields)
        rows = self.query(
            f"SELECT {select} FROM {MEASUREMENT} WHERE asset = $asset AND time >= $start AND time < $end "  # noqa: S608 - identifiers allow-listed, values bound
            f"GROUP BY time({interval}s) fill(none)",
            {"asset": asset, "start": _rfc3339(start), "end": _rfc3339(end)},
        )
        out = {f: Series(f, interval, [], []) for f in fields}
        for serie in rows:
            columns = serie["columns"]
            for values in serie.get("values", []):
                for f in fields:
                    out[f].times.append(values[0])
                    out[f].values.append(values[columns.index(f)])
        return [out[f] for f in fields]

    def last_value(self, asset: str, field: str, at: datetime, lookback: timedelta) -> float | None:
        """The last value of a numeric ``field`` at or before ``at`` (within ``lookback``), or None."""
        rows = self.query(
            f"SELECT last({_quote_field(field)}) FROM {MEASUREMENT} WHERE asset = $asset "  # noqa: S608 - identifiers allow-listed, values bound
            "AND time <= $at AND time > $since",
            {"asset": asset, "at": _rfc3339(at), "since": _rfc3339(at - lookback)},
        )
        if not rows or not rows[0].get("values"):
            return None
        value = rows[0]["values"][0][1]
        return None if value is None else float(value)

    def count(self, measurement: str, field: str, asset: str | None = None) -> int:
        """How many points carry ``field`` in ``measurement`` (optionally for one asset)."""
        if measurement not in (MEASUREMENT, TEXT_MEASUREMENT, STATUS_MEASUREMENT, EVENT_MEASUREMENT):
            raise ValueError("unknown measurement")
        where, params = ("WHERE asset = $asset", {"asset": asset}) if asset else ("", {})
        rows = self.query(f"SELECT count({_quote_field(field)}) FROM {measurement} {where}", params)  # noqa: S608 - identifiers allow-listed, values bound
        if not rows:
            return 0
        return int(rows[0]["values"][0][1])

    def points(self, measurement: str, asset: str, limit: int = 10_000) -> list[dict[str, Any]]:
        """Raw points of an asset, oldest first, as dicts (tests and the technician's detail view)."""
        if measurement not in (MEASUREMENT, TEXT_MEASUREMENT, STATUS_MEASUREMENT, EVENT_MEASUREMENT):
            raise ValueError("unknown measurement")
        rows = self.query(
            f"SELECT * FROM {measurement} WHERE asset = $asset ORDER BY time ASC LIMIT {int(limit)}",  # noqa: S608 - identifiers allow-listed, values bound
            {"asset": asset},
        )
        out: list[dict[str, Any]] = []
        for serie in rows:
            cols = serie["columns"]
            out.extend(
                {c: v for c, v in zip(cols, values, strict=True) if v is not None}
                for values in serie["values"]
            )
        return out

    def close(self) -> None:
        """Close connections."""
        self.http.clear()
