"""The audit log: people actions and service actions are recorded with the values before
and after, in the transaction of the change; administrators read and export it; nobody
edits it."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from fleet.models import AuditEntry, Customer, User


def _entries(app: Flask, object_id: int) -> list[AuditEntry]:
    with app.extensions["fleet.db"].sessionmaker() as s:
        stmt = select(AuditEntry).where(AuditEntry.object_kind == "person", AuditEntry.object_id == object_id)
        return list(s.scalars(stmt.order_by(AuditEntry.id)))


def test_people_actions_are_recorded_with_before_and_after(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    admin = login("staff@demo.example")
    with app.extensions["fleet.db"].sessionmaker() as s:
        customer_id = s.scalars(select(Customer.id).where(Customer.name == "Lumière Immobilier")).one()
    email = f"audited.{uuid.uuid4().hex[:8]}@example.org"
    admin.post(
        "/admin/people/invite",
        data={
            "email": email,
            "name": '=HYPERLINK("x")',
            "group": "facility_manager",
            "customer_id": str(customer_id),
        },
    )
    with app.extensions["fleet.db"].sessionmaker() as s:
        uid = s.scalars(select(User.id).where(User.email == email)).one()
    admin.post(
        f"/admin/people/{uid}/edit",
        data={
            "name": "Renamed",
            "group": "facility_manager",
            "customer_id": str(customer_id),
            "locale": "fr",
        },
    )
    admin.post(f"/admin/people/{uid}/deactivate")
    admin.post(f"/admin/people/{uid}/reactivate")
    entries = _entries(app, uid)
    assert [e.action for e in entries] == [
        "person.invited",
        "person.changed",
        "person.deactivated",
        "person.reactivated",
    ]
    assert {e.actor for e in entries} == {"staff@demo.example"}
    changed = entries[1]
    assert (json.loads(changed.before or "{}")["locale"], json.loads(changed.after or "{}")["locale"]) == (
        "en",
        "fr",
    )
    assert json.loads(entries[2].after or "{}")["is_active"] is False

    page = admin.get("/admin/audit?action=person.changed", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )
    assert 'data-action="person.changed"' in page
    assert 'data-action="person.invited"' not in page
    export = admin.get("/admin/audit.csv?actor=staff@demo&kind=person")
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    mine = [r for r in rows if r["object_id"] == str(uid)]
    assert [r["action"] for r in mine] == [
        "person.reactivated",
        "person.deactivated",
        "person.changed",
        "person.invited",
    ]  # newest first
    invited = mine[-1]["after"]
    assert '"name": "=HYPERLINK' in invited  # JSON text: the cell starts with "{", never a formula


def test_a_dispatch_is_recorded(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    from fleet.models import StakeholderGroup
    from tests.portal.assets.test_dispatch import _eta, _open_outage, _state, _user_id

    outage_id, _ = _open_outage(app, "ELV-0103")
    tech = _user_id(app, StakeholderGroup.FIELD_TECHNICIAN)
    current, _eta_now = _state(app, outage_id)
    form = {"technician_id": str(tech), "eta": _eta(1), "expected": str(current or "")}
    assert login("staff@demo.example").post(f"/outages/{outage_id}/assign", data=form).status_code == 302
    with app.extensions["fleet.db"].sessionmaker() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.object_kind == "outage", AuditEntry.object_id == outage_id)
        ).one()
    assert entry.action == "outage.dispatched"
    assert json.loads(entry.after or "{}")["technician_id"] == tech


@pytest.mark.parametrize("query", ["action=drop_tables", "from=31/12/2026", "to=tomorrow"])
def test_unusable_filters_are_refused(login: Callable[[str], FlaskClient], query: str) -> None:
    assert login("staff@demo.example").get(f"/admin/audit?{query}").status_code == 400


@pytest.mark.parametrize("email", ["fm@demo.example", "hoa.tilleuls@demo.example", "tech@demo.example"])
def test_only_administrators_read_the_log_and_nobody_edits_it(
    login: Callable[[str], FlaskClient], email: str
) -> None:
    assert login(email).get("/admin/audit").status_code == 403
    assert login(email).get("/admin/audit.csv").status_code == 403
    admin = login("staff@demo.example")
    assert admin.post("/admin/audit").status_code == 405
    assert admin.delete("/admin/audit").status_code == 405
