"""The satisfaction dashboard per stakeholder group, with what drives it, and its CSV exports."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import (
    abort,
    render_template,
    request,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_required

from fleet.db import utcnow
from fleet.models import (
    AssetKind,
)
from portal.access import check
from portal.auth.scope import current_scope
from portal.extensions import db_session
from portal.health import equation_store
from portal.health.equations import MIN_ANSWERS, Equation
from portal.satisfaction import dashboard, follow_ups
from portal.satisfaction.blueprint import bp
from portal.satisfaction.charts import bars, line_chart
from portal.web.spreadsheet import csv_response

logger = logging.getLogger(__name__)


# --- the dashboard --------------------------------------------------------------------------------
def _dashboard_or_403() -> dashboard.Filters:
    check(current_user, "see_satisfaction",
          lazy_gettext("The satisfaction dashboard is for vendor staff and facility managers."))  # fmt: skip
    try:
        filters = dashboard.Filters.parse(request.args)
    except dashboard.BadFilter as exc:
        abort(400, gettext("Unusable filter: %(name)s.", name=str(exc)))
    session, scope = db_session(), current_scope()
    if filters.customer_id:
        scope.get_customer(session, filters.customer_id)  # 404 outside the scope
    if filters.site_id:
        site = scope.get_site(session, filters.site_id)
        if filters.customer_id and site.customer_id != filters.customer_id:
            abort(400, gettext("This site does not belong to the chosen customer."))
    return filters


def _trend_charts(board: dashboard.Dashboard) -> list[tuple[str, object, str]]:
    labels = [m.strftime("%Y-%m") for m in board.months]

    def series(pick):
        from portal.web.filters import audience_label

        return [
            (t.group.value, audience_label(t.group.value), [pick(s) for s in t.scores])
            for t in board.trends
            if any(pick(s)[0] is not None for s in t.scores)
        ]

    csat = series(lambda s: (s.csat.value, s.csat.small_sample))
    ces = series(lambda s: (s.ces_mean.value, s.ces_mean.small_sample))
    nps = series(lambda s: (s.nps.value, s.nps.small_sample))
    return [
        (gettext("CSAT (share satisfied)"), line_chart(labels, csat, 0, 100, [0, 25, 50, 75, 100]), "pct"),
        (gettext("CES (mean, 1–7)"), line_chart(labels, ces, 1, 7, [1, 3, 5, 7]), "mean"),
        (gettext("NPS (−100 to +100)"), line_chart(labels, nps, -100, 100, [-100, -50, 0, 50, 100]), "nps"),
    ]


@bp.get("/satisfaction")
@login_required
def board() -> ResponseReturnValue:
    """Scores per stakeholder group, trends, and what drives them (staff: all; FM: own portfolio)."""
    filters = _dashboard_or_403()
    session, scope = db_session(), current_scope()
    built = dashboard.build(session, scope, filters, utcnow())
    band_charts = {
        d.group.value: bars(
            [(b.label, b.csat.value, str(b.csat.responses), b.csat.small_sample) for b in d.bands],
            100,
            width=150,
        )
        for d in built.drivers
    }
    equations: dict[str, list[Equation]] = {}
    for equation in equation_store.stored(session):  # fitted by the worker on every customer's answers
        equations.setdefault(equation.group, []).append(equation)
    open_follow_ups = 0
    if follow_ups.is_staff(current_user):
        open_follow_ups = follow_ups.open_count(session)
    return render_template(
        "satisfaction/dashboard.html",
        board=built,
        charts=_trend_charts(built),
        band_charts=band_charts,
        equations=equations,
        minimum_answers=MIN_ANSWERS,
        customers=list(session.scalars(scope.customers())),
        sites=list(session.scalars(scope.sites())),
        kinds=[k.value for k in AssetKind],
        periods=dashboard.PERIODS,
        args=filters.query_args(),
        open_follow_ups=open_follow_ups,
        staff=follow_ups.is_staff(current_user),
    )


@bp.get("/satisfaction/responses.csv")
@login_required
def responses_csv() -> ResponseReturnValue:
    """Every response in scope and filters (no respondent identities)."""
    filters = _dashboard_or_403()
    start, end, _ = dashboard.period(filters.months, utcnow())
    rows: list[list[object]] = [
        [
            "answered_at_utc",
            "group",
            "customer",
            "site",
            "asset",
            "asset_kind",
            "moment",
            "question",
            "score",
            "comment",
        ]
    ]
    for resp, customer, site, asset, kind in db_session().execute(
        dashboard.responses_query(current_scope(), filters, start, end)
    ):
        rows.append([
            resp.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"), resp.group.value, customer, site, asset,
            kind.value if kind else None, resp.moment.value, resp.kind.value, resp.score, resp.comment,
        ])  # fmt: skip
    return csv_response(rows, "survey-responses.csv")


@bp.get("/satisfaction/groups.csv")
@login_required
def groups_csv() -> ResponseReturnValue:
    """The per-group table: scores with counts and flags, and the levers beside them."""
    filters = _dashboard_or_403()
    built = dashboard.build(db_session(), current_scope(), filters, utcnow())
    rows: list[list[object]] = [[
        "group", "csat_pct_satisfied", "csat_n", "ces_mean", "ces_pct_easy", "ces_n", "nps", "nps_n",
        "small_sample", "availability_pct", "outages", "mttr_hours", "visits_on_time_pct",
        "feedback_resolved", "feedback_median_resolution_hours",
    ]]  # fmt: skip
    for scores, drivers in zip(built.groups, built.drivers, strict=True):
        lv = drivers.levers
        small = [
            k
            for k, s in (("csat", scores.csat), ("ces", scores.ces_mean), ("nps", scores.nps))
            if s.responses and s.small_sample
        ]
        rows.append([
            scores.group.value, scores.csat.value, scores.csat.responses, scores.ces_mean.value,
            scores.ces_easy.value, scores.ces_mean.responses, scores.nps.value, scores.nps.responses,
            " ".join(small), lv.availability, lv.outages,
            lv.mttr / timedelta(hours=1) if lv.mttr else None, lv.visits_on_time, lv.feedback_resolved,
            lv.feedback_median_resolution / timedelta(hours=1) if lv.feedback_median_resolution else None,
        ])  # fmt: skip
    return csv_response(rows, "satisfaction-by-group.csv")
