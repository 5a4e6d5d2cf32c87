"""In Chromium, as a facility manager gets their data back: they open last month's service
report from the menu (in French, their language), then ask for an export of yesterday's
data, watch its progress while the worker writes it from a real InfluxDB, and download the
ZIP, which holds every reading written."""

from __future__ import annotations

import csv
import io
import threading
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from devstack.servers import Influxd
from fleet.db import Database
from ingest.influx import V1Writer
from portal.app import create_app
from portal.influxql import TelemetryReader
from portal.reports.monthly import month_name, previous_month
from portal.worker import Worker
from tests.conftest import make_settings
from tests.e2e.conftest import LiveServer, login_page

pytestmark = pytest.mark.browser
READINGS = 720  # two hours, one every 10 s, on one elevator of Tour Lumière


@pytest.fixture
def served(sqlite_demo_url: str, influxd: Influxd, tmp_path: Path) -> Iterator[tuple[LiveServer, datetime]]:
    """The portal and a worker on the demo data, yesterday's readings in a real InfluxDB."""
    bucket = f"give_{uuid.uuid4().hex[:8]}"
    writer = V1Writer(influxd.url, bucket)
    writer.ensure_database()
    paris_yesterday = (datetime.now(ZoneInfo("Europe/Paris")) - timedelta(days=1)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    t0 = int(paris_yesterday.timestamp() * 1000)
    writer.write([f"telemetry,asset=ELV-0101 trips={n}.0 {t0 + n * 10_000}" for n in range(READINGS)])
    writer.close()
    settings = make_settings(
        sqlite_demo_url,
        login_max_failures_per_ip=10_000,
        influx_url=influxd.url,
        influx_bucket=bucket,
        influx_write_api="v1",
        export_dir=str(tmp_path / "exports"),
        worker_interval_s=0.2,
    )
    app = create_app(settings)
    db = Database(sqlite_demo_url)
    reader = TelemetryReader(influxd.url, bucket)
    worker = Worker(settings, db, reader)
    exports = threading.Thread(target=worker.export_loop, daemon=True)
    exports.start()
    with LiveServer(app) as server:
        yield server, paris_yesterday
    worker.stop.set()
    exports.join(10)
    reader.close()
    db.dispose()
    app.extensions["fleet.db"].dispose()


def test_a_facility_manager_reads_last_months_report_and_downloads_an_export(
    browser: Any, served: tuple[LiveServer, datetime], artifacts_dir: Path, tmp_path: Path
) -> None:
    server, day = served
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB", accept_downloads=True)
    page = ctx.new_page()
    login_page(page, server.url, "fm@demo.example")
    page.get_by_role("link", name="Rapports").click()
    page.wait_for_load_state()
    page.locator("a[href^='/reports/']:not([download])").first.click()
    page.wait_for_load_state()
    report = page.locator("article.report")
    assert report.get_attribute("data-audience") == "full"
    last_month = month_name(previous_month(datetime.now(UTC), "Europe/Paris"), "fr")
    assert report.locator("h1").inner_text() == f"Lumière Immobilier · {last_month}"
    assert report.locator(".report-kicker").text_content() == "Rapport de service mensuel"
    assert "%" in report.locator("[data-figure=availability]").first.inner_text()
    assert page.locator("svg.report-chart rect").count() >= 2
    page.screenshot(path=str(artifacts_dir / "monthly-report.png"), full_page=True)

    page.get_by_role("link", name="Exporter les données").click()
    page.wait_for_load_state()
    page.get_by_label("Site").select_option(label="Tour Lumière")
    page.locator("#e-start").fill(day.date().isoformat())
    page.locator("#e-end").fill(day.date().isoformat())
    page.get_by_role("button", name="Préparer l’export").click()
    page.wait_for_load_state()
    status = page.locator(".export-status")
    assert page.locator("progress#export-progress").count() == 1
    page.locator(".export-status[data-state=done]").wait_for(state="attached", timeout=60_000)
    assert page.locator("progress#export-progress").evaluate("bar => bar.value") == 100
    assert status.locator(".export-download").is_visible()
    page.screenshot(path=str(artifacts_dir / "data-export-ready.png"), full_page=True)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Télécharger le ZIP").click()
    saved = tmp_path / "export.zip"
    download_info.value.save_as(saved)
    ctx.close()
    with zipfile.ZipFile(saved) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("telemetry.csv").decode("utf-8-sig"))))
        assert {"README.md", "data-dictionary.json", "visits.csv", "telemetry.lp"} <= set(archive.namelist())
    assert len(rows) == READINGS
    assert rows[0]["time"] == day.astimezone(UTC).isoformat(timespec="milliseconds")
