"""The technician visit life cycle: today's list, check-in, check-out with a report, and
HOA presidents' requests to meet the technician.

Check-in and check-out change the asset's status through the same path as the sensors
(:class:`StatusPath`, in production :class:`fleet.status.StatusTracker`): checking in on
a working asset puts it *under maintenance* (a maintenance period, not an outage, so it
does not count against availability); checking out puts it back in service, or leaves
it out of service when the technician says so. Checking in on an asset that is down
does not change its state: the outage goes on, and the technician is marked *on site*
on it (the outage timeline's third step).

Every refusal is a :class:`Refused` with a message and an HTTP status; nothing is
changed when one is raised. Check-in is a conditional update, so two check-ins of the
same visit at once cannot both succeed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from flask_babel import lazy_gettext
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from fleet.live import LiveEvent, LiveKind
from fleet.models import (
    Asset,
    AssetStatus,
    OperatingState,
    Outage,
    User,
    Visit,
    VisitKind,
    VisitStatus,
)
from fleet.status import StatusTracker, StatusUpdate
from portal.access import NotVisible, Scope, can
from portal.maintenance.forms import ReportForm
from portal.refusal import Refused
from portal.webhooks import service as webhooks

logger = logging.getLogger(__name__)
EARLY_CHECK_IN = timedelta(hours=12)  # a technician may start a visit this long before its window
MAX_NOTE = 500


class StatusPath(Protocol):
    """Records a status for an asset the way a sensor message would; returns live events."""

    def apply(
        self, session: Session, asset: Asset, state: OperatingState, at: datetime
    ) -> list[LiveEvent]: ...


class TrackerPath:
    """The core's :class:`~fleet.status.StatusTracker`, fed as if a gateway had sent the status."""

    def __init__(self, offline_after: timedelta) -> None:
        self.tracker = StatusTracker(offline_after)

    def apply(self, session: Session, asset: Asset, state: OperatingState, at: datetime) -> list[LiveEvent]:
        """Record ``state`` at ``at`` (idempotent per timestamp) and re-derive periods."""
        update_ = StatusUpdate(asset=asset.mqtt_id, ts_ms=int(at.timestamp() * 1000), state=state, fault=None)
        return self.tracker.apply(session, asset.id, update_, at)


@dataclass(frozen=True)
class Report:
    """What a technician writes at check-out."""

    work_done: str
    parts: str | None
    findings: str | None
    next_action: str | None
    back_in_service: bool


def parse_report(form: Mapping[str, str]) -> Report:
    """Validate the check-out form field by field; :class:`Refused` names every problem."""
    checked = ReportForm(form)
    if not checked.validate():
        raise Refused.from_form(checked.errors)
    return Report(
        checked.work_done.data,
        checked.parts.data or None,
        checked.findings.data or None,
        checked.next_action.data or None,
        checked.state_after.data == "in_service",
    )


# --- lists ---------------------------------------------------------------------------------------
def todays_visits(session: Session, tech: User, now: datetime) -> list[Visit]:
    """The technician's visits to do: started, due within a day, or overdue this week."""
    return list(
        session.scalars(
            select(Visit)
            .where(
                Visit.technician_id == tech.id,
                or_(
                    Visit.status == VisitStatus.IN_PROGRESS,
                    (Visit.status == VisitStatus.SCHEDULED)
                    & (Visit.scheduled_start < now + timedelta(hours=24))
                    & (Visit.scheduled_end > now - timedelta(days=7)),
                ),
            )
            .order_by(Visit.status.desc(), Visit.scheduled_start)
        )
    )


# --- check-in / check-out ----------------------------------------------------------------------------
def _technician_of(visit: Visit, user: User, scope: Scope, session: Session) -> None:
    if not scope.can_see_asset(session, visit.asset_id):
        raise NotVisible  # out of scope first: like a missing visit, whatever the role
    if not can(user, "do_visits"):
        raise Refused(lazy_gettext("Only field technicians check in and out."), 403)
    if visit.technician_id is not None and visit.technician_id != user.id:
        raise Refused(lazy_gettext("This visit is assigned to another technician."), 403)


def check_in(
    session: Session, visit: Visit, tech: User, scope: Scope, now: datetime, path: StatusPath
) -> list[LiveEvent]:
    """Start the visit; returns the live events of the status change (if any)."""
    _technician_of(visit, tech, scope, session)
    if visit.status is VisitStatus.IN_PROGRESS:
        raise Refused(lazy_gettext("You are already checked in on this visit."), 409)
    if visit.status is not VisitStatus.SCHEDULED:
        raise Refused(
            lazy_gettext("This visit is %(status)s; it cannot be started.", status=visit.status.value), 409
        )
    if visit.scheduled_start - now > EARLY_CHECK_IN:
        raise Refused(lazy_gettext("This visit is planned later; check in on the day."), 409)
    other = session.scalar(
        select(Visit).where(
            Visit.technician_id == tech.id, Visit.status == VisitStatus.IN_PROGRESS, Visit.id != visit.id
        )
    )
    if other is not None:
        raise Refused(
            lazy_gettext(
                "You are still checked in on %(asset)s; check out there first.", asset=other.asset.name
            ),
            409,
        )
    started = session.execute(
        update(Visit)
        .where(Visit.id == visit.id, Visit.status == VisitStatus.SCHEDULED)
        .values(status=VisitStatus.IN_PROGRESS, checked_in_at=now, technician_id=tech.id)
        .execution_options(synchronize_session=False)
    )
    if started.rowcount != 1:  # type: ignore[attr-defined]
        raise Refused(lazy_gettext("You are already checked in on this visit."), 409)
    session.refresh(visit)
    open_outage = session.scalar(
        select(Outage).where(Outage.asset_id == visit.asset_id, Outage.ended_at.is_(None)).limit(1)
    )
    if open_outage is not None:  # a repair: the outage goes on, with the technician on site
        if open_outage.on_site_at is None:
            open_outage.on_site_at = now
        if visit.outage_id is None:
            visit.outage_id = open_outage.id
        session.flush()
        logger.info("technician %s on site for outage %s", tech.id, open_outage.id)
        return [
            LiveEvent(
                LiveKind.TIMELINE,
                visit.asset_id,
                now.isoformat(),
                visit.asset.mqtt_id,
                outage_id=open_outage.id,
            )
        ]
    return path.apply(session, visit.asset, OperatingState.MAINTENANCE, now)


def check_out(
    session: Session, visit: Visit, tech: User, scope: Scope, report: Report, now: datetime, path: StatusPath
) -> list[LiveEvent]:
    """Finish the visit with its report; the asset goes back in service unless told otherwise."""
    _technician_of(visit, tech, scope, session)
    if visit.status is VisitStatus.SCHEDULED:
        raise Refused(lazy_gettext("Check in before checking out."), 409)
    if visit.status is not VisitStatus.IN_PROGRESS:
        raise Refused(lazy_gettext("This visit is already finished."), 409)
    at = max(now, (visit.checked_in_at or now) + timedelta(seconds=1))
    visit.status = VisitStatus.COMPLETED
    visit.checked_out_at = at
    visit.report, visit.parts, visit.findings, visit.next_action = (
        report.work_done,
        report.parts,
        report.findings,
        report.next_action,
    )
    session.flush()
    webhooks.enqueue(
        session,
        visit.asset.site.customer_id,
        "visit.done",
        {
            "visit_id": visit.id,
            **webhooks.unit_data(visit.asset),
            "kind": visit.kind.value,
            "checked_in_at": visit.checked_in_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            if visit.checked_in_at
            else None,
            "checked_out_at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "back_in_service": report.back_in_service,
            "work_done": report.work_done,
            "next_action": report.next_action,
        },
        now,
    )
    status = session.get(AssetStatus, visit.asset_id)
    current = status.state if status is not None else None
    wanted = OperatingState.IN_SERVICE if report.back_in_service else OperatingState.OUT_OF_SERVICE
    events = [] if current is wanted else path.apply(session, visit.asset, wanted, at)
    if report.back_in_service:  # reported outages are not the sensors' to close: the technician does
        for outage in session.scalars(
            select(Outage).where(Outage.asset_id == visit.asset_id, Outage.ended_at.is_(None))
        ):
            outage.ended_at = at
            closed = LiveEvent(LiveKind.OUTAGE_CLOSED, visit.asset_id, at.isoformat(), visit.asset.mqtt_id)
            events.append(
                replace(
                    closed,
                    state=OperatingState.IN_SERVICE.value,
                    fault=outage.fault_code,
                    outage_id=outage.id,
                )
            )
        session.flush()
    return events


# --- HOA presidents meet the technician ---------------------------------------------------------------
def request_meeting(
    session: Session, visit: Visit, user: User, scope: Scope, note: str, now: datetime
) -> None:
    """An HOA president (or facility manager) asks to meet the technician at a planned visit."""
    if not scope.can_see_asset(session, visit.asset_id):
        raise NotVisible
    if not can(user, "meet_technician"):
        raise Refused(
            lazy_gettext("Only HOA presidents and facility managers ask to meet the technician."), 403
        )
    if visit.status is not VisitStatus.SCHEDULED or visit.scheduled_start <= now:
        raise Refused(lazy_gettext("You can ask to meet the technician only before the visit."), 409)
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise Refused(lazy_gettext("Please keep the note under %(max)d characters.", max=MAX_NOTE))
    if visit.meet_requested_by is not None and visit.meet_requested_by != user.id:
        raise Refused(lazy_gettext("Someone else has already asked to meet the technician."), 409)
    visit.meet_requested_by = user.id
    visit.meet_requested_at = now
    visit.meet_note = note or None
    session.flush()


def repair_visit(session: Session, outage: Outage) -> Visit:
    """The repair visit of a dispatched outage, created or moved to the new technician and ETA,
    so it appears in the technician's list and can be checked into."""
    start = outage.eta or outage.assigned_at or outage.started_at
    visit = session.scalar(
        select(Visit).where(Visit.outage_id == outage.id, Visit.status == VisitStatus.SCHEDULED).limit(1)
    )
    if visit is None:
        visit = Visit(
            asset_id=outage.asset_id,
            kind=VisitKind.REPAIR,
            status=VisitStatus.SCHEDULED,
            outage_id=outage.id,
            summary="Repair after a breakdown",
            scheduled_start=start,
            scheduled_end=start + timedelta(hours=2),
        )
        session.add(visit)
    visit.technician_id = outage.technician_id
    visit.scheduled_start, visit.scheduled_end = start, start + timedelta(hours=2)
    visit.scheduled_notified_at = visit.scheduled_notified_at or start  # a repair is told by the timeline
    session.flush()
    return visit
