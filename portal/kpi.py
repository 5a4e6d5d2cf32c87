"""Service KPIs computed from outage and maintenance records (plain functions).

Availability = time in service ÷ (time in scope − planned maintenance time), per asset
over a period. Unplanned outages count against it; maintenance periods are taken out of
the scope. Overlapping records are merged first, so nothing is counted twice.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from fleet.db import among, id_batches
from fleet.models import MaintenancePeriod, Outage

Interval = tuple[datetime, datetime]


Moment = TypeVar("Moment", datetime, float)


def merge(spans: Iterable[tuple[Moment, Moment]]) -> list[tuple[Moment, Moment]]:
    """The union of (start, end) spans as sorted, disjoint spans (empty ones dropped)."""
    merged: list[tuple[Moment, Moment]] = []
    for s, e in sorted(spans):
        if e <= s:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _clip_merge(
    intervals: Iterable[tuple[datetime, datetime | None]], start: datetime, end: datetime
) -> list[Interval]:
    return merge((max(s, start), min(e or end, end)) for s, e in intervals)


def _total(intervals: Sequence[Interval]) -> timedelta:
    return sum((e - s for s, e in intervals), timedelta())


def _minus(outages: Sequence[Interval], maintenance: Sequence[Interval]) -> timedelta:
    """Outage time that is not also maintenance time."""
    total = _total(outages)
    for os_, oe in outages:
        for ms, me in maintenance:
            overlap = min(oe, me) - max(os_, ms)
            if overlap > timedelta():
                total -= overlap
    return total


@dataclass(frozen=True)
class Availability:
    """Availability of one asset over a period."""

    percent: float | None  # None when the whole period was maintenance
    downtime: timedelta
    maintenance: timedelta
    outages: int


def availability(
    outages: Iterable[tuple[datetime, datetime | None]],
    maintenance: Iterable[tuple[datetime, datetime | None]],
    start: datetime,
    end: datetime,
) -> Availability:
    """Availability over ``[start, end)`` from (start, end-or-None) outage and maintenance records."""
    outage_list = list(outages)
    out = _clip_merge(outage_list, start, end)
    maint = _clip_merge(maintenance, start, end)
    maint_total = _total(maint)
    scope = (end - start) - maint_total
    down = _minus(out, maint)
    count = sum(1 for s, e in outage_list if s < end and (e is None or e > start))
    if scope <= timedelta():
        return Availability(None, down, maint_total, count)
    return Availability(100.0 * (scope - down) / scope, down, maint_total, count)


Records = dict[int, list[tuple[datetime, datetime | None]]]  # per asset: (start, end or None)


def records_between(
    session: Session, asset_ids: Sequence[int], start: datetime, end: datetime
) -> tuple[Records, Records]:
    """Each asset's outages and maintenance periods overlapping ``[start, end)`` (two queries
    on PostgreSQL)."""
    outs: Records = defaultdict(list)
    maints: Records = defaultdict(list)
    for model, bucket in ((Outage, outs), (MaintenancePeriod, maints)):
        for part in id_batches(session, asset_ids):
            rows = session.execute(
                select(model.asset_id, model.started_at, model.ended_at).where(
                    among(session, model.asset_id, part),
                    model.started_at < end,
                    or_(model.ended_at.is_(None), model.ended_at > start),
                )
            )
            for asset_id, s, e in rows:
                bucket[asset_id].append((s, e))
    return outs, maints


def availability_windows(
    session: Session, asset_ids: Sequence[int], starts: Sequence[datetime], end: datetime
) -> dict[datetime, dict[int, Availability]]:
    """Availability of each asset over several windows ending at ``end`` (two queries on PostgreSQL)."""
    if not asset_ids or not starts:
        return {s: {} for s in starts}
    outs, maints = records_between(session, asset_ids, min(starts), end)
    out: dict[datetime, dict[int, Availability]] = {}
    for start in starts:
        untouched = availability((), (), start, end)  # most assets have no record in a window
        out[start] = {
            aid: availability(outs[aid], maints[aid], start, end)
            if aid in outs or aid in maints
            else untouched
            for aid in asset_ids
        }
    return out


def combined_availability(items: Iterable[Availability], period: timedelta) -> float | None:
    """Availability of a group of assets over the same period (time-weighted, not averaged)."""
    scope = timedelta()
    down = timedelta()
    for a in items:
        scope += period - a.maintenance
        down += a.downtime
    if scope <= timedelta():
        return None
    return 100.0 * (scope - down) / scope


class AvailabilitySource(Protocol):
    """Where summaries take 30- and 90-day availability from (a cache, or stored rows)."""

    def get(
        self, session: Session, asset_ids: Sequence[int], now: datetime
    ) -> tuple[dict[int, Availability], dict[int, Availability]]:
        """(30-day, 90-day) availability of each asset."""
        ...


class AvailabilityCache:
    """30- and 90-day availability per asset, kept for ``ttl_s`` seconds in this process.

    A 30-day percentage moves by at most 0.0023 points a minute, so a minute-old figure
    is as good as a fresh one, and a 500-asset portfolio page need not re-read 90 days
    of outage and maintenance history on every view. Status chips are live regardless.
    ``ttl_s=0`` disables the cache.
    """

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[int, tuple[float, Availability, Availability]] = {}
        self._lock = threading.Lock()

    def get(
        self, session: Session, asset_ids: Sequence[int], now: datetime
    ) -> tuple[dict[int, Availability], dict[int, Availability]]:
        """(30-day, 90-day) availability of each asset, computing only expired entries."""
        clock = time.monotonic()
        with self._lock:
            fresh = {
                a: self._entries[a] for a in asset_ids if a in self._entries and self._entries[a][0] > clock
            }
        missing = [a for a in asset_ids if a not in fresh]
        if missing:
            d30, d90 = now - timedelta(days=30), now - timedelta(days=90)
            windows = availability_windows(session, missing, [d30, d90], now)
            computed = {a: (clock + self.ttl_s, windows[d30][a], windows[d90][a]) for a in missing}
            if self.ttl_s > 0:
                with self._lock:
                    if len(self._entries) > 100_000:
                        self._entries.clear()
                    self._entries.update(computed)
            fresh.update(computed)
        return {a: fresh[a][1] for a in asset_ids}, {a: fresh[a][2] for a in asset_ids}

    def forget(self, asset_id: int) -> None:
        """Drop one asset's figures (an outage opened or closed)."""
        with self._lock:
            self._entries.pop(asset_id, None)


# --- service KPIs and levers over a period (KPI page, satisfaction drivers) ------------------
@dataclass
class Tally:
    """What one asset (or a sum of assets) did over a period: the raw material of the KPIs.

    Every field but the feedback times and targets is a sum, so a period's tally is the sum of
    its parts' (stored whole months, see :mod:`portal.kpi_months`)."""

    assets: int = 0
    scope: timedelta = timedelta()  # period minus planned maintenance
    down: timedelta = timedelta()  # unplanned outage time within the scope
    outages: int = 0  # unplanned outages overlapping the period
    repairs: int = 0  # outages closed in the period
    repair_time: timedelta = timedelta()  # their durations, summed
    responses: int = 0  # outages started in the period with a technician's check-in
    response_time: timedelta = timedelta()  # detected → technician on site, summed
    visits_due: int = 0
    visits_on_time: int = 0
    feedback_times: list[timedelta] = field(default_factory=list)  # created → resolved
    targets: list[float] = field(default_factory=list)  # contract availability targets
    meeting_target: int = 0  # assets at or above their target

    def absorb(self, other: Tally) -> None:
        """Add ``other`` into this tally in place (summing many tallies stays linear)."""
        self.assets += other.assets
        self.scope += other.scope
        self.down += other.down
        self.outages += other.outages
        self.repairs += other.repairs
        self.repair_time += other.repair_time
        self.responses += other.responses
        self.response_time += other.response_time
        self.visits_due += other.visits_due
        self.visits_on_time += other.visits_on_time
        self.feedback_times.extend(other.feedback_times)
        self.targets.extend(other.targets)
        self.meeting_target += other.meeting_target

    def __add__(self, other: Tally) -> Tally:
        total = Tally()
        total.absorb(self)
        total.absorb(other)
        return total


@dataclass(frozen=True)
class Levers:
    """Service KPIs of a set of assets over one period.

    - ``availability``: time in service ÷ (time in scope − planned maintenance), time-weighted;
    - ``mtbf``: in-service time ÷ unplanned outages (None without outages);
    - ``mttr``: mean duration of the outages closed in the period;
    - ``callbacks_per_unit_year``: unplanned outages per asset, scaled to a year;
    - ``response_time``: mean of detected → technician on site, over outages with a check-in;
    - ``visits_on_time``: share of the visits due in the period (not cancelled) whose
      technician checked in before the end of the planned window;
    - feedback: items on these assets resolved in the period, and the median time to resolve."""

    assets: int
    availability: float | None
    outages: int
    mttr: timedelta | None
    callbacks_per_unit_year: float | None
    visits_due: int
    visits_on_time: float | None
    feedback_resolved: int
    feedback_median_resolution: timedelta | None
    mtbf: timedelta | None = None
    response_time: timedelta | None = None
    responses: int = 0
    target: float | None = None  # mean contract target of the assets
    meeting_target: int = 0


def _median(values: Sequence[timedelta]) -> timedelta | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def add_targets(session: Session, out: Mapping[int, Tally], ids: Sequence[int]) -> None:
    """Each asset's contract availability target into its tally."""
    from fleet.models import Asset  # local: keeps kpi's import surface small

    for asset_id, target in session.execute(
        select(Asset.id, Asset.availability_target).where(among(session, Asset.id, ids))
    ):
        out[asset_id].targets.append(float(target))


def add_service(
    session: Session, out: Mapping[int, Tally], ids: Sequence[int], start: datetime, end: datetime
) -> None:
    """Repairs (outages closed in ``[start, end)``), responses (outages started in it with a
    check-in) and visits due in it (not cancelled; on time when checked in before the window's
    end) into each asset's tally. Each counts in exactly one of adjacent periods."""
    from fleet.models import Visit, VisitStatus

    closed = session.execute(
        select(Outage.asset_id, Outage.started_at, Outage.ended_at, Outage.on_site_at).where(
            among(session, Outage.asset_id, ids), Outage.started_at < end,
            or_(Outage.ended_at.is_(None), Outage.ended_at >= start),
        )
    )  # fmt: skip
    for asset_id, began, ended, on_site in closed:
        t = out[asset_id]
        if ended is not None and start <= ended < end:
            t.repairs += 1
            t.repair_time += ended - began
        if on_site is not None and start <= began < end:
            t.responses += 1
            t.response_time += max(on_site - began, timedelta())
    visits = session.execute(
        select(Visit.asset_id, Visit.scheduled_end, Visit.checked_in_at).where(
            among(session, Visit.asset_id, ids), Visit.scheduled_end >= start, Visit.scheduled_end < end,
            Visit.status != VisitStatus.CANCELLED,
        )
    )  # fmt: skip
    for asset_id, due, arrived in visits:
        out[asset_id].visits_due += 1
        out[asset_id].visits_on_time += int(arrived is not None and arrived <= due)


def add_feedback(
    session: Session, out: Mapping[int, Tally], ids: Sequence[int], start: datetime, end: datetime
) -> None:
    """Times to resolve the feedback on each asset resolved in ``[start, end)``."""
    from fleet.models import Feedback

    resolved = session.execute(
        select(Feedback.asset_id, Feedback.created_at, Feedback.resolved_at).where(
            among(session, Feedback.asset_id, ids), Feedback.resolved_at >= start, Feedback.resolved_at < end
        )
    )
    for on_asset, created, done in resolved:
        if on_asset is not None and on_asset in out and done is not None:
            out[on_asset].feedback_times.append(done - created)


def add_availability(
    out: Mapping[int, Tally], windows: Mapping[int, Availability], period: timedelta
) -> None:
    """Scope and downtime of each asset's availability over a period of length ``period``."""
    for asset_id, a in windows.items():
        out[asset_id].scope += period - a.maintenance
        out[asset_id].down += a.downtime


def settle_targets(out: Mapping[int, Tally]) -> None:
    """Mark each single asset's tally meeting its target once its scope and downtime are summed."""
    for t in out.values():
        if t.targets and t.scope > timedelta():
            t.meeting_target = int(100.0 * (t.scope - t.down) / t.scope >= t.targets[0])


def tallies(session: Session, asset_ids: Sequence[int], start: datetime, end: datetime) -> dict[int, Tally]:
    """Each asset's tally over ``[start, end)`` from the records (a handful of queries for any
    number of assets). The reference: :func:`portal.kpi_months.tallies` reads stored months."""
    ids = list(asset_ids)
    out = {a: Tally(assets=1) for a in ids}
    if not ids or end <= start:
        return out
    windows = availability_windows(session, ids, [start], end)[start]
    for part in id_batches(session, ids):
        add_targets(session, out, part)
        add_service(session, out, part, start, end)
        add_feedback(session, out, part, start, end)
    add_availability(out, windows, end - start)
    for asset_id, a in windows.items():
        out[asset_id].outages = a.outages
    settle_targets(out)
    return out


def summarise_tally(t: Tally, period: timedelta) -> Levers:
    """The KPIs of a tally over a period of length ``period``."""
    availability_ = 100.0 * (t.scope - t.down) / t.scope if t.scope > timedelta() else None
    years = period / timedelta(days=365)
    return Levers(
        assets=t.assets,
        availability=availability_,
        outages=t.outages,
        mttr=t.repair_time / t.repairs if t.repairs else None,
        callbacks_per_unit_year=t.outages / t.assets / years if t.assets and years > 0 else None,
        visits_due=t.visits_due,
        visits_on_time=100.0 * t.visits_on_time / t.visits_due if t.visits_due else None,
        feedback_resolved=len(t.feedback_times),
        feedback_median_resolution=_median(t.feedback_times),
        mtbf=(t.scope - t.down) / t.outages if t.outages else None,
        response_time=t.response_time / t.responses if t.responses else None,
        responses=t.responses,
        target=sum(t.targets) / len(t.targets) if t.targets else None,
        meeting_target=t.meeting_target,
    )


def levers(session: Session, asset_ids: Sequence[int], start: datetime, end: datetime) -> Levers:
    """The KPIs of ``asset_ids`` together over ``[start, end)``."""
    return combined_levers(tallies(session, asset_ids, start, end), asset_ids, start, end)


def combined_levers(
    per_asset: Mapping[int, Tally], asset_ids: Sequence[int], start: datetime, end: datetime
) -> Levers:
    """The KPIs of ``asset_ids`` together from tallies already read (a superset's
    :func:`tallies`): several groups of assets cost one read."""
    total = Tally()
    for asset_id in dict.fromkeys(asset_ids):
        total.absorb(per_asset[asset_id])
    return summarise_tally(total, max(end - start, timedelta()))


@dataclass(frozen=True)
class KpiRow:
    """One line of the KPI table: a customer, a site or an asset, with its KPIs."""

    level: str  # "customer" | "site" | "asset"
    id: int
    name: str
    levers: Levers
    parent: int | None = None


class TallyReader(Protocol):
    """Reads each asset's tally over a period: :func:`tallies`, or the stored months'
    :func:`portal.kpi_months.tallies`."""

    def __call__(
        self, session: Session, asset_ids: Sequence[int], start: datetime, end: datetime
    ) -> dict[int, Tally]: ...


def kpi_table(
    session: Session,
    assets: Sequence[tuple[int, str, int, str, int, str]],
    start: datetime,
    end: datetime,
    read: TallyReader = tallies,
    units: bool = True,
) -> list[KpiRow]:
    """Customers, their sites and (with ``units``) their assets with KPIs, in that order, from
    (asset id, asset name, site id, site name, customer id, customer name) rows in the order
    they are listed; ``read`` reads the tallies."""
    per_asset = read(session, [a[0] for a in assets], start, end)
    period = end - start
    sites: dict[int, Tally] = defaultdict(Tally)
    customers: dict[int, Tally] = defaultdict(Tally)
    names: dict[tuple[str, int], str] = {}
    site_assets: dict[int, list[tuple[int, str]]] = defaultdict(list)
    customer_sites: dict[int, dict[int, None]] = defaultdict(dict)  # ordered, unlike a set
    for asset_id, name, site_id, site_name, customer_id, customer_name in assets:
        sites[site_id].absorb(per_asset[asset_id])
        customers[customer_id].absorb(per_asset[asset_id])
        names[("site", site_id)] = site_name
        names[("customer", customer_id)] = customer_name
        site_assets[site_id].append((asset_id, name))
        customer_sites[customer_id][site_id] = None
    rows: list[KpiRow] = []
    for customer_id in sorted(customers, key=lambda c: names[("customer", c)]):
        rows.append(KpiRow("customer", customer_id, names[("customer", customer_id)],
                           summarise_tally(customers[customer_id], period)))  # fmt: skip
        for site_id in sorted(customer_sites[customer_id], key=lambda s: names[("site", s)]):
            rows.append(
                KpiRow(
                    "site",
                    site_id,
                    names[("site", site_id)],
                    summarise_tally(sites[site_id], period),
                    customer_id,
                )
            )
            if units:
                rows.extend(
                    KpiRow("asset", asset_id, name, summarise_tally(per_asset[asset_id], period), site_id)
                    for asset_id, name in site_assets[site_id]
                )
    return rows
