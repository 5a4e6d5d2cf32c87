"""Survey questions as the pages show them: the card's text and scale, which question a
signed-in user is due, and the residents' questions (cabin page, feedback link).

A presenter shared by the satisfaction, feedback and resident pages: no routes here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, request
from flask import session as cookie_session
from flask_babel import lazy_gettext
from flask_login import current_user

from fleet.db import utcnow
from fleet.models import Asset, Feedback, Moment, SurveyKind
from portal.access import can
from portal.auth.scope import current_scope
from portal.extensions import db_session
from portal.satisfaction import surveys

logger = logging.getLogger(__name__)
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
    ranking: bool = False  # also ask where we rank among the maintenance providers they use


def asks_ranking(moment: Moment) -> bool:
    """The periodic question asks the signed-in facility manager to rank their providers."""
    return moment is Moment.PERIODIC and can(current_user, "rank_providers")


def question(prompt_id: int | None, kind: SurveyKind, moment: Moment, about: str, key: str = "") -> Question:
    """The card for one question (with the provider ranking where :func:`asks_ranking`)."""
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
        prompt_id is not None and asks_ranking(moment),
    )


def about(site_name: str | None, asset_name: str | None, at: datetime | None) -> str:
    where = " — ".join(x for x in (site_name, asset_name) if x)
    return f"{where} ({at:%Y-%m-%d})" if where and at else where


def prepare_prompt() -> Question | None:
    """The question to show the signed-in user on the page about to be rendered, if any.

    Called before rendering (see :mod:`portal.web.header`): a newly due prompt is created
    and committed here, never while the template renders. One query while a question
    waits (the usual case); after finding nothing, the next five minutes ask nothing."""
    if not current_user.is_authenticated or request.method != "GET" or request.blueprint == "satisfaction":
        return None
    if not can(current_user, "be_surveyed"):
        return None  # vendor staff are never asked
    now = utcnow()
    if cookie_session.get(QUIET_KEY, 0) > now.timestamp():  # nothing to ask a moment ago
        return None
    found = None
    session = db_session()
    try:
        prompt = surveys.next_prompt(session, current_user, current_scope(), now, rules())
        if session.dirty or session.new or (prompt is not None and prompt.created_at == now):
            session.commit()  # a new prompt (flushed by next_prompt), or an expired one closed
        if prompt is not None:
            where = about(
                prompt.site.name if prompt.site else None,
                prompt.asset.name if prompt.asset else None,
                prompt.moment_at if prompt.moment is not Moment.PERIODIC else None,
            )
            found = question(prompt.id, prompt.kind, prompt.moment, where)
    except Exception:  # a survey must never break a page
        session.rollback()
        logger.exception("could not choose a survey question for user %s", current_user.id)
    if found is None:
        cookie_session[QUIET_KEY] = now.timestamp() + QUIET_S
    return found


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
    return question(None, SurveyKind.CES, Moment.OUTAGE_CLOSED, asset.name, key)


def reader_question(item: Feedback) -> Question | None:
    """CSAT for a resident reading their own resolved feedback, unless already answered."""
    key = f"feedback:{item.id}"
    if key in request.cookies.get(DISMISSED_COOKIE, "").split(","):
        return None
    if not surveys.reader_question_due(db_session(), item, utcnow(), rules()):
        return None
    where = item.asset.name if item.asset else item.site.name
    return question(None, SurveyKind.CSAT, Moment.FEEDBACK_RESOLVED, where, key)
