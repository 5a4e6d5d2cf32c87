"""A year of demo survey answers, so the dashboard's trends and drivers have something to show.

Answers follow the real trigger rules' shape (a question after an outage, a visit or a
resolved feedback item, NPS every quarter, at most one a day per person) and are
recorded through :func:`portal.satisfaction.surveys.answer_prompt`, so low scores open
follow-ups exactly as in production. Scores are drawn around a mean that depends on the
group, on the availability the respondent lived with in the 30 days before (the
driver the dashboard should find), and on a slow improvement over the year.
Moments of the last three days are left unanswered, so demo users are asked on login.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.models import (
    Asset,
    Audience,
    FollowUp,
    FollowUpStatus,
    Moment,
    Outage,
    PromptState,
    StakeholderGroup,
    SurveyKind,
    SurveyPrompt,
    SurveyResponse,
    User,
    Visit,
    VisitStatus,
)
from portal.access import Scope
from portal.kpi import availability
from portal.satisfaction.surveys import Answer, Rules, answer_prompt

GROUP_OFFSET = {
    StakeholderGroup.FACILITY_MANAGER: 0.0,
    StakeholderGroup.HOA_PRESIDENT: -0.35,
    StakeholderGroup.FIELD_TECHNICIAN: 0.3,
}
ANSWER_RATE = {Moment.OUTAGE_CLOSED: 0.7, Moment.VISIT_COMPLETED: 0.3, Moment.PERIODIC: 0.85}
COMMENTS = {
    "low": [
        "Trop de pannes ce trimestre, les résidents se plaignent.",
        "Nobody told us when the technician would come.",
        "Le délai de réparation était beaucoup trop long.",
    ],
    "high": [
        "Rapide et bien expliqué, merci.",
        "Good follow-up from the team.",
        "Très satisfait de la visite.",
    ],
}


def _clamp(value: float, low: int, high: int) -> int:
    return max(low, min(high, round(value)))


class _Availability:
    """30-day availability before a moment, per asset or per site (from the demo outages)."""

    def __init__(self, session: Session) -> None:
        self.outages: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
        self.site_assets: dict[int, list[int]] = defaultdict(list)
        for asset_id, site_id in session.execute(select(Asset.id, Asset.site_id)):
            self.site_assets[site_id].append(asset_id)
        for asset_id, s, e in session.execute(select(Outage.asset_id, Outage.started_at, Outage.ended_at)):
            self.outages[asset_id].append((s, e))

    def factor(self, asset_ids: list[int], at: datetime) -> float:
        """-1 (availability ≤ 99.3 %) … +0.4 (100 %): the availability the respondent lived with."""
        if not asset_ids:
            return 0.0
        values = [
            availability(self.outages[a], [], at - timedelta(days=30), at).percent or 100.0 for a in asset_ids
        ]
        mean = sum(values) / len(values)
        return max(-1.0, min(1.0, (mean - 99.8) / 0.5))


def _score(
    rng: random.Random,
    kind: SurveyKind,
    group: StakeholderGroup | None,
    avail: float,
    progress: float,
    hours: float,
) -> int:
    offset = GROUP_OFFSET.get(group, 0.0) if group else 0.0
    if kind is SurveyKind.CSAT:
        return _clamp(rng.gauss(3.55 + offset + 0.75 * avail + 0.4 * progress, 0.8), 1, 5)
    if kind is SurveyKind.CES:
        return _clamp(
            rng.gauss(5.4 + offset - 0.45 * math.log1p(hours) + 0.6 * avail + 0.4 * progress, 1.0), 1, 7
        )
    return _clamp(rng.gauss(7.0 + 2 * offset + 1.4 * avail + 0.9 * progress, 1.6), 0, 10)


def load_demo_surveys(session: Session, rng: random.Random, now: datetime) -> int:
    """Create a year of answers for the demo accounts and residents; returns how many."""
    rules = Rules(window=timedelta(days=7))
    start = now - timedelta(days=365)
    quiet = now - timedelta(days=3)  # leave recent moments for the live demo to ask about
    avail = _Availability(session)
    staff = session.scalars(select(User).where(User.group == StakeholderGroup.VENDOR_STAFF)).first()
    users = list(
        session.scalars(select(User).where(User.group != StakeholderGroup.VENDOR_STAFF).order_by(User.id))
    )
    count = 0
    for user in users:
        scope = Scope.for_user(user)
        assets = {a.id: a for a in session.scalars(scope.assets())}
        moments: list[tuple[datetime, Moment, str, Asset | None, float]] = []
        if user.group is not StakeholderGroup.FIELD_TECHNICIAN:
            for o in session.scalars(
                select(Outage).where(Outage.asset_id.in_(assets), Outage.ended_at >= start)
            ):
                if o.ended_at is not None and o.ended_at < quiet:
                    hours = (o.ended_at - o.started_at) / timedelta(hours=1)
                    moments.append(
                        (o.ended_at, Moment.OUTAGE_CLOSED, f"outage:{o.id}", assets[o.asset_id], hours)
                    )
            visits = session.scalars(
                select(Visit).where(
                    Visit.asset_id.in_(assets),
                    Visit.status == VisitStatus.COMPLETED,
                    Visit.checked_out_at >= start,
                )
            )
            for v in visits:
                if v.checked_out_at is not None and v.checked_out_at < quiet:
                    moments.append(
                        (v.checked_out_at, Moment.VISIT_COMPLETED, f"visit:{v.id}", assets[v.asset_id], 0.0)
                    )
        first_nps = start + timedelta(days=rng.randint(5, 80))
        moments.extend((first_nps + timedelta(days=91 * q), Moment.PERIODIC, "", None, 0.0) for q in range(4))
        moments.sort(key=lambda m: m[0])
        last_day: datetime | None = None
        sites = sorted({a.site_id for a in assets.values()})
        for at, moment, key, asset, hours in moments:
            if at >= quiet or rng.random() > ANSWER_RATE[moment]:
                continue
            answered_at = at + timedelta(hours=rng.uniform(0.5, 30))
            if last_day is not None and answered_at - last_day < timedelta(hours=24):
                continue  # the daily cap
            last_day = answered_at
            site = asset.site if asset else None
            if site is None and len(sites) == 1 and user.sites:
                site = user.sites[0]
            prompt = SurveyPrompt(
                user_id=user.id,
                kind={Moment.OUTAGE_CLOSED: SurveyKind.CES, Moment.PERIODIC: SurveyKind.NPS}.get(
                    moment, SurveyKind.CSAT
                ),
                moment=moment,
                moment_key=key or f"nps:{at:%Y-%m-%d}",
                moment_at=at,
                customer_id=user.customer_id or (site or assets[next(iter(assets))].site).customer_id,
                site_id=site.id if site else None,
                asset_id=asset.id if asset else None,
                state=PromptState.PENDING,
                created_at=answered_at,
            )
            session.add(prompt)
            session.flush()
            lived = (
                [asset.id]
                if asset
                else [a for s in ([site.id] if site else sites) for a in avail.site_assets[s]]
            )
            progress = (at - start) / (now - start)
            score = _score(rng, prompt.kind, user.group, avail.factor(lived, at), progress, hours)
            comment = None
            if rng.random() < 0.25:
                comment = rng.choice(
                    COMMENTS["low" if score <= (2 if prompt.kind is not SurveyKind.NPS else 6) else "high"]
                )
            answer = Answer(score, comment)
            if moment is Moment.PERIODIC and user.group is StakeholderGroup.FACILITY_MANAGER:
                answer = _with_ranking(answer)
            answer_prompt(session, prompt, user, answer, answered_at, rules)
            count += 1
    count += _residents(session, rng, avail, start, quiet, now)
    _close_old_follow_ups(session, staff)
    return count


def _with_ranking(answer: Answer) -> Answer:
    """A facility manager's rank of us among the two maintenance providers their company
    uses: first (the demo's story, whatever the day's random scores: Habitat ranks us first,
    67 %, while we maintain 88 % of its units)."""
    return Answer(answer.score, answer.comment, 2, 1)


def _residents(
    session: Session,
    rng: random.Random,
    avail: _Availability,
    start: datetime,
    quiet: datetime,
    now: datetime,
) -> int:
    """A few residents answer CES on the cabin page after each outage."""
    count = 0
    outages = session.scalars(
        select(Outage).where(Outage.ended_at >= start, Outage.ended_at < quiet).order_by(Outage.id)
    )
    for n, o in enumerate(outages):
        if o.ended_at is None:
            continue
        hours = (o.ended_at - o.started_at) / timedelta(hours=1)
        progress = (o.ended_at - start) / (now - start)
        for i in range(rng.choice([0, 1, 2, 3, 4])):
            session.add(
                SurveyResponse(
                    kind=SurveyKind.CES,
                    score=_score(
                        rng, SurveyKind.CES, None, avail.factor([o.asset_id], o.ended_at), progress, hours
                    ),
                    group=Audience.RESIDENT,
                    respondent_key=f"resident:demo-{n}-{i}",
                    customer_id=o.asset.site.customer_id,
                    site_id=o.asset.site_id,
                    asset_id=o.asset_id,
                    moment=Moment.OUTAGE_CLOSED,
                    moment_key=f"outage:{o.id}",
                    moment_at=o.ended_at,
                    created_at=o.ended_at + timedelta(hours=rng.uniform(0.2, 48)),
                )
            )
            count += 1
    session.flush()
    return count


def _close_old_follow_ups(session: Session, staff: User | None) -> None:
    """Follow-ups were handled within days, except the two latest not of an HOA president,
    still open for the demo (an HOA president's open follow-up would keep relationship health
    from calling Les Tilleuls' president, on the days the random answers put one there)."""
    items = list(
        session.scalars(
            select(FollowUp)
            .join(SurveyResponse, FollowUp.response_id == SurveyResponse.id)
            .order_by(SurveyResponse.group == Audience.HOA_PRESIDENT, FollowUp.created_at.desc())
        )
    )
    for item in items[2:]:
        item.status = FollowUpStatus.CLOSED
        item.owner_id = staff.id if staff else None
        item.outcome = "Called back: explained the cause and the fix; they were glad to hear from us."
        item.closed_at = item.created_at + timedelta(days=2)
    session.flush()
