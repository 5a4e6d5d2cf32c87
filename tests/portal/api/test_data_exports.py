"""The data export through the API with a token: ask, follow, refusals, and the ZIP once
the worker wrote it (against no InfluxDB here: the export fails with its reason; the ZIP
itself is tested against a real InfluxDB in tests/portal/data_export)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from fleet.db import utcnow
from fleet.models import Site, User
from portal.data_export import jobs
from portal.influxql import TelemetryReader

Bearer = Callable[[str], dict[str, str]]


def test_an_integrator_asks_for_an_export_and_follows_it(app: Flask, bearer: Bearer, tmp_path: Path) -> None:
    client, fm = app.test_client(), bearer("fm@demo.example")
    with app.extensions["fleet.db"].sessionmaker() as s:
        customer = s.scalars(select(User.customer_id).where(User.email == "fm@demo.example")).one()
        elsewhere = s.scalars(select(Site.id).where(Site.customer_id != customer)).first()
    period = {"start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00+01:00"}
    asked = client.post("/api/v1/exports", json={"customer_id": customer, **period}, headers=fm)
    assert asked.status_code == 202, asked.get_data(as_text=True)
    export = asked.get_json()
    assert (export["state"], export["progress"], export["download_url"]) == ("queued", 0, None)
    assert export["asset_count"] > 0
    followed = client.get(f"/api/v1/exports/{export['id']}", headers=fm)
    assert followed.get_json()["state"] == "queued"
    assert client.get(f"/api/v1/exports/{export['id']}/download", headers=fm).status_code == 409
    staff = bearer("staff@demo.example")
    assert client.get(f"/api/v1/exports/{export['id']}", headers=staff).status_code == 404  # not theirs
    # out of scope, refused by a rule, or not matching the description
    assert (
        client.post("/api/v1/exports", json={"site_id": elsewhere, **period}, headers=fm).status_code == 404
    )
    backwards = client.post(
        "/api/v1/exports",
        json={"customer_id": customer, "start": period["end"], "end": period["start"]},
        headers=fm,
    )
    assert backwards.status_code == 422
    assert list(backwards.get_json()["fields"]) == ["end"]
    assert client.post("/api/v1/exports", json={"customer_id": customer}, headers=fm).status_code == 400
    tech = bearer("tech@demo.example")
    with app.extensions["fleet.db"].sessionmaker() as s:
        route = s.scalars(select(User).where(User.email == "tech@demo.example")).one().sites[0].id
    assert client.post("/api/v1/exports", json={"site_id": route, **period}, headers=tech).status_code == 403
    db = app.extensions["fleet.db"]
    gone = TelemetryReader("http://127.0.0.1:9", "nothing", timeout_s=1)
    while jobs.run_next(db.sessionmaker, gone, jobs.ExportRules(folder=tmp_path), utcnow):
        pass
    failed = client.get(f"/api/v1/exports/{export['id']}", headers=fm).get_json()
    assert failed["state"] == "failed"
    assert "unreachable" in failed["error"]
    assert client.get(f"/api/v1/exports/{export['id']}/download", headers=fm).status_code == 409
