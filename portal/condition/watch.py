"""Watch items for the pages: what is open in a scope, what people do with a warning (plan
a check, record the finding, dismiss it), the published hit rate, and the charts of a
signal against its baseline band. Plain functions over a session; no Flask."""

from __future__ import annotations

import logging
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session, contains_eager, joinedload

from fleet.models import Asset, Customer, Outage, Site, User, Visit, VisitKind, VisitStatus
from fleet.models.condition import Signal, WatchItem, WatchSeverity, WatchStatus
from portal import labels
from portal.access import NotVisible, Scope
from portal.condition import detectors as d
from portal.condition.monitor import rearm
from portal.condition.telemetry import floor_hour, hourly_aggregates
from portal.influxql import TelemetryError, TelemetryReader
from portal.refusal import Refused

logger = logging.getLogger(__name__)

ANNOUNCE_WINDOW = timedelta(days=30)  # a warning older than this before an outage did not announce it
SORTS = ("severity", "age", "site")
_RANK = {WatchSeverity.HIGH: 0, WatchSeverity.MEDIUM: 1, WatchSeverity.LOW: 2}


def _visible(scope: Scope) -> Select[WatchItem]:
    return (
        select(WatchItem)
        .join(Asset, WatchItem.asset_id == Asset.id)
        .join(Site, Asset.site_id == Site.id)
        .options(
            contains_eager(WatchItem.asset).contains_eager(Asset.site).options(joinedload(Site.customer))
        )
        .where(scope.asset_filter())
    )


def open_items(session: Session, scope: Scope, sort: str = "severity") -> list[WatchItem]:
    """The open warnings in scope, most severe (or oldest, or by site) first."""
    items = list(session.scalars(_visible(scope).where(WatchItem.status == WatchStatus.OPEN)).unique())
    if sort == "age":
        items.sort(key=lambda i: i.opened_at)
    elif sort == "site":
        items.sort(key=lambda i: (i.asset.site.name, i.asset.name, _RANK[i.severity]))
    else:
        items.sort(key=lambda i: (_RANK[i.severity], i.opened_at))
    return items


def get_item(session: Session, scope: Scope, item_id: int) -> WatchItem:
    """A warning on an asset in scope, or :class:`~portal.access.NotVisible` (404)."""
    item = session.scalars(_visible(scope).where(WatchItem.id == item_id)).unique().first()
    if item is None:
        raise NotVisible(item_id)
    return item


@dataclass(frozen=True)
class BoardCounts:
    """Warnings opened over the board's period, by what became of them."""

    open: int
    confirmed: int
    dismissed: int
    resolved: int
    followed_by_outage: int


def board_counts(session: Session, scope: Scope, since: datetime) -> BoardCounts:
    """How the warnings opened since ``since`` in scope ended (or that they are still open)."""
    rows = dict(
        session.execute(
            select(WatchItem.status, func.count(WatchItem.id))
            .join(Asset, WatchItem.asset_id == Asset.id)
            .where(
                scope.asset_filter(), or_(WatchItem.opened_at >= since, WatchItem.status == WatchStatus.OPEN)
            )
            .group_by(WatchItem.status)
        ).all()
    )
    return BoardCounts(*(int(rows.get(s, 0)) for s in WatchStatus))


def _check_open(item: WatchItem) -> None:
    if item.status is not WatchStatus.OPEN:
        raise Refused(lazy_gettext("This warning is already closed."), 409)


def confirm(session: Session, item: WatchItem, user: User, finding: str, now: datetime) -> None:
    """A technician found the cause: the warning closes as confirmed, with the finding code;
    the signal's detector starts afresh (the repair changes the machine)."""
    _check_open(item)
    if finding not in labels.FINDINGS:
        raise Refused(lazy_gettext("Choose what you found from the list."), 400, {"finding": ["unknown"]})
    item.status, item.finding_code = WatchStatus.CONFIRMED, finding
    item.closed_at, item.closed_by_id, item.updated_at = now, user.id, now
    rearm(session, item.asset_id, item.signal)


def dismiss(item: WatchItem, user: User, reason: str, note: str, now: datetime) -> None:
    """Not a problem: the warning closes as dismissed, with the reason. The detector stays
    where it is, so the same drift does not open it again until the signal has calmed."""
    _check_open(item)
    if reason not in labels.DISMISS_REASONS:
        raise Refused(lazy_gettext("Choose a reason from the list."), 400, {"reason": ["unknown"]})
    if len(note) > 1000:
        raise Refused(
            lazy_gettext("The note is too long (1,000 characters at most)."), 400, {"note": ["too long"]}
        )
    item.status, item.finding_code = WatchStatus.DISMISSED, None
    item.reason = reason if not note.strip() else f"{reason}: {note.strip()}"
    item.closed_at, item.closed_by_id, item.updated_at = now, user.id, now


def plan_check(session: Session, item: WatchItem, user: User, start: datetime, now: datetime) -> Visit:
    """Plan a one-hour check visit on the unit at ``start`` (the technician who plans it does
    it); the warning stays open until the finding is recorded."""
    _check_open(item)
    if start < now - timedelta(hours=1) or start > now + timedelta(days=60):
        raise Refused(
            lazy_gettext("Choose a time within the next 60 days."), 400, {"start": ["out of range"]}
        )
    if item.check_visit_id is not None:
        raise Refused(lazy_gettext("A check is already planned for this warning."), 409)
    visit = Visit(
        asset_id=item.asset_id, kind=VisitKind.INSPECTION, status=VisitStatus.SCHEDULED,
        scheduled_start=start, scheduled_end=start + timedelta(hours=1),
        summary=f"Sensor check: {item.signal.value.replace('_', ' ')}",
        technician_id=user.id if user.group.value == "field_technician" else None,
    )  # fmt: skip
    session.add(visit)
    session.flush()
    item.check_visit_id, item.updated_at = visit.id, now
    return visit


@dataclass(frozen=True)
class HitRate:
    """The published hit rate over a period: how often the sensors warned before a failure."""

    outages: int  # unplanned outages that started in the period
    announced: int  # … that a warning opened beforehand (and still open then) announced
    median_lead_h: float | None
    warnings: int  # warnings opened in the period
    settled: int  # … confirmed, dismissed or followed by an outage
    confirmed: int  # … confirmed by a technician or followed by an outage
    units: int
    days: int

    @property
    def announced_share(self) -> float | None:
        """Unplanned outages a warning announced, in %."""
        return 100.0 * self.announced / self.outages if self.outages else None

    @property
    def confirmed_share(self) -> float | None:
        """Of the settled warnings, those that were real (confirmed or followed by an outage), in %."""
        return 100.0 * self.confirmed / self.settled if self.settled else None

    @property
    def per_100_unit_months(self) -> float | None:
        """Warnings per 100 units per 30 days."""
        return 100.0 * self.warnings / (self.units * self.days / 30) if self.units and self.days else None


def hit_rate(session: Session, asset_filter: object, since: datetime, until: datetime) -> HitRate:
    """The hit rate over ``[since, until)`` for the assets ``asset_filter`` selects (a WHERE
    clause on :class:`Asset`): an outage is *announced* when a warning on its unit opened in
    the 30 days before it started and was still open then (or closed by it).

    The reference: pages and the API use :func:`hit_rates`, which counts the same per customer
    in grouped queries, and a property test checks the two agree."""
    in_scope = select(Asset.id).where(asset_filter)  # type: ignore[arg-type]
    outages = session.execute(
        select(Outage.id, Outage.asset_id, Outage.started_at).where(
            Outage.asset_id.in_(in_scope), Outage.started_at >= since, Outage.started_at < until
        )
    ).all()
    warned: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for asset_id, opened, closed in session.execute(
        select(WatchItem.asset_id, WatchItem.opened_at, WatchItem.closed_at).where(
            WatchItem.asset_id.in_(in_scope),
            WatchItem.opened_at >= since - ANNOUNCE_WINDOW,
            WatchItem.opened_at < until,
        )
    ):
        warned[asset_id].append((opened, closed))
    leads = []
    for _id, asset_id, started in outages:
        before = [
            o
            for o, c in warned[asset_id]
            if started - ANNOUNCE_WINDOW <= o < started and (c is None or c >= started)
        ]
        if before:
            leads.append((started - min(before)).total_seconds() / 3600)
    statuses = dict(
        session.execute(
            select(WatchItem.status, func.count(WatchItem.id))
            .where(
                WatchItem.asset_id.in_(in_scope), WatchItem.opened_at >= since, WatchItem.opened_at < until
            )
            .group_by(WatchItem.status)
        ).all()
    )
    real = statuses.get(WatchStatus.CONFIRMED, 0) + statuses.get(WatchStatus.FOLLOWED_BY_OUTAGE, 0)
    counted = select(func.count(Asset.id)).where(asset_filter, Asset.archived_at.is_(None))  # type: ignore[arg-type]
    units = session.scalar(counted) or 0
    return HitRate(
        outages=len(outages), announced=len(leads),
        median_lead_h=statistics.median(leads) if leads else None, warnings=sum(statuses.values()),
        settled=real + statuses.get(WatchStatus.DISMISSED, 0), confirmed=real, units=int(units),
        days=max(1, round((until - since).total_seconds() / 86400)),
    )  # fmt: skip


@dataclass(frozen=True)
class SignalChart:
    """The geometry of a small chart: the signal's hourly values as a polyline over the
    baseline band (centre ± 2 spreads), the warning's period shaded."""

    width: int
    height: int
    points: str
    band_y: float
    band_height: float
    center_y: float
    warn_x: float | None
    low: float
    high: float


def signal_chart(
    values: Sequence[tuple[datetime, float]], center: float | None, scale: float | None,
    since: datetime | None, start: datetime, end: datetime, width: int = 320, height: int = 72,
) -> SignalChart | None:  # fmt: skip
    """Lay out ``values`` over ``[start, end)`` against the band; None without values."""
    if not values:
        return None
    band = (center - 2 * scale, center + 2 * scale) if center is not None and scale else None
    ys = [v for _, v in values] + ([band[0], band[1]] if band else [])
    low, high = min(ys), max(ys)
    if high - low < 1e-9:
        high = low + 1.0
    span = (end - start).total_seconds()

    def x(at: datetime) -> float:
        return round(width * (at - start).total_seconds() / span, 1)

    def y(v: float) -> float:
        return round(height - 4 - (height - 8) * (v - low) / (high - low), 1)

    points = " ".join(f"{x(t)},{y(v)}" for t, v in values)
    band_y, band_h = (y(band[1]), y(band[0]) - y(band[1])) if band else (0.0, 0.0)
    return SignalChart(
        width, height, points, band_y, band_h, y(center) if center is not None else 0.0,
        x(since) if since and since > start else (0.0 if since else None), low, high,
    )  # fmt: skip


def recent_signals(
    reader: TelemetryReader, units: Sequence[tuple[int, str]], now: datetime, days: int = 7
) -> dict[tuple[int, Signal], list[tuple[datetime, float]]]:
    """Each unit's hourly signal values over the last ``days`` (one InfluxQL statement per
    batch of units)."""
    end = floor_hour(now)
    start = end - timedelta(days=days)
    rows = hourly_aggregates(reader, [m for _, m in units], start, end)
    out: dict[tuple[int, Signal], list[tuple[datetime, float]]] = defaultdict(list)
    for asset_id, mqtt_id in units:
        for hv in d.series_values(rows.get(mqtt_id, [])):
            for signal, value in hv.values.items():
                if value is not None:
                    out[(asset_id, signal)].append((hv.hour, value))
    return out


def chart_window(now: datetime, days: int = 7) -> tuple[datetime, datetime]:
    """The period small charts show."""
    end = floor_hour(now)
    return end - timedelta(days=days), end


def _shared_units() -> ColumnElement[bool]:
    """SQL: the asset (``Asset``) is under an active contract that shares sensor warnings."""
    from fleet.models import Contract, contract_assets, contract_sites

    shared_assets = (
        select(contract_assets.c.asset_id)
        .join(Contract, Contract.id == contract_assets.c.contract_id)
        .where(Contract.share_sensor_warnings.is_(True), Contract.archived_at.is_(None))
    )
    shared_sites = (
        select(contract_sites.c.site_id)
        .join(Contract, Contract.id == contract_sites.c.contract_id)
        .where(Contract.share_sensor_warnings.is_(True), Contract.archived_at.is_(None))
    )
    return or_(Asset.id.in_(shared_assets), Asset.site_id.in_(shared_sites))


def shared_with_customer(session: Session, asset_id: int) -> bool:
    """The unit's customer is told of its warnings (its contract says so)."""
    return session.scalar(select(Asset.id).where(Asset.id == asset_id, _shared_units())) is not None


def customer_sentences(
    session: Session, asset_ids: Sequence[int], now: datetime
) -> dict[int, list[tuple[WatchItem, Visit | None]]]:
    """Open warnings a facility manager or HOA president may read about, per asset: only on
    units under a contract that says so; each with the next visit planned on the unit."""
    if not asset_ids:
        return {}
    items = session.scalars(
        select(WatchItem)
        .join(Asset, WatchItem.asset_id == Asset.id)
        .where(
            WatchItem.asset_id.in_(asset_ids), WatchItem.status == WatchStatus.OPEN, _shared_units(),
        )
        .order_by(WatchItem.opened_at)
    ).all()  # fmt: skip
    out: dict[int, list[tuple[WatchItem, Visit | None]]] = defaultdict(list)
    for item in items:
        visit = session.scalars(
            select(Visit)
            .where(
                and_(
                    Visit.asset_id == item.asset_id,
                    Visit.status == VisitStatus.SCHEDULED,
                    Visit.scheduled_end >= now,
                )
            )
            .order_by(Visit.scheduled_start)
            .limit(1)
        ).first()
        out[item.asset_id].append((item, visit))
    return out


def charts_for(
    reader: TelemetryReader, items: Sequence[WatchItem], now: datetime, days: int
) -> dict[int, SignalChart | None]:
    """Each item's chart of the last ``days`` (one InfluxQL statement per batch of units);
    empty when InfluxDB cannot answer: the page still shows the evidence stored with it."""
    if not items:
        return {}
    start, end = chart_window(now, days)
    try:
        values = recent_signals(reader, [(i.asset_id, i.asset.mqtt_id) for i in items], now, days)
    except TelemetryError as exc:
        logger.warning("sensor warning charts unavailable: %s", exc)
        return {}
    return {
        i.id: signal_chart(values.get((i.asset_id, i.signal), []), i.baseline, i.scale, i.since, start, end)
        for i in items
    }


def asset_items(session: Session, asset_id: int, since: datetime) -> list[WatchItem]:
    """An asset's warnings: the open ones and those opened since ``since``, newest first."""
    return list(
        session.scalars(
            select(WatchItem)
            .where(
                WatchItem.asset_id == asset_id,
                or_(WatchItem.status == WatchStatus.OPEN, WatchItem.opened_at >= since),
            )
            .order_by(WatchItem.opened_at.desc())
        )
    )


def hit_rates(
    session: Session, scope: Scope, now: datetime, days: int
) -> tuple[HitRate, list[tuple[int, str, HitRate]]]:
    """The hit rate over the last ``days`` for the whole scope and per customer in it, as
    :func:`hit_rate` gives each (the reference), counted per customer in a few grouped queries
    instead of reading the period's outages once for the scope and again for each customer."""
    since = now - timedelta(days=days)
    customers = session.execute(
        select(Customer.id, Customer.name).where(scope.customer_filter()).order_by(Customer.name)
    ).all()
    in_scope = select(Asset.id).where(scope.asset_filter())
    started = and_(Outage.asset_id.in_(in_scope), Outage.started_at >= since, Outage.started_at < now)
    opened = and_(WatchItem.asset_id.in_(in_scope), WatchItem.opened_at >= since, WatchItem.opened_at < now)

    outages: dict[int, int] = defaultdict(int)
    for customer_id, count in session.execute(
        select(Site.customer_id, func.count(Outage.id))
        .join(Asset, Outage.asset_id == Asset.id).join(Site, Asset.site_id == Site.id)
        .where(started).group_by(Site.customer_id)
    ):  # fmt: skip
        outages[customer_id] = count
    # each outage with the warnings open when it started (few): the earliest within the window announced it
    earliest: dict[int, tuple[int, datetime, datetime]] = {}
    for outage_id, customer_id, began, warned in session.execute(
        select(Outage.id, Site.customer_id, Outage.started_at, WatchItem.opened_at)
        .join(Asset, Outage.asset_id == Asset.id).join(Site, Asset.site_id == Site.id)
        .join(WatchItem, WatchItem.asset_id == Outage.asset_id)
        .where(started, WatchItem.opened_at < Outage.started_at,
               or_(WatchItem.closed_at.is_(None), WatchItem.closed_at >= Outage.started_at))
    ):  # fmt: skip
        if began - ANNOUNCE_WINDOW <= warned and (
            outage_id not in earliest or warned < earliest[outage_id][2]
        ):
            earliest[outage_id] = (customer_id, began, warned)
    leads: dict[int, list[float]] = defaultdict(list)
    for customer_id, began, warned in earliest.values():
        leads[customer_id].append((began - warned).total_seconds() / 3600)
    statuses: dict[int, dict[WatchStatus, int]] = defaultdict(dict)
    for customer_id, status, count in session.execute(
        select(Site.customer_id, WatchItem.status, func.count(WatchItem.id))
        .join(Asset, WatchItem.asset_id == Asset.id).join(Site, Asset.site_id == Site.id)
        .where(opened).group_by(Site.customer_id, WatchItem.status)
    ):  # fmt: skip
        statuses[customer_id][status] = count
    units: dict[int, int] = defaultdict(int)
    for customer_id, count in session.execute(
        select(Site.customer_id, func.count(Asset.id)).join(Site, Asset.site_id == Site.id)
        .where(scope.asset_filter(), Asset.archived_at.is_(None)).group_by(Site.customer_id)
    ):  # fmt: skip
        units[customer_id] = count

    def rate(ids: Sequence[int]) -> HitRate:
        counts: dict[WatchStatus, int] = defaultdict(int)
        for c in ids:
            for status, n in statuses[c].items():
                counts[status] += n
        real = counts[WatchStatus.CONFIRMED] + counts[WatchStatus.FOLLOWED_BY_OUTAGE]
        lead_h = [h for c in ids for h in leads[c]]
        return HitRate(
            outages=sum(outages[c] for c in ids), announced=len(lead_h),
            median_lead_h=statistics.median(lead_h) if lead_h else None, warnings=sum(counts.values()),
            settled=real + counts[WatchStatus.DISMISSED], confirmed=real, units=sum(units[c] for c in ids),
            days=max(1, round((now - since).total_seconds() / 86400)),
        )  # fmt: skip

    every = set(outages) | set(leads) | set(statuses) | set(units)
    return rate(sorted(every)), [(cid, name, rate([cid])) for cid, name in customers]


def open_on_asset(session: Session, asset_id: int) -> list[WatchItem]:
    """An asset's open warnings, oldest first (a visit to the unit is the time to check them)."""
    query = select(WatchItem).where(WatchItem.asset_id == asset_id, WatchItem.status == WatchStatus.OPEN)
    return list(session.scalars(query.order_by(WatchItem.opened_at)))


# the asset page's chart of each signal (the door and trip charts count per hour: no comparable band)
CHART_FIELDS = {
    Signal.MOTOR_TEMPERATURE: "motor_temp_c",
    Signal.VIBRATION: "vibration_mm_s",
    Signal.LEVELING: "leveling_error_mm",
    Signal.DOOR_REOPENINGS: "door_reopenings",
    Signal.TRAFFIC: "trips",
}


def chart_overlays(
    session: Session, asset_id: int, start: datetime, end: datetime
) -> dict[str, dict[str, object]]:
    """For the asset page's charts, by chart field: the warning periods over ``[start, end)``
    and the usual band from the latest of them (levelling error is charted signed, so its
    band is ± the usual RMS and spread)."""
    items = session.scalars(
        select(WatchItem)
        .where(
            WatchItem.asset_id == asset_id, WatchItem.since < end,
            or_(WatchItem.closed_at.is_(None), WatchItem.closed_at >= start),
        )
        .order_by(WatchItem.opened_at)
    ).all()  # fmt: skip
    out: dict[str, dict[str, object]] = {}
    for item in items:
        field = CHART_FIELDS[item.signal]
        entry = out.setdefault(field, {"warnings": [], "band": None})
        entry["warnings"].append(  # type: ignore[attr-defined]
            {
                "start": item.since,
                "end": item.closed_at,
                "severity": item.severity.value,
                "status": item.status.value,
            }
        )
        if (
            item.baseline is not None
            and item.scale
            and item.signal in (Signal.MOTOR_TEMPERATURE, Signal.VIBRATION)
        ):
            entry["band"] = [item.baseline - 2 * item.scale, item.baseline + 2 * item.scale]
        elif item.baseline is not None and item.scale and item.signal is Signal.LEVELING:
            reach = item.baseline + 2 * item.scale
            entry["band"] = [-reach, reach]
    return out
