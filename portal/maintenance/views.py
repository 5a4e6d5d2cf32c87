"""Technicians' visits on the phone (today's list, check-in/out, report), the visit page every
group reads (with the report and the HOA president's meet request), and maintenance plans."""

from __future__ import annotations

import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user, login_required

from fleet.db import utcnow
from fleet.live import LiveEvent
from fleet.models import (
    IntervalUnit,
    PlanKind,
    UsageMetric,
    Visit,
    VisitKind,
)
from portal import audit
from portal.access import can
from portal.auth.scope import current_scope
from portal.condition import watch
from portal.extensions import db_session, get_availability, get_fragments, get_telemetry
from portal.health import relationships
from portal.live.server import announce
from portal.maintenance import plans, visits
from portal.refusal import Refused

logger = logging.getLogger(__name__)
bp = Blueprint("maintenance", __name__)


def status_path() -> visits.TrackerPath:
    """The sensors' status path, configured like the ingester's."""
    settings = current_app.config["SETTINGS"]
    return visits.TrackerPath(timedelta(seconds=settings.ingest_offline_after_s))


@bp.get("/visits")
@login_required
def today() -> ResponseReturnValue:
    """A technician's visits: the one in progress, today's and tomorrow's, and overdue ones."""
    if not can(current_user, "do_visits"):
        return redirect(url_for("assets.work"))
    items = visits.todays_visits(db_session(), current_user, utcnow())
    return render_template("maintenance/today.html", items=items, now=utcnow())


def _visit_or_404(visit_id: int) -> Visit:
    return current_scope().get_visit(db_session(), visit_id)


def _render(visit: Visit, error: str | None = None, code: int = 200) -> ResponseReturnValue:
    html = render_template(
        "maintenance/visit.html",
        v=visit,
        tz=visit.asset.site.timezone,
        now=utcnow(),
        error=error,
        form=request.form,
        warnings=(
            watch.open_on_asset(db_session(), visit.asset_id)
            if can(current_user, "act_on_sensor_warnings")
            else []
        ),
        meet=relationships.meetings_at(db_session(), visit.id) if can(current_user, "do_visits") else [],
    )
    return html, code


@bp.get("/visits/<int:visit_id>")
@login_required
def visit(visit_id: int) -> ResponseReturnValue:
    """One visit: when, what will be done, who; the report once done; check-in/out for the technician."""
    return _render(_visit_or_404(visit_id))


def _after_status_change(events: list[LiveEvent], asset_id: int) -> None:
    get_availability().forget(asset_id)
    get_fragments().clear()
    announce(current_app, events)


@bp.post("/visits/<int:visit_id>/check-in")
@login_required
def check_in(visit_id: int) -> ResponseReturnValue:
    """Start the visit (puts a working asset under maintenance)."""
    session = db_session()
    obj = _visit_or_404(visit_id)
    try:
        events = visits.check_in(session, obj, current_user, current_scope(), utcnow(), status_path())
    except Refused as exc:
        session.rollback()
        return _render(_visit_or_404(visit_id), str(exc.message), exc.status)
    audit.record(session, current_user, "visit.checked_in", "visit", obj.id, utcnow(),
                 {"status": "scheduled"}, {"status": obj.status.value})  # fmt: skip
    session.commit()
    _after_status_change(events, obj.asset_id)
    flash(gettext("Checked in. The equipment shows as under maintenance."), "success")
    return redirect(url_for("maintenance.visit", visit_id=obj.id))


@bp.post("/visits/<int:visit_id>/check-out")
@login_required
def check_out(visit_id: int) -> ResponseReturnValue:
    """Finish the visit with its report."""
    session = db_session()
    obj = _visit_or_404(visit_id)
    try:
        report = visits.parse_report(request.form)
        events = visits.check_out(
            session, obj, current_user, current_scope(), report, utcnow(), status_path()
        )
    except Refused as exc:
        session.rollback()
        return _render(_visit_or_404(visit_id), str(exc.message), exc.status)
    after = {"status": obj.status.value, "back_in_service": report.back_in_service}
    audit.record(
        session,
        current_user,
        "visit.checked_out",
        "visit",
        obj.id,
        utcnow(),
        {"status": "in_progress"},
        after,
    )
    session.commit()
    _after_status_change(events, obj.asset_id)
    flash(gettext("Checked out. The report is available to the customer."), "success")
    return redirect(url_for("maintenance.today"))


@bp.post("/visits/<int:visit_id>/meet")
@login_required
def meet(visit_id: int) -> ResponseReturnValue:
    """An HOA president asks to meet the technician at this visit."""
    session = db_session()
    obj = _visit_or_404(visit_id)
    try:
        visits.request_meeting(
            session, obj, current_user, current_scope(), request.form.get("note", ""), utcnow()
        )
    except Refused as exc:
        session.rollback()
        return _render(_visit_or_404(visit_id), str(exc.message), exc.status)
    session.commit()
    flash(gettext("Your request was sent to the technician."), "success")
    return redirect(url_for("maintenance.visit", visit_id=obj.id))


# --- plans ----------------------------------------------------------------------------------------------
@bp.get("/assets/<int:asset_id>/plans")
@login_required
def asset_plans(asset_id: int) -> ResponseReturnValue:
    """The asset's maintenance plans and where usage plans stand; staff add and stop plans."""
    return _plans_page(asset_id)


def _plans_page(
    asset_id: int, error: str | None = None, code: int = 200, errors: dict[str, list[str]] | None = None
) -> ResponseReturnValue:
    session = db_session()
    asset = current_scope().get_asset(session, asset_id)
    now = utcnow()
    items = plans.plans_of(session, [asset.id])
    usage = {}
    source = plans.TelemetryUsage(get_telemetry())
    for p in items:
        if p.kind is PlanKind.USAGE:
            try:
                usage[p.id] = plans.usage_status(p, asset, plans.last_done(session, p, now), now, source)
            except Exception:  # telemetry down: the page still shows the plans
                logger.warning("usage of plan %s could not be read", p.id)
    from portal.assets.dispatch import technicians

    html = render_template(
        "maintenance/plans.html", asset=asset, plans=items, usage=usage, error=error, form=request.form,
        errors=errors or {},
        units=[u.value for u in IntervalUnit], metrics=[m.value for m in UsageMetric],
        visit_kinds=[k.value for k in VisitKind], technicians=technicians(session),
        today=now.astimezone(ZoneInfo(asset.site.timezone)).date(),
    )  # fmt: skip
    return html, code


@bp.post("/assets/<int:asset_id>/plans")
@login_required
def add_plan(asset_id: int) -> ResponseReturnValue:
    """Add a plan (vendor staff); its visits are scheduled at once."""
    session = db_session()
    asset = current_scope().get_asset(session, asset_id)
    today = utcnow().astimezone(ZoneInfo(asset.site.timezone)).date()
    try:
        data = plans.parse_plan(request.form, today)
        plans.create_plan(session, asset, data, current_user)
        plans.schedule(session, utcnow(), usage=plans.TelemetryUsage(get_telemetry()), only_asset=asset.id)
    except Refused as exc:
        session.rollback()
        return _plans_page(asset_id, None if exc.errors else str(exc.message), exc.status, exc.errors)
    session.commit()
    flash(gettext("Plan added; its visits are scheduled."), "success")
    return redirect(url_for("maintenance.asset_plans", asset_id=asset.id))


@bp.post("/plans/<int:plan_id>/stop")
@login_required
def stop_plan(plan_id: int) -> ResponseReturnValue:
    """Stop a plan and cancel its future visits (vendor staff)."""
    session = db_session()
    plan = current_scope().get_plan(session, plan_id)
    try:
        cancelled = plans.deactivate_plan(session, plan, current_user, utcnow())
    except Refused as exc:
        session.rollback()
        return _plans_page(plan.asset_id, str(exc.message), exc.status)
    session.commit()
    flash(gettext("Plan stopped; %(num)d future visits cancelled.", num=cancelled), "success")
    return redirect(url_for("maintenance.asset_plans", asset_id=plan.asset_id))
