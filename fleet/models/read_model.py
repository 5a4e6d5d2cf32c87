"""Read models: values the pages sort, filter and count on, computed ahead of the request.

Their source of truth stays elsewhere (outage and maintenance records); the worker keeps
them fresh and pages fall back to computing from the source when a row is missing or older
than they accept. Stored months a change makes stale are dropped in that change's own
transaction (:func:`forget_stale_months`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ForeignKey, event, inspect
from sqlalchemy.orm import Mapped, Session, mapped_column

from fleet.db import Base
from fleet.models.operations import MaintenancePeriod, Outage, Visit


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


# Every session of a process that uses these models keeps the stored months consistent, the
# ingester's included (a listener, not I/O: nothing runs until a session flushes).
event.listen(Session, "before_flush", forget_stale_months)
