"""Sensor warnings on the web: the watch board (open warnings by severity, age or site, with
what became of the last 90 days' ones) and a warning's page (its evidence and chart, and
the technician's actions: plan a check, record the finding, dismiss)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_required

from fleet.db import utcnow
from fleet.models import Site
from fleet.models.condition import WatchItem
from portal import labels
from portal.access import check, requires
from portal.auth.scope import current_scope
from portal.condition import watch
from portal.extensions import db_session, get_telemetry
from portal.live.page import page_config
from portal.live.rooms import MAX_IDS_PER_JOIN
from portal.refusal import Refused

logger = logging.getLogger(__name__)
bp = Blueprint("watch", __name__)
BOARD_CHARTS = 50  # the first rows get a small chart (one InfluxQL statement for all)
SEE = lazy_gettext("Sensor warnings are for field technicians and vendor staff.")
ACT = lazy_gettext("Only field technicians and vendor staff act on sensor warnings.")


def _charts(items: list[WatchItem], now: datetime, days: int) -> dict[int, watch.SignalChart | None]:
    return watch.charts_for(get_telemetry(), items, now, days)


@bp.get("/watch")
@login_required
@requires("see_sensor_warnings", SEE)
def board() -> ResponseReturnValue:
    """Open warnings in scope (staff: across customers), sortable; counts over 90 days."""
    now = utcnow()
    sort = request.args.get("sort", "severity")
    if sort not in watch.SORTS:
        sort = "severity"
    session = db_session()
    scope = current_scope()
    items = watch.open_items(session, scope, sort)
    counts = watch.board_counts(session, scope, now - timedelta(days=90))
    charts = _charts(items[:BOARD_CHARTS], now, 7)
    sites = session.scalars(scope.sites().with_only_columns(Site.id).limit(MAX_IDS_PER_JOIN)).all()
    live = page_config(sites=sites)  # a new warning anywhere in scope shows the reload notice
    page = {"items": items, "counts": counts, "charts": charts, "sort": sort, "now": now, "live": live}
    return render_template("watch/board.html", **page)


def _item_page(item: WatchItem, error: str | None = None, code: int = 200) -> ResponseReturnValue:
    now = utcnow()
    chart = _charts([item], now, 14).get(item.id)
    html = render_template(
        "watch/item.html", item=item, chart=chart, now=now, tz=item.asset.site.timezone, error=error,
        findings=labels.FINDINGS, reasons=labels.DISMISS_REASONS,
    )  # fmt: skip
    return html, code


def _item_or_404(item_id: int) -> WatchItem:
    return watch.get_item(db_session(), current_scope(), item_id)


@bp.get("/watch/<int:item_id>")
@login_required
def item(item_id: int) -> ResponseReturnValue:
    """One warning: evidence, explanation, chart against the band, and what to do (404 outside
    the scope like a missing one, then 403 for groups that do not see warnings)."""
    obj = _item_or_404(item_id)
    check(current_user, "see_sensor_warnings", SEE)
    return _item_page(obj)


def _act(item_id: int, action: str) -> ResponseReturnValue:
    session = db_session()
    obj = _item_or_404(item_id)
    check(current_user, "act_on_sensor_warnings", ACT)
    now = utcnow()
    try:
        if action == "check":
            start = _local_datetime(request.form.get("start", ""), obj.asset.site.timezone)
            visit = watch.plan_check(session, obj, current_user, start, now)
            message = gettext("A check visit is planned.")
        elif action == "finding":
            watch.confirm(session, obj, current_user, request.form.get("finding", ""), now)
            message = gettext("The finding is recorded and the warning closed.")
        else:
            watch.dismiss(
                obj, current_user, request.form.get("reason", ""), request.form.get("note", ""), now
            )
            message = gettext("The warning is dismissed.")
    except Refused as exc:
        session.rollback()
        return _item_page(_item_or_404(item_id), str(exc.message), exc.status)
    session.commit()
    flash(message, "success")
    if action == "check":
        return redirect(url_for("maintenance.visit", visit_id=visit.id))
    return redirect(url_for("watch.item", item_id=obj.id))


def _local_datetime(raw: str, tz: str) -> datetime:
    """A ``datetime-local`` value typed in the site's time zone, as an aware instant."""
    try:
        naive = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise Refused(
            lazy_gettext("Give the date and time of the check."), 400, {"start": ["invalid"]}
        ) from None
    if naive.tzinfo is not None:
        raise Refused(lazy_gettext("Give the date and time of the check."), 400, {"start": ["invalid"]})
    return naive.replace(tzinfo=ZoneInfo(tz))


@bp.post("/watch/<int:item_id>/check")
@login_required
def plan_check(item_id: int) -> ResponseReturnValue:
    """Plan a check visit on the unit."""
    return _act(item_id, "check")


@bp.post("/watch/<int:item_id>/finding")
@login_required
def record_finding(item_id: int) -> ResponseReturnValue:
    """Record what was found: the warning is confirmed and closed."""
    return _act(item_id, "finding")


@bp.post("/watch/<int:item_id>/dismiss")
@login_required
def dismiss(item_id: int) -> ResponseReturnValue:
    """Dismiss the warning with a reason."""
    return _act(item_id, "dismiss")
