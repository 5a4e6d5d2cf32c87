"""Answering survey questions: accounts (the card on every page, or a page of its own) and
residents (the cabin page, their feedback link); "not now" for both."""

from __future__ import annotations

import logging
import secrets

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user, login_required
from werkzeug.wrappers import Response as BaseResponse

from fleet.db import utcnow
from fleet.models import (
    SurveyKind,
)
from portal.access import NotVisible, get_survey_prompt, resident_asset
from portal.extensions import db_session
from portal.feedback.service import hash_ip
from portal.refusal import Refused
from portal.satisfaction import surveys
from portal.satisfaction.blueprint import bp
from portal.satisfaction.questions import (
    BROWSER_COOKIE,
    DISMISSED_COOKIE,
    about,
    asks_ranking,
    question,
    rules,
)
from portal.web.redirects import safe_next

logger = logging.getLogger(__name__)


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
            parsed = surveys.parse_answer(request.form, prompt.kind, ranking=asks_ranking(prompt.moment))
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


def _remember(resp: BaseResponse, name: str, value: str) -> None:
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
