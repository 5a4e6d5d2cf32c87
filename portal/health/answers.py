"""Answers with the levers measured before them: the rows the satisfaction equations fit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.models import Asset, Audience, Site, SurveyKind, SurveyResponse
from portal.health.levers import WINDOW, load_history, measure

Rows = tuple[list[dict[str, float]], list[float]]


def answers_with_levers(
    session: Session, groups: Iterable[Audience], start: datetime, end: datetime
) -> dict[tuple[Audience, SurveyKind], Rows]:
    """Per group and question, the answers of ``[start, end)``, each with the levers of the
    30 days before it on the units it was about (the unit, else its building, else the
    customer's portfolio). One query for the answers and one load of the records, whatever
    the number of groups and questions."""
    answers = session.execute(
        select(SurveyResponse.group, SurveyResponse.kind, SurveyResponse.score, SurveyResponse.created_at,
               SurveyResponse.customer_id, SurveyResponse.site_id, SurveyResponse.asset_id)
        .where(SurveyResponse.group.in_(list(groups)), SurveyResponse.created_at >= start,
               SurveyResponse.created_at < end)
        .order_by(SurveyResponse.created_at, SurveyResponse.id)
    ).all()  # fmt: skip
    out: dict[tuple[Audience, SurveyKind], Rows] = defaultdict(lambda: ([], []))
    if not answers:
        return out
    units_of_site: dict[int, list[int]] = {}
    units_of_customer: dict[int, list[int]] = {}
    for unit, unit_site, unit_customer in session.execute(
        select(Asset.id, Asset.site_id, Site.customer_id).join(Site, Asset.site_id == Site.id)
    ):
        units_of_site.setdefault(unit_site, []).append(unit)
        units_of_customer.setdefault(unit_customer, []).append(unit)
    everyone = sorted({a for units in units_of_customer.values() for a in units})
    history = load_history(session, everyone, start - WINDOW, end)
    for group, kind, score, at, customer_id, site_id, asset_id in answers:
        if asset_id:
            units = [asset_id]
        elif site_id:
            units = units_of_site.get(site_id, [])
        else:
            units = units_of_customer.get(customer_id, [])
        rows, ys = out[(group, kind)]
        rows.append(measure(history, units, at - WINDOW, at))
        ys.append(float(score))
    return out
