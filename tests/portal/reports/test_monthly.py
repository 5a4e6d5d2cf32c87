"""Monthly service reports: the month of each site's calendar, figures equal to the KPI
functions', issued once, e-mailed once per person with the PDF (read back with pdftotext)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devstack.mailcatcher import MailCatcher
from devstack.servers import free_port
from fleet.db import Database
from fleet.models import (
    Audience,
    Channel,
    EventType,
    Feedback,
    FeedbackStatus,
    MaintenancePeriod,
    Moment,
    MonthlyReport,
    Notification,
    NotificationPreference,
    Outage,
    SurveyKind,
    SurveyResponse,
    User,
    Visit,
    VisitKind,
    VisitStatus,
)
from portal.kpi import levers
from portal.notifications.outbox import SmtpSettings, send_due
from portal.reports.monthly import due_reports, issue_due, month_bounds, previous_month
from portal.reports.render import ReportRenderer
from tests.portal.world import World, build_world

PARIS = "Europe/Paris"
# 1 June 2026, 00:30 in Paris (22:30 UTC on 31 May): May has ended for the Paris sites
JUNE_FIRST_PARIS = datetime(2026, 5, 31, 22, 30, tzinfo=UTC)
QUIET = timedelta(minutes=15)
RENDERER = ReportRenderer()


@pytest.mark.parametrize(
    ("month", "tz", "start", "end"),
    [
        # March in Paris: starts in winter time (UTC+1), ends in summer time (UTC+2)
        (
            date(2026, 3, 1),
            PARIS,
            datetime(2026, 2, 28, 23, tzinfo=UTC),
            datetime(2026, 3, 31, 22, tzinfo=UTC),
        ),
        # December: the next month is in the next year
        (
            date(2026, 12, 1),
            PARIS,
            datetime(2026, 11, 30, 23, tzinfo=UTC),
            datetime(2026, 12, 31, 23, tzinfo=UTC),
        ),
        # February of a leap year has 29 days
        (date(2028, 2, 1), "UTC", datetime(2028, 2, 1, tzinfo=UTC), datetime(2028, 3, 1, tzinfo=UTC)),
        # New York's November: summer time ends on the 1st
        (
            date(2026, 11, 1),
            "America/New_York",
            datetime(2026, 11, 1, 4, tzinfo=UTC),
            datetime(2026, 12, 1, 5, tzinfo=UTC),
        ),
    ],
)
def test_a_month_is_the_sites_calendar_month(month: date, tz: str, start: datetime, end: datetime) -> None:
    assert month_bounds(month, tz) == (start, end)


def test_the_month_before_turns_at_local_midnight() -> None:
    new_year_paris = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 January 2027 in Paris
    assert previous_month(new_year_paris, PARIS) == date(2026, 12, 1)
    assert previous_month(new_year_paris, "UTC") == date(2026, 11, 1)  # still 31 December in London
    assert previous_month(datetime(2028, 3, 1, tzinfo=UTC), "UTC") == date(2028, 2, 1)


@pytest.fixture
def world(db: Database) -> Iterator[tuple[Database, World]]:
    with db.session() as session:
        w = build_world(session)
    with db.session() as session:
        _may_history(session, w)
    return db, w


def _may_history(session: Session, w: World) -> None:
    """Two outages (one began in April), a maintenance period, visits, feedback and answers."""
    may = datetime(2026, 5, 1, tzinfo=UTC)
    session.add_all(
        [
            Outage(
                asset_id=w.asset_a,
                started_at=datetime(2026, 4, 30, 20, tzinfo=UTC),
                ended_at=datetime(2026, 4, 30, 23, tzinfo=UTC),
                fault_code="door_lock",
                on_site_at=datetime(2026, 4, 30, 21, tzinfo=UTC),
            ),
            Outage(
                asset_id=w.asset_a,
                started_at=may + timedelta(days=9, hours=8),
                ended_at=may + timedelta(days=9, hours=13),
                fault_code="drive_fault",
                cause="worn brake pads",
                on_site_at=may + timedelta(days=9, hours=9),
            ),
            MaintenancePeriod(
                asset_id=w.asset_a,
                started_at=may + timedelta(days=3, hours=8),
                ended_at=may + timedelta(days=3, hours=10),
            ),
            Visit(
                asset_id=w.asset_a,
                kind=VisitKind.PREVENTIVE,
                status=VisitStatus.COMPLETED,
                scheduled_start=may + timedelta(days=3, hours=7),
                scheduled_end=may + timedelta(days=3, hours=9),
                checked_in_at=may + timedelta(days=3, hours=7, minutes=5),
                checked_out_at=may + timedelta(days=3, hours=9),
                summary="Quarterly service",
                report="Doors adjusted, ropes checked.",
            ),
            Visit(
                asset_id=w.asset_a,
                kind=VisitKind.INSPECTION,
                status=VisitStatus.SCHEDULED,
                scheduled_start=datetime(2026, 6, 10, 7, tzinfo=UTC),
                scheduled_end=datetime(2026, 6, 10, 9, tzinfo=UTC),
                summary="Safety inspection",
            ),
            Feedback(
                site_id=w.site_a,
                asset_id=w.asset_a,
                author_group=Audience.RESIDENT,
                text="Noisy doors",
                submission_id="s-1",
                created_at=may + timedelta(days=2),
                last_activity_at=may + timedelta(days=2),
                status=FeedbackStatus.RESOLVED,
                resolved_at=may + timedelta(days=4),
            ),
            Feedback(
                site_id=w.site_a,
                asset_id=None,
                author_group=Audience.HOA_PRESIDENT,
                text="Thanks",
                submission_id="s-2",
                created_at=may + timedelta(days=20),
                last_activity_at=may + timedelta(days=20),
            ),
        ]
    )
    for n, (group, kind, score) in enumerate(
        [
            (Audience.FACILITY_MANAGER, SurveyKind.CSAT, 5),
            (Audience.FACILITY_MANAGER, SurveyKind.CSAT, 2),
            (Audience.HOA_PRESIDENT, SurveyKind.NPS, 9),
            (Audience.HOA_PRESIDENT, SurveyKind.CES, 6),
        ]
    ):
        at = may + timedelta(days=10 + n)
        session.add(
            SurveyResponse(
                kind=kind,
                score=score,
                group=group,
                respondent_key=f"r-{n}",
                customer_id=w.customer_a,
                site_id=w.site_a,
                asset_id=w.asset_a,
                moment=Moment.OUTAGE_CLOSED,
                moment_key=f"m-{n}",
                moment_at=at,
                created_at=at,
            )
        )


def _report(session: Session, key: str, month: date) -> MonthlyReport:
    return session.scalars(
        select(MonthlyReport).where(MonthlyReport.scope_key == key, MonthlyReport.month == month)
    ).one()


def test_reports_are_due_once_the_month_has_ended_in_the_sites_time_zone(
    world: tuple[Database, World],
) -> None:
    db, w = world
    with db.session() as session:
        before = {(d.site_id, d.month) for d in due_reports(session, JUNE_FIRST_PARIS - timedelta(hours=1))}
        after = {(d.site_id, d.month) for d in due_reports(session, JUNE_FIRST_PARIS)}
    assert before == {(w.site_a, date(2026, 4, 1)), (w.site_b, date(2026, 4, 1)), (None, date(2026, 4, 1))}
    assert after == {(w.site_a, date(2026, 5, 1)), (w.site_b, date(2026, 5, 1)), (None, date(2026, 5, 1))}


def test_figures_are_the_kpi_functions_figures(world: tuple[Database, World]) -> None:
    db, w = world
    assert (
        issue_due(db.sessionmaker, JUNE_FIRST_PARIS, RENDERER.pdf, quiet=QUIET) == 4
    )  # 2 sites, 2 customers
    start, end = month_bounds(date(2026, 5, 1), PARIS)
    with db.session() as session:
        expected = levers(session, [w.asset_a], start, end)
        for key in (f"site:{w.site_a}", f"customer:{w.customer_a}"):
            report = _report(session, key, date(2026, 5, 1))
            totals = report.figures["totals"]
            assert totals["availability"] == pytest.approx(expected.availability)
            assert totals["outages"] == expected.outages == 2  # the April one ran into 1 May in Paris
            assert totals["mttr_s"] == pytest.approx(expected.mttr.total_seconds())  # type: ignore[union-attr]
            assert totals["visits_on_time"] == expected.visits_on_time
            assert totals["feedback_resolved"] == expected.feedback_resolved == 1
            assert report.figures["units"][0]["availability"] == pytest.approx(expected.availability)
        site = _report(session, f"site:{w.site_a}", date(2026, 5, 1)).figures
    assert [o["cause"] for o in site["outages"]] == [None, "worn brake pads"]
    assert [o["response_s"] for o in site["outages"]] == [3600.0, 3600.0]
    assert [v["status"] for v in site["visits"]] == ["completed"]
    assert [v["summary"] for v in site["next_visits"]] == ["Safety inspection"]
    assert site["feedback"] == {
        "received": 2,
        "by_group": {"resident": 1, "hoa_president": 1},
        "resolved": 1,
        "open_at_end": 1,
    }
    by_group = {s["group"]: s for s in site["satisfaction"]}
    assert by_group["facility_manager"]["csat"] == 50.0
    assert by_group["facility_manager"]["csat_n"] == 2
    assert by_group["hoa_president"]["nps"] == 100.0
    assert by_group["hoa_president"]["ces"] == 6.0
    assert asdict(expected)["assets"] == 1


def _choose_email(session: Session, user_id: int) -> None:
    session.add(
        NotificationPreference(
            user_id=user_id, event=EventType.MONTHLY_REPORT, channel=Channel.EMAIL, enabled=True
        )
    )


def _pdf_text(data: bytes, folder: Path) -> str:
    path = folder / "report.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return " ".join(text.replace("\u202f", " ").split())  # words as read, whatever the line breaks


def test_each_person_gets_each_month_once_by_email_with_the_pdf(
    world: tuple[Database, World], tmp_path: Path
) -> None:
    db, w = world
    with db.session() as session:
        for user_id in (w.fm_a, w.hoa_a, w.tech_a, w.fm_b):
            _choose_email(session, user_id)
        session.get(User, w.hoa_a).locale = "fr"  # type: ignore[union-attr]
    catcher = MailCatcher(free_port()).start()
    smtp = SmtpSettings(host="127.0.0.1", port=catcher.port)
    try:
        for at in (
            JUNE_FIRST_PARIS,
            JUNE_FIRST_PARIS + timedelta(hours=2),
            JUNE_FIRST_PARIS + timedelta(days=1),
        ):
            issue_due(db.sessionmaker, at, RENDERER.pdf, quiet=QUIET)  # the worker's rounds that day
            send_due(db.sessionmaker, smtp, at)
    finally:
        catcher.stop()
    by_person: dict[str, list[str]] = {}
    for message in catcher.messages:
        by_person.setdefault(str(message["To"]), []).append(str(message["Subject"]))
    assert sorted(by_person) == [
        "fm.a@test.example",
        "fm.b@test.example",
        "hoa.a@test.example",
    ]  # no technician
    assert all(len(subjects) == 1 for subjects in by_person.values()), by_person
    fm_mail = next(m for m in catcher.messages if m["To"] == "fm.a@test.example")
    hoa_mail = next(m for m in catcher.messages if m["To"] == "hoa.a@test.example")
    assert "May 2026" in str(fm_mail["Subject"])
    assert "Customer A" in str(fm_mail["Subject"])
    assert "mai 2026" in str(hoa_mail["Subject"])
    assert "Site A" in str(hoa_mail["Subject"])
    (fm_pdf,) = [p for p in fm_mail.walk() if p.get_content_type() == "application/pdf"]
    (hoa_pdf,) = [p for p in hoa_mail.walk() if p.get_content_type() == "application/pdf"]
    with db.session() as session:
        availability = _report(session, f"customer:{w.customer_a}", date(2026, 5, 1)).figures["totals"][
            "availability"
        ]
    fm_text = _pdf_text(fm_pdf.get_payload(decode=True), tmp_path)  # type: ignore[arg-type]
    assert "Customer A · May 2026" in fm_text
    assert f"{availability:.2f} %" in fm_text
    assert "worn brake pads" in fm_text
    assert "Satisfaction by stakeholder group" in fm_text
    hoa_text = _pdf_text(hoa_pdf.get_payload(decode=True), tmp_path)  # type: ignore[arg-type]
    assert "Site A · mai 2026" in hoa_text
    assert f"{availability:.2f} %".replace(".", ",") in hoa_text
    assert "Satisfaction" not in hoa_text  # the plain reading has no scores
    with db.session() as session:
        told = session.scalar(
            select(func.count(Notification.id)).where(Notification.event == EventType.MONTHLY_REPORT)
        )
    assert told == 3  # fm.a, hoa.a, fm.b, and nobody twice


def test_a_second_worker_issues_nothing_twice(world: tuple[Database, World]) -> None:
    db, _w = world
    assert issue_due(db.sessionmaker, JUNE_FIRST_PARIS, RENDERER.pdf, quiet=QUIET) == 4
    assert issue_due(db.sessionmaker, JUNE_FIRST_PARIS + timedelta(minutes=5), RENDERER.pdf, quiet=QUIET) == 0
    assert (
        issue_due(db.sessionmaker, datetime(2026, 6, 30, 22, 30, tzinfo=UTC), RENDERER.pdf, quiet=QUIET) == 4
    )
