"""The vendor's relationships and their health now: each customer's facility managers (their
whole portfolio) and each building's HOA president (their building), scored from the service
levers of the last 30 days, the group's voice and the relationship's coverage; daily
snapshots for the trend; outreach opened when the risk crosses the threshold, before the next
survey would reveal it, with a contact-fatigue guard."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from fleet.models import (
    Asset,
    Audience,
    Customer,
    Feedback,
    FeedbackStatus,
    FollowUp,
    FollowUpStatus,
    HealthSnapshot,
    OutreachChannel,
    OutreachStatus,
    OutreachTask,
    Site,
    StakeholderGroup,
    SurveyKind,
    SurveyResponse,
    User,
    Visit,
    VisitStatus,
    user_sites,
)
from portal.health import equation_store, points
from portal.health.levers import WINDOW, History, load_history, measure
from portal.health.score import Health, Reason, health, voice
from portal.refusal import Refused

logger = logging.getLogger(__name__)

THRESHOLD = 35.0  # risk (100 − health) at which outreach opens
FATIGUE = timedelta(days=30)  # at most one outreach per person in this time
MEET_WITHIN = timedelta(days=21)  # an HOA president is met at a visit this close, else called
FM, HOA = StakeholderGroup.FACILITY_MANAGER, StakeholderGroup.HOA_PRESIDENT


@dataclass(frozen=True)
class Relationship:
    """Who we serve and on which units: a customer's facility managers, or a building's HOA
    president."""

    key: str
    customer_id: int
    customer: str
    site_id: int | None
    site: str | None
    group: StakeholderGroup
    units: tuple[int, ...]
    people: tuple[int, ...]


@dataclass(frozen=True)
class Assessment:
    """A relationship's health now, its trend (score 30 days ago), and its open work."""

    relationship: Relationship
    health: Health
    previous: float | None
    open_outreach: int | None
    open_follow_ups: int

    @property
    def trend(self) -> float | None:
        """Points gained (+) or lost (−) over 30 days."""
        return None if self.previous is None else round(self.health.score - self.previous, 1)


def relationships(session: Session) -> list[Relationship]:
    """Every customer with units (its facility managers) and every building with an HOA
    president, with their units and accounts."""
    units: dict[int, list[int]] = defaultdict(list)
    for asset_id, site_id in session.execute(
        select(Asset.id, Asset.site_id).where(Asset.archived_at.is_(None)).order_by(Asset.id)
    ):
        units[site_id].append(asset_id)
    sites = session.execute(
        select(Site.id, Site.name, Customer.id, Customer.name)
        .join(Customer, Site.customer_id == Customer.id)
        .where(Site.archived_at.is_(None), Customer.archived_at.is_(None))
        .order_by(Customer.name, Site.name)
    ).all()
    managers: dict[int, list[int]] = defaultdict(list)
    for user_id, customer_id in session.execute(
        select(User.id, User.customer_id).where(User.group == FM, User.is_active.is_(True)).order_by(User.id)
    ):
        if customer_id is not None:
            managers[customer_id].append(user_id)
    presidents: dict[int, list[int]] = defaultdict(list)
    for user_id, site_id in session.execute(
        select(User.id, user_sites.c.site_id)
        .join(user_sites, user_sites.c.user_id == User.id)
        .where(User.group == HOA, User.is_active.is_(True))
        .order_by(User.id)
    ):
        presidents[site_id].append(user_id)
    out: list[Relationship] = []
    by_customer: dict[tuple[int, str], list[int]] = defaultdict(list)
    for site_id, site_name, customer_id, customer_name in sites:
        by_customer[(customer_id, customer_name)] += units[site_id]
        if presidents[site_id] and units[site_id]:
            out.append(Relationship(
                f"site:{site_id}:{HOA.value}", customer_id, customer_name, site_id, site_name, HOA,
                tuple(units[site_id]), tuple(presidents[site_id]),
            ))  # fmt: skip
    for (customer_id, name), assets in by_customer.items():
        if assets:
            out.append(Relationship(
                f"customer:{customer_id}:{FM.value}", customer_id, name, None, None, FM, tuple(assets),
                tuple(managers[customer_id]),
            ))  # fmt: skip
    return out


def _voice_and_coverage(session: Session, rel: Relationship, now: datetime) -> dict[str, float]:
    out: dict[str, float] = {}
    audience = Audience(rel.group.value)
    answers = select(SurveyResponse.score, SurveyResponse.created_at).where(
        SurveyResponse.kind == SurveyKind.CSAT, SurveyResponse.group == audience,
        SurveyResponse.customer_id == rel.customer_id, SurveyResponse.created_at < now,
    )  # fmt: skip
    if rel.site_id is not None:
        answers = answers.where(SurveyResponse.site_id == rel.site_id)
    scores = [
        score for score, _at in session.execute(answers.order_by(SurveyResponse.created_at.desc()).limit(2))
    ]
    out |= voice(list(reversed(scores)), 1, 5)
    sites = [rel.site_id] if rel.site_id else list(
        session.scalars(select(Asset.site_id).where(Asset.id.in_(rel.units)).distinct())
    )  # fmt: skip
    out["unanswered_feedback"] = float(
        session.scalar(
            select(func.count(Feedback.id)).where(
                Feedback.site_id.in_(sites), Feedback.status == FeedbackStatus.NEW,
                Feedback.created_at < now - timedelta(days=7),
            )
        ) or 0
    )  # fmt: skip
    complaints = session.scalar(
        select(func.count(Feedback.id)).where(
            Feedback.site_id.in_(sites), Feedback.author_group == Audience.RESIDENT,
            Feedback.created_at >= now - WINDOW, Feedback.created_at < now,
        )
    ) or 0  # fmt: skip
    out["resident_complaints"] = complaints / max(1, len(rel.units))
    last_answer = session.scalar(
        select(func.max(SurveyResponse.created_at)).where(SurveyResponse.user_id.in_(rel.people or (-1,)))
    )
    out["silent"] = (
        1.0 if rel.people and (last_answer is None or last_answer < now - timedelta(days=180)) else 0.0
    )
    if rel.group is HOA:
        met = session.scalar(
            select(func.count(Visit.id)).where(
                Visit.asset_id.in_(rel.units), Visit.meet_requested_by.in_(rel.people or (-1,)),
                Visit.status == VisitStatus.COMPLETED, Visit.scheduled_start >= now - timedelta(days=365),
            )
        )  # fmt: skip
        out["technician_not_met"] = 0.0 if met else 1.0
        newest = session.scalar(select(func.max(User.created_at)).where(User.id.in_(rel.people or (-1,))))
        out["new_president"] = 1.0 if newest is not None and newest >= now - timedelta(days=90) else 0.0
    return out


def _open_work(session: Session) -> tuple[dict[str, int], dict[int | None, int]]:
    """Open outreach per relationship key, and open follow-ups per person."""
    open_tasks = dict(
        session.execute(
            select(OutreachTask.key, func.max(OutreachTask.id))
            .where(OutreachTask.status == OutreachStatus.OPEN)
            .group_by(OutreachTask.key)
        ).all()
    )
    follow_ups = dict(
        session.execute(
            select(SurveyResponse.user_id, func.count(FollowUp.id))
            .join(FollowUp, FollowUp.response_id == SurveyResponse.id)
            .where(FollowUp.status != FollowUpStatus.CLOSED)
            .group_by(SurveyResponse.user_id)
        ).all()
    )
    return open_tasks, follow_ups


def _scores_on(session: Session, day: date) -> dict[str, HealthSnapshot]:
    return {s.key: s for s in session.scalars(select(HealthSnapshot).where(HealthSnapshot.day == day))}


def _assessments(
    rels: Sequence[Relationship], scored: Mapping[str, Health], previous: Mapping[str, HealthSnapshot],
    open_work: tuple[dict[str, int], dict[int | None, int]],
) -> list[Assessment]:  # fmt: skip
    open_tasks, follow_ups = open_work
    out = [
        Assessment(
            rel,
            scored[rel.key],
            previous[rel.key].score if rel.key in previous else None,
            open_tasks.get(rel.key),
            sum(follow_ups.get(p, 0) for p in rel.people),
        )
        for rel in rels
        if rel.key in scored
    ]
    out.sort(key=lambda a: (-a.health.risk, a.relationship.key))
    return out


def assess(
    session: Session, now: datetime, rels: Sequence[Relationship] | None = None,
    weights: Mapping[str, int] | None = None,
) -> list[Assessment]:  # fmt: skip
    """Every relationship's health computed now from the records, riskiest first (the
    worker's daily step; pages read its snapshots through :func:`current`)."""
    rels = list(relationships(session) if rels is None else rels)
    weights = points.in_use(session).points if weights is None else weights
    units = sorted({u for rel in rels for u in rel.units})
    history: History = load_history(session, units, now - WINDOW, now)
    scored = {
        rel.key: health(
            measure(history, rel.units, now - WINDOW, now) | _voice_and_coverage(session, rel, now), weights
        )
        for rel in rels
    }
    return _assessments(rels, scored, _scores_on(session, (now - WINDOW).date()), _open_work(session))


def current(session: Session, now: datetime) -> list[Assessment]:
    """The relationships as the worker scored them today (or yesterday, before today's run):
    the stored snapshots, so a page reads one row per relationship instead of scoring the
    whole fleet per request. Without a recent snapshot (no worker yet), scored now."""
    day = session.scalar(select(func.max(HealthSnapshot.day)).where(HealthSnapshot.day <= now.date()))
    if day is None or day < now.date() - timedelta(days=1):
        return assess(session, now)
    stored = _scores_on(session, day)
    scored = {
        key: Health(
            row.score, tuple(Reason(r["factor"], float(r["value"]), float(r["lost"])) for r in row.reasons)
        )
        for key, row in stored.items()
    }
    rels = relationships(session)
    return _assessments(rels, scored, _scores_on(session, day - WINDOW), _open_work(session))


def reasons_json(h: Health) -> list[dict[str, float | str]]:
    """A score's reasons as stored (factor, value, points lost)."""
    return [{"factor": r.factor, "value": round(r.value, 3), "lost": round(r.lost, 1)} for r in h.reasons]


def snapshot(session: Session, now: datetime, assessments: Sequence[Assessment]) -> int:
    """Today's scores (one row per relationship and day; a second run the same day updates)."""
    day = now.date()
    existing = {s.key: s for s in session.scalars(select(HealthSnapshot).where(HealthSnapshot.day == day))}
    for a in assessments:
        rel = a.relationship
        row = existing.get(rel.key) or HealthSnapshot(
            key=rel.key, customer_id=rel.customer_id, site_id=rel.site_id, group=rel.group.value, day=day
        )
        row.score, row.reasons, row.computed_at = a.health.score, reasons_json(a.health), now
        session.add(row)
    return len(assessments)


def may_contact(session: Session, person_id: int, now: datetime) -> bool:
    """The contact-fatigue guard: nobody is approached twice in 30 days, nor while a follow-up
    of one of their answers is open."""
    recent = session.scalar(
        select(func.count(OutreachTask.id)).where(
            OutreachTask.person_id == person_id, OutreachTask.opened_at > now - FATIGUE
        )
    )
    following = session.scalar(
        select(func.count(FollowUp.id))
        .join(SurveyResponse, FollowUp.response_id == SurveyResponse.id)
        .where(SurveyResponse.user_id == person_id, FollowUp.status != FollowUpStatus.CLOSED)
    )
    return not recent and not following


def open_outreach(
    session: Session, now: datetime, assessments: Sequence[Assessment], threshold: float = THRESHOLD
) -> list[OutreachTask]:
    """Open a task for each relationship whose risk reached ``threshold``, for its first person
    the fatigue guard allows (none if nobody may be contacted, or one is already open)."""
    opened = []
    for a in assessments:
        rel = a.relationship
        if a.health.risk < threshold or a.open_outreach is not None or not rel.people:
            continue
        person = next((p for p in rel.people if may_contact(session, p, now)), None)
        if person is None:
            continue
        channel, visit_id = OutreachChannel.CALL, None
        if rel.group is HOA:
            visit_id = session.scalar(
                select(Visit.id)
                .where(and_(Visit.asset_id.in_(rel.units), Visit.status == VisitStatus.SCHEDULED,
                            Visit.scheduled_start >= now, Visit.scheduled_start <= now + MEET_WITHIN))
                .order_by(Visit.scheduled_start)
                .limit(1)
            )  # fmt: skip
            if visit_id is not None:
                channel = OutreachChannel.MEET
        task = OutreachTask(
            key=rel.key, customer_id=rel.customer_id, site_id=rel.site_id, group=rel.group.value,
            person_id=person, channel=channel, risk=round(a.health.risk, 1), reasons=reasons_json(a.health),
            visit_id=visit_id, opened_at=now,
        )  # fmt: skip
        session.add(task)
        opened.append(task)
    if opened:
        session.flush()
        logger.info("health: %d outreach task(s) opened", len(opened))
    return opened


def run_daily(session: Session, now: datetime) -> tuple[int, int]:
    """The worker's step: the satisfaction equations refitted once a day (their weights may
    suggest the points), today's snapshots, then outreach where the risk calls for it."""
    if equation_store.due(session, now):
        equation_store.refit(session, now)
    assessments = assess(session, now)
    snapshot(session, now, assessments)
    return len(assessments), len(open_outreach(session, now, assessments))


def record_outcome(
    task: OutreachTask, by: User, reached: str, cause_found: str, action: str, now: datetime
) -> None:
    """Close a task with its outcome: reached (yes / no), cause found (yes / no), the action
    agreed (free text, may be empty when nobody was reached)."""
    if task.status is OutreachStatus.DONE:
        raise Refused(lazy_gettext("This outreach is already done."), 409)
    answers = {"yes": True, "no": False}
    if reached not in answers or cause_found not in answers:
        raise Refused(lazy_gettext("Say whether the person was reached and the cause found."), 400,
                      {"reached": ["yes or no"], "cause_found": ["yes or no"]})  # fmt: skip
    if len(action) > 2000:
        raise Refused(
            lazy_gettext("The action is too long (2,000 characters at most)."),
            400,
            {"action_agreed": ["too long"]},
        )
    task.reached, task.cause_found = answers[reached], answers[cause_found]
    task.action_agreed = action.strip() or None
    task.status, task.closed_at, task.closed_by_id = OutreachStatus.DONE, now, by.id


def meetings_at(session: Session, visit_id: int) -> list[OutreachTask]:
    """Open outreach to be made at this visit (the technician meets the person there)."""
    stmt = select(OutreachTask).where(
        OutreachTask.visit_id == visit_id, OutreachTask.status == OutreachStatus.OPEN,
        OutreachTask.channel == OutreachChannel.MEET,
    )  # fmt: skip
    return list(session.scalars(stmt))
