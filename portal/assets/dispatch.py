"""Dispatch: vendor staff assign a field technician, with an expected arrival, to an open outage.

Two staff members may assign the same outage at once. Each form carries the technician
it was showing; the update only applies if that is still the outage's technician, so
the first one wins and the second is told who was assigned meanwhile.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from flask_babel import lazy_gettext
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fleet.models import Outage, User
from portal import audit
from portal.access import accounts_who, can
from portal.refusal import Refused
from portal.webhooks import service as webhooks

logger = logging.getLogger(__name__)
MAX_AHEAD = timedelta(days=7)


def technicians(session: Session) -> list[User]:
    """Active field technicians, by name."""
    return list(session.scalars(select(User).where(accounts_who("do_visits")).order_by(User.name)))


def assign_technician(
    session: Session,
    *,
    outage: Outage,
    by: User,
    technician_id: int | None,
    eta: datetime,
    expected_technician_id: int | None,
    now: datetime,
) -> Outage:
    """Assign ``technician_id`` to the open ``outage`` (already fetched through the
    account's scope) with arrival expected at ``eta``."""
    if not can(by, "dispatch"):
        raise Refused(lazy_gettext("Only the vendor's staff dispatch technicians."), 403)
    outage_id = outage.id
    if outage.ended_at is not None:
        raise Refused(lazy_gettext("This outage is already over."), 409)
    tech = session.scalar(select(User).where(User.id == technician_id, accounts_who("do_visits")))
    if tech is None:
        raise Refused(lazy_gettext("Choose an active field technician."))
    if eta < now - timedelta(minutes=1):
        raise Refused(lazy_gettext("The expected arrival is in the past."))
    if eta > now + MAX_AHEAD:
        raise Refused(lazy_gettext("The expected arrival must be within 7 days."))
    current = (
        Outage.technician_id.is_(None)
        if expected_technician_id is None
        else Outage.technician_id == expected_technician_id
    )
    result = session.execute(
        update(Outage)
        .where(Outage.id == outage_id, Outage.ended_at.is_(None), current)
        .values(technician_id=tech.id, eta=eta, assigned_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        session.expire_all()
        now_assigned = session.get(Outage, outage_id)
        name = now_assigned.technician.name if now_assigned and now_assigned.technician else "—"
        raise Refused(
            lazy_gettext("Someone else changed the assignment meanwhile: now %(name)s.", name=name), 409
        )
    before = {"technician_id": expected_technician_id}
    audit.record(
        session,
        by,
        "outage.dispatched",
        "outage",
        outage_id,
        now,
        before,
        {"technician_id": tech.id, "eta": eta},
    )
    asset = outage.asset
    webhooks.enqueue(
        session,
        asset.site.customer_id,
        "technician.assigned",
        {
            "outage_id": outage_id,
            **webhooks.unit_data(asset),
            "technician": tech.name,
            "eta": eta.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        now,
    )
    session.commit()
    session.refresh(outage)
    logger.info("outage %s: technician %s assigned by %s, eta %s", outage.id, tech.id, by.id, eta.isoformat())
    return outage
