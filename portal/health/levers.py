"""The service levers a stakeholder feels, measured on a set of units over a window: what the
satisfaction equations explain answers with, and what the health score is built from.

Every lever is oriented the same way, **bigger is worse**, and counted per unit so that a
building of ten lifts and a single lift compare:

- ``availability_gap``: percentage points below the contract target (0 when met);
- ``outages``: unplanned outages that started in the window, per unit;
- ``repeat_faults``: of them, those with the same fault on the same unit within 30 days before;
- ``restore_hours``: mean time to restore of the outages that ended in the window;
- ``response_over_hours``: mean time a technician arrived later than the contract's commitment;
- ``missed_arrivals``: outages where the technician arrived after the announced time, per unit;
- ``late_visits``: planned visits not started before the end of their window, per unit;
- ``open_feedback_days``: age of the oldest feedback still open at the window's end (≤ 90);
- ``warnings_confirmed``: sensor warnings confirmed or followed by an outage, per unit.

:func:`load_history` reads what the window needs in a few queries;
:func:`measure` is pure arithmetic over it (many windows, one load).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from fleet.models import (
    Asset,
    Contract,
    Feedback,
    MaintenancePeriod,
    Outage,
    Visit,
    VisitStatus,
    contract_assets,
    contract_sites,
)
from fleet.models.condition import WatchItem, WatchStatus
from portal.kpi import availability

logger = logging.getLogger(__name__)

LEVERS = (
    "availability_gap",
    "outages",
    "repeat_faults",
    "restore_hours",
    "response_over_hours",
    "missed_arrivals",
    "late_visits",
    "open_feedback_days",
    "warnings_confirmed",
)
WINDOW = timedelta(days=30)
REPEAT_WITHIN = timedelta(days=30)
DEFAULT_COMMITMENT_H = 4.0


@dataclass
class History:
    """A set of units' service records over a period (see :func:`load_history`)."""

    outages: dict[int, list[Outage]] = field(default_factory=lambda: defaultdict(list))
    maintenance: dict[int, list[tuple[datetime, datetime | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    visits: dict[int, list[Visit]] = field(default_factory=lambda: defaultdict(list))
    feedback: dict[int, list[tuple[datetime, datetime | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    confirmed: dict[int, list[datetime]] = field(default_factory=lambda: defaultdict(list))
    target: dict[int, float] = field(default_factory=dict)
    commitment_h: dict[int, float] = field(default_factory=dict)
    site_of: dict[int, int] = field(default_factory=dict)


def load_history(session: Session, asset_ids: Sequence[int], start: datetime, end: datetime) -> History:
    """Every record of ``asset_ids`` that a window inside ``[start, end)`` may need."""
    h = History()
    ids = list(asset_ids)
    if not ids:
        return h
    for asset_id, site_id, target in session.execute(
        select(Asset.id, Asset.site_id, Asset.availability_target).where(Asset.id.in_(ids))
    ):
        h.site_of[asset_id] = site_id
        h.target[asset_id] = float(target)
    early = start - REPEAT_WITHIN
    for outage in session.scalars(
        select(Outage)
        .where(
            Outage.asset_id.in_(ids),
            Outage.started_at < end,
            or_(Outage.ended_at.is_(None), Outage.ended_at >= early),
        )
        .order_by(Outage.started_at)
    ):
        h.outages[outage.asset_id].append(outage)
    for asset_id, began, ended in session.execute(
        select(MaintenancePeriod.asset_id, MaintenancePeriod.started_at, MaintenancePeriod.ended_at).where(
            MaintenancePeriod.asset_id.in_(ids), MaintenancePeriod.started_at < end,
            or_(MaintenancePeriod.ended_at.is_(None), MaintenancePeriod.ended_at >= start),
        )
    ):  # fmt: skip
        h.maintenance[asset_id].append((began, ended))
    for visit in session.scalars(
        select(Visit).where(Visit.asset_id.in_(ids), Visit.scheduled_end >= start, Visit.scheduled_end < end)
    ):
        h.visits[visit.asset_id].append(visit)
    sites = set(h.site_of.values())
    for site_id, on_asset, created, resolved in session.execute(
        select(Feedback.site_id, Feedback.asset_id, Feedback.created_at, Feedback.resolved_at).where(
            Feedback.site_id.in_(sites), Feedback.created_at < end,
            or_(Feedback.resolved_at.is_(None), Feedback.resolved_at >= start),
        )
    ):  # fmt: skip
        # feedback on a unit counts for that unit, on a building for each of its units
        units = [on_asset] if on_asset in h.site_of else [a for a, s in h.site_of.items() if s == site_id]
        for unit in units:
            h.feedback[unit].append((created, resolved))
    for asset_id, closed in session.execute(
        select(WatchItem.asset_id, WatchItem.closed_at).where(
            WatchItem.asset_id.in_(ids), WatchItem.closed_at >= start, WatchItem.closed_at < end,
            WatchItem.status.in_([WatchStatus.CONFIRMED, WatchStatus.FOLLOWED_BY_OUTAGE]),
        )
    ):  # fmt: skip
        if closed is not None:
            h.confirmed[asset_id].append(closed)
    by_asset = select(contract_assets.c.asset_id, Contract.response_hours).join(
        Contract, Contract.id == contract_assets.c.contract_id
    )
    by_site = select(Asset.id, Contract.response_hours).join(
        contract_sites, contract_sites.c.site_id == Asset.site_id
    ).join(Contract, Contract.id == contract_sites.c.contract_id)  # fmt: skip
    for stmt in (by_site, by_asset):  # a unit's own contract wins over its site's
        for asset_id, hours in session.execute(stmt.where(Contract.archived_at.is_(None))):
            if asset_id in h.site_of:
                h.commitment_h[asset_id] = float(hours)
    return h


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def measure(h: History, asset_ids: Iterable[int], start: datetime, end: datetime) -> dict[str, float]:
    """The levers of ``asset_ids`` over ``[start, end)`` (all zero for no unit)."""
    units = [a for a in asset_ids if a in h.site_of]
    out = dict.fromkeys(LEVERS, 0.0)
    if not units:
        return out
    n = len(units)
    gaps, restores, overs = [], [], []
    oldest_open = 0.0
    for unit in units:
        outages = h.outages.get(unit, [])
        spans = [(o.started_at, o.ended_at) for o in outages]
        avail = availability(spans, h.maintenance.get(unit, []), start, end)
        if avail.percent is not None:
            gaps.append(max(0.0, h.target.get(unit, 99.5) - avail.percent))
        commitment = timedelta(hours=h.commitment_h.get(unit, DEFAULT_COMMITMENT_H))
        for i, outage in enumerate(outages):
            if outage.ended_at is not None and start <= outage.ended_at < end:
                restores.append(_hours(outage.ended_at - outage.started_at))
            if not start <= outage.started_at < end:
                continue
            out["outages"] += 1
            if outage.fault_code and any(
                p.fault_code == outage.fault_code and outage.started_at - REPEAT_WITHIN <= p.started_at
                for p in outages[:i]
            ):
                out["repeat_faults"] += 1
            if outage.on_site_at is not None:
                overs.append(max(0.0, _hours(outage.on_site_at - outage.started_at - commitment)))
                if outage.eta is not None and outage.on_site_at > outage.eta:
                    out["missed_arrivals"] += 1
        for visit in h.visits.get(unit, []):
            if visit.status is VisitStatus.CANCELLED:
                continue
            started = visit.checked_in_at
            if visit.scheduled_end <= end and (started is None or started > visit.scheduled_end):
                out["late_visits"] += 1
        for created, resolved in h.feedback.get(unit, []):
            if created < end and (resolved is None or resolved >= end):
                oldest_open = max(oldest_open, min(90.0, (end - created).total_seconds() / 86400))
        out["warnings_confirmed"] += sum(1 for at in h.confirmed.get(unit, []) if start <= at < end)
    for key in ("outages", "repeat_faults", "missed_arrivals", "late_visits", "warnings_confirmed"):
        out[key] /= n
    out["availability_gap"] = sum(gaps) / len(gaps) if gaps else 0.0
    out["restore_hours"] = sum(restores) / len(restores) if restores else 0.0
    out["response_over_hours"] = sum(overs) / len(overs) if overs else 0.0
    out["open_feedback_days"] = oldest_open
    return out
