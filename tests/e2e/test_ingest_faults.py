"""Fault tests: InfluxDB down, broker restart, ingester killed, two ingesters sharing the load.

Each ends with every published reading stored exactly once.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from devstack.servers import Influxd, Mosquitto
from fleet.models import Outage
from tests.e2e.ingest_rig import Rig, reading_messages, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def own_influxd(tmp_path: Path) -> Influxd:
    """An InfluxDB this test may stop and start."""
    server = Influxd(tmp_path / "influxd")
    server.start()
    yield server  # type: ignore[misc]
    server.stop()


def test_influxdb_down_mid_stream_loses_nothing(
    tmp_path: Path, broker: Mosquitto, own_influxd: Influxd
) -> None:
    rig = Rig(tmp_path, broker, own_influxd.url)
    try:
        ing = rig.start()
        messages = reading_messages(3000)
        pub = rig.publisher()
        for topic, payload, *_ in messages[:1000]:
            pub.publish(topic, payload)
        assert wait_for(lambda: rig.count() == 1000, 20)
        own_influxd.stop()
        for topic, payload, *_ in messages[1000:]:
            pub.publish(topic, payload)
        assert pub.wait_all(30)  # the broker took them all
        assert wait_for(lambda: ing.metrics.snapshot()["ingest_write_retries_total"] >= 2, 20)
        own_influxd.start()
        assert wait_for(lambda: rig.count() == 3000, 60), rig.count()
        # every message taken was written and acknowledged once: nothing more is on its way
        assert wait_for(lambda: ing.metrics.snapshot()["ingest_readings_written_total"] >= 3000, 20)
        assert wait_for(lambda: ing.metrics.snapshot()["ingest_buffer_depth"] == 0, 20)
        assert rig.count() == 3000
        pub.close()
    finally:
        rig.close()


def test_broker_restart_loses_nothing(rig: Rig) -> None:
    rig.start()
    messages = reading_messages(3000)
    pub = rig.publisher(clean_start=False)
    for topic, payload, *_ in messages[:1500]:
        pub.publish(topic, payload)
    assert pub.wait_all(30)
    rig.broker.stop()  # SIGTERM, and waits for the process to exit: Mosquitto saved its persistence file
    rig.broker.start()
    assert wait_for(lambda: pub.connected.is_set() and rig.ingesters[0].connected.is_set(), 30)
    # the broker restored the ingester's session from its persistence file: what was queued
    # for it, or sent but not acknowledged, comes after the restart
    assert rig.ingesters[0].session_present
    for topic, payload, *_ in messages[1500:]:
        pub.publish(topic, payload)
    assert pub.wait_all(60)
    assert wait_for(lambda: rig.count() == 3000, 60), rig.count()
    pub.close()


def test_killed_ingester_is_redelivered_what_it_had_not_acknowledged(rig: Rig) -> None:
    proc = rig.spawn("ing-k")
    assert wait_for(lambda: (rig.tmp / "ing-k.log").read_text().count("subscribed to") >= 1, 20)
    messages = reading_messages(6000)
    pub = rig.publisher()
    for topic, payload, *_ in messages[:3000]:
        pub.publish(topic, payload)
    assert wait_for(lambda: rig.count() > 0, 20)
    proc.send_signal(signal.SIGKILL)  # no flush, no acks for what was in hand
    proc.wait(10)
    for topic, payload, *_ in messages[3000:]:
        pub.publish(topic, payload)
    assert pub.wait_all(30)
    rig.spawn("ing-k")  # same client id: same persistent session
    assert wait_for(lambda: rig.count() == 6000, 60), rig.count()
    pub.close()


def test_sigterm_flushes_and_exits_cleanly(rig: Rig) -> None:
    proc = rig.spawn("ing-t")
    assert wait_for(lambda: "subscribed to" in (rig.tmp / "ing-t.log").read_text(), 20)
    pub = rig.publisher()
    for topic, payload, *_ in reading_messages(2000):
        pub.publish(topic, payload)
    assert pub.wait_all(30)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert "ingester stopped" in (rig.tmp / "ing-t.log").read_text()
    rig.spawn("ing-t")  # anything taken but not acknowledged comes back
    assert wait_for(lambda: rig.count() == 2000, 30), rig.count()
    pub.close()


def test_two_ingesters_share_the_load_once(rig: Rig) -> None:
    first = rig.start("ing-a", mqtt_shared_group="ingest")
    second = rig.start("ing-b", mqtt_shared_group="ingest")
    pub = rig.publisher()
    for topic, payload, *_ in reading_messages(4000):
        pub.publish(topic, payload)
    t0 = int(time.time() * 1000) - 30_000
    for n, asset in enumerate(["ELV-1", "ELV-2", "ELV-3", "ELV-4"]):
        for k, (state, fault) in enumerate(
            [("in_service", None), ("out_of_service", "leveling"), ("in_service", None)]
        ):
            body = {"ts": t0 + n * 10 + k * 5000, "state": state, "fault": fault}
            pub.publish(f"equipment/{asset}/status", json.dumps(body).encode(), retain=True)
    assert pub.wait_all(30)
    assert wait_for(lambda: rig.count() == 4000, 30), rig.count()
    a = first.metrics.snapshot()["ingest_messages_received_total"]
    b = second.metrics.snapshot()["ingest_messages_received_total"]
    assert a > 500
    assert b > 500
    assert wait_for(lambda: len(_outages(rig)) == 4 and all(o[1] is not None for o in _outages(rig)), 10)
    assert sorted(o[0] for o in _outages(rig)) == sorted(
        rig.asset_ids[x] for x in ["ELV-1", "ELV-2", "ELV-3", "ELV-4"]
    )
    pub.close()


def _outages(rig: Rig) -> list[tuple[int, object]]:
    with rig.db.session() as s:
        return [(o.asset_id, o.ended_at) for o in s.scalars(select(Outage))]
