"""Live events: the one type every process uses to say "something changed on this asset".

Whoever causes a change (the ingester storing a status, a portal process storing a
dispatch, a check-in or new feedback) commits it first, then :func:`announce` publishes
the event on ``{MQTT_LIVE_TOPIC}/{asset}``. Every portal process's bridge receives it,
drops what it makes stale and pushes it to the browsers allowed to see it. One path for
every event, so a page served by any process sees every change.

The payload is JSON; :meth:`LiveEvent.encode` and :meth:`LiveEvent.decode` are the only
code that writes or reads it. Events carry ids and states, never free text typed by
people (feedback events say *that* feedback arrived, not what it says).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Protocol

logger = logging.getLogger(__name__)

MAX_TEXT = 500


class LiveKind(StrEnum):
    """What happened."""

    STATUS = "status"  # the asset's operating state changed
    OUTAGE_OPENED = "outage_opened"
    OUTAGE_CLOSED = "outage_closed"  # ``state`` is the state the asset went to
    FEEDBACK = "feedback"  # feedback arrived for the asset or its site
    TIMELINE = "timeline"  # an outage's repair timeline moved (dispatch, on site, …)
    WATCH = "watch"  # a sensor warning opened, grew or closed on the asset


class InvalidLiveEvent(ValueError):
    """A live message that is not one of ours (logged and dropped)."""


@dataclass(frozen=True)
class LiveEvent:
    """A change pushed to open pages; ``asset_id`` is the SQL id, ``asset`` the MQTT id."""

    kind: LiveKind
    asset_id: int | None
    ts: str
    asset: str = ""
    state: str | None = None
    fault: str | None = None
    outage_id: int | None = None
    feedback_id: int | None = None
    site_id: int | None = None  # feedback on a whole site has no asset

    def to_dict(self) -> dict[str, Any]:
        """The wire form: ``type`` plus the fields that are set."""
        raw = asdict(self)
        raw.pop("kind")
        return {"type": self.kind.value, **{k: v for k, v in raw.items() if v not in (None, "")}}

    def encode(self) -> bytes:
        """The MQTT payload."""
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, payload: bytes) -> LiveEvent:
        """Parse and validate a payload; raise :class:`InvalidLiveEvent` with the reason."""
        try:
            raw = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidLiveEvent(f"not JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise InvalidLiveEvent("not an object")
        try:
            kind = LiveKind(str(raw.get("type")))
        except ValueError:
            raise InvalidLiveEvent(f"unknown type {str(raw.get('type'))[:40]!r}") from None
        ids = {
            key: _positive_int(raw.get(key), key)
            for key in ("asset_id", "outage_id", "feedback_id", "site_id")
        }
        if ids["asset_id"] is None and not (kind is LiveKind.FEEDBACK and ids["site_id"] is not None):
            raise InvalidLiveEvent("asset_id must be a positive integer")
        texts = {key: _text(raw.get(key)) for key in ("ts", "asset", "state", "fault")}
        return cls(
            kind=kind,
            asset_id=ids["asset_id"],
            ts=texts["ts"] or "",
            asset=texts["asset"] or "",
            state=texts["state"],
            fault=texts["fault"],
            outage_id=ids["outage_id"],
            feedback_id=ids["feedback_id"],
            site_id=ids["site_id"],
        )


def _positive_int(value: object, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidLiveEvent(f"{key} must be a positive integer")
    return value


def _text(value: object) -> str | None:
    return None if value is None else str(value)[:MAX_TEXT]


class Publisher(Protocol):
    """What :func:`announce` needs from an MQTT client (paho's ``Client`` fits)."""

    def publish(self, topic: str, payload: bytes, qos: int = ...) -> Any: ...


def live_topic(base: str, event: LiveEvent) -> str:
    """The topic an event goes out on: ``{base}/{asset}`` (``_portal`` when the MQTT id is unknown)."""
    return f"{base.rstrip('/')}/{event.asset or '_portal'}"


def announce(publisher: Publisher, base_topic: str, events: Iterable[LiveEvent]) -> int:
    """Publish committed changes on the live topic (QoS 1); return how many were handed over.

    Best effort by design: the database already holds the change, and pages re-sync from
    the API when their connection comes back. A failure is logged, never raised.
    """
    sent = 0
    for event in events:
        try:
            publisher.publish(live_topic(base_topic, event), event.encode(), qos=1)
            sent += 1
        except Exception:
            logger.exception("could not publish live event %s for asset %s", event.kind, event.asset_id)
    return sent
