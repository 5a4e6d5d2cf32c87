"""The fragment cache: what it keeps, for whom, and what drops it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from fleet.live import LiveEvent, LiveKind
from fleet.models import Asset
from portal.app import create_app
from portal.live.bridge import BrowserEvent
from portal.live.server import _forget_cached
from portal.web.fragments import FragmentCache
from tests.conftest import logged_in_client, make_settings

ROW_NAME = re.compile(r'<tr data-asset-id="(\d+)">\s*<th scope="row"><a [^>]+>([^<]+)</a>')


def test_cache_keeps_for_ttl_then_forgets() -> None:
    now = [1000.0]
    cache = FragmentCache(ttl_s=10, monotonic=lambda: now[0])
    assert cache.get("k") is None
    cache.put("k", "<p>x</p>", n=1)
    now[0] += 9.9
    frag = cache.get("k")
    assert frag is not None
    assert frag.html == "<p>x</p>"
    assert frag.extra == {"n": 1}
    now[0] += 0.1
    assert cache.get("k") is None
    assert len(cache) == 0


def test_cache_is_bounded_least_recently_used_first() -> None:
    cache = FragmentCache(ttl_s=60, max_entries=2)
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("c", "C")
    assert cache.get("b") is None
    assert cache.get("a") is not None
    assert cache.get("c") is not None


def test_disabled_cache_keeps_nothing() -> None:
    cache = FragmentCache(ttl_s=0)
    frag = cache.put("k", "x")
    assert frag.html == "x"
    assert cache.get("k") is None
    assert not cache.enabled


@pytest.fixture
def cached_app(sqlite_demo_url: str) -> Iterator[Flask]:
    """The portal with a long-lived fragment cache."""
    application = create_app(
        make_settings(sqlite_demo_url, page_cache_s=300, live_enabled=False, influx_url="http://127.0.0.1:9")
    )
    application.config["WTF_CSRF_ENABLED"] = False
    yield application
    application.extensions["fleet.db"].dispose()


def _names(client: FlaskClient, query: str = "") -> dict[int, str]:
    html = client.get(f"/portfolio{query}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    return {int(i): name for i, name in ROW_NAME.findall(html)}


def _live_config(client: FlaskClient) -> dict[str, object]:
    html = client.get("/portfolio").get_data(as_text=True)
    found = re.search(r'<script type="application/json" id="live-config"[^>]*>(.*?)</script>', html, re.S)
    assert found
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def _rename(app: Flask, asset_id: int, name: str) -> None:
    with app.extensions["fleet.db"].session() as s:
        s.scalars(select(Asset).where(Asset.id == asset_id)).one().name = name
        s.commit()


def test_portfolio_is_served_from_cache_until_a_write_or_a_live_event(cached_app: Flask) -> None:
    staff = logged_in_client(cached_app, "staff@demo.example")
    assert _live_config(staff)["resync_on_join"] is False  # freshly rendered
    first = _names(staff)
    asset_id = next(iter(first))
    _rename(cached_app, asset_id, "Renamed behind the cache")
    assert _names(staff)[asset_id] == first[asset_id]  # still the cached copy
    assert _live_config(staff)["resync_on_join"] is True  # so the browser re-reads statuses on join
    # any write request in this process drops the cache
    staff.post("/language", data={"lang": "en", "next": "/portfolio"})
    assert _names(staff)[asset_id] == "Renamed behind the cache"
    _rename(cached_app, asset_id, "Renamed again")
    assert _names(staff)[asset_id] == "Renamed behind the cache"
    # so does a live event from the MQTT bridge
    _forget_cached(cached_app)(
        BrowserEvent(LiveEvent(LiveKind.STATUS, asset_id, "", state="in_service"), None)
    )
    assert _names(staff)[asset_id] == "Renamed again"


def test_cached_fragments_are_per_scope_query_and_language(cached_app: Flask) -> None:
    staff = logged_in_client(cached_app, "staff@demo.example")
    fm = logged_in_client(cached_app, "fm@demo.example")
    everything = _names(staff)
    own = _names(fm)
    assert set(own) < set(everything)  # the facility manager never gets staff's cached table
    assert set(_names(staff)) == set(everything)
    assert set(_names(staff, "?kind=escalator")) < set(everything)
    english = staff.get("/portfolio", headers={"Accept-Language": "en"}).get_data(as_text=True)
    french = logged_in_client(cached_app, "staff@demo.example")
    french.post("/language", data={"lang": "fr", "next": "/portfolio"})
    html = french.get("/portfolio").get_data(as_text=True)
    assert "Disponibilité" in html
    assert "Disponibilité" not in english


def test_bad_query_is_never_cached(cached_app: Flask) -> None:
    staff = logged_in_client(cached_app, "staff@demo.example")
    assert staff.get("/portfolio?state=bogus").status_code == 400
    assert staff.get("/portfolio?state=bogus").status_code == 400
    assert len(cached_app.extensions["portal.fragments"]) == 0
