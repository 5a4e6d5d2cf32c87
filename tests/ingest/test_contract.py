"""The topic and payload contract: what is accepted, and the reason for what is not."""

from __future__ import annotations

import json

import pytest

from fleet.models import OperatingState
from ingest.contract import Contract, Event, GatewayPresence, Invalid, Reading, Reason, StatusUpdate, parse_ts

NOW = 1_763_900_000_000  # 2025-11-23T12:13:20Z
C = Contract(
    prefix="equipment", max_payload_bytes=1024, max_future_skew_ms=300_000, max_age_ms=86_400_000 * 400
)


def _decode(topic: str, body: object) -> list[object]:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    return C.decode(topic, payload, NOW)  # type: ignore[return-value]


def test_telemetry_object_and_batch() -> None:
    (r,) = _decode(
        "equipment/ELV-1/telemetry",
        {"ts": NOW, "trips": 12, "motor_temp_c": 41.5, "door_ok": True, "note": "ok"},
    )
    assert r == Reading("ELV-1", NOW, {"trips": 12.0, "motor_temp_c": 41.5, "door_ok": 1.0}, {"note": "ok"})
    batch = _decode("equipment/ELV-1/telemetry", [{"ts": NOW - k, "x": k} for k in range(3)])
    assert [b.ts_ms for b in batch] == [NOW, NOW - 1, NOW - 2]  # type: ignore[attr-defined]


def test_status_event_and_gateway() -> None:
    (s,) = _decode(
        "equipment/ELV-1/status",
        {"ts": "2025-11-23T12:00:00Z", "state": "out_of_service", "fault": "door_lock"},
    )
    assert s == StatusUpdate("ELV-1", 1_763_899_200_000, OperatingState.OUT_OF_SERVICE, "door_lock")
    (e,) = _decode(
        "equipment/ELV-1/event",
        {"ts": NOW, "type": "entrapment", "severity": "critical", "detail": "2 people"},
    )
    assert e == Event("ELV-1", NOW, "entrapment", "critical", "2 people")
    (g,) = _decode("equipment/_gateways/gw-1", {"state": "offline", "assets": ["ELV-1", "ELV-2"]})
    assert g == GatewayPresence("gw-1", False, ("ELV-1", "ELV-2"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-11-23T12:00:00Z", 1_763_899_200_000),
        ("2025-11-23T13:00:00.250+01:00", 1_763_899_200_250),
        (1_763_899_200_000, 1_763_899_200_000),
        (1_763_899_200_000.9, 1_763_899_200_000),
    ],
)
def test_timestamps(value: object, expected: int) -> None:
    assert parse_ts(value) == expected


@pytest.mark.parametrize(
    ("topic", "body", "reason"),
    [
        ("equipment/ELV-1/telemetry", b"x" * 2000, Reason.OVERSIZE),
        ("equipment/ELV-1/telemetry", b"{oops", Reason.BAD_JSON),
        ("equipment/ELV-1/telemetry", b'{"ts": 1, "x": NaN}', Reason.BAD_JSON),
        ("equipment/ELV-1/telemetry", b'{"ts": 1, "x": Infinity}', Reason.BAD_JSON),
        ("equipment/ELV-1/telemetry", b"\xff\xfe", Reason.BAD_JSON),
        ("equipment/ELV-1/telemetry", {"x": 1}, Reason.MISSING_TS),
        ("equipment/ELV-1/telemetry", {"ts": None, "x": 1}, Reason.MISSING_TS),
        ("equipment/ELV-1/telemetry", {"ts": "2025-11-23T12:00:00", "x": 1}, Reason.BAD_TS),
        ("equipment/ELV-1/telemetry", {"ts": True, "x": 1}, Reason.BAD_TS),
        ("equipment/ELV-1/telemetry", {"ts": -5, "x": 1}, Reason.BAD_TS),
        ("equipment/ELV-1/telemetry", {"ts": NOW + 301_000, "x": 1}, Reason.FUTURE_TS),
        ("equipment/ELV-1/telemetry", {"ts": NOW - 86_400_000 * 401, "x": 1}, Reason.TOO_OLD),
        ("equipment/ELV-1/telemetry", {"ts": NOW, "x": [1]}, Reason.BAD_TYPE),
        ("equipment/ELV-1/telemetry", {"ts": NOW, "x": None}, Reason.BAD_TYPE),
        ("equipment/ELV-1/telemetry", {"ts": NOW, "x": "y" * 300}, Reason.BAD_TYPE),
        ("equipment/ELV-1/telemetry", {"ts": NOW, "bad name": 1}, Reason.BAD_SHAPE),
        ("equipment/ELV-1/telemetry", {"ts": NOW}, Reason.BAD_SHAPE),
        ("equipment/ELV-1/telemetry", [], Reason.BAD_SHAPE),
        ("equipment/ELV-1/telemetry", [1, 2], Reason.BAD_SHAPE),
        ("equipment/ELV-1/telemetry", 42, Reason.BAD_SHAPE),
        ("equipment/ELV-1/status", {"ts": NOW, "state": "offline"}, Reason.BAD_TYPE),
        ("equipment/ELV-1/status", {"ts": NOW, "state": "broken"}, Reason.BAD_TYPE),
        ("equipment/ELV-1/status", {"ts": NOW, "state": "in_service", "fault": "has space"}, Reason.BAD_TYPE),
        ("equipment/ELV-1/status", [1], Reason.BAD_SHAPE),
        ("equipment/ELV-1/event", {"ts": NOW, "type": "x", "severity": "apocalyptic"}, Reason.BAD_TYPE),
        ("equipment/ELV-1/event", {"ts": NOW, "type": None}, Reason.BAD_TYPE),
        ("equipment/ELV-1/other", {"ts": NOW}, Reason.UNKNOWN_TOPIC),
        ("other/ELV-1/telemetry", {"ts": NOW}, Reason.UNKNOWN_TOPIC),
        ("equipment/ELV-1/telemetry/extra", {"ts": NOW}, Reason.UNKNOWN_TOPIC),
        ("equipment/_bad/telemetry", {"ts": NOW}, Reason.UNKNOWN_TOPIC),
        ("equipment/_gateways/gw", {"state": "sleepy"}, Reason.BAD_SHAPE),
    ],
)
def test_rejections_have_a_reason(topic: str, body: object, reason: Reason) -> None:
    with pytest.raises(Invalid) as info:
        _decode(topic, body)
    assert info.value.reason is reason


def test_oversized_batches_are_refused() -> None:
    big = Contract(max_payload_bytes=10_000_000)
    with pytest.raises(Invalid, match="batch of 1001"):
        big.decode("equipment/A/telemetry", json.dumps([{"ts": NOW, "x": 1}] * 1001).encode(), NOW)


def test_subscription_covers_the_prefix() -> None:
    assert Contract(prefix="site7").subscription() == "site7/#"
