"""influxdb-client's /api/v2/write path (VictoriaMetrics), offline detection and last wills."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from devstack.servers import Mosquitto, VictoriaMetrics
from fleet.models import AssetStatus, OperatingState, Outage
from ingest.publish import WindowedPublisher
from tests.e2e.ingest_rig import Rig, reading_messages, wait_for

pytestmark = pytest.mark.e2e


def _vm_samples(vm: VictoriaMetrics, metric: str) -> dict[str, list[float]]:
    urllib.request.urlopen(f"{vm.url}/internal/force_flush", timeout=5).read()  # noqa: S310
    query = urllib.parse.urlencode({"match[]": metric})
    body = urllib.request.urlopen(f"{vm.url}/api/v1/export?{query}", timeout=5).read().decode()  # noqa: S310
    out: dict[str, list[float]] = {}
    for row in filter(None, body.splitlines()):
        data = json.loads(row)
        out.setdefault(data["metric"]["asset"], []).extend(data["values"])
    return out


def test_influxdb_client_v2_write_path(tmp_path: Path, broker: Mosquitto, victoria: VictoriaMetrics) -> None:
    rig = Rig(tmp_path, broker, victoria.url, write_api="v2")
    try:
        rig.start(influx_token="test-token")
        messages = reading_messages(1000)
        pub = rig.publisher()
        for topic, payload, *_ in messages:
            pub.publish(topic, payload)
        assert pub.wait_all(30)

        def stored() -> int:
            return sum(len(v) for v in _vm_samples(victoria, "telemetry_seq").values())

        assert wait_for(lambda: stored() == 1000, 30, every=0.5), stored()
        samples = _vm_samples(victoria, "telemetry_trips")
        expected = sorted(float(json.loads(p)["trips"]) for _t, p, asset, *_ in messages if asset == "ELV-4")
        assert sorted(samples["ELV-4"]) == expected
        pub.close()
    finally:
        rig.close()


def test_silent_asset_goes_offline_and_comes_back(rig: Rig) -> None:
    rig.start(ingest_offline_after_s=2, ingest_housekeeping_s=0.3)
    pub = rig.publisher()
    now = int(time.time() * 1000)
    pub.publish(
        "equipment/ELV-5/status", json.dumps({"ts": now, "state": "in_service", "fault": None}).encode()
    )
    aid = rig.asset_ids["ELV-5"]

    def state() -> OperatingState | None:
        with rig.db.session() as s:
            st = s.get(AssetStatus, aid)
            return st.state if st else None

    assert wait_for(lambda: state() == OperatingState.IN_SERVICE, 5)
    assert wait_for(lambda: state() == OperatingState.OFFLINE, 8)
    pub.publish("equipment/ELV-5/telemetry", json.dumps({"ts": int(time.time() * 1000), "seq": 1}).encode())
    assert wait_for(lambda: state() == OperatingState.IN_SERVICE, 5)
    with rig.db.session() as s:
        assert s.scalars(select(Outage)).all() == []  # unknown is not an outage
    pub.close()


def test_gateway_last_will_marks_its_assets_offline(rig: Rig) -> None:
    rig.start()
    will = json.dumps({"state": "offline", "assets": ["ELV-6", "ELV-7"]}).encode()
    gateway = WindowedPublisher(
        rig.broker.url, "gateway-1", will=("equipment/_gateways/gateway-1", will)
    ).connect()
    now = int(time.time() * 1000)
    for asset in ("ELV-6", "ELV-7"):
        gateway.publish(f"equipment/{asset}/status", json.dumps({"ts": now, "state": "in_service"}).encode())
    assert gateway.wait_all(5)

    def states() -> set[OperatingState]:
        with rig.db.session() as s:
            ids = [rig.asset_ids["ELV-6"], rig.asset_ids["ELV-7"]]
            return {st.state for st in s.scalars(select(AssetStatus).where(AssetStatus.asset_id.in_(ids)))}

    assert wait_for(lambda: states() == {OperatingState.IN_SERVICE}, 5)
    gateway.client._sock_close()  # the connection drops without DISCONNECT: the broker sends the will
    gateway.client.loop_stop()
    assert wait_for(lambda: states() == {OperatingState.OFFLINE}, 10), states()
