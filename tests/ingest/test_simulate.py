"""The simulator's traffic shape, faults, drift and message contract."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from ingest.contract import Contract, Reading, StatusUpdate
from ingest.simulate import AssetSpec, build_fleet

PARIS = ZoneInfo("Europe/Paris")


def _ts(day: int, hour: int) -> float:
    return datetime(2026, 11, day, hour, 0, tzinfo=PARIS).timestamp()


def test_traffic_has_rush_hours_quiet_nights_and_weekends() -> None:
    fleet = build_fleet([AssetSpec("A", office=True), AssetSpec("B", office=False)], "equipment", 1, 1.0, 0.0)
    office, home = fleet.assets
    monday, saturday = 23, 21
    assert office.traffic(_ts(monday, 8)) > 0.8
    assert office.traffic(_ts(monday, 3)) < 0.1
    assert office.traffic(_ts(saturday, 9)) < 0.1
    assert home.traffic(_ts(monday, 18)) > 0.6
    assert home.traffic(_ts(monday, 3)) < 0.1


def test_every_message_follows_the_contract() -> None:
    specs = [AssetSpec(f"E{n}", office=n % 2 == 0) for n in range(20)]
    fleet = build_fleet(specs, "equipment", 3, time_scale=3600.0, fault_per_hour=0.05)
    contract = Contract()
    start = _ts(23, 8)
    kinds: dict[str, int] = {}
    for minute in range(600):
        now = start + minute * 60
        for topic, payload, retain in fleet.step(now, 20, 60.0):
            decoded = contract.decode(topic, payload, int(now * 1000))
            kind = type(decoded[0]).__name__
            kinds[kind] = kinds.get(kind, 0) + 1
            if isinstance(decoded[0], StatusUpdate):
                assert retain
            if isinstance(decoded[0], Reading):
                assert set(decoded[0].numbers) >= {
                    "trips",
                    "door_reopenings",
                    "motor_temp_c",
                    "leveling_error_mm",
                }
    assert kinds["Reading"] == 600 * 20
    assert kinds.get("StatusUpdate", 0) >= 4  # faults happen and get repaired


def test_drifting_sensors_rise_before_a_failure() -> None:
    fleet = build_fleet([AssetSpec("M")], "equipment", 5, time_scale=3600.0, fault_per_hour=0.0, drifting=1.0)
    (a,) = fleet.assets
    a.drift = "motor"
    start = _ts(23, 12)
    temps = []
    for step in range(24 * 7):
        for topic, payload, _ in fleet.step(start + step * 3600 / 3600, 1, 1.0):
            if topic.endswith("telemetry"):
                temps.append(json.loads(payload)["motor_temp_c"])
    assert sum(temps[-10:]) / 10 > sum(temps[:10]) / 10 + 10


def test_assets_out_of_service_at_start_are_repaired_later() -> None:
    fleet = build_fleet(
        [AssetSpec("X", state="out_of_service", fault="door_lock")], "equipment", 1, 3600.0, 0.0, now=0
    )
    (a,) = fleet.assets
    assert a.state == "out_of_service"
    msgs = fleet.step(10_000, 1, 1.0)
    statuses = [json.loads(p) for t, p, _ in msgs if t.endswith("status")]
    assert statuses == [{"ts": 10_000_000, "state": "in_service", "fault": None}]
