"""InfluxQL reads over /query on InfluxDB 1.6.7: bound parameters and downsampling."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from devstack.servers import Influxd
from ingest.influx import V1Writer
from portal.influxql import TelemetryReader, bucket_interval

pytestmark = pytest.mark.e2e


@pytest.fixture
def loaded(influxd: Influxd) -> tuple[TelemetryReader, datetime]:
    """A database with one reading every 10 s for 2 days on ELV-1, and 10 points on ELV-2."""
    db = f"r_{uuid.uuid4().hex[:8]}"
    writer = V1Writer(influxd.url, db)
    writer.ensure_database()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    t0 = int(start.timestamp() * 1000)
    lines = [
        f"telemetry,asset=ELV-1 motor_temp_c={30 + (i % 60) / 2},trips={i}.0 {t0 + i * 10_000}"
        for i in range(17_280)
    ]
    lines += [f"telemetry,asset=ELV-2 motor_temp_c=99.0 {t0 + i * 1000}" for i in range(10)]
    for k in range(0, len(lines), 5000):
        writer.write(lines[k : k + 5000])
    writer.close()
    return TelemetryReader(influxd.url, db), start


def test_series_are_downsampled_to_at_most_the_asked_points(loaded: tuple[TelemetryReader, datetime]) -> None:
    reader, start = loaded
    end = start + timedelta(days=2)
    temp, trips = reader.series("ELV-1", ["motor_temp_c", "trips"], start, end, max_points=2000)
    assert temp.interval_s == 120  # 172,800 s / 2,000 -> 87 s -> the next nice step
    assert 1430 <= len(temp.times) <= 1441
    assert temp.times == trips.times
    assert all(30 <= v <= 60 for v in temp.values if v is not None)
    (day,) = reader.series("ELV-1", ["trips"], start, start + timedelta(hours=1), max_points=10_000)
    assert day.interval_s == 1
    assert len(day.times) == 360  # raw resolution when it fits
    assert day.values[:3] == [0.0, 1.0, 2.0]


def test_parameters_are_bound_not_spliced(loaded: tuple[TelemetryReader, datetime]) -> None:
    reader, _start = loaded
    assert reader.count("telemetry", "motor_temp_c", "ELV-2") == 10
    # an injection attempt is just an asset id that matches nothing
    assert reader.count("telemetry", "motor_temp_c", "ELV-2' OR asset =~ /.*/ --") == 0
    with pytest.raises(ValueError, match="invalid field name"):
        reader.series(
            "ELV-1", ['motor_temp_c") FROM x; DROP DATABASE y; --'], _start, _start + timedelta(hours=1)
        )
    with pytest.raises(ValueError, match="unknown measurement"):
        reader.count("telemetry; DROP", "x")


@pytest.mark.parametrize(
    ("seconds", "points", "step"),
    [(3600, 2000, 2), (86_400, 2000, 60), (30 * 86_400, 2000, 1800), (10, 2000, 1)],
)
def test_bucket_interval(seconds: int, points: int, step: int) -> None:
    assert bucket_interval(timedelta(seconds=seconds), points) == step
