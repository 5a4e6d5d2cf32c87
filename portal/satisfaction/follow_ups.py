"""The closed loop: follow-up tasks for vendor staff after a detractor or a low CSAT.

A task is opened by :func:`portal.satisfaction.surveys.answer_prompt`; staff take it
(owner), call back, and close it with what came out of the call. Only vendor staff
see these tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, joinedload

from fleet.db import parse_id
from fleet.models import (
    Asset,
    Feedback,
    FollowUp,
    FollowUpStatus,
    Outage,
    Site,
    SurveyResponse,
    User,
)
from portal.access import can
from portal.refusal import Refused

ORDER = [FollowUpStatus.OPEN, FollowUpStatus.IN_PROGRESS, FollowUpStatus.CLOSED]
MAX_OUTCOME = 2000
CONTEXT_BEFORE = timedelta(days=30)


def is_staff(user: User) -> bool:
    """Only vendor staff handle follow-ups."""
    return can(user, "handle_follow_ups")


def listing(status: FollowUpStatus | None = None) -> Select[FollowUp]:
    """Follow-ups, open ones first, oldest first within a status (who waits longest)."""
    stmt = (
        select(FollowUp)
        .options(joinedload(FollowUp.response).joinedload(SurveyResponse.user), joinedload(FollowUp.owner))
        .order_by(FollowUp.status, FollowUp.created_at)
    )
    if status is not None:
        stmt = stmt.where(FollowUp.status == status)
    return stmt


def open_count(session: Session) -> int:
    """How many follow-ups wait for someone to take them."""
    return int(
        session.scalar(select(func.count(FollowUp.id)).where(FollowUp.status == FollowUpStatus.OPEN)) or 0
    )


@dataclass(frozen=True)
class Context:
    """What the caller should know before calling back: recent outages and feedback."""

    outages: list[Outage]
    feedback: list[Feedback]
    about: Feedback | None = None  # the resolved item the answer was about, if any


def context(session: Session, item: FollowUp) -> Context:
    """Outages and feedback in the 30 days before the answer, on its asset, site or customer."""
    response = item.response
    since = response.created_at - CONTEXT_BEFORE
    if response.asset_id is not None:
        outage_where = Outage.asset_id == response.asset_id
    elif response.site_id is not None:
        outage_where = Asset.site_id == response.site_id
    else:
        outage_where = Site.customer_id == response.customer_id
    outages = list(
        session.scalars(
            select(Outage)
            .join(Asset, Outage.asset_id == Asset.id)
            .join(Site, Asset.site_id == Site.id)
            .where(
                outage_where,
                Outage.started_at <= response.created_at,
                or_(Outage.ended_at.is_(None), Outage.ended_at >= since),
            )
            .order_by(Outage.started_at.desc())
            .limit(20)
        )
    )
    site_where = (
        Feedback.site_id == response.site_id
        if response.site_id is not None
        else Feedback.site_id.in_(select(Site.id).where(Site.customer_id == response.customer_id))
    )
    authored = Feedback.author_id == response.user_id if response.user_id is not None else None
    feedback_where = or_(site_where, authored) if authored is not None else site_where
    feedback = list(
        session.scalars(
            select(Feedback)
            .where(feedback_where, Feedback.created_at >= since, Feedback.created_at <= response.created_at)
            .order_by(Feedback.created_at.desc())
            .limit(20)
        )
    )
    about = None
    kind, _, number = response.moment_key.partition(":")
    feedback_id = parse_id(number) if kind == "feedback" else None
    if feedback_id is not None:
        about = session.get(Feedback, feedback_id)
    return Context(outages, feedback, about)


def update(
    session: Session,
    item: FollowUp,
    user: User,
    *,
    status: str | None,
    owner_id: int | None,
    outcome: str | None,
    now: datetime,
) -> None:
    """Change owner, status and outcome. Statuses move forward only; closing needs an outcome."""
    if not is_staff(user):
        raise Refused(lazy_gettext("Only vendor staff handle follow-ups."), 403)
    if item.status is FollowUpStatus.CLOSED:
        raise Refused(lazy_gettext("This follow-up is closed."), 409)
    outcome = (outcome or "").strip() or None
    if outcome is not None and len(outcome) > MAX_OUTCOME:
        raise Refused(
            lazy_gettext(
                "Please keep the outcome under %(max)d characters (it has %(num)d).",
                max=MAX_OUTCOME,
                num=len(outcome),
            )
        )
    new_status: FollowUpStatus = item.status
    if status:
        try:
            new_status = FollowUpStatus(status)
        except ValueError:
            raise Refused(lazy_gettext("Unknown status.")) from None
        if ORDER.index(new_status) < ORDER.index(item.status):
            raise Refused(lazy_gettext("A follow-up cannot go back to an earlier status."), 409)
    if new_status is FollowUpStatus.CLOSED and not (outcome or item.outcome):
        raise Refused(lazy_gettext("Say what came out of the call before closing the follow-up."))
    if owner_id is not None:
        owner = session.get(User, owner_id)
        if owner is None or not is_staff(owner) or not owner.is_active:
            raise Refused(lazy_gettext("The owner must be an active member of vendor staff."))
        item.owner_id = owner.id
    elif new_status is not FollowUpStatus.OPEN and item.owner_id is None:
        item.owner_id = user.id  # whoever starts working on it owns it
    if outcome is not None:
        item.outcome = outcome
    if new_status is not item.status:
        item.status = new_status
        if new_status is FollowUpStatus.CLOSED:
            item.closed_at = now
    session.flush()
