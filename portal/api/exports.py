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
from fleet.models import Asset, Customer, Outage, Site, Visit
from portal import kpi_months
from portal.access import Scope
from portal.api import schemas
from portal.assets import service
from portal.kpi import Levers, Tally, summarise_tally

# the columns of each export, in order (CSV header; the JSON rows have the same keys)
OUTAGE_COLUMNS = tuple(schemas.OutageRow.model_fields)
VISIT_COLUMNS = tuple(schemas.VisitRow.model_fields)
PORTFOLIO_COLUMNS = tuple(schemas.PortfolioRow.model_fields)
KPI_COLUMNS = tuple(schemas.KpiRow.model_fields)
COLUMNS = {
    "outages": OUTAGE_COLUMNS,
    "visits": VISIT_COLUMNS,
    "portfolio": PORTFOLIO_COLUMNS,
    "kpis": KPI_COLUMNS,
}


def _encode(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _decode(cursor: str, length: int) -> list[Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise ValueError("cursor is not one this API gave") from None
    if not isinstance(key, list) or len(key) != length:
        raise ValueError("cursor is not one this API gave")
    return key


def encode_cursor(started_at: datetime, row_id: int) -> str:
    """The cursor after a row of a time-ordered export."""
    return _encode([started_at.isoformat(), row_id])


def decode_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """The position a time-ordered cursor names, or None for the first page; ValueError for a bad one."""
    if not cursor:
        return None
    started, row_id = _decode(cursor, 2)
    try:
        position = datetime.fromisoformat(started), parse_id(row_id)
    except (ValueError, TypeError):
        raise ValueError("cursor is not one this API gave") from None
    if position[1] is None or position[0].tzinfo is None:
        raise ValueError("cursor is not one this API gave")
    return position[0], position[1]


def decode_id_cursor(cursor: str | None) -> int | None:
    """The last id an id-ordered cursor names, or None for the first page; ValueError for a bad one."""
    if not cursor:
        return None
    (row_id,) = _decode(cursor, 1)
    found = parse_id(row_id) if isinstance(row_id, int) else None
    if found is None:
        raise ValueError("cursor is not one this API gave")
    return found


def _time_page(
    session: Session,
    model: type[Outage] | type[Visit],
    key: Any,
    stmt: Any,
    limit: int,
    after: tuple[datetime, int] | None,
    site_id: int | None,
) -> tuple[list[Any], str | None]:
    """One page of ``stmt`` (records of ``model`` joined to their unit and site) ordered by
    ``key`` then id, after the cursor's position, and the next page's cursor (``limit + 1``
    rows are read, so a next page is announced only when it has a row)."""
    if site_id is not None:
        stmt = stmt.where(Asset.site_id == site_id)
    if after is not None:
        at, row_id = after
        stmt = stmt.where(or_(key > at, and_(key == at, model.id > row_id)))
    found = list(session.scalars(stmt.order_by(key, model.id).limit(limit + 1)).unique())
    page = found[:limit]
    more = len(found) > limit
    return page, encode_cursor(getattr(page[-1], key.key), page[-1].id) if more else None


def _unit_columns(record: Outage | Visit) -> dict[str, Any]:
    """The first columns of a row (:class:`~portal.api.schemas._UnitRow`)."""
    return {
        "id": record.id,
        "asset_id": record.asset_id,
        "asset_mqtt_id": record.asset.mqtt_id,
        "asset_name": record.asset.name,
        "site_id": record.asset.site_id,
        "site_name": record.asset.site.name,
    }


def outages(
    session: Session,
    scope: Scope,
    start: datetime,
    end: datetime,
    limit: int,
    after: tuple[datetime, int] | None = None,
    site_id: int | None = None,
) -> tuple[list[schemas.OutageRow], str | None]:
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
    page, next_cursor = _time_page(session, Outage, Outage.started_at, stmt, limit, after, site_id)
    rows = [
        schemas.OutageRow(
            **_unit_columns(o),
            started_at=o.started_at,
            ended_at=o.ended_at,
            duration_s=int((o.ended_at - o.started_at).total_seconds()) if o.ended_at else None,
            fault_code=o.fault_code,
            cause=o.cause,
            detected_by=o.detected_by,
        )
        for o in page
    ]
    return rows, next_cursor


def visits(
    session: Session,
    scope: Scope,
    start: datetime,
    end: datetime,
    limit: int,
    after: tuple[datetime, int] | None = None,
    site_id: int | None = None,
    with_reports: bool = True,
) -> tuple[list[schemas.VisitRow], str | None]:
    """Visits in scope scheduled to start in ``[start, end)``, oldest first; (rows, the next
    page's cursor). Reports only for those who may read them (``with_reports``)."""
    stmt = (
        select(Visit)
        .join(Asset, Visit.asset_id == Asset.id)
        .join(Site, Asset.site_id == Site.id)
        .options(contains_eager(Visit.asset).contains_eager(Asset.site))
        .where(scope.asset_filter(), Visit.scheduled_start >= start, Visit.scheduled_start < end)
    )
    page, next_cursor = _time_page(session, Visit, Visit.scheduled_start, stmt, limit, after, site_id)
    rows = [
        schemas.VisitRow(
            **_unit_columns(v),
            kind=v.kind.value,
            status=v.status.value,
            scheduled_start=v.scheduled_start,
            scheduled_end=v.scheduled_end,
            checked_in_at=v.checked_in_at,
            checked_out_at=v.checked_out_at,
            summary=v.summary,
            report=v.report if with_reports else None,
            next_action=v.next_action if with_reports else None,
        )
        for v in page
    ]
    return rows, next_cursor


def _id_page(
    session: Session, stmt: Any, limit: int, after: int | None, column: Any
) -> tuple[list[int], str | None]:
    """The ids of one page of ``stmt`` (a SELECT of ``column``), by id, and the next cursor."""
    if after is not None:
        stmt = stmt.where(column > after)
    found = list(session.scalars(stmt.order_by(column).limit(limit + 1)))
    page = found[:limit]
    return page, _encode([page[-1]]) if len(found) > limit else None


def portfolio(
    session: Session,
    scope: Scope,
    now: datetime,
    limit: int,
    after: int | None = None,
    site_id: int | None = None,
) -> tuple[list[schemas.PortfolioRow], str | None]:
    """Units in scope now (not archived), by id: status, age, outage, next visit, availability."""
    stmt = select(Asset.id).where(scope.daily_asset_filter())
    if site_id is not None:
        stmt = stmt.where(Asset.site_id == site_id)
    ids, next_cursor = _id_page(session, stmt, limit, after, Asset.id)
    summaries = sorted(service.portfolio(session, scope, now, asset_ids=ids), key=lambda r: r.asset.id)
    rows = [
        schemas.PortfolioRow(
            asset_id=r.asset.id,
            mqtt_id=r.asset.mqtt_id,
            name=r.asset.name,
            kind=r.asset.kind.value,
            customer_id=r.customer.id,
            customer_name=r.customer.name,
            site_id=r.site.id,
            site_name=r.site.name,
            state=r.state_label,
            state_since=r.state_since,
            fault_code=r.fault_code,
            install_date=r.asset.install_date,
            age_years=r.age.years,
            open_outage_id=r.open_outage.id if r.open_outage else None,
            open_outage_since=r.open_outage.started_at if r.open_outage else None,
            next_visit_id=r.next_visit.id if r.next_visit else None,
            next_visit_start=r.next_visit.scheduled_start if r.next_visit else None,
            availability_30d=_round(r.availability_30d.percent),
            availability_90d=_round(r.availability_90d.percent),
            availability_target=float(r.asset.availability_target),
            contract_level=r.asset.contract_level.value,
            manufacturer=r.asset.manufacturer,
            model=r.asset.model,
            serial_number=r.asset.serial_number,
        )
        for r in summaries
    ]
    return rows, next_cursor


def _round(value: float | None, digits: int = 3) -> float | None:
    return round(value, digits) if value is not None else None


def _kpi_row(
    level: str, key: int, name: str, customer_id: int, site_id: int | None, k: Levers
) -> schemas.KpiRow:
    hours = 3600.0
    return schemas.KpiRow(
        level=level,
        id=key,
        name=name,
        customer_id=customer_id,
        site_id=site_id,
        assets=k.assets,
        availability_pct=_round(k.availability),
        target_pct=_round(k.target),
        outages=k.outages,
        mtbf_h=_round(k.mtbf.total_seconds() / hours, 1) if k.mtbf else None,
        mttr_min=_round(k.mttr.total_seconds() / 60, 1) if k.mttr else None,
        callbacks_per_unit_year=_round(k.callbacks_per_unit_year, 2),
        response_min=_round(k.response_time.total_seconds() / 60, 1) if k.response_time else None,
        visits_due=k.visits_due,
        visits_on_time_pct=_round(k.visits_on_time, 1),
        feedback_resolved=k.feedback_resolved,
        feedback_median_resolution_h=_round(k.feedback_median_resolution.total_seconds() / hours, 1)
        if k.feedback_median_resolution
        else None,
    )


def kpis(
    session: Session,
    scope: Scope,
    start: datetime,
    end: datetime,
    level: str,
    limit: int,
    after: int | None = None,
    site_id: int | None = None,
) -> tuple[list[schemas.KpiRow], str | None]:
    """Service KPIs over ``[start, end)`` per unit, site or customer (``level``), by id, a page
    at a time; units archived before ``start`` are left out (as on the KPI page)."""
    units = (
        select(Asset.id, Asset.name, Site.id, Site.name, Customer.id, Customer.name)
        .join(Site, Asset.site_id == Site.id)
        .join(Customer, Site.customer_id == Customer.id)
        .where(scope.period_asset_filter(start))
    )
    if site_id is not None:
        units = units.where(Site.id == site_id)
    group = {"asset": Asset.id, "site": Site.id, "customer": Customer.id}[level]
    ids, next_cursor = _id_page(session, units.with_only_columns(group).distinct(), limit, after, group)
    members = session.execute(units.where(group.in_(ids))).all() if ids else []
    per_asset = kpi_months.tallies(session, [m[0] for m in members], start, end)
    totals: dict[int, Tally] = {}
    labels: dict[int, tuple[str, int, int | None]] = {}
    for asset_id, asset_name, site_key, site_name, customer_key, customer_name in members:
        key = {"asset": asset_id, "site": site_key, "customer": customer_key}[level]
        totals.setdefault(key, Tally()).absorb(per_asset[asset_id])
        labels[key] = {
            "asset": (asset_name, customer_key, site_key),
            "site": (site_name, customer_key, site_key),
            "customer": (customer_name, customer_key, None),
        }[level]
    period = end - start
    rows = [_kpi_row(level, key, *labels[key], summarise_tally(totals[key], period)) for key in ids]
    return rows, next_cursor
