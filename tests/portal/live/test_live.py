"""The live channel: event decoding, the MQTT bridge on a real broker, Socket.IO auth."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from devstack.servers import Mosquitto
from fleet.live import LiveEvent, LiveKind
from fleet.models import Asset
from ingest.publish import WindowedPublisher
from portal.live.bridge import SOCKET_EVENT, BrowserEvent, InvalidLiveEvent, LiveBridge, SiteDirectory, decode
from portal.live.rooms import BadJoin, parse_ids
from portal.live.server import socketio_of


def test_decode_adds_the_site_and_keeps_only_known_fields() -> None:
    payload = json.dumps({
        "type": "outage_opened", "asset": "ELV-1", "asset_id": 7, "ts": "2026-11-23T10:00:00+00:00",
        "state": "out_of_service", "fault": "door_lock", "outage_id": 3, "secret": "not forwarded",
    }).encode()  # fmt: skip
    event = decode(payload, lambda aid: 40 + aid)
    assert event.rooms == ["asset:7", "site:47"]
    assert event.data == {
        "type": "outage_opened", "asset_id": 7, "asset": "ELV-1", "ts": "2026-11-23T10:00:00+00:00",
        "state": "out_of_service", "fault": "door_lock", "outage_id": 3, "site_id": 47,
    }  # fmt: skip


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[1,2]", b'{"type":"status"}', b'{"type":"drop_tables","asset_id":1}',
     b'{"type":"status","asset_id":true}', b'{"type":"status","asset_id":-4}', b"\xff\xfe"],
)  # fmt: skip
def test_decode_rejects_what_is_not_a_live_event(payload: bytes) -> None:
    with pytest.raises(InvalidLiveEvent):
        decode(payload, lambda _aid: 1)


def test_unknown_asset_goes_to_its_asset_room_only() -> None:
    assert decode(b'{"type":"status","asset_id":5}', lambda _aid: None).rooms == ["asset:5"]


def test_site_directory_asks_the_database_once_per_asset() -> None:
    calls: list[int] = []

    def lookup(asset_id: int) -> int:
        calls.append(asset_id)
        return asset_id * 10

    directory = SiteDirectory(lookup)
    assert [directory(1), directory(1), directory(2), directory(1)] == [10, 10, 20, 10]
    assert calls == [1, 2]


@pytest.mark.parametrize(
    ("value", "ok"),
    [(None, []), ([1, 2], [1, 2]), ("1", None), ([1, "2"], None), ([0], None), ([True], None),
     (list(range(1, 2002)), None), ([2**31], None), ([10**22], None), ([2**31 - 1], [2**31 - 1])],
)  # fmt: skip
def test_join_ids_are_checked(value: object, ok: list[int] | None) -> None:
    if ok is None:
        with pytest.raises(BadJoin):
            parse_ids(value, "assets")
    else:
        assert parse_ids(value, "assets") == ok


class Recorder:
    """Stands in for Flask-SocketIO: records what would be emitted."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any, Any]] = []
        self.got = threading.Event()

    def emit(self, event: str, data: Any, *, to: Any = None, namespace: str | None = None) -> None:  # noqa: ARG002
        self.events.append((event, data, to))
        self.got.set()


def test_bridge_forwards_live_mqtt_events_to_their_rooms(broker: Mosquitto) -> None:
    recorder = Recorder()
    bridge = LiveBridge(recorder, broker.url, "portal/live", lambda aid: 900 + aid)
    bridge.start()
    try:
        assert bridge.subscribed.wait(10)  # the broker's SUBACK: from now on nothing is missed
        pub = WindowedPublisher(broker.url, "bridge-test").connect()
        pub.publish("portal/live/ELV-9", b"garbage")
        pub.publish("portal/live/ELV-9", b'{"type":"status","asset_id":9,"state":"degraded","ts":"x"}')
        pub.wait_all(10)
        pub.close()
        assert recorder.got.wait(10)  # the valid event came after the garbage, on one ordered queue
        assert bridge.invalid == 1
        assert recorder.events == [
            (SOCKET_EVENT, {"type": "status", "asset_id": 9, "state": "degraded", "ts": "x", "site_id": 909},
             ["asset:9", "site:909"]),
        ]  # fmt: skip
    finally:
        bridge.stop()


def test_shared_subscription_when_processes_share_a_message_queue() -> None:
    bridge = LiveBridge(Recorder(), "mqtt://127.0.0.1:1", "portal/live", lambda _a: None, shared=True)
    assert bridge.topic == "$share/portal/portal/live/#"


def test_socket_refuses_anonymous_and_unknown_resident_links(app: Flask) -> None:
    sio = socketio_of(app)
    assert not sio.test_client(app).is_connected()
    assert not sio.test_client(app, auth={"resident": "A" * 32}).is_connected()
    assert not sio.test_client(app, auth={"resident": "../../etc"}).is_connected()


def test_resident_socket_is_limited_to_its_asset(app: Flask) -> None:
    with app.extensions["fleet.db"].session() as s:
        mine = s.scalars(select(Asset).where(Asset.mqtt_id == "ELV-0301")).one()
        other = s.scalars(select(Asset).where(Asset.mqtt_id == "ELV-0101")).one()
        token, mine_id, other_id, site_id = mine.public_token, mine.id, other.id, mine.site_id
    client = socketio_of(app).test_client(app, auth={"resident": token})
    assert client.is_connected()
    ack = client.emit("join", {"assets": [mine_id, other_id], "sites": [site_id]}, callback=True)
    assert ack == {"ok": True, "rooms": 1, "refused": {"assets": [other_id], "sites": [site_id]}}
    assert client.emit("join", "everything", callback=True)["ok"] is False
    client.disconnect()


def test_logged_out_session_cannot_join(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    http = login("fm@demo.example")
    sio = socketio_of(app).test_client(app, flask_test_client=http)
    assert sio.is_connected()
    http.post("/auth/logout")
    # a new connection with the logged-out cookie is refused
    assert not socketio_of(app).test_client(app, flask_test_client=http).is_connected()
    sio.disconnect()


def test_events_raised_in_the_portal_go_out_on_the_live_topic(
    broker: Mosquitto, sqlite_demo_url: str
) -> None:
    """Feedback, dispatch and check-in events take the ingester's path (the broker), so every
    portal process's bridge pushes them, not only the process that stored the change."""
    from fleet.live import LiveEvent, LiveKind
    from fleet.mqtt import BrokerAddress, make_client
    from portal.app import create_app
    from portal.live.server import announce, stop_bridge
    from tests.conftest import make_settings

    received: list[tuple[str, dict[str, Any]]] = []
    got, subscribed = threading.Event(), threading.Event()
    other_process = make_client(BrokerAddress.parse(broker.url), "another-portal-process")
    other_process.on_connect = lambda c, *_a: c.subscribe("portal/live/#", qos=1)
    other_process.on_subscribe = lambda *_a: subscribed.set()

    def on_message(_c: object, _u: object, msg: Any) -> None:
        received.append((msg.topic, json.loads(msg.payload)))
        got.set()

    other_process.on_message = on_message
    other_process.connect("127.0.0.1", broker.port)
    other_process.loop_start()
    app = create_app(make_settings(sqlite_demo_url, mqtt_url=broker.url, influx_url="http://127.0.0.1:9"))
    try:
        assert subscribed.wait(10)
        event = LiveEvent(
            LiveKind.FEEDBACK, 7, "2026-12-03T10:00:00+00:00", "ELV-0107", feedback_id=42, site_id=3
        )
        announce(app, [event])
        assert got.wait(10)
        assert received == [
            ("portal/live/ELV-0107",
             {"type": "feedback", "asset_id": 7, "ts": "2026-12-03T10:00:00+00:00", "asset": "ELV-0107",
              "feedback_id": 42, "site_id": 3}),
        ]  # fmt: skip
    finally:
        stop_bridge(app)
        other_process.disconnect()
        other_process.loop_stop()
        app.extensions["fleet.db"].dispose()


def test_sensor_warnings_go_only_to_the_warning_rooms() -> None:
    event = LiveEvent(LiveKind.WATCH, 3, "2026-12-04T10:00:00+00:00", "ELV-0105")
    assert BrowserEvent(event, 7).rooms == ["watch:asset:3", "watch:site:7"]
    status = LiveEvent(LiveKind.STATUS, 3, "2026-12-04T10:00:00+00:00", "ELV-0105", state="in_service")
    assert BrowserEvent(status, 7).rooms == ["asset:3", "site:7"]


def test_only_technicians_and_staff_receive_sensor_warnings(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    with app.extensions["fleet.db"].session() as s:
        asset = s.scalars(select(Asset).where(Asset.mqtt_id == "ELV-0105")).one()
        token, asset_id, site_id = asset.public_token, asset.id, asset.site_id
    sio = socketio_of(app)
    clients = {
        "tech": sio.test_client(app, flask_test_client=login("tech@demo.example")),
        "staff": sio.test_client(app, flask_test_client=login("staff@demo.example")),
        "fm": sio.test_client(app, flask_test_client=login("fm@demo.example")),
        "resident": sio.test_client(app, auth={"resident": token}),
    }
    for client in clients.values():
        assert client.emit("join", {"assets": [asset_id], "sites": [site_id]}, callback=True)["ok"]
        client.get_received()
    warning = BrowserEvent(
        LiveEvent(LiveKind.WATCH, asset_id, "2026-12-04T10:00:00+00:00", "ELV-0105"), site_id
    )
    sio.emit(SOCKET_EVENT, warning.data, to=warning.rooms, namespace="/")
    got = {name: [m["name"] for m in client.get_received()] for name, client in clients.items()}
    assert got == {"tech": [SOCKET_EVENT], "staff": [SOCKET_EVENT], "fm": [], "resident": []}
    for client in clients.values():
        client.disconnect()
