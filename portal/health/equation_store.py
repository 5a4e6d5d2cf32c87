"""The satisfaction equations as the pages read them: refitted by the worker once a day on
the last 12 months of answers, stored one row per group and question, so no page fits a
model while someone waits."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.models import Audience, SatisfactionEquation, SurveyKind
from portal.health.answers import answers_with_levers
from portal.health.equations import Equation, Weight, fit

logger = logging.getLogger(__name__)

PERIOD = timedelta(days=365)
# the groups whose answers are fitted (vendor staff are never asked)
GROUPS = (Audience.FACILITY_MANAGER, Audience.HOA_PRESIDENT, Audience.FIELD_TECHNICIAN, Audience.RESIDENT)


def refit(session: Session, now: datetime) -> list[Equation]:
    """Fit every group's equation for every question on the answers of ``[now − 12 months,
    now)`` and store them (replacing the previous fit)."""
    stored = {(row.group, row.question): row for row in session.scalars(select(SatisfactionEquation))}
    answers = answers_with_levers(session, GROUPS, now - PERIOD, now)
    out = []
    for group in GROUPS:
        for kind in SurveyKind:
            rows, ys = answers[(group, kind)]
            equation = fit(group.value, kind.value, rows, ys)
            row = stored.get((group.value, kind.value))
            if row is None:
                row = SatisfactionEquation(group=group.value, question=kind.value)
                session.add(row)
            row.answers, row.intercept, row.r2 = equation.answers, equation.intercept, equation.r2
            row.weights = [
                {"lever": w.lever, "weight": w.weight, "low": w.low, "high": w.high} for w in equation.weights
            ]
            row.since, row.fitted_at = now - PERIOD, now
            out.append(equation)
    session.flush()
    logger.info("satisfaction equations: %d fitted of %d", sum(e.fitted for e in out), len(out))
    return out


def _equation(row: SatisfactionEquation) -> Equation:
    weights = tuple(Weight(w["lever"], w["weight"], w["low"], w["high"]) for w in row.weights)
    return Equation(row.group, row.question, row.answers, row.intercept, weights, row.r2)


def stored(session: Session, groups: Iterable[Audience] = GROUPS) -> list[Equation]:
    """The stored equations of ``groups``, in group then question order (CSAT, CES, NPS);
    a group or question never fitted yet comes back with no answers and no weights."""
    rows = {(r.group, r.question): r for r in session.scalars(select(SatisfactionEquation))}
    out = []
    for group in groups:
        for kind in SurveyKind:
            row = rows.get((group.value, kind.value))
            out.append(_equation(row) if row is not None else Equation(group.value, kind.value, 0))
    return out


def fitted_at(session: Session) -> datetime | None:
    """When the equations were last fitted (None: never)."""
    latest = select(SatisfactionEquation.fitted_at).order_by(SatisfactionEquation.fitted_at.desc()).limit(1)
    return session.scalar(latest)


def due(session: Session, now: datetime) -> bool:
    """True when the equations were not fitted yet today (or the clock went back since)."""
    last = fitted_at(session)
    return last is None or last.date() != now.date() or last > now
