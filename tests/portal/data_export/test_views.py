"""The Export data page on demo data: ask, follow, and refusals (the ZIP itself is checked
against a real InfluxDB in test_export.py and in Chromium)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from fleet.db import utcnow
from portal.data_export import jobs
from portal.influxql import TelemetryReader

Login = Callable[[str], FlaskClient]


def test_a_facility_manager_asks_for_an_export_and_follows_it(
    app: Flask, login: Login, tmp_path: Path
) -> None:
    fm = login("fm@demo.example")
    page = fm.get("/exports")
    assert page.status_code == 200
    assert 'name="start"' in page.get_data(as_text=True)
    asked = fm.post(
        "/exports",
        data={"site_id": "", "units": "", "start": "2026-11-01", "end": "2026-11-02", "customer_id": ""},
    )
    assert asked.status_code == 400  # which customer?
    customer = (
        fm.get("/exports")
        .get_data(as_text=True)
        .split('name="customer_id"')[1]
        .split('value="')[1]
        .split('"')[0]
    )
    asked = fm.post("/exports", data={"customer_id": customer, "start": "2026-11-01", "end": "2026-11-02"})
    assert asked.status_code == 302
    url = asked.headers["Location"]
    export_id = int(url.rsplit("/", 1)[1])
    assert 'data-state="queued"' in fm.get(url).get_data(as_text=True)
    assert fm.get(f"{url}/status").get_json() == {
        "state": "queued",
        "progress": 0,
        "error": None,
        "download_url": None,
    }
    assert fm.get(f"{url}/download").status_code == 409
    # nobody else's: another facility manager, even of the same portal, finds nothing
    assert login("fm.habitat@demo.example").get(url).status_code == 404
    assert login("staff@demo.example").get(f"{url}/download").status_code == 404
    # the worker finds no telemetry store: the export fails with its reason, nothing is lost
    db = app.extensions["fleet.db"]
    gone = TelemetryReader("http://127.0.0.1:9", "nothing", timeout_s=1)
    while jobs.run_next(db.sessionmaker, gone, jobs.ExportRules(folder=tmp_path), utcnow):
        pass
    status = fm.get(f"/exports/{export_id}/status").get_json()
    assert status["state"] == "failed"
    assert "unreachable" in status["error"]
    assert "unreachable" in fm.get(url).get_data(as_text=True)


def test_bad_requests_are_explained(login: Login) -> None:
    fm = login("fm@demo.example")
    refused = fm.post("/exports", data={"start": "yesterday", "end": "2026-11-02", "units": "NOPE-1"})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "AAAA-MM-JJ" in text  # fm reads French
    assert "NOPE-1" in text
    assert 'value="NOPE-1"' in text  # what was typed stays
    other = fm.post("/exports", data={"units": "ELV-0301", "start": "2026-11-01", "end": "2026-11-02"})
    assert other.status_code == 400  # another customer's unit is not known to them
    assert login("tech@demo.example").get("/exports").status_code == 403
    assert login("hoa.tilleuls@demo.example").get("/exports").status_code == 403
