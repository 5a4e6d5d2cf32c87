"""In Chromium, the early warnings of the demo against readings in a real InfluxDB: a facility
manager (French, desktop) reads the plain sentence on the unit's page with the signal drawn
against its usual band; a technician on a phone finds the warning in the work list, opens
it, and records the finding, which closes it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from devstack.servers import Influxd
from fleet.db import Database
from fleet.models import Asset
from fleet.models.condition import WatchItem, WatchStatus
from ingest.influx import V1Writer
from portal.app import create_app
from tests.conftest import make_settings
from tests.e2e.conftest import LiveServer, login_page

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def _door_readings(mqtt_id: str, now: datetime) -> list[str]:
    """Ten days of readings every 10 minutes; the doors reopen more and more over the last two."""
    start = (now - timedelta(days=10)).replace(minute=0, second=0, microsecond=0)
    lines, cycles, reopenings = [], 0.0, 0.0
    for n in range(10 * 24 * 6):
        t = start + timedelta(minutes=10 * n)
        rate = 0.03 + (
            0.06 * (t - (now - timedelta(days=2))).total_seconds() / 172_800
            if t > now - timedelta(days=2)
            else 0
        )
        cycles += 20
        reopenings += 20 * rate
        lines.append(
            f"telemetry,asset={mqtt_id} trips={int(cycles / 2)}i,door_cycles={int(cycles)}i,"
            f"door_reopenings={int(reopenings)}i,motor_temp_c=41.0,load_pct=20.0 {int(t.timestamp() * 1000)}"
        )
    return lines


@pytest.fixture
def served(sqlite_demo_url: str, influxd: Influxd) -> Iterator[LiveServer]:
    bucket = f"warn_{uuid.uuid4().hex[:8]}"
    writer = V1Writer(influxd.url, bucket)
    writer.ensure_database()
    writer.write(_door_readings("ELV-0105", datetime.now(UTC)))
    writer.close()
    settings = make_settings(
        sqlite_demo_url, login_max_failures_per_ip=10_000, influx_url=influxd.url, influx_bucket=bucket
    )
    app = create_app(settings)
    with LiveServer(app) as server:
        yield server
    app.extensions["fleet.db"].dispose()


def test_the_customer_reads_the_sentence_and_the_technician_records_the_finding(
    browser: Any, served: LiveServer, sqlite_demo_url: str, artifacts_dir: Path
) -> None:
    db = Database(sqlite_demo_url)
    with db.session() as s:
        asset_id = s.scalar(select(Asset.id).where(Asset.mqtt_id == "ELV-0105"))
        item_id = s.scalar(select(WatchItem.id).where(WatchItem.asset_id == asset_id))

    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = ctx.new_page()
    login_page(page, served.url, "fm@demo.example")
    page.goto(f"{served.url}/assets/{asset_id}")
    sentence = page.locator(".watch-sentence")
    assert (
        "nos capteurs voient les portes se rouvrir plus souvent que d’habitude"
        in sentence.inner_text().replace("'", "’")
    )
    chart = page.locator("svg.signal-chart")
    assert chart.locator("rect.band").count() == 1
    assert chart.locator("rect.warn-period").count() == 1
    assert len(chart.locator("polyline.signal").get_attribute("points").split()) > 100  # hourly values
    page.locator("#charts[data-loaded=true]").wait_for(state="attached", timeout=10_000)
    shaded = page.locator("figure.chart[data-field=door_reopenings]")
    assert shaded.get_attribute("data-overlay") == "true"  # the warning's period is drawn on the chart
    page.screenshot(path=str(artifacts_dir / "warning-fm-asset.png"), full_page=True)
    ctx.close()

    phone = browser.new_context(viewport=PHONE, locale="en-GB", is_mobile=True, has_touch=True)
    page = phone.new_page()
    login_page(page, served.url, "tech@demo.example")
    page.get_by_role("link", name="Work list").click()
    page.wait_for_load_state()
    tier = page.locator("section[aria-labelledby=warn-h]")
    assert tier.locator(".watch-item").count() == 2
    assert tier.locator("svg.signal-chart polyline.signal").count() >= 1  # ELV-0105 has readings
    page.screenshot(path=str(artifacts_dir / "warning-tech-worklist.png"), full_page=True)
    tier.locator(f"[data-watch-id='{item_id}'] a").click()
    page.wait_for_load_state()
    assert "Door re-openings" in page.locator("h1").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling
    page.get_by_label("What did you find?").select_option(label="Door sensor dirty or misaligned")
    page.get_by_role("button", name="Confirm and close").click()
    page.wait_for_load_state()
    assert page.locator("[data-status]").get_attribute("data-status") == "confirmed"
    assert "Door sensor dirty or misaligned" in page.locator("dl.facts").inner_text()
    page.screenshot(path=str(artifacts_dir / "warning-tech-confirmed.png"), full_page=True)
    phone.close()
    with db.session() as s:
        item = s.get(WatchItem, item_id)
        assert item is not None
        assert item.status is WatchStatus.CONFIRMED
        assert item.finding_code == "door_sensor"
    db.dispose()
