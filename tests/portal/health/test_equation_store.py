"""The worker stores each group's fitted equations once a day; pages read them back; the
points in use follow staff, else the equations' suggestion, else the defaults; and facility
managers' provider ranks give each customer's Wallet Allocation Rule share."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from fleet.db import Database
from fleet.models import (
    Audience,
    AuditEntry,
    HealthPoints,
    Moment,
    SatisfactionEquation,
    SurveyKind,
    SurveyResponse,
    User,
)
from portal.health import equation_store, points
from portal.health.equations import MIN_ANSWERS
from portal.health.renewals import said_shares
from portal.health.score import DEFAULT_POINTS, FACTORS
from portal.health.wallet import war_share
from portal.refusal import Refused
from tests.portal.world import build_world

NOW = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # New Year's Eve: "today" ends in half an hour


def _answer(
    customer_id: int,
    user_id: int,
    n: int,
    at: datetime,
    score: int,
    kind: SurveyKind = SurveyKind.CSAT,
    **rank: int,
) -> SurveyResponse:
    return SurveyResponse(
        kind=kind, score=score,
        group=Audience.FACILITY_MANAGER, respondent_key=f"user:{user_id}", user_id=user_id,
        customer_id=customer_id, moment=Moment.PERIODIC, moment_key=f"test:{n}", moment_at=at, created_at=at,
        **rank,
    )  # fmt: skip


def test_equations_are_stored_per_group_and_question_and_read_back(db: Database) -> None:
    rng = random.Random(4)
    with db.session() as s:
        w = build_world(s)
        assert [(e.group, e.question, e.answers) for e in equation_store.stored(s)][:3] == [
            ("facility_manager", "csat", 0), ("facility_manager", "ces", 0), ("facility_manager", "nps", 0),
        ]  # fmt: skip
        assert equation_store.due(s, NOW)
        for n in range(MIN_ANSWERS + 5):
            s.add(
                _answer(w.customer_a, w.fm_a, n, NOW - timedelta(days=rng.uniform(1, 300)), rng.randint(1, 5))
            )
        s.flush()
        fitted = equation_store.refit(s, NOW)
        assert len(fitted) == len(equation_store.GROUPS) * len(SurveyKind)
    with db.session() as s:
        assert s.query(SatisfactionEquation).count() == len(fitted)
        back = {(e.group, e.question): e for e in equation_store.stored(s)}
        fm_csat = back[("facility_manager", "csat")]
        assert fm_csat.fitted
        assert fm_csat.answers == MIN_ANSWERS + 5
        assert fm_csat == next(e for e in fitted if (e.group, e.question) == ("facility_manager", "csat"))
        assert not back[("hoa_president", "csat")].fitted
        assert equation_store.fitted_at(s) == NOW
        assert not equation_store.due(s, NOW + timedelta(minutes=29))  # still the same day
        assert equation_store.due(s, NOW + timedelta(minutes=31))  # New Year's Day: refit
        assert equation_store.due(s, NOW - timedelta(days=1))  # the clock went back
        equation_store.refit(s, NOW + timedelta(days=1))  # a refit replaces, never adds
        assert s.query(SatisfactionEquation).count() == len(fitted)


def test_points_in_use_come_from_staff_else_the_equations_else_the_defaults(db: Database) -> None:
    with db.session() as s:
        w = build_world(s)
        staff = s.get(User, w.staff)
        assert staff is not None
        assert points.in_use(s).source == "defaults"
        sure = [{"lever": "outages", "weight": -1.0, "low": -1.4, "high": -0.6}]
        since = NOW - timedelta(days=365)
        s.add(SatisfactionEquation(group="facility_manager", question="csat", answers=80, intercept=4.0,
                                   weights=sure, r2=0.4, since=since, fitted_at=NOW))  # fmt: skip
        s.flush()
        suggested = points.in_use(s)
        assert (suggested.source, suggested.fitted) == ("equations", 1)
        assert suggested.points["outages"] == 60  # the only surely harmful lever takes the service points
        assert sum(suggested.points.values()) == 100

        mine = dict.fromkeys(FACTORS, 0) | {"outages": 50, "silent": 50}
        points.save(s, mine, staff, NOW)
        s.flush()
        chosen = points.in_use(s)
        assert (chosen.source, chosen.points, chosen.updated_by) == ("staff", mine, staff.email)
        assert s.query(AuditEntry).filter_by(action="health_points.changed").count() == 1
        points.reset(s, staff, NOW)
        s.flush()
        assert points.in_use(s).source == "equations"
        assert s.query(HealthPoints).count() == 0
        assert s.query(AuditEntry).filter_by(action="health_points.changed").count() == 2


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"outages": "13"}, "total", "add up to 101"),
        ({"outages": "-1"}, "outages", "whole number"),
        ({"outages": "1.5"}, "outages", "whole number"),
        ({"outages": ""}, "outages", "whole number"),
        ({"silent": "1000"}, "silent", "whole number"),
    ],
)
def test_points_from_a_form_are_whole_and_add_up_to_100(
    change: dict[str, str], field: str, message: str
) -> None:
    form = {f: str(v) for f, v in DEFAULT_POINTS.items()}
    assert points.parse(form) == DEFAULT_POINTS
    with pytest.raises(Refused) as exc:
        points.parse(form | change)
    assert exc.value.status == 400
    assert field in exc.value.errors
    assert message in str(exc.value.message) or message in " ".join(exc.value.errors[field])


def test_said_shares_use_each_facility_manager_s_latest_rank_of_the_last_year(db: Database) -> None:
    with db.session() as s:
        w = build_world(s)
        nps, day = SurveyKind.NPS, timedelta(days=1)
        s.add_all([
            _answer(w.customer_a, w.fm_a, 1, NOW - 400 * day, 9, nps, providers=1, provider_rank=1),  # old
            _answer(w.customer_a, w.fm_a, 2, NOW - 200 * day, 9, nps, providers=3, provider_rank=1),
            _answer(w.customer_a, w.fm_a, 3, NOW - 20 * day, 5, nps, providers=3, provider_rank=3),  # latest
            _answer(w.customer_b, w.fm_b, 4, NOW - 10 * day, 8, nps, providers=2, provider_rank=1),
            _answer(w.customer_b, w.fm_b, 5, NOW - 5 * day, 8, nps),  # no rank: ignored
        ])  # fmt: skip
        s.flush()
        shares = said_shares(s, NOW)
    assert shares[w.customer_a] == (pytest.approx(war_share(3, 3)), 1)
    assert shares[w.customer_b] == (pytest.approx(war_share(1, 2)), 1)
