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

from fleet.models import Asset, Audience, Contract, Outage, SurveyResponse, age_between
from portal.health.relationships import Assessment
from portal.health.wallet import observed_share, war_share
from portal.kpi import availability_windows, combined_availability

PERIOD = timedelta(days=90)
RANKING_PERIOD = timedelta(days=365)  # provider rankings older than this are not used
SHARE_GAP = 0.2  # the said and observed shares "disagree" when this far apart


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
    said_share: float | None = None  # Wallet Allocation Rule share from the facility managers' ranks
    rankings: int = 0  # how many facility managers' ranks it is from

    @property
    def below_target(self) -> bool:
        """Availability under the contract's target."""
        return self.availability is not None and self.availability < self.target

    @property
    def shares_disagree(self) -> str | None:
        """``room_to_grow`` when the rank says a larger share than the units we maintain,
        ``at_risk`` when it says a smaller one (by at least ``SHARE_GAP``); else None."""
        if self.said_share is None or self.maintained_share is None:
            return None
        gap = self.said_share - self.maintained_share
        if abs(gap) < SHARE_GAP:
            return None
        return "room_to_grow" if gap > 0 else "at_risk"


def said_shares(session: Session, now: datetime) -> dict[int, tuple[float, int]]:
    """Per customer, the mean Wallet Allocation Rule share of its facility managers' latest
    provider ranks of the last 12 months, and how many ranks that is."""
    answers = session.execute(
        select(SurveyResponse.customer_id, SurveyResponse.respondent_key, SurveyResponse.providers,
               SurveyResponse.provider_rank)
        .where(SurveyResponse.provider_rank.is_not(None), SurveyResponse.group == Audience.FACILITY_MANAGER,
               SurveyResponse.created_at >= now - RANKING_PERIOD, SurveyResponse.created_at <= now)
        .order_by(SurveyResponse.created_at, SurveyResponse.id)
    ).all()  # fmt: skip
    latest: dict[tuple[int, str], float] = {}
    for customer_id, respondent, providers, rank in answers:  # later answers replace earlier ones
        if providers is not None and rank is not None:  # both or neither (a check constraint)
            latest[(customer_id, respondent)] = war_share(rank, providers)
    per_customer: dict[int, list[float]] = {}
    for (customer_id, _), share in latest.items():
        per_customer.setdefault(customer_id, []).append(share)
    return {c: (statistics.fmean(shares), len(shares)) for c, shares in per_customer.items()}


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
    said = said_shares(session, now)
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
            *said.get(contract.customer_id, (None, 0)),
        ))  # fmt: skip
    return rows
