"""Keep a detection benchmark's simulated fleet and replay the passes over it without
InfluxDB (``python -m bench.detect --keep FILE`` then ``--replay FILE``).

Tuning the detector means replaying the same 60 days many times; simulating them and
writing 2.6 million readings takes longer than the replay itself. The file holds each unit's
hourly aggregates as the detection pass reads them from InfluxDB, and the simulator's
records (stops and ground truth), as gzipped JSON. A replay answers the pass's hourly
InfluxQL statement from the file, so it exercises the same ``run_pass``, SQL and scoring
and gives the same figures, except the pass timings, which leave InfluxDB out.
"""

from __future__ import annotations

import bisect
import gzip
import json
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.simulate import TruthRecord
from portal.condition.detectors import HourlyAggregate
from portal.condition.telemetry import COLUMNS
from portal.influxql import TelemetryReader

FORMAT = 2  # 2: with the units, days and seed
_AGGREGATE_FIELDS = [f.name for f in fields(HourlyAggregate) if f.name != "hour"]


Stops = list[tuple[str, str, datetime, datetime | None]]  # (unit, kind, start, end)


@dataclass(frozen=True)
class Kept:
    """A kept simulation: its size and seed, the simulator's records and the aggregates."""

    units: int
    days: int
    seed: int
    stops: Stops
    truth: list[TruthRecord]
    aggregates: dict[str, list[HourlyAggregate]]


def save(path: Path, kept: Kept) -> None:
    """Write a kept simulation to ``path`` (gzipped JSON)."""
    stops, truth, aggregates = kept.stops, kept.truth, kept.aggregates
    body = {
        "format": FORMAT,
        "units": kept.units,
        "days": kept.days,
        "seed": kept.seed,
        "stops": [[u, kind, a.timestamp(), b.timestamp() if b else None] for u, kind, a, b in stops],
        "truth": [asdict(r) for r in truth],
        "aggregates": {
            unit: [[h.hour.timestamp(), *(getattr(h, name) for name in _AGGREGATE_FIELDS)] for h in hours]
            for unit, hours in aggregates.items()
        },
    }
    with gzip.open(path, "wt", encoding="utf-8") as out:
        json.dump(body, out)


def load(path: Path) -> Kept:
    """The simulation :func:`save` wrote; ValueError for another file."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as src:
            body = json.load(src)
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a kept detection benchmark: {exc}") from exc
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ValueError(f"{path} is not a kept detection benchmark (format {FORMAT})")
    try:
        stamp = _instant
        stops = [(u, kind, stamp(a), stamp(b) if b is not None else None) for u, kind, a, b in body["stops"]]
        truth = [TruthRecord(**r) for r in body["truth"]]
        aggregates = {
            unit: [HourlyAggregate(stamp(row[0]), *row[1:]) for row in rows]
            for unit, rows in body["aggregates"].items()
        }
        return Kept(int(body["units"]), int(body["days"]), int(body["seed"]), stops, truth, aggregates)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path} is not a kept detection benchmark: {exc!r}") from exc


def _instant(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


class SavedTelemetry(TelemetryReader):
    """Answers the detection pass's hourly statement from kept aggregates (no server): the
    assets it names (``$a0``, ``$a1``…) over ``[$start, $end)``, in InfluxDB's answer shape."""

    def __init__(self, aggregates: dict[str, list[HourlyAggregate]]) -> None:
        super().__init__("http://127.0.0.1:1", "replay")  # never contacted
        self.aggregates = aggregates
        self.hours = {unit: [h.hour for h in rows] for unit, rows in aggregates.items()}

    def query_partial(self, influxql: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        """The hourly aggregates of the named assets, as InfluxDB would answer them."""
        if "GROUP BY time(1h), asset" not in influxql:
            raise ValueError(f"a kept fleet answers the hourly aggregates only, not: {influxql[:80]}")
        start, end = _parse(params["start"]), _parse(params["end"])
        series = []
        for key, unit in params.items():
            if not (key.startswith("a") and key[1:].isdigit()):
                continue
            hours = self.hours.get(unit, [])
            rows = self.aggregates.get(unit, [])[
                bisect.bisect_left(hours, start) : bisect.bisect_left(hours, end)
            ]
            series.append(
                {"tags": {"asset": unit}, "columns": ["time", *COLUMNS], "values": [_row(h) for h in rows]}
            )
        return series, False


def _row(h: HourlyAggregate) -> list[float | None]:
    # the kept levelling figure is already the hour's √(mean² + σ²): given as a mean with σ 0
    sd = None if h.leveling_abs_mm is None else 0.0
    return [
        h.hour.timestamp() * 1000, h.trips, h.door_cycles, h.door_reopenings, h.motor_temp_c, h.load_pct,
        h.vibration_mm_s, h.leveling_abs_mm, sd,
    ]  # fmt: skip


def _parse(rfc3339: str) -> datetime:
    return datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
