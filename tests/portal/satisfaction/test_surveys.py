"""Survey trigger rules, answers and the closed loop, on a small hand-built world
(SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fleet.db import Database
from fleet.models import (
    Asset,
    Audience,
    DetectedBy,
    Feedback,
    FeedbackStatus,
    FollowUp,
    FollowUpStatus,
    Moment,
    Outage,
    PromptState,
    SurveyKind,
    SurveyPrompt,
    SurveyResponse,
    User,
    Visit,
    VisitKind,
    VisitStatus,
)
from portal.access import NotVisible, Scope, get_survey_prompt
from portal.refusal import Refused
from portal.satisfaction import follow_ups, surveys
from portal.satisfaction.surveys import Answer, Rules
from tests.portal.world import NOW, World, build_world

RULES = Rules()


@pytest.fixture
def world(db: Database) -> Iterator[tuple[Session, World]]:
    with db.session() as session:
        yield session, build_world(session)


def _ask(session: Session, user_id: int, now: datetime) -> SurveyPrompt | None:
    user = session.get(User, user_id)
    assert user is not None
    return surveys.next_prompt(session, user, Scope.for_user(user), now, RULES)


def _answer(
    session: Session, prompt: SurveyPrompt, score: int, now: datetime, comment: str | None = None
) -> SurveyResponse:
    user = session.get(User, prompt.user_id)
    assert user is not None
    return surveys.answer_prompt(session, prompt, user, Answer(score, comment), now, RULES)


def _outage(session: Session, asset_id: int, ended: datetime, hours: float = 3) -> Outage:
    o = Outage(
        asset_id=asset_id,
        started_at=ended - timedelta(hours=hours),
        ended_at=ended,
        detected_by=DetectedBy.SENSOR,
    )
    session.add(o)
    session.flush()
    return o


def _visit(session: Session, asset_id: int, done: datetime) -> Visit:
    v = Visit(
        asset_id=asset_id, kind=VisitKind.PREVENTIVE, status=VisitStatus.COMPLETED,
        scheduled_start=done - timedelta(hours=2), scheduled_end=done, summary="Monthly",
        checked_in_at=done - timedelta(hours=2), checked_out_at=done,
    )  # fmt: skip
    session.add(v)
    session.flush()
    return v


def test_a_closed_outage_asks_ces_of_the_assets_people_only(world: tuple[Session, World]) -> None:
    session, w = world
    outage = _outage(session, w.asset_a, NOW - timedelta(hours=5))
    for user_id in (w.fm_a, w.hoa_a):
        prompt = _ask(session, user_id, NOW)
        assert prompt is not None
        assert (prompt.moment, prompt.kind, prompt.moment_key) == (
            Moment.OUTAGE_CLOSED,
            SurveyKind.CES,
            f"outage:{outage.id}",
        )
        assert (prompt.customer_id, prompt.site_id, prompt.asset_id) == (w.customer_a, w.site_a, w.asset_a)
    # the other customer's manager is asked nothing about it (only the periodic NPS)
    other = _ask(session, w.fm_b, NOW)
    assert other is not None
    assert other.moment is Moment.PERIODIC
    # technicians are not asked about outages; vendor staff are never asked
    tech = _ask(session, w.tech_a, NOW)
    assert tech is not None
    assert tech.moment is Moment.PERIODIC
    assert _ask(session, w.staff, NOW) is None


def test_each_moment_is_asked_once_and_at_most_one_question_a_day(world: tuple[Session, World]) -> None:
    session, w = world
    first = _outage(session, w.asset_a, NOW - timedelta(hours=30))
    second = _outage(session, w.asset_a, NOW - timedelta(hours=2))
    visit = _visit(session, w.asset_a, NOW - timedelta(hours=1))

    prompt = _ask(session, w.fm_a, NOW)
    assert prompt is not None
    assert prompt.moment_key == f"outage:{second.id}"  # the most recent first
    assert _ask(session, w.fm_a, NOW + timedelta(minutes=5)) is prompt  # pending: shown again, not a new one
    _answer(session, prompt, 6, NOW + timedelta(minutes=6))
    assert _ask(session, w.fm_a, NOW + timedelta(hours=23)) is None  # the daily cap

    day2 = _ask(session, w.fm_a, NOW + timedelta(hours=25))
    assert day2 is not None
    assert day2.moment_key == f"outage:{first.id}"
    surveys.dismiss_prompt(session, day2, NOW + timedelta(hours=25), RULES)
    assert _ask(session, w.fm_a, NOW + timedelta(hours=26)) is None  # a dismissal counts for the day

    day3 = _ask(session, w.fm_a, NOW + timedelta(hours=50))
    assert day3 is not None
    assert (day3.moment, day3.kind, day3.moment_key) == (
        Moment.VISIT_COMPLETED,
        SurveyKind.CSAT,
        f"visit:{visit.id}",
    )
    _answer(session, day3, 4, NOW + timedelta(hours=50))

    day4 = _ask(session, w.fm_a, NOW + timedelta(hours=75))
    assert day4 is not None
    assert day4.moment is Moment.PERIODIC  # nothing left but NPS
    keys = list(session.scalars(select(SurveyPrompt.moment_key).where(SurveyPrompt.user_id == w.fm_a)))
    assert len(keys) == len(set(keys)) == 4  # never twice for the same moment


def test_only_right_after_the_moment(world: tuple[Session, World]) -> None:
    session, w = world
    _outage(session, w.asset_a, NOW - RULES.window - timedelta(hours=1))  # too long ago
    _outage(session, w.asset_a, NOW + timedelta(hours=1))  # not yet over (ends in the future)
    prompt = _ask(session, w.hoa_a, NOW)
    assert prompt is not None
    assert prompt.moment is Moment.PERIODIC


def test_nps_at_most_every_90_days(world: tuple[Session, World]) -> None:
    session, w = world
    first = _ask(session, w.fm_b, NOW)
    assert first is not None
    assert first.kind is SurveyKind.NPS
    _answer(session, first, 9, NOW)
    for days in (2, 30, 89):
        assert _ask(session, w.fm_b, NOW + timedelta(days=days)) is None
    again = _ask(session, w.fm_b, NOW + timedelta(days=90, hours=1))
    assert again is not None
    assert again.kind is SurveyKind.NPS
    # a dismissed NPS also waits 90 days
    surveys.dismiss_prompt(session, again, NOW + timedelta(days=91), RULES)
    assert _ask(session, w.fm_b, NOW + timedelta(days=150)) is None


def test_resolved_feedback_asks_its_author(world: tuple[Session, World]) -> None:
    session, w = world
    item = Feedback(
        site_id=w.site_a, asset_id=w.asset_a, author_id=w.tech_a, author_group=Audience.FIELD_TECHNICIAN,
        text="Levelling error at floor 3", submission_id="x" * 32, status=FeedbackStatus.RESOLVED,
        created_at=NOW - timedelta(days=2), resolved_at=NOW - timedelta(hours=3),
    )  # fmt: skip
    session.add(item)
    session.flush()
    prompt = _ask(session, w.tech_a, NOW)
    assert prompt is not None
    assert (prompt.moment, prompt.kind, prompt.moment_key) == (
        Moment.FEEDBACK_RESOLVED,
        SurveyKind.CSAT,
        f"feedback:{item.id}",
    )
    response = _answer(session, prompt, 5, NOW)
    assert response.group is Audience.FIELD_TECHNICIAN
    assert (response.customer_id, response.site_id, response.asset_id) == (w.customer_a, w.site_a, w.asset_a)
    assert response.moment_at == item.resolved_at


@pytest.mark.parametrize(
    ("kind", "raw", "message"),
    [
        (SurveyKind.CSAT, "", "choose a score"),
        (SurveyKind.CSAT, "0", "from 1 to 5"),
        (SurveyKind.CSAT, "6", "from 1 to 5"),
        (SurveyKind.CES, "8", "from 1 to 7"),
        (SurveyKind.NPS, "11", "from 0 to 10"),
        (SurveyKind.NPS, "-1", "from 0 to 10"),
        (SurveyKind.NPS, "7.5", "from 0 to 10"),
        (SurveyKind.CSAT, "<script>", "from 1 to 5"),
    ],
)
def test_out_of_range_scores_are_refused(kind: SurveyKind, raw: str, message: str) -> None:
    with pytest.raises(Refused, match=message) as exc:
        surveys.parse_answer({"score": raw}, kind)
    assert exc.value.status == 400


def test_answers_are_checked_and_stored_once(world: tuple[Session, World]) -> None:
    session, w = world
    _outage(session, w.asset_a, NOW - timedelta(hours=5))
    prompt = _ask(session, w.fm_a, NOW)
    assert prompt is not None
    assert surveys.parse_answer({"score": "7", "comment": "  fine  "}, prompt.kind) == Answer(7, "fine")
    with pytest.raises(Refused, match="under 1000 characters") as long:
        surveys.parse_answer({"score": "7", "comment": "x" * 1001}, prompt.kind)
    assert long.value.status == 400
    fm_b = session.get(User, w.fm_b)
    assert fm_b is not None
    with pytest.raises(NotVisible):
        get_survey_prompt(session, fm_b, prompt.id)  # a moment fm_b was not part of: not found

    _answer(session, prompt, 7, NOW)
    with pytest.raises(Refused) as twice:
        _answer(session, prompt, 3, NOW)
    assert twice.value.status == 409
    count = session.scalar(select(func.count(SurveyResponse.id)).where(SurveyResponse.user_id == w.fm_a))
    assert count == 1
    with pytest.raises(Refused):
        surveys.dismiss_prompt(session, prompt, NOW, RULES)  # answered: nothing to dismiss


def test_a_stale_question_expires(world: tuple[Session, World]) -> None:
    session, w = world
    _outage(session, w.asset_a, NOW - timedelta(days=6))
    prompt = _ask(session, w.hoa_a, NOW)
    assert prompt is not None
    assert prompt.moment is Moment.OUTAGE_CLOSED
    with pytest.raises(Refused) as late:
        _answer(session, prompt, 5, NOW + timedelta(days=2))  # 8 days after the outage
    assert late.value.status == 410
    later = _ask(session, w.hoa_a, NOW + timedelta(days=2))
    assert later is not None
    assert later.moment is Moment.PERIODIC
    session.refresh(prompt)
    assert prompt.state is PromptState.EXPIRED


@pytest.mark.parametrize(
    ("kind", "score", "reason"),
    [
        (SurveyKind.NPS, 0, "detractor"),
        (SurveyKind.NPS, 6, "detractor"),
        (SurveyKind.NPS, 7, None),
        (SurveyKind.NPS, 10, None),
        (SurveyKind.CSAT, 1, "low_csat"),
        (SurveyKind.CSAT, 2, "low_csat"),
        (SurveyKind.CSAT, 3, None),
        (SurveyKind.CES, 1, None),
    ],
)
def test_closed_loop_thresholds(kind: SurveyKind, score: int, reason: str | None) -> None:
    assert surveys.follow_up_reason(kind, score) == reason


def test_a_detractor_opens_a_follow_up_tracked_to_closure(world: tuple[Session, World]) -> None:
    session, w = world
    _outage(session, w.asset_b, NOW - timedelta(days=3), hours=30)
    nps = _ask(session, w.fm_b, NOW)  # no recent moment answered yet: the outage first
    assert nps is not None
    _answer(session, nps, 2, NOW)  # CES 2: unhappy, but CES never opens a follow-up
    assert session.scalar(select(func.count(FollowUp.id))) == 0
    later = _ask(session, w.fm_b, NOW + timedelta(days=1, hours=1))
    assert later is not None
    assert later.kind is SurveyKind.NPS
    response = _answer(session, later, 4, NOW + timedelta(days=1, hours=1), comment="Too many breakdowns")
    item = session.scalars(select(FollowUp)).one()
    assert (item.response_id, item.reason, item.status) == (response.id, "detractor", FollowUpStatus.OPEN)
    ctx = follow_ups.context(session, item)
    assert [o.asset_id for o in ctx.outages] == [w.asset_b]  # the customer's recent outage, for the call

    staff, fm = session.get(User, w.staff), session.get(User, w.fm_b)
    assert staff is not None
    assert fm is not None
    with pytest.raises(Refused) as not_staff:
        follow_ups.update(session, item, fm, status="closed", owner_id=None, outcome="x", now=NOW)
    assert not_staff.value.status == 403
    with pytest.raises(Refused, match="came out of the call"):
        follow_ups.update(session, item, staff, status="closed", owner_id=None, outcome="", now=NOW)
    with pytest.raises(Refused, match="vendor staff"):
        follow_ups.update(session, item, staff, status=None, owner_id=w.fm_b, outcome=None, now=NOW)
    follow_ups.update(session, item, staff, status="in_progress", owner_id=None, outcome=None, now=NOW)
    assert (item.status, item.owner_id) == (FollowUpStatus.IN_PROGRESS, w.staff)  # taking it makes you owner
    with pytest.raises(Refused) as back:
        follow_ups.update(session, item, staff, status="open", owner_id=None, outcome=None, now=NOW)
    assert back.value.status == 409
    follow_ups.update(
        session, item, staff, status="closed", owner_id=None, outcome="Called; plan agreed.", now=NOW
    )
    assert (item.status, item.closed_at, item.outcome) == (FollowUpStatus.CLOSED, NOW, "Called; plan agreed.")
    with pytest.raises(Refused) as closed:
        follow_ups.update(session, item, staff, status="closed", owner_id=None, outcome="again", now=NOW)
    assert closed.value.status == 409


def test_residents_answer_once_per_browser_about_their_asset_only(world: tuple[Session, World]) -> None:
    session, w = world
    asset = session.get(Asset, w.asset_a)
    assert asset is not None
    outage = _outage(session, w.asset_a, NOW - timedelta(hours=4))
    other = _outage(session, w.asset_b, NOW - timedelta(hours=4))
    assert surveys.resident_moment(session, asset, NOW, RULES) is outage

    def answer(key: str, browser: str, ip: str | None = "ip-1") -> SurveyResponse:
        return surveys.answer_as_resident(
            session, asset, moment_key=key, respondent=surveys.respondent_key(browser, "secret"),
            ip_hash=ip, answer=Answer(6, None), now=NOW, rules=RULES,
        )  # fmt: skip

    with pytest.raises(Refused) as foreign:
        answer(f"outage:{other.id}", "browser-1")  # another building's outage
    assert foreign.value.status == 400
    response = answer(f"outage:{outage.id}", "browser-1")
    assert (response.group, response.kind, response.site_id, response.asset_id) == (
        Audience.RESIDENT, SurveyKind.CES, w.site_a, w.asset_a,
    )  # fmt: skip
    assert response.user_id is None
    with pytest.raises(Refused) as twice:
        answer(f"outage:{outage.id}", "browser-1")
    assert twice.value.status == 409
    answer(f"outage:{outage.id}", "browser-2")
    answer(f"outage:{outage.id}", "browser-3")
    with pytest.raises(Refused) as stuffing:
        answer(f"outage:{outage.id}", "browser-4")  # a fourth from the same address
    assert stuffing.value.status == 429
    answer(f"outage:{outage.id}", "browser-4", ip="ip-2")
    assert session.scalar(select(func.count(SurveyResponse.id))) == 4
    with pytest.raises(Refused):
        surveys.answer_as_resident(
            session, asset, moment_key=f"outage:{outage.id}", respondent="resident:late", ip_hash=None,
            answer=Answer(6, None), now=NOW + RULES.window + timedelta(hours=5), rules=RULES,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"score": "9"}, (None, None)),  # the ranking is optional
        ({"score": "9", "providers": "", "provider_rank": ""}, (None, None)),
        ({"score": "9", "providers": "3", "provider_rank": "1"}, (3, 1)),
        ({"score": "9", "providers": " 2 ", "provider_rank": "2"}, (2, 2)),
        ({"score": "9", "providers": "1", "provider_rank": "1"}, (1, 1)),
    ],
)
def test_a_provider_ranking_is_optional_and_kept_when_given(
    form: dict[str, str], expected: tuple[int | None, int | None]
) -> None:
    answer = surveys.parse_answer(form, SurveyKind.NPS, ranking=True)
    assert (answer.providers, answer.provider_rank) == expected


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"providers": "3"}, "provider_rank", "where we rank"),
        ({"provider_rank": "1"}, "providers", "how many providers"),
        ({"providers": "2", "provider_rank": "3"}, "provider_rank", "number of providers you use \\(2\\)"),
        ({"providers": "0", "provider_rank": "1"}, "providers", "from 1 to 20"),
        ({"providers": "21", "provider_rank": "1"}, "providers", "from 1 to 20"),
        ({"providers": "two", "provider_rank": "1"}, "providers", "from 1 to 20"),
        ({"providers": "3", "provider_rank": "0"}, "provider_rank", "where we rank"),
    ],
)
def test_a_provider_ranking_that_cannot_be_right_is_refused(
    form: dict[str, str], field: str, message: str
) -> None:
    with pytest.raises(Refused) as exc:
        surveys.parse_answer({"score": "8", **form}, SurveyKind.NPS, ranking=True)
    assert exc.value.status == 400
    assert field in exc.value.errors
    assert any(re.search(message, m) for m in exc.value.errors[field])


def test_a_ranking_is_ignored_where_it_was_not_asked() -> None:
    answer = surveys.parse_answer({"score": "4", "providers": "99", "provider_rank": "x"}, SurveyKind.CSAT)
    assert (answer.providers, answer.provider_rank) == (None, None)


def test_the_ranking_is_stored_with_the_periodic_answer_only(world: tuple[Session, World]) -> None:
    session, w = world
    nps = _ask(session, w.fm_b, NOW)
    assert nps is not None
    assert nps.moment is Moment.PERIODIC
    user = session.get(User, w.fm_b)
    assert user is not None
    stored = surveys.answer_prompt(session, nps, user, Answer(8, None, 3, 2), NOW, RULES)
    assert (stored.providers, stored.provider_rank) == (3, 2)

    _outage(session, w.asset_a, NOW + timedelta(days=2))
    ces = _ask(session, w.fm_a, NOW + timedelta(days=2, hours=1))
    assert ces is not None
    assert ces.moment is Moment.OUTAGE_CLOSED
    fm_a = session.get(User, w.fm_a)
    assert fm_a is not None
    other = surveys.answer_prompt(session, ces, fm_a, Answer(5, None, 3, 1), NOW + timedelta(days=2), RULES)
    assert (other.providers, other.provider_rank) == (None, None)  # not a question about providers
