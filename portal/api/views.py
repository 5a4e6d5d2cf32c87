"""JSON endpoints. Authentication is the login session; scope is :mod:`portal.access`."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from fleet.db import MAX_ID, parse_id, utcnow
from fleet.models import Feedback
from portal.access import NotVisible, can, resident_asset
from portal.api import exports
from portal.api import serializers as ser
from portal.api.openapi import spec
from portal.assets import charts, service
from portal.auth.scope import current_scope
from portal.extensions import db_session, get_telemetry
from portal.feedback import service as feedback_service
from portal.influxql import TelemetryError
from portal.refusal import Refused
from portal.web.spreadsheet import csv_response

logger = logging.getLogger(__name__)
MAX_IDS = 1000

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/feedback")
@login_required
def feedback_list() -> ResponseReturnValue:
    """Feedback the user may read, newest activity first (at most 200)."""
    stmt = feedback_service.visible(current_user, current_scope())
    items = db_session().scalars(stmt.order_by(Feedback.last_activity_at.desc()).limit(200))
    return jsonify({"items": [ser.feedback(f) for f in items]})


@bp.get("/feedback/<int:feedback_id>")
@login_required
def feedback_item(feedback_id: int) -> ResponseReturnValue:
    """One feedback item with its thread."""
    try:
        obj = feedback_service.get_visible(db_session(), current_user, current_scope(), feedback_id)
    except Refused:
        raise NotVisible from None
    return jsonify(ser.feedback(obj, with_thread=True))


@bp.get("/me")
@login_required
def me() -> ResponseReturnValue:
    """The logged-in user."""
    return jsonify(ser.user(current_user))


@bp.get("/customers")
@login_required
def customers() -> ResponseReturnValue:
    """Customers in scope."""
    rows = db_session().scalars(current_scope().customers())
    return jsonify({"items": [ser.customer(c) for c in rows]})


@bp.get("/customers/<int:customer_id>")
@login_required
def customer(customer_id: int) -> ResponseReturnValue:
    """One customer, with its sites in scope."""
    scope = current_scope()
    session = db_session()
    obj = scope.get_customer(session, customer_id)
    sites = service.sites_with_counts(session, scope, customer_id=obj.id)
    return jsonify({**ser.customer(obj), "sites": [ser.site(s, n) for s, n in sites]})


@bp.get("/sites")
@login_required
def sites() -> ResponseReturnValue:
    """Sites in scope with their asset counts."""
    rows = service.sites_with_counts(db_session(), current_scope())
    return jsonify({"items": [ser.site(s, n) for s, n in rows]})


@bp.get("/sites/<int:site_id>")
@login_required
def site(site_id: int) -> ResponseReturnValue:
    """One site with its assets."""
    scope = current_scope()
    session = db_session()
    obj = scope.get_site(session, site_id)
    rows = service.portfolio(session, scope, utcnow(), site_id=obj.id)
    return jsonify({**ser.site(obj, len(rows)), "assets": [ser.asset_summary(r) for r in rows]})


class BadQuery(ValueError):
    """A query-string parameter that cannot be used (answered 400 with the reason)."""


def _ids_arg(name: str) -> list[int] | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    ids = [parse_id(p.strip()) for p in raw.split(",") if p.strip()]
    if len(ids) > MAX_IDS or None in ids:
        raise BadQuery(f"{name} must be a comma-separated list of at most {MAX_IDS} ids (1 to {MAX_ID})")
    return [i for i in ids if i is not None]


def _ts_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadQuery(f"{name} must be an ISO 8601 timestamp") from None


@bp.errorhandler(BadQuery)
def bad_query(exc: BadQuery) -> ResponseReturnValue:
    """Bad parameters: 400 with the reason."""
    return jsonify(error=str(exc)), 400


@bp.get("/assets")
@login_required
def assets() -> ResponseReturnValue:
    """Every asset in scope with status, age, open outage and next visit (``?ids=1,2`` to narrow)."""
    ids = _ids_arg("ids")
    rows = service.portfolio(db_session(), current_scope(), utcnow(), asset_ids=ids)
    return jsonify({"items": [ser.asset_summary(r) for r in rows]})


@bp.get("/assets/<int:asset_id>")
@login_required
def asset(asset_id: int) -> ResponseReturnValue:
    """One asset with its outage history."""
    session = db_session()
    obj = current_scope().get_asset(session, asset_id)
    (row,) = service.summarise(session, [obj], utcnow())
    outages = service.outage_history(session, obj.id)
    return jsonify({**ser.asset_summary(row), "outages": [ser.outage(o) for o in outages]})


@bp.get("/assets/<int:asset_id>/telemetry")
@login_required
def telemetry(asset_id: int) -> ResponseReturnValue:
    """Downsampled sensor series: ``?range=24h|7d|30d`` or ``?start=…&end=…`` (zoom)."""
    obj = current_scope().get_asset(db_session(), asset_id)
    try:
        start, end = charts.resolve_range(
            request.args.get("range"), _ts_arg("start"), _ts_arg("end"), utcnow()
        )
    except charts.BadRange as exc:
        raise BadQuery(str(exc)) from None
    try:
        data = charts.asset_charts(get_telemetry(), obj.mqtt_id, start, end)
    except TelemetryError as exc:
        logger.warning("telemetry read failed for asset %s: %s", obj.id, exc)
        return jsonify(error="The sensor store is not answering; try again shortly."), 503
    return jsonify({"asset_id": obj.id, **data})


EXPORT_MAX_DAYS = 400
PAGE_DEFAULT, PAGE_MAX = 500, 1000


def _period() -> tuple[datetime, datetime]:
    end = _ts_arg("end") or utcnow()
    start = _ts_arg("start") or end - timedelta(days=30)
    if start.tzinfo is None or end.tzinfo is None:
        raise BadQuery("start and end need a time zone (e.g. 2026-11-01T00:00:00Z)")
    if not start < end or end - start > timedelta(days=EXPORT_MAX_DAYS):
        raise BadQuery(f"start must come before end, at most {EXPORT_MAX_DAYS} days apart")
    return start, end


def _limit() -> int:
    raw = request.args.get("limit", str(PAGE_DEFAULT))
    if not raw.isdigit() or not 1 <= int(raw) <= PAGE_MAX:
        raise BadQuery(f"limit must be a whole number from 1 to {PAGE_MAX}")
    return int(raw)


def _wants_csv() -> bool:
    fmt = request.args.get("format")
    if fmt is not None and fmt not in ("json", "csv"):
        raise BadQuery("format must be json or csv")
    if fmt is not None:
        return fmt == "csv"
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"], default="application/json")
    return best == "text/csv"


def _export(kind: str) -> ResponseReturnValue:
    """A page of ``kind`` (outages or visits) for the period, as JSON or CSV."""
    start, end = _period()
    limit = _limit()
    try:
        after = exports.decode_cursor(request.args.get("cursor"))
    except ValueError as exc:
        raise BadQuery(str(exc)) from None
    site_id = None
    if request.args.get("site") is not None:
        site_id = parse_id(request.args.get("site", ""))
        if site_id is None:
            raise BadQuery(f"site must be an id from 1 to {MAX_ID}")
        current_scope().get_site(db_session(), site_id)  # 404 out of scope
    session, scope = db_session(), current_scope()
    columns: tuple[str, ...]
    if kind == "outages":
        rows, next_cursor = exports.outages(session, scope, start, end, limit, after, site_id)
        columns = exports.OUTAGE_COLUMNS
    else:
        rows, next_cursor = exports.visits(
            session,
            scope,
            start,
            end,
            limit,
            after,
            site_id,
            with_reports=can(current_user, "read_visit_reports"),
        )
        columns = exports.VISIT_COLUMNS
    if _wants_csv():
        resp = csv_response([columns, *([row[c] for c in columns] for row in rows)], f"{kind}.csv", bom=True)
        if next_cursor:
            args: dict[str, Any] = {**request.args.to_dict(), "cursor": next_cursor, "format": "csv"}
            resp.headers["Link"] = f'<{url_for(f"api.{kind}", **args)}>; rel="next"'
        return resp
    return jsonify(
        {"items": rows, "next_cursor": next_cursor, "start": start.isoformat(), "end": end.isoformat()}
    )


@bp.get("/outages")
@login_required
def outages() -> ResponseReturnValue:
    """Outages in scope overlapping ``[start, end)`` (default: the last 30 days), oldest first,
    as JSON or CSV (``format`` or ``Accept``), a page at a time: pass ``next_cursor`` (JSON)
    or follow the ``Link: rel="next"`` header (CSV) for the next page."""
    return _export("outages")


@bp.get("/visits")
@login_required
def visits() -> ResponseReturnValue:
    """Visits in scope scheduled to start in ``[start, end)`` (default: the last 30 days),
    paged like outages; the reports only for those who may read them."""
    return _export("visits")


@bp.get("/resident/<token>")
def resident(token: str) -> ResponseReturnValue:
    """The resident view of one asset (no login; the token is the credential)."""
    session = db_session()
    obj = resident_asset(session, token)
    (row,) = service.summarise(session, [obj], utcnow())
    return jsonify(ser.asset_summary(row, public=True))


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI description of this API."""
    return jsonify(spec())
