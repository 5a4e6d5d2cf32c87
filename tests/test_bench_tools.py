"""The benchmarks' tools still run against the system as it is: the MQTT tools talk to the
authenticated broker (a few readings published and drained by the commands ``make
bench-ingest`` uses), and the page mix signs in every person and opens every page. (The
benchmarks' figures are measured by ``make bench-*``.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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


def _bench(module: str, *args: str) -> dict[str, str]:
    """Run ``python -m bench.<module> args`` (a smoke run) and read its last line's
    ``key=value`` figures; fails with the end of its error output."""
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(pair.split("=", 1) for pair in done.stdout.strip().splitlines()[-1].split())


def test_the_bench_tools_publish_and_drain_through_an_authenticated_broker(broker: Mosquitto) -> None:
    _tool("bare", "--url", broker.url, "--count", "25", "--phase", "register")
    assert (
        _tool("publish", "--url", broker.url, "--count", "25", "--client-id", "bench-smoke")["published"]
        == 25
    )
    assert _tool("bare", "--url", broker.url, "--count", "25", "--phase", "drain")["received"] == 25


@pytest.mark.postgres
def test_the_page_mix_runs_every_page_of_every_group_without_an_error() -> None:
    """``make bench-mix`` on two small tenants for a few seconds: every person logs in and
    every page of the mix answers 200 (a smoke run, not a measurement)."""
    figures = _bench("mix", "--tenants", "100,250", "--seconds", "3")
    assert figures["errors"] == "0"
    assert figures["people"] == "10"  # fm, hoa, tech per tenant, a second hoa and tech, two staff
    assert float(figures["mix_pages_per_s"]) > 0
    assert figures["cache"] == "off"


@pytest.mark.postgres
def test_the_page_profiler_times_every_page_of_the_mix_and_profiles_one(tmp_path: Path) -> None:
    """``make profile-pages`` on the mix smoke run's two tenants (the large one's people need 10 sites):
    every page of every person answers 200 and is timed; the page asked for is profiled by
    pyinstrument (a smoke run, not a measurement)."""
    out = tmp_path / "profile.txt"
    figures = _bench("profile_pages", "--tenants", "100,250", "--repeat", "1",
                     "--profile", "vendor_staff:/satisfaction", "--out", str(out))  # fmt: skip
    assert float(figures["mean_page_ms"]) > 0
    assert figures["slowest"].split(":", 1)[0] in {
        "facility_manager",
        "hoa_president",
        "field_technician",
        "vendor_staff",
    }
    assert "build" in out.read_text()  # the dashboard's build, in the profile's call tree
    assert out.with_suffix(".html").exists()


def test_the_export_benchmark_runs_and_reports_every_period() -> None:
    """``make bench-export`` on 25 units over one and two days of readings every minute (a
    smoke run, not a measurement): every reading written is exported, the figures are printed."""
    figures = _bench("export", "--assets", "25", "--days", "1,2", "--interval-s", "60")
    assert figures["rows_1d"] == str(25 * 1440)
    assert figures["rows_2d"] == str(25 * 2880)
    assert int(figures["rss_mb_2d"]) > 0


def test_the_detection_benchmark_runs_and_scores_against_the_simulator(tmp_path: Path) -> None:
    """``make bench-detect`` on 10 units over 36 days (a smoke run, not a measurement): the
    simulation is written, the passes replay, every figure is printed; the fleet it kept
    replays without InfluxDB, at the size it was kept, to the same figures (but the timings)."""
    kept = tmp_path / "fleet.json.gz"
    size = ("--units", "10", "--days", "36", "--pass-hours", "12")
    figures = _bench("detect", *size, "--keep", str(kept))
    assert figures["units"] == "10"
    assert figures["days"] == "36"
    assert float(figures["detect_s_per_1000_units"]) > 0
    assert {
        "recall",
        "recall_announceable",
        "median_lead_h",
        "precision",
        "false_per_100_unit_months",
    } <= set(figures)
    replayed = _bench("detect", "--replay", str(kept))  # its size and seed come from the file
    assert replayed.pop("replay") == "1"
    assert replayed.pop("detect_s_per_1000_units") == "nan"
    figures.pop("detect_s_per_1000_units")
    assert replayed == figures


def test_replaying_a_file_that_was_not_kept_is_a_clear_error(tmp_path: Path) -> None:
    other = tmp_path / "notes.json.gz"
    other.write_text("not a fleet")
    done = subprocess.run(
        [sys.executable, "-m", "bench.detect", "--replay", str(other)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "is not a kept detection benchmark" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_detection_score_on_a_hand_computed_truth() -> None:
    """Three drifting units fail: A 10 h into its drift (no detector can announce it a day
    ahead), B warned 42 h ahead, C warned only 10 h ahead; D is healthy and warned once."""
    from datetime import UTC, datetime, timedelta

    from bench.detect import score
    from ingest.simulate import TruthRecord

    t0 = datetime(2026, 3, 29, tzinfo=UTC)  # the spring DST change in Europe: UTC stays regular
    h = timedelta(hours=1)

    def at(hours: float) -> float:
        return (t0 + hours * h).timestamp()

    truth = [
        *(TruthRecord(unit, "drift_started", at(0), "motor") for unit in "ABC"),
        TruthRecord("A", "failed", at(10), "motor"),
        TruthRecord("B", "failed", at(72), "doors"),
        TruthRecord("C", "failed", at(50), "motor"),
    ]
    warnings = [("B", t0 + 30 * h), ("C", t0 + 40 * h), ("D", t0 + 5 * h)]
    result = score(truth, warnings, t0, t0 + 30 * 24 * h, units=4)
    assert result.drift_failures == 3
    assert result.recall == 1 / 3  # only B was warned 24 h ahead
    assert result.recall_announceable == 1 / 2  # of B and C, whose drifts were a day old
    assert result.median_lead_h == 26  # the median of 42 and 10
    assert result.precision == 2 / 3
    assert result.false_per_100_unit_months == 100 / 4  # one false warning in 4 unit-months


def test_the_health_benchmark_runs_and_reports_both_years() -> None:
    """``make bench-health`` on 20 customers (a smoke run, not a measurement)."""
    figures = _bench("health", "--customers", "20")
    for year in ("y1", "y2"):
        assert 0.0 <= float(figures[f"{year}_auc"]) <= 1.0
        assert float(figures[f"{year}_coef_err_fm"]) >= 0
        assert f"{year}_precision_at_10" in figures
