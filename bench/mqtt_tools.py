"""Helper processes for the ingest benchmark.

``python -m bench.mqtt_tools publish --port P --count N [--rate R]``: publish N telemetry
readings at QoS 1 (windowed), as fast as possible or at R per second; prints the rate.

``python -m bench.mqtt_tools bare --port P --count N --phase register|drain``: a bare paho
subscriber with a persistent session: ``register`` subscribes and leaves, ``drain``
reconnects and times how fast the broker hands it N queued messages.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

from paho.mqtt.subscribeoptions import SubscribeOptions

from fleet.mqtt import BrokerAddress, connect_properties, make_client
from ingest.publish import WindowedPublisher

ASSETS = 100


def asset_ids() -> list[str]:
    """The benchmark's asset MQTT ids."""
    return [f"BENCH-{n:03d}" for n in range(ASSETS)]


def publish(url: str, count: int, rate: float, start_seq: int, client_id: str, ts_base: int = 0) -> None:
    """Publish ``count`` readings numbered from ``start_seq``.

    Paced (``rate``): ``ts`` is the publish time, for latency. Flood: ``ts`` is ``ts_base``
    plus the sequence number, so phases with disjoint sequence numbers never write the
    same asset and timestamp. Either way no two readings share an asset and a timestamp
    (InfluxDB would keep one point of two, and a loss would be counted that is no loss)."""
    pub = WindowedPublisher(url, client_id, window=1000).connect()
    ids = asset_ids()
    started = time.time()
    base_ms = ts_base or int(started * 1000) - 86_400_000  # a day ago, in the retention
    last_ts: dict[str, int] = {}
    for n in range(count):
        seq = start_seq + n
        asset = ids[seq % ASSETS]
        if rate:
            wait = started + n / rate - time.time()
            if wait > 0:
                time.sleep(wait)
        # flood: one past timestamp per sequence number; paced: the publish time (for latency),
        # moved 1 ms on when this asset already has a reading in that millisecond (a catch-up
        # burst after a stall publishes 100+ readings a millisecond): never two points on one key
        ts = max(int(time.time() * 1000), last_ts.get(asset, 0) + 1) if rate else base_ms + seq
        last_ts[asset] = ts
        body = {
            "ts": ts,
            "seq": seq,
            "motor_temp_c": 40.0 + seq % 17 / 4,
            "trips": seq,
            "door_reopenings": seq % 50,
            "load_pct": 33.5,
        }
        pub.publish(f"equipment/{asset}/telemetry", json.dumps(body).encode())
    pub.wait_all(120)
    elapsed = time.time() - started
    pub.close()
    print(json.dumps({"published": count, "seconds": round(elapsed, 3), "per_s": round(count / elapsed)}))


def bare(url: str, count: int, phase: str) -> None:
    """Register a persistent session, or drain ``count`` queued messages and print the rate."""
    address = BrokerAddress.parse(url)
    client = make_client(address, "bench-bare")
    got = [0, 0.0, 0.0]
    done = threading.Event()

    def on_message(*_args: object) -> None:
        if got[0] == 0:
            got[1] = time.time()
        got[0] += 1
        if got[0] >= count:
            got[2] = time.time()
            done.set()

    subscribed = threading.Event()
    client.on_message = on_message
    client.on_subscribe = lambda *_a: subscribed.set()
    client.on_connect = lambda c, *_a: c.subscribe("equipment/#", options=SubscribeOptions(qos=1))
    client.connect(address.host, address.port, clean_start=False, properties=connect_properties(3600, 20_000))
    client.loop_start()
    if phase == "register":
        subscribed.wait(10)
        client.disconnect()
        client.loop_stop()
        return
    connected_at = time.time()
    done.wait(300)
    client.disconnect()
    client.loop_stop()
    first, last = got[1], got[2] or time.time()
    print(
        json.dumps(
            {
                "received": got[0],
                "seconds": round(last - first, 3),
                "per_s": round(got[0] / max(last - first, 1e-9)),
                "connect_to_last": round(last - connected_at, 3),
            }
        )
    )


def forget(url: str, client_id: str) -> None:
    """Discard a persistent session so the broker stops queueing for it."""
    address = BrokerAddress.parse(url)
    client = make_client(address, client_id)
    connected = threading.Event()
    client.on_connect = lambda *_a: connected.set()
    client.connect(address.host, address.port, clean_start=True, properties=connect_properties(0))
    client.loop_start()
    connected.wait(10)
    client.disconnect()
    client.loop_stop()


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["publish", "bare", "forget"])
    parser.add_argument(
        "--url", required=True, help="the broker, with credentials: mqtt://user:pass@host:port"
    )
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--start-seq", type=int, default=0)
    parser.add_argument("--ts-base", type=int, default=0, help="flood timestamps: this (epoch ms) + seq")
    parser.add_argument("--client-id", default="bench-pub")
    parser.add_argument("--phase", choices=["register", "drain"], default="drain")
    args = parser.parse_args()
    if args.mode == "publish":
        publish(args.url, args.count, args.rate, args.start_seq, args.client_id, args.ts_base)
    elif args.mode == "forget":
        forget(args.url, args.client_id)
    else:
        bare(args.url, args.count, args.phase)


if __name__ == "__main__":
    sys.exit(main())
