"""The chart API on real InfluxDB 1.6.7: ranges, downsampling, counter rates, errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from devstack.servers import Influxd
from fleet.models import Asset
from ingest.influx import V1Writer
from portal.app import create_app
from tests.conftest import logged_in_client, make_settings

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def app(sqlite_demo_url: str, influxd: Influxd) -> Iterator[Flask]:
    """The portal reading a fresh InfluxDB database with 3 days of ELV-0101 readings."""
    bucket = f"api_{uuid.uuid4().hex[:8]}"
    writer = V1Writer(influxd.url, bucket)
    writer.ensure_database()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    t0 = int((now - timedelta(days=3)).timestamp() * 1000)
    lines = []
    for i in range(3 * 24 * 60):  # one reading a minute
        trips = 1000 + 2 * i if i < 3 * 24 * 60 - 30 else 2 * (i - (3 * 24 * 60 - 30))  # reset 30 min ago
        lines.append(
            f"telemetry,asset=ELV-0101 trips={trips}i,door_reopenings={i // 30}i,"
            f"motor_temp_c={30 + (i % 120) / 10},vibration_mm_s=1.5,leveling_error_mm=0.4 {t0 + i * 60_000}"
        )
    for k in range(0, len(lines), 5000):
        writer.write(lines[k : k + 5000])
    writer.close()
    application = create_app(
        make_settings(sqlite_demo_url, influx_url=influxd.url, influx_bucket=bucket, live_enabled=False)
    )
    application.config["WTF_CSRF_ENABLED"] = False
    yield application
    application.extensions["fleet.db"].dispose()


def _asset_id(app: Flask, mqtt_id: str) -> int:
    with app.extensions["fleet.db"].session() as s:
        return s.scalars(select(Asset.id).where(Asset.mqtt_id == mqtt_id)).one()


def test_24_hours_downsampled_with_rates_per_hour(app: Flask) -> None:
    client = logged_in_client(app, "fm@demo.example")
    body = client.get(f"/api/v1/assets/{_asset_id(app, 'ELV-0101')}/telemetry?range=24h").get_json()
    assert body["interval_s"] == 120  # 86,400 s / 720 points -> 120 s buckets
    series = {s["field"]: s for s in body["series"]}
    assert list(series) == ["trips", "door_reopenings", "motor_temp_c", "vibration_mm_s", "leveling_error_mm"]
    trips = series["trips"]
    assert trips["kind"] == "rate"
    assert len(trips["times"]) <= 720
    rates = [v for v in trips["values"] if v is not None]
    # 2 trips a minute = 120 per hour, except across the counter reset (counted from zero)
    assert sorted(rates)[len(rates) // 2] == pytest.approx(120.0)
    assert min(rates) >= 0
    temp = series["motor_temp_c"]
    assert temp["kind"] == "gauge"
    assert all(30 <= v <= 42 for v in temp["values"] if v is not None)


def test_30_days_and_zoom_window(app: Flask) -> None:
    client = logged_in_client(app, "staff@demo.example")
    aid = _asset_id(app, "ELV-0101")
    month = client.get(f"/api/v1/assets/{aid}/telemetry?range=30d").get_json()
    assert month["interval_s"] == 3600
    assert all(len(s["times"]) <= 720 for s in month["series"])
    end = datetime.now(UTC)
    start = end - timedelta(hours=1)
    q = {"start": start.isoformat(), "end": end.isoformat()}
    zoom = client.get(f"/api/v1/assets/{aid}/telemetry", query_string=q).get_json()
    assert zoom["interval_s"] == 5
    assert 55 <= len(zoom["series"][2]["times"]) <= 61  # one reading a minute: raw resolution


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("range=1y", 400, "range"),  # outside the documented values: does not match the schema
        ("start=yesterday&end=today", 400, "RFC 3339"),
        ("start=2026-11-01T00:00:00&end=2026-11-02T00:00:00", 400, "time zone"),
        ("start=2026-11-01T00:00:00Z", 422, "both start and end"),  # well formed, refused by a rule
        ("start=2026-11-02T00:00:00Z&end=2026-11-01T00:00:00Z", 422, "after start"),
        ("start=2024-01-01T00:00:00Z&end=2026-01-01T00:00:00Z", 422, "at most 400 days"),
    ],
)
def test_bad_ranges_get_a_clear_refusal(app: Flask, query: str, status: int, message: str) -> None:
    client = logged_in_client(app, "staff@demo.example")
    resp = client.get(f"/api/v1/assets/{_asset_id(app, 'ELV-0101')}/telemetry?{query}")
    assert resp.status_code == status
    body = resp.get_json()
    assert message in body["error"] + " ".join(
        " ".join(v) for v in (body.get("fields") or {}).values()
    ) + str(list(body.get("fields") or {}))


def test_out_of_scope_asset_is_not_found(app: Flask) -> None:
    client = logged_in_client(app, "hoa.tilleuls@demo.example")
    resp = client.get(f"/api/v1/assets/{_asset_id(app, 'ELV-0101')}/telemetry")
    assert resp.status_code == 404


def test_an_asset_without_readings_gets_empty_series(app: Flask) -> None:
    client = logged_in_client(app, "staff@demo.example")
    body = client.get(f"/api/v1/assets/{_asset_id(app, 'ELV-0102')}/telemetry").get_json()
    assert [s["values"] for s in body["series"]] == [[]] * 5


def test_injection_attempts_stay_values(app: Flask) -> None:
    """The device id is a bound parameter: an id with quotes cannot change the query."""
    reader = app.extensions["portal.influxql"]
    start = datetime.now(UTC) - timedelta(days=1)
    (s,) = reader.series("ELV-0101' OR asset =~ /.*/ --", ["motor_temp_c"], start, datetime.now(UTC))
    assert s.values == []
