"""Exports for integrators: rows of a period, a page at a time, with an opaque cursor.

The cursor is the sort key of the last row sent (start time and id), base64-encoded, so
pages stay consistent while new rows arrive and any page is one indexed query."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, contains_eager

from fleet.db import parse_id
from fleet.models import Asset, Outage, Site, Visit
from portal.access import Scope

# the columns of each export, in order (CSV header; the JSON rows have the same keys)
OUTAGE_COLUMNS = (
    "id",
    "asset_id",
    "asset_mqtt_id",
    "asset_name",
    "site_id",
    "site_name",
    "started_at",
    "ended_at",
    "duration_s",
    "fault_code",
    "cause",
    "detected_by",
)

VISIT_COLUMNS = (
    "id",
    "asset_id",
    "asset_mqtt_id",
    "asset_name",
    "site_id",
    "site_name",
    "kind",
    "status",
    "scheduled_start",
    "scheduled_end",
    "checked_in_at",
    "checked_out_at",
    "summary",
    "report",
    "next_action",
)


def encode_cursor(started_at: datetime, row_id: int) -> str:
    """The cursor after a row."""
    raw = json.dumps([started_at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """The position a cursor names, or None for the first page; ValueError for a bad one."""
    if not cursor:
        return None
    try:
        started, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        position = datetime.fromisoformat(started), parse_id(row_id)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise ValueError("cursor is not one this API gave") from None
    if position[1] is None or position[0].tzinfo is None:
        raise ValueError("cursor is not one this API gave")
    return position[0], position[1]


def _next_cursor(found: list[Any], limit: int, last_key: datetime | None) -> str | None:
    """The cursor after the page's last row, when a row beyond the page was found (``limit + 1`` read)."""
    if len(found) <= limit or last_key is None:
        return None
    return encode_cursor(last_key, found[limit - 1].id)


def _stamp(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def outages(
    session: Session,
    scope: Scope,
    start: datetime,
    end: datetime,
    limit: int,
    after: tuple[datetime, int] | None = None,
    site_id: int | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Outages in scope overlapping ``[start, end)``, oldest first; (rows, the next page's cursor)."""
    stmt = (
        select(Outage)
        .join(Asset, Outage.asset_id == Asset.id)
        .join(Site, Asset.site_id == Site.id)
        .options(contains_eager(Outage.asset).contains_eager(Asset.site))
        .where(
            scope.asset_filter(),
            Outage.started_at < end,
            or_(Outage.ended_at.is_(None), Outage.ended_at >= start),
        )
    )
    if site_id is not None:
        stmt = stmt.where(Asset.site_id == site_id)
    if after is not None:
        at, row_id = after
        stmt = stmt.where(or_(Outage.started_at > at, and_(Outage.started_at == at, Outage.id > row_id)))
    found = list(session.scalars(stmt.order_by(Outage.started_at, Outage.id).limit(limit + 1)).unique())
    page = found[:limit]
    rows = [
        {
            "id": o.id,
            "asset_id": o.asset_id,
            "asset_mqtt_id": o.asset.mqtt_id,
            "asset_name": o.asset.name,
            "site_id": o.asset.site_id,
            "site_name": o.asset.site.name,
            "started_at": _stamp(o.started_at),
            "ended_at": _stamp(o.ended_at),
            "duration_s": int((o.ended_at - o.started_at).total_seconds()) if o.ended_at else None,
            "fault_code": o.fault_code,
            "cause": o.cause,
            "detected_by": o.detected_by.value,
        }
        for o in page
    ]
    return rows, _next_cursor(found, limit, page[-1].started_at if page else None)


def visits(
    session: Session,
    scope: Scope,
    start: datetime,
    end: datetime,
    limit: int,
    after: tuple[datetime, int] | None = None,
    site_id: int | None = None,
    with_reports: bool = True,
) -> tuple[list[dict[str, Any]], str | None]:
    """Visits in scope scheduled to start in ``[start, end)``, oldest first; (rows, the next
    page's cursor). Reports only for those who may read them (``with_reports``)."""
    stmt = (
        select(Visit)
        .join(Asset, Visit.asset_id == Asset.id)
        .join(Site, Asset.site_id == Site.id)
        .options(contains_eager(Visit.asset).contains_eager(Asset.site))
        .where(scope.asset_filter(), Visit.scheduled_start >= start, Visit.scheduled_start < end)
    )
    if site_id is not None:
        stmt = stmt.where(Asset.site_id == site_id)
    if after is not None:
        at, row_id = after
        stmt = stmt.where(
            or_(Visit.scheduled_start > at, and_(Visit.scheduled_start == at, Visit.id > row_id))
        )
    found = list(session.scalars(stmt.order_by(Visit.scheduled_start, Visit.id).limit(limit + 1)).unique())
    page = found[:limit]
    rows = [
        {
            "id": v.id,
            "asset_id": v.asset_id,
            "asset_mqtt_id": v.asset.mqtt_id,
            "asset_name": v.asset.name,
            "site_id": v.asset.site_id,
            "site_name": v.asset.site.name,
            "kind": v.kind.value,
            "status": v.status.value,
            "scheduled_start": _stamp(v.scheduled_start),
            "scheduled_end": _stamp(v.scheduled_end),
            "checked_in_at": _stamp(v.checked_in_at),
            "checked_out_at": _stamp(v.checked_out_at),
            "summary": v.summary,
            "report": v.report if with_reports else None,
            "next_action": v.next_action if with_reports else None,
        }
        for v in page
    ]
    return rows, _next_cursor(found, limit, page[-1].scheduled_start if page else None)
