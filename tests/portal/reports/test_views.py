"""Monthly reports in the portal (demo data: last month's reports are issued with it): the
archive per scope, each reader's reading and language, the PDF, and the 404 rule."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from fleet.models import Customer, MonthlyReport, Site

Login = Callable[[str], FlaskClient]


def _ids(app: Flask) -> dict[str, int]:
    """Report ids by site or customer name."""
    with app.extensions["fleet.db"].sessionmaker() as session:
        rows = session.execute(
            select(MonthlyReport.id, Site.name, Customer.name)
            .join(Customer, MonthlyReport.customer_id == Customer.id)
            .outerjoin(Site, MonthlyReport.site_id == Site.id)
        ).all()
    return {site or f"customer {customer}": rid for rid, site, customer in rows}


def test_the_archive_lists_the_reports_in_scope(app: Flask, login: Login) -> None:
    ids = _ids(app)
    fm = login("fm@demo.example").get("/reports").get_data(as_text=True)
    assert f'/reports/{ids["customer Lumière Immobilier"]}"' in fm
    assert f'/reports/{ids["Tour Lumière"]}"' in fm
    assert f'/reports/{ids["Résidence Les Tilleuls"]}"' not in fm  # another customer's building
    hoa = login("hoa.tilleuls@demo.example").get("/reports").get_data(as_text=True)
    assert f'/reports/{ids["Résidence Les Tilleuls"]}"' in hoa
    assert (
        f'/reports/{ids["customer Habitat Rhône-Léman"]}"' not in hoa
    )  # the other residences of the customer
    staff = login("staff@demo.example")
    assert len(ids) == 8
    listed = staff.get("/reports").get_data(as_text=True)
    assert all(f'/reports/{rid}"' in listed for rid in ids.values())


def test_each_reader_gets_their_reading_in_their_language(app: Flask, login: Login) -> None:
    ids = _ids(app)
    page = login("hoa.tilleuls@demo.example").get(f"/reports/{ids['Résidence Les Tilleuls']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-audience="plain"' in html
    assert "Rapport de service mensuel" in html
    assert "Satisfaction" not in html
    fm = login("fm@demo.example").get(f"/reports/{ids['customer Lumière Immobilier']}").get_data(as_text=True)
    assert 'data-audience="full"' in fm
    assert "MTBF" in fm
    staff = login("staff@demo.example").get(f"/reports/{ids['Tour Lumière']}").get_data(as_text=True)
    assert "Satisfaction by stakeholder group" in staff
    assert "Monthly service report" in staff


def test_the_pdf_is_the_same_report(app: Flask, login: Login, tmp_path: Path) -> None:
    ids = _ids(app)
    with app.extensions["fleet.db"].sessionmaker() as session:
        report = session.get(MonthlyReport, ids["Tour Lumière"])
        assert report is not None
        availability = report.figures["totals"]["availability"]
    resp = login("staff@demo.example").get(f"/reports/{ids['Tour Lumière']}/pdf")
    assert resp.status_code == 200
    assert resp.mimetype == "application/pdf"
    assert "attachment" in resp.headers["Content-Disposition"]
    path = tmp_path / "r.pdf"
    path.write_bytes(resp.data)
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout
    text = " ".join(text.replace("\u202f", " ").split())
    assert "Tour Lumière" in text
    assert f"{availability:.2f} %" in text


def test_out_of_scope_is_not_found_and_technicians_are_refused(app: Flask, login: Login) -> None:
    ids = _ids(app)
    hoa = login("hoa.tilleuls@demo.example")
    assert hoa.get(f"/reports/{ids['Tour Lumière']}").status_code == 404
    assert hoa.get(f"/reports/{ids['customer Habitat Rhône-Léman']}/pdf").status_code == 404
    assert login("fm.habitat@demo.example").get(f"/reports/{ids['Tour Lumière']}").status_code == 404
    tech = login("tech@demo.example")
    assert tech.get(f"/reports/{ids['Tour Lumière']}").status_code == 403  # in the route, not a reader
    assert tech.get("/reports").status_code == 403
