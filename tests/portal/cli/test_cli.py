"""The ``flask --app wsgi`` commands: schema, accounts, demo data."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from fleet.models import Asset, AssetKind, Site, StakeholderGroup, User
from portal.app import create_app
from tests.conftest import make_settings


def test_upgrade_demo_and_users_commands(tmp_path: Path) -> None:
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'cli.db'}"))
    runner = app.test_cli_runner()
    for _ in range(2):  # idempotent
        result = runner.invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
    assert "migrations match" in runner.invoke(args=["db", "check"]).output

    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "demo data loaded" in first.output
    for email in ("fm@demo.example", "hoa.tilleuls@demo.example", "tech@demo.example", "staff@demo.example"):
        assert email in first.output
    assert "/r/" in first.output
    second = runner.invoke(args=["demo", "load"])
    assert "already present" in second.output

    with app.extensions["fleet.db"].session() as s:
        assert s.scalar(select(func.count(Site.id))) == 6
        elevators = s.scalar(select(func.count()).where(Asset.kind == AssetKind.ELEVATOR))
        escalators = s.scalar(select(func.count()).where(Asset.kind == AssetKind.ESCALATOR))
        assert (elevators or 0) >= 25
        assert (escalators or 0) >= 2
        years = [d.year for d in s.scalars(select(Asset.install_date))]
        assert min(years) < 1995
        assert max(years) >= 2015
        groups = {u.group for u in s.scalars(select(User))}
        assert groups == set(StakeholderGroup)
        site_id = s.scalars(select(Site.id).where(Site.name == "Résidence Mont-Royal")).one()

    ok = runner.invoke(
        args=["users", "create", "--email", "New.HOA@example.org", "--group", "hoa_president",
              "--site-id", str(site_id), "--password", "a long enough passphrase"],
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "new.hoa@example.org" in ok.output
    dup = runner.invoke(
        args=["users", "create", "--email", "new.hoa@example.org", "--group", "hoa_president",
              "--site-id", str(site_id), "--password", "another long passphrase"],
    )  # fmt: skip
    assert dup.exit_code != 0
    assert "already exists" in dup.output
    weak = runner.invoke(
        args=["users", "create", "--email", "x@example.org", "--group", "facility_manager",
              "--customer-id", "1", "--password", "short"],
    )  # fmt: skip
    assert weak.exit_code != 0
    assert "at least 10" in weak.output
    noscope = runner.invoke(
        args=["users", "create", "--email", "y@example.org", "--group", "facility_manager",
              "--password", "a long enough passphrase"],
    )  # fmt: skip
    assert noscope.exit_code != 0
    assert "needs a customer or a list of sites" in noscope.output
    with app.extensions["fleet.db"].session() as s:
        assert s.scalar(select(func.count()).where(User.email.in_(["x@example.org", "y@example.org"]))) == 0


def test_prune_logins_keeps_recent_attempts(tmp_path: Path) -> None:
    from datetime import timedelta

    from fleet.db import utcnow
    from fleet.models import LoginAttempt

    app = create_app(make_settings(f"sqlite:///{tmp_path / 'cli.db'}"))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with app.extensions["fleet.db"].session() as s:
        for age in (1, 10, 40, 90):
            s.add(
                LoginAttempt(
                    email="a@b.example", ip="127.0.0.1", at=utcnow() - timedelta(days=age), success=False
                )
            )
    result = runner.invoke(args=["users", "prune-logins", "--days", "30"])
    assert result.exit_code == 0, result.output
    assert "removed 2 login attempts" in result.output
    with app.extensions["fleet.db"].session() as s:
        assert s.scalar(select(func.count(LoginAttempt.id))) == 2
    assert runner.invoke(args=["users", "prune-logins", "--days", "0"]).exit_code != 0


def test_past_months_reports_are_issued_once_without_telling_anyone(sqlite_demo_url: str) -> None:
    from datetime import UTC, datetime

    from fleet.models import MonthlyReport, Notification
    from portal.reports.monthly import previous_month

    app = create_app(make_settings(sqlite_demo_url))
    runner = app.test_cli_runner()
    earlier = previous_month(datetime(2026, 10, 15, tzinfo=UTC), "UTC")  # September 2026: the demo's history
    db = app.extensions["fleet.db"]
    with db.sessionmaker() as s:
        told_before = s.scalar(select(func.count(Notification.id)))
    done = runner.invoke(args=["reports", "issue", "--month", f"{earlier:%Y-%m}"])
    assert done.exit_code == 0, done.output
    assert "8 reports issued" in done.output  # six sites, two customers
    assert (
        "0 reports issued" in runner.invoke(args=["reports", "issue", "--month", f"{earlier:%Y-%m}"]).output
    )
    with db.sessionmaker() as s:
        assert s.scalar(select(func.count(MonthlyReport.id)).where(MonthlyReport.month == earlier)) == 8
        assert s.scalar(select(func.count(Notification.id))) == told_before
    assert (
        "0 reports issued" in runner.invoke(args=["reports", "issue", "--month", "2099-01"]).output
    )  # not ended
    wrong = runner.invoke(args=["reports", "issue", "--month", "October"])
    assert wrong.exit_code == 2
    assert "YYYY-MM" in wrong.output
    db.dispose()
