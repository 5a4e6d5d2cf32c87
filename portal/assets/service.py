"""Read models for portfolio and detail pages, scoped by :mod:`portal.access`.

Plain functions over a SQLAlchemy session, shared by the HTML views and the JSON API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session, contains_eager, joinedload

from fleet.db import among
from fleet.models import (
    Age,
    Asset,
    AssetKind,
    AssetStatus,
    ContractLevel,
    Customer,
    DetectedBy,
    OperatingState,
    Outage,
    Site,
    Visit,
    VisitStatus,
    age_between,
)
from portal.access import Scope
from portal.kpi import Availability, AvailabilityCache, AvailabilitySource, combined_availability


@dataclass(frozen=True)
class AssetSummary:
    """One asset with what every stakeholder group sees about it."""

    asset: AssetFields
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


# Plain rows (attribute access like the models) for the per-asset extras of a summary:
# a 500-asset portfolio would otherwise build thousands of ORM objects per page.
OUTAGE_COLUMNS = (Outage.id, Outage.asset_id, Outage.started_at, Outage.ended_at,
                  Outage.fault_code, Outage.cause, Outage.detected_by, Outage.technician_id,
                  Outage.eta)  # fmt: skip
VISIT_COLUMNS = (Visit.id, Visit.asset_id, Visit.kind, Visit.status, Visit.scheduled_start,
                 Visit.scheduled_end, Visit.summary)  # fmt: skip


def _open_outages(session: Session, asset_ids: Sequence[int] | Select[Any]) -> dict[int, Outage]:
    if not isinstance(asset_ids, Select) and not asset_ids:
        return {}
    stmt = (
        select(*OUTAGE_COLUMNS)
        .where(Outage.asset_id.in_(asset_ids), Outage.ended_at.is_(None))
        .order_by(Outage.started_at)
    )
    return {o.asset_id: o for o in session.execute(stmt)}  # type: ignore[misc]


def _next_visits(session: Session, asset_ids: Sequence[int] | Select[Any], now: datetime) -> dict[int, Visit]:
    """Each asset's next scheduled visit (the earliest not yet over)."""
    if not isinstance(asset_ids, Select) and not asset_ids:
        return {}
    stmt = (
        select(*VISIT_COLUMNS)
        .where(
            Visit.asset_id.in_(asset_ids),
            Visit.status == VisitStatus.SCHEDULED,
            Visit.scheduled_end >= now,
        )
        .order_by(Visit.scheduled_start.desc())
    )
    # newest first: the last one written for an asset is its earliest
    return {v.asset_id: v for v in session.execute(stmt)}  # type: ignore[misc]


class AssetFields(Protocol):
    """What a summary needs of an asset: an :class:`Asset` or a plain row of its columns."""

    id: int
    site_id: int
    kind: AssetKind
    name: str
    manufacturer: str
    model: str
    serial_number: str
    mqtt_id: str
    install_date: date
    rated_load_kg: int | None
    floors_served: int | None
    contract_level: ContractLevel
    availability_target: Decimal


# Every asset column but the resident token, read as plain rows for list pages.
ASSET_COLUMNS = tuple(c for c in Asset.__table__.c if c.key != "public_token")


def summarise(
    session: Session, assets: Sequence[AssetFields], now: datetime,
    availability: AvailabilitySource | None = None, sites: Mapping[int, Site] | None = None,
    among: Select[Any] | None = None,
) -> list[AssetSummary]:  # fmt: skip
    """Summaries of assets: ORM assets with their site and customer loaded, or plain rows
    with ``sites`` (by id, customers loaded).

    ``availability`` may be a process-wide cache; without one the figures are computed.
    ``among``, a SELECT of the same assets' ids, replaces a long ``IN (…)`` list of ids in
    the per-table queries (binding 500 parameters costs more than the query)."""
    ids = [a.id for a in assets]
    if not ids:
        return []
    wanted: Sequence[int] | Select[Any] = among if among is not None else ids
    status_cols = (AssetStatus.asset_id, AssetStatus.state, AssetStatus.since, AssetStatus.fault_code)
    statuses = {
        s.asset_id: s for s in session.execute(select(*status_cols).where(AssetStatus.asset_id.in_(wanted)))
    }
    outages = _open_outages(session, wanted)
    visits = _next_visits(session, wanted, now)
    avail_30, avail_90 = (availability or AvailabilityCache(0)).get(session, ids, now)
    today = now.date()
    rows = []
    for asset in assets:
        status = statuses.get(asset.id)
        site = sites[asset.site_id] if sites is not None else asset.site  # type: ignore[attr-defined]
        rows.append(
            AssetSummary(
                asset=asset,
                site=site,
                customer=site.customer,
                state=status.state if status else None,
                state_since=status.since if status else None,
                fault_code=status.fault_code if status else None,
                age=age_between(asset.install_date, today),
                open_outage=outages.get(asset.id),
                next_visit=visits.get(asset.id),
                availability_30d=avail_30[asset.id],
                availability_90d=avail_90[asset.id],
            )
        )
    return rows


def portfolio(
    session: Session, scope: Scope, now: datetime, site_id: int | None = None,
    asset_ids: Sequence[int] | None = None, kind: AssetKind | None = None,
    availability: AvailabilitySource | None = None,
) -> list[AssetSummary]:  # fmt: skip
    """Every asset in scope (optionally of one site, some ids or one kind), with status,
    age, outage and next visit, by customer, site and name.

    Assets are read as plain rows and sites (a few) as objects: a 500-asset portfolio
    would otherwise build 1,500 ORM objects per page."""
    site_stmt = select(Site).options(joinedload(Site.customer)).where(scope.daily_site_filter())
    if site_id is not None:
        site_stmt = site_stmt.where(Site.id == site_id)
    sites = {site.id: site for site in session.scalars(site_stmt)}
    if not sites:
        return []
    where = [scope.daily_asset_filter(), Asset.site_id.in_(list(sites))]
    if asset_ids is not None:
        where.append(Asset.id.in_(list(asset_ids)))
    if kind is not None:
        where.append(Asset.kind == kind)
    assets = list(session.execute(select(*ASSET_COLUMNS).where(*where)))
    assets.sort(key=lambda a: (sites[a.site_id].customer.name, sites[a.site_id].name, a.name))
    among = select(Asset.id).where(*where)
    return summarise(session, assets, now, availability, sites, among)


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
        .outerjoin(Asset, (Asset.site_id == Site.id) & Asset.archived_at.is_(None))
        .where(scope.daily_site_filter())
        .group_by(Site.id)
        .order_by(Site.name)
    )
    if customer_id is not None:
        stmt = stmt.where(Site.customer_id == customer_id)
    return [(site, count) for site, count in session.execute(stmt)]


TIERS = ("down", "attention", "due")


@dataclass(frozen=True)
class WorkList:
    """A technician's list: what is down, what is degraded or silent, what is due.

    ``counts`` holds each tier's full length when the lists hold only its first rows."""

    down: list[AssetSummary]
    attention: list[AssetSummary]
    due: list[AssetSummary]
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, tier: str) -> int:
        """How many assets the tier holds (shown or not)."""
        return self.counts.get(tier, len(getattr(self, tier)))


def work_candidates(
    session: Session, scope: Scope, now: datetime, due_within: timedelta = timedelta(days=7)
) -> list[int]:
    """Ids of the assets in scope that can be on the work list: an open outage, degraded or
    offline, or a scheduled visit not over that starts within ``due_within`` (one query)."""
    open_outage = exists().where(Outage.asset_id == Asset.id, Outage.ended_at.is_(None))
    attention = exists().where(
        AssetStatus.asset_id == Asset.id,
        AssetStatus.state.in_([OperatingState.DEGRADED, OperatingState.OFFLINE]),
    )
    due = exists().where(
        Visit.asset_id == Asset.id,
        Visit.status == VisitStatus.SCHEDULED,
        Visit.scheduled_end >= now,
        Visit.scheduled_start <= now + due_within,
    )
    stmt = select(Asset.id).where(scope.daily_asset_filter(), or_(open_outage, attention, due))
    return list(session.scalars(stmt))


def work_list(
    session: Session,
    scope: Scope,
    now: datetime,
    due_within: timedelta = timedelta(days=7),
    availability: AvailabilitySource | None = None,
    shown: int | None = None,
) -> WorkList:
    """Assets out of service first (entrapments on top, then longest down), then degraded
    or offline ones, then those with a visit due within ``due_within``.

    Only the candidates (:func:`work_candidates`) are summarised, not the whole portfolio:
    a staff account's list over thousands of units reads the few that need work. With
    ``shown``, each tier holds only its first ``shown`` rows (ordered on a few columns of
    every candidate, then only those summarised) and ``counts`` says how many it has."""
    candidates = work_candidates(session, scope, now, due_within)
    if shown is None or len(candidates) <= shown:
        rows = portfolio(session, scope, now, asset_ids=candidates, availability=availability)
        return work_groups(rows, now, due_within)
    order = _work_order(session, candidates, now, due_within)
    keep = sorted({a for tier in TIERS for a in order[tier][:shown]})
    rows_by_id = {
        r.asset.id: r for r in portfolio(session, scope, now, asset_ids=keep, availability=availability)
    }
    down, attention, due = ([rows_by_id[a] for a in order[tier][:shown]] for tier in TIERS)
    return WorkList(down, attention, due, counts={tier: len(order[tier]) for tier in TIERS})


def _work_order(
    session: Session, candidates: Sequence[int], now: datetime, due_within: timedelta
) -> dict[str, list[int]]:
    """Each tier's asset ids in :func:`work_groups`'s order, from the columns it sorts on
    (and the names of the portfolio's order, which breaks ties)."""
    wanted = select(Asset.id).where(among(session, Asset.id, list(candidates)))
    names = {
        a: (customer, site, name)
        for a, customer, site, name in session.execute(
            select(Asset.id, Customer.name, Site.name, Asset.name)
            .join(Site, Asset.site_id == Site.id)
            .join(Customer, Site.customer_id == Customer.id)
            .where(Asset.id.in_(wanted), Site.archived_at.is_(None))  # as the portfolio's sites
        )
    }
    base = sorted(names, key=names.__getitem__)
    outages = _open_outages(session, wanted)
    states = {
        a: since
        for a, since in session.execute(
            select(AssetStatus.asset_id, AssetStatus.since).where(
                AssetStatus.asset_id.in_(wanted),
                AssetStatus.state.in_([OperatingState.DEGRADED, OperatingState.OFFLINE]),
            )
        )
    }
    next_start = {  # each asset's earliest visit not yet over, as its summary's next visit
        a: start
        for a, start in session.execute(
            select(Visit.asset_id, func.min(Visit.scheduled_start))
            .where(
                Visit.asset_id.in_(wanted), Visit.status == VisitStatus.SCHEDULED, Visit.scheduled_end >= now
            )
            .group_by(Visit.asset_id)
        )
    }
    down = sorted((a for a in base if a in outages),
                  key=lambda a: (outages[a].fault_code != "entrapment", outages[a].started_at))  # fmt: skip
    attention = sorted((a for a in base if a not in outages and a in states), key=lambda a: states[a] or now)
    due = sorted((a for a in base if a in next_start and next_start[a] <= now + due_within),
                 key=next_start.__getitem__)  # fmt: skip
    return {"down": down, "attention": attention, "due": due}


def work_groups(rows: Sequence[AssetSummary], now: datetime, due_within: timedelta) -> WorkList:
    """The work list's three groups from summaries (any superset of the candidates)."""
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
        .where(scope.daily_asset_filter())
    )
    open_ = list(session.scalars(base.where(Outage.ended_at.is_(None)).order_by(Outage.started_at)).unique())
    closed = list(
        session.scalars(
            base.where(Outage.ended_at >= now - closed_since).order_by(Outage.ended_at.desc())
        ).unique()
    )
    return open_, closed


@dataclass(frozen=True)
class DetectionShare:
    """How many outages the sensors signalled before anyone reported them."""

    sensor_first: int
    total: int

    @property
    def percent(self) -> float | None:
        """The share in %, or None without outages."""
        return 100.0 * self.sensor_first / self.total if self.total else None


def detected_before_reported(session: Session, scope: Scope, since: datetime) -> DetectionShare:
    """Outages in scope that started since ``since``, and those whose first signal was a sensor."""
    stmt = (
        select(Outage.detected_by, func.count())
        .join(Asset, Outage.asset_id == Asset.id)
        .where(scope.asset_filter(), Outage.started_at >= since)
        .group_by(Outage.detected_by)
    )
    counts = {by: n for by, n in session.execute(stmt)}
    return DetectionShare(counts.get(DetectedBy.SENSOR, 0), sum(counts.values()))


@dataclass(frozen=True)
class PortfolioCounts:
    """The portfolio's headline counters over the matching assets."""

    out_of_service: int
    below_target: int
    visit_planned: int


def portfolio_counts(rows: Sequence[AssetSummary]) -> PortfolioCounts:
    """How many of ``rows`` are out of service, below their availability target, with a visit planned."""
    return PortfolioCounts(
        out_of_service=sum(1 for r in rows if r.state is OperatingState.OUT_OF_SERVICE),
        below_target=sum(1 for r in rows if r.below_target),
        visit_planned=sum(1 for r in rows if r.next_visit is not None),
    )


# --- portfolio sort and filter ----------------------------------------------------------
SEVERITY = {"out_of_service": 0, "offline": 1, "degraded": 2, "maintenance": 3, "unknown": 4, "in_service": 5}
SORT_KEYS = ("name", "status", "age", "availability", "site")


@dataclass(frozen=True)
class PortfolioQuery:
    """What the facility manager asked for: filters and one sort key."""

    state: str | None = None
    site_id: int | None = None
    kind: AssetKind | None = None
    min_age_years: int | None = None
    max_age_years: int | None = None
    sort: str = "name"
    descending: bool = False


def apply_query(rows: Sequence[AssetSummary], q: PortfolioQuery) -> list[AssetSummary]:
    """Filter and sort portfolio rows (stable: ties keep customer, site, name order)."""
    out = [
        r
        for r in rows
        if (q.state is None or r.state_label == q.state)
        and (q.site_id is None or r.site.id == q.site_id)
        and (q.kind is None or r.asset.kind == q.kind)
        and (q.min_age_years is None or r.age.years >= q.min_age_years)
        and (q.max_age_years is None or r.age.years <= q.max_age_years)
    ]
    if q.sort == "status":
        out.sort(key=lambda r: SEVERITY.get(r.state_label, 9), reverse=q.descending)
    elif q.sort == "age":
        out.sort(key=lambda r: r.asset.install_date, reverse=not q.descending)  # youngest first
    elif q.sort == "availability":
        out.sort(key=lambda r: (r.availability_30d.percent is None, r.availability_30d.percent or 0.0),
                 reverse=q.descending)  # fmt: skip
    elif q.sort == "site":
        out.sort(key=lambda r: (r.site.name, r.asset.name), reverse=q.descending)
    elif q.descending:
        out.reverse()
    return out


# --- the HOA president's building view ---------------------------------------------------
@dataclass(frozen=True)
class Building:
    """One building in plain words: its assets, recent outages, one availability figure."""

    site: Site
    rows: list[AssetSummary]
    outages_90d: list[Outage]
    availability_90d: float | None
    next_visit: Visit | None

    @property
    def all_working(self) -> bool:
        """True when every asset is in service."""
        return all(r.state_label == "in_service" for r in self.rows)


def buildings(
    session: Session, scope: Scope, now: datetime, availability: AvailabilitySource | None = None
) -> list[Building]:
    """Every site in scope with what an HOA president wants to know about it."""
    rows = portfolio(session, scope, now, availability=availability)
    by_site: dict[int, list[AssetSummary]] = {}
    for r in rows:
        by_site.setdefault(r.site.id, []).append(r)
    since = now - timedelta(days=90)
    out: list[Building] = []
    for site_rows in by_site.values():
        ids = [r.asset.id for r in site_rows]
        outages = list(
            session.scalars(
                select(Outage)
                .where(Outage.asset_id.in_(ids), or_(Outage.ended_at.is_(None), Outage.ended_at >= since))
                .options(joinedload(Outage.asset))  # the page names each one's unit
                .order_by(Outage.started_at.desc())
            )
        )
        visits = [r.next_visit for r in site_rows if r.next_visit is not None]
        out.append(
            Building(
                site=site_rows[0].site,
                rows=site_rows,
                outages_90d=outages,
                availability_90d=combined_availability(
                    [r.availability_90d for r in site_rows], timedelta(days=90)
                ),
                next_visit=min(visits, key=lambda v: v.scheduled_start) if visits else None,
            )
        )
    return out


@dataclass(frozen=True)
class FaultCount:
    """How often a fault code stopped the asset recently."""

    code: str
    count: int
    last_seen: datetime


def fault_counts(outages: Sequence[Outage], now: datetime, days: int = 90) -> list[FaultCount]:
    """Fault codes of the outages started in the last ``days`` days, most frequent first."""
    since = now - timedelta(days=days)
    counts: dict[str, tuple[int, datetime]] = {}
    for o in outages:
        if o.started_at < since or not o.fault_code:
            continue
        n, last = counts.get(o.fault_code, (0, o.started_at))
        counts[o.fault_code] = (n + 1, max(last, o.started_at))
    items = [FaultCount(code, n, last) for code, (n, last) in counts.items()]
    return sorted(items, key=lambda f: (-f.count, -f.last_seen.timestamp()))
