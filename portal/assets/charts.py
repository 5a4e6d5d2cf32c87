"""Sensor charts of an asset: which series, over which range, downsampled in InfluxDB.

Gauges (temperature, vibration, levelling error) are averaged per bucket; counters
(trips, door re-openings) are turned into a rate per hour from the bucket maxima, a
counter reset (device replaced or rebooted) starting again from zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from flask_babel import LazyString, lazy_gettext

from portal.influxql import Series

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
MAX_POINTS = 720
MIN_SPAN = timedelta(minutes=10)
MAX_SPAN = timedelta(days=400)


@dataclass(frozen=True)
class ChartSpec:
    """One chart: a telemetry field and how to show it."""

    field: str
    label: LazyString
    unit: str
    counter: bool = False


CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec("trips", lazy_gettext("Trips per hour"), "/h", counter=True),
    ChartSpec("door_reopenings", lazy_gettext("Door re-openings per hour"), "/h", counter=True),
    ChartSpec("motor_temp_c", lazy_gettext("Motor temperature"), "°C"),
    ChartSpec("vibration_mm_s", lazy_gettext("Vibration"), "mm/s"),
    ChartSpec("leveling_error_mm", lazy_gettext("Levelling error"), "mm"),
)


class SeriesReader(Protocol):
    """What charts need from :class:`portal.influxql.TelemetryReader`."""

    def series(
        self,
        asset: str,
        fields: list[str],
        start: datetime,
        end: datetime,
        max_points: int = ...,
        agg: str = ...,
    ) -> list[Series]: ...


class BadRange(ValueError):
    """The requested time range is not usable (the message says why)."""


def resolve_range(
    name: str | None, start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """``[start, end)`` from a named range (``24h``, ``7d``, ``30d``) or explicit bounds (zoom)."""
    if start is not None or end is not None:
        if start is None or end is None:
            raise BadRange("give both start and end, or a range")
        if start.tzinfo is None or end.tzinfo is None:
            raise BadRange("start and end need a time zone offset (e.g. 2026-11-23T10:00:00Z)")
        if end <= start:
            raise BadRange("end must be after start")
        if end - start < MIN_SPAN:
            end = start + MIN_SPAN
        if end - start > MAX_SPAN:
            raise BadRange("at most 400 days at a time")
        return start, end
    span = RANGES.get(name or "24h")
    if span is None:
        raise BadRange(f"range must be one of {', '.join(RANGES)}")
    return now - span, now


def _rate_per_hour(s: Series) -> list[float | None]:
    """Per-hour rate between consecutive bucket maxima, over the time actually between them."""
    out: list[float | None] = []
    prev: tuple[int, float] | None = None
    for t, v in zip(s.times, s.values, strict=True):
        if v is None or prev is None or t <= prev[0]:
            out.append(None)
        else:
            delta = v - prev[1] if v >= prev[1] else v  # counter reset: count from zero again
            out.append(round(delta * 3_600_000 / (t - prev[0]), 3))
        if v is not None:
            prev = (t, v)
    return out


def asset_charts(reader: SeriesReader, mqtt_id: str, start: datetime, end: datetime) -> dict[str, Any]:
    """Every chart's series for one asset over ``[start, end)``, as JSON-ready data."""
    gauges = [c for c in CHARTS if not c.counter]
    counters = [c for c in CHARTS if c.counter]
    by_field: dict[str, Series] = {}
    if gauges:
        for s in reader.series(mqtt_id, [c.field for c in gauges], start, end, MAX_POINTS, agg="mean"):
            by_field[s.field] = s
    if counters:
        for s in reader.series(mqtt_id, [c.field for c in counters], start, end, MAX_POINTS, agg="max"):
            by_field[s.field] = s
    series = []
    interval = 0
    for spec in CHARTS:
        s = by_field[spec.field]
        interval = s.interval_s
        values = _rate_per_hour(s) if spec.counter else [None if v is None else round(v, 3) for v in s.values]
        series.append({
            "field": spec.field, "label": str(spec.label), "unit": spec.unit,
            "kind": "rate" if spec.counter else "gauge", "times": s.times, "values": values,
        })  # fmt: skip
    return {"start": start.isoformat(), "end": end.isoformat(), "interval_s": interval, "series": series}
