"""Flask-SocketIO wiring: authorisation on connect and on every join, the lazy bridge.

Browsers connect to the default namespace. Signed-in users are authenticated by their
session cookie (the same rule as pages: an expired or rotated session is refused);
resident links pass their token as ``auth={"resident": token}`` and are put in their one
asset's room, and may join nothing else. After connecting, a page asks to ``join`` the
assets and sites it shows; each id is checked against :mod:`portal.access` and the ack
lists what was refused. Events arrive as ``live`` messages (see :mod:`portal.live.bridge`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from flask import Flask, current_app, session
from flask_login import current_user
from flask_socketio import SocketIO, join_room
from sqlalchemy import select

from config import Settings
from fleet import live as fleet_live
from fleet.db import utcnow
from fleet.live import LiveEvent, LiveKind
from fleet.models import Asset, Feedback, Outage
from portal.access import NotVisible, Scope, can, resident_asset
from portal.extensions import db_session
from portal.live.bridge import SOCKET_EVENT, BrowserEvent, LiveBridge, SiteDirectory, for_browsers
from portal.live.rooms import BadJoin, asset_room, decide_join, parse_ids, watch_room
from portal.ops.metrics import get_metrics

logger = logging.getLogger(__name__)
_RESIDENT_KEY = "live_resident_asset"
_COUNTED_KEY = "live_counted"  # this connection is in the connection gauge
_bridge_lock = threading.Lock()


def socketio_of(app: Flask) -> SocketIO:
    """The app's Socket.IO server."""
    return app.extensions["socketio"]


def _site_lookup(app: Flask) -> SiteDirectory:
    db = app.extensions["fleet.db"]

    def lookup(asset_id: int) -> int | None:
        with db.session() as s:
            return s.scalar(select(Asset.site_id).where(Asset.id == asset_id))

    return SiteDirectory(lookup)


def _forget_cached(app: Flask) -> Callable[[BrowserEvent], None]:
    """Outage events drop the asset's cached availability; every event drops cached fragments."""
    availability = app.extensions["portal.availability"]
    fragments = app.extensions["portal.fragments"]

    def listener(event: BrowserEvent) -> None:
        if event.event.kind in (LiveKind.OUTAGE_OPENED, LiveKind.OUTAGE_CLOSED) and event.event.asset_id:
            availability.forget(event.event.asset_id)
        fragments.clear()

    return listener


def ensure_bridge(app: Flask) -> LiveBridge | None:
    """Start this process's MQTT bridge once (on the first browser connection)."""
    settings: Settings = app.config["SETTINGS"]
    if not settings.live_enabled:
        return None
    with _bridge_lock:
        bridge: LiveBridge | None = app.extensions.get("portal.live_bridge")
        if bridge is None:
            bridge = LiveBridge(
                socketio_of(app), settings.mqtt_url, settings.mqtt_live_topic, _site_lookup(app),
                shared=bool(settings.socketio_message_queue), listeners=(_forget_cached(app),),
            )  # fmt: skip
            bridge.start()
            app.extensions["portal.live_bridge"] = bridge
        return bridge


def stop_bridge(app: Flask) -> None:
    """Stop the bridge if it was started (tests and shutdown)."""
    bridge: LiveBridge | None = app.extensions.pop("portal.live_bridge", None)
    if bridge is not None:
        bridge.stop()


def _scope() -> Scope | None:
    resident = session.get(_RESIDENT_KEY)
    if isinstance(resident, int):
        return Scope.for_resident(resident)
    if current_user and current_user.is_authenticated:
        return Scope.for_user(current_user)
    return None


def on_connect(auth: Any = None) -> bool:
    """Accept signed-in users and valid resident links; refuse everyone else."""
    token = auth.get("resident") if isinstance(auth, dict) else None
    if isinstance(token, str) and token:
        try:
            asset = resident_asset(db_session(), token)
        except NotVisible:
            logger.info("live: refused a connection with an unknown resident link")
            return False
        session[_RESIDENT_KEY] = asset.id
        join_room(asset_room(asset.id))
    elif not (current_user and current_user.is_authenticated):
        return False
    ensure_bridge(current_app._get_current_object())  # type: ignore[attr-defined]
    get_metrics().socketio.inc()
    session[_COUNTED_KEY] = True
    return True


def on_disconnect(*_args: Any) -> None:
    """An accepted connection ended."""
    if session.pop(_COUNTED_KEY, False):
        get_metrics().socketio.dec()


def on_join(data: Any) -> dict[str, Any]:
    """Join the rooms of the requested assets and sites that are in scope (checked each time)."""
    scope = _scope()
    if scope is None:
        return {"ok": False, "error": "not authenticated"}
    if not isinstance(data, dict):
        return {"ok": False, "error": 'join expects {"assets": [...], "sites": [...]}'}
    try:
        assets = parse_ids(data.get("assets"), "assets")
        sites = parse_ids(data.get("sites"), "sites")
    except BadJoin as exc:
        return {"ok": False, "error": str(exc)}
    decision = decide_join(db_session(), scope, assets, sites)
    rooms = list(decision.rooms)
    if session.get(_RESIDENT_KEY) is None and can(current_user, "see_sensor_warnings"):
        rooms += [watch_room(room) for room in decision.rooms]
    try:
        for room in rooms:
            join_room(room)
    except (ValueError, KeyError):  # the browser left (navigated away) while its join was being checked
        return {"ok": False, "error": "disconnected"}
    if decision.refused_assets or decision.refused_sites:
        logger.info("live: refused rooms assets=%s sites=%s", decision.refused_assets, decision.refused_sites)
    return {
        "ok": True,
        "rooms": len(decision.rooms),
        "refused": {"assets": decision.refused_assets, "sites": decision.refused_sites},
    }


def init_app(app: Flask) -> SocketIO:
    """Create the app's Socket.IO server (threading mode) and register the handlers."""
    settings: Settings = app.config["SETTINGS"]
    origins = [o.strip() for o in settings.socketio_cors_origins.split(",") if o.strip()]
    sio = SocketIO(
        app,
        async_mode="threading",
        message_queue=settings.socketio_message_queue or None,
        cors_allowed_origins=origins or None,
        ping_interval=20,
        ping_timeout=20,
        max_http_buffer_size=64 * 1024,
        logger=False,
        engineio_logger=False,
    )
    sio.on_event("connect", on_connect)
    sio.on_event("join", on_join)
    sio.on_event("disconnect", on_disconnect)
    return sio


def announce(app: Flask, events: Iterable[LiveEvent], *, connect_timeout_s: float = 5.0) -> None:
    """Push changes this process committed (a check-in, a dispatch, new feedback) the same
    way as the ingester's: on the live MQTT topic, so every portal process's bridge pushes
    them to its browsers and drops what they make stale.

    With live push off (one process, no broker) they are emitted from here. If the broker
    cannot be reached in ``connect_timeout_s`` they are emitted from here too and the
    other processes' pages catch up when they re-sync. Never fails the request, and only
    the requests of the first ``connect_timeout_s`` after the bridge started wait for its
    connection: with the broker down, later requests push locally at once."""
    events = list(events)
    if not events:
        return
    settings: Settings = app.config["SETTINGS"]
    bridge = ensure_bridge(app)
    if (
        bridge is not None
        and bridge.client is not None
        and bridge.connected.wait(_still_to_wait(bridge, connect_timeout_s))
    ):
        fleet_live.announce(bridge.client, settings.mqtt_live_topic, events)
        return
    if bridge is not None:
        logger.warning("live: broker unreachable, %d event(s) pushed from this process only", len(events))
    directory = app.extensions.setdefault("portal.site_directory", _site_lookup(app))
    forget = _forget_cached(app)
    for event in events:
        try:
            browser_event = for_browsers(event, directory)
            forget(browser_event)
            socketio_of(app).emit(SOCKET_EVENT, browser_event.data, to=browser_event.rooms, namespace="/")
        except Exception:  # never fail the request that caused it
            logger.exception("could not push a live event")


def _still_to_wait(bridge: LiveBridge, budget_s: float) -> float:
    """What is left of the connection budget since the bridge started (0 once spent)."""
    started = bridge.started_at if bridge.started_at is not None else time.monotonic()
    return max(0.0, started + budget_s - time.monotonic())


def timeline_event(outage: Outage, now: datetime) -> LiveEvent:
    """A live event telling pages that an outage's timeline moved."""
    return LiveEvent(
        LiveKind.TIMELINE, outage.asset_id, now.isoformat(), outage.asset.mqtt_id, outage_id=outage.id
    )


def feedback_event(item: Feedback) -> LiveEvent:
    """A live event telling pages of the asset and site that feedback arrived (ids only, never the text)."""
    return LiveEvent(
        LiveKind.FEEDBACK,
        item.asset_id,
        (item.created_at or utcnow()).isoformat(),
        item.asset.mqtt_id if item.asset is not None else "",
        feedback_id=item.id,
        site_id=item.site_id,
    )
