"""Dispatch: vendor staff assign a field technician, with an expected arrival, to an open outage.

Two staff members may assign the same outage at once. Each form carries the technician
it was showing; the update only applies if that is still the outage's technician, so
the first one wins and the second is told who was assigned meanwhile.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask_babel import lazy_gettext
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fleet.models import Outage, StakeholderGroup, User

logger = logging.getLogger(__name__)
MAX_AHEAD = timedelta(days=7)


class DispatchError(ValueError):
    """The assignment was refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: object, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def technicians(session: Session) -> list[User]:
    """Active field technicians, by name."""
    stmt = select(User).where(User.group == StakeholderGroup.FIELD_TECHNICIAN, User.is_active.is_(True))
    return list(session.scalars(stmt.order_by(User.name)))


def assign_technician(
    session: Session, *, outage_id: int, by: User, technician_id: int, eta: datetime,
    expected_technician_id: int | None, now: datetime,
) -> Outage:  # fmt: skip
    """Assign ``technician_id`` to the open outage with arrival expected at ``eta``."""
    if by.group is not StakeholderGroup.VENDOR_STAFF:
        raise DispatchError(lazy_gettext("Only the vendor's staff dispatch technicians."), 403)
    outage = session.get(Outage, outage_id)
    if outage is None:
        raise DispatchError(lazy_gettext("Not found."), 404)
    if outage.ended_at is not None:
        raise DispatchError(lazy_gettext("This outage is already over."), 409)
    tech = session.get(User, technician_id)
    if tech is None or tech.group is not StakeholderGroup.FIELD_TECHNICIAN or not tech.is_active:
        raise DispatchError(lazy_gettext("Choose an active field technician."))
    if eta < now - timedelta(minutes=1):
        raise DispatchError(lazy_gettext("The expected arrival is in the past."))
    if eta > now + MAX_AHEAD:
        raise DispatchError(lazy_gettext("The expected arrival must be within 7 days."))
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
        raise DispatchError(
            lazy_gettext("Someone else changed the assignment meanwhile: now %(name)s.", name=name), 409
        )
    session.commit()
    session.refresh(outage)
    logger.info("outage %s: technician %s assigned by %s, eta %s", outage.id, tech.id, by.id, eta.isoformat())
    return outage
