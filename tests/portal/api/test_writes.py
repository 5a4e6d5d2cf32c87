"""Write endpoints with a token: an ERP syncs 500 units by MQTT id (all or nothing, idempotent,
dry run), people report an outage and give feedback, a notification is acknowledged; each
refused for the same reasons as the pages, out-of-scope objects answered 404."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from fleet.db import utcnow
from fleet.models import (
    Asset,
    Customer,
    DetectedBy,
    EventType,
    Feedback,
    Notification,
    Outage,
    Site,
    User,
)
from portal.notifications import events
from portal.notifications.events import NotifierSettings

Bearer = Callable[[str], dict[str, str]]


def _site_of(app: Flask, email: str) -> tuple[int, str, str]:
    """(id, name, customer name) of a site of the account's customer."""
    with app.extensions["fleet.db"].sessionmaker() as s:
        customer_id = s.scalars(select(User.customer_id).where(User.email == email)).one()
        site = s.scalars(select(Site).where(Site.customer_id == customer_id).order_by(Site.id)).first()
        assert site is not None
        return site.id, site.name, site.customer.name


def _erp_items(customer: str, site: str, n: int) -> list[dict[str, Any]]:
    """``n`` units as an ERP would send them, read from a CSV export of its own."""
    text = "mqtt_id;name;install_date;rated_load_kg;floors_served;kind\n" + "".join(
        f"ERP-{i:04d};Lift {i};2015-0{1 + i % 9}-1{i % 10};{630 + i};{2 + i % 20};elevator\n"
        for i in range(n)
    )
    rows = csv.DictReader(io.StringIO(text), delimiter=";")
    return [
        {
            "mqtt_id": r["mqtt_id"],
            "customer": customer,
            "site": site,
            "name": r["name"],
            "kind": r["kind"],
            "install_date": r["install_date"],
            "rated_load_kg": int(r["rated_load_kg"]),
            "floors_served": int(r["floors_served"]),
        }
        for r in rows
    ]


def _count_erp_assets(app: Flask) -> int:
    with app.extensions["fleet.db"].sessionmaker() as s:
        return s.scalar(select(func.count(Asset.id)).where(Asset.mqtt_id.like("ERP-%"))) or 0


def test_an_erp_syncs_500_units_all_or_nothing_and_idempotently(app: Flask, bearer: Bearer) -> None:
    client, staff = app.test_client(), bearer("staff@demo.example")
    _site_id, site, customer = _site_of(app, "fm@demo.example")
    items = _erp_items(customer, site, 500)

    dry = client.put("/api/v1/registry/assets", json={"items": items, "dry_run": True}, headers=staff)
    assert dry.status_code == 200, dry.get_data(as_text=True)
    assert (dry.get_json()["created"], dry.get_json()["dry_run"]) == (500, True)
    assert _count_erp_assets(app) == 0  # a dry run keeps nothing

    bad = [*items[:10], {**items[10], "site": "No such building"}]
    refused = client.put("/api/v1/registry/assets", json={"items": bad}, headers=staff)
    assert refused.status_code == 422
    assert list(refused.get_json()["fields"]) == ["items[10]"]
    assert _count_erp_assets(app) == 0  # one refused item: nothing of the body is kept

    first = client.put("/api/v1/registry/assets", json={"items": items}, headers=staff)
    assert first.status_code == 200, first.get_data(as_text=True)
    assert (first.get_json()["created"], first.get_json()["updated"]) == (500, 0)
    assert _count_erp_assets(app) == 500

    again = client.put("/api/v1/registry/assets", json={"items": items}, headers=staff)
    assert (again.get_json()["unchanged"], again.get_json()["created"]) == (500, 0)  # PUT is idempotent

    items[7]["floors_served"] = 30
    changed = client.put("/api/v1/registry/assets", json={"items": items}, headers=staff)
    body = changed.get_json()
    assert (body["updated"], body["unchanged"]) == (1, 499)
    (update,) = [i for i in body["items"] if i["action"] == "update"]
    assert (update["key"], update["changes"]) == ("ERP-0007", {"floors_served": ["9", "30"]})

    listed = client.get("/api/v1/assets", headers=bearer("fm@demo.example")).get_json()["items"]
    assert {a["mqtt_id"] for a in listed} >= {"ERP-0000", "ERP-0499"}  # the customer sees them


def test_sites_sync_and_who_may_sync(app: Flask, bearer: Bearer) -> None:
    client = app.test_client()
    _site_id, _site, customer = _site_of(app, "fm@demo.example")
    site = {"customer": customer, "name": "Annexe Nord", "address": "3 rue du Port", "city": "Lyon"}
    made = client.put("/api/v1/registry/sites", json={"items": [site]}, headers=bearer("staff@demo.example"))
    assert made.status_code == 200, made.get_data(as_text=True)
    assert made.get_json()["created"] == 1
    forbidden = client.put(
        "/api/v1/registry/sites", json={"items": [site]}, headers=bearer("fm@demo.example")
    )
    assert forbidden.status_code == 403  # facility managers do not edit the registry
    bad_zone = client.put(
        "/api/v1/registry/sites",
        json={"items": [{**site, "timezone": "Mars/Olympus"}]},
        headers=bearer("staff@demo.example"),
    )
    assert bad_zone.status_code == 422
    assert "IANA" in " ".join(bad_zone.get_json()["fields"]["items[0]"])
    unknown_field = client.put(
        "/api/v1/registry/sites",
        json={"items": [{**site, "colour": "blue"}]},
        headers=bearer("staff@demo.example"),
    )
    assert unknown_field.status_code == 400
    assert "items[0].colour" in unknown_field.get_json()["fields"]
    not_json = client.put(
        "/api/v1/registry/sites",
        data="customer=x",
        headers=bearer("staff@demo.example"),
        content_type="text/plain",
    )
    assert not_json.status_code == 415


def _unit_without_outage(app: Flask, email: str) -> tuple[int, int]:
    """(asset id, another customer's asset id) for the account."""
    with app.extensions["fleet.db"].sessionmaker() as s:
        customer_id = s.scalars(select(User.customer_id).where(User.email == email)).one()
        open_ids = select(Outage.asset_id).where(Outage.ended_at.is_(None))
        mine = s.scalars(
            select(Asset.id)
            .join(Site)
            .where(Site.customer_id == customer_id, Asset.id.not_in(open_ids), Asset.archived_at.is_(None))
            .order_by(Asset.id)
        ).first()
        theirs = s.scalars(select(Asset.id).join(Site).where(Site.customer_id != customer_id)).first()
        assert mine is not None
        assert theirs is not None
        return mine, theirs


def test_a_reported_outage_enters_the_timeline_and_is_announced(app: Flask, bearer: Bearer) -> None:
    client, fm = app.test_client(), bearer("fm@demo.example")
    asset_id, other = _unit_without_outage(app, "fm@demo.example")
    report = {"description": "Stuck at floor 3, doors closed"}
    made = client.post(f"/api/v1/assets/{asset_id}/outages", json=report, headers=fm)
    assert made.status_code == 201, made.get_data(as_text=True)
    assert (made.get_json()["detected_by"], made.get_json()["ended_at"]) == ("report", None)
    again = client.post(f"/api/v1/assets/{asset_id}/outages", json=report, headers=fm)
    assert again.status_code == 409  # one open outage at a time
    assert client.post(f"/api/v1/assets/{other}/outages", json=report, headers=fm).status_code == 404
    assert (
        client.post(f"/api/v1/assets/{asset_id}/outages", json={"description": "x"}, headers=fm).status_code
        == 400
    )

    unit = client.get(f"/api/v1/assets/{asset_id}", headers=fm).get_json()
    assert unit["open_outage"]["cause"] == "Stuck at floor 3, doors closed"
    with app.extensions["fleet.db"].session() as s:
        outage = s.scalars(select(Outage).where(Outage.id == made.get_json()["id"])).one()
        assert outage.detected_by is DetectedBy.REPORT
        events.tell_due(s, utcnow(), NotifierSettings(public_url="http://portal.test"))
        told = s.scalars(
            select(User.email)
            .join(Notification, Notification.user_id == User.id)
            .where(
                Notification.event == EventType.OUTAGE_OPENED, Notification.group_key == f"outage:{asset_id}"
            )
        ).all()
    assert "fm@demo.example" in told  # the notifier tells people as for a sensor outage


def test_feedback_by_api_is_stored_once_and_in_scope(app: Flask, bearer: Bearer) -> None:
    client, hoa = app.test_client(), bearer("hoa.tilleuls@demo.example")
    with app.extensions["fleet.db"].sessionmaker() as s:
        hoa_user = s.scalars(select(User).where(User.email == "hoa.tilleuls@demo.example")).one()
        site = hoa_user.sites[0]
        unit = s.scalars(select(Asset.id).where(Asset.site_id == site.id)).first()
        elsewhere = s.scalars(select(Asset.id).where(Asset.site_id != site.id)).first()
        other_site = s.scalars(select(Site.id).join(Customer).where(Site.id != site.id)).first()
        site_id = site.id
    body = {
        "site_id": site_id,
        "asset_id": unit,
        "rating": 4,
        "text": "Quieter since the visit",
        "category": "noise",
    }
    body["submission_id"] = "erp-0001-abcdef"
    made = client.post("/api/v1/feedback", json=body, headers=hoa)
    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.get_json()["author_group"] == "hoa_president"
    assert (
        client.post("/api/v1/feedback", json=body, headers=hoa).status_code == 409
    )  # a retry stores nothing
    listed = client.get("/api/v1/feedback", headers=hoa).get_json()["items"]
    assert made.get_json()["id"] in {f["id"] for f in listed}
    wrong_unit = client.post(
        "/api/v1/feedback", json={**body, "asset_id": elsewhere, "submission_id": None}, headers=hoa
    )
    assert wrong_unit.status_code in (404, 422)  # another site's unit: out of scope, or not at this site
    assert (
        client.post(
            "/api/v1/feedback", json={**body, "site_id": other_site, "submission_id": None}, headers=hoa
        ).status_code
        == 404
    )
    bad = client.post("/api/v1/feedback", json={**body, "rating": 9, "submission_id": None}, headers=hoa)
    assert bad.status_code == 400
    assert list(bad.get_json()["fields"]) == ["rating"]
    with app.extensions["fleet.db"].sessionmaker() as s:
        assert (
            s.scalar(select(func.count(Feedback.id)).where(Feedback.submission_id == "erp-0001-abcdef")) == 1
        )


def test_a_notification_is_acknowledged_once_and_only_by_its_reader(
    app: Flask, bearer: Bearer, login: Callable[[str], FlaskClient]
) -> None:
    client = app.test_client()
    with app.extensions["fleet.db"].session() as s:
        fm = s.scalars(select(User).where(User.email == "fm@demo.example")).one()
        item = Notification(
            user_id=fm.id, event=EventType.OUTAGE_OPENED, group_key="test:ack", title="Lift 2 stopped"
        )
        s.add(item)
        s.flush()
        item_id = item.id
    unread = client.get("/api/v1/notifications?unread=true", headers=bearer("fm@demo.example")).get_json()
    assert item_id in {n["id"] for n in unread["items"]}
    first = client.post(f"/api/v1/notifications/{item_id}/acknowledge", headers=bearer("fm@demo.example"))
    assert first.status_code == 200
    assert first.get_json()["read_at"] is not None
    second = client.post(f"/api/v1/notifications/{item_id}/acknowledge", headers=bearer("fm@demo.example"))
    assert second.get_json()["read_at"] == first.get_json()["read_at"]
    theirs = client.post(f"/api/v1/notifications/{item_id}/acknowledge", headers=bearer("staff@demo.example"))
    assert theirs.status_code == 404
    assert client.post(f"/api/v1/notifications/{item_id}/acknowledge").status_code == 401


def test_a_write_with_the_login_cookie_needs_the_csrf_token(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    browser = login("tech@demo.example")
    with app.extensions["fleet.db"].sessionmaker() as s:
        tech = s.scalars(select(User).where(User.email == "tech@demo.example")).one()
        site_id = tech.sites[0].id
    body = {"site_id": site_id, "text": "Door sensor replaced, please watch it"}
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        refused = browser.post("/api/v1/feedback", json=body)
        assert refused.status_code == 400  # a cookie alone could be a forged cross-site request
        page = browser.get("/account/tokens").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        accepted = browser.post("/api/v1/feedback", json=body, headers={"X-CSRFToken": token.group(1)})
        assert accepted.status_code == 201, accepted.get_data(as_text=True)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
