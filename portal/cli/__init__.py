"""``flask --app wsgi …`` commands: database, accounts, demo data, imports, reports."""

from __future__ import annotations

import csv
import io
import logging
import sys
from datetime import date, timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.db import utcnow
from fleet.models import Site, StakeholderGroup, User, normalise_email
from fleet.schema import model_drift, upgrade
from portal.access import accounts_who
from portal.auth.passwords import PasswordPolicyError
from portal.auth.service import AccountError, create_user, prune_login_attempts
from portal.extensions import get_db
from portal.registry import bulk, gateways
from portal.reports.monthly import issue, missing_reports
from portal.reports.render import ReportRenderer
from portal.web.spreadsheet import cell

logger = logging.getLogger(__name__)

db_cli = AppGroup("db", help="Business database schema (Alembic).")
users_cli = AppGroup("users", help="Accounts.")
demo_cli = AppGroup("demo", help="Demo data.")
reports_cli = AppGroup("reports", help="Monthly service reports.")


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Migrate the database to the latest schema (safe to run repeatedly)."""
    upgrade(current_app.config["SETTINGS"].database_url, revision)
    click.echo("database is up to date")


@db_cli.command("check")
def db_check() -> None:
    """Exit non-zero if the migrated database differs from the models."""
    drift = model_drift(get_db().engine)
    if drift:
        for diff in drift:
            click.echo(f"drift: {diff}", err=True)
        sys.exit(1)
    click.echo("migrations match the models")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option("--group", "group_", required=True, type=click.Choice([g.value for g in StakeholderGroup]))
@click.option("--customer-id", type=int, default=None)
@click.option("--site-id", "site_ids", type=int, multiple=True, help="Repeat for several sites.")
@click.option("--locale", default="en", type=click.Choice(["en", "fr"]))
@click.option(
    "--admin", "is_admin", is_flag=True, help="Vendor staff only: may administer people and the registry."
)
@click.password_option(prompt="Password")
def users_create(
    email: str,
    name: str,
    group_: str,
    customer_id: int | None,
    site_ids: tuple[int, ...],
    locale: str,
    is_admin: bool,
    password: str,
) -> None:
    """Create an account in a stakeholder group, scoped to a customer and/or sites."""
    settings = current_app.config["SETTINGS"]
    with get_db().session() as session:
        try:
            user = create_user(
                session,
                email=email,
                name=name,
                password=password,
                group=StakeholderGroup(group_),
                customer_id=customer_id,
                site_ids=site_ids,
                locale=locale,
                min_password_length=settings.password_min_length,
                is_admin=is_admin,
            )
        except (AccountError, PasswordPolicyError) as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"created user {user.id} <{user.email}> ({user.group.value})")


@users_cli.command("sites")
def users_sites() -> None:
    """List site ids and names (to scope new accounts)."""
    with get_db().session() as session:
        for site in session.scalars(select(Site).order_by(Site.id)):
            click.echo(f"{site.id:4d}  customer {site.customer_id:3d}  {site.name}")


@users_cli.command("prune-logins")
@click.option("--days", default=30, show_default=True, type=click.IntRange(min=1))
def users_prune_logins(days: int) -> None:
    """Delete login attempts older than DAYS (run daily, e.g. from cron)."""
    with get_db().session() as session:
        removed = prune_login_attempts(session, timedelta(days=days))
    click.echo(f"removed {removed} login attempts older than {days} days")


@demo_cli.command("load")
@click.option("--base-url", default="http://127.0.0.1:5000", show_default=True)
@click.option("--gateway-password", envvar="DEMO_GATEWAY_PASSWORD", default=None,
              help="Register the simulator's gateway (every demo unit) with this password.")  # fmt: skip
def demo_load(base_url: str, gateway_password: str | None) -> None:
    """Load the demo portfolio and accounts (idempotent) and print the logins."""
    from portal.demo import DEMO_GATEWAY, DEMO_PASSWORD, load_demo, register_demo_gateway

    with get_db().session() as session:
        result = load_demo(session)
        if gateway_password:
            register_demo_gateway(session, gateway_password)
    if gateway_password:
        with get_db().session() as session:
            gateways.publish_broker_files(session, current_app.config["SETTINGS"])
        click.echo(f"gateway {DEMO_GATEWAY} registered for every demo unit")
    click.echo("demo data loaded" if result.created else "demo data already present")
    click.echo(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
    for login in result.logins:
        click.echo(f"  {login.group:<22} {login.email:<28} {login.scope}")
    click.echo("\nResident links (QR code in the cabin):")
    for mqtt_id, token in result.resident_tokens:
        click.echo(f"  {mqtt_id}: {base_url.rstrip('/')}/r/{token}")


def _actor(session: Session, email: str | None) -> User:
    """The administrator an import is recorded under: ``--as``, or the oldest administrator."""
    stmt = select(User).where(accounts_who("administer"))
    if email:
        stmt = stmt.where(User.email == normalise_email(email))
    actor = session.scalar(stmt.order_by(User.id).limit(1))
    if actor is None:
        raise click.ClickException(
            "no such active administrator: create one with "
            "`flask --app wsgi users create --group vendor_staff --admin …`, or name one with --as"
        )
    return actor


@click.command("import")
@with_appcontext
@click.argument("kind", type=click.Choice(bulk.KINDS))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--as", "as_email", default=None, help="The administrator the changes are recorded under.")
def import_command(kind: str, file: Path, dry_run: bool, as_email: str | None) -> None:
    """Create or update customers, sites, assets, contracts or people from a CSV FILE.

    Rows are matched by their natural key; every bad row is reported with its line number,
    and nothing is written unless the whole file is valid."""
    settings = current_app.config["SETTINGS"]
    with get_db().sessionmaker() as session, force_locale("en"):  # commits only a valid, real import
        actor = _actor(session, as_email)
        try:
            rows = bulk.read_rows(file.read_bytes(), kind, int(settings.import_max_mb * 1_000_000))
        except bulk.BadFile as exc:
            raise click.ClickException(str(exc.message)) from None
        ctx = bulk.Context(actor, utcnow(), settings.public_url)
        report = bulk.import_rows(session, kind, rows, ctx, dry_run=dry_run)
        for row in report.rows:
            detail = "; ".join(row.errors) or ", ".join(
                f"{c}: {a!r} -> {b!r}" for c, (a, b) in row.changes.items()
            )
            click.echo(f"line {row.line}  {row.key}  {row.action}{'  ' + detail if detail else ''}")
        summary = (f"{report.count('create')} to create, {report.count('update')} to update, "
                   f"{report.count('unchanged')} unchanged, {report.count('error')} with errors")  # fmt: skip
        if not report.ok:
            session.rollback()
            raise click.ClickException(f"nothing imported: {summary}")
        if dry_run:
            session.rollback()
            click.echo(f"dry run, nothing changed: {summary}")
            return
        session.commit()
    with get_db().session() as session:
        gateways.publish_broker_files(session, settings)  # units may have moved, gateways changed
    click.echo(f"imported: {summary}")


@click.command("export")
@with_appcontext
@click.argument("kind", type=click.Choice(bulk.KINDS))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Default: stdout.")
def export_command(kind: str, out: Path | None) -> None:
    """Write every record of KIND (not archived) as CSV, in the columns `import` reads."""
    with get_db().session() as session:
        rows = bulk.export_rows(session, kind)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    if out is None:
        click.echo(buffer.getvalue(), nl=False)
    else:
        out.write_text("\ufeff" + buffer.getvalue(), encoding="utf-8")
        click.echo(f"{len(rows) - 1} {kind} written to {out}")


broker_cli = AppGroup("broker", help="The MQTT broker's accounts and access lists.")


@broker_cli.command("files")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Default: BROKER_AUTH_DIR (and reload the broker from BROKER_PID_FILE).")  # fmt: skip
def broker_files(out: Path | None) -> None:
    """Write the broker's password and ACL files from the gateway registry."""
    settings = current_app.config["SETTINGS"]
    with get_db().session() as session:
        target = gateways.publish_broker_files(session, settings, out)
    if target is None:
        raise click.ClickException("give --out DIR or set BROKER_AUTH_DIR")
    click.echo(f"broker files written to {target}")


@reports_cli.command("issue")
@click.option("--month", required=True, help="The month to report on, YYYY-MM (it must have ended).")
def reports_issue(month: str) -> None:
    """Issue a past month's reports that do not exist yet (the archive of a fleet onboarded
    mid-year); nobody is told of them. Last month's are issued by the worker."""
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise click.BadParameter("give the month as YYYY-MM, e.g. 2026-10", param_hint="--month") from None
    now = utcnow()
    renderer = ReportRenderer()
    with get_db().session() as session:
        missing = missing_reports(session, first, now)
        for due in missing:
            issue(session, due, now, renderer.pdf, quiet=timedelta(0), base_url="", tell=False)
    click.echo(f"{len(missing)} reports issued for {first:%Y-%m}")


def _wsgi_app() -> Flask:
    from wsgi import app  # the one module that builds the application

    return app


def main() -> None:
    """The ``portal`` console script: ``flask --app wsgi`` under a shorter name."""
    FlaskGroup(create_app=_wsgi_app, help="The equipment portal's commands (flask --app wsgi …).").main()


def register_cli(app: Flask) -> None:
    """Attach the command groups to ``app``."""
    app.cli.add_command(import_command)
    app.cli.add_command(export_command)
    app.cli.add_command(broker_cli)
    app.cli.add_command(db_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(reports_cli)
