"""Registry pages: an administrator creates a customer, a site, a unit and a contract; bad
input is refused field by field with what was typed kept; archiving hides from daily views
and keeps history; non-administrators are refused (404 out of scope, 403 in scope)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import select

from fleet.broker_auth import verify_hash
from fleet.db import utcnow
from fleet.models import Asset, AuditEntry, Contract, Customer, Gateway, Outage, Site
from portal.app import create_app
from portal.registry import service
from tests.conftest import logged_in_client, make_settings

EN = {"Accept-Language": "en"}


def _id_from(location: str) -> int:
    return int(location.rstrip("/").rsplit("/", 1)[1])


def _new_fleet(admin: FlaskClient, tag: str) -> tuple[int, int, int]:
    """A customer, a site and a unit created through the pages; their ids."""
    customer = admin.post("/admin/customers/new", data={"name": f"Customer {tag}"})
    assert customer.status_code == 302, customer.get_data(as_text=True)
    customer_id = _id_from(customer.headers["Location"])
    site = admin.post(
        "/admin/sites/new",
        data={
            "customer_id": str(customer_id),
            "name": "Main building",
            "kind": "office",
            "address": "1 Main St",
            "postal_code": "75001",
            "city": "Paris",
            "country": "fr",
            "timezone": "Europe/Paris",
        },
    )
    assert site.status_code == 302, site.get_data(as_text=True)
    site_id = _id_from(site.headers["Location"])
    unit = admin.post(
        "/admin/assets/new",
        data={
            "site_id": str(site_id),
            "name": "Lift A",
            "kind": "elevator",
            "mqtt_id": f"T-{tag}",
            "manufacturer": "Acme",
            "model": "X1",
            "serial_number": "S1",
            "install_date": "2015-06-01",
            "rated_load_kg": "630",
            "floors_served": "8",
            "contract_level": "premium",
            "availability_target": "99.5",
        },
    )
    assert unit.status_code == 302, unit.get_data(as_text=True)
    return customer_id, site_id, _id_from(unit.headers["Location"])


def test_an_administrator_builds_a_customer_site_unit_and_contract(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    admin = login("staff@demo.example")
    tag = uuid.uuid4().hex[:6]
    customer_id, site_id, asset_id = _new_fleet(admin, tag)
    contract = admin.post(
        "/admin/contracts/new",
        data={
            "customer_id": str(customer_id),
            "reference": "C-1",
            "start_date": "2026-01-01",
            "end_date": "2028-12-31",
            "notice_days": "90",
            "yearly_value": "12 500,00",
            "currency": "eur",
            "availability_target": "99.5",
            "response_hours": "4",
            "units_owned": "4",
            "share_sensor_warnings": "yes",
            "site_ids": [str(site_id)],
        },
    )
    assert contract.status_code == 302, contract.get_data(as_text=True)
    with app.extensions["fleet.db"].sessionmaker() as s:
        unit = s.get(Asset, asset_id)
        assert unit is not None
        assert unit.site_id == site_id
        assert unit.rated_load_kg == 630
        stored = s.scalars(select(Contract).where(Contract.customer_id == customer_id)).one()
        assert str(stored.yearly_value) == "12500.00"
        assert stored.currency == "EUR"
        assert stored.maintained_share() == 0.25  # one unit of the four the customer owns
        assert stored.share_sensor_warnings is True
        actions = set(
            s.scalars(
                select(AuditEntry.action).where(
                    AuditEntry.object_id.in_([customer_id, site_id, asset_id, stored.id])
                )
            )
        )
    assert {"customer.created", "site.created", "asset.created", "contract.created"} <= actions
    page = admin.get(f"/admin/contracts/{stored.id}", headers=EN).get_data(as_text=True)
    assert "25 %" in page


def test_bad_input_is_refused_per_field_and_what_was_typed_stays(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    admin = login("staff@demo.example")
    tag = uuid.uuid4().hex[:6]
    customer_id, site_id, _asset = _new_fleet(admin, tag)
    bad_site = admin.post(
        "/admin/sites/new",
        headers=EN,
        data={
            "customer_id": str(customer_id),
            "name": "Annex",
            "kind": "office",
            "address": "2 Main St",
            "city": "Paris",
            "country": "France",
            "timezone": "Europe/Pariss",
        },
    )
    page = bad_site.get_data(as_text=True)
    assert bad_site.status_code == 400
    assert "An IANA time zone such as Europe/Paris." in page
    assert "A two-letter country code" in page
    assert 'value="Europe/Pariss"' in page
    assert 'value="2 Main St"' in page
    twin = admin.post(
        "/admin/assets/new",
        headers=EN,
        data={
            "site_id": str(site_id),
            "name": "Lift B",
            "kind": "elevator",
            "mqtt_id": f"T-{tag}",
            "install_date": "2999-01-01",
            "availability_target": "101",
        },
    )
    page = twin.get_data(as_text=True)
    assert twin.status_code == 400
    assert "The install date cannot be in the future." in page
    assert "at most 100" in page
    duplicate = admin.post(
        "/admin/assets/new",
        headers=EN,
        data={
            "site_id": str(site_id),
            "name": "Lift B",
            "kind": "elevator",
            "mqtt_id": f"T-{tag}",
            "install_date": "2001-01-01",
        },
    )
    assert duplicate.status_code == 400
    assert "Another unit already uses this MQTT id." in duplicate.get_data(as_text=True)
    backwards = admin.post(
        "/admin/contracts/new",
        headers=EN,
        data={
            "customer_id": str(customer_id),
            "reference": "C-2",
            "start_date": "2027-01-01",
            "end_date": "2026-01-01",
            "notice_days": "90",
            "yearly_value": "1",
            "availability_target": "99",
            "response_hours": "4",
            "units_owned": "1",
            "site_ids": [str(site_id)],
        },
    )
    assert "The end date must come after the start date." in backwards.get_data(as_text=True)
    with app.extensions["fleet.db"].sessionmaker() as s:
        other_site = s.scalars(select(Site).where(Site.customer_id != customer_id)).first()
        assert other_site is not None
    foreign = admin.post(
        "/admin/contracts/new",
        headers=EN,
        data={
            "customer_id": str(customer_id),
            "reference": "C-3",
            "start_date": "2026-01-01",
            "end_date": "2027-01-01",
            "notice_days": "90",
            "yearly_value": "1",
            "availability_target": "99",
            "response_hours": "4",
            "units_owned": "1",
            "site_ids": [str(other_site.id)],
        },
    )
    assert foreign.status_code == 400
    assert "A contract covers only its customer&#39;s sites." in foreign.get_data(as_text=True)
    with app.extensions["fleet.db"].sessionmaker() as s:
        assert s.scalar(select(Contract.id).where(Contract.customer_id == customer_id)) is None


def test_archiving_hides_a_unit_from_daily_views_and_keeps_its_page(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    admin = login("staff@demo.example")
    with app.extensions["fleet.db"].sessionmaker() as s:
        site = s.scalars(select(Site).where(Site.name == "Résidence Les Tilleuls")).one()
        unit = s.scalars(select(Asset).where(Asset.site_id == site.id).order_by(Asset.name)).first()
        assert unit is not None
        unit_id, mqtt_id = unit.id, unit.mqtt_id
    assert f'data-asset-id="{unit_id}"' in admin.get("/portfolio").get_data(as_text=True)
    assert admin.post(f"/admin/assets/{unit_id}/archive").status_code == 302
    assert f'data-asset-id="{unit_id}"' not in admin.get("/portfolio").get_data(as_text=True)
    assert admin.get(f"/assets/{unit_id}").status_code == 200  # history stays reachable
    assert mqtt_id not in admin.get("/admin/export/assets.csv").get_data(as_text=True)
    assert admin.post(f"/admin/assets/{unit_id}/archive").status_code == 409
    assert admin.post(f"/admin/assets/{unit_id}/restore").status_code == 302
    assert f'data-asset-id="{unit_id}"' in admin.get("/portfolio").get_data(as_text=True)


def test_archiving_a_customer_takes_its_sites_and_units_along_and_restoring_brings_them_back(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    admin = login("staff@demo.example")
    customer_id, site_id, asset_id = _new_fleet(admin, uuid.uuid4().hex[:6])
    assert admin.post(f"/admin/customers/{customer_id}/archive").status_code == 302
    with app.extensions["fleet.db"].sessionmaker() as s:
        assert s.get(Site, site_id).archived_at is not None  # type: ignore[union-attr]
        assert s.get(Asset, asset_id).archived_at is not None  # type: ignore[union-attr]
    assert admin.post(f"/admin/sites/{site_id}/restore").status_code == 409  # its customer first
    assert admin.post(f"/admin/customers/{customer_id}/restore").status_code == 302
    with app.extensions["fleet.db"].sessionmaker() as s:
        assert s.get(Customer, customer_id).archived_at is None  # type: ignore[union-attr]
        assert s.get(Asset, asset_id).archived_at is None  # type: ignore[union-attr]


def test_rotating_the_resident_link_needs_confirmation_and_retires_the_old_link(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    admin = login("staff@demo.example")
    _c, _s, asset_id = _new_fleet(admin, uuid.uuid4().hex[:6])
    with app.extensions["fleet.db"].sessionmaker() as s:
        old = s.get(Asset, asset_id).public_token  # type: ignore[union-attr]
    assert app.test_client().get(f"/r/{old}").status_code == 200
    assert admin.post(f"/admin/assets/{asset_id}/rotate-link").status_code == 400
    assert admin.post(f"/admin/assets/{asset_id}/rotate-link", data={"confirm": "yes"}).status_code == 302
    with app.extensions["fleet.db"].sessionmaker() as s:
        new = s.get(Asset, asset_id).public_token  # type: ignore[union-attr]
    assert new != old
    assert app.test_client().get(f"/r/{old}").status_code == 404
    assert app.test_client().get(f"/r/{new}").status_code == 200
    svg = admin.get(f"/admin/assets/{asset_id}/sticker.svg")
    assert svg.mimetype == "image/svg+xml"
    assert b"<svg" in svg.data


def test_a_registered_gateway_gets_a_password_once_and_the_broker_files_follow_the_registry(
    sqlite_demo_url: str, tmp_path: Path
) -> None:
    app = create_app(make_settings(sqlite_demo_url, live_enabled=False, broker_auth_dir=str(tmp_path),
                                   mqtt_url="mqtt://fleet-svc:svc-secret@127.0.0.1:1883"))  # fmt: skip
    app.config["WTF_CSRF_ENABLED"] = False
    admin = logged_in_client(app, "staff@demo.example")
    with app.extensions["fleet.db"].sessionmaker() as s:
        units = s.execute(select(Asset.id, Asset.mqtt_id).order_by(Asset.id).limit(2)).all()
    ident = f"gw-{uuid.uuid4().hex[:6]}"
    shown = admin.post(
        "/admin/gateways/new", data={"ident": ident, "asset_ids": [str(units[0][0])]}, headers=EN
    )
    assert shown.status_code == 200
    password = re.search(r'id="gateway-password">([^<]+)<', shown.get_data(as_text=True))
    assert password is not None
    with app.extensions["fleet.db"].sessionmaker() as s:
        gateway = s.scalars(select(Gateway).where(Gateway.ident == ident)).one()
        assert verify_hash(password.group(1), gateway.password_hash)  # only the hash is kept
        gateway_id = gateway.id
    acl = (tmp_path / "acl").read_text()
    assert (
        f"user {ident}\ntopic write equipment/{units[0][1]}/#\ntopic write equipment/_gateways/{ident}\n"
        in acl
    )
    assert "user fleet-svc\ntopic readwrite equipment/#" in acl
    passwd = (tmp_path / "passwd").read_text()
    assert passwd.count(f"{ident}:$7$") == 1
    assert verify_hash("svc-secret", passwd.split("fleet-svc:", 1)[1].split("\n", 1)[0])
    assert admin.post("/admin/gateways/new", data={"ident": ident}, headers=EN).status_code == 400  # taken
    moved = admin.post(f"/admin/gateways/{gateway_id}", data={"asset_ids": [str(units[1][0])]})
    assert moved.status_code == 302
    acl = (tmp_path / "acl").read_text()
    assert f"equipment/{units[1][1]}/#" in acl
    assert f"equipment/{units[0][1]}/#" not in acl.split(f"user {ident}", 1)[1]
    again = admin.post(f"/admin/gateways/{gateway_id}/password", headers=EN).get_data(as_text=True)
    new_password = re.search(r'id="gateway-password">([^<]+)<', again)
    assert new_password is not None
    assert new_password.group(1) != password.group(1)
    assert admin.post(f"/admin/gateways/{gateway_id}/archive").status_code == 302
    assert f"user {ident}" not in (tmp_path / "acl").read_text()  # an archived gateway loses its account
    app.extensions["fleet.db"].dispose()


def test_moving_a_unit_to_another_site_keeps_its_history(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    admin = login("staff@demo.example")
    with app.extensions["fleet.db"].sessionmaker() as s:
        unit = s.scalars(select(Asset).join(Outage).order_by(Asset.id)).first()
        assert unit is not None
        other = s.scalars(
            select(Site).where(Site.customer_id == unit.site.customer_id, Site.id != unit.site_id)
        ).first()
        assert other is not None
        outages = sorted(s.scalars(select(Outage.id).where(Outage.asset_id == unit.id)))
        form = {k: ("" if v is None else str(v)) for k, v in service.fields(unit).items()}
        unit_id, old_site = unit.id, unit.site_id
    moved = admin.post(
        f"/admin/assets/{unit_id}", data={**form, "site_id": str(other.id), "name": "Moved here"}
    )
    assert moved.status_code == 302, moved.get_data(as_text=True)
    with app.extensions["fleet.db"].sessionmaker() as s:
        assert s.get(Asset, unit_id).site_id == other.id  # type: ignore[union-attr]
        assert sorted(s.scalars(select(Outage.id).where(Outage.asset_id == unit_id))) == outages
    page = admin.get(f"/assets/{unit_id}").get_data(as_text=True)
    assert escape(other.name) in page
    form["site_id"] = str(old_site)
    assert admin.post(f"/admin/assets/{unit_id}", data=form).status_code == 302  # and back


def test_an_archived_unit_counts_in_kpis_only_for_the_time_before_its_archiving(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    admin = login("staff@demo.example")
    _c, _s, asset_id = _new_fleet(admin, uuid.uuid4().hex[:6])
    row = f'data-level="asset" data-id="{asset_id}"'
    assert row in admin.get("/kpis?period=90d").get_data(as_text=True)
    with app.extensions["fleet.db"].session() as s:
        s.get(Asset, asset_id).archived_at = utcnow() - timedelta(days=100)  # type: ignore[union-attr]
    assert row not in admin.get("/kpis?period=90d").get_data(as_text=True)  # archived before the period
    assert row in admin.get("/kpis?period=365d").get_data(as_text=True)  # in service during part of it
