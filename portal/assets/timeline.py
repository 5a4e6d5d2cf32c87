"""The public outage timeline ("track and trace"): detected → technician assigned (with ETA)
→ on site → back in service → satisfaction asked.

Each step is derived from the outage record and what followed it, never stored twice:
detection from the outage's start and how it was detected, assignment from dispatch,
*on site* from the technician's check-in, *back in service* from the outage's end, and
*satisfaction asked* from its end too (residents are asked on the cabin page from then
on, accounts on their next page), with the number of answers so far.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload

from fleet.models import Asset, Outage, SurveyResponse

STEPS = ("detected", "assigned", "on_site", "restored", "asked")
RECENT = timedelta(days=7)  # a closed outage stays on the timeline this long


@dataclass(frozen=True)
class Step:
    """One step: done or not, when, and its detail (how detected, who, ETA, answers)."""

    key: str
    done: bool
    at: datetime | None
    detail: str | None = None
    eta: datetime | None = None
    count: int | None = None


def steps(session: Session, outage: Outage) -> list[Step]:
    """The five steps of ``outage``, in order; the first not done is the current one."""
    answers = session.scalar(
        select(func.count(SurveyResponse.id)).where(SurveyResponse.moment_key == f"outage:{outage.id}")
    )
    tech = outage.technician
    return [
        Step("detected", True, outage.started_at, outage.detected_by.value),
        Step("assigned", outage.assigned_at is not None, outage.assigned_at,
             tech.name.split()[0] if tech else None, outage.eta),
        Step("on_site", outage.on_site_at is not None, outage.on_site_at),
        Step("restored", outage.ended_at is not None, outage.ended_at),
        Step("asked", outage.ended_at is not None, outage.ended_at, None, None, answers or 0),
    ]  # fmt: skip


def current_outage(session: Session, asset_id: int, now: datetime) -> Outage | None:
    """The asset's open outage, else the one closed most recently within a week, else None."""
    return session.scalar(
        select(Outage)
        .where(Outage.asset_id == asset_id, or_(Outage.ended_at.is_(None), Outage.ended_at >= now - RECENT))
        .order_by(Outage.ended_at.is_(None).desc(), Outage.started_at.desc())
        .limit(1)
    )


def current_outages(session: Session, asset_ids: Sequence[int], now: datetime) -> dict[int, Outage]:
    """:func:`current_outage` of several assets in one query (assets without one are absent)."""
    if not asset_ids:
        return {}
    stmt = (
        select(Outage)
        .where(
            Outage.asset_id.in_(asset_ids), or_(Outage.ended_at.is_(None), Outage.ended_at >= now - RECENT)
        )
        .options(joinedload(Outage.technician), joinedload(Outage.asset).joinedload(Asset.site))  # the steps
    )
    found: dict[int, Outage] = {}
    for outage in session.scalars(stmt):
        best = found.get(outage.asset_id)
        if best is None or _rank(outage) > _rank(best):
            found[outage.asset_id] = outage
    return found


def _rank(outage: Outage) -> tuple[bool, datetime]:
    """Open before closed, then the latest start (the order of :func:`current_outage`)."""
    return outage.ended_at is None, outage.started_at
