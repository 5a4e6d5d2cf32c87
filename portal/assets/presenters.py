"""Asset pieces that several pages show: the repair timeline of an asset or an outage.

A presenter: the asset, building, outage and resident pages use it; no routes here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import url_for
from sqlalchemy.orm import Session

from fleet.models import Asset, Outage
from portal.assets import timeline


def timeline_context(
    session: Session,
    obj: Asset,
    now: datetime,
    resident: str | None = None,
    quiet: bool = False,
    current: Mapping[int, Outage] | None = None,
) -> dict[str, Any]:
    """What ``assets/_timeline.html`` needs for the asset's current outage (no steps without one).

    ``quiet`` renders nothing visible without an outage, only the place live updates fill.
    ``current``: the current outages of several assets read at once
    (:func:`~portal.assets.timeline.current_outages`), so a page of many timelines reads once."""
    outage = current.get(obj.id) if current is not None else timeline.current_outage(session, obj.id, now)
    ctx: dict[str, Any] = {"steps": [], "asset_id": obj.id, "asset_name": obj.name, "tz": obj.site.timezone}
    if outage is not None:
        ctx = outage_timeline_context(session, outage)
    ctx["quiet"] = quiet
    ctx["timeline_url"] = (
        url_for("resident.timeline", token=resident)
        if resident
        else url_for("assets.asset_timeline", asset_id=obj.id, quiet=1 if quiet else None)
    )
    return ctx


def outage_timeline_context(session: Session, outage: Outage) -> dict[str, Any]:
    """What ``assets/_timeline.html`` needs for one outage."""
    return {
        "steps": timeline.steps(session, outage),
        "asset_id": outage.asset_id,
        "asset_name": outage.asset.name,
        "tz": outage.asset.site.timezone,
        "timeline_url": url_for("assets.outage_timeline", outage_id=outage.id),
    }
