"""MQTT connection settings from ``MQTT_URL`` and a configured paho-mqtt 2.x client."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


@dataclass(frozen=True)
class BrokerAddress:
    """Where and how to connect."""

    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """Parse ``mqtt://user:pass@host:1883`` or ``mqtts://host:8883``."""
        parts = urlsplit(url)
        tls = parts.scheme in ("mqtts", "ssl")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


def make_client(
    address: BrokerAddress, client_id: str, *, manual_ack: bool = False, reconnect_max_s: int = 30
) -> mqtt.Client:
    """A paho client speaking MQTT v5, with TLS and credentials as the address says."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )
    if address.username:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
    client.reconnect_delay_set(min_delay=1, max_delay=reconnect_max_s)
    return client


def connect_properties(session_expiry_s: int, receive_maximum: int | None = None) -> Properties:
    """CONNECT properties: a persistent session and, optionally, a receive maximum."""
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = session_expiry_s
    if receive_maximum:
        props.ReceiveMaximum = max(1, min(receive_maximum, 65535))
    return props
