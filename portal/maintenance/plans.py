"""Maintenance plans and the visits they generate.

- **Calendar** plans visit every N days, weeks or months from their first due day, in the
  site's calendar: a monthly plan anchored on the 31st visits on the last day of shorter
  months and on the 31st again when there is one; a 09:00 visit stays at 09:00 local time
  across daylight-saving changes (its UTC time moves instead).
- **Usage** plans visit every N trips or door cycles. The counters come from telemetry
  (:class:`UsageSource`); the next visit is put on the day the current rate of use
  reaches the threshold, and on the next possible day once it is reached.

:func:`schedule` is idempotent: it creates only the visits that are missing within the
horizon, so the worker can run it as often as it likes.
"""

from __future__ import annotations

import calendar
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.models import (
    Asset,
    IntervalUnit,
    MaintenancePlan,
    PlanKind,
    UsageMetric,
    User,
    Visit,
    VisitKind,
    VisitStatus,
)
from portal.access import accounts_who, can
from portal.maintenance.forms import PlanForm
from portal.refusal import Refused

logger = logging.getLogger(__name__)
SUMMARY_MAX = 300  # the visits' summary column
RATE_WINDOW = timedelta(days=7)


# --- dates ------------------------------------------------------------------------------------
def add_months(day: date, months: int, anchor_day: int | None = None) -> date:
    """``day`` moved by ``months``, on ``anchor_day`` (default: its own day) or the month's last day."""
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    wanted = anchor_day or day.day
    return date(year, month, min(wanted, calendar.monthrange(year, month)[1]))


def due_days(plan: MaintenancePlan, start: date, end: date) -> list[date]:
    """A calendar plan's due days within ``[start, end]`` (site calendar)."""
    if plan.kind is not PlanKind.CALENDAR or not plan.interval or plan.interval_unit is None:
        return []
    out: list[date] = []
    k = 0
    while True:
        if plan.interval_unit is IntervalUnit.MONTHS:
            day = add_months(plan.first_due, k * plan.interval, plan.first_due.day)
        else:
            step = plan.interval * (7 if plan.interval_unit is IntervalUnit.WEEKS else 1)
            if k == 0 and plan.first_due < start:  # jump close to the window instead of walking
                k = max(0, (start - plan.first_due).days // step - 1)
            day = plan.first_due + timedelta(days=k * step)
        if day > end:
            return out
        if day >= start:
            out.append(day)
        k += 1


def visit_window(day: date, start_hour: int, duration_minutes: int, tz: str) -> tuple[datetime, datetime]:
    """The UTC start and end of a visit at ``start_hour`` local time on ``day``.

    A start hour that does not exist that day (the spring-forward gap) moves forward by
    the gap; an ambiguous one (autumn) is the first occurrence."""
    start = datetime.combine(day, time(start_hour), ZoneInfo(tz)).astimezone(UTC)  # fold=0 does both
    return start, start + timedelta(minutes=duration_minutes)


# --- usage ---------------------------------------------------------------------------------------
class UsageSource(Protocol):
    """Where usage plans read counters (telemetry in production, a fake in tests)."""

    def counter(self, asset: str, metric: UsageMetric, at: datetime) -> float | None:
        """The counter's value at ``at`` (the last reading before it), or None if unknown."""
        ...


class CounterReader(Protocol):
    """What usage plans need from the telemetry reader."""

    def last_value(self, asset: str, field: str, at: datetime, lookback: timedelta) -> float | None: ...


class TelemetryUsage:
    """Usage counters read from InfluxDB through :class:`portal.influxql.TelemetryReader`."""

    def __init__(self, reader: CounterReader) -> None:
        self.reader = reader

    def counter(self, asset: str, metric: UsageMetric, at: datetime) -> float | None:
        """The last counter reading within a week before ``at``."""
        return self.reader.last_value(asset, metric.value, at, timedelta(days=7))


@dataclass(frozen=True)
class UsageForecast:
    """How far a usage plan is: used since the last visit, rate per day, day it is due."""

    used: float
    per_day: float
    due: date | None  # None: no use measured, so no date can be given


def forecast(plan: MaintenancePlan, used: float, per_day: float, today: date) -> UsageForecast:
    """The due day of a usage plan from what was used since the last visit and the current rate."""
    interval = plan.usage_interval or 0
    if used >= interval:
        return UsageForecast(used, per_day, today)
    if per_day <= 0:
        return UsageForecast(used, per_day, None)
    return UsageForecast(used, per_day, today + timedelta(days=math.ceil((interval - used) / per_day)))


def usage_status(
    plan: MaintenancePlan, asset: Asset, baseline_at: datetime, now: datetime, source: UsageSource
) -> UsageForecast | None:
    """Used since ``baseline_at`` and the rate over the last week; None without readings."""
    metric = plan.usage_metric or UsageMetric.TRIPS
    current = source.counter(asset.mqtt_id, metric, now)
    if current is None:
        return None
    base = source.counter(asset.mqtt_id, metric, baseline_at)
    week_ago = source.counter(asset.mqtt_id, metric, now - RATE_WINDOW)
    used = current - base if base is not None and current >= base else current  # a reset restarts at 0
    rate = (current - week_ago) / RATE_WINDOW.days if week_ago is not None and current >= week_ago else 0.0
    today = now.astimezone(ZoneInfo(asset.site.timezone)).date()
    return forecast(plan, used, rate, today)


# --- creating plans -------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlanInput:
    """A validated plan form."""

    kind: PlanKind
    interval: int | None
    interval_unit: IntervalUnit | None
    usage_metric: UsageMetric | None
    usage_interval: int | None
    visit_kind: VisitKind
    summary: str
    start_hour: int
    duration_minutes: int
    first_due: date
    technician_id: int | None


def parse_plan(form: Mapping[str, str], today: date) -> PlanInput:
    """Validate a plan form field by field; :class:`Refused` lists every problem (nothing is stored)."""
    checked = PlanForm(form, today=today)
    if not checked.validate():
        raise Refused.from_form(checked.errors)
    return PlanInput(
        checked.kind.data, checked.interval.data, checked.interval_unit.data, checked.usage_metric.data,
        checked.usage_interval.data, checked.visit_kind.data, checked.summary.data, checked.start_hour.data,
        checked.duration_minutes.data, checked.first_due.data, checked.technician_id.data,
    )  # fmt: skip


def create_plan(session: Session, asset: Asset, data: PlanInput, author: User) -> MaintenancePlan:
    """Add a plan to an asset (vendor staff only)."""
    if not can(author, "manage_plans"):
        raise Refused(lazy_gettext("Only vendor staff manage maintenance plans."), 403)
    if data.technician_id is not None:
        tech = session.scalar(select(User).where(User.id == data.technician_id, accounts_who("do_visits")))
        if tech is None:
            raise Refused(lazy_gettext("Choose an active field technician."))
    plan = MaintenancePlan(
        asset_id=asset.id, kind=data.kind, interval=data.interval, interval_unit=data.interval_unit,
        usage_metric=data.usage_metric, usage_interval=data.usage_interval, visit_kind=data.visit_kind,
        summary=data.summary, start_hour=data.start_hour, duration_minutes=data.duration_minutes,
        first_due=data.first_due, technician_id=data.technician_id,
    )  # fmt: skip
    session.add(plan)
    session.flush()
    logger.info("maintenance plan %s added to asset %s by user %s", plan.id, asset.id, author.id)
    return plan


def deactivate_plan(session: Session, plan: MaintenancePlan, author: User, now: datetime) -> int:
    """Stop a plan and cancel its future scheduled visits; returns how many were cancelled."""
    if not can(author, "manage_plans"):
        raise Refused(lazy_gettext("Only vendor staff manage maintenance plans."), 403)
    plan.active = False
    future = session.scalars(
        select(Visit).where(
            Visit.plan_id == plan.id, Visit.status == VisitStatus.SCHEDULED, Visit.scheduled_start > now
        )
    )
    cancelled = 0
    for visit in future:
        visit.status = VisitStatus.CANCELLED
        cancelled += 1
    session.flush()
    return cancelled


# --- scheduling -------------------------------------------------------------------------------------
def schedule(
    session: Session,
    now: datetime,
    *,
    horizon: timedelta = timedelta(days=60),
    usage: UsageSource | None = None,
    only_asset: int | None = None,
) -> list[Visit]:
    """Create the visits active plans need within ``horizon`` (idempotent); returns the new ones."""
    created: list[Visit] = []
    stmt = select(MaintenancePlan).where(MaintenancePlan.active.is_(True))
    if only_asset is not None:
        stmt = stmt.where(MaintenancePlan.asset_id == only_asset)
    plans = list(session.scalars(stmt))
    for plan in plans:
        if plan.kind is PlanKind.CALENDAR:
            created.extend(_schedule_calendar(session, plan, now, horizon))
        elif usage is not None:
            visit = _schedule_usage(session, plan, now, horizon, usage)
            if visit is not None:
                created.append(visit)
    if created:
        session.flush()
        logger.info("scheduled %d visits from %d plans", len(created), len(plans))
    return created


def _new_visit(plan: MaintenancePlan, day: date) -> Visit:
    start, end = visit_window(day, plan.start_hour, plan.duration_minutes, plan.asset.site.timezone)
    return Visit(
        asset_id=plan.asset_id, kind=plan.visit_kind, status=VisitStatus.SCHEDULED, scheduled_start=start,
        scheduled_end=end, summary=plan.summary, technician_id=plan.technician_id, plan_id=plan.id,
    )  # fmt: skip


def _schedule_calendar(
    session: Session, plan: MaintenancePlan, now: datetime, horizon: timedelta
) -> list[Visit]:
    zone = ZoneInfo(plan.asset.site.timezone)
    today = now.astimezone(zone).date()
    last = (now + horizon).astimezone(zone).date()
    existing = {
        v.scheduled_start.astimezone(zone).date()
        for v in session.scalars(
            select(Visit).where(Visit.plan_id == plan.id, Visit.scheduled_start >= now - timedelta(days=1))
        )
    }
    out = []
    for day in due_days(plan, today, last):
        if day in existing:
            continue
        visit = _new_visit(plan, day)
        if visit.scheduled_start <= now:
            continue  # today's slot has passed; the next due day will come
        if _merged_into_overlap(session, visit, plan):
            continue
        session.add(visit)
        out.append(visit)
    return out


def _merged_into_overlap(session: Session, visit: Visit, plan: MaintenancePlan) -> bool:
    """If another planned visit on the asset overlaps ``visit``, one technician does both
    jobs in it: the other visit takes this plan's work (once) and no second visit is made.

    Two plans on one asset (a monthly check, a yearly safety test) must never put two
    visits in the same hour, which a technician could not check in to."""
    other = session.scalar(
        select(Visit)
        .where(
            Visit.asset_id == visit.asset_id,
            Visit.status.in_([VisitStatus.SCHEDULED, VisitStatus.IN_PROGRESS]),
            Visit.scheduled_start < visit.scheduled_end,
            Visit.scheduled_end > visit.scheduled_start,
        )
        .order_by(Visit.scheduled_start)
        .limit(1)
    )
    if other is None:
        return False
    if plan.summary not in other.summary:
        other.summary = f"{other.summary} + {plan.summary}"[:SUMMARY_MAX]
        other.scheduled_end = max(other.scheduled_end, visit.scheduled_end)
        logger.info("plan %s: visit of %s merged into visit %s", plan.id, visit.scheduled_start, other.id)
    return True


def _schedule_usage(
    session: Session, plan: MaintenancePlan, now: datetime, horizon: timedelta, usage: UsageSource
) -> Visit | None:
    pending = session.scalar(
        select(Visit.id).where(
            Visit.plan_id == plan.id, Visit.status.in_([VisitStatus.SCHEDULED, VisitStatus.IN_PROGRESS])
        )
    )
    if pending is not None:
        return None  # one visit at a time: the counter restarts when it is done
    zone = ZoneInfo(plan.asset.site.timezone)
    status = usage_status(plan, plan.asset, last_done(session, plan, now), now, usage)
    if status is None or status.due is None:
        return None
    due = max(status.due, now.astimezone(zone).date())
    if datetime.combine(due, time(0), zone) > now + horizon:
        return None
    visit = _new_visit(plan, due)
    if visit.scheduled_start <= now:
        visit = _new_visit(plan, due + timedelta(days=1))
    if _merged_into_overlap(session, visit, plan):
        return None
    session.add(visit)
    return visit


def last_done(session: Session, plan: MaintenancePlan, now: datetime) -> datetime:
    """When the plan's counter restarted: its last completed visit, else its first due day."""
    done = session.scalar(
        select(Visit.checked_out_at)
        .where(Visit.plan_id == plan.id, Visit.status == VisitStatus.COMPLETED, Visit.checked_out_at <= now)
        .order_by(Visit.checked_out_at.desc())
        .limit(1)
    )
    zone = ZoneInfo(plan.asset.site.timezone)
    return done or datetime.combine(plan.first_due, time(0), zone).astimezone(UTC)


def plans_of(session: Session, asset_ids: Sequence[int]) -> list[MaintenancePlan]:
    """The active plans of these assets."""
    return list(
        session.scalars(
            select(MaintenancePlan)
            .where(MaintenancePlan.asset_id.in_(list(asset_ids)), MaintenancePlan.active.is_(True))
            .order_by(MaintenancePlan.id)
        )
    )
