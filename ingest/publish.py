"""A device-side QoS 1 publisher with a bounded number of unacknowledged messages.

Used by the simulator, the benchmark and the tests. paho's 16-bit message ids wrap
after 65,535 outstanding messages and publishing stalls, so the window is capped.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import paho.mqtt.client as mqtt

from fleet.mqtt import BrokerAddress, connect_properties, make_client

logger = logging.getLogger(__name__)


class WindowedPublisher:
    """Publishes at QoS 1 keeping at most ``window`` messages unacknowledged."""

    def __init__(self, url: str, client_id: str, *, window: int = 1000, will: tuple[str, bytes] | None = None,
                 clean_start: bool = True) -> None:  # fmt: skip
        self.address = BrokerAddress.parse(url)
        self.client = make_client(self.address, client_id)
        self.client.max_inflight_messages_set(0)  # unlimited in paho; the semaphore is the window
        self.client.max_queued_messages_set(0)
        self.window = threading.BoundedSemaphore(window)
        self.acked = 0
        self.sent = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self.connected = threading.Event()
        self.client.on_publish = self._on_publish
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_a: self.connected.clear()
        if will:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.clean_start = clean_start

    def _on_connect(self, *_args: Any) -> None:
        self.connected.set()

    def _on_publish(self, _client: Any, _userdata: Any, _mid: int, _reason: Any, _props: Any) -> None:
        with self._lock:
            self.acked += 1
            self._idle.notify_all()
        self.window.release()

    def connect(self, timeout: float = 10.0) -> WindowedPublisher:
        """Connect and start the network thread."""
        self.client.connect(self.address.host, self.address.port, keepalive=30, clean_start=self.clean_start,
                            properties=connect_properties(3600))  # fmt: skip
        self.client.loop_start()
        if not self.connected.wait(timeout):
            raise TimeoutError("publisher could not connect")
        return self

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Publish, waiting while the window is full (QoS 1)."""
        if qos == 0:
            self.client.publish(topic, payload, qos=0, retain=retain)
            return
        self.window.acquire()
        with self._lock:
            self.sent += 1
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            raise RuntimeError(f"publish failed: {mqtt.error_string(info.rc)}")

    def wait_all(self, timeout: float = 60.0) -> bool:
        """Wait until every QoS 1 message published so far is acknowledged."""
        with self._lock:
            return self._idle.wait_for(lambda: self.acked >= self.sent, timeout)

    def close(self) -> None:
        """Disconnect cleanly (no last will)."""
        self.client.disconnect()
        self.client.loop_stop()
