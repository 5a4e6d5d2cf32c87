"""Dispatch: vendor staff assign a technician with an expected arrival to an open outage;
HOA presidents and residents see it in plain words."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from fleet.db import utcnow
from fleet.models import Asset, DetectedBy, Outage, StakeholderGroup, User
from portal.access import Scope
from portal.assets.service import detected_before_reported


def _open_outage(app: Flask, mqtt_id: str) -> tuple[int, Asset]:
    with app.extensions["fleet.db"].session() as s:
        asset = s.scalars(select(Asset).where(Asset.mqtt_id == mqtt_id)).one()
        outage = s.scalars(select(Outage).where(Outage.asset_id == asset.id, Outage.ended_at.is_(None))).one()
        s.expunge(asset)
        return outage.id, asset


def _user_id(app: Flask, group: StakeholderGroup) -> int:
    with app.extensions["fleet.db"].session() as s:
        return s.scalars(select(User.id).where(User.group == group)).first()  # type: ignore[return-value]


def _state(app: Flask, outage_id: int) -> tuple[int | None, object]:
    with app.extensions["fleet.db"].session() as s:
        o = s.get(Outage, outage_id)
        assert o is not None
        return o.technician_id, o.eta


def _eta(hours: float, tz: str = "Europe/Paris") -> str:
    return (utcnow() + timedelta(hours=hours)).astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M")


def test_staff_assign_and_the_building_sees_it(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    outage_id, asset = _open_outage(app, "ELV-0302")
    tech = _user_id(app, StakeholderGroup.FIELD_TECHNICIAN)
    staff = login("staff@demo.example")
    assert 'action="/outages/' in staff.get("/outages").get_data(as_text=True)
    resp = staff.post(
        f"/outages/{outage_id}/assign", data={"technician_id": str(tech), "eta": _eta(2), "expected": ""}
    )
    assert resp.status_code == 302
    technician_id, eta = _state(app, outage_id)
    assert technician_id == tech
    assert eta is not None
    hoa_page = login("hoa.tilleuls@demo.example").get("/").get_data(as_text=True)
    assert "Technicien assigné" in hoa_page  # the HOA account reads French
    resident = app.test_client().get(f"/r/{asset.public_token}", headers={"Accept-Language": "en"})
    assert "Technician assigned" in resident.get_data(as_text=True)


def test_bad_assignments_change_nothing(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    outage_id, _ = _open_outage(app, "ELV-0103")
    tech = _user_id(app, StakeholderGroup.FIELD_TECHNICIAN)
    before = _state(app, outage_id)
    fm = login("fm@demo.example")
    refused = fm.post(f"/outages/{outage_id}/assign", data={"technician_id": str(tech), "eta": _eta(1)})
    assert refused.status_code == 403
    staff = login("staff@demo.example")
    cases = [
        ({"technician_id": str(tech), "eta": _eta(-2)}, "in the past"),
        ({"technician_id": str(tech), "eta": _eta(24 * 9)}, "within 7 days"),
        (
            {"technician_id": str(_user_id(app, StakeholderGroup.FACILITY_MANAGER)), "eta": _eta(1)},
            "field technician",
        ),
        ({"technician_id": str(tech), "eta": "tomorrow"}, "arrival date and time"),
    ]
    for form, message in cases:
        resp = staff.post(f"/outages/{outage_id}/assign", data=form, follow_redirects=True)
        assert message in resp.get_data(as_text=True), message
        assert _state(app, outage_id) == before
    # every problem of the form at once, nothing changed
    both = staff.post(
        f"/outages/{outage_id}/assign", data={"technician_id": "x", "eta": "soon"}, follow_redirects=True
    )
    page = both.get_data(as_text=True)
    assert "Choose an active field technician." in page
    assert "arrival date and time" in page
    assert _state(app, outage_id) == before
    # a missing outage is not found, like one outside the account's scope (no existence oracle)
    missing = staff.post("/outages/999999/assign", data={"technician_id": str(tech), "eta": _eta(1)})
    assert missing.status_code == 404
    hoa = login("hoa.montroyal@demo.example")  # another building: this outage does not exist for them
    assert hoa.post(f"/outages/{outage_id}/assign", data={"technician_id": str(tech)}).status_code == 404


def test_two_staff_assigning_at_once_one_wins(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    outage_id, _ = _open_outage(app, "ELV-0103")
    tech = _user_id(app, StakeholderGroup.FIELD_TECHNICIAN)
    first, second = login("staff@demo.example"), login("staff@demo.example")
    current = _state(app, outage_id)[0]
    expected = "" if current is None else str(current)
    form = {"technician_id": str(tech), "eta": _eta(1), "expected": expected}
    assert first.post(f"/outages/{outage_id}/assign", data=form).status_code == 302
    eta_after_first = _state(app, outage_id)[1]
    late = second.post(f"/outages/{outage_id}/assign", data={**form, "eta": _eta(3)}, follow_redirects=True)
    assert "Someone else changed the assignment meanwhile" in late.get_data(as_text=True)
    assert _state(app, outage_id) == (tech, eta_after_first)


def test_share_of_outages_the_sensors_detected_first(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    now = utcnow()
    db = app.extensions["fleet.db"]
    with db.session() as s:
        base = detected_before_reported(s, Scope(everything=True), now - timedelta(days=90))
        asset_id = s.scalars(select(Asset.id).where(Asset.mqtt_id == "ELV-0404")).one()
    with db.session() as s:
        for hours, by in ((200, DetectedBy.SENSOR), (150, DetectedBy.SENSOR), (100, DetectedBy.REPORT)):
            start = now - timedelta(hours=hours)
            s.add(
                Outage(
                    asset_id=asset_id, started_at=start, ended_at=start + timedelta(hours=1), detected_by=by
                )
            )
        s.commit()
    with db.session() as s:
        after = detected_before_reported(s, Scope(everything=True), now - timedelta(days=90))
    assert after.total == base.total + 3
    assert after.sensor_first == base.sensor_first + 2
    assert after.percent == 100.0 * after.sensor_first / after.total
    html = login("staff@demo.example").get("/outages").get_data(as_text=True)
    assert f"of {after.total} outages in the last 90 days" in html
