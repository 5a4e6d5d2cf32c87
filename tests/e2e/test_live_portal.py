"""Live push end to end: device → Mosquitto → ingester → SQL + MQTT live event → portal
bridge → Socket.IO → the open page, in headless Chromium; plus sensor charts from InfluxDB."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import socketio
from playwright.sync_api import expect
from sqlalchemy import select

from fleet.models import AssetStatus, OperatingState, Site
from portal.demo import DEMO_PASSWORD
from portal.live.server import socketio_of
from tests.e2e.conftest import Stack, login_page, wait_joined, wait_state
from tests.e2e.ingest_rig import wait_for

pytestmark = pytest.mark.browser


def test_status_published_to_mqtt_appears_on_the_open_portfolio_within_2_s(
    browser: Any, stack: Stack, artifacts_dir: Path
) -> None:
    target = stack.asset("ELV-0101")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    login_page(page, stack.portal.url, "fm@demo.example")
    page.goto(f"{stack.portal.url}/portfolio")
    wait_joined(page)
    page.evaluate("window.__noReload = 42")
    chip = page.locator(f'[data-live-chip="{target.id}"]')
    assert chip.get_attribute("data-state") == "in_service"
    down_before = int(page.locator('[data-live-count="out_of_service"]').inner_text())
    assert page.locator("#live-indicator").get_attribute("data-state") == "live"
    assert page.locator("#live-indicator").inner_text() == "En direct"  # this account reads French

    started = time.monotonic()
    stack.publish_status("ELV-0101", "out_of_service", "door_lock")
    wait_state(page, f'[data-live-chip="{target.id}"]', "out_of_service", 2_000)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert page.evaluate("window.__noReload") == 42  # updated in place, not reloaded
    assert "verrouillage de porte" in chip.inner_text()
    assert int(page.locator('[data-live-count="out_of_service"]').inner_text()) == down_before + 1
    expect(page.locator(f'[data-live-outage="{target.id}"]')).to_have_text(
        re.compile("^depuis le"), timeout=2_000
    )
    page.screenshot(path=str(artifacts_dir / "live-portfolio-after-push.png"), full_page=False)

    stack.publish_status("ELV-0101", "in_service")
    wait_state(page, f'[data-live-chip="{target.id}"]', "in_service", 2_000)
    assert page.locator(f'[data-live-outage="{target.id}"]').inner_text() == "—"
    context.close()


def test_resident_page_follows_its_asset_live_and_nothing_else(browser: Any, stack: Stack) -> None:
    mine, other = stack.asset("ELV-0102"), stack.asset("ELV-0104")
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{stack.portal.url}/r/{mine.public_token}")
    wait_joined(page)
    assert page.locator("#live-indicator").inner_text() == "En direct"
    stack.publish_status("ELV-0104", "out_of_service", "power_loss")  # another asset: not shown
    stack.publish_status("ELV-0102", "out_of_service", "leveling")
    wait_state(page, "[data-live-sentence]", "out_of_service", 2_000)
    sentence = page.locator("[data-live-sentence]").inner_text()
    assert sentence.startswith(f"{mine.name} est à l'arrêt depuis le")
    assert other.name not in page.locator("main").inner_text()
    stack.publish_status("ELV-0104", "in_service")
    stack.publish_status("ELV-0102", "in_service")
    wait_state(page, "[data-live-sentence]", "in_service", 2_000)
    context.close()


def test_page_resyncs_after_a_reconnect(browser: Any, stack: Stack) -> None:
    """A change made while the page's connection is down shows up after it reconnects."""
    target = stack.asset("ELV-0105")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    login_page(page, stack.portal.url, "staff@demo.example")
    page.goto(f"{stack.portal.url}/assets/{target.id}")
    wait_joined(page)
    sio = socketio_of(stack.portal.app)
    # change the status behind the page's back (no live event), then drop its connection
    with stack.db.session() as s:
        status = s.scalars(select(AssetStatus).where(AssetStatus.asset_id == target.id)).one()
        status.state = OperatingState.DEGRADED
        status.fault_code = "leveling"
        s.commit()
    # abort without waiting: a socket still on long-polling has no writer to drain its queue,
    # and close(wait=True) would then block forever
    for sock in list(sio.server.eio.sockets.values()):
        sock.close(wait=False, abort=True)
    wait_state(page, f'[data-live-chip="{target.id}"]', "degraded", 10_000)
    assert page.locator("#live-indicator").get_attribute("data-state") == "live"
    with stack.db.session() as s:
        status = s.scalars(select(AssetStatus).where(AssetStatus.asset_id == target.id)).one()
        status.state, status.fault_code = OperatingState.IN_SERVICE, None
        s.commit()
    context.close()


def _socket_client() -> socketio.Client:
    return socketio.Client(reconnection=False)


def test_socket_refuses_anonymous_and_resident_cannot_join_other_rooms(stack: Stack) -> None:
    anonymous = _socket_client()
    with pytest.raises(socketio.exceptions.ConnectionError):
        anonymous.connect(stack.portal.url, transports=["websocket"], wait_timeout=5)
    bogus = _socket_client()
    with pytest.raises(socketio.exceptions.ConnectionError):
        bogus.connect(stack.portal.url, transports=["websocket"], auth={"resident": "x" * 32}, wait_timeout=5)

    mine, other = stack.asset("ELV-0102"), stack.asset("ELV-0104")
    resident = _socket_client()
    resident.connect(
        stack.portal.url, transports=["websocket"], auth={"resident": mine.public_token}, wait_timeout=5
    )
    try:
        ack = resident.call("join", {"assets": [mine.id, other.id], "sites": [mine.site_id]}, timeout=5)
        assert ack["ok"] is True
        assert ack["refused"] == {"assets": [other.id], "sites": [mine.site_id]}
        bad = resident.call("join", {"assets": "all"}, timeout=5)
        assert bad["ok"] is False
        assert "list" in bad["error"]
    finally:
        resident.disconnect()


def test_logged_in_socket_joins_only_rooms_in_scope(stack: Stack) -> None:
    import requests

    with stack.db.session() as s:
        tilleuls = s.scalars(select(Site).where(Site.name == "Résidence Les Tilleuls")).one()
        lumiere = s.scalars(select(Site).where(Site.name == "Tour Lumière")).one()
        tilleuls_id, lumiere_id = tilleuls.id, lumiere.id
    http = requests.Session()
    page = http.get(f"{stack.portal.url}/auth/login", timeout=5).text
    token = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    resp = http.post(
        f"{stack.portal.url}/auth/login",
        data={"csrf_token": token, "email": "hoa.tilleuls@demo.example", "password": DEMO_PASSWORD},
        timeout=5,
    )
    assert resp.ok
    cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
    client = _socket_client()
    client.connect(stack.portal.url, transports=["websocket"], headers={"Cookie": cookie}, wait_timeout=5)
    try:
        ack = client.call("join", {"sites": [tilleuls_id, lumiere_id, 999_999]}, timeout=5)
        assert ack == {"ok": True, "rooms": 1, "refused": {"assets": [], "sites": [lumiere_id, 999_999]}}
    finally:
        client.disconnect()


def test_asset_page_charts_come_from_influxdb(browser: Any, stack: Stack, artifacts_dir: Path) -> None:
    target = stack.asset("ELV-0106")
    now_ms = int(time.time() * 1000)
    # 24 h of readings every 10 minutes: a rising motor temperature and a trip counter
    for i in range(144):
        ts = now_ms - (144 - i) * 600_000
        body = {"ts": ts, "trips": 50_000 + 12 * i, "door_reopenings": 300 + i // 6,
                "motor_temp_c": 30 + i / 10, "vibration_mm_s": 1.2, "leveling_error_mm": 0.5}  # fmt: skip
        stack.publisher.publish("equipment/ELV-0106/telemetry", json.dumps(body).encode())
    stack.publisher.wait_all(10)
    reader = stack.portal.app.extensions["portal.influxql"]
    assert wait_for(lambda: reader.count("telemetry", "motor_temp_c", "ELV-0106") >= 144, 15)
    assert reader.count("telemetry", "motor_temp_c", "ELV-0106") == 144

    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="en-GB")
    page = context.new_page()
    login_page(page, stack.portal.url, "tech@demo.example")
    page.goto(f"{stack.portal.url}/assets/{target.id}")
    page.locator("#charts[data-loaded=true]").wait_for(state="attached", timeout=10_000)
    figures = page.locator("#charts figure.chart")
    assert figures.count() == 5
    assert page.locator("#charts figure[data-field=motor_temp_c] canvas").count() == 1
    assert page.locator(".charts-status").inner_text() == ""
    page.screenshot(path=str(artifacts_dir / "asset-charts-tech.png"), full_page=True)
    page.get_by_role("button", name="7 days").click()
    page.locator("button[data-range='7d'][aria-pressed=true]").wait_for(state="attached")
    page.locator("#charts[data-loaded=true]").wait_for(state="attached", timeout=10_000)
    context.close()
