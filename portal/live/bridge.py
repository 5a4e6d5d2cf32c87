"""MQTT → Socket.IO: the ingester's live events, pushed to the rooms allowed to see them.

The ingester publishes each status change and outage open/close on
``{MQTT_LIVE_TOPIC}/{asset}``; the portal publishes feedback events there too. Every
portal process runs one bridge (started when its first browser connects):

- without a Socket.IO message queue, each process subscribes to every event and pushes
  it to its own browsers;
- with ``SOCKETIO_MESSAGE_QUEUE`` (Redis), the processes share one subscription
  (``$share/portal/...``) so each event is handled once and fanned out through Redis.

``on_message`` only enqueues (bounded); a worker thread decodes, looks up the asset's
site (cached) and emits. A lost live event is not lost data: pages re-sync from the API
after a reconnect, and the database stays the source of truth.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from fleet.live import InvalidLiveEvent, LiveEvent, LiveKind
from fleet.mqtt import BrokerAddress, make_client
from portal.live.rooms import asset_room, site_room, watch_room

logger = logging.getLogger(__name__)

SOCKET_EVENT = "live"


class Emitter(Protocol):
    """What the bridge needs from Flask-SocketIO (tests pass a recorder)."""

    def emit(self, event: str, data: Any, *, to: Any = ..., namespace: str | None = ...) -> Any: ...


@dataclass(frozen=True)
class BrowserEvent:
    """What browsers receive: the live event plus its site."""

    event: LiveEvent
    site_id: int | None

    @property
    def data(self) -> dict[str, Any]:
        """The Socket.IO payload (``asset_id`` and ``site_id`` always present)."""
        return {**self.event.to_dict(), "asset_id": self.event.asset_id, "site_id": self.site_id}

    @property
    def rooms(self) -> list[str]:
        """The rooms that may see this event (one emit; Socket.IO sends once per client);
        sensor warnings go to the warning rooms only."""
        rooms = [asset_room(self.event.asset_id)] if self.event.asset_id is not None else []
        if self.site_id is not None:
            rooms.append(site_room(self.site_id))
        if self.event.kind is LiveKind.WATCH:
            return [watch_room(room) for room in rooms]
        return rooms


def for_browsers(event: LiveEvent, site_of: Callable[[int], int | None]) -> BrowserEvent:
    """Attach the asset's site (looked up, never trusted from the payload) to an event."""
    site_id = site_of(event.asset_id) if event.asset_id is not None else event.site_id
    return BrowserEvent(event, site_id)


def decode(payload: bytes, site_of: Callable[[int], int | None]) -> BrowserEvent:
    """Validate one live MQTT payload and attach the asset's site."""
    return for_browsers(LiveEvent.decode(payload), site_of)


class SiteDirectory:
    """asset id → site id, cached; asks the database only for assets it has not seen."""

    def __init__(self, lookup: Callable[[int], int | None], ttl_s: float = 300.0) -> None:
        self.lookup = lookup
        self.ttl_s = ttl_s
        self._cache: dict[int, tuple[int | None, float]] = {}
        self._lock = threading.Lock()

    def __call__(self, asset_id: int) -> int | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(asset_id)
        if hit is not None and now - hit[1] < self.ttl_s:
            return hit[0]
        site_id = self.lookup(asset_id)
        with self._lock:
            self._cache[asset_id] = (site_id, now)
        return site_id


class LiveBridge:
    """Subscribes to the live MQTT topic and emits each event to its rooms."""

    def __init__(
        self, emitter: Emitter, mqtt_url: str, live_topic: str, site_of: Callable[[int], int | None],
        *, shared: bool = False, queue_size: int = 10_000,
        listeners: tuple[Callable[[BrowserEvent], None], ...] = (),
    ) -> None:  # fmt: skip
        self.emitter = emitter
        self.address = BrokerAddress.parse(mqtt_url)
        topic = f"{live_topic.rstrip('/')}/#"
        self.topic = f"$share/portal/{topic}" if shared else topic
        self.site_of = site_of
        self.listeners = listeners
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=queue_size)
        self.client_id = f"portal-live-{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"
        self.client: mqtt.Client | None = None
        self.worker: threading.Thread | None = None
        self.connected = threading.Event()
        self.started_at: float | None = None  # time.monotonic() of start()
        self.subscribed = threading.Event()  # set when the broker acknowledged the subscription
        self.emitted = 0
        self.dropped = 0
        self.invalid = 0

    # --- MQTT side (no I/O in callbacks) -----------------------------------------------
    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        if rc.is_failure:
            logger.warning("live bridge: broker refused the connection: %s", rc)
            return
        client.subscribe(self.topic, qos=0)
        self.connected.set()  # publishing may start; events reach this bridge once ``subscribed``
        logger.info("live bridge subscribed to %s on %s", self.topic, self.address.host)

    def _on_subscribe(
        self, _c: mqtt.Client, _u: object, _mid: int, codes: list[ReasonCode], _p: object
    ) -> None:
        if all(not code.is_failure for code in codes):
            self.subscribed.set()
        else:
            logger.warning("live bridge: the broker refused the subscription to %s: %s", self.topic, codes)

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        self.connected.clear()
        self.subscribed.clear()
        logger.warning("live bridge disconnected (%s); reconnecting", rc)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            self.queue.put_nowait(bytes(msg.payload))
        except queue.Full:
            self.dropped += 1  # browsers re-sync on reconnect; never block the network loop

    # --- worker ------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            payload = self.queue.get()
            if payload is None:
                return
            try:
                event = decode(payload, self.site_of)
            except InvalidLiveEvent as exc:
                self.invalid += 1
                logger.info("live bridge dropped a message: %s", exc)
                continue
            except Exception:
                logger.exception("live bridge could not resolve an event")
                continue
            for listener in self.listeners:
                listener(event)
            try:
                self.emitter.emit(SOCKET_EVENT, event.data, to=event.rooms, namespace="/")
                self.emitted += 1
            except Exception:
                logger.exception("live bridge could not emit")

    def start(self) -> None:
        """Connect (asynchronously; retries forever) and start the worker."""
        if self.client is not None:
            return
        self.started_at = time.monotonic()
        self.worker = threading.Thread(target=self._work, name="live-bridge", daemon=True)
        self.worker.start()
        client = make_client(self.address, self.client_id, reconnect_max_s=10)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.connect_async(self.address.host, self.address.port, keepalive=30)
        client.loop_start()
        self.client = client

    def stop(self) -> None:
        """Disconnect and stop the worker."""
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None
        if self.worker is not None:
            self.queue.put(None)
            self.worker.join(5)
            self.worker = None
