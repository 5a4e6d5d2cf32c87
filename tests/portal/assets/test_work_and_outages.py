"""The technician's work list order and the outage board, scoped by the access rule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fleet.db import Database
from fleet.models import AssetStatus, OperatingState, Outage, Visit, VisitKind
from portal.access import Scope
from portal.assets import views
from portal.assets.service import outage_board, work_list
from tests.fleet.conftest import add_assets

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_work_list_puts_entrapments_then_longest_outages_first(db: Database) -> None:
    ids = add_assets(db, ["A", "B", "C", "D", "E"])
    with db.session() as s:
        for mqtt_id, hours, fault in [
            ("A", 1, "door_lock"),
            ("B", 5, "drive_fault"),
            ("C", 0.5, "entrapment"),
        ]:
            start = NOW - timedelta(hours=hours)
            s.add(Outage(asset_id=ids[mqtt_id], started_at=start, fault_code=fault))
            s.add(AssetStatus(asset_id=ids[mqtt_id], state=OperatingState.OUT_OF_SERVICE, fault_code=fault,
                              since=start, reported_at=start, last_seen_at=NOW))  # fmt: skip
        s.add(AssetStatus(asset_id=ids["D"], state=OperatingState.DEGRADED, fault_code="leveling",
                          since=NOW, reported_at=NOW, last_seen_at=NOW))  # fmt: skip
        s.add(Visit(asset_id=ids["E"], kind=VisitKind.PREVENTIVE, scheduled_start=NOW + timedelta(days=2),
                    scheduled_end=NOW + timedelta(days=2, hours=2), summary="monthly"))  # fmt: skip
        s.add(Visit(asset_id=ids["A"], kind=VisitKind.PREVENTIVE, scheduled_start=NOW + timedelta(days=20),
                    scheduled_end=NOW + timedelta(days=20, hours=2), summary="later"))  # fmt: skip
    with db.session() as s:
        work = work_list(s, Scope(everything=True), NOW)
        assert [r.asset.mqtt_id for r in work.down] == ["C", "B", "A"]
        assert [r.asset.mqtt_id for r in work.attention] == ["D"]
        assert [r.asset.mqtt_id for r in work.due] == ["E"]
        open_, closed = outage_board(s, Scope(everything=True), NOW)
        assert [o.asset.mqtt_id for o in open_] == ["B", "A", "C"]
        assert closed == []
        assert work_list(s, Scope(), NOW).down == []  # no scope, nothing
        for shown in (1, 2):  # a long list shows each tier's first rows, in the same order
            cut = work_list(s, Scope(everything=True), NOW, shown=shown)
            assert [r.asset.mqtt_id for r in cut.down] == ["C", "B", "A"][:shown]
            assert [r.asset.mqtt_id for r in cut.attention] == ["D"]
            assert [r.asset.mqtt_id for r in cut.due] == ["E"]
            assert (cut.count("down"), cut.count("attention"), cut.count("due")) == (3, 1, 1)


def test_outage_board_and_work_list_pages_are_scoped(login: Callable[[str], FlaskClient], app: Flask) -> None:
    staff = login("staff@demo.example").get("/outages").get_data(as_text=True)
    assert "Tour Lumière" in staff  # ELV-0103 is down in the office tower
    assert "Résidence Les Tilleuls" in staff  # ELV-0302 is down in a residence
    hoa = login("hoa.tilleuls@demo.example").get("/outages").get_data(as_text=True)
    assert "Résidence Les Tilleuls" in hoa
    assert "Tour Lumière" not in hoa
    tech = login("tech@demo.example").get("/work")
    assert tech.status_code == 200
    assert "Out of service (2)" in tech.get_data(as_text=True)
    assert app.test_client().get("/work").status_code == 302


def test_a_long_work_list_shows_the_first_rows_of_each_tier_and_says_how_many_more(
    login: Callable[[str], FlaskClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "WORK_SHOWN", 1)  # the demo's lists are short: one row per tier
    page = login("staff@demo.example").get("/work").get_data(as_text=True)
    down = page.split('id="down-h"', 1)[1].split("</section>", 1)[0]
    count = int(down.split("(", 1)[1].split(")", 1)[0])
    assert count >= 2
    assert down.count('class="work-item"') == 1  # the longest outage (entrapments first) only
    assert f"and {count - 1} more" in down
    assert "/portfolio?state=out_of_service" in down
    monkeypatch.setattr(views, "WORK_SHOWN", 50)
    whole = login("staff@demo.example").get("/work").get_data(as_text=True)
    down = whole.split('id="down-h"', 1)[1].split("</section>", 1)[0]
    assert down.count('class="work-item"') == count
    assert "more" not in down
