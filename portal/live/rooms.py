"""Socket.IO rooms and who may join them (asks :mod:`portal.access`, nothing else)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.db import MAX_ID, parse_id
from fleet.models import Asset, Site
from portal.access import Scope

MAX_IDS_PER_JOIN = 2_000


class BadJoin(ValueError):
    """A join request that is not a list of ids (the client is told why)."""


def asset_room(asset_id: int) -> str:
    """Room of one asset: status, outages, feedback of that asset."""
    return f"asset:{asset_id}"


def site_room(site_id: int) -> str:
    """Room of one site: every event of its assets."""
    return f"site:{site_id}"


def watch_room(room: str) -> str:
    """The sensor-warning twin of an asset or site room: ``watch:asset:3``. Warnings go only
    there, and only accounts allowed to see sensor warnings join them (residents and
    customers never receive them, not even as bare ids)."""
    return f"watch:{room}"


def parse_ids(value: object, name: str) -> list[int]:
    """A list of positive ints from a client message, or :class:`BadJoin`."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_IDS_PER_JOIN:
        raise BadJoin(f"{name} must be a list of at most {MAX_IDS_PER_JOIN} ids")
    ids: list[int] = []
    for item in value:
        # a JSON integer that can be a database id (positive, within the id column's range)
        checked = parse_id(item) if isinstance(item, int) else None
        if checked is None:
            raise BadJoin(f"{name} must contain database ids (1 to {MAX_ID})")
        ids.append(checked)
    return ids


@dataclass(frozen=True)
class JoinDecision:
    """Rooms granted and ids refused (unknown or out of scope: the same answer)."""

    rooms: list[str]
    refused_assets: list[int]
    refused_sites: list[int]


def decide_join(session: Session, scope: Scope, assets: Iterable[int], sites: Iterable[int]) -> JoinDecision:
    """Which of the requested asset and site rooms ``scope`` may join."""
    asset_ids, site_ids = sorted(set(assets)), sorted(set(sites))
    ok_assets: set[int] = set()
    ok_sites: set[int] = set()
    if asset_ids:
        ok_assets = set(
            session.scalars(select(Asset.id).where(Asset.id.in_(asset_ids), scope.asset_filter()))
        )
    if site_ids and scope.sites_visible:
        ok_sites = set(session.scalars(select(Site.id).where(Site.id.in_(site_ids), scope.site_filter())))
    rooms = [asset_room(i) for i in sorted(ok_assets)] + [site_room(i) for i in sorted(ok_sites)]
    return JoinDecision(
        rooms=rooms,
        refused_assets=[i for i in asset_ids if i not in ok_assets],
        refused_sites=[i for i in site_ids if i not in ok_sites],
    )
