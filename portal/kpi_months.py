"""Stored monthly tallies: the KPIs of a long period without re-reading its records.

A year of KPIs for 6,500 units re-read every outage, maintenance period and visit of the
year and merged each unit's intervals in Python on every request (1.3 s of the staff's
satisfaction dashboard). Availability, repairs, responses and visits are sums over time, so
a period is the sum of its whole UTC calendar months, read from ``asset_month_tallies``
(one row per asset and month, summed in SQL), plus its partial first and last months read
from the records as before.

- A change to an outage, maintenance period or visit drops the months it may alter in its
  own transaction (:func:`fleet.models.read_model.forget_stale_months`, on every session).
- :func:`refresh` (the worker, every plans round) writes the missing months from
  :func:`portal.kpi.tallies`, the reference.
- :func:`tallies` gives what :func:`portal.kpi.tallies` gives. An asset without a row for a
  month has that month read from its records, so a missing or archived row makes a page
  slower, never wrong. A property test checks both paths against each other.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from fleet.db import among, id_batches
from fleet.models import Asset, AssetMonthTally, Outage
from portal import kpi
from portal.kpi import Tally

logger = logging.getLogger(__name__)
KEEP_MONTHS = 25  # the satisfaction dashboard's longest period (24 months) and the one before
VALUES = (  # the stored columns, in the order :func:`_absorb` takes them
    AssetMonthTally.scope_s, AssetMonthTally.down_s, AssetMonthTally.repairs, AssetMonthTally.repair_s,
    AssetMonthTally.responses, AssetMonthTally.response_s, AssetMonthTally.visits_due,
    AssetMonthTally.visits_on_time,
)  # fmt: skip


def month_start(day: date) -> datetime:
    """Midnight UTC on the first of ``day``'s month."""
    return datetime(day.year, day.month, 1, tzinfo=UTC)


def next_month(start: datetime) -> datetime:
    """The first instant of the month after the one ``start`` begins."""
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


def whole_months(start: datetime, end: datetime) -> list[datetime]:
    """The first instants of the UTC calendar months lying wholly inside ``[start, end)``."""
    first = month_start(start.astimezone(UTC))
    if first < start:
        first = next_month(first)
    months = []
    while next_month(first) <= end:
        months.append(first)
        first = next_month(first)
    return months


def complete_months(now: datetime, count: int = KEEP_MONTHS) -> list[datetime]:
    """The ``count`` whole months before the current one, oldest first."""
    months = [month_start(now.astimezone(UTC))]
    for _ in range(count):
        previous = months[0] - timedelta(days=1)
        months.insert(0, month_start(previous))
    return months[:-1]


# --- writing -----------------------------------------------------------------------------------
def write_months(
    session: Session, asset_ids: Sequence[int], months: Sequence[datetime], now: datetime
) -> int:
    """(Re)compute the stored rows of ``asset_ids`` for ``months`` from the records, in the
    caller's transaction; returns how many rows were written."""
    written = 0
    for start in months:
        end = next_month(start)
        for part in id_batches(session, asset_ids):
            computed = kpi.tallies(session, part, start, end)
            session.execute(  # IN, not ANY: the session can then drop loaded rows it deletes
                delete(AssetMonthTally).where(
                    AssetMonthTally.asset_id.in_(part), AssetMonthTally.month == start.date()
                )
            )
            session.add_all(
                AssetMonthTally(
                    asset_id=asset_id,
                    month=start.date(),
                    computed_at=now,
                    scope_s=t.scope.total_seconds(),
                    down_s=t.down.total_seconds(),
                    repairs=t.repairs,
                    repair_s=t.repair_time.total_seconds(),
                    responses=t.responses,
                    response_s=t.response_time.total_seconds(),
                    visits_due=t.visits_due,
                    visits_on_time=t.visits_on_time,
                )
                for asset_id, t in computed.items()
            )
            written += len(part)
    session.flush()
    return written


def missing(session: Session, months: Sequence[datetime]) -> dict[datetime, list[int]]:
    """Per month, the assets (not archived before it began) without a stored row."""
    out: dict[datetime, list[int]] = {}
    for start in months:
        stored = select(AssetMonthTally.asset_id).where(AssetMonthTally.month == start.date())
        ids = list(
            session.scalars(
                select(Asset.id).where(
                    or_(Asset.archived_at.is_(None), Asset.archived_at > start), Asset.id.not_in(stored)
                )
            )
        )
        if ids:
            out[start] = ids
    return out


def refresh(session: Session, now: datetime) -> int:
    """Keep the stored months of the last :data:`KEEP_MONTHS` complete: write the rows that
    are missing (a month just ended, a new asset, rows a change dropped) and drop older
    months. Returns the rows written."""
    months = complete_months(now)
    written = 0
    for start, ids in missing(session, months).items():
        written += write_months(session, ids, [start], now)
    session.execute(delete(AssetMonthTally).where(AssetMonthTally.month < months[0].date()))
    if written:
        logger.info("month tallies: %d row(s) written", written)
    return written


# --- reading -----------------------------------------------------------------------------------
def tallies(session: Session, asset_ids: Sequence[int], start: datetime, end: datetime) -> dict[int, Tally]:
    """Each asset's tally over ``[start, end)``, as :func:`portal.kpi.tallies` gives it: whole
    months from the stored rows, the partial first and last months from the records."""
    months = whole_months(start, end)
    if not months:
        return kpi.tallies(session, asset_ids, start, end)
    ids = list(dict.fromkeys(asset_ids))
    out = {a: Tally(assets=1) for a in ids}
    first, last = months[0], next_month(months[-1])
    edges = [(a, b) for a, b in ((start, first), (last, end)) if b > a]
    for part in id_batches(session, ids):
        kpi.add_targets(session, out, part)
        kpi.add_feedback(session, out, part, start, end)
        _add_outage_counts(session, out, part, start, end)
        partial = _add_stored(session, out, part, months)
        for a, b in edges:
            _add_records(session, out, part, a, b)
        for month, assets in partial.items():
            _add_records(session, out, assets, month, next_month(month))
    kpi.settle_targets(out)
    return out


def _add_records(
    session: Session, out: dict[int, Tally], ids: Sequence[int], start: datetime, end: datetime
) -> None:
    """Availability, repairs, responses and visits of ``[start, end)`` read from the records."""
    if not ids:
        return
    windows = kpi.availability_windows(session, ids, [start], end)[start]
    kpi.add_availability(out, windows, end - start)
    kpi.add_service(session, out, ids, start, end)


def _add_outage_counts(
    session: Session, out: dict[int, Tally], ids: Sequence[int], start: datetime, end: datetime
) -> None:
    """Unplanned outages overlapping ``[start, end)`` (counted once however many months they span)."""
    for asset_id, count in session.execute(
        select(Outage.asset_id, func.count())
        .where(
            among(session, Outage.asset_id, ids),
            Outage.started_at < end,
            or_(Outage.ended_at.is_(None), Outage.ended_at > start),
        )
        .group_by(Outage.asset_id)
    ):
        out[asset_id].outages = count


def _add_stored(
    session: Session, out: dict[int, Tally], ids: Sequence[int], months: Sequence[datetime]
) -> dict[datetime, list[int]]:
    """Add the stored months of ``ids``, summed in SQL; returns, per month, the assets with
    no stored row for it (read from the records by the caller)."""
    row = AssetMonthTally
    wanted = [m.date() for m in months]
    found = session.execute(
        select(row.asset_id, func.count(), *(func.sum(column) for column in VALUES))
        .where(among(session, row.asset_id, ids), row.month >= wanted[0], row.month <= wanted[-1])
        .group_by(row.asset_id)
    ).all()
    complete = set()
    for asset_id, n, *sums in found:
        if n == len(wanted):
            complete.add(asset_id)
            _absorb(out[asset_id], sums)
    gaps = [a for a in ids if a not in complete]
    if not gaps:
        return {}
    have = {
        (asset_id, month)
        for asset_id, month in session.execute(
            select(row.asset_id, row.month).where(among(session, row.asset_id, gaps), row.month.in_(wanted))
        )
    }
    # an asset with some months stored: add those, read the others from the records
    partial: dict[datetime, list[int]] = {}
    for month in months:
        stored_here = [a for a in gaps if (a, month.date()) in have]
        if stored_here:
            _add_rows(session, out, stored_here, month)
        lacking = [a for a in gaps if (a, month.date()) not in have]
        if lacking:
            partial[month] = lacking
    return partial


def _add_rows(session: Session, out: dict[int, Tally], ids: Sequence[int], month: datetime) -> None:
    row = AssetMonthTally
    for asset_id, *values in session.execute(
        select(row.asset_id, *VALUES).where(among(session, row.asset_id, ids), row.month == month.date())
    ):
        _absorb(out[asset_id], values)


def _absorb(t: Tally, values: Sequence[Any]) -> None:
    """Add one asset's stored values (or their sums), in the order of :data:`VALUES`."""
    scope, down, repairs, repair_s, responses, response_s, due, on_time = values
    t.scope += timedelta(seconds=float(scope))
    t.down += timedelta(seconds=float(down))
    t.repairs += int(repairs)
    t.repair_time += timedelta(seconds=float(repair_s))
    t.responses += int(responses)
    t.response_time += timedelta(seconds=float(response_s))
    t.visits_due += int(due)
    t.visits_on_time += int(on_time)
