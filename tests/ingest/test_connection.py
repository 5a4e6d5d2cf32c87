"""The ingester's MQTT side with a stand-in client (no broker): it subscribes again on every
connection, notices a lost session, only enqueues in ``on_message``, acknowledges a message
only after its batch was stored and only on the connection it came from, and announces the
status changes it stored on the live topic."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from fleet.db import Database
from fleet.mqtt import BrokerAddress
from ingest.service import Ingester
from tests.conftest import make_settings
from tests.fleet.conftest import add_assets
from tests.ingest.test_pipeline import ScriptedWriter

NOW_MS = int(time.time() * 1000) - 60_000  # a minute ago: inside the ingester's time window


@dataclass
class FakeClient:
    """Records what the ingester asks of paho."""

    address: BrokerAddress
    client_id: str
    subscriptions: list[tuple[str, Any]] = field(default_factory=list)
    acks: list[tuple[int, int]] = field(default_factory=list)
    published: list[tuple[str, bytes, int]] = field(default_factory=list)
    acked = threading.Event()
    on_connect: Any = None
    on_disconnect: Any = None
    on_message: Any = None

    def subscribe(self, topic: str, options: Any = None) -> tuple[int, int]:
        self.subscriptions.append((topic, options))
        return 0, len(self.subscriptions)

    def ack(self, mid: int, qos: int) -> None:
        self.acks.append((mid, qos))
        self.acked.set()

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        self.published.append((topic, payload, qos))

    # the life cycle is not exercised here
    def connect_async(self, *_a: Any, **_k: Any) -> None: ...
    def loop_start(self) -> None: ...
    def loop_stop(self) -> None: ...
    def disconnect(self) -> None: ...


class Ok:
    is_failure = False


class Refused:
    is_failure = True


def _connect(ing: Ingester, client: FakeClient, *, session_present: bool) -> None:
    client.on_connect(client, None, SimpleNamespace(session_present=session_present), Ok(), None)


def _message(mid: int, topic: str, body: dict[str, object]) -> SimpleNamespace:
    return SimpleNamespace(mid=mid, qos=1, topic=topic, payload=json.dumps(body).encode())


@pytest.fixture
def ingester(tmp_path: Path, db: Database) -> tuple[Ingester, FakeClient]:
    add_assets(db, ["ELV-1"])
    clients: list[FakeClient] = []

    def factory(address: BrokerAddress, client_id: str) -> FakeClient:
        clients.append(FakeClient(address, client_id))
        return clients[-1]

    settings = make_settings(db.url, mqtt_url="mqtt://broker.invalid:1883", mqtt_shared_group="ingest",
                             ingest_metrics_port=0, ingest_flush_interval_s=0.01)  # fmt: skip
    ing = Ingester(settings, client_id="ingest-7", writer=ScriptedWriter(), db=db,
                   client_factory=factory)  # type: ignore[arg-type]  # fmt: skip
    ing.registry.reload()
    return ing, clients[0]


def test_the_client_is_built_from_the_settings(ingester: tuple[Ingester, FakeClient]) -> None:
    _ing, client = ingester
    assert (client.address.host, client.address.port, client.client_id) == (
        "broker.invalid",
        1883,
        "ingest-7",
    )


def test_every_connection_subscribes_again_with_the_shared_group(
    ingester: tuple[Ingester, FakeClient],
) -> None:
    ing, client = ingester
    _connect(ing, client, session_present=False)
    client.on_disconnect(client, None, None, Ok(), None)
    assert not ing.connected.is_set()
    _connect(ing, client, session_present=True)
    assert [topic for topic, _ in client.subscriptions] == ["$share/ingest/equipment/#"] * 2
    assert all(options.QoS == 1 for _, options in client.subscriptions)
    assert ing.connected.is_set()
    assert ing.generation == 2


def test_a_refused_connection_subscribes_to_nothing(ingester: tuple[Ingester, FakeClient]) -> None:
    ing, client = ingester
    client.on_connect(client, None, SimpleNamespace(session_present=False), Refused(), None)
    assert client.subscriptions == []
    assert not ing.connected.is_set()


def test_a_lost_session_is_reported(
    ingester: tuple[Ingester, FakeClient], caplog: pytest.LogCaptureFixture
) -> None:
    ing, client = ingester
    _connect(ing, client, session_present=False)  # first connection: nothing to lose yet
    assert "lost our session" not in caplog.text
    _connect(ing, client, session_present=False)
    assert "lost our session" in caplog.text
    assert ing.session_present is False


def test_on_message_only_enqueues_and_stops_taking_when_stopping(
    ingester: tuple[Ingester, FakeClient],
) -> None:
    ing, client = ingester
    _connect(ing, client, session_present=False)
    client.on_message(client, None, _message(1, "equipment/ELV-1/telemetry", {"ts": NOW_MS, "x": 1}))
    assert ing.queue.qsize() == 1
    assert client.acks == []  # nothing is acknowledged before it is stored
    ing.accepting = False
    client.on_message(client, None, _message(2, "equipment/ELV-1/telemetry", {"ts": NOW_MS, "x": 2}))
    assert ing.queue.qsize() == 1  # not taken, not acknowledged: the broker redelivers it


def test_messages_are_acknowledged_after_the_write_and_only_on_their_connection(
    ingester: tuple[Ingester, FakeClient],
) -> None:
    ing, client = ingester
    _connect(ing, client, session_present=False)
    client.on_message(client, None, _message(11, "equipment/ELV-1/telemetry", {"ts": NOW_MS, "x": 1}))
    _connect(ing, client, session_present=True)  # a reconnection: message 11 will be redelivered
    client.on_message(client, None, _message(12, "equipment/ELV-1/telemetry", {"ts": NOW_MS + 1000, "x": 2}))
    batch = ing._next_batch()
    ing.pipeline.process(batch)
    ing._ack(batch)
    assert client.acks == [(12, 1)]
    assert len(ing.writer.stored) == 2  # type: ignore[attr-defined]


def test_stored_status_changes_are_announced_on_the_live_topic(ingester: tuple[Ingester, FakeClient]) -> None:
    ing, client = ingester
    _connect(ing, client, session_present=False)
    body = {"ts": NOW_MS, "state": "out_of_service", "fault": "door_lock"}
    client.on_message(client, None, _message(5, "equipment/ELV-1/status", body))
    batch = ing._next_batch()
    ing.publish_live(ing.pipeline.process(batch))
    kinds = sorted(json.loads(payload)["type"] for topic, payload, qos in client.published if qos == 1)
    assert kinds == ["outage_opened", "status"]
    assert {topic for topic, *_ in client.published} == {"portal/live/ELV-1"}
