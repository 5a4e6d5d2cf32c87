"""Read endpoints and period exports. Scope is :mod:`portal.access`; what each takes and
answers is in :mod:`portal.api.schemas` and described by :func:`portal.api.openapi.documented`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from pydantic import BaseModel

from fleet.db import utcnow
from fleet.models import Feedback, Notification
from portal.access import NotVisible, can, resident_asset
from portal.api import exports
from portal.api import schemas as s
from portal.api import serializers as ser
from portal.api.http import BadRequest, bp, query, reply
from portal.api.openapi import cached_spec, documented
from portal.assets import charts, service
from portal.auth.scope import current_scope
from portal.condition import watch
from portal.extensions import db_session, get_telemetry
from portal.feedback import service as feedback_service
from portal.influxql import TelemetryError
from portal.notifications import service as notifications
from portal.refusal import Refused
from portal.web.spreadsheet import csv_response

logger = logging.getLogger(__name__)
EXPORT_MAX_DAYS = 400


@bp.get("/me")
@login_required
@documented("The account making the request", s.User)
def me() -> ResponseReturnValue:
    """The account behind the session or token: its group, customer and sites."""
    return reply(ser.user(current_user))


@bp.get("/customers")
@login_required
@documented("Customers in scope", s.CustomerList)
def customers() -> ResponseReturnValue:
    """Customers with at least one site in scope, by name."""
    rows = db_session().scalars(current_scope().customers())
    return reply(s.CustomerList(items=[ser.customer(c) for c in rows]))


@bp.get("/customers/<int:customer_id>")
@login_required
@documented("One customer with its sites in scope", s.CustomerDetail, errors=(404,))
def customer(customer_id: int) -> ResponseReturnValue:
    """One customer, with its sites in scope and their unit counts."""
    scope, session = current_scope(), db_session()
    obj = scope.get_customer(session, customer_id)
    sites = [ser.site(site, n) for site, n in service.sites_with_counts(session, scope, customer_id=obj.id)]
    return reply(s.CustomerDetail(**dict(ser.customer(obj)), sites=sites))


@bp.get("/sites")
@login_required
@documented("Sites in scope", s.SiteList)
def sites() -> ResponseReturnValue:
    """Sites in scope with their unit counts, by name."""
    rows = service.sites_with_counts(db_session(), current_scope())
    return reply(s.SiteList(items=[ser.site(site, n) for site, n in rows]))


@bp.get("/sites/<int:site_id>")
@login_required
@documented("One site with its units", s.SiteDetail, errors=(404,))
def site(site_id: int) -> ResponseReturnValue:
    """One site with its units (status, age, outage, next visit, availability)."""
    scope, session = current_scope(), db_session()
    obj = scope.get_site(session, site_id)
    rows = service.portfolio(session, scope, utcnow(), site_id=obj.id)
    return reply(s.SiteDetail(**dict(ser.site(obj, len(rows))), assets=[ser.asset(r) for r in rows]))


@bp.get("/assets")
@login_required
@documented("Units in scope", s.AssetList, query=s.AssetsQuery)
def assets() -> ResponseReturnValue:
    """Every unit in scope with status, age, open outage, next visit and availability,
    by customer, site and name; ``ids`` narrows the list."""
    params = query(s.AssetsQuery)
    rows = service.portfolio(db_session(), current_scope(), utcnow(), asset_ids=params.ids)
    return reply(s.AssetList(items=[ser.asset(r) for r in rows]))


@bp.get("/assets/<int:asset_id>")
@login_required
@documented("One unit with its outage history", s.AssetDetail, errors=(404,))
def asset(asset_id: int) -> ResponseReturnValue:
    """One unit with its 50 most recent outages, newest first."""
    session = db_session()
    obj = current_scope().get_asset(session, asset_id)
    (row,) = service.summarise(session, [obj], utcnow())
    outages = [ser.outage(o) for o in service.outage_history(session, obj.id)]
    return reply(s.AssetDetail(**dict(ser.asset(row)), outages=outages))


@bp.get("/assets/<int:asset_id>/telemetry")
@login_required
@documented(
    "Downsampled sensor series of one unit", s.Telemetry, query=s.TelemetryQuery, errors=(404, 422, 503)
)
def telemetry(asset_id: int) -> ResponseReturnValue:
    """Sensor series over a preset window (``range``) or an explicit one (``start`` and ``end``)."""
    params = query(s.TelemetryQuery)
    obj = current_scope().get_asset(db_session(), asset_id)
    try:
        start, end = charts.resolve_range(params.range, params.start, params.end, utcnow())
    except charts.BadRange as exc:
        raise BadRequest(str(exc), 422) from None
    try:
        data = charts.asset_charts(get_telemetry(), obj.mqtt_id, start, end)
    except TelemetryError as exc:
        logger.warning("telemetry read failed for asset %s: %s", obj.id, exc)
        raise BadRequest("The sensor store is not answering; try again shortly.", 503) from None
    if can(current_user, "see_sensor_warnings") or (
        can(current_user, "hear_of_sensor_warnings")
        and watch.customer_sentences(db_session(), [obj.id], utcnow())
    ):
        overlay = watch.chart_overlays(db_session(), obj.id, start, end)
        for serie in data["series"]:
            serie.update(overlay.get(serie["field"], {}))
    return reply(s.Telemetry.model_validate({"asset_id": obj.id, **data}))


@bp.get("/feedback")
@login_required
@documented("Feedback the account may read", s.FeedbackList)
def feedback_list() -> ResponseReturnValue:
    """Vendor staff read all, facility managers and HOA presidents their sites', everyone
    their own; at most 200, newest activity first."""
    stmt = feedback_service.visible(current_user, current_scope())
    items = db_session().scalars(stmt.order_by(Feedback.last_activity_at.desc()).limit(200))
    return reply(s.FeedbackList(items=[ser.feedback(f) for f in items]))


@bp.get("/feedback/<int:feedback_id>")
@login_required
@documented("One feedback item with its thread", s.FeedbackDetail, errors=(404,))
def feedback_item(feedback_id: int) -> ResponseReturnValue:
    """One feedback item the account may read, with its replies."""
    try:
        obj = feedback_service.get_visible(db_session(), current_user, current_scope(), feedback_id)
    except Refused:
        raise NotVisible from None
    return reply(ser.feedback_detail(obj))


@bp.get("/notifications")
@login_required
@documented("The account's notifications", s.NotificationList, query=s.NotificationsQuery)
def notification_list() -> ResponseReturnValue:
    """The notification centre, newest first (at most 100), and how many are unread."""
    params = query(s.NotificationsQuery)
    session = db_session()
    items: list[Notification] = notifications.centre(session, current_user)
    if params.unread:
        items = [n for n in items if n.read_at is None]
    return reply(
        s.NotificationList(
            items=[ser.notification(n) for n in items],
            unread=notifications.unread_count(session, current_user),
        )
    )


# --- exports ---------------------------------------------------------------------------------
def _period(params: s.PeriodQuery) -> tuple[datetime, datetime]:
    end = params.end or utcnow()
    start = params.start or end - timedelta(days=30)
    if not start < end or end - start > timedelta(days=EXPORT_MAX_DAYS):
        raise BadRequest(
            f"start must come before end, at most {EXPORT_MAX_DAYS} days apart",
            422,
            {"start": ["must come before end"], "end": [f"at most {EXPORT_MAX_DAYS} days after start"]},
        )
    return start, end


def _site(params: s.PeriodQuery) -> int | None:
    if params.site is not None:
        current_scope().get_site(db_session(), params.site)  # 404 out of scope
    return params.site


def _cursor(decode: Callable[[str | None], Any], params: s.PageQuery) -> Any:
    try:
        return decode(params.cursor)
    except ValueError as exc:
        raise BadRequest(str(exc), 422, {"cursor": [str(exc)]}) from None


def _wants_csv(params: s.PageQuery) -> bool:
    if params.format is not None:
        return params.format == "csv"
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"], default="application/json")
    return best == "text/csv"


def _page(
    kind: str,
    params: s.PageQuery,
    rows: list[Any],
    next_cursor: str | None,
    page: type[BaseModel],
    **extra: Any,
) -> ResponseReturnValue:
    """A page as CSV (``Link: rel="next"``) or JSON (``next_cursor``)."""
    if _wants_csv(params):
        columns = exports.COLUMNS[kind]
        lines = [row.model_dump(mode="json") for row in rows]
        resp = csv_response(
            [columns, *([line[c] for c in columns] for line in lines)], f"{kind}.csv", bom=True
        )
        if next_cursor:
            args: dict[str, Any] = {**request.args.to_dict(), "cursor": next_cursor, "format": "csv"}
            resp.headers["Link"] = f'<{url_for(f"api.{kind}", **args)}>; rel="next"'
        return resp
    return reply(page(items=rows, next_cursor=next_cursor, **extra))


@bp.get("/outages")
@login_required
@documented(
    "Outages of a period", s.OutagePage, query=s.PeriodQuery, errors=(404, 422), csv=True, tag="export"
)
def outages() -> ResponseReturnValue:
    """Outages in scope overlapping ``[start, end)``, oldest first, a page at a time:
    pass ``next_cursor`` (JSON) or follow the ``Link: rel="next"`` header (CSV)."""
    params = query(s.PeriodQuery)
    start, end = _period(params)
    after = _cursor(exports.decode_cursor, params)
    rows, next_cursor = exports.outages(
        db_session(), current_scope(), start, end, params.limit, after, _site(params)
    )
    return _page("outages", params, rows, next_cursor, s.OutagePage, start=start, end=end)


@bp.get("/visits")
@login_required
@documented("Visits of a period", s.VisitPage, query=s.PeriodQuery, errors=(404, 422), csv=True, tag="export")
def visits() -> ResponseReturnValue:
    """Visits in scope scheduled to start in ``[start, end)``, paged like outages; the
    reports only for accounts that may read them."""
    params = query(s.PeriodQuery)
    start, end = _period(params)
    after = _cursor(exports.decode_cursor, params)
    rows, next_cursor = exports.visits(
        db_session(),
        current_scope(),
        start,
        end,
        params.limit,
        after,
        _site(params),
        with_reports=can(current_user, "read_visit_reports"),
    )
    return _page("visits", params, rows, next_cursor, s.VisitPage, start=start, end=end)


@bp.get("/portfolio")
@login_required
@documented(
    "The portfolio now, one row per unit", s.PortfolioPage, query=s.PeriodQuery, errors=(404, 422), csv=True,
    tag="export",
)  # fmt: skip
def portfolio() -> ResponseReturnValue:
    """Every unit in scope as the portfolio page shows it now, by id, a page at a time
    (``start`` and ``end`` are not used)."""
    params = query(s.PeriodQuery)
    after = _cursor(exports.decode_id_cursor, params)
    rows, next_cursor = exports.portfolio(
        db_session(), current_scope(), utcnow(), params.limit, after, _site(params)
    )
    return _page("portfolio", params, rows, next_cursor, s.PortfolioPage)


@bp.get("/hit-rate")
@login_required
@documented(
    "The sensors' published hit rate", s.HitRateReply, query=s.HitRateQuery, errors=(403, 422), tag="export"
)
def hit_rate() -> ResponseReturnValue:
    """How often the sensors warned before a failure over the last 90 or 365 days, for the
    whole scope and per customer: share of unplanned outages a warning announced, median lead
    time, share of warnings confirmed, warnings per 100 units a month. Like the KPI page."""
    if not can(current_user, "see_kpis"):
        raise BadRequest("The hit rate is for vendor staff and facility managers.", 403)
    days = int(query(s.HitRateQuery).days)
    now = utcnow()
    overall, customers = watch.hit_rates(db_session(), current_scope(), now, days)
    return reply(
        s.HitRateReply(
            days=days, start=now - timedelta(days=days), end=now,
            overall=ser.hit_rate(None, None, overall),
            customers=[ser.hit_rate(cid, name, rate) for cid, name, rate in customers],
        )
    )  # fmt: skip


@bp.get("/kpis")
@login_required
@documented(
    "Service KPIs of a period", s.KpiPage, query=s.KpiQuery, errors=(403, 404, 422), csv=True, tag="export"
)
def kpis() -> ResponseReturnValue:
    """Availability, MTBF, MTTR, callbacks, response time, visits on time and feedback
    resolution over ``[start, end)``, per unit, site or customer (``level``), by id, a page at
    a time. For vendor staff and facility managers, like the KPI page."""
    if not can(current_user, "see_kpis"):
        raise BadRequest("Service KPIs are for vendor staff and facility managers.", 403)
    params = query(s.KpiQuery)
    start, end = _period(params)
    after = _cursor(exports.decode_id_cursor, params)
    rows, next_cursor = exports.kpis(
        db_session(), current_scope(), start, end, params.level, params.limit, after, _site(params)
    )
    return _page("kpis", params, rows, next_cursor, s.KpiPage, start=start, end=end)


# --- public ------------------------------------------------------------------------------------
@bp.get("/resident/<token>")
@documented("The resident view of one unit", s.ResidentAsset, errors=(404,), public=True)
def resident(token: str) -> ResponseReturnValue:
    """What the cabin's QR link shows, without identifiers; the link's token is the credential."""
    session = db_session()
    obj = resident_asset(session, token)
    (row,) = service.summarise(session, [obj], utcnow())
    return reply(ser.resident_asset(row))


@bp.get("/openapi.json")
@documented("This document", s.OpenApiDocument, public=True)
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3.1 description of this API, generated from its models."""
    return reply(s.OpenApiDocument(cached_spec(current_app)))
