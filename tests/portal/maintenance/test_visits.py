"""The visit life cycle through the sensors' status path: maintenance is not an outage, a
repair keeps the outage open until the technician leaves, every bad move is refused, and
the outage timeline follows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.db import Database
from fleet.models import (
    Asset,
    AssetStatus,
    DetectedBy,
    MaintenancePeriod,
    OperatingState,
    Outage,
    User,
    Visit,
    VisitKind,
    VisitStatus,
)
from fleet.status import StatusUpdate
from portal.access import NotVisible, Scope
from portal.assets import timeline
from portal.kpi import availability_windows
from portal.maintenance import visits
from portal.maintenance.visits import Report, TrackerPath
from portal.refusal import Refused
from tests.portal.world import World, build_world

NOW = datetime(2026, 5, 12, 9, 0, tzinfo=UTC)
PATH = TrackerPath(timedelta(minutes=5))
REPORT = Report("Doors adjusted, rollers cleaned", "2 door rollers", "Wear on the landing door", None, True)


@pytest.fixture
def world(db: Database) -> Iterator[tuple[Session, World]]:
    with db.session() as session:
        w = build_world(session)
        asset = session.get(Asset, w.asset_a)
        assert asset is not None
        PATH.tracker.apply(  # the gateway said it works, the day before
            session,
            asset.id,
            StatusUpdate(
                asset.mqtt_id,
                int((NOW - timedelta(days=1)).timestamp() * 1000),
                OperatingState.IN_SERVICE,
                None,
            ),
            NOW - timedelta(days=1),
        )
        yield session, w


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    assert user is not None
    return user


def _visit(
    session: Session, w: World, *, start: datetime = NOW, tech: int | None = None, **kw: object
) -> Visit:
    values: dict[str, object] = {"kind": VisitKind.PREVENTIVE, "summary": "Monthly", **kw}
    visit = Visit(
        asset_id=w.asset_a,
        status=VisitStatus.SCHEDULED,
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=2),
        technician_id=tech or w.tech_a,
        **values,
    )
    session.add(visit)
    session.flush()
    return visit


def _check_in(
    session: Session, w: World, visit: Visit, at: datetime = NOW, user: int | None = None
) -> list[object]:
    tech = _user(session, user or w.tech_a)
    return visits.check_in(session, visit, tech, Scope.for_user(tech), at, PATH)


def _check_out(
    session: Session, w: World, visit: Visit, at: datetime, report: Report = REPORT
) -> list[object]:
    tech = _user(session, w.tech_a)
    return visits.check_out(session, visit, tech, Scope.for_user(tech), report, at, PATH)


def test_a_preventive_visit_is_maintenance_not_an_outage(world: tuple[Session, World]) -> None:
    session, w = world
    visit = _visit(session, w)
    events = _check_in(session, w, visit, NOW + timedelta(minutes=5))
    assert visit.status is VisitStatus.IN_PROGRESS
    assert visit.checked_in_at == NOW + timedelta(minutes=5)
    status = session.get(AssetStatus, w.asset_a)
    assert status is not None
    assert status.state is OperatingState.MAINTENANCE
    assert [e.kind for e in events] == ["status"]
    _check_out(session, w, visit, NOW + timedelta(hours=2, minutes=5))
    assert (visit.status, visit.report, visit.parts) == (
        VisitStatus.COMPLETED,
        REPORT.work_done,
        REPORT.parts,
    )
    session.refresh(status)
    assert status.state is OperatingState.IN_SERVICE
    periods = session.scalars(select(MaintenancePeriod).where(MaintenancePeriod.asset_id == w.asset_a)).all()
    assert [(p.started_at, p.ended_at) for p in periods] == [
        (NOW + timedelta(minutes=5), NOW + timedelta(hours=2, minutes=5))
    ]
    assert session.scalars(select(Outage)).all() == []
    day = availability_windows(session, [w.asset_a], [NOW - timedelta(hours=12)], NOW + timedelta(hours=12))
    figures = day[NOW - timedelta(hours=12)][w.asset_a]
    assert figures.percent == 100.0  # maintenance is excluded from availability
    assert figures.maintenance == timedelta(hours=2)


@pytest.mark.parametrize(
    "case", ["double", "without", "other_tech", "overlap", "too_early", "cancelled", "not_tech"]
)
def test_bad_moves_are_refused_and_change_nothing(world: tuple[Session, World], case: str) -> None:
    session, w = world
    visit = _visit(session, w)
    expected = 409
    if case == "double":
        _check_in(session, w, visit)
        with pytest.raises(Refused, match="already checked in") as exc:
            _check_in(session, w, visit, NOW + timedelta(minutes=1))
    elif case == "without":
        with pytest.raises(Refused, match="Check in before") as exc:
            _check_out(session, w, visit, NOW)
    elif case == "other_tech":
        other = Refused  # a second technician on the same site
        from fleet.models import StakeholderGroup
        from portal.auth.service import create_user

        rival = create_user(
            session,
            email="rival@test.example",
            name="Rival",
            password="correct horse battery staple",
            group=StakeholderGroup.FIELD_TECHNICIAN,
            site_ids=[w.site_a],
        )
        with pytest.raises(other) as exc:
            _check_in(session, w, visit, user=rival.id)
        expected = 403
    elif case == "overlap":
        first = _visit(session, w, start=NOW - timedelta(hours=1))
        _check_in(session, w, first, NOW - timedelta(minutes=50))
        with pytest.raises(Refused, match="check out there first") as exc:
            _check_in(session, w, visit)
    elif case == "too_early":
        later = _visit(session, w, start=NOW + timedelta(days=3))
        with pytest.raises(Refused, match="planned later") as exc:
            _check_in(session, w, later)
        visit = later
    elif case == "cancelled":
        visit.status = VisitStatus.CANCELLED
        with pytest.raises(Refused, match="cannot be started") as exc:
            _check_in(session, w, visit)
    else:
        hoa = _user(session, w.hoa_a)
        with pytest.raises(Refused, match="Only field technicians") as exc:
            visits.check_in(session, visit, hoa, Scope.for_user(hoa), NOW, PATH)
        expected = 403
    assert exc.value.status == expected
    status = session.get(AssetStatus, w.asset_a)
    assert status is not None
    if case not in ("double", "overlap"):
        assert status.state is OperatingState.IN_SERVICE  # nothing changed


def test_an_empty_report_is_refused() -> None:
    with pytest.raises(Refused, match="what was done"):
        visits.parse_report({"work_done": " "})
    with pytest.raises(Refused, match="under 4000"):
        visits.parse_report({"work_done": "x" * 4001})
    with pytest.raises(Refused, match="back in service"):
        visits.parse_report({"work_done": "fixed", "state_after": "flying"})
    assert (
        visits.parse_report({"work_done": "fixed", "state_after": "out_of_service"}).back_in_service is False
    )
    with pytest.raises(Refused) as every:  # every problem at once, by field
        visits.parse_report({"work_done": "", "parts": "p" * 4001, "state_after": "flying"})
    assert set(every.value.errors) == {"work_done", "parts", "state_after"}


def test_two_check_ins_at_once_one_wins(db: Database) -> None:
    with db.session() as session:
        w = build_world(session)
        visit_id = _visit(session, w).id
    with db.session() as first, db.session() as second:
        a = first.get(Visit, visit_id)
        b = second.get(Visit, visit_id)
        assert a is not None
        assert b is not None
        _check_in(first, w, a)
        first.commit()
        with pytest.raises(Refused) as lost:
            _check_in(second, w, b, NOW + timedelta(seconds=1))  # still shows "scheduled" in its session
        assert lost.value.status == 409
        second.rollback()
    with db.session() as session:
        visit = session.get(Visit, visit_id)
        assert visit is not None
        assert visit.checked_in_at == NOW


def test_a_repair_keeps_the_outage_open_until_the_technician_leaves(world: tuple[Session, World]) -> None:
    session, w = world
    asset = session.get(Asset, w.asset_a)
    assert asset is not None
    down_at = NOW - timedelta(hours=1)
    PATH.tracker.apply(
        session,
        asset.id,
        StatusUpdate(
            asset.mqtt_id, int(down_at.timestamp() * 1000), OperatingState.OUT_OF_SERVICE, "door_lock"
        ),
        down_at,
    )
    outage = session.scalars(select(Outage).where(Outage.asset_id == asset.id)).one()
    assert [s.done for s in timeline.steps(session, outage)] == [True, False, False, False, False]
    outage.technician_id, outage.assigned_at, outage.eta = w.tech_a, NOW - timedelta(minutes=50), NOW
    repair = visits.repair_visit(session, outage)
    assert (repair.kind, repair.technician_id, repair.outage_id) == (VisitKind.REPAIR, w.tech_a, outage.id)
    assert visits.repair_visit(session, outage).id == repair.id  # dispatching again moves the same visit
    _check_in(session, w, repair, NOW + timedelta(minutes=10))
    status = session.get(AssetStatus, asset.id)
    assert status is not None
    assert status.state is OperatingState.OUT_OF_SERVICE  # still down: not maintenance
    assert outage.ended_at is None
    assert outage.on_site_at == NOW + timedelta(minutes=10)
    steps = timeline.steps(session, outage)
    assert [s.done for s in steps] == [True, True, True, False, False]
    assert steps[1].eta == NOW
    _check_out(session, w, repair, NOW + timedelta(minutes=70))
    session.refresh(outage)
    assert outage.ended_at == NOW + timedelta(minutes=70)
    assert [s.done for s in timeline.steps(session, outage)] == [True, True, True, True, True]
    assert timeline.current_outage(session, asset.id, NOW + timedelta(days=6)) is outage
    assert timeline.current_outage(session, asset.id, NOW + timedelta(days=8)) is None


def test_a_reported_outage_is_closed_by_the_technician(world: tuple[Session, World]) -> None:
    session, w = world
    outage = Outage(asset_id=w.asset_a, started_at=NOW - timedelta(hours=2), detected_by=DetectedBy.REPORT)
    session.add(outage)
    session.flush()
    visit = _visit(session, w, kind=VisitKind.REPAIR)
    _check_in(session, w, visit)
    assert outage.on_site_at == NOW
    events = _check_out(session, w, visit, NOW + timedelta(hours=1))
    assert outage.ended_at == NOW + timedelta(hours=1)
    closed = [e for e in events if e.kind == "outage_closed"]
    assert [(e.asset_id, e.outage_id, e.ts, e.state) for e in closed] == [
        (w.asset_a, outage.id, (NOW + timedelta(hours=1)).isoformat(), "in_service")
    ]


def test_leaving_it_out_of_service_opens_an_outage(world: tuple[Session, World]) -> None:
    session, w = world
    visit = _visit(session, w)
    _check_in(session, w, visit)
    _check_out(
        session, w, visit, NOW + timedelta(hours=1), Report("Brake worn", None, None, "Replace brake", False)
    )
    outage = session.scalars(select(Outage).where(Outage.asset_id == w.asset_a)).one()
    assert (outage.started_at, outage.ended_at) == (NOW + timedelta(hours=1), None)


def test_hoa_presidents_ask_to_meet_the_technician(world: tuple[Session, World]) -> None:
    session, w = world
    visit = _visit(session, w, start=NOW + timedelta(days=2))
    hoa, tech, fm_b = _user(session, w.hoa_a), _user(session, w.tech_a), _user(session, w.fm_b)
    visits.request_meeting(session, visit, hoa, Scope.for_user(hoa), "  Parking code 1234  ", NOW)
    assert (visit.meet_requested_by, visit.meet_note) == (w.hoa_a, "Parking code 1234")
    with pytest.raises(Refused) as tech_asks:
        visits.request_meeting(session, visit, tech, Scope.for_user(tech), "", NOW)
    assert tech_asks.value.status == 403
    with pytest.raises(NotVisible):  # another customer's visit does not exist for them
        visits.request_meeting(session, visit, fm_b, Scope.for_user(fm_b), "", NOW)
    fm_a = _user(session, w.fm_a)
    with pytest.raises(Refused, match="already asked"):
        visits.request_meeting(session, visit, fm_a, Scope.for_user(fm_a), "", NOW)
    with pytest.raises(Refused, match="only before the visit"):
        visits.request_meeting(session, visit, hoa, Scope.for_user(hoa), "", NOW + timedelta(days=3))
    with pytest.raises(Refused, match="under 500"):
        visits.request_meeting(session, visit, hoa, Scope.for_user(hoa), "x" * 501, NOW)
    assert visits.todays_visits(session, tech, NOW + timedelta(days=1, hours=12)) == [visit]
