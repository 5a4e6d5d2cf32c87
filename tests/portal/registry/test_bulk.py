"""Bulk CSV import and export of the registry, from the admin page and the command line:
export then import changes nothing; every bad line is reported with its number and reason
and nothing of the file is written; a dry run writes nothing; French spreadsheets' files
(``;``, byte-order mark) are read; files that are not CSV are refused before any row."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import TestResponse, encode_multipart

from config import ROOT
from fleet.models import Asset, AuditEntry, Contract, Customer, OutboxEmail, Site, StakeholderGroup, User
from fleet.schema import upgrade
from portal.app import create_app
from portal.auth.service import create_user
from tests.conftest import make_settings

EN = {"Accept-Language": "en"}
SAMPLES = ROOT / "docs" / "samples"
KINDS = ("customers", "sites", "assets", "contracts", "people")


def _post_file(admin: FlaskClient, kind: str, data: bytes, dry_run: bool = False) -> TestResponse:
    """The upload as one multipart body in memory (the test client would spool a large one
    to a temporary file it never closes)."""
    fields = {"kind": kind, "file": FileStorage(io.BytesIO(data), f"{kind}.csv", content_type="text/csv")}
    if dry_run:
        fields["dry_run"] = "yes"
    boundary, body = encode_multipart(fields)
    return admin.post(
        "/admin/import", data=body, content_type=f"multipart/form-data; boundary={boundary}", headers=EN
    )


def _upload(admin: FlaskClient, kind: str, data: bytes, *, dry_run: bool = False) -> tuple[int, str]:
    resp = _post_file(admin, kind, data, dry_run)
    return resp.status_code, resp.get_data(as_text=True)


def _counts(app: Flask) -> tuple[int, ...]:
    with app.extensions["fleet.db"].sessionmaker() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(m)) or 0
            for m in (Customer, Site, Asset, Contract, User, AuditEntry)
        )


def _a_contract(admin: FlaskClient, app: Flask) -> None:
    with app.extensions["fleet.db"].sessionmaker() as s:
        customer = s.scalars(select(Customer).order_by(Customer.name)).first()
        assert customer is not None
        sites = [str(site.id) for site in customer.sites[:2]]
        unit = s.scalars(select(Asset).join(Site).where(Site.customer_id == customer.id)).first()
        assert unit is not None
    ref = f"EXP-{uuid.uuid4().hex[:6]}"
    resp = admin.post(
        "/admin/contracts/new",
        data={
            "customer_id": str(customer.id),
            "reference": ref,
            "start_date": "2026-01-01",
            "end_date": "2029-12-31",
            "notice_days": "180",
            "yearly_value": "48000",
            "availability_target": "99.6",
            "response_hours": "2",
            "units_owned": "40",
            "site_ids": sites,
            "asset_ids": [str(unit.id)],
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)


def test_exporting_then_importing_each_kind_changes_nothing(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    admin = login("staff@demo.example")
    _a_contract(admin, app)
    before = _counts(app)
    for kind in KINDS:
        exported = admin.get(f"/admin/export/{kind}.csv")
        assert exported.status_code == 200
        assert exported.data.startswith("\ufeff".encode())
        status, page = _upload(admin, kind, exported.data)
        assert status == 200, page
        assert 'data-action="create"' not in page, kind
        assert 'data-action="update"' not in page, kind
        assert 'data-action="unchanged"' in page
    assert _counts(app) == before  # not even an audit entry


def test_every_bad_line_is_reported_and_nothing_of_the_file_is_written(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    admin = login("staff@demo.example")
    tag = uuid.uuid4().hex[:6]
    header = "customer,name,kind,address,postal_code,city,country,timezone\n"
    lines = [
        f"Lumière Immobilier,Good {tag},office,1 rue A,75001,Paris,FR,Europe/Paris",  # line 2: fine
        f"Lumière Immobilier,Bad zone {tag},office,1 rue B,75001,Paris,FR,Mars/Olympus",  # line 3
        f"Nobody Inc,Site {tag},office,1 rue C,75001,Paris,FR,Europe/Paris",  # line 4
        f"Lumière Immobilier,Good {tag},office,1 rue D,75001,Paris,FR,Europe/Paris",  # line 5: repeats line 2
        'Lumière Immobilier,=HYPERLINK("x"),office,1 rue E,75001,Paris,FR,Europe/Paris',  # line 6
        "Lumière Immobilier,too,few",  # line 7
    ]
    before = _counts(app)
    status, page = _upload(admin, "sites", (header + "\n".join(lines) + "\n").encode())
    assert status == 400
    assert "Nothing was imported" in page
    for line, reason in [
        (3, "An IANA time zone"),
        (4, "unknown customer Nobody Inc"),
        (5, "the same key as line 2"),
        (6, "would run as a formula"),
        (7, "3 cells where the header has 8"),
    ]:
        row = page.split(f'data-line="{line}"', 1)[1].split("</tr>", 1)[0]
        assert 'data-action="error"' in row, (line, row)
        assert reason in row, (line, row)
    assert 'data-line="2" data-action="create"' in page
    assert _counts(app) == before


def test_a_dry_run_shows_the_changes_and_writes_nothing_then_the_import_applies_them(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    admin = login("staff@demo.example")
    with app.extensions["fleet.db"].sessionmaker() as s:
        unit = s.scalars(select(Asset).order_by(Asset.mqtt_id)).first()
        assert unit is not None
        mqtt_id, old_model = unit.mqtt_id, unit.model
    exported = admin.get("/admin/export/assets.csv").get_data(as_text=True).lstrip("\ufeff")
    header, *rows = exported.splitlines()
    row = next(r for r in rows if r.startswith(mqtt_id + ","))
    changed = row.replace(f",{old_model},", ",Model Z9,", 1)
    # a French spreadsheet: byte-order mark, ';' between cells
    french = "\ufeff" + "\n".join(line.replace(",", ";") for line in [header, changed]) + "\n"
    before = _counts(app)
    status, page = _upload(admin, "assets", french.encode(), dry_run=True)
    assert status == 200
    assert "Dry run: nothing was changed" in page
    assert 'data-action="update"' in page
    assert "Model Z9" in page
    assert old_model in page
    assert _counts(app) == before
    status, page = _upload(admin, "assets", french.encode())
    assert status == 200
    assert "Imported." in page
    with app.extensions["fleet.db"].sessionmaker() as s:
        assert s.scalars(select(Asset.model).where(Asset.mqtt_id == mqtt_id)).one() == "Model Z9"
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "asset.changed").order_by(AuditEntry.id.desc())
        ).first()
        assert entry is not None
        assert "Model Z9" in (entry.after or "")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
        ("name;région\nA;B\n".encode("latin-1"), "not UTF-8"),
        (b"mqtt_id,colour\nX,blue\n", "Missing: customer, site"),
        (b"", "The file is empty"),
        (
            b"mqtt_id,customer,site,name,kind,manufacturer,model,serial_number,install_date,rated_load_kg,"
            b'floors_served,contract_level,availability_target\n"unclosed,x\n',
            "not valid CSV",
        ),
    ],
)
def test_files_that_are_not_this_kinds_csv_are_refused_before_any_row(
    login: Callable[[str], FlaskClient], data: bytes, reason: str
) -> None:
    status, page = _upload(login("staff@demo.example"), "assets", data)
    assert status == 400
    assert reason in page


def test_a_file_above_the_cap_is_refused_before_parsing(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    admin = login("staff@demo.example")
    cap = int(app.config["SETTINGS"].import_max_mb * 1_000_000)
    status, page = _upload(admin, "customers", b"name\n" + b"x" * cap)
    assert status == 413
    assert "larger than" in page
    assert _post_file(admin, "customers", b"x" * 50_000_000).status_code == 413


def test_importing_people_invites_new_ones_and_refuses_a_scope_outside_their_customer(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    admin = login("staff@demo.example")
    email = f"imported.{uuid.uuid4().hex[:6]}@example.org"
    good = (
        "email,name,group,customer,sites,locale,is_admin\n"
        f"{email},Ann Import,hoa_president,Habitat Rhône-Léman,Résidence Bord du Lac,fr,no\n"
    )
    status, page = _upload(admin, "people", good.encode())
    assert status == 200, page
    with app.extensions["fleet.db"].sessionmaker() as s:
        assert s.scalar(select(OutboxEmail.id).where(OutboxEmail.to_address == email)) is not None
    foreign = (
        "email,name,group,customer,sites,locale,is_admin\n"
        f"x.{email},Bob,hoa_president,Lumière Immobilier,Résidence Bord du Lac,en,no\n"
    )
    status, page = _upload(admin, "people", foreign.encode())
    assert status == 400
    assert "unknown site Résidence Bord du Lac of Lumière Immobilier" in page


def test_five_hundred_units_from_one_file(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    admin = login("staff@demo.example")
    tag = uuid.uuid4().hex[:6]
    customer = admin.post("/admin/customers/new", data={"name": f"Big Fleet {tag}"})
    assert customer.status_code == 302
    sites = "customer,name,kind,address,postal_code,city,country,timezone\n" + "".join(
        f"Big Fleet {tag},Tower {n},office,{n} avenue,69000,Lyon,FR,Europe/Paris\n" for n in range(10)
    )
    assert _upload(admin, "sites", sites.encode())[0] == 200
    header = (
        "mqtt_id,customer,site,name,kind,manufacturer,model,serial_number,install_date,rated_load_kg,"
        "floors_served,contract_level,availability_target\n"
    )
    units = header + "".join(
        f"BF{tag}-{n:03d},Big Fleet {tag},Tower {n % 10},Lift {n // 10},elevator,Acme,X,SN{n},"
        f"2012-03-0{1 + n % 9},630,{2 + n % 20},standard,99.5\n"
        for n in range(500)
    )
    status, page = _upload(admin, "assets", units.encode(), dry_run=True)
    assert status == 200
    assert page.count('data-action="create"') == 500
    status, page = _upload(admin, "assets", units.encode())
    assert status == 200
    with app.extensions["fleet.db"].sessionmaker() as s:
        assert (
            s.scalar(select(func.count()).select_from(Asset).where(Asset.mqtt_id.like(f"BF{tag}-%"))) == 500
        )


def test_the_command_line_imports_with_a_dry_run(app: Flask, tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner = app.test_cli_runner()
    tag = uuid.uuid4().hex[:6]
    path = tmp_path / "customers.csv"
    path.write_text(f"\ufeffname\nCLI Customer {tag}\n", encoding="utf-8")
    dry = runner.invoke(args=["import", "customers", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "create" in dry.output
    assert "dry run, nothing changed" in dry.output
    with app.extensions["fleet.db"].sessionmaker() as s:
        assert s.scalar(select(Customer.id).where(Customer.name == f"CLI Customer {tag}")) is None
    done = runner.invoke(args=["import", "customers", str(path)])
    assert done.exit_code == 0
    assert "imported: 1 to create" in done.output
    bad = tmp_path / "bad.csv"
    bad.write_text("name\n=cmd()\n", encoding="utf-8")
    refused = runner.invoke(args=["import", "customers", str(bad)])
    assert refused.exit_code == 1
    assert "line 2" in refused.output
    assert "formula" in refused.output
    exported = runner.invoke(args=["export", "customers"])
    assert f"CLI Customer {tag}" in exported.output


def test_the_readme_sample_files_build_a_portfolio_from_an_empty_database(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    app = create_app(make_settings(empty_db_url, live_enabled=False))
    with app.extensions["fleet.db"].session() as s:
        create_user(s, email="admin@vendor.example", name="Admin", password="a long enough password 3",
                    group=StakeholderGroup.VENDOR_STAFF, is_admin=True)  # fmt: skip
    runner = app.test_cli_runner()
    for kind in ("customers", "sites", "assets", "contracts", "people"):
        done = runner.invoke(args=["import", kind, str(SAMPLES / f"{kind}.csv")])
        assert done.exit_code == 0, done.output
        assert " 0 with errors" in done.output
    with app.extensions["fleet.db"].sessionmaker() as s:
        contract = s.scalars(select(Contract)).one()
        assert len(contract.covered_asset_ids()) == 4
        assert contract.maintained_share() == pytest.approx(4 / 6)
        assert s.scalar(
            select(OutboxEmail.id).where(OutboxEmail.to_address == "facilities@gare-centrale.example")
        )
    again = runner.invoke(args=["import", "assets", str(SAMPLES / "assets.csv")])
    assert "0 to create, 0 to update, 4 unchanged" in again.output
    app.extensions["fleet.db"].dispose()
