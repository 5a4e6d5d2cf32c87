"""The points each health factor is worth: set by staff, else suggested by the fitted
satisfaction equations (when the sample allows), else the built-in defaults. Changes are
audited; the next daily scoring uses them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fleet.models import Audience, HealthPoints, User
from portal import audit
from portal.health import equation_store
from portal.health.score import FACTORS, BadPoints, check_points, suggested_points
from portal.refusal import Refused

logger = logging.getLogger(__name__)

# the groups the health score covers; their fitted equations suggest the points
SCORED_GROUPS = (Audience.FACILITY_MANAGER, Audience.HOA_PRESIDENT)


@dataclass(frozen=True)
class PointsInUse:
    """The points scoring uses now and where they come from: ``staff`` (with who and when),
    ``equations`` (how many fitted) or ``defaults``."""

    points: dict[str, int]
    source: str
    fitted: int = 0
    updated_at: datetime | None = None
    updated_by: str | None = None


def suggested(session: Session) -> tuple[dict[str, int], int]:
    """The points the stored equations of the scored groups suggest, and how many were fitted."""
    equations = equation_store.stored(session, SCORED_GROUPS)
    fitted = sum(1 for e in equations if e.fitted)
    return suggested_points(equations), fitted


def in_use(session: Session) -> PointsInUse:
    """Staff's points when stored and valid; else the equations' suggestion; else the defaults."""
    rows = list(session.scalars(select(HealthPoints)))
    if rows:
        try:
            points = check_points({r.factor: r.points for r in rows})
        except BadPoints:
            logger.warning("health: stored points are not whole numbers adding up to 100; not used")
        else:
            latest = max(rows, key=lambda r: r.updated_at)
            who = session.get(User, latest.updated_by_id) if latest.updated_by_id else None
            return PointsInUse(points, "staff", 0, latest.updated_at, who.email if who else None)
    points, fitted = suggested(session)
    return PointsInUse(points, "equations" if fitted else "defaults", fitted)


def parse(form: Mapping[str, str]) -> dict[str, int]:
    """One whole number of points per factor from a form, adding up to 100; :class:`Refused`
    names every field in error."""
    errors: dict[str, list[str]] = {}
    points: dict[str, int] = {}
    for factor in FACTORS:
        raw = form.get(factor, "").strip()
        if not raw.isdigit() or len(raw) > 3 or int(raw) > 100:
            errors[factor] = [str(lazy_gettext("A whole number from 0 to 100."))]
        else:
            points[factor] = int(raw)
    if errors:
        raise Refused(lazy_gettext("Each factor needs a whole number of points from 0 to 100."), 400, errors)
    total = sum(points.values())
    if total != 100:
        raise Refused(
            lazy_gettext("The points add up to %(total)d; they must add up to 100.", total=total), 400,
            {"total": [str(total)]},
        )  # fmt: skip
    return points


def save(session: Session, points: Mapping[str, int], by: User, now: datetime) -> None:
    """Store staff's points (every factor) and audit the change."""
    full = check_points(points)
    before = in_use(session)
    session.execute(delete(HealthPoints))
    session.add_all(
        HealthPoints(factor=f, points=full[f], updated_at=now, updated_by_id=by.id) for f in FACTORS
    )
    audit.record(session, by, "health_points.changed", "health_points", None, now, before.points, full)
    logger.info("health points changed by user %s", by.id)


def reset(session: Session, by: User, now: datetime) -> None:
    """Forget staff's points: the equations' suggestion (or the defaults) apply again."""
    before = in_use(session)
    session.execute(delete(HealthPoints))
    after = in_use(session)
    audit.record(
        session, by, "health_points.changed", "health_points", None, now, before.points, after.points
    )
