"""The portfolio and KPI exports: paged by id with cursors, JSON or CSV, exactly the units of
the account's scope, and KPI figures equal to the KPI module's over the same units."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from fleet.db import utcnow
from fleet.models import Asset, Site, User
from portal.api.exports import KPI_COLUMNS, PORTFOLIO_COLUMNS, encode_cursor
from portal.kpi import levers

Bearer = Callable[[str], dict[str, str]]


def _units_of(app: Flask, email: str) -> set[int]:
    with app.extensions["fleet.db"].sessionmaker() as s:
        customer = s.scalars(select(User.customer_id).where(User.email == email)).one()
        stmt = select(Asset.id).join(Site).where(Site.customer_id == customer, Asset.archived_at.is_(None))
        return set(s.scalars(stmt))


def test_the_portfolio_pages_through_every_unit_in_scope_once(app: Flask, bearer: Bearer) -> None:
    client, fm = app.test_client(), bearer("fm@demo.example")
    seen: list[int] = []
    cursor: str | None = None
    while True:
        page = client.get("/api/v1/portfolio", query_string={"limit": 3, "cursor": cursor or ""}, headers=fm)
        assert page.status_code == 200, page.get_data(as_text=True)
        body = page.get_json()
        seen += [row["asset_id"] for row in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen)  # by id
    assert set(seen) == _units_of(app, "fm@demo.example")
    assert len(seen) == len(set(seen))


def test_the_portfolio_as_csv_follows_link_headers(app: Flask, bearer: Bearer) -> None:
    client, staff = app.test_client(), bearer("staff@demo.example")
    url: str | None = "/api/v1/portfolio?limit=10"
    rows: list[dict[str, str]] = []
    while url:
        resp = client.get(url, headers={**staff, "Accept": "text/csv"})
        assert resp.mimetype == "text/csv"
        reader = csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff")))
        assert tuple(reader.fieldnames or ()) == PORTFOLIO_COLUMNS
        rows += list(reader)
        link = re.match(r'<([^>]+)>; rel="next"', resp.headers.get("Link", ""))
        url = link.group(1) if link else None
    with app.extensions["fleet.db"].sessionmaker() as s:
        every = set(s.scalars(select(Asset.id).where(Asset.archived_at.is_(None))))
    assert {int(r["asset_id"]) for r in rows} == every
    assert {r["state"] for r in rows} <= {
        "in_service",
        "out_of_service",
        "maintenance",
        "degraded",
        "offline",
        "unknown",
    }


@pytest.mark.parametrize("level", ["asset", "site", "customer"])
def test_kpis_per_level_match_the_kpi_module(app: Flask, bearer: Bearer, level: str) -> None:
    client, fm = app.test_client(), bearer("fm@demo.example")
    end = utcnow().replace(microsecond=0)
    start = end - timedelta(days=90)
    query = {"level": level, "start": start.isoformat(), "end": end.isoformat(), "limit": 2}
    rows: list[dict[str, object]] = []
    while True:
        page = client.get("/api/v1/kpis", query_string=query, headers=fm)
        assert page.status_code == 200, page.get_data(as_text=True)
        rows += page.get_json()["items"]
        if page.get_json()["next_cursor"] is None:
            break
        query["cursor"] = page.get_json()["next_cursor"]
    assert {r["level"] for r in rows} == {level}
    units = _units_of(app, "fm@demo.example")
    assert sum(int(r["assets"]) for r in rows) == len(units)  # every unit counted once
    with app.extensions["fleet.db"].sessionmaker() as s:
        for row in rows:
            column = {"asset": Asset.id, "site": Asset.site_id, "customer": Site.customer_id}[level]
            ids = list(
                s.scalars(select(Asset.id).join(Site).where(column == row["id"], Asset.archived_at.is_(None)))
            )
            reference = levers(s, ids, start, end)
            expected = round(reference.availability, 3) if reference.availability is not None else None
            assert row["availability_pct"] == expected, row
            assert row["outages"] == reference.outages


def test_kpis_are_for_staff_and_facility_managers_and_cursors_are_checked(app: Flask, bearer: Bearer) -> None:
    client = app.test_client()
    assert client.get("/api/v1/kpis", headers=bearer("hoa.tilleuls@demo.example")).status_code == 403
    staff = bearer("staff@demo.example")
    csv_page = client.get("/api/v1/kpis?format=csv&level=customer", headers=staff)
    header = csv_page.get_data(as_text=True).lstrip("\ufeff").splitlines()[0]
    assert tuple(header.split(",")) == KPI_COLUMNS
    time_cursor = encode_cursor(utcnow(), 5)  # an outages cursor is not a KPI cursor
    wrong = client.get(f"/api/v1/kpis?cursor={time_cursor}", headers=staff)
    assert wrong.status_code == 422
    assert "cursor" in wrong.get_json()["fields"]
    backwards = client.get("/api/v1/kpis?start=2026-06-01T00:00:00Z&end=2026-05-01T00:00:00Z", headers=staff)
    assert backwards.status_code == 422
    naive = client.get("/api/v1/kpis?start=2026-06-01T00:00:00", headers=staff)
    assert naive.status_code == 400
    assert list(naive.get_json()["fields"]) == ["start"]
