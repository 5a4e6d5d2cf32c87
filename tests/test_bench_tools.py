"""The benchmarks' MQTT tools still talk to the broker as it runs everywhere else (with
authentication on): a few readings published and drained by the same commands
``make bench-ingest`` uses. (The benchmarks' figures are measured by ``make bench-*``.)"""

from __future__ import annotations

import json
import subprocess
import sys

from config import ROOT
from devstack.servers import Mosquitto


def _tool(*args: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.mqtt_tools", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}  # type: ignore[no-any-return]


def test_the_bench_tools_publish_and_drain_through_an_authenticated_broker(broker: Mosquitto) -> None:
    _tool("bare", "--url", broker.url, "--count", "25", "--phase", "register")
    assert (
        _tool("publish", "--url", broker.url, "--count", "25", "--client-id", "bench-smoke")["published"]
        == 25
    )
    assert _tool("bare", "--url", broker.url, "--count", "25", "--phase", "drain")["received"] == 25
