"""The satisfaction dashboard: per-group scores and drivers on hand-computed fixtures, access,
filters and CSV exports, and the survey card through HTTP."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.db import Database
from fleet.models import (
    Asset,
    AssetKind,
    Audience,
    Customer,
    DetectedBy,
    Feedback,
    FeedbackStatus,
    FollowUp,
    Moment,
    Outage,
    Site,
    SurveyKind,
    SurveyPrompt,
    SurveyResponse,
    User,
    Visit,
    VisitKind,
    VisitStatus,
)
from portal.access import Scope
from portal.assets import views
from portal.kpi import kpi_table, levers
from portal.satisfaction import dashboard
from portal.satisfaction.dashboard import BadFilter, Filters, band_of, pearson
from tests.portal.world import NOW, World, build_world


@pytest.fixture
def world(db: Database) -> Iterator[tuple[Session, World]]:
    with db.session() as session:
        yield session, build_world(session)


def _respond(
    session: Session,
    w: World,
    group: Audience,
    kind: SurveyKind,
    scores: list[int],
    *,
    customer: str = "a",
    at: datetime = NOW - timedelta(days=3),
    asset: bool = True,
) -> None:
    for i, score in enumerate(scores):
        session.add(
            SurveyResponse(
                kind=kind,
                score=score,
                group=group,
                respondent_key=f"{group.value}-{kind.value}-{customer}-{i}-{at:%m}",
                customer_id=w.customer_a if customer == "a" else w.customer_b,
                site_id=(w.site_a if customer == "a" else w.site_b),
                asset_id=(w.asset_a if customer == "a" else w.asset_b) if asset else None,
                moment=Moment.OUTAGE_CLOSED,
                moment_key=f"m-{i}",
                moment_at=at,
                created_at=at,
            )
        )
    session.flush()


def test_scores_are_computed_per_group(world: tuple[Session, World]) -> None:
    session, w = world
    _respond(session, w, Audience.FACILITY_MANAGER, SurveyKind.CSAT, [5, 4, 2, 1])  # 2 of 4 satisfied
    _respond(session, w, Audience.FACILITY_MANAGER, SurveyKind.NPS, [10, 9, 6])  # (2 - 1) / 3
    _respond(session, w, Audience.FACILITY_MANAGER, SurveyKind.CES, [7, 5, 3])  # mean 5, 2 of 3 easy
    _respond(session, w, Audience.HOA_PRESIDENT, SurveyKind.NPS, [0, 3, 6, 6])  # only detractors
    _respond(session, w, Audience.RESIDENT, SurveyKind.NPS, [9, 10], customer="b")  # only promoters
    board = dashboard.build(session, Scope(everything=True), Filters(months=3), NOW)
    by_group = {g.group: g for g in board.groups}
    fm = by_group[Audience.FACILITY_MANAGER]
    assert (fm.csat.value, fm.csat.responses) == (50.0, 4)
    assert fm.nps.value == pytest.approx(100 / 3)
    assert (fm.ces_mean.value, fm.ces_easy.value) == (5.0, pytest.approx(200 / 3))
    assert by_group[Audience.HOA_PRESIDENT].nps.value == -100.0
    assert by_group[Audience.RESIDENT].nps.value == 100.0
    assert by_group[Audience.FIELD_TECHNICIAN].responses == 0
    assert fm.csat.small_sample  # 4 answers: flagged
    assert board.total == 16
    # the month of the answers carries them all; the other months are empty
    trend = next(t for t in board.trends if t.group is Audience.FACILITY_MANAGER)
    assert [s.csat.responses for s in trend.scores] == [0, 0, 4]
    assert [m.month for m in board.months] == [4, 5, 6]


def test_a_facility_manager_sees_only_their_customers_answers(world: tuple[Session, World]) -> None:
    session, w = world
    _respond(session, w, Audience.FACILITY_MANAGER, SurveyKind.CSAT, [5, 5])
    _respond(session, w, Audience.FACILITY_MANAGER, SurveyKind.CSAT, [1, 1, 1], customer="b")
    _respond(session, w, Audience.HOA_PRESIDENT, SurveyKind.NPS, [2], customer="b", asset=False)
    fm_a = session.get(User, w.fm_a)
    assert fm_a is not None
    board = dashboard.build(session, Scope.for_user(fm_a), Filters(months=3), NOW)
    assert board.total == 2
    assert board.groups[0].csat.value == 100.0
    # a resident link sees no aggregate at all
    resident = dashboard.build(session, Scope.for_resident(w.asset_a), Filters(months=3), NOW)
    assert resident.total == 0


def test_a_kind_filter_keeps_the_answers_about_units_of_that_kind(world: tuple[Session, World]) -> None:
    """Answers about an elevator count under "elevator"; under "escalator" nothing does, and
    site-wide answers (no unit) count under no kind, as in the responses' export."""
    session, w = world
    _respond(session, w, Audience.FACILITY_MANAGER, SurveyKind.CSAT, [5, 4, 1])
    _respond(session, w, Audience.HOA_PRESIDENT, SurveyKind.NPS, [9, 2], asset=False)
    everything = Scope(everything=True)
    elevators = dashboard.build(session, everything, Filters(months=3, asset_kind=AssetKind.ELEVATOR), NOW)
    assert elevators.total == 3
    assert elevators.groups[0].csat.responses == 3
    assert dashboard.build(session, everything, Filters(months=3), NOW).total == 5
    escalators = dashboard.build(session, everything, Filters(months=3, asset_kind=AssetKind.ESCALATOR), NOW)
    assert escalators.total == 0
    exported = session.execute(
        dashboard.responses_query(
            everything, Filters(months=3, asset_kind=AssetKind.ELEVATOR), NOW - timedelta(days=90), NOW
        )
    ).all()
    assert len(exported) == 3


def test_drivers_relate_answers_to_availability(world: tuple[Session, World]) -> None:
    session, w = world
    # customer B's elevator was down 24 h in the 30 days before its answers; A's never
    session.add(
        Outage(
            asset_id=w.asset_b,
            started_at=NOW - timedelta(days=10),
            ended_at=NOW - timedelta(days=9),
            detected_by=DetectedBy.SENSOR,
        )
    )
    _respond(
        session, w, Audience.FACILITY_MANAGER, SurveyKind.CSAT, [5, 5, 4, 4, 5, 4], at=NOW - timedelta(days=1)
    )
    _respond(
        session,
        w,
        Audience.FACILITY_MANAGER,
        SurveyKind.CSAT,
        [1, 2, 2, 3, 1, 2],
        customer="b",
        at=NOW - timedelta(days=1),
    )
    board = dashboard.build(session, Scope(everything=True), Filters(months=3), NOW)
    fm = next(d for d in board.drivers if d.group is Audience.FACILITY_MANAGER)
    bands = {b.label: b.csat for b in fm.bands}
    assert (bands["≥ 99.5 %"].value, bands["≥ 99.5 %"].responses) == (100.0, 6)
    assert (bands["< 99 %"].value, bands["< 99 %"].responses) == (0.0, 6)  # 24 h of 720 h: 96.7 %
    csat = next(r for r in fm.relations if r.kind is SurveyKind.CSAT)
    assert csat.n == 12
    assert csat.r is not None
    assert csat.r > 0.8
    assert csat.strength == "strong_positive"
    nps = next(r for r in fm.relations if r.kind is SurveyKind.NPS)
    assert nps.strength == "unknown"  # no answers: never interpreted
    assert fm.levers.outages == 1
    assert fm.levers.mttr == timedelta(hours=24)


def test_pearson_and_bands_on_hand_computed_values() -> None:
    assert pearson([(1, 2), (2, 4), (3, 6)]) == pytest.approx(1.0)
    assert pearson([(1, 3), (2, 2), (3, 1)]) == pytest.approx(-1.0)
    assert pearson([(1, 1), (2, 3), (3, 2)]) == pytest.approx(0.5)
    assert pearson([(1, 1), (2, 1), (3, 1)]) is None  # no spread
    assert pearson([(1, 1), (2, 2)]) is None  # too few
    assert [band_of(v) for v in (100.0, 99.5, 99.49, 99.0, 98.99)] == [
        "≥ 99.5 %",
        "≥ 99.5 %",
        "99–99.5 %",
        "99–99.5 %",
        "< 99 %",
    ]


def test_levers_on_a_hand_computed_fixture(world: tuple[Session, World]) -> None:
    session, w = world
    start, end = NOW - timedelta(days=30), NOW
    session.add_all(
        [
            Outage(
                asset_id=w.asset_a,
                started_at=start + timedelta(days=1),
                ended_at=start + timedelta(days=1, hours=2),
                on_site_at=start + timedelta(days=1, minutes=40),
            ),
            Outage(
                asset_id=w.asset_a,
                started_at=start + timedelta(days=5),
                ended_at=start + timedelta(days=5, hours=4),
                on_site_at=start + timedelta(days=5, minutes=80),
            ),
        ]
    )
    for n, late in enumerate([False, False, False, True]):
        due = start + timedelta(days=3 + n)
        session.add(
            Visit(
                asset_id=w.asset_a,
                kind=VisitKind.PREVENTIVE,
                status=VisitStatus.COMPLETED,
                scheduled_start=due - timedelta(hours=2),
                scheduled_end=due,
                summary="x",
                checked_in_at=due + timedelta(minutes=30) if late else due - timedelta(hours=1),
            )
        )
    for hours in (2, 10):
        session.add(
            Feedback(
                site_id=w.site_a,
                asset_id=w.asset_a,
                author_group=Audience.RESIDENT,
                text="x",
                submission_id=f"s{hours:031d}",
                status=FeedbackStatus.RESOLVED,
                created_at=start + timedelta(days=2),
                resolved_at=start + timedelta(days=2, hours=hours),
            )
        )
    session.flush()
    lv = levers(session, [w.asset_a], start, end)
    assert lv.outages == 2
    assert lv.mttr == timedelta(hours=3)
    assert lv.availability == pytest.approx(100 * (720 - 6) / 720)
    assert lv.callbacks_per_unit_year == pytest.approx(2 * 365 / 30)
    assert (lv.visits_due, lv.visits_on_time) == (4, 75.0)
    assert (lv.feedback_resolved, lv.feedback_median_resolution) == (2, timedelta(hours=6))
    assert lv.mtbf == timedelta(hours=(720 - 6) / 2)  # in-service time ÷ outages
    assert (lv.response_time, lv.responses) == (timedelta(minutes=60), 2)  # (40 + 80) / 2
    assert (lv.target, lv.meeting_target) == (99.5, 0)  # 99.17 % is below the 99.5 % target
    rows = kpi_table(
        session,
        [(w.asset_a, "A1", w.site_a, "Site A", w.customer_a, "Customer A"),
         (w.asset_b, "B1", w.site_b, "Site B", w.customer_b, "Customer B")],
        start,
        end,
    )  # fmt: skip
    assert [(r.level, r.name) for r in rows] == [
        ("customer", "Customer A"), ("site", "Site A"), ("asset", "A1"),
        ("customer", "Customer B"), ("site", "Site B"), ("asset", "B1"),
    ]  # fmt: skip
    assert rows[0].levers.availability == lv.availability
    assert (rows[5].levers.availability, rows[5].levers.mtbf, rows[5].levers.meeting_target) == (
        100.0,
        None,
        1,
    )


@pytest.mark.parametrize(
    "args",
    [{"months": "5"}, {"months": "abc"}, {"kind": "rocket"}, {"customer": "x1"}, {"site": "-3"}],
)
def test_bad_filters_are_named(args: dict[str, str]) -> None:
    with pytest.raises(BadFilter):
        Filters.parse(args)


def test_period_is_whole_months_up_to_now() -> None:
    start, end, months = dashboard.period(3, datetime(2026, 1, 20, tzinfo=UTC))
    assert start == datetime(2025, 11, 1, tzinfo=UTC)
    assert end == datetime(2026, 1, 20, tzinfo=UTC)
    assert [m.month for m in months] == [11, 12, 1]


# --- through HTTP, on the demo data -------------------------------------------------------------
def test_dashboard_access_per_group(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    staff = login("staff@demo.example")
    assert staff.get("/satisfaction").status_code == 200
    fm = login("fm@demo.example")
    page = fm.get("/satisfaction")
    assert page.status_code == 200
    assert b'id="f-customer"' not in page.data  # one customer: no customer filter
    with app.app_context():
        db = app.extensions["fleet.db"]
        with db.session() as s:
            other = s.scalars(select(Customer).where(Customer.name == "Habitat Rhône-Léman")).one().id
            other_site = s.scalars(select(Site).where(Site.customer_id == other)).first().id  # type: ignore[union-attr]
    assert fm.get(f"/satisfaction?customer={other}").status_code == 404
    assert fm.get(f"/satisfaction?site={other_site}").status_code == 404
    assert fm.get(f"/satisfaction/responses.csv?customer={other}").status_code == 404
    assert fm.get("/satisfaction?months=7").status_code == 400
    for email in ("hoa.tilleuls@demo.example", "tech@demo.example"):
        client = login(email)
        for path in (
            "/satisfaction",
            "/satisfaction/responses.csv",
            "/satisfaction/groups.csv",
            "/satisfaction/follow-ups",
        ):
            assert client.get(path).status_code == 403, (email, path)
    assert fm.get("/satisfaction/follow-ups").status_code == 403
    assert app.test_client().get("/satisfaction").status_code == 302  # to the login page


def _rows(client: FlaskClient, path: str) -> list[dict[str, str]]:
    resp = client.get(path)
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))


def test_kpi_page_per_group(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    staff = login("staff@demo.example").get("/kpis?period=365d")
    assert staff.status_code == 200
    assert staff.data.count(b'data-level="customer"') == 2
    fm = login("fm@demo.example").get("/kpis")
    assert fm.data.count(b'data-level="customer"') == 1
    assert b"Habitat" not in fm.data
    assert fm.data.count(b'data-kpi="mtbf"') == 1 + 2 + 16  # customer, 2 sites, 16 units
    assert login("fm@demo.example").get("/kpis?period=2y").status_code == 400
    assert login("hoa.tilleuls@demo.example").get("/kpis").status_code == 403
    assert login("tech@demo.example").get("/kpis").status_code == 403


def test_a_large_kpi_table_lists_sites_and_a_site_s_units_on_its_own_page(
    app: Flask, login: Callable[[str], FlaskClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "KPI_UNIT_ROWS", 10)  # the demo's 16 units count as many here
    fm = login("fm@demo.example")
    page = fm.get("/kpis").get_data(as_text=True)
    assert page.count('data-level="asset"') == 0
    assert page.count('data-level="site"') == 2
    assert "16 équipements : choisissez un site" in page  # Claire Martin reads French
    with app.app_context():
        session = app.extensions["fleet.db"].scoped
        mine = session.scalar(select(Site).join(Customer).where(Customer.name.like("%Lumi%")).limit(1))
        other = session.scalar(select(Site).join(Customer).where(Customer.name.like("%Habitat%")).limit(1))
        assert mine is not None
        assert other is not None
        mine_id, mine_name, other_id = mine.id, mine.name, other.id
    assert f"/kpis?period=90d&amp;site={mine_id}" in page
    one = fm.get(f"/kpis?period=365d&site={mine_id}").get_data(as_text=True)
    assert f"Équipements de {mine_name}." in one
    assert one.count('data-level="site"') == 1
    assert one.count('data-level="asset"') >= 1
    assert fm.get(f"/kpis?site={other_id}").status_code == 404  # another customer's site, like a missing one
    assert fm.get("/kpis?site=x1").status_code == 400


def test_csv_exports_follow_scope_and_filters(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    staff, fm = login("staff@demo.example"), login("fm@demo.example")
    everything = _rows(staff, "/satisfaction/responses.csv")
    own = _rows(fm, "/satisfaction/responses.csv")
    assert 0 < len(own) < len(everything)
    assert {r["customer"] for r in own} == {"Lumière Immobilier"}
    assert {r["group"] for r in everything} >= {"facility_manager", "hoa_president", "resident"}
    assert all(r["question"] in {"csat", "ces", "nps"} and r["score"].isdigit() for r in everything)
    recent = _rows(staff, "/satisfaction/responses.csv?months=3")
    assert len(recent) < len(everything)
    groups = _rows(fm, "/satisfaction/groups.csv")
    assert [g["group"] for g in groups] == [
        "facility_manager",
        "hoa_president",
        "field_technician",
        "resident",
    ]
    fm_row = groups[0]
    assert int(fm_row["csat_n"]) == sum(
        1 for r in own if r["group"] == "facility_manager" and r["question"] == "csat"
    )


def test_csv_cells_never_run_as_formulas(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    with app.app_context():
        db = app.extensions["fleet.db"]
        with db.session() as s:
            # the newest answer: the export covers whole months up to today, whatever today is
            newest = select(SurveyResponse).where(SurveyResponse.comment.is_(None))
            r = s.scalars(newest.order_by(SurveyResponse.created_at.desc()).limit(1)).one()
            r.comment = '=HYPERLINK("http://evil.example","click")'
            rid = r.id
    try:
        rows = _rows(login("staff@demo.example"), "/satisfaction/responses.csv")
        assert '\'=HYPERLINK("http://evil.example","click")' in {row["comment"] for row in rows}
    finally:
        with app.app_context(), app.extensions["fleet.db"].session() as s:
            s.get(SurveyResponse, rid).comment = None  # type: ignore[union-attr]


def _pending(app: Flask, email: str) -> tuple[int, SurveyKind]:
    """Put a fresh CSAT question after a visit completed an hour ago before ``email``."""
    now = datetime.now(UTC)
    with app.app_context(), app.extensions["fleet.db"].session() as s:
        user = s.scalars(select(User).where(User.email == email)).one()
        site = user.sites[0]
        visit = Visit(
            asset_id=site.assets[0].id,
            kind=VisitKind.PREVENTIVE,
            status=VisitStatus.COMPLETED,
            scheduled_start=now - timedelta(hours=3),
            scheduled_end=now - timedelta(hours=1),
            summary="x",
            checked_in_at=now - timedelta(hours=3),
            checked_out_at=now - timedelta(hours=1),
        )
        s.add(visit)
        s.flush()
        prompt = SurveyPrompt(
            user_id=user.id,
            kind=SurveyKind.CSAT,
            moment=Moment.VISIT_COMPLETED,
            moment_key=f"visit:{visit.id}",
            moment_at=now - timedelta(hours=1),
            customer_id=site.customer_id,
            site_id=site.id,
            asset_id=visit.asset_id,
            created_at=now,
        )
        s.add(prompt)
        s.flush()
        return prompt.id, prompt.kind


def test_the_question_card_through_http(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    pid, kind = _pending(app, "hoa.belvedere@demo.example")
    client = login("hoa.belvedere@demo.example")
    page = client.get("/")
    assert page.status_code == 200
    assert f'action="/surveys/{pid}"'.encode() in page.data
    # out of range, script in the comment: refused with the reason, what was typed kept and escaped
    bad = client.post(f"/surveys/{pid}", data={"score": "6", "comment": "<script>alert(1)</script>"})
    assert bad.status_code == 400
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in bad.data
    assert b"<script>alert(1)" not in bad.data
    # another account cannot answer it
    assert login("fm@demo.example").post(f"/surveys/{pid}", data={"score": "1"}).status_code == 404
    ok = client.post(
        f"/surveys/{pid}", data={"score": "5", "comment": "<b>bien</b>", "next": "//evil.example/"}
    )
    assert ok.status_code == 302
    assert ok.headers["Location"] == "/"  # never off-site
    again = client.post(f"/surveys/{pid}", data={"score": "5"})
    assert again.status_code == 409
    with app.app_context(), app.extensions["fleet.db"].session() as s:
        answers = list(s.scalars(select(SurveyResponse).where(SurveyResponse.prompt_id == pid)))
        assert len(answers) == 1
        assert (answers[0].kind, answers[0].group, answers[0].comment) == (
            kind,
            Audience.HOA_PRESIDENT,
            "<b>bien</b>",
        )
    assert b"survey-card" not in client.get("/").data  # one question a day


def _pending_nps(app: Flask, email: str) -> int:
    """Put a periodic NPS question before ``email``."""
    now = datetime.now(UTC)
    with app.app_context(), app.extensions["fleet.db"].session() as s:
        user = s.scalars(select(User).where(User.email == email)).one()
        customer_id = user.customer_id or user.sites[0].customer_id
        prompt = SurveyPrompt(
            user_id=user.id, kind=SurveyKind.NPS, moment=Moment.PERIODIC, moment_key="nps:test-ranking",
            moment_at=now, customer_id=customer_id, created_at=now,
        )  # fmt: skip
        s.add(prompt)
        s.flush()
        return prompt.id


def _ranked(app: Flask, client: FlaskClient, pid: int, score: str) -> tuple[int, int | None, int | None]:
    """Answer ``pid`` with ``score`` and a ranking of 1st of 2; what was stored."""
    sent = client.post(f"/surveys/{pid}", data={"score": score, "providers": "2", "provider_rank": "1"})
    assert sent.status_code == 302
    with app.app_context(), app.extensions["fleet.db"].session() as s:
        answer = s.scalars(select(SurveyResponse).where(SurveyResponse.prompt_id == pid)).one()
        return answer.score, answer.providers, answer.provider_rank


def test_facility_managers_rank_their_providers_on_the_periodic_question(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    pid = _pending_nps(app, "fm.habitat@demo.example")
    client = login("fm.habitat@demo.example")
    page = client.get(f"/surveys/{pid}").get_data(as_text=True)
    assert 'name="providers"' in page
    assert 'name="provider_rank"' in page
    bad = client.post(f"/surveys/{pid}", data={"score": "8", "providers": "2", "provider_rank": "3"})
    assert bad.status_code == 400
    assert "Notre rang ne peut pas dépasser le nombre de prestataires" in bad.get_data(as_text=True)  # French
    assert 'value="3" selected' in bad.get_data(as_text=True)  # what was chosen is kept
    assert _ranked(app, client, pid, "8") == (8, 2, 1)

    hoa_pid = _pending_nps(app, "hoa.montroyal@demo.example")  # HOA presidents are not asked
    hoa = login("hoa.montroyal@demo.example")
    assert 'name="providers"' not in hoa.get(f"/surveys/{hoa_pid}").get_data(as_text=True)
    assert _ranked(app, hoa, hoa_pid, "9") == (9, None, None)  # what was sent anyway is not kept


def test_dismissing_through_http(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    pid, _ = _pending(app, "hoa.lac@demo.example")
    client = login("hoa.lac@demo.example")
    assert b"survey-card" in client.get("/").data
    assert (
        client.post(f"/surveys/{pid}/dismiss", data={"next": "/portfolio"}).headers["Location"]
        == "/portfolio"
    )
    assert b"survey-card" not in client.get("/").data
    assert client.post(f"/surveys/{pid}", data={"score": "3"}).status_code == 409


def test_resident_question_on_the_cabin_page(app: Flask) -> None:
    with app.app_context(), app.extensions["fleet.db"].session() as s:
        outage = s.scalars(select(Outage).where(Outage.ended_at.is_not(None)).order_by(Outage.id)).first()
        assert outage is not None
        outage.ended_at = datetime.now(UTC) - timedelta(hours=2)  # just back in service
        token, key = outage.asset.public_token, f"outage:{outage.id}"
    client = app.test_client()
    page = client.get(f"/r/{token}")
    assert b"survey-card" in page.data
    assert key.encode() in page.data
    assert client.post(f"/r/{token}/survey", data={"moment_key": key, "score": "9"}).status_code == 400
    assert (
        client.post(f"/r/{token}/survey", data={"moment_key": "outage:999999", "score": "5"}).status_code
        == 400
    )
    done = client.post(f"/r/{token}/survey", data={"moment_key": key, "score": "5", "comment": "Merci"})
    assert done.status_code == 302
    assert b"survey-card" not in client.get(f"/r/{token}").data  # this browser answered
    assert client.post(f"/r/{token}/survey", data={"moment_key": key, "score": "5"}).status_code == 409
    other = app.test_client()
    assert b"survey-card" in other.get(f"/r/{token}").data
    assert other.post(f"/r/{token}/survey/dismiss", data={"moment_key": key}).status_code == 302
    assert b"survey-card" not in other.get(f"/r/{token}").data
    assert other.post(f"/r/{token}/survey/dismiss", data={"moment_key": "<x>"}).status_code == 400


def test_demo_has_a_year_of_answers_and_follow_ups(app: Flask) -> None:
    with app.app_context(), app.extensions["fleet.db"].session() as s:
        responses = list(s.scalars(select(SurveyResponse)))
        months = {(r.created_at.year, r.created_at.month) for r in responses}
        assert len(months) >= 11
        assert {r.group for r in responses} >= {
            Audience.FACILITY_MANAGER,
            Audience.HOA_PRESIDENT,
            Audience.RESIDENT,
        }
        assert {r.kind for r in responses} == set(SurveyKind)
        assert s.scalars(select(FollowUp)).first() is not None


def test_a_resident_rates_their_resolved_feedback_through_their_link(app: Flask) -> None:
    with app.app_context(), app.extensions["fleet.db"].session() as s:
        token = s.scalars(select(Asset.public_token).where(Asset.mqtt_id == "ELV-0303")).one()
    resident = app.test_client()
    page = resident.get(f"/r/{token}").get_data(as_text=True)
    submission = page.split('name="submission_id" value="', 1)[1].split('"', 1)[0]
    sent = resident.post(
        f"/r/{token}/feedback", data={"text": "La porte grince fort", "submission_id": submission}
    )
    reader_url = sent.headers["Location"]
    reader = reader_url.rsplit("/", 1)[1]
    assert b"survey-card" not in resident.get(reader_url).data  # not resolved yet: nothing to ask
    with app.app_context(), app.extensions["fleet.db"].session() as s:
        item = s.scalars(select(Feedback).where(Feedback.text == "La porte grince fort")).one()
        item.status, item.resolved_at = FeedbackStatus.RESOLVED, datetime.now(UTC)
        item_id = item.id
    assert b"survey-card" in resident.get(reader_url).data
    action = f"/r/{token}/feedback/{reader}/survey"
    assert resident.post(action, data={"score": "0"}).status_code == 400
    assert (
        app.test_client().post(f"/r/{token}/feedback/{'y' * 32}/survey", data={"score": "1"}).status_code
        == 404
    )
    assert resident.post(action, data={"score": "1", "comment": "Toujours du bruit"}).status_code == 302
    assert resident.post(action, data={"score": "1"}).status_code == 409  # once, however often it is posted
    assert b"survey-card" not in resident.get(reader_url).data
    with app.app_context(), app.extensions["fleet.db"].session() as s:
        response = s.scalars(
            select(SurveyResponse).where(SurveyResponse.moment_key == f"feedback:{item_id}")
        ).one()
        assert (response.group, response.kind, response.moment) == (
            Audience.RESIDENT,
            SurveyKind.CSAT,
            Moment.FEEDBACK_RESOLVED,
        )
        follow_up = s.scalars(select(FollowUp).where(FollowUp.response_id == response.id)).one()
        assert (
            follow_up.reason == "low_csat"
        )  # a resident's CSAT 1 is called back too (if they left a contact)


def test_what_drives_it_shows_each_group_s_fitted_equation(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    html = login("fm@demo.example").get("/satisfaction").get_data(as_text=True)
    fm = html[html.index('data-group="facility_manager"') :]
    fm = fm[: fm.index("</article>")]
    assert "data-equations" in fm
    assert '<p data-question="csat" data-fitted="yes">' in fm  # the demo's 12 months are enough for CSAT
    assert '<p data-question="nps" data-fitted="no">' in fm
    assert "sur 40)" in fm  # "pas assez de réponses (n = … sur 40)": Claire Martin reads French
