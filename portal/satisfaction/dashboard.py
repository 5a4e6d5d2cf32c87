"""The satisfaction dashboard: scores per stakeholder group, their trends, and what drives them.

Plain functions over a session and a :class:`~portal.access.Scope`; the views only parse
filters and render. Responses are read once (one query) and aggregated here; service
levers come from :func:`portal.kpi.levers`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Row, Select, or_, select, true
from sqlalchemy.orm import Session

from fleet.db import parse_id
from fleet.models import (
    AnswerAvailability,
    Asset,
    AssetKind,
    Audience,
    Customer,
    Site,
    SurveyKind,
    SurveyResponse,
)
from portal import kpi_months
from portal.access import Scope
from portal.kpi import Levers, combined_levers
from portal.satisfaction.answer_availability import Subject, compute
from portal.satisfaction.scores import SMALL_SAMPLE, Score, ces, csat, nps

GROUPS = (Audience.FACILITY_MANAGER, Audience.HOA_PRESIDENT, Audience.FIELD_TECHNICIAN, Audience.RESIDENT)
PERIODS = (3, 6, 12, 24)  # months
# availability over the 30 days before an answer, in bands people read at a glance
BANDS: tuple[tuple[str, float, float], ...] = (
    ("≥ 99.5 %", 99.5, math.inf),
    ("99–99.5 %", 99.0, 99.5),
    ("< 99 %", -math.inf, 99.0),
)


class BadFilter(ValueError):
    """A filter value that cannot be used (the message says which)."""


@dataclass(frozen=True)
class Filters:
    """What the dashboard shows: period in months, and optional customer, site and asset kind."""

    months: int = 12
    customer_id: int | None = None
    site_id: int | None = None
    asset_kind: AssetKind | None = None

    @classmethod
    def parse(cls, args: dict[str, str]) -> Filters:
        """Filters from query arguments; :class:`BadFilter` for unusable values."""

        def number(name: str) -> int | None:
            raw = (args.get(name) or "").strip()
            if not raw:
                return None
            value = parse_id(raw)  # a database id (or a count of months, range-checked below)
            if value is None:
                raise BadFilter(name)
            return value

        months = number("months") or 12
        if months not in PERIODS:
            raise BadFilter("months")
        kind = None
        if args.get("kind"):
            try:
                kind = AssetKind(args["kind"])
            except ValueError:
                raise BadFilter("kind") from None
        return cls(months, number("customer"), number("site"), kind)

    def query_args(self) -> dict[str, str]:
        """These filters as query arguments (for links and exports)."""
        out = {"months": str(self.months)}
        if self.customer_id:
            out["customer"] = str(self.customer_id)
        if self.site_id:
            out["site"] = str(self.site_id)
        if self.asset_kind:
            out["kind"] = self.asset_kind.value
        return out


def period(months: int, now: datetime) -> tuple[datetime, datetime, list[datetime]]:
    """(start, end, first instant of each month): whole calendar months (UTC) up to now."""
    first = datetime(now.year, now.month, 1, tzinfo=UTC)
    starts = []
    for back in range(months - 1, -1, -1):
        y, m = divmod(first.year * 12 + first.month - 1 - back, 12)
        starts.append(datetime(y, m + 1, 1, tzinfo=UTC))
    return starts[0], now, starts


def response_scope(scope: Scope) -> ColumnElement[bool]:
    """Responses a principal may see: about a site in scope, or customer-wide ones of a
    customer wholly in scope. Residents' links see none (nothing aggregated)."""
    if scope.everything:
        return true()
    clauses: list[ColumnElement[bool]] = [
        SurveyResponse.site_id.in_(select(Site.id).where(scope.site_filter()))
    ]
    if scope.customer_ids and scope.sites_visible:
        clauses.append(SurveyResponse.site_id.is_(None) & SurveyResponse.customer_id.in_(scope.customer_ids))
    return or_(*clauses)


Answer = Row[Audience, SurveyKind, int, datetime, int | None, int, int | None, int, int | None, float | None]
_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])


def responses_query(
    scope: Scope, filters: Filters, start: datetime, end: datetime
) -> Select[SurveyResponse, str, str | None, str | None, AssetKind | None]:
    """The responses in scope and filters, newest first, with site, asset and customer names."""
    stmt = (
        select(SurveyResponse, Customer.name, Site.name, Asset.name, Asset.kind)
        .join(Customer, SurveyResponse.customer_id == Customer.id)
        .outerjoin(Site, SurveyResponse.site_id == Site.id)
        .outerjoin(Asset, SurveyResponse.asset_id == Asset.id)
        .order_by(SurveyResponse.created_at.desc(), SurveyResponse.id.desc())
    )
    return _filtered(stmt, scope, filters, start, end)


def answers_query(
    scope: Scope, filters: Filters, start: datetime, end: datetime
) -> Select[Audience, SurveyKind, int, datetime, int | None, int, int | None, int, int | None, float | None]:
    """What the scores and drivers read of each response in scope and filters, as plain
    columns in no particular order (they are only counted and grouped), with its stored
    availability (``stored_id`` is null when there is no row)."""
    r, row = SurveyResponse, AnswerAvailability
    stmt = select(
        r.group, r.kind, r.score, r.created_at, r.site_id, r.customer_id, r.asset_id, r.id,
        row.response_id.label("stored_id"), row.percent,
    ).outerjoin(row, row.response_id == r.id)  # fmt: skip
    if filters.asset_kind:
        stmt = stmt.outerjoin(Asset, r.asset_id == Asset.id)
    return _filtered(stmt, scope, filters, start, end)


def _filtered(stmt: _Query, scope: Scope, filters: Filters, start: datetime, end: datetime) -> _Query:
    stmt = stmt.where(
        response_scope(scope), SurveyResponse.created_at >= start, SurveyResponse.created_at < end
    )
    if filters.customer_id:
        stmt = stmt.where(SurveyResponse.customer_id == filters.customer_id)
    if filters.site_id:
        stmt = stmt.where(SurveyResponse.site_id == filters.site_id)
    if filters.asset_kind:
        stmt = stmt.where(Asset.kind == filters.asset_kind)
    return stmt


# --- scores --------------------------------------------------------------------------------
@dataclass(frozen=True)
class GroupScores:
    """One group's scores: CSAT % satisfied, CES mean and share easy, NPS."""

    group: Audience
    csat: Score
    ces_mean: Score
    ces_easy: Score
    nps: Score

    @property
    def responses(self) -> int:
        """All answers of this group."""
        return self.csat.responses + self.ces_mean.responses + self.nps.responses


def group_scores(group: Audience, answers: Iterable[tuple[SurveyKind, int]]) -> GroupScores:
    """Scores of one group from its (kind, score) answers."""
    by_kind: dict[SurveyKind, list[int]] = defaultdict(list)
    for kind, score in answers:
        by_kind[kind].append(score)
    mean, easy = ces(by_kind[SurveyKind.CES])
    return GroupScores(group, csat(by_kind[SurveyKind.CSAT]), mean, easy, nps(by_kind[SurveyKind.NPS]))


@dataclass(frozen=True)
class Trend:
    """Month-by-month scores of one group (one entry per month of the period)."""

    group: Audience
    months: list[datetime]
    scores: list[GroupScores]


# --- drivers -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Band:
    """CSAT % satisfied among answers given when availability was in one band."""

    label: str
    csat: Score


@dataclass(frozen=True)
class Relation:
    """How one group's answers move with availability (30 days before each answer)."""

    kind: SurveyKind
    r: float | None  # Pearson correlation; None when it cannot be computed
    n: int

    @property
    def small_sample(self) -> bool:
        """Too few answers to read a relationship into."""
        return self.n < SMALL_SAMPLE

    @property
    def strength(self) -> str:
        """none / weak / moderate / strong, and the direction (never read on a small sample)."""
        if self.r is None or self.small_sample:
            return "unknown"
        size = abs(self.r)
        if size < 0.2:
            return "none"
        word = "weak" if size < 0.4 else "moderate" if size < 0.6 else "strong"
        return f"{word}_{'positive' if self.r > 0 else 'negative'}"


@dataclass
class GroupDrivers:
    """Beside one group's scores: the levers over the same period and sites, and the relationships."""

    group: Audience
    levers: Levers
    bands: list[Band] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)


def pearson(pairs: Sequence[tuple[float, float]]) -> float | None:
    """Pearson's r of (x, y) pairs; None with fewer than 3 pairs or no spread."""
    n = len(pairs)
    if n < 3:
        return None
    mx = sum(x for x, _ in pairs) / n
    my = sum(y for _, y in pairs) / n
    sxx = sum((x - mx) ** 2 for x, _ in pairs)
    syy = sum((y - my) ** 2 for _, y in pairs)
    if sxx == 0 or syy == 0:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in pairs)
    return sxy / math.sqrt(sxx * syy)


def band_of(value: float) -> str:
    """The availability band label of a percentage."""
    for label, low, high in BANDS:
        if low <= value < high:
            return label
    return BANDS[0][0]


# --- the whole dashboard ---------------------------------------------------------------------------
@dataclass
class Dashboard:
    """Everything the dashboard page and the per-group CSV show."""

    filters: Filters
    start: datetime
    end: datetime
    months: list[datetime]
    groups: list[GroupScores]
    trends: list[Trend]
    drivers: list[GroupDrivers]
    overall: Levers
    total: int


def _site_assets(session: Session, scope: Scope, filters: Filters) -> dict[int, list[int]]:
    stmt = select(Asset.site_id, Asset.id).join(Site, Asset.site_id == Site.id).where(scope.asset_filter())
    if filters.customer_id:
        stmt = stmt.where(Site.customer_id == filters.customer_id)
    if filters.site_id:
        stmt = stmt.where(Site.id == filters.site_id)
    if filters.asset_kind:
        stmt = stmt.where(Asset.kind == filters.asset_kind)
    out: dict[int, list[int]] = defaultdict(list)
    for site_id, asset_id in session.execute(stmt):
        out[site_id].append(asset_id)
    return dict(out)


def _customer_sites(session: Session, site_ids: Iterable[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    for customer_id, site_id in session.execute(
        select(Site.customer_id, Site.id).where(Site.id.in_(list(site_ids)))
    ):
        out[customer_id].append(site_id)
    return dict(out)


def build(session: Session, scope: Scope, filters: Filters, now: datetime) -> Dashboard:
    """Scores per group, monthly trends, and per-group drivers for the scope and filters."""
    start, end, months = period(filters.months, now)
    rows = list(session.execute(answers_query(scope, filters, start, end)))
    by_group: dict[Audience, list[Answer]] = defaultdict(list)
    for row in rows:
        by_group[row.group].append(row)
    groups = [group_scores(g, ((r.kind, r.score) for r in by_group[g])) for g in GROUPS]
    trends = []
    for g in GROUPS:
        per_month: dict[datetime, list[tuple[SurveyKind, int]]] = defaultdict(list)
        for r in by_group[g]:
            per_month[datetime(r.created_at.year, r.created_at.month, 1, tzinfo=UTC)].append(
                (r.kind, r.score)
            )
        trends.append(Trend(g, months, [group_scores(g, per_month[m]) for m in months]))

    site_assets = _site_assets(session, scope, filters)
    customer_sites = _customer_sites(session, site_assets)
    # the stored value counts every unit of a site or customer: with a kind filter, compute
    stored = filters.asset_kind is None and not scope.asset_ids
    computed = compute(
        session,
        [Subject(r.id, r.asset_id, r.site_id, r.customer_id, r.created_at)
         for r in rows if not (stored and r.stored_id is not None)],
        site_assets,
        customer_sites,
        end,
    )  # fmt: skip
    all_assets = [a for ids in site_assets.values() for a in ids]
    per_asset = kpi_months.tallies(session, all_assets, start, end)  # read once; each group sums its share
    drivers = []
    for g in GROUPS:
        answers = by_group[g]
        sites: set[int] = set()
        for r in answers:
            sites.update([r.site_id] if r.site_id is not None else customer_sites.get(r.customer_id, []))
        group_assets = [a for s in sorted(sites) for a in site_assets.get(s, [])]
        d = GroupDrivers(g, combined_levers(per_asset, group_assets, start, end))
        band_answers: dict[str, list[int]] = defaultdict(list)
        pairs: dict[SurveyKind, list[tuple[float, float]]] = defaultdict(list)
        for r in answers:
            avail = r.percent if stored and r.stored_id is not None else computed[r.id]
            if avail is None:
                continue
            pairs[r.kind].append((avail, float(r.score)))
            if r.kind is SurveyKind.CSAT:
                band_answers[band_of(avail)].append(r.score)
        d.bands = [Band(label, csat(band_answers[label])) for label, _, _ in BANDS]
        d.relations = [Relation(k, pearson(pairs[k]), len(pairs[k])) for k in SurveyKind]
        drivers.append(d)
    overall = combined_levers(per_asset, all_assets, start, end)
    return Dashboard(filters, start, end, months, groups, trends, drivers, overall, len(rows))
