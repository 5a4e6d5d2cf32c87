"""Read models: values the pages sort, filter and count on, computed ahead of the request.

Their source of truth stays elsewhere (outage and maintenance records); the worker keeps
them fresh and pages fall back to computing from the source when a row is missing or older
than they accept. Stored months and answers' availability a change makes stale are dropped
in that change's own transaction (:func:`forget_stale_months`, :func:`forget_stale_answers`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, ForeignKey, and_, delete, event, inspect, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from fleet.db import Base
from fleet.models.operations import MaintenancePeriod, Outage, Visit
from fleet.models.organisation import Asset, Site
from fleet.models.satisfaction import SurveyResponse

# an answer is explained by the availability of what it is about over the 30 days before it
ANSWER_LOOKBACK = timedelta(days=30)


class AssetAvailability(Base):
    """An asset's rolling 30- and 90-day availability as of ``computed_at`` (see
    :func:`portal.kpi.availability`: percent is null when the whole window was maintenance)."""

    __tablename__ = "asset_availability"

    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    computed_at: Mapped[datetime]
    percent_30d: Mapped[float | None]
    downtime_30d_s: Mapped[float]
    maintenance_30d_s: Mapped[float]
    outages_30d: Mapped[int]
    percent_90d: Mapped[float | None]
    downtime_90d_s: Mapped[float]
    maintenance_90d_s: Mapped[float]
    outages_90d: Mapped[int]


class AssetMonthTally(Base):
    """What an asset did in one whole UTC calendar month (``month`` is its first day), as of
    ``computed_at``: the additive parts of :class:`portal.kpi.Tally`, so that a period of whole
    months is a sum of rows. Repairs count in the month they ended, responses in the month the
    outage started, visits in the month their window ends. Outages are not stored: one may span
    months, so they are counted over the whole period."""

    __tablename__ = "asset_month_tallies"

    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True, index=True)
    computed_at: Mapped[datetime]
    scope_s: Mapped[float]  # the month minus planned maintenance
    down_s: Mapped[float]  # unplanned outage time within the scope
    repairs: Mapped[int]  # outages closed in the month
    repair_s: Mapped[float]  # their durations, summed
    responses: Mapped[int]  # outages started in the month with a technician's check-in
    response_s: Mapped[float]
    visits_due: Mapped[int]
    visits_on_time: Mapped[int]


class AnswerAvailability(Base):
    """The availability over the :data:`ANSWER_LOOKBACK` before a survey answer (to the hour)
    of what it is about: its unit, else all its site's units, else all its customer's units,
    as :class:`portal.satisfaction.lookup.AvailabilityLookup` computes it. ``percent`` is null
    when the window was all maintenance (or there was no unit). A row exists only once
    computed; a change to the records or units it covers deletes it."""

    __tablename__ = "answer_availability"

    response_id: Mapped[int] = mapped_column(
        ForeignKey("survey_responses.id", ondelete="CASCADE"), primary_key=True
    )
    computed_at: Mapped[datetime]
    percent: Mapped[float | None]


# what each record's stored months depend on (a change to any of these makes them stale)
_TALLY_INPUTS: dict[type, tuple[str, ...]] = {
    Outage: ("asset_id", "started_at", "ended_at", "on_site_at"),
    MaintenancePeriod: ("asset_id", "started_at", "ended_at"),
    Visit: ("asset_id", "scheduled_end", "checked_in_at", "status"),
}
_TALLY_FROM = {Outage: "started_at", MaintenancePeriod: "started_at", Visit: "scheduled_end"}


def forget_stale_months(session: Session, _context: object, _instances: object) -> None:
    """Before a flush: drop the stored months an outage, maintenance period or visit being
    added, changed or deleted may alter (its asset's, from the month it began, old and new
    values both), in the same transaction. The worker writes them again; until then pages
    read those months from the records. Listens on every session (below)."""
    earliest: dict[int, date] = {}
    for obj in (*session.new, *session.dirty, *session.deleted):
        inputs = _TALLY_INPUTS.get(type(obj))
        if inputs is None:
            continue
        state = inspect(obj)
        if obj in session.dirty and not any(state.attrs[name].history.has_changes() for name in inputs):
            continue
        assets = {v for v in _values(state, "asset_id") if v is not None}
        moments = [m for m in _values(state, _TALLY_FROM[type(obj)]) if m is not None]
        if not moments:
            continue
        first = min(m.astimezone(UTC) if m.tzinfo else m.replace(tzinfo=UTC) for m in moments)
        month = date(first.year, first.month, 1)
        for asset_id in assets:
            earliest[asset_id] = min(earliest.get(asset_id, month), month)
    table = AssetMonthTally.__table__
    for asset_id, month in earliest.items():  # on the connection: no autoflush inside a flush
        session.connection().execute(
            table.delete().where(table.c.asset_id == asset_id, table.c.month >= month)  # type: ignore[attr-defined]
        )


def _values(state: Any, name: str) -> list[Any]:
    """An attribute's current value and, when it changed, its previous ones."""
    history = state.attrs[name].history
    return [*history.unchanged, *history.added, *history.deleted] or [state.attrs[name].value]


_RECORD_INPUTS = ("asset_id", "started_at", "ended_at")  # of outages and maintenance periods
_ANSWER_INPUTS = ("asset_id", "site_id", "customer_id", "created_at")
_BATCH = 200  # conditions per DELETE


def forget_stale_answers(session: Session, _context: object, _instances: object) -> None:
    """Before a flush: drop the stored availability of the answers a change may alter, in the
    same transaction (the worker computes them again; until then the dashboard computes them):

    - an outage or maintenance period added, changed or deleted: answers about its unit, its
      site or its customer whose 30 days reach into the record (old and new values both);
    - a unit added, deleted or moved to another site: every answer about its sites or its
      customer as a whole (they count its units);
    - a site deleted or given to another customer: every customer-wide answer of its customers;
    - an answer whose subject or time changed.
    """
    spans: dict[int, tuple[datetime, datetime | None]] = {}  # unit → (earliest start, latest end)
    sites: set[int] = set()
    customers: set[int] = set()
    answers: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        kind = type(obj)
        if kind not in (Outage, MaintenancePeriod, Asset, Site, SurveyResponse):
            continue
        state = inspect(obj)
        if obj in session.new and kind is SurveyResponse:
            continue
        if obj in session.new and kind is Site:
            continue  # a new site holds no unit yet: its units say what changed
        if obj in session.dirty:
            inputs = {Outage: _RECORD_INPUTS, MaintenancePeriod: _RECORD_INPUTS, Asset: ("site_id",),
                      Site: ("customer_id",), SurveyResponse: _ANSWER_INPUTS}[kind]  # fmt: skip
            if not any(state.attrs[name].history.has_changes() for name in inputs):
                continue
        if kind is SurveyResponse:
            answers.add(obj.id)
        elif kind is Site:
            customers.update(v for v in _values(state, "customer_id") if v is not None)
        elif kind is Asset:
            sites.update(v for v in _values(state, "site_id") if v is not None)
            site = state.dict.get("site")  # set through the relationship: no site_id yet
            if site is not None and site.id is not None:
                sites.add(site.id)
            elif site is not None:  # a unit of a new site: what changes is its customer
                customers.update(_customer_of_new(site))
        else:
            starts = [_aware(m) for m in _values(state, "started_at") if m is not None]
            ends = [_aware(m) for m in _values(state, "ended_at") if m is not None]
            if not starts:
                continue
            still_open = None in _values(state, "ended_at")
            span = (min(starts), None if still_open or not ends else max(ends))
            for unit in (v for v in _values(state, "asset_id") if v is not None):
                spans[unit] = _widest(spans.get(unit), span)
    if not (spans or sites or customers or answers):
        return
    _delete_answers(session, spans, sites, customers, answers)


def _aware(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _customer_of_new(site: Any) -> list[int]:
    customer = inspect(site).dict.get("customer")
    found = site.customer_id if site.customer_id is not None else getattr(customer, "id", None)
    return [found] if found is not None else []


def _delete_answers(
    session: Session,
    spans: dict[int, tuple[datetime, datetime | None]],
    sites: set[int],
    customers: set[int],
    answers: set[int],
) -> None:
    """Delete the stored rows of the answers the changes reach (on the connection: no
    autoflush inside a flush)."""
    connection = session.connection()
    r = SurveyResponse
    conditions: list[ColumnElement[bool]] = []
    if answers:
        conditions.append(r.id.in_(answers))
    if sites:
        customers |= set(connection.scalars(select(Site.customer_id).where(Site.id.in_(sites))))
        conditions.append(r.asset_id.is_(None) & r.site_id.in_(sites))
    if customers:
        conditions.append(r.site_id.is_(None) & r.customer_id.in_(customers))
    if spans:
        homes = {
            unit: (site_id, customer_id)
            for unit, site_id, customer_id in connection.execute(
                select(Asset.id, Asset.site_id, Site.customer_id)
                .join(Site, Asset.site_id == Site.id)
                .where(Asset.id.in_(spans))
            )
        }
        by_site: dict[int, tuple[datetime, datetime | None]] = {}
        by_customer: dict[int, tuple[datetime, datetime | None]] = {}
        for unit, span in spans.items():
            conditions.append((r.asset_id == unit) & _reaches(span))
            if unit in homes:
                site_id, customer_id = homes[unit]
                by_site[site_id] = _widest(by_site.get(site_id), span)
                by_customer[customer_id] = _widest(by_customer.get(customer_id), span)
        for site_id, span in by_site.items():
            conditions.append(r.asset_id.is_(None) & (r.site_id == site_id) & _reaches(span))
        for customer_id, span in by_customer.items():
            conditions.append(r.site_id.is_(None) & (r.customer_id == customer_id) & _reaches(span))
    for batch in _batches(conditions):
        stale = select(r.id).where(or_(*batch))
        connection.execute(delete(AnswerAvailability).where(AnswerAvailability.response_id.in_(stale)))


def _reaches(span: tuple[datetime, datetime | None]) -> ColumnElement[bool]:
    """Answers whose 30 days (up to their hour) may overlap a record spanning ``span``."""
    begin, end = span
    after = SurveyResponse.created_at > begin
    if end is None:
        return after
    return and_(after, SurveyResponse.created_at < end + ANSWER_LOOKBACK + timedelta(hours=1))


def _widest(
    known: tuple[datetime, datetime | None] | None, span: tuple[datetime, datetime | None]
) -> tuple[datetime, datetime | None]:
    if known is None:
        return span
    end = None if known[1] is None or span[1] is None else max(known[1], span[1])
    return min(known[0], span[0]), end


def _batches(conditions: list[ColumnElement[bool]]) -> Iterable[list[ColumnElement[bool]]]:
    for i in range(0, len(conditions), _BATCH):
        yield conditions[i : i + _BATCH]


# Every session of a process that uses these models keeps the stored months and answers
# consistent, the ingester's included (listeners, not I/O: nothing runs until a session flushes).
event.listen(Session, "before_flush", forget_stale_months)
event.listen(Session, "before_flush", forget_stale_answers)
