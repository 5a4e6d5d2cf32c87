"""Outreach opens at the threshold, once per relationship, and the contact-fatigue guard holds:
at most one outreach per person in 30 days, none while a follow-up of theirs is open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleet.db import Database
from fleet.models import (
    Audience,
    FollowUp,
    Moment,
    OutreachStatus,
    OutreachTask,
    StakeholderGroup,
    SurveyKind,
    SurveyResponse,
)
from portal.health.relationships import Assessment, Relationship, may_contact, open_outreach
from portal.health.score import health
from tests.portal.world import build_world

NOW = datetime(2026, 6, 30, 9, tzinfo=UTC)


def _assessment(customer_id: int, person: int, risk_factors: dict[str, float]) -> Assessment:
    rel = Relationship(f"customer:{customer_id}:facility_manager", customer_id, "A", None, None,
                       StakeholderGroup.FACILITY_MANAGER, (1,), (person,))  # fmt: skip
    return Assessment(rel, health(risk_factors), None, None, 0)


def test_outreach_opens_at_the_threshold_and_respects_the_fatigue_guard(db: Database) -> None:
    with db.session() as s:
        w = build_world(s)
    risky = {"outages": 2.0, "low_last_score": 1.0, "repeat_faults": 1.0, "availability_gap": 2.0}  # risk 42
    calm = {"outages": 0.5}
    with db.session() as s:
        assert open_outreach(s, NOW, [_assessment(w.customer_a, w.fm_a, calm)]) == []
        (task,) = open_outreach(s, NOW, [_assessment(w.customer_a, w.fm_a, risky)])
        assert task.person_id == w.fm_a
        assert task.risk == 42.0
        assert task.reasons[0]["factor"] in {"outages", "low_last_score"}
    with db.session() as s:  # the same person again within 30 days: no
        assert not may_contact(s, w.fm_a, NOW + timedelta(days=10))
        assert open_outreach(s, NOW + timedelta(days=10), [_assessment(w.customer_a, w.fm_a, risky)]) == []
        task = s.query(OutreachTask).one()
        task.status = OutreachStatus.DONE
    with db.session() as s:  # 31 days later, the task done: yes
        assert may_contact(s, w.fm_a, NOW + timedelta(days=31))


def test_nobody_is_approached_while_a_follow_up_of_theirs_is_open(db: Database) -> None:
    with db.session() as s:
        w = build_world(s)
        response = SurveyResponse(kind=SurveyKind.NPS, score=2, group=Audience.FACILITY_MANAGER,
                                  respondent_key=f"user:{w.fm_a}", user_id=w.fm_a, customer_id=w.customer_a,
                                  moment=Moment.PERIODIC, moment_key="nps:1", moment_at=NOW,
                                  created_at=NOW)  # fmt: skip
        s.add(response)
        s.flush()
        s.add(FollowUp(response_id=response.id, reason="detractor"))
    risky = {"outages": 2.0, "low_last_score": 1.0, "repeat_faults": 1.0, "availability_gap": 2.0}
    with db.session() as s:
        assert not may_contact(s, w.fm_a, NOW)
        assert open_outreach(s, NOW, [_assessment(w.customer_a, w.fm_a, risky)]) == []


def test_stored_points_are_used_when_they_add_up_else_the_defaults(db: Database) -> None:
    from fleet.models import HealthPoints
    from portal.health.points import in_use
    from portal.health.score import DEFAULT_POINTS, FACTORS

    with db.session() as s:
        assert in_use(s).points == DEFAULT_POINTS
        assert in_use(s).source == "defaults"
        s.add_all(HealthPoints(factor=f, points=(100 if f == "outages" else 0)) for f in FACTORS)
    with db.session() as s:
        assert in_use(s).points["outages"] == 100
        assert in_use(s).source == "staff"
        s.get(HealthPoints, "silent").points = 5  # now 105 in all
    with db.session() as s:
        assert in_use(s).points == DEFAULT_POINTS
