"""The portfolio's read model: stored availability per asset, so that the portfolio page
filters, sorts, counts and pages in SQL and summarises only the 50 rows it shows.

- :func:`refresh_availability` recomputes stored rows from the outage and maintenance
  records with :func:`portal.kpi.availability_windows` (the reference). The worker runs it
  for every asset every ``AVAILABILITY_REFRESH_S`` and, each round, for the assets whose
  records changed since their row was computed.
- :func:`portfolio_page` is the fast path of :func:`portal.assets.service.portfolio` +
  :func:`~portal.assets.service.apply_query` + :func:`~portal.assets.service.portfolio_counts`.
  It answers ``None`` when a row is missing or older than ``max_age`` (no worker yet, a
  new asset): the caller then takes the reference path, so the page is never wrong, only
  slower. A property test checks that both paths give the same page.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, exists, false, func, or_, select, true
from sqlalchemy.orm import Session, joinedload

from fleet.models import (
    Asset,
    AssetAvailability,
    AssetStatus,
    Customer,
    MaintenancePeriod,
    OperatingState,
    Outage,
    Site,
    Visit,
    VisitStatus,
)
from portal.access import Scope
from portal.assets.service import (
    ASSET_COLUMNS,
    SEVERITY,
    AssetSummary,
    PortfolioCounts,
    PortfolioQuery,
    apply_query,
    portfolio,
    portfolio_counts,
    summarise,
)
from portal.kpi import Availability, AvailabilitySource, availability_windows

logger = logging.getLogger(__name__)
WINDOWS = (30, 90)
CHUNK = 500


# --- writing -----------------------------------------------------------------------------------
def refresh_availability(session: Session, now: datetime, asset_ids: Sequence[int] | None = None) -> int:
    """Recompute the stored availability of ``asset_ids`` (default: every asset not archived)
    as of ``now``, in the caller's transaction; returns how many rows were written."""
    ids = list(asset_ids) if asset_ids is not None else list(
        session.scalars(select(Asset.id).where(Asset.archived_at.is_(None)))
    )  # fmt: skip
    starts = [now - timedelta(days=d) for d in WINDOWS]
    for k in range(0, len(ids), CHUNK):
        part = ids[k : k + CHUNK]
        windows = availability_windows(session, part, starts, now)
        stored = {row.asset_id: row for row in session.scalars(
            select(AssetAvailability).where(AssetAvailability.asset_id.in_(part)))}  # fmt: skip
        for asset_id in part:
            row = stored.get(asset_id) or AssetAvailability(asset_id=asset_id)
            a30, a90 = windows[starts[0]][asset_id], windows[starts[1]][asset_id]
            row.computed_at = now
            row.percent_30d, row.outages_30d = a30.percent, a30.outages
            row.downtime_30d_s, row.maintenance_30d_s = (
                a30.downtime.total_seconds(),
                a30.maintenance.total_seconds(),
            )
            row.percent_90d, row.outages_90d = a90.percent, a90.outages
            row.downtime_90d_s, row.maintenance_90d_s = (
                a90.downtime.total_seconds(),
                a90.maintenance.total_seconds(),
            )
            if asset_id not in stored:
                session.add(row)
    session.flush()
    return len(ids)


def changed_since_computed(session: Session) -> list[int]:
    """Assets whose outage or maintenance records started or ended after their stored row
    was computed, or that have no row (the worker refreshes these every round)."""
    row = AssetAvailability
    touched = [
        exists().where(
            model.asset_id == Asset.id,
            or_(model.started_at > row.computed_at, model.ended_at > row.computed_at),
        )
        for model in (Outage, MaintenancePeriod)
    ]
    stmt = (
        select(Asset.id)
        .outerjoin(row, row.asset_id == Asset.id)
        .where(Asset.archived_at.is_(None), or_(row.asset_id.is_(None), *touched))
    )
    return list(session.scalars(stmt))


# --- reading -----------------------------------------------------------------------------------
def _availability(row: Any, days: int) -> Availability:
    return Availability(
        getattr(row, f"percent_{days}d"),
        timedelta(seconds=getattr(row, f"downtime_{days}d_s")),
        timedelta(seconds=getattr(row, f"maintenance_{days}d_s")),
        getattr(row, f"outages_{days}d"),
    )


class StoredAvailability:
    """The summary's availability source on the fast path: the stored rows (all present)."""

    def __init__(self, rows: dict[int, Any]) -> None:
        self.rows = rows

    def get(
        self, _session: Session, asset_ids: Sequence[int], _now: datetime
    ) -> tuple[dict[int, Availability], dict[int, Availability]]:
        """(30-day, 90-day) availability of each asset, from its stored row."""
        return (
            {a: _availability(self.rows[a], 30) for a in asset_ids},
            {a: _availability(self.rows[a], 90) for a in asset_ids},
        )


@dataclass(frozen=True)
class PortfolioPage:
    """One page of the portfolio with the counters over everything that matches."""

    rows: list[AssetSummary]
    total: int
    matching: int
    counts: PortfolioCounts
    page: int
    pages: int


def _clamp(page: int, matching: int, page_size: int) -> tuple[int, int]:
    """(the page to show, how many pages): a page out of range shows the first."""
    pages = max(1, -(-matching // page_size))
    return (page if 1 <= page <= pages else 1), pages


def reference_page(
    session: Session,
    scope: Scope,
    now: datetime,
    q: PortfolioQuery,
    page: int,
    page_size: int,
    availability: AvailabilitySource | None = None,
) -> PortfolioPage:
    """The same page computed from scratch: every asset summarised, filtered and sorted in
    Python (the reference the fast path is tested against, and its fallback)."""
    every = portfolio(session, scope, now, availability=availability)
    matching = apply_query(every, q)
    page, pages = _clamp(page, len(matching), page_size)
    return PortfolioPage(
        rows=matching[(page - 1) * page_size : page * page_size],
        total=len(every),
        matching=len(matching),
        counts=portfolio_counts(matching),
        page=page,
        pages=pages,
    )


def _years_ago(today: date, years: int) -> date:
    """The latest install date whose age on ``today`` is at least ``years`` whole years."""
    year = today.year - years
    try:
        return today.replace(year=year)
    except ValueError:  # 29 February in a year without one
        return date(year, 2, 28)


def install_date_bounds(q: PortfolioQuery, today: date) -> tuple[date | None, date | None]:
    """The age filter of ``q`` as install dates: (latest allowed, earliest excluded), so that
    ``age_between(install, today).years`` is within the bounds exactly when
    ``earliest_excluded < install <= latest`` (None: no bound)."""
    latest = _years_ago(today, q.min_age_years) if q.min_age_years else None
    excluded = _years_ago(today, q.max_age_years + 1) if q.max_age_years is not None else None
    return latest, excluded


def _age_filter(q: PortfolioQuery, today: date) -> list[Any]:
    latest, excluded = install_date_bounds(q, today)
    where = []
    if latest is not None:
        where.append(Asset.install_date <= latest)
    if excluded is not None:
        where.append(Asset.install_date > excluded)
    return where


def _state_filter(state: str) -> Any:
    if state == "unknown":
        return AssetStatus.asset_id.is_(None)
    if state not in {s.value for s in OperatingState}:
        return false()
    return AssetStatus.state == OperatingState(state)


def _order(q: PortfolioQuery, names: tuple[Any, Any, Any]) -> list[Any]:
    """ORDER BY equal to :func:`~portal.assets.service.apply_query`'s stable sorts."""
    customer, site, asset = names
    by_name = [customer, site, asset, Asset.id]
    if q.sort == "name":
        return [c.desc() for c in by_name] if q.descending else by_name
    if q.sort == "status":
        severity = case(
            *[(AssetStatus.state == OperatingState(s), n) for s, n in SEVERITY.items() if s != "unknown"],
            else_=SEVERITY["unknown"],
        )
        return [severity.desc() if q.descending else severity, *by_name]
    if q.sort == "age":
        youngest_first = not q.descending
        return [Asset.install_date.desc() if youngest_first else Asset.install_date, *by_name]
    if q.sort == "availability":
        missing = AssetAvailability.percent_30d.is_(None)
        pct = func.coalesce(AssetAvailability.percent_30d, 0.0)
        keys = [missing.desc(), pct.desc()] if q.descending else [missing, pct]
        return [*keys, *by_name]
    if q.sort == "site":
        keys = [site.desc(), asset.desc()] if q.descending else [site, asset]
        return [*keys, customer, Asset.id]
    return by_name


def portfolio_page(
    session: Session,
    scope: Scope,
    now: datetime,
    q: PortfolioQuery,
    page: int,
    page_size: int,
    max_age: timedelta,
) -> PortfolioPage | None:
    """The portfolio page ``page`` (1-based; out of range: the first) for ``q``, or ``None``
    when a stored availability row is missing or older than ``max_age``."""
    base = (
        select(Asset.id)
        .join(Site, Asset.site_id == Site.id)
        .outerjoin(AssetStatus, AssetStatus.asset_id == Asset.id)
        .outerjoin(AssetAvailability, AssetAvailability.asset_id == Asset.id)
        .where(scope.daily_asset_filter(), scope.daily_site_filter())
    )
    stale = or_(AssetAvailability.asset_id.is_(None), AssetAvailability.computed_at < now - max_age)
    where = _age_filter(q, now.date())
    if q.state is not None:
        where.append(_state_filter(q.state))
    if q.site_id is not None:
        where.append(Asset.site_id == q.site_id)
    if q.kind is not None:
        where.append(Asset.kind == q.kind)
    matches = and_(true(), *where)
    planned = exists().where(
        Visit.asset_id == Asset.id, Visit.status == VisitStatus.SCHEDULED, Visit.scheduled_end >= now
    )
    below = and_(
        AssetAvailability.percent_30d.is_not(None), AssetAvailability.percent_30d < Asset.availability_target
    )
    # one pass over the scope: freshness, the total, and the counters of what matches
    stale_rows, total, matching, down, under, visited = session.execute(
        base.with_only_columns(
            func.count(case((stale, 1))),
            func.count(),
            func.count(case((matches, 1))),
            func.count(case((and_(matches, AssetStatus.state == OperatingState.OUT_OF_SERVICE), 1))),
            func.count(case((and_(matches, below), 1))),
            func.count(case((and_(matches, planned), 1))),
        )
    ).one()
    if stale_rows:
        return None
    page, pages = _clamp(page, matching, page_size)
    names = _names(session)
    ordered: Select[Any] = (
        base.where(*where)
        .join(Customer, Site.customer_id == Customer.id)
        .order_by(*_order(q, names))
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    ids = list(session.scalars(ordered))
    rows = _summaries(session, ids, now)
    return PortfolioPage(
        rows=rows,
        total=total,
        matching=matching,
        counts=PortfolioCounts(down, under, visited),
        page=page,
        pages=pages,
    )


def _names(session: Session) -> tuple[Any, Any, Any]:
    """Customer, site and asset name columns compared by code point, like Python's sort."""
    columns = (Customer.name, Site.name, Asset.name)
    if session.get_bind().dialect.name == "postgresql":
        return tuple(c.collate("C") for c in columns)  # type: ignore[return-value]
    return columns  # SQLite compares text by its bytes: UTF-8 keeps code point order


def _summaries(session: Session, ids: list[int], now: datetime) -> list[AssetSummary]:
    """The summaries of ``ids``, in that order, availability from the stored rows."""
    if not ids:
        return []
    assets = {a.id: a for a in session.execute(select(*ASSET_COLUMNS).where(Asset.id.in_(ids)))}
    site_ids = {a.site_id for a in assets.values()}
    sites = {
        s.id: s
        for s in session.scalars(select(Site).options(joinedload(Site.customer)).where(Site.id.in_(site_ids)))
    }
    stored = {
        r.asset_id: r
        for r in session.scalars(select(AssetAvailability).where(AssetAvailability.asset_id.in_(ids)))
    }
    ordered = [assets[i] for i in ids]
    return summarise(session, ordered, now, StoredAvailability(stored), sites)
