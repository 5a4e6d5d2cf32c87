"""An integrator with a token pulls a month of outages as CSV, page by page, following the
``Link`` header, and gets exactly the outages of their scope; JSON pages carry a cursor;
bad periods, cursors and sites are refused with the reason."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import or_, select

from fleet.db import utcnow
from fleet.models import Asset, Customer, Outage, Site, User, Visit
from tests.portal.tokens.test_tokens import _bearer, _create


def _expected(app: Flask, email: str, days: int) -> set[int]:
    """Outage ids of the account's customer overlapping the last ``days`` days (computed here)."""
    start = utcnow() - timedelta(days=days)
    with app.extensions["fleet.db"].sessionmaker() as s:
        customer = s.scalars(select(User.customer_id).where(User.email == email)).one()
        stmt = (
            select(Outage.id)
            .join(Asset)
            .join(Site)
            .where(Site.customer_id == customer, or_(Outage.ended_at.is_(None), Outage.ended_at >= start))
        )
        return set(s.scalars(stmt))


def test_a_month_of_outages_as_csv_page_by_page(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    token = _create(login("fm@demo.example"), "monthly export")
    machine = app.test_client()
    url: str | None = "/api/v1/outages?format=csv&limit=7"
    seen: list[int] = []
    pages = 0
    while url:
        resp = machine.get(url, headers=_bearer(token))
        assert resp.status_code == 200, resp.get_data(as_text=True)
        assert resp.mimetype == "text/csv"
        rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
        seen += [int(r["id"]) for r in rows]
        link = re.match(r'<([^>]+)>; rel="next"', resp.headers.get("Link", ""))
        url = link.group(1) if link else None
        pages += 1
    assert len(seen) == len(set(seen))  # no row twice across pages
    assert set(seen) == _expected(app, "fm@demo.example", 30)
    assert pages == max(1, -(-len(seen) // 7))  # a next page only when there are more rows


def test_json_pages_carry_a_cursor_and_accept_negotiates_csv(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    token = _create(login("staff@demo.example"), "json export")
    machine = app.test_client()
    first = machine.get("/api/v1/outages?limit=2", headers=_bearer(token)).get_json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    second = machine.get(
        f"/api/v1/outages?limit=2&cursor={first['next_cursor']}", headers=_bearer(token)
    ).get_json()
    assert {r["id"] for r in first["items"]}.isdisjoint({r["id"] for r in second["items"]})
    assert (first["items"][-1]["started_at"], first["items"][-1]["id"]) <= (
        second["items"][0]["started_at"],
        second["items"][0]["id"],
    )
    as_csv = machine.get("/api/v1/outages?limit=1", headers={**_bearer(token), "Accept": "text/csv"})
    assert as_csv.mimetype == "text/csv"


def test_bad_periods_cursors_and_sites_are_refused(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    token = _create(login("fm@demo.example"), "careless")
    machine = app.test_client()
    with app.extensions["fleet.db"].sessionmaker() as s:
        foreign = s.scalar(select(Site.id).join(Customer).where(Customer.name != "Lumière Immobilier"))
    cases = {
        "/api/v1/outages?start=2026-05-01T00:00:00Z&end=2026-04-01T00:00:00Z": 422,  # a rule across fields
        "/api/v1/outages?start=2020-01-01T00:00:00Z&end=2026-01-01T00:00:00Z": 422,
        "/api/v1/outages?start=2026-05-01T00:00:00": 400,  # not an RFC 3339 timestamp with its offset
        "/api/v1/outages?cursor=bm90LWEtY3Vyc29y": 422,  # a string, but not a cursor this API gave
        "/api/v1/outages?limit=0": 400,
        "/api/v1/outages?format=xml": 400,
        "/api/v1/outages?site=99999999999999": 400,
        f"/api/v1/outages?site={foreign}": 404,
    }
    for url, status in cases.items():
        resp = machine.get(url, headers=_bearer(token))
        assert resp.status_code == status, url
        assert resp.get_json()["error"]


def test_visits_export_pages_and_keeps_reports_from_technicians(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    manager = app.test_client()
    manager_token = _create(login("fm@demo.example"), "visits export")
    start, end = "2020-01-01T00:00:00Z", "2020-12-31T00:00:00Z"
    assert (
        manager.get(f"/api/v1/visits?start={start}&end={end}", headers=_bearer(manager_token)).get_json()[
            "items"
        ]
        == []
    )
    window = (utcnow() - timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")
    seen: list[int] = []
    url: str | None = f"/api/v1/visits?start={window}&limit=50"
    while url:
        page = manager.get(url, headers=_bearer(manager_token)).get_json()
        seen += [row["id"] for row in page["items"]]
        url = (
            f"/api/v1/visits?start={window}&limit=50&cursor={page['next_cursor']}"
            if page["next_cursor"]
            else None
        )
    with app.extensions["fleet.db"].sessionmaker() as s:
        customer = s.scalars(select(User.customer_id).where(User.email == "fm@demo.example")).one()
        expected = set(
            s.scalars(
                select(Visit.id)
                .join(Asset)
                .join(Site)
                .where(
                    Site.customer_id == customer,
                    Visit.scheduled_start >= utcnow() - timedelta(days=200),
                    Visit.scheduled_start < utcnow(),
                )
            )
        )
    assert len(seen) == len(set(seen))
    assert set(seen) == expected
    tech_token = _create(login("tech@demo.example"), "route export")
    rows = (
        app.test_client()
        .get(f"/api/v1/visits?start={window}&format=json", headers=_bearer(tech_token))
        .get_json()
    )
    assert rows["items"]
    assert all(r["report"] is None for r in rows["items"])  # reports are for customers and staff
