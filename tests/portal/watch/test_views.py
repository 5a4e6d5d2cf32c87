"""Sensor warnings in the portal (demo data: two open warnings, one confirmed, one followed by
an outage): who sees what, the technician's actions and their refusals, the customer's plain
sentence when the contract says so, and the notifications."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from fleet.db import utcnow
from fleet.models import Asset, Contract, Notification, Site, User, Visit
from fleet.models.condition import Signal, WatchItem, WatchSeverity, WatchStatus
from portal.notifications.events import NotifierSettings, tell_due

Login = Callable[[str], FlaskClient]


def _session(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["fleet.db"].session()


def _asset(app: Flask, code: str) -> int:
    with _session(app) as s:
        return int(s.scalar(select(Asset.id).where(Asset.mqtt_id == code)))


def _tilleuls_asset(app: Flask) -> int:
    with _session(app) as s:
        return int(
            s.scalars(
                select(Asset.id)
                .join(Site)
                .where(Site.name == "Résidence Les Tilleuls")
                .order_by(Asset.mqtt_id)
            ).first()
        )


@pytest.fixture
def fresh_item(app: Flask) -> Iterator[Callable[..., int]]:
    """Open a warning on a unit for one test; removed afterwards (the demo app is shared)."""
    made: list[int] = []

    def make(code: str = "ELV-0104", signal: Signal = Signal.VIBRATION, notified: bool = True) -> int:
        now = utcnow()
        with _session(app) as s:
            item = WatchItem(
                asset_id=_asset(app, code), signal=signal, severity=WatchSeverity.LOW,
                opened_at=now - timedelta(hours=2), since=now - timedelta(hours=6), updated_at=now,
                baseline=1.4, scale=0.2, level=1.9, peak_level=2.0, notified_at=now if notified else None,
            )  # fmt: skip
            s.add(item)
            s.flush()
            made.append(item.id)
            return item.id

    yield make
    with _session(app) as s:
        for item_id in made:
            item = s.get(WatchItem, item_id)
            if item is not None:
                s.delete(item)


def test_the_technician_s_work_list_has_a_sensor_warnings_tier_between_degraded_and_due(
    app: Flask, login: Login
) -> None:
    html = login("tech@demo.example").get("/work").get_data(as_text=True)
    tier = html.index('id="warn-h"')
    assert html.index('id="att-h"') < tier < html.index('id="due-h"')
    section = html[tier : html.index('id="due-h"')]
    assert section.count("data-watch-id=") == 2  # Tour Lumière and Les Tilleuls are on the route
    assert "Door re-openings" in section
    assert "Motor temperature" in section


def test_the_staff_board_lists_open_warnings_across_customers_with_their_outcomes(
    app: Flask, login: Login
) -> None:
    staff = login("staff@demo.example")
    html = staff.get("/watch").get_data(as_text=True)
    assert html.count('class="card watch-item') == 2
    assert 'data-count="open">2<' in html
    assert 'data-count="confirmed">1<' in html
    assert 'data-count="followed_by_outage">1<' in html
    assert "Lumière Immobilier" in html
    assert "Habitat Rhône-Léman" in html
    by_age = staff.get("/watch?sort=age").get_data(as_text=True)
    # the door warning (opened 30 h ago) before the motor one (9 h ago)
    assert by_age.index("Door re-openings") < by_age.index("Motor temperature")
    assert staff.get("/watch?sort=nonsense").status_code == 200


def test_customers_never_reach_the_warnings_pages(app: Flask, login: Login) -> None:
    with _session(app) as s:
        items = dict(
            s.execute(
                select(Asset.mqtt_id, WatchItem.id).join(Asset).where(WatchItem.status == WatchStatus.OPEN)
            ).all()
        )
    tilleuls = next(i for code, i in items.items() if code != "ELV-0105")
    for email, own, other in (
        ("fm@demo.example", items["ELV-0105"], tilleuls),
        ("hoa.tilleuls@demo.example", tilleuls, items["ELV-0105"]),
    ):
        client = login(email)
        assert client.get("/watch").status_code == 403
        assert client.get(f"/watch/{own}").status_code == 403  # their unit: not for their group
        assert client.post(f"/watch/{own}/dismiss", data={"reason": "other"}).status_code == 403
        assert client.get(f"/watch/{other}").status_code == 404  # not their unit: like a missing one
    assert app.test_client().get(f"/watch/{tilleuls}").status_code == 302  # to the login page


def test_a_warning_outside_the_technician_s_route_answers_404(
    app: Flask, login: Login, fresh_item: Callable[..., int]
) -> None:
    with _session(app) as s:
        tech = s.scalar(select(User).where(User.email == "tech@demo.example"))
        route = {site.id for site in tech.sites}
        outside = s.scalars(
            select(Asset.mqtt_id).where(Asset.site_id.not_in(route)).order_by(Asset.id)
        ).first()
    item_id = fresh_item(outside)
    client = login("tech@demo.example")
    assert client.get(f"/watch/{item_id}").status_code == 404
    assert client.post(f"/watch/{item_id}/finding", data={"finding": "other"}).status_code == 404
    assert login("staff@demo.example").get(f"/watch/{item_id}").status_code == 200


def test_a_technician_records_the_finding_and_the_warning_closes_once(
    app: Flask, login: Login, fresh_item: Callable[..., int]
) -> None:
    item_id = fresh_item()
    client = login("tech@demo.example")
    page = client.get(f"/watch/{item_id}").get_data(as_text=True)
    assert "Record the finding" in page
    assert "against a usual 1.4" in page
    bad = client.post(f"/watch/{item_id}/finding", data={"finding": "bogus"})
    assert bad.status_code == 400
    assert "Choose what you found from the list." in bad.get_data(as_text=True)
    ok = client.post(f"/watch/{item_id}/finding", data={"finding": "guide_rails"})
    assert ok.status_code == 302
    with _session(app) as s:
        item = s.get(WatchItem, item_id)
        assert item.status is WatchStatus.CONFIRMED
        assert item.finding_code == "guide_rails"
        assert item.closed_by_id is not None
    again = client.post(f"/watch/{item_id}/dismiss", data={"reason": "other"})
    assert again.status_code == 409


def test_dismissing_needs_a_known_reason_and_keeps_the_note(
    app: Flask, login: Login, fresh_item: Callable[..., int]
) -> None:
    item_id = fresh_item()
    client = login("staff@demo.example")
    assert client.post(f"/watch/{item_id}/dismiss", data={"reason": "because"}).status_code == 400
    assert (
        client.post(
            f"/watch/{item_id}/dismiss", data={"reason": "known_cause", "note": "façade works"}
        ).status_code
        == 302
    )
    with _session(app) as s:
        item = s.get(WatchItem, item_id)
        assert item.status is WatchStatus.DISMISSED
        assert item.reason == "known_cause: façade works"


def test_planning_a_check_creates_the_technician_s_visit_in_site_time(
    app: Flask, login: Login, fresh_item: Callable[..., int]
) -> None:
    item_id = fresh_item()
    client = login("tech@demo.example")
    assert client.post(f"/watch/{item_id}/check", data={"start": "not a date"}).status_code == 400
    assert client.post(f"/watch/{item_id}/check", data={"start": "2001-01-01T09:00"}).status_code == 400
    when = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT09:30")
    resp = client.post(f"/watch/{item_id}/check", data={"start": when})
    assert resp.status_code == 302
    assert "/visits/" in resp.headers["Location"]
    visit_page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert f'data-watch-id="{item_id}"' in visit_page  # to check, and record the finding from there
    with _session(app) as s:
        item = s.get(WatchItem, item_id)
        visit = s.get(Visit, item.check_visit_id)
        assert visit.technician.email == "tech@demo.example"
        assert (
            visit.scheduled_start.astimezone(ZoneInfo(visit.asset.site.timezone)).strftime("%H:%M") == "09:30"
        )
        assert item.status is WatchStatus.OPEN  # open until the finding is recorded
        s.delete(visit)
        item.check_visit_id = None
    assert client.post(f"/watch/{item_id}/check", data={"start": when}).status_code == 302


def test_the_facility_manager_reads_a_plain_sentence_only_when_the_contract_shares_warnings(
    app: Flask, login: Login
) -> None:
    fm = login("fm@demo.example")
    asset_page = fm.get(f"/assets/{_asset(app, 'ELV-0105')}").get_data(as_text=True)
    assert "nos capteurs" in asset_page.lower()  # the demo FM reads French
    assert "portes se rouvrir plus souvent" in asset_page
    with _session(app) as s:
        tour = s.scalar(select(Site.id).where(Site.name == "Tour Lumière"))
    assert "nos capteurs" in fm.get(f"/sites/{tour}").get_data(as_text=True).lower()
    hoa = login("hoa.tilleuls@demo.example")  # Habitat's contract does not share them
    assert "nos capteurs voient" not in hoa.get(f"/assets/{_tilleuls_asset(app)}").get_data(as_text=True)
    with _session(app) as s:
        for contract in s.scalars(select(Contract)):
            contract.share_sensor_warnings = True
    try:
        html = unescape(hoa.get(f"/assets/{_tilleuls_asset(app)}").get_data(as_text=True))
        assert "moteur chauffer plus que d'habitude" in html
    finally:
        with _session(app) as s:
            for contract in s.scalars(select(Contract)):
                contract.share_sensor_warnings = contract.customer.name == "Lumière Immobilier"


def test_technicians_of_the_route_and_staff_are_told_of_a_new_warning(
    app: Flask, fresh_item: Callable[..., int]
) -> None:
    item_id = fresh_item(notified=False)
    with _session(app) as s:
        tell_due(s, utcnow(), NotifierSettings())
    with _session(app) as s:
        told = set(
            s.scalars(
                select(User.email)
                .join(Notification, Notification.user_id == User.id)
                .where(Notification.group_key == f"watch:{item_id}")
            )
        )
        assert "tech@demo.example" in told
        assert "staff@demo.example" in told
        assert not any(e.startswith(("fm", "hoa")) for e in told)
        assert s.get(WatchItem, item_id).notified_at is not None
        tell_due(s, utcnow(), NotifierSettings())
        assert (
            s.scalar(
                select(Notification.id).where(Notification.group_key == f"watch:{item_id}").offset(len(told))
            )
            is None
        )
