"""The audit log: every administrative and service action a person takes, with the values
before and after, written in the same transaction as the change (so a change that is
rolled back leaves no entry, and a stored change always has one). There is no way to edit
or delete an entry through the portal."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from fleet.models import AuditEntry, User

logger = logging.getLogger(__name__)

ACTIONS = (
    "person.invited",
    "person.changed",
    "person.deactivated",
    "person.reactivated",
    "person.invitation_resent",
    "outage.dispatched",
    "visit.checked_in",
    "visit.checked_out",
    "person.invitation_revoked",
    "person.second_factor_on",
    "person.second_factor_off",
    *(
        f"{kind}.{verb}"
        for kind in ("customer", "site", "asset", "contract", "gateway")
        for verb in ("created", "changed", "archived", "restored")
    ),
    "asset.link_rotated",
    "token.created",
    "token.revoked",
    "webhook.created",
    "webhook.resumed",
    "webhook.removed",
    "gateway.password_reset",
    "health_points.changed",
)


def _json(values: Mapping[str, Any] | None) -> str | None:
    if values is None:
        return None
    return json.dumps(values, default=str, sort_keys=True, ensure_ascii=False)


def record(
    session: Session, actor: User, action: str, kind: str, object_id: int | None, at: datetime,
    before: Mapping[str, Any] | None = None, after: Mapping[str, Any] | None = None,
) -> AuditEntry:  # fmt: skip
    """Add an entry for a change ``actor`` makes now (the caller commits with the change)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    entry = AuditEntry(at=at, actor_id=actor.id, actor=actor.email, action=action, object_kind=kind,
                       object_id=object_id, before=_json(before), after=_json(after))  # fmt: skip
    session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditFilters:
    """What the audit page and its export show."""

    action: str | None = None
    actor: str | None = None  # part of the actor's e-mail
    kind: str | None = None
    start: datetime | None = None
    end: datetime | None = None


def entries(filters: AuditFilters) -> Select[AuditEntry]:
    """Entries matching ``filters``, newest first."""
    stmt = select(AuditEntry)
    if filters.action:
        stmt = stmt.where(AuditEntry.action == filters.action)
    if filters.actor:
        stmt = stmt.where(AuditEntry.actor.contains(filters.actor, autoescape=True))
    if filters.kind:
        stmt = stmt.where(AuditEntry.object_kind == filters.kind)
    if filters.start:
        stmt = stmt.where(AuditEntry.at >= filters.start)
    if filters.end:
        stmt = stmt.where(AuditEntry.at < filters.end)
    return stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())


def person_fields(user: User) -> dict[str, Any]:
    """The fields of an account an administrator may change, for before/after."""
    return {
        "name": user.name, "group": user.group.value, "customer_id": user.customer_id,
        "site_ids": sorted(s.id for s in user.sites), "locale": user.locale, "is_admin": user.is_admin,
        "is_active": user.is_active,
    }  # fmt: skip
