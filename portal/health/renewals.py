"""The renewal view: every contract by end date with what a renewal conversation needs, the
health of each group, availability against the contract's target, the response-time
commitment kept, open follow-ups and outreach, equipment age, and the share of the
customer's units we maintain."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from fleet.models import Asset, Contract, Outage, age_between
from portal.health.relationships import Assessment
from portal.health.wallet import observed_share
from portal.kpi import availability_windows, combined_availability

PERIOD = timedelta(days=90)


@dataclass(frozen=True)
class RenewalRow:
    """One contract as the renewal view shows it."""

    contract_id: int
    reference: str
    customer_id: int
    customer: str
    end_date: date
    notice_by: date  # the last day to give notice
    fm_health: float | None
    fm_trend: float | None
    hoa_health: float | None  # the weakest building
    availability: float | None  # over 90 days, the covered units together
    target: float
    response_kept: float | None  # share of the year's outages reached within the commitment
    open_follow_ups: int
    open_outreach: int
    mean_age_years: float | None
    maintained_share: float | None

    @property
    def below_target(self) -> bool:
        """Availability under the contract's target."""
        return self.availability is not None and self.availability < self.target


def renewal_rows(session: Session, now: datetime, assessments: Sequence[Assessment]) -> list[RenewalRow]:
    """Every active contract, soonest end first."""
    contracts = session.scalars(
        select(Contract)
        .where(Contract.archived_at.is_(None))
        .options(selectinload(Contract.sites), selectinload(Contract.assets), selectinload(Contract.customer))
        .order_by(Contract.end_date, Contract.id)
    ).all()
    by_customer: dict[int, list[Assessment]] = {}
    for a in assessments:
        by_customer.setdefault(a.relationship.customer_id, []).append(a)
    rows = []
    for contract in contracts:
        units = sorted(contract.covered_asset_ids())
        windows = availability_windows(session, units, [now - PERIOD], now)[now - PERIOD] if units else {}
        combined = combined_availability(windows.values(), PERIOD) if windows else None
        outages = session.execute(
            select(Outage.started_at, Outage.on_site_at).where(
                Outage.asset_id.in_(units or [-1]), Outage.started_at >= now - timedelta(days=365),
                Outage.on_site_at.is_not(None),
            )
        ).all()  # fmt: skip
        commitment = timedelta(hours=contract.response_hours)
        kept = sum(1 for began, arrived in outages if arrived is not None and arrived - began <= commitment)
        installs = session.scalars(select(Asset.install_date).where(Asset.id.in_(units or [-1]))).all()
        ages = [age_between(d, now.date()).years for d in installs]
        mine = by_customer.get(contract.customer_id, [])
        fm = next((a for a in mine if a.relationship.site_id is None), None)
        hoa = [a.health.score for a in mine if a.relationship.site_id is not None]
        rows.append(RenewalRow(
            contract.id, contract.reference, contract.customer_id, contract.customer.name, contract.end_date,
            contract.end_date - timedelta(days=contract.notice_days),
            fm.health.score if fm else None, fm.trend if fm else None, min(hoa) if hoa else None,
            combined, float(contract.availability_target), kept / len(outages) if outages else None,
            sum(a.open_follow_ups for a in mine), sum(1 for a in mine if a.open_outreach is not None),
            statistics.fmean(ages) if ages else None, observed_share(len(units), contract.units_owned),
        ))  # fmt: skip
    return rows
