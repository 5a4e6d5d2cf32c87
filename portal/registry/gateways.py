"""Device gateways: register one with the units it speaks for, reset its password, and keep
the broker's password and ACL files in step with the registry (:mod:`fleet.broker_auth`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from config import Settings
from fleet.broker_auth import (
    Account,
    gateway_account,
    mosquitto_hash,
    new_password,
    parse_service_accounts,
    reload_broker,
    write_files,
)
from fleet.broker_auth import service_account as make_service_account
from fleet.models import Asset, Gateway, User
from fleet.mqtt import BrokerAddress
from portal import audit
from portal.access import check
from portal.refusal import Refused
from portal.registry.service import FORBIDDEN, fields

logger = logging.getLogger(__name__)


def _assets(session: Session, ids: list[int]) -> list[Asset]:
    assets = list(session.scalars(select(Asset).where(Asset.id.in_(ids)))) if ids else []
    if len(assets) != len(ids):
        message = lazy_gettext("Choose the units from the list.")
        raise Refused(message, 400, {"asset_ids": [str(message)]})
    return assets


def register(session: Session, by: User, now: datetime, values: Mapping[str, Any]) -> tuple[Gateway, str]:
    """A new gateway and its password (shown once; only its hash is kept)."""
    check(by, "administer", FORBIDDEN)
    if session.scalar(select(Gateway.id).where(Gateway.ident == values["ident"])) is not None:
        message = lazy_gettext("Another gateway already has this name.")
        raise Refused(message, 400, {"ident": [str(message)]})
    password = new_password()
    gateway = Gateway(ident=values["ident"], description=values["description"], created_at=now)
    gateway.password_hash = mosquitto_hash(password)
    gateway.assets = _assets(session, values["asset_ids"])
    session.add(gateway)
    session.flush()
    audit.record(session, by, "gateway.created", "gateway", gateway.id, now, after=fields(gateway))
    return gateway, password


def change(session: Session, by: User, now: datetime, gateway: Gateway, values: Mapping[str, Any]) -> Gateway:
    """Change what a gateway says it is and which units it may speak for (not its name)."""
    check(by, "administer", FORBIDDEN)
    before = fields(gateway)
    gateway.description = values["description"]
    gateway.assets = _assets(session, values["asset_ids"])
    session.flush()
    after = fields(gateway)
    if before != after:
        audit.record(session, by, "gateway.changed", "gateway", gateway.id, now, before, after)
    return gateway


def reset_password(session: Session, by: User, now: datetime, gateway: Gateway) -> str:
    """A new password for the gateway (the old one stops working once the broker reloads)."""
    check(by, "administer", FORBIDDEN)
    password = new_password()
    gateway.password_hash = mosquitto_hash(password)
    session.flush()
    audit.record(session, by, "gateway.password_reset", "gateway", gateway.id, now)
    return password


def accounts(session: Session, settings: Settings) -> list[Account]:
    """Every broker account: the service accounts of ``BROKER_ACCOUNTS``, the account of
    ``MQTT_URL`` when it is not one of them (ingester and portal together), and each gateway
    not archived, with its units that are not archived."""
    prefix, live = settings.mqtt_topic_prefix, settings.mqtt_live_topic
    out = [make_service_account(user, password, prefix, live, role)
           for role, user, password in parse_service_accounts(settings.broker_accounts)]  # fmt: skip
    address = BrokerAddress.parse(settings.mqtt_url)
    if address.username and address.username not in {a.username for a in out}:
        out.append(make_service_account(address.username, address.password or "", prefix, live))
    stmt = select(Gateway).where(Gateway.archived_at.is_(None)).options(selectinload(Gateway.assets))
    for gateway in session.scalars(stmt.order_by(Gateway.ident)):
        if gateway.ident in {a.username for a in out}:
            continue  # a service account's name is taken
        mqtt_ids = [a.mqtt_id for a in gateway.assets if a.archived_at is None]
        out.append(
            gateway_account(gateway.ident, gateway.password_hash, mqtt_ids, settings.mqtt_topic_prefix)
        )
    return out


def publish_broker_files(session: Session, settings: Settings, directory: Path | None = None) -> Path | None:
    """Write the broker's files (into ``directory`` or ``BROKER_AUTH_DIR``) and reload the
    broker when ``BROKER_PID_FILE`` is set; None when there is nowhere to write."""
    target = directory or (Path(settings.broker_auth_dir) if settings.broker_auth_dir else None)
    if target is None:
        return None
    write_files(target, accounts(session, settings))
    if settings.broker_pid_file and directory is None:
        reload_broker(Path(settings.broker_pid_file))
    return target
