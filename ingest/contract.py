"""The topic and payload contract device gateways are built against.

Topics (``prefix`` defaults to ``equipment``):

- ``{prefix}/{asset_id}/telemetry``: a JSON object ``{"ts": …, "<field>": <number|bool|string>, …}``
  or a JSON array of such objects;
- ``{prefix}/{asset_id}/status`` (retained): ``{"ts": …, "state": …, "fault": <code|null>}``;
- ``{prefix}/{asset_id}/event``: ``{"ts": …, "type": …, "severity": …, "detail": …}``;
- ``{prefix}/_gateways/{gateway_id}``: a gateway's presence (its last will):
  ``{"state": "online"|"offline", "assets": [asset_id, …]}``.

``ts`` is an RFC 3339 string with a zone, or epoch milliseconds. Decoding is pure
(no I/O) and raises :class:`Invalid` with a short machine-readable reason.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from fleet.models import MQTT_ID_RE, OperatingState
from fleet.status import StatusUpdate
from fleet.telemetry_schema import ELEVATOR_FIELDS, FIELD_RE

CODE_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_STRING = 256
MAX_BATCH = 1000
GATEWAYS = "_gateways"

EVENT_TYPES = {
    "entrapment",
    "door_fault",
    "leveling",
    "overspeed",
    "drive_fault",
    "power_loss",
    "door_lock",
    "other",
}
SEVERITIES = {"info", "warning", "critical"}
DEVICE_STATES = {
    OperatingState.IN_SERVICE,
    OperatingState.OUT_OF_SERVICE,
    OperatingState.MAINTENANCE,
    OperatingState.DEGRADED,
}


# field names already checked against FIELD_RE (bounded, so junk names cannot grow it)
_KNOWN_FIELDS: set[str] = set(ELEVATOR_FIELDS)
_KNOWN_FIELDS_MAX = 4096


class Reason(StrEnum):
    """Why a message was rejected (a metrics label and a dead-letter column)."""

    OVERSIZE = "oversize"
    BAD_JSON = "bad_json"
    BAD_SHAPE = "bad_shape"
    BAD_TYPE = "bad_type"
    MISSING_TS = "missing_ts"
    BAD_TS = "bad_ts"
    FUTURE_TS = "future_ts"
    TOO_OLD = "too_old"
    UNKNOWN_TOPIC = "unknown_topic"
    UNKNOWN_ASSET = "unknown_asset"
    NOT_ALLOWED = "not_allowed"  # the asset is archived: its messages are no longer stored
    REJECTED_BY_DB = "rejected_by_db"


class Invalid(ValueError):
    """A message breaks the contract."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


class Kind(StrEnum):
    """Message kinds by topic suffix."""

    TELEMETRY = "telemetry"
    STATUS = "status"
    EVENT = "event"
    GATEWAY = "gateway"


@dataclass(frozen=True, slots=True)
class Reading:
    """One telemetry sample of an asset."""

    asset: str
    ts_ms: int
    numbers: dict[str, float]
    texts: dict[str, str]


@dataclass(frozen=True, slots=True)
class Event:
    """An alarm or notable event."""

    asset: str
    ts_ms: int
    type: str
    severity: str
    detail: str


@dataclass(frozen=True, slots=True)
class GatewayPresence:
    """A gateway going online or offline (offline is its MQTT last will)."""

    gateway: str
    online: bool
    assets: tuple[str, ...] = field(default_factory=tuple)


Message = Reading | StatusUpdate | Event | GatewayPresence


@dataclass(frozen=True)
class Contract:
    """Topic layout and validation limits."""

    prefix: str = "equipment"
    max_payload_bytes: int = 64 * 1024
    max_future_skew_ms: int = 300_000
    max_age_ms: int = 0  # older points fall outside the retention period (0: no limit)

    def subscription(self) -> str:
        """The topic filter covering every topic of the contract."""
        return f"{self.prefix}/#"

    def route(self, topic: str) -> tuple[Kind, str]:
        """Split a topic into (kind, asset or gateway id), or raise :class:`Invalid`."""
        parts = topic.split("/")
        if len(parts) != 3 or parts[0] != self.prefix:
            raise Invalid(Reason.UNKNOWN_TOPIC, topic[:120])
        _, ident, suffix = parts
        if ident == GATEWAYS:
            if MQTT_ID_RE.fullmatch(suffix):
                return Kind.GATEWAY, suffix
            raise Invalid(Reason.UNKNOWN_TOPIC, topic[:120])
        if suffix not in ("telemetry", "status", "event") or not MQTT_ID_RE.fullmatch(ident):
            raise Invalid(Reason.UNKNOWN_TOPIC, topic[:120])
        return Kind(suffix), ident

    def decode(self, topic: str, payload: bytes, now_ms: int) -> list[Message]:
        """Decode one MQTT message into contract objects, or raise :class:`Invalid`."""
        if len(payload) > self.max_payload_bytes:
            raise Invalid(Reason.OVERSIZE, f"{len(payload)} bytes")
        kind, ident = self.route(topic)
        try:
            data = json.loads(payload, parse_constant=_no_constants)
        except (ValueError, UnicodeDecodeError) as exc:
            raise Invalid(Reason.BAD_JSON, str(exc)[:80]) from None
        if kind is Kind.TELEMETRY:
            items = data if isinstance(data, list) else [data]
            if not items or len(items) > MAX_BATCH:
                raise Invalid(Reason.BAD_SHAPE, f"batch of {len(items)} readings")
            return [self._reading(ident, item, now_ms) for item in items]
        if not isinstance(data, dict):
            raise Invalid(Reason.BAD_SHAPE, "expected a JSON object")
        if kind is Kind.STATUS:
            return [self._status(ident, data, now_ms)]
        if kind is Kind.EVENT:
            return [self._event(ident, data, now_ms)]
        return [_gateway(ident, data)]

    # --- parts -----------------------------------------------------------------------
    def _ts(self, obj: dict[str, object], now_ms: int) -> int:
        if "ts" not in obj or obj["ts"] is None:
            raise Invalid(Reason.MISSING_TS)
        ts_ms = parse_ts(obj["ts"])
        if ts_ms > now_ms + self.max_future_skew_ms:
            raise Invalid(Reason.FUTURE_TS, str(obj["ts"])[:40])
        if self.max_age_ms and ts_ms < now_ms - self.max_age_ms:
            raise Invalid(Reason.TOO_OLD, str(obj["ts"])[:40])
        return ts_ms

    def _reading(self, asset: str, obj: object, now_ms: int) -> Reading:
        if not isinstance(obj, dict):
            raise Invalid(Reason.BAD_SHAPE, "reading must be a JSON object")
        ts_ms = self._ts(obj, now_ms)
        numbers: dict[str, float] = {}
        texts: dict[str, str] = {}
        known = _KNOWN_FIELDS
        for key, value in obj.items():
            if key == "ts":
                continue
            if key not in known:
                if not FIELD_RE.fullmatch(key):
                    raise Invalid(Reason.BAD_SHAPE, f"field name {key[:40]!r}")
                if len(known) < _KNOWN_FIELDS_MAX:
                    known.add(key)
            kind = type(value)
            if kind is float:
                if not math.isfinite(value):
                    raise Invalid(Reason.BAD_TYPE, f"{key} is not finite")
                numbers[key] = value
            elif kind is int:
                numbers[key] = float(value)
            elif kind is bool:
                numbers[key] = 1.0 if value else 0.0
            elif kind is str and len(value) <= MAX_STRING:
                texts[key] = value
            else:
                raise Invalid(Reason.BAD_TYPE, f"{key} must be a number, boolean or short string")
        if not numbers and not texts:
            raise Invalid(Reason.BAD_SHAPE, "reading has no field")
        return Reading(asset, ts_ms, numbers, texts)

    def _status(self, asset: str, obj: dict[str, object], now_ms: int) -> StatusUpdate:
        ts_ms = self._ts(obj, now_ms)
        try:
            state = OperatingState(str(obj.get("state")))
        except ValueError:
            raise Invalid(Reason.BAD_TYPE, f"state {str(obj.get('state'))[:40]!r}") from None
        if state not in DEVICE_STATES:
            raise Invalid(Reason.BAD_TYPE, f"state {state.value!r} is not reported by devices")
        fault = obj.get("fault")
        if fault is not None and not (isinstance(fault, str) and CODE_RE.fullmatch(fault)):
            raise Invalid(Reason.BAD_TYPE, "fault must be a short code or null")
        return StatusUpdate(asset, ts_ms, state, fault)

    def _event(self, asset: str, obj: dict[str, object], now_ms: int) -> Event:
        ts_ms = self._ts(obj, now_ms)
        etype = obj.get("type")
        if not isinstance(etype, str) or not CODE_RE.fullmatch(etype):
            raise Invalid(Reason.BAD_TYPE, "event type must be a short code")
        severity = obj.get("severity", "warning")
        if severity not in SEVERITIES:
            raise Invalid(Reason.BAD_TYPE, f"severity must be one of {sorted(SEVERITIES)}")
        detail = obj.get("detail", "")
        if not isinstance(detail, str) or len(detail) > MAX_STRING:
            raise Invalid(Reason.BAD_TYPE, "detail must be a short string")
        return Event(asset, ts_ms, etype, str(severity), detail)


def _gateway(gateway: str, obj: object) -> GatewayPresence:
    if not isinstance(obj, dict) or obj.get("state") not in ("online", "offline"):
        raise Invalid(Reason.BAD_SHAPE, "gateway presence needs state online|offline")
    assets = obj.get("assets", [])
    if not isinstance(assets, list) or not all(
        isinstance(a, str) and MQTT_ID_RE.fullmatch(a) for a in assets
    ):
        raise Invalid(Reason.BAD_TYPE, "assets must be a list of asset ids")
    return GatewayPresence(gateway, obj["state"] == "online", tuple(assets))


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def parse_ts(value: object) -> int:
    """Epoch milliseconds from an RFC 3339 string (with zone) or an epoch-ms number."""
    if isinstance(value, bool):
        raise Invalid(Reason.BAD_TS, "boolean")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0 or value > 32_503_680_000_000:  # year 3000
            raise Invalid(Reason.BAD_TS, str(value)[:40])
        return int(value)
    if isinstance(value, str) and 10 <= len(value) <= 40:
        text = value.replace("Z", "+00:00").replace("z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise Invalid(Reason.BAD_TS, value[:40]) from None
        if parsed.tzinfo is None:
            raise Invalid(Reason.BAD_TS, "timestamp without a zone")
        return int(parsed.astimezone(UTC).timestamp() * 1000)
    raise Invalid(Reason.BAD_TS, str(value)[:40])
