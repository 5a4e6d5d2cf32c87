"""Relationship health for vendor staff (everyone else: 404, as for a page that does not
exist): the risk list, an outreach task and its outcome, the renewal view (and its CSV), and
the satisfaction equations per group."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import select

from fleet.db import utcnow
from fleet.models import OutreachStatus, OutreachTask
from portal.access import NotVisible, can
from portal.extensions import db_session
from portal.health import equation_store, equations, points, relationships, renewals
from portal.health.levers import LEVERS
from portal.health.score import CAPS, COVERAGE, DEFAULT_POINTS, VOICE
from portal.refusal import Refused
from portal.web.spreadsheet import csv_response

logger = logging.getLogger(__name__)
bp = Blueprint("relationships", __name__)
FAMILIES = (("service", LEVERS), ("voice", VOICE), ("coverage", COVERAGE))


def _staff_only() -> None:
    if not can(current_user, "see_relationship_health"):
        raise NotVisible("relationship health")


@bp.get("/health")
@login_required
def risk_list() -> ResponseReturnValue:
    """Every relationship, riskiest first, with its reasons, trend and open work."""
    _staff_only()
    assessments = relationships.current(db_session(), utcnow())
    return render_template(
        "relationships/risk.html", assessments=assessments, threshold=relationships.THRESHOLD
    )


def _task(task_id: int) -> OutreachTask:
    _staff_only()
    task = db_session().get(OutreachTask, task_id)
    if task is None:
        raise NotVisible(task_id)
    return task


@bp.get("/outreach/<int:task_id>")
@login_required
def outreach(task_id: int) -> ResponseReturnValue:
    """An outreach task: who, how, why; the outcome once recorded."""
    return render_template("relationships/outreach.html", task=_task(task_id), error=None)


@bp.post("/outreach/<int:task_id>")
@login_required
def record_outcome(task_id: int) -> ResponseReturnValue:
    """Record the outcome (reached, cause found, action agreed); the task is done."""
    session = db_session()
    task = _task(task_id)
    try:
        relationships.record_outcome(
            task, current_user, request.form.get("reached", ""), request.form.get("cause_found", ""),
            request.form.get("action_agreed", ""), utcnow(),
        )  # fmt: skip
    except Refused as exc:
        session.rollback()
        html = render_template("relationships/outreach.html", task=_task(task_id), error=str(exc.message))
        return html, exc.status
    session.commit()
    flash(gettext("The outcome is recorded."), "success")
    return redirect(url_for("relationships.outreach", task_id=task.id))


@bp.get("/outreach")
@login_required
def outreach_list() -> ResponseReturnValue:
    """Open outreach tasks, then the last 90 days' done ones (the relationships' timeline)."""
    _staff_only()
    session = db_session()
    tasks = session.scalars(
        select(OutreachTask)
        .where(
            (OutreachTask.status == OutreachStatus.OPEN)
            | (OutreachTask.opened_at >= utcnow() - timedelta(days=90))
        )
        .order_by(OutreachTask.status.desc(), OutreachTask.opened_at.desc())
    ).all()
    return render_template("relationships/outreach_list.html", tasks=tasks)


@bp.get("/renewals")
@login_required
def renewal_view() -> ResponseReturnValue:
    """Contracts by end date with health, availability, commitments and open work; CSV too."""
    _staff_only()
    now = utcnow()
    rows = renewals.renewal_rows(db_session(), now, relationships.current(db_session(), now))
    sort = request.args.get("sort", "end")
    keys = {
        "end": lambda r: (r.end_date, r.customer),
        "health": lambda r: (r.fm_health if r.fm_health is not None else 101.0, r.end_date),
        "customer": lambda r: (r.customer.lower(), r.end_date),
    }
    rows.sort(key=keys.get(sort, keys["end"]))
    disagree = [r for r in rows if r.shares_disagree]
    if request.args.get("format") == "csv":
        header = [
            "contract", "customer", "end_date", "notice_by", "fm_health", "fm_trend_30d",
            "weakest_building_health", "availability_90d", "target", "response_kept", "open_follow_ups",
            "open_outreach", "mean_age_years", "maintained_share", "said_share", "rankings",
            "shares_disagree",
        ]  # fmt: skip
        body = [_csv_row(r) for r in rows]
        return csv_response([header, *body], "renewals.csv", bom=True)
    return render_template(
        "relationships/renewals.html", rows=rows, sort=sort, today=now.date(), disagree=disagree,
        gap=renewals.SHARE_GAP,
    )  # fmt: skip


def _csv_row(r: renewals.RenewalRow) -> list[object]:
    def rounded(value: float | None, digits: int) -> float | None:
        return None if value is None else round(value, digits)

    return [
        r.reference, r.customer, r.end_date.isoformat(), r.notice_by.isoformat(), r.fm_health, r.fm_trend,
        r.hoa_health, rounded(r.availability, 3), r.target, rounded(r.response_kept, 3), r.open_follow_ups,
        r.open_outreach, rounded(r.mean_age_years, 1), rounded(r.maintained_share, 3),
        rounded(r.said_share, 3), r.rankings, r.shares_disagree or "",
    ]  # fmt: skip


@bp.get("/health/equations")
@login_required
def equation_view() -> ResponseReturnValue:
    """Per group and question, the weight of each lever with its band and the sample size
    (as the worker last fitted them)."""
    _staff_only()
    session = db_session()
    return render_template(
        "relationships/equations.html", fitted=equation_store.stored(session),
        fitted_at=equation_store.fitted_at(session), minimum=equations.MIN_ANSWERS,
    )  # fmt: skip


def _points_page(form: dict[str, str] | None = None, error: str | None = None, fields: object = None) -> str:
    session = db_session()
    suggestion, fitted = points.suggested(session)
    return render_template(
        "relationships/points.html", in_use=points.in_use(session), suggested=suggestion, fitted=fitted,
        defaults=DEFAULT_POINTS, caps=CAPS, families=FAMILIES, form=form, error=error, fields=fields or {},
    )  # fmt: skip


@bp.get("/health/points")
@login_required
def points_view() -> ResponseReturnValue:
    """The points each factor is worth: in use, suggested by the equations, the defaults."""
    _staff_only()
    return _points_page()


@bp.post("/health/points")
@login_required
def set_points() -> ResponseReturnValue:
    """Staff set the points (every factor, 100 in all); ``reset`` returns to the suggestion."""
    _staff_only()
    if not can(current_user, "set_health_points"):
        raise NotVisible("health points")
    session = db_session()
    if request.form.get("action") == "reset":
        points.reset(session, current_user, utcnow())
        session.commit()
        flash(gettext("The points follow the equations' suggestion again."), "success")
        return redirect(url_for("relationships.points_view"))
    try:
        chosen = points.parse(request.form)
    except Refused as exc:
        return _points_page(dict(request.form), str(exc.message), exc.errors), exc.status
    points.save(session, chosen, current_user, utcnow())
    session.commit()
    flash(gettext("The points are saved; the next daily scoring uses them."), "success")
    return redirect(url_for("relationships.points_view"))
