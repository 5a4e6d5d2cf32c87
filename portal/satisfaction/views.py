"""Surveys (the question card on every page, the resident's card), the satisfaction
dashboard, its CSV exports, and the follow-up tasks of the closed loop."""

from __future__ import annotations

import csv
import io
import logging
import secrets
from datetime import timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_required

from fleet.db import parse_id, utcnow
from fleet.models import (
    AssetKind,
    Audience,
    FollowUpStatus,
    SurveyKind,
)
from portal.access import NotVisible, check, get_survey_prompt, resident_asset
from portal.auth.scope import current_scope
from portal.extensions import db_session
from portal.feedback.service import hash_ip
from portal.refusal import Refused
from portal.satisfaction import dashboard, follow_ups, surveys
from portal.satisfaction.charts import bars, line_chart
from portal.satisfaction.questions import BROWSER_COOKIE, DISMISSED_COOKIE, about, question, rules
from portal.web.redirects import safe_next

logger = logging.getLogger(__name__)
bp = Blueprint("satisfaction", __name__)


# --- answering (accounts) --------------------------------------------------------------------
@bp.route("/surveys/<int:prompt_id>", methods=["GET", "POST"])
@login_required
def answer(prompt_id: int) -> ResponseReturnValue:
    """The question on a page of its own; POST records the answer (once)."""
    session = db_session()
    now = utcnow()
    error, code = None, 200
    prompt = get_survey_prompt(session, current_user, prompt_id)  # someone else's is not found
    if request.method == "POST":
        try:
            parsed = surveys.parse_answer(request.form, prompt.kind)
            response = surveys.answer_prompt(session, prompt, current_user, parsed, now, rules())
        except Refused as exc:
            session.rollback()
            prompt = get_survey_prompt(session, current_user, prompt_id)
            error, code = str(exc.message), exc.status
        else:
            session.commit()
            logger.info("survey answer %s from user %s", response.id, current_user.id)
            flash(gettext("Thank you for your answer."), "success")
            return redirect(safe_next(request.form.get("next"), url_for("assets.home")))
    where = about(
        prompt.site.name if prompt.site else None,
        prompt.asset.name if prompt.asset else None,
        prompt.moment_at,
    )
    card = question(prompt.id, prompt.kind, prompt.moment, where)
    html = render_template(
        "satisfaction/answer.html", q=card, state=prompt.state.value, error=error, form=request.form
    )
    return html, code


@bp.post("/surveys/<int:prompt_id>/dismiss")
@login_required
def dismiss(prompt_id: int) -> ResponseReturnValue:
    """Not now: the question goes away and is not asked again."""
    session = db_session()
    prompt = get_survey_prompt(session, current_user, prompt_id)
    surveys.dismiss_prompt(session, prompt, utcnow(), rules())  # a refusal is answered by the app
    session.commit()
    return redirect(safe_next(request.form.get("next"), url_for("assets.home")))


# --- residents ----------------------------------------------------------------------------------
def _browser_id() -> tuple[str, bool]:
    raw = request.cookies.get(BROWSER_COOKIE, "")
    if 16 <= len(raw) <= 64 and raw.replace("-", "").replace("_", "").isalnum():
        return raw, False
    return secrets.token_urlsafe(18), True


def _remember(resp: Response, name: str, value: str) -> None:
    resp.set_cookie(
        name,
        value,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="Lax",
        secure=current_app.config["SETTINGS"].is_production,
    )


@bp.post("/r/<token>/survey")
def resident_answer(token: str) -> ResponseReturnValue:
    """A resident's answer about the asset's recently closed outage (once per browser)."""
    session = db_session()
    asset = resident_asset(session, token)
    settings = current_app.config["SETTINGS"]
    browser, new = _browser_id()
    back = url_for("resident.asset", token=token)
    try:
        parsed = surveys.parse_answer(request.form, SurveyKind.CES)
        surveys.answer_as_resident(
            session,
            asset,
            moment_key=request.form.get("moment_key", "")[:64],
            respondent=surveys.respondent_key(browser, settings.secret_key),
            ip_hash=hash_ip(request.remote_addr, settings.secret_key),
            answer=parsed,
            now=utcnow(),
            rules=rules(),
        )
    except Refused as exc:
        session.rollback()
        return render_template(
            "error.html", status=exc.status, message=str(exc.message), back=back
        ), exc.status
    session.commit()
    flash(gettext("Thank you for your answer."), "success")
    resp = redirect(back)
    if new:
        _remember(resp, BROWSER_COOKIE, browser)
    return resp


@bp.post("/r/<token>/survey/dismiss")
def resident_dismiss(token: str) -> ResponseReturnValue:
    """A resident dismisses the question (remembered in their browser)."""
    resident_asset(db_session(), token)
    key = request.form.get("moment_key", "")
    kind, _, number = key.partition(":")
    if kind not in ("outage", "feedback") or not number.isdigit() or len(number) > 12:
        abort(400, gettext("This question is not about a recent event on this equipment."))
    done = [k for k in request.cookies.get(DISMISSED_COOKIE, "").split(",") if k][-19:]
    resp = redirect(safe_next(request.form.get("next"), url_for("resident.asset", token=token)))
    _remember(resp, DISMISSED_COOKIE, ",".join([*done, key]))
    return resp


@bp.post("/r/<token>/feedback/<reader>/survey")
def reader_answer(token: str, reader: str) -> ResponseReturnValue:
    """A resident's CSAT about their resolved feedback, through their private link."""
    from portal.feedback.service import for_reader

    session = db_session()
    asset = resident_asset(session, token)
    try:
        item = for_reader(session, asset, reader)
    except Refused:
        raise NotVisible from None
    back = url_for("feedback.resident_item", token=token, reader=reader)
    try:
        parsed = surveys.parse_answer(request.form, SurveyKind.CSAT)
        surveys.answer_as_reader(session, item, answer=parsed, now=utcnow(), rules=rules())
    except Refused as exc:
        session.rollback()
        return render_template("error.html", status=exc.status, message=str(exc.message)), exc.status
    session.commit()
    flash(gettext("Thank you for your answer."), "success")
    return redirect(back)


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

    def series(pick):  # type: ignore[no-untyped-def]
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
    open_follow_ups = 0
    if follow_ups.is_staff(current_user):
        open_follow_ups = follow_ups.open_count(session)
    return render_template(
        "satisfaction/dashboard.html",
        board=built,
        charts=_trend_charts(built),
        band_charts=band_charts,
        customers=list(session.scalars(scope.customers())),
        sites=list(session.scalars(scope.sites())),
        kinds=[k.value for k in AssetKind],
        periods=dashboard.PERIODS,
        args=filters.query_args(),
        open_follow_ups=open_follow_ups,
        staff=follow_ups.is_staff(current_user),
    )


def _csv(rows: list[list[object]], name: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    resp = Response(out.getvalue(), mimetype="text/csv; charset=utf-8")
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return resp


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


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
    return _csv(rows, "survey-responses.csv")


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
    return _csv(rows, "satisfaction-by-group.csv")


# --- follow-ups (vendor staff) ---------------------------------------------------------------------
def _staff_only() -> None:
    check(current_user, "handle_follow_ups", lazy_gettext("Follow-ups are handled by vendor staff."))


@bp.get("/satisfaction/follow-ups")
@login_required
def follow_up_list() -> ResponseReturnValue:
    """Call-back tasks, open first."""
    _staff_only()
    raw = request.args.get("status") or ""
    status = None
    if raw:
        try:
            status = FollowUpStatus(raw)
        except ValueError:
            abort(400, gettext("Unknown status."))
    items = list(db_session().scalars(follow_ups.listing(status).limit(300)))
    return render_template(
        "satisfaction/follow_ups.html", items=items, status=raw, statuses=[s.value for s in FollowUpStatus]
    )


@bp.route("/satisfaction/follow-ups/<int:follow_up_id>", methods=["GET", "POST"])
@login_required
def follow_up(follow_up_id: int) -> ResponseReturnValue:
    """One task with its context; POST changes owner, status and outcome."""
    session = db_session()
    item = current_scope().get_follow_up(session, follow_up_id)  # vendor staff only; 404 for others
    error, code = None, 200
    if request.method == "POST":
        raw_owner = request.form.get("owner_id", "")
        try:
            owner_id = parse_id(raw_owner) if raw_owner else None
            if raw_owner and owner_id is None:
                raise Refused(gettext("The owner must be chosen from the list."))
            follow_ups.update(
                session,
                item,
                current_user,
                status=request.form.get("status"),
                owner_id=owner_id,
                outcome=request.form.get("outcome"),
                now=utcnow(),
            )
        except Refused as exc:
            session.rollback()
            item = current_scope().get_follow_up(session, follow_up_id)
            error, code = str(exc.message), exc.status
        else:
            session.commit()
            flash(gettext("Follow-up updated."), "success")
            return redirect(url_for("satisfaction.follow_up", follow_up_id=item.id))
    from portal.feedback.service import staff_members

    html = render_template(
        "satisfaction/follow_up.html",
        item=item,
        ctx=follow_ups.context(session, item),
        staff=staff_members(session),
        statuses=[s.value for s in FollowUpStatus],
        error=error,
        form=request.form,
        groups=Audience,
    )
    return html, code
