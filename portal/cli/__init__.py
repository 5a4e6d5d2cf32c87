"""``flask --app wsgi …`` commands: database, accounts, demo data."""

from __future__ import annotations

import logging
import sys
from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from fleet.models import Site, StakeholderGroup
from fleet.schema import model_drift, upgrade
from portal.auth.passwords import PasswordPolicyError
from portal.auth.service import AccountError, create_user, prune_login_attempts
from portal.extensions import get_db

logger = logging.getLogger(__name__)

db_cli = AppGroup("db", help="Business database schema (Alembic).")
users_cli = AppGroup("users", help="Accounts.")
demo_cli = AppGroup("demo", help="Demo data.")


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
@click.password_option(prompt="Password")
def users_create(
    email: str,
    name: str,
    group_: str,
    customer_id: int | None,
    site_ids: tuple[int, ...],
    locale: str,
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
def demo_load(base_url: str) -> None:
    """Load the demo portfolio and accounts (idempotent) and print the logins."""
    from portal.demo import DEMO_PASSWORD, load_demo

    with get_db().session() as session:
        result = load_demo(session)
    click.echo("demo data loaded" if result.created else "demo data already present")
    click.echo(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
    for login in result.logins:
        click.echo(f"  {login.group:<22} {login.email:<28} {login.scope}")
    click.echo("\nResident links (QR code in the cabin):")
    for mqtt_id, token in result.resident_tokens:
        click.echo(f"  {mqtt_id}: {base_url.rstrip('/')}/r/{token}")


def register_cli(app: Flask) -> None:
    """Attach the command groups to ``app``."""
    app.cli.add_command(db_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
