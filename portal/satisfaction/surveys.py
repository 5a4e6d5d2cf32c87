"""When to ask, and recording answers: surveys triggered by real moments.

Moments and the question each one asks:

- an outage on one of the user's assets is closed → **CES** ("how easy was it to get this
  resolved?"), to facility managers and HOA presidents of the asset's site, and to
  residents on the asset's page;
- a maintenance visit on one of the user's assets is completed → **CSAT**, to facility
  managers and HOA presidents;
- the user's own feedback item is resolved → **CSAT**, to its author (any account);
- periodically → **NPS**, at most once every 90 days per account.

Rules (:class:`Rules`): a moment is only asked about within ``window`` after it happened
(the question must come *right after*); at most one new prompt per user per
``daily_gap``; never twice for the same moment (a unique key per user and moment); a
prompt can be dismissed; vendor staff are never asked. Prompts are created when the user
next opens a page, from the records themselves, so the ingester and every other writer
need no survey hook.

A detractor (NPS ≤ 6) or a CSAT ≤ 2 opens a :class:`~fleet.models.FollowUp` for
vendor staff (the closed loop).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from fleet.models import (
    Asset,
    Audience,
    Feedback,
    FeedbackStatus,
    FollowUp,
    Moment,
    Outage,
    PromptState,
    Site,
    SurveyKind,
    SurveyPrompt,
    SurveyResponse,
    User,
    Visit,
    VisitStatus,
)
from portal.access import Scope, can
from portal.refusal import Refused
from portal.satisfaction.forms import AnswerForm
from portal.satisfaction.scores import CES_RANGE, CSAT_RANGE, NPS_RANGE

logger = logging.getLogger(__name__)

QUESTION = {
    Moment.OUTAGE_CLOSED: SurveyKind.CES,
    Moment.VISIT_COMPLETED: SurveyKind.CSAT,
    Moment.FEEDBACK_RESOLVED: SurveyKind.CSAT,
    Moment.PERIODIC: SurveyKind.NPS,
}
RANGES = {SurveyKind.CSAT: CSAT_RANGE, SurveyKind.CES: CES_RANGE, SurveyKind.NPS: NPS_RANGE}
RESIDENT_ANSWERS_PER_IP = 3  # per moment: a household may share an address, a robot may not
DETRACTOR_MAX = 6
LOW_CSAT_MAX = 2


@dataclass(frozen=True)
class Rules:
    """The trigger rules (settings ``SURVEY_*``)."""

    window: timedelta = timedelta(days=7)
    daily_gap: timedelta = timedelta(hours=24)
    nps_gap: timedelta = timedelta(days=90)


@dataclass(frozen=True)
class Answer:
    """A validated answer: the score and an optional comment; on a facility manager's
    periodic question, optionally how many maintenance providers they use and where we rank."""

    score: int
    comment: str | None
    providers: int | None = None
    provider_rank: int | None = None


# --- when to ask -------------------------------------------------------------------------
def next_prompt(
    session: Session, user: User, scope: Scope, now: datetime, rules: Rules
) -> SurveyPrompt | None:
    """The question to show ``user`` now: the pending one, a new one, or None.

    Creates at most one prompt (and flushes it); the caller commits."""
    if not can(user, "be_surveyed"):
        return None
    latest = session.scalar(
        select(SurveyPrompt)
        .options(joinedload(SurveyPrompt.site), joinedload(SurveyPrompt.asset))
        .where(SurveyPrompt.user_id == user.id)
        .order_by(SurveyPrompt.created_at.desc())
        .limit(1)
    )
    if latest is not None and latest.state is PromptState.PENDING:
        if now - latest.moment_at <= rules.window or latest.moment is Moment.PERIODIC:
            return latest
        latest.state, latest.closed_at = PromptState.EXPIRED, now
    if latest is not None and now - latest.created_at < rules.daily_gap:
        return None
    candidate = _candidate(session, user, scope, now, rules)
    if candidate is None:
        return None
    try:
        with session.begin_nested():
            session.add(candidate)
    except IntegrityError:  # another request of the same user created it a moment ago
        logger.info("survey prompt %s for user %s already exists", candidate.moment_key, user.id)
        return None
    return candidate


def _asked_keys(session: Session, user: User, since: datetime) -> set[str]:
    rows = session.scalars(
        select(SurveyPrompt.moment_key).where(
            SurveyPrompt.user_id == user.id, SurveyPrompt.moment_at >= since
        )
    )
    return set(rows)


def _candidate(
    session: Session, user: User, scope: Scope, now: datetime, rules: Rules
) -> SurveyPrompt | None:
    """The most relevant moment not yet asked about: own feedback, outages, visits, NPS."""
    since = now - rules.window
    asked = _asked_keys(session, user, since)

    def fresh(moment: Moment, key: str, at: datetime, site: Site, asset: Asset | None) -> SurveyPrompt | None:
        if key in asked:
            return None
        return SurveyPrompt(
            user_id=user.id,
            kind=QUESTION[moment],
            moment=moment,
            moment_key=key,
            moment_at=at,
            customer_id=site.customer_id,
            site_id=site.id,
            asset_id=asset.id if asset else None,
            created_at=now,
        )

    resolved = session.scalars(
        select(Feedback)
        .where(
            Feedback.author_id == user.id,
            Feedback.status == FeedbackStatus.RESOLVED,
            Feedback.resolved_at >= since,
            Feedback.resolved_at <= now,
        )
        .order_by(Feedback.resolved_at.desc())
        .limit(20)
    )
    for item in resolved:
        at = item.resolved_at or now  # never None here: the query filters on it
        found = fresh(Moment.FEEDBACK_RESOLVED, f"feedback:{item.id}", at, item.site, item.asset)
        if found:
            return found
    if can(user, "be_asked_about_assets"):
        outages = session.scalars(
            select(Outage)
            .join(Asset, Outage.asset_id == Asset.id)
            .where(scope.asset_filter(), Outage.ended_at >= since, Outage.ended_at <= now)
            .order_by(Outage.ended_at.desc())
            .limit(20)
        )
        for outage in outages:
            key, at = f"outage:{outage.id}", outage.ended_at or now
            if found := fresh(Moment.OUTAGE_CLOSED, key, at, outage.asset.site, outage.asset):
                return found
        visits = session.scalars(
            select(Visit)
            .join(Asset, Visit.asset_id == Asset.id)
            .where(
                scope.asset_filter(),
                Visit.status == VisitStatus.COMPLETED,
                Visit.checked_out_at >= since,
                Visit.checked_out_at <= now,
            )
            .order_by(Visit.checked_out_at.desc())
            .limit(20)
        )
        for visit in visits:
            key, at = f"visit:{visit.id}", visit.checked_out_at or now
            if found := fresh(Moment.VISIT_COMPLETED, key, at, visit.asset.site, visit.asset):
                return found
    return _nps_candidate(session, user, scope, now, rules)


def _nps_candidate(
    session: Session, user: User, scope: Scope, now: datetime, rules: Rules
) -> SurveyPrompt | None:
    last_nps = session.scalar(
        select(func.max(SurveyPrompt.created_at)).where(
            SurveyPrompt.user_id == user.id, SurveyPrompt.moment == Moment.PERIODIC
        )
    )
    if last_nps is not None and now - last_nps < rules.nps_gap:
        return None
    sites = list(session.scalars(scope.sites().limit(2)))
    if not sites:
        return None
    one_site = sites[0] if len(sites) == 1 and user.sites else None
    return SurveyPrompt(
        user_id=user.id,
        kind=SurveyKind.NPS,
        moment=Moment.PERIODIC,
        moment_key=f"nps:{now:%Y-%m-%d}",
        moment_at=now,
        customer_id=user.customer_id or sites[0].customer_id,
        site_id=one_site.id if one_site else None,
        asset_id=None,
        created_at=now,
    )


# --- answering -----------------------------------------------------------------------------
def parse_answer(form: Mapping[str, str], kind: SurveyKind, *, ranking: bool = False) -> Answer:
    """Validate a score for ``kind`` and an optional comment (and, when the question asked for
    it, the optional provider ranking); :class:`Refused` names every problem."""
    low, high = RANGES[kind]
    checked = AnswerForm(form, low=low, high=high, ranking=ranking)
    if not checked.validate():
        raise Refused.from_form(checked.errors)
    if not ranking:
        return Answer(checked.score.data, checked.comment.data)
    return Answer(
        checked.score.data, checked.comment.data, checked.providers.data, checked.provider_rank.data
    )


def _check_open(prompt: SurveyPrompt, now: datetime, rules: Rules) -> None:
    if prompt.state is PromptState.ANSWERED:
        raise Refused(lazy_gettext("You have already answered this question. Thank you!"), 409)
    if prompt.state is PromptState.DISMISSED:
        raise Refused(lazy_gettext("You dismissed this question; it will not be asked again."), 409)
    too_old = prompt.moment is not Moment.PERIODIC and now - prompt.moment_at > rules.window
    if prompt.state is PromptState.EXPIRED or too_old:
        raise Refused(lazy_gettext("This question has expired."), 410)


def answer_prompt(
    session: Session, prompt: SurveyPrompt, user: User, answer: Answer, now: datetime, rules: Rules
) -> SurveyResponse:
    """Record the user's answer to their prompt (once) and open a follow-up when it is low.
    A provider ranking is kept only on a periodic question (where it was asked)."""
    _check_open(prompt, now, rules)
    ranked = prompt.moment is Moment.PERIODIC and answer.providers is not None
    if prompt.customer_id is None:
        raise Refused(lazy_gettext("This question is not about a customer any more."), 410)
    response = SurveyResponse(
        prompt_id=prompt.id,
        kind=prompt.kind,
        score=answer.score,
        comment=answer.comment,
        group=Audience(user.group.value),
        respondent_key=f"user:{user.id}",
        user_id=user.id,
        customer_id=prompt.customer_id,
        site_id=prompt.site_id,
        asset_id=prompt.asset_id,
        moment=prompt.moment,
        moment_key=prompt.moment_key,
        moment_at=prompt.moment_at,
        created_at=now,
        providers=answer.providers if ranked else None,
        provider_rank=answer.provider_rank if ranked else None,
    )
    prompt.state, prompt.closed_at = PromptState.ANSWERED, now
    _store(session, response)
    return response


def dismiss_prompt(session: Session, prompt: SurveyPrompt, now: datetime, rules: Rules) -> None:
    """Dismiss the prompt: it is not shown again, and the daily cap still counts it."""
    _check_open(prompt, now, rules)
    prompt.state, prompt.closed_at = PromptState.DISMISSED, now
    session.flush()


def _store(session: Session, response: SurveyResponse) -> None:
    try:
        with session.begin_nested():
            session.add(response)
            session.flush()
    except IntegrityError:
        raise Refused(lazy_gettext("You have already answered this question. Thank you!"), 409) from None
    reason = follow_up_reason(response.kind, response.score)
    if reason:
        session.add(FollowUp(response_id=response.id, reason=reason, created_at=response.created_at))
        session.flush()
        logger.info("follow-up opened for survey response %s (%s)", response.id, reason)


def follow_up_reason(kind: SurveyKind, score: int) -> str | None:
    """``detractor`` for NPS ≤ 6, ``low_csat`` for CSAT ≤ 2, else None (no call-back)."""
    if kind is SurveyKind.NPS and score <= DETRACTOR_MAX:
        return "detractor"
    if kind is SurveyKind.CSAT and score <= LOW_CSAT_MAX:
        return "low_csat"
    return None


# --- residents (no account) -------------------------------------------------------------------
def respondent_key(browser_id: str, secret: str) -> str:
    """A resident's key: a keyed hash of their browser's random cookie (nothing personal)."""
    return "resident:" + hmac.new(secret.encode(), browser_id.encode(), hashlib.sha256).hexdigest()[:64]


def resident_moment(session: Session, asset: Asset, now: datetime, rules: Rules) -> Outage | None:
    """The outage of this asset residents may be asked about: the last one closed within the window."""
    return session.scalar(
        select(Outage)
        .where(Outage.asset_id == asset.id, Outage.ended_at >= now - rules.window, Outage.ended_at <= now)
        .order_by(Outage.ended_at.desc())
        .limit(1)
    )


def has_answered(session: Session, key: str, moment_key: str) -> bool:
    """True if this respondent already answered about this moment."""
    stmt = select(SurveyResponse.id).where(
        SurveyResponse.respondent_key == key, SurveyResponse.moment_key == moment_key
    )
    return session.scalar(stmt) is not None


def answer_as_resident(
    session: Session,
    asset: Asset,
    *,
    moment_key: str,
    respondent: str,
    ip_hash: str | None,
    answer: Answer,
    now: datetime,
    rules: Rules,
) -> SurveyResponse:
    """Record a resident's CES answer about the asset's recently closed outage (once per browser)."""
    outage = resident_moment(session, asset, now, rules)
    if outage is None or moment_key != f"outage:{outage.id}":
        raise Refused(lazy_gettext("This question is not about a recent event on this equipment."), 400)
    if ip_hash is not None:
        same_ip = session.scalar(
            select(func.count(SurveyResponse.id)).where(
                SurveyResponse.moment_key == moment_key, SurveyResponse.ip_hash == ip_hash
            )
        )
        if (same_ip or 0) >= RESIDENT_ANSWERS_PER_IP:
            raise Refused(lazy_gettext("Thank you: answers from this connection have been counted."), 429)
    response = SurveyResponse(
        kind=SurveyKind.CES,
        score=answer.score,
        comment=answer.comment,
        group=Audience.RESIDENT,
        respondent_key=respondent,
        ip_hash=ip_hash,
        customer_id=asset.site.customer_id,
        site_id=asset.site_id,
        asset_id=asset.id,
        moment=Moment.OUTAGE_CLOSED,
        moment_key=moment_key,
        moment_at=outage.ended_at or now,
        created_at=now,
    )
    _store(session, response)
    return response


def reader_question_due(session: Session, item: Feedback, now: datetime, rules: Rules) -> bool:
    """True when a resident reading their resolved item should be asked CSAT about it."""
    if item.status is not FeedbackStatus.RESOLVED or item.resolved_at is None:
        return False
    if now - item.resolved_at > rules.window:
        return False
    return not has_answered(session, f"reader:{item.id}", f"feedback:{item.id}")


def answer_as_reader(
    session: Session, item: Feedback, *, answer: Answer, now: datetime, rules: Rules
) -> SurveyResponse:
    """A resident's CSAT about their own resolved feedback, through their private link (once)."""
    if item.status is not FeedbackStatus.RESOLVED or item.resolved_at is None:
        raise Refused(lazy_gettext("This question is asked once your feedback is resolved."), 400)
    if now - item.resolved_at > rules.window:
        raise Refused(lazy_gettext("This question has expired."), 410)
    response = SurveyResponse(
        kind=SurveyKind.CSAT,
        score=answer.score,
        comment=answer.comment,
        group=Audience.RESIDENT,
        respondent_key=f"reader:{item.id}",  # the private link is the respondent
        customer_id=item.site.customer_id,
        site_id=item.site_id,
        asset_id=item.asset_id,
        moment=Moment.FEEDBACK_RESOLVED,
        moment_key=f"feedback:{item.id}",
        moment_at=item.resolved_at,
        created_at=now,
    )
    _store(session, response)
    return response
