"""Answers with the levers measured before them: the rows the satisfaction equations fit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.models import Asset, Audience, Site, SurveyKind, SurveyResponse
from portal.health.levers import WINDOW, load_history, measure


def answers_with_levers(
    session: Session, group: Audience, kind: SurveyKind, start: datetime, end: datetime
) -> tuple[list[dict[str, float]], list[float]]:
    """The group's answers to ``kind`` over ``[start, end)``, each with the levers of the 30
    days before it on the units it was about (the unit, else its building, else the
    customer's portfolio)."""
    answers = session.execute(
        select(SurveyResponse.score, SurveyResponse.created_at, SurveyResponse.customer_id,
               SurveyResponse.site_id, SurveyResponse.asset_id)
        .where(SurveyResponse.group == group, SurveyResponse.kind == kind,
               SurveyResponse.created_at >= start, SurveyResponse.created_at < end)
        .order_by(SurveyResponse.created_at)
    ).all()  # fmt: skip
    if not answers:
        return [], []
    units_of_site: dict[int, list[int]] = {}
    units_of_customer: dict[int, list[int]] = {}
    for unit, unit_site, unit_customer in session.execute(
        select(Asset.id, Asset.site_id, Site.customer_id).join(Site, Asset.site_id == Site.id)
    ):
        units_of_site.setdefault(unit_site, []).append(unit)
        units_of_customer.setdefault(unit_customer, []).append(unit)
    everyone = sorted({a for units in units_of_customer.values() for a in units})
    history = load_history(session, everyone, start - WINDOW, end)
    rows, ys = [], []
    for score, at, customer_id, site_id, asset_id in answers:
        if asset_id:
            units = [asset_id]
        elif site_id:
            units = units_of_site.get(site_id, [])
        else:
            units = units_of_customer.get(customer_id, [])
        rows.append(measure(history, units, at - WINDOW, at))
        ys.append(float(score))
    return rows, ys
