"""Surveys (the question card on every page, the resident's card), the satisfaction
dashboard, its CSV exports, and the follow-up tasks of the closed loop."""

from __future__ import annotations

import csv
import io
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as cookie_session
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_required

from fleet.db import parse_id, utcnow
from fleet.models import (
    Asset,
    AssetKind,
    Audience,
    Feedback,
    FollowUpStatus,
    Moment,
    SurveyKind,
)
from portal.access import NotVisible, can, check, resident_asset
from portal.auth.scope import current_scope
from portal.extensions import db_session
from portal.feedback.service import hash_ip
from portal.refusal import Refused
from portal.satisfaction import dashboard, follow_ups, surveys
from portal.satisfaction.charts import bars, line_chart

logger = logging.getLogger(__name__)
bp = Blueprint("satisfaction", __name__)
BROWSER_COOKIE = "survey_browser"
DISMISSED_COOKIE = "survey_dismissed"
QUIET_KEY = "survey_quiet_until"
QUIET_S = 300  # after finding nothing to ask, look again in five minutes
SCALE = {SurveyKind.CSAT: range(1, 6), SurveyKind.CES: range(1, 8), SurveyKind.NPS: range(0, 11)}
QUESTIONS = {
    Moment.OUTAGE_CLOSED: lazy_gettext("How easy was it to get this outage resolved?"),
    Moment.VISIT_COMPLETED: lazy_gettext("How satisfied are you with this maintenance visit?"),
    Moment.FEEDBACK_RESOLVED: lazy_gettext("How satisfied are you with how your feedback was handled?"),
    Moment.PERIODIC: lazy_gettext("How likely are you to recommend our service to a colleague or a peer?"),
}
ENDS = {
    SurveyKind.CSAT: (lazy_gettext("Very dissatisfied"), lazy_gettext("Very satisfied")),
    SurveyKind.CES: (lazy_gettext("Very difficult"), lazy_gettext("Very easy")),
    SurveyKind.NPS: (lazy_gettext("Not at all likely"), lazy_gettext("Extremely likely")),
}


def rules() -> surveys.Rules:
    """The survey trigger rules from the settings."""
    s = current_app.config["SETTINGS"]
    return surveys.Rules(
        window=timedelta(days=s.survey_window_days),
        daily_gap=timedelta(hours=s.survey_daily_gap_hours),
        nps_gap=timedelta(days=s.survey_nps_gap_days),
    )


@dataclass(frozen=True)
class Question:
    """What the question card shows (detached from any session)."""

    id: int | None
    kind: str
    moment: str
    text: str
    about: str
    scale: list[int]
    low: str
    high: str
    moment_key: str = ""


def _question(prompt_id: int | None, kind: SurveyKind, moment: Moment, about: str, key: str = "") -> Question:
    low, high = ENDS[kind]
    return Question(
        prompt_id,
        kind.value,
        moment.value,
        str(QUESTIONS[moment]),
        about,
        list(SCALE[kind]),
        str(low),
        str(high),
        key,
    )


def _about(site_name: str | None, asset_name: str | None, at: datetime | None) -> str:
    where = " — ".join(x for x in (site_name, asset_name) if x)
    return f"{where} ({at:%Y-%m-%d})" if where and at else where


@bp.app_template_global()
def survey_prompt() -> Question | None:
    """The question to show the current user on this page, if any (created here when due).

    One query while a question waits (the usual case); a new prompt is committed at once
    (GET pages have nothing else pending by the time they render)."""
    if not current_user.is_authenticated or request.method != "GET" or request.blueprint == "satisfaction":
        return None
    if not can(current_user, "be_surveyed"):
        return None  # vendor staff are never asked
    if "survey_prompt" in g:
        return g.survey_prompt  # type: ignore[no-any-return]
    if cookie_session.get(QUIET_KEY, 0) > time.time():  # nothing to ask a moment ago: spare the queries
        return None
    question = None
    session, now = db_session(), utcnow()
    try:
        prompt = surveys.next_prompt(session, current_user, current_scope(), now, rules())
        if session.dirty or (prompt is not None and prompt.created_at == now):
            session.commit()  # a new prompt (flushed by next_prompt), or an expired one closed
        if prompt is not None:
            about = _about(
                prompt.site.name if prompt.site else None,
                prompt.asset.name if prompt.asset else None,
                prompt.moment_at if prompt.moment is not Moment.PERIODIC else None,
            )
            question = _question(prompt.id, prompt.kind, prompt.moment, about)
    except Exception:  # a survey must never break a page
        session.rollback()
        logger.exception("could not choose a survey question for user %s", current_user.id)
    g.survey_prompt = question
    if question is None:
        cookie_session[QUIET_KEY] = time.time() + QUIET_S
    return question


def _safe_next(default: str) -> str:
    target = request.form.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else default


# --- answering (accounts) --------------------------------------------------------------------
@bp.route("/surveys/<int:prompt_id>", methods=["GET", "POST"])
@login_required
def answer(prompt_id: int) -> ResponseReturnValue:
    """The question on a page of its own; POST records the answer (once)."""
    session = db_session()
    now = utcnow()
    error, code = None, 200
    try:
        prompt = surveys.get_prompt(session, current_user, prompt_id)
    except Refused as exc:
        return render_template("error.html", status=exc.status, message=str(exc.message)), exc.status
    if request.method == "POST":
        try:
            parsed = surveys.parse_answer(request.form, prompt.kind)
            response = surveys.answer_prompt(session, prompt, current_user, parsed, now, rules())
        except Refused as exc:
            session.rollback()
            prompt = surveys.get_prompt(session, current_user, prompt_id)
            error, code = str(exc.message), exc.status
        else:
            session.commit()
            logger.info("survey answer %s from user %s", response.id, current_user.id)
            flash(gettext("Thank you for your answer."), "success")
            return redirect(_safe_next(url_for("assets.home")))
    about = _about(
        prompt.site.name if prompt.site else None,
        prompt.asset.name if prompt.asset else None,
        prompt.moment_at,
    )
    question = _question(prompt.id, prompt.kind, prompt.moment, about)
    html = render_template(
        "satisfaction/answer.html", q=question, state=prompt.state.value, error=error, form=request.form
    )
    return html, code


@bp.post("/surveys/<int:prompt_id>/dismiss")
@login_required
def dismiss(prompt_id: int) -> ResponseReturnValue:
    """Not now: the question goes away and is not asked again."""
    session = db_session()
    try:
        prompt = surveys.get_prompt(session, current_user, prompt_id)
        surveys.dismiss_prompt(session, prompt, utcnow(), rules())
    except Refused as exc:
        session.rollback()
        return render_template("error.html", status=exc.status, message=str(exc.message)), exc.status
    session.commit()
    return redirect(_safe_next(url_for("assets.home")))


# --- residents ----------------------------------------------------------------------------------
def resident_question(asset: Asset) -> Question | None:
    """The CES question for the resident page: the asset's outage closed in the last days,
    unless this browser answered or dismissed it."""
    session = db_session()
    outage = surveys.resident_moment(session, asset, utcnow(), rules())
    if outage is None:
        return None
    key = f"outage:{outage.id}"
    if key in request.cookies.get(DISMISSED_COOKIE, "").split(","):
        return None
    browser = request.cookies.get(BROWSER_COOKIE)
    secret = current_app.config["SETTINGS"].secret_key
    if browser and surveys.has_answered(session, surveys.respondent_key(browser, secret), key):
        return None
    return _question(None, SurveyKind.CES, Moment.OUTAGE_CLOSED, asset.name, key)


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
    resp = redirect(_safe_next(url_for("resident.asset", token=token)))
    _remember(resp, DISMISSED_COOKIE, ",".join([*done, key]))
    return resp


def reader_question(item: Feedback) -> Question | None:
    """CSAT for a resident reading their own resolved feedback, unless already answered."""
    key = f"feedback:{item.id}"
    if key in request.cookies.get(DISMISSED_COOKIE, "").split(","):
        return None
    if not surveys.reader_question_due(db_session(), item, utcnow(), rules()):
        return None
    about = item.asset.name if item.asset else item.site.name
    return _question(None, SurveyKind.CSAT, Moment.FEEDBACK_RESOLVED, about, key)


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
