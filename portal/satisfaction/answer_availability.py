"""Stored availability before each survey answer, which the dashboard's drivers read.

The dashboard relates every answer to the availability of its unit, site or customer over
the 30 days before it. Computing that on each request read a year of records for every
answered site (half of the staff's dashboard). The value of an answer does not change with
time, only with its records, so it is stored (``answer_availability``):

- :func:`refresh` (the worker, every round) computes the answers without a row with
  :class:`~portal.satisfaction.lookup.AvailabilityLookup`, the reference;
- a change to an outage, maintenance period, unit or site deletes the rows it may alter in
  its own transaction (:func:`fleet.models.read_model.forget_stale_answers`);
- the dashboard reads the rows with the answers and computes (:func:`compute`) those that
  have none, so a missing row makes the page slower, never wrong (a property test checks
  both paths).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.db import among
from fleet.models import AnswerAvailability, Asset, Site, SurveyResponse
from portal.satisfaction.lookup import AvailabilityLookup

logger = logging.getLogger(__name__)
BATCH = 5000  # answers computed per refresh at most (the next round does the rest)


class Subject(NamedTuple):
    """What an answer is about, and when it was given."""

    response_id: int
    asset_id: int | None
    site_id: int | None
    customer_id: int
    created_at: datetime


def compute(
    session: Session,
    subjects: Sequence[Subject],
    site_assets: dict[int, list[int]],
    customer_sites: dict[int, list[int]],
    now: datetime,
) -> dict[int, float | None]:
    """Availability before each answer, from the records of ``site_assets`` (the units of
    every site the answers are about; a customer-wide answer is about all the customer's
    sites in ``customer_sites``). Records still open run to ``now``."""
    if not subjects:
        return {}
    answered = {s.site_id for s in subjects if s.site_id is not None} | {
        site for s in subjects if s.site_id is None for site in customer_sites.get(s.customer_id, [])
    }  # the records of sites nobody answered about are not read
    start = min(s.created_at for s in subjects)
    units = {s.asset_id for s in subjects if s.asset_id is not None}  # wherever they are now
    sites = {s: site_assets[s] for s in answered if s in site_assets}
    lookup = AvailabilityLookup(session, sites, start, now, units)
    return {
        s.response_id: lookup.before(
            s.asset_id, s.site_id, customer_sites.get(s.customer_id, []), s.created_at
        )
        for s in subjects
    }


def units_of(
    session: Session, customer_ids: Iterable[int]
) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """(units per site, sites with units per customer) of these customers, archived units
    included (an answer counts the units its site had)."""
    site_assets: dict[int, list[int]] = defaultdict(list)
    customer_sites: dict[int, list[int]] = defaultdict(list)
    for customer_id, site_id, asset_id in session.execute(
        select(Site.customer_id, Site.id, Asset.id)
        .join(Asset, Asset.site_id == Site.id)
        .where(among(session, Site.customer_id, list(customer_ids)))
        .order_by(Site.id, Asset.id)
    ):
        if not site_assets[site_id]:
            customer_sites[customer_id].append(site_id)
        site_assets[site_id].append(asset_id)
    return dict(site_assets), dict(customer_sites)


def missing(session: Session, now: datetime, limit: int | None = None) -> list[Subject]:
    """Answers given by ``now`` without a stored row, customer by customer (the first
    ``limit`` of them)."""
    r = SurveyResponse
    rows = session.execute(
        select(r.id, r.asset_id, r.site_id, r.customer_id, r.created_at)
        .outerjoin(AnswerAvailability, AnswerAvailability.response_id == r.id)
        .where(AnswerAvailability.response_id.is_(None), r.created_at <= now)
        .order_by(r.customer_id, r.id)
        .limit(limit)
    )
    return [Subject(*row) for row in rows]


def refresh(session: Session, now: datetime, batch: int = BATCH) -> int:
    """Compute and store up to ``batch`` answers without a row, a customer at a time (the
    next round does the rest). Returns how many were written.

    A record changed by another transaction while this one computes is not seen here, and
    that change found no row to delete: such a row stays stale until the next change to its
    records (the stored monthly tallies share this limit)."""
    by_customer: dict[int, list[Subject]] = defaultdict(list)
    for subject in missing(session, now, batch):
        by_customer[subject.customer_id].append(subject)
    written = 0
    for customer_id, subjects in by_customer.items():
        site_assets, customer_sites = units_of(session, [customer_id])
        values = compute(session, subjects, site_assets, customer_sites, now)
        session.add_all(
            AnswerAvailability(response_id=response_id, computed_at=now, percent=percent)
            for response_id, percent in values.items()
        )
        session.flush()
        written += len(values)
    if written:
        logger.info("answers' availability: %d row(s) written", written)
    return written
