"""Every stakeholder group against every kind of object, through pages and the API.

The expected visibility is written out by hand from the demo portfolio, not
computed with the code under test.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from fleet.models import Asset, Customer, Site
from portal.live.server import socketio_of

OFFICE = "Lumière Immobilier"
HOMES = "Habitat Rhône-Léman"
OFFICE_SITES = {"Tour Lumière", "Centre d'affaires Part-Dieu"}
HOME_SITES = {
    "Résidence Les Tilleuls",
    "Résidence Le Belvédère",
    "Résidence Bord du Lac",
    "Résidence Mont-Royal",
}
ALL_SITES = OFFICE_SITES | HOME_SITES
TECH_SITES = {"Tour Lumière", "Résidence Les Tilleuls", "Résidence Le Belvédère"}

# account -> (visible customers, visible sites)
EXPECTED: dict[str, tuple[set[str], set[str]]] = {
    "fm@demo.example": ({OFFICE}, OFFICE_SITES),
    "fm.habitat@demo.example": ({HOMES}, HOME_SITES),
    "hoa.tilleuls@demo.example": ({HOMES}, {"Résidence Les Tilleuls"}),
    "hoa.montroyal@demo.example": ({HOMES}, {"Résidence Mont-Royal"}),
    "tech@demo.example": ({OFFICE, HOMES}, TECH_SITES),
    "staff@demo.example": ({OFFICE, HOMES}, ALL_SITES),
}


@pytest.fixture(scope="module")
def objects(app: Flask) -> dict[str, dict[str, int]]:
    """Ids of every customer, site and asset, by name (assets keyed 'site/asset')."""
    session = app.extensions["fleet.db"].sessionmaker()
    with session:
        customers = {c.name: c.id for c in session.scalars(select(Customer))}
        sites = {s.name: s.id for s in session.scalars(select(Site))}
        assets = {
            f"{site}/{name}": aid
            for aid, name, site in session.execute(select(Asset.id, Asset.name, Site.name).join(Site))
        }
    return {"customers": customers, "sites": sites, "assets": assets}


@pytest.mark.parametrize("email", sorted(EXPECTED))
def test_each_group_sees_exactly_its_scope(
    email: str, login: Callable[[str], FlaskClient], objects: dict[str, dict[str, int]]
) -> None:
    client = login(email)
    want_customers, want_sites = EXPECTED[email]
    for name, cid in objects["customers"].items():
        expected = 200 if name in want_customers else 404
        assert client.get(f"/customers/{cid}").status_code == expected, (email, name)
        assert client.get(f"/api/v1/customers/{cid}").status_code == expected, (email, name)
    for name, sid in objects["sites"].items():
        expected = 200 if name in want_sites else 404
        assert client.get(f"/sites/{sid}").status_code == expected, (email, name)
        assert client.get(f"/api/v1/sites/{sid}").status_code == expected, (email, name)
    for key, aid in objects["assets"].items():
        expected = 200 if key.split("/")[0] in want_sites else 404
        assert client.get(f"/assets/{aid}").status_code == expected, (email, key)
        assert client.get(f"/api/v1/assets/{aid}").status_code == expected, (email, key)
        telemetry = client.get(f"/api/v1/assets/{aid}/telemetry").status_code
        # in scope: answered (503 here, as this app's InfluxDB is not running); else 404
        assert telemetry == (503 if expected == 200 else 404), (email, key)
    # asking for ids outside the scope narrows to nothing rather than leaking them
    every_id = ",".join(str(i) for i in objects["assets"].values())
    narrowed = client.get(f"/api/v1/assets?ids={every_id}").get_json()["items"]
    assert {a["id"] for a in narrowed} == {
        objects["assets"][k] for k in objects["assets"] if k.split("/")[0] in want_sites
    }
    # the live channel: joining every site's room is granted exactly for the sites in scope
    sio = socketio_of(client.application).test_client(client.application, flask_test_client=client)
    assert sio.is_connected()
    ack = sio.emit("join", {"sites": sorted(objects["sites"].values())}, callback=True)
    assert ack["rooms"] == len(want_sites), email
    assert set(ack["refused"]["sites"]) == {
        objects["sites"][n] for n in objects["sites"] if n not in want_sites
    }
    sio.disconnect()

    listed_sites = {s["name"] for s in client.get("/api/v1/sites").get_json()["items"]}
    assert listed_sites == want_sites
    listed_customers = {c["name"] for c in client.get("/api/v1/customers").get_json()["items"]}
    assert listed_customers == want_customers
    listed_assets = client.get("/api/v1/assets").get_json()["items"]
    want_assets = {k for k in objects["assets"] if k.split("/")[0] in want_sites}
    assert {a["id"] for a in listed_assets} == {objects["assets"][k] for k in want_assets}
    # a customer page lists only the sites in scope
    for name in want_customers:
        detail = client.get(f"/api/v1/customers/{objects['customers'][name]}").get_json()
        assert {s["name"] for s in detail["sites"]} <= want_sites


def test_not_found_page_does_not_leak_other_tenant_data(
    login: Callable[[str], FlaskClient], objects: dict[str, dict[str, int]]
) -> None:
    client = login("hoa.tilleuls@demo.example")
    resp = client.get(f"/sites/{objects['sites']['Tour Lumière']}")
    assert resp.status_code == 404
    assert "Tour Lumière".encode() not in resp.data
    api = client.get(f"/api/v1/assets/{objects['assets']['Tour Lumière/Elevator A']}")
    assert api.status_code == 404
    assert api.get_json() == {"error": "Not found."}


def test_resident_link_reaches_one_asset_only(app: Flask, objects: dict[str, dict[str, int]]) -> None:
    session = app.extensions["fleet.db"].sessionmaker()
    with session:
        asset = session.scalar(select(Asset).where(Asset.mqtt_id == "ELV-0301"))
        assert asset is not None
        token, asset_id = asset.public_token, asset.id
    client = app.test_client()
    page = client.get(f"/r/{token}")
    assert page.status_code == 200
    assert b"Elevator A" in page.data
    assert b"Habitat" not in page.data  # nothing about the customer
    data = client.get(f"/api/v1/resident/{token}").get_json()
    assert data["id"] == asset_id
    assert "mqtt_id" not in data
    assert "serial_number" not in data
    assert "site_id" not in data
    # the link opens no other door
    for path in (f"/assets/{asset_id}", f"/sites/{objects['sites']['Résidence Les Tilleuls']}", "/"):
        assert client.get(path).status_code == 302  # to the login page
    for path in (f"/api/v1/assets/{asset_id}", "/api/v1/assets", "/api/v1/sites", "/api/v1/customers"):
        assert client.get(path).status_code == 401
    # wrong, truncated and oversized tokens are simply not found
    for bad in (token[:-1], token + "x", "x" * 500, "%00"):
        assert client.get(f"/r/{bad}").status_code == 404


@pytest.mark.parametrize(
    "path", ["/assets/abc", "/assets/-1", "/sites/1.5", "/customers/99999999", "/api/v1/sites/x"]
)
def test_malformed_and_unknown_ids_answer_404(login: Callable[[str], FlaskClient], path: str) -> None:
    client = login("staff@demo.example")
    assert client.get(path).status_code == 404


def test_anonymous_is_sent_to_login(app: Flask) -> None:
    client = app.test_client()
    resp = client.get("/sites/1")
    assert resp.status_code == 302
    assert "/auth/login?next=/sites/1" in resp.headers["Location"]
    assert client.get("/api/v1/me").status_code == 401


def test_api_reports_availability_against_target(login: Callable[[str], FlaskClient]) -> None:
    items = login("fm@demo.example").get("/api/v1/assets").get_json()["items"]
    for item in items:
        avail = item["availability"]
        assert avail["target"] == 99.8  # office contracts in the demo
        assert 0 <= avail["days_30"] <= 100
        assert 0 <= avail["days_90"] <= 100
    down = next(i for i in items if i["mqtt_id"] == "ELV-0103")  # out of service for 2 h 10 min
    assert down["availability"]["days_30"] < 100
