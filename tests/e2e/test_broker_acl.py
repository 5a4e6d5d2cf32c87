"""Broker access lists on a real Mosquitto, written by the portal from its gateway registry:
a gateway may publish only for its own units and its own presence; what it sends for
another gateway's unit is refused by the broker and nothing of it is stored; anonymous
clients and wrong passwords are refused."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from sqlalchemy import select

from fleet.broker_auth import mosquitto_hash, reload_broker, write_files
from fleet.models import Asset, AssetStatus, DeadLetter, Gateway, StatusChange
from fleet.mqtt import BrokerAddress, make_client
from portal.registry.gateways import accounts
from tests.e2e.ingest_rig import Rig, wait_for


class Client:
    """A paho client that records CONNACK and PUBACK reason codes and lets a test wait for them."""

    def __init__(self, url: str, client_id: str) -> None:
        address = BrokerAddress.parse(url)
        self.port = address.port
        self.client = make_client(address, client_id)
        self.connack: Any = None
        self.acks: dict[int, Any] = {}
        self.dropped = False
        self.changed = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.client.on_disconnect = self._on_disconnect

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        with self.changed:
            self.connack = reason
            self.changed.notify_all()

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        with self.changed:
            self.acks[mid] = reason
            self.changed.notify_all()

    def _on_disconnect(self, *_args: Any) -> None:
        with self.changed:
            self.dropped = True
            self.changed.notify_all()

    def connect(self) -> Any:
        """Connect and wait for the broker's CONNACK; its reason code."""
        self.client.reconnect_delay_set(min_delay=60, max_delay=60)  # one attempt is what we look at
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        with self.changed:
            assert self.changed.wait_for(lambda: self.connack is not None, 10)
        return self.connack

    def publish(self, topic: str, body: dict[str, Any]) -> str:
        """Publish at QoS 1 and wait for the broker's answer: ``"accepted"`` (a PUBACK reason
        code below 128, "no matching subscribers" included), ``"refused"`` (128 and above:
        135 is "not authorized"), or ``"dropped"`` when the broker closes the connection
        instead (Mosquitto 2.0.11 answers a refused QoS 1 publish and then drops the client)."""
        info = self.client.publish(topic, json.dumps(body).encode(), qos=1)
        with self.changed:
            assert self.changed.wait_for(lambda: info.mid in self.acks or self.dropped, 10)
        if info.mid not in self.acks:
            return "dropped"
        return "accepted" if self.acks[info.mid].value < 128 else "refused"

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def _register(rig: Rig, ident: str, password: str, mqtt_id: str) -> None:
    with rig.db.session() as s:
        unit = s.scalars(select(Asset).where(Asset.mqtt_id == mqtt_id)).one()
        s.add(Gateway(ident=ident, password_hash=mosquitto_hash(password), assets=[unit]))


def test_a_gateway_publishing_another_gateways_unit_is_refused_and_nothing_is_stored(rig: Rig) -> None:
    """Also: the portal's own account may not speak for any device."""
    _register(rig, "gw-a", "password-a", "ELV-1")
    _register(rig, "gw-b", "password-b", "ELV-2")
    roles = "ingest:ingester:ingest-pw,portal:portal:portal-pw"
    with rig.db.session() as s:  # what the portal writes, with the ingester's and its own accounts
        write_files(rig.broker.data_dir, accounts(s, rig.settings(broker_accounts=roles)))
    assert reload_broker(rig.broker.pid_file)

    def gateway_a_accepted() -> bool:
        probe = Client(rig.broker.url_for("gw-a", "password-a"), "probe")
        try:
            return bool(probe.connect() == 0)
        finally:
            probe.close()

    assert wait_for(gateway_a_accepted, 10)  # the broker has re-read its files
    rig.start(mqtt_url=rig.broker.url_for("ingester", "ingest-pw"))  # reads devices, writes live
    now = int(time.time() * 1000)
    portal = Client(rig.broker.url_for("portal", "portal-pw"), "portal")
    assert portal.connect() == 0
    assert portal.publish("portal/live/ELV-2", {"type": "status"}) == "accepted"
    refused = portal.publish("equipment/ELV-2/status", {"ts": now, "state": "out_of_service"})
    assert refused in ("refused", "dropped")
    portal.close()
    refused = [
        ("equipment/ELV-2/status", {"ts": now, "state": "out_of_service", "fault": "x"}),  # gw-b's unit
        ("equipment/_gateways/gw-b", {"state": "offline", "assets": ["ELV-2"]}),  # gw-b's presence
    ]
    for n, (topic, body) in enumerate(refused):
        gw_a = Client(rig.broker.url_for("gw-a", "password-a"), f"gw-a-{n}")
        assert gw_a.connect() == 0
        assert gw_a.publish(topic, body) in ("refused", "dropped")
        gw_a.close()
    gw_a = Client(rig.broker.url_for("gw-a", "password-a"), "gw-a")
    assert gw_a.connect() == 0
    assert (
        gw_a.publish("equipment/ELV-1/status", {"ts": now, "state": "in_service", "fault": None})
        == "accepted"
    )
    assert gw_a.publish("equipment/_gateways/gw-a", {"state": "online", "assets": ["ELV-1"]}) == "accepted"
    elv1, elv2 = rig.asset_ids["ELV-1"], rig.asset_ids["ELV-2"]

    def elv1_stored() -> bool:
        with rig.db.session() as s:
            return s.get(AssetStatus, elv1) is not None

    # the refused messages were answered before this one was sent: had the broker let one
    # through, it would have reached the ingester (one subscription, in order) first
    assert wait_for(elv1_stored, 10)
    with rig.db.session() as s:
        assert s.get(AssetStatus, elv2) is None
        assert s.scalars(select(StatusChange).where(StatusChange.asset_id == elv2)).all() == []
        assert s.scalars(select(DeadLetter)).all() == []
    gw_a.close()


def test_anonymous_clients_and_wrong_passwords_are_refused(rig: Rig) -> None:
    anonymous = Client(f"mqtt://127.0.0.1:{rig.broker.port}", "anonymous")
    assert anonymous.connect() == 135  # not authorized
    anonymous.close()
    wrong = Client(rig.broker.url_for(rig.broker.service_user, "not the password"), "wrong")
    assert wrong.connect() in (134, 135)  # bad user name or password / not authorized
    wrong.close()
