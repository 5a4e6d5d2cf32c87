"""Read models for portfolio and detail pages, scoped by :mod:`portal.access`.

Plain functions over a SQLAlchemy session, shared by the HTML views and the JSON API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, contains_eager, joinedload

from portal.access import Scope
from portal.kpi import Availability, availability_by_asset
from portal.models import (
    Age,
    Asset,
    AssetStatus,
    Customer,
    OperatingState,
    Outage,
    Site,
    Visit,
    VisitStatus,
)


@dataclass(frozen=True)
class AssetSummary:
    """One asset with what every stakeholder group sees about it."""

    asset: Asset
    site: Site
    customer: Customer
    state: OperatingState | None
    state_since: datetime | None
    fault_code: str | None
    age: Age
    open_outage: Outage | None
    next_visit: Visit | None
    availability_30d: Availability
    availability_90d: Availability

    @property
    def below_target(self) -> bool:
        """True when the 30-day availability is under the contract target."""
        pct = self.availability_30d.percent
        return pct is not None and pct < float(self.asset.availability_target)

    @property
    def state_label(self) -> str:
        """The state's value, or ``unknown`` when no status was ever received."""
        return self.state.value if self.state else "unknown"


def _open_outages(session: Session, asset_ids: Sequence[int]) -> dict[int, Outage]:
    if not asset_ids:
        return {}
    stmt = (
        select(Outage)
        .where(Outage.asset_id.in_(asset_ids), Outage.ended_at.is_(None))
        .order_by(Outage.started_at)
    )
    return {o.asset_id: o for o in session.scalars(stmt)}


def _next_visits(session: Session, asset_ids: Sequence[int], now: datetime) -> dict[int, Visit]:
    if not asset_ids:
        return {}
    first = (
        select(Visit.asset_id, func.min(Visit.scheduled_start).label("start"))
        .where(
            Visit.asset_id.in_(asset_ids),
            Visit.status == VisitStatus.SCHEDULED,
            Visit.scheduled_end >= now,
        )
        .group_by(Visit.asset_id)
        .subquery()
    )
    stmt = (
        select(Visit)
        .join(first, (Visit.asset_id == first.c.asset_id) & (Visit.scheduled_start == first.c.start))
        .where(Visit.status == VisitStatus.SCHEDULED)
    )
    return {v.asset_id: v for v in session.scalars(stmt)}


def summarise(session: Session, assets: Sequence[Asset], now: datetime) -> list[AssetSummary]:
    """Summaries for already-loaded assets (sites and customers loaded by the caller)."""
    ids = [a.id for a in assets]
    statuses = (
        {s.asset_id: s for s in session.scalars(select(AssetStatus).where(AssetStatus.asset_id.in_(ids)))}
        if ids
        else {}
    )
    outages = _open_outages(session, ids)
    visits = _next_visits(session, ids, now)
    avail_30 = availability_by_asset(session, ids, now - timedelta(days=30), now)
    avail_90 = availability_by_asset(session, ids, now - timedelta(days=90), now)
    today = now.date()
    rows = []
    for asset in assets:
        status = statuses.get(asset.id)
        rows.append(
            AssetSummary(
                asset=asset,
                site=asset.site,
                customer=asset.site.customer,
                state=status.state if status else None,
                state_since=status.since if status else None,
                fault_code=status.fault_code if status else None,
                age=asset.age_on(today),
                open_outage=outages.get(asset.id),
                next_visit=visits.get(asset.id),
                availability_30d=avail_30[asset.id],
                availability_90d=avail_90[asset.id],
            )
        )
    return rows


def portfolio(
    session: Session, scope: Scope, now: datetime, site_id: int | None = None
) -> list[AssetSummary]:
    """Every asset in scope (optionally of one site), with status, age, outage and next visit."""
    stmt = (
        select(Asset)
        .join(Site, Asset.site_id == Site.id)
        .join(Customer, Site.customer_id == Customer.id)
        .options(contains_eager(Asset.site).contains_eager(Site.customer))
        .where(scope.asset_filter())
        .order_by(Customer.name, Site.name, Asset.name)
    )
    if site_id is not None:
        stmt = stmt.where(Asset.site_id == site_id)
    return summarise(session, list(session.scalars(stmt).unique()), now)


def outage_history(session: Session, asset_id: int, limit: int = 50) -> list[Outage]:
    """The asset's most recent outages, newest first."""
    stmt = select(Outage).where(Outage.asset_id == asset_id).order_by(Outage.started_at.desc()).limit(limit)
    return list(session.scalars(stmt))


def visit_history(session: Session, asset_id: int, now: datetime, limit: int = 20) -> list[Visit]:
    """The asset's past and ongoing visits, newest first."""
    stmt = (
        select(Visit)
        .where(Visit.asset_id == asset_id, Visit.scheduled_start <= now)
        .order_by(Visit.scheduled_start.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def sites_with_counts(
    session: Session, scope: Scope, customer_id: int | None = None
) -> list[tuple[Site, int]]:
    """Sites in scope with their asset count, by name."""
    stmt = (
        select(Site, func.count(Asset.id))
        .outerjoin(Asset, Asset.site_id == Site.id)
        .where(scope.site_filter())
        .group_by(Site.id)
        .order_by(Site.name)
    )
    if customer_id is not None:
        stmt = stmt.where(Site.customer_id == customer_id)
    return [(site, count) for site, count in session.execute(stmt)]


@dataclass(frozen=True)
class WorkList:
    """A technician's list: what is down, what is degraded or silent, what is due."""

    down: list[AssetSummary]
    attention: list[AssetSummary]
    due: list[AssetSummary]


def work_list(
    session: Session, scope: Scope, now: datetime, due_within: timedelta = timedelta(days=7)
) -> WorkList:
    """Assets out of service first (entrapments on top, then longest down), then degraded
    or offline ones, then those with a visit due within ``due_within``."""
    rows = portfolio(session, scope, now)
    down = [r for r in rows if r.open_outage is not None]
    down.sort(key=lambda r: (r.open_outage.fault_code != "entrapment", r.open_outage.started_at))  # type: ignore[union-attr]
    attention = [
        r
        for r in rows
        if r.open_outage is None and r.state in (OperatingState.DEGRADED, OperatingState.OFFLINE)
    ]
    attention.sort(key=lambda r: r.state_since or now)
    due = [r for r in rows if r.next_visit is not None and r.next_visit.scheduled_start <= now + due_within]
    due.sort(key=lambda r: r.next_visit.scheduled_start)  # type: ignore[union-attr]
    return WorkList(down, attention, due)


def outage_board(
    session: Session, scope: Scope, now: datetime, closed_since: timedelta = timedelta(hours=24)
) -> tuple[list[Outage], list[Outage]]:
    """Open outages in scope (longest first) and those closed within ``closed_since`` (newest first)."""
    base = (
        select(Outage)
        .join(Asset, Outage.asset_id == Asset.id)
        .join(Site, Asset.site_id == Site.id)
        .options(contains_eager(Outage.asset).contains_eager(Asset.site).options(joinedload(Site.customer)))
        .where(scope.asset_filter())
    )
    open_ = list(session.scalars(base.where(Outage.ended_at.is_(None)).order_by(Outage.started_at)).unique())
    closed = list(
        session.scalars(
            base.where(Outage.ended_at >= now - closed_since).order_by(Outage.ended_at.desc())
        ).unique()
    )
    return open_, closed
